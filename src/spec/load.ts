// Validating a spec (YAML or JSON text) and turning zod's issues into plain sentences with paths.
// Loaded only for a --spec file (read.ts); the embedded default is validated by a unit test.
import { parse as parseYaml, YAMLParseError } from 'yaml';
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { specSchema, type Spec } from './schema.js';
import { DEFAULT_SOURCE, DEFAULT_SPEC_YAML } from './default.js';
import { SpecError } from '../errors.js';

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += (out ? '.' : '') + String(p);
  }
  return out || '(top level)';
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  const out: string[] = [];
  for (const iss of issues) {
    const at = formatPath(iss.path);
    switch (iss.code) {
      case 'unrecognized_keys':
        for (const k of iss.keys) out.push(`${formatPath([...iss.path, k])}: unknown key (not part of the spec; check its spelling)`);
        break;
      case 'invalid_type': {
        const got = valueAt(input, iss.path);
        out.push(got === undefined ? `${at}: is required (${iss.expected})` : `${at}: expected ${iss.expected}, got ${describeType(got)}`);
        break;
      }
      case 'invalid_value':
        out.push(`${at}: ${JSON.stringify(valueAt(input, iss.path))} is not one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`);
        break;
      default:
        out.push(`${at}: ${iss.message}`);
    }
  }
  return out;
}

// One parse per process: zod's JIT (it compiles each object schema with new Function on first
// use) costs more than it saves here. zod/mini carries no messages of its own: its English ones
// (those of `default:` above) are configured here.
z.config({ ...en(), jitless: true });

/** Validates a parsed document. Throws SpecError listing every problem. */
export function parseSpec(doc: unknown, source: string): Spec {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new SpecError(`${source}: the spec must be a mapping with at least master.hostname and master.ip`, []);
  }
  const r = specSchema.safeParse(doc);
  if (!r.success) {
    const problems = formatIssues(r.error.issues, doc);
    throw new SpecError(`${source}: ${problems.length} problem${problems.length > 1 ? 's' : ''} in the spec`, problems);
  }
  return r.data;
}

export function parseSpecText(text: string, source: string): Spec {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, prettyErrors: true });
  } catch (e) {
    const msg = e instanceof YAMLParseError ? e.message.split('\n')[0] : String(e);
    throw new SpecError(`${source}: not valid YAML or JSON: ${msg}`, []);
  }
  return parseSpec(doc, source);
}

export function defaultSpec(): Spec {
  return parseSpecText(DEFAULT_SPEC_YAML, DEFAULT_SOURCE);
}
