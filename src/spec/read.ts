// The spec a command works on: the embedded default (already validated: no parser to load), or a
// file, read here and validated by load.ts (YAML and zod, loaded only then).
import { readFile } from 'node:fs/promises';
import { SpecError } from '../errors.js';
import { DEFAULT_SOURCE, DEFAULT_SPEC } from './default.js';
import type { Spec } from './schema.js';

export async function loadSpec(file: string | undefined): Promise<{ spec: Spec; source: string }> {
  if (!file) return { spec: structuredClone(DEFAULT_SPEC), source: DEFAULT_SOURCE };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SpecError(`cannot read spec ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (e as Error).message}`, []);
  }
  const { parseSpecText } = await import('./load.js');
  return { spec: parseSpecText(text, file), source: file };
}
