// The spec's JSON Schema, for `kubepki init --schema` only: zod's JSON Schema writer is loaded
// by that command alone (a static import of what it uses, so that the bundle keeps no more of
// zod than the spec needs elsewhere).
import { toJSONSchema } from 'zod/mini';
import { specSchema } from './schema.js';

/** The input side of the zod schema: what a spec file may hold. */
export const specJsonSchema = () => toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' });
