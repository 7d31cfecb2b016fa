// The spec of an existing PKI: a folder remembers the resolved spec that made it
// (OUT/.kubepki/spec.json: names, addresses, sizes; never a secret), and a command on it without
// --spec uses that one. The embedded default is only for a new, empty folder: on a PKI made from
// another spec it would re-issue server.crt without that spec's SANs and point every kubeconfig at
// the documented master's address.
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import { APISERVER, CA, MANIFEST, paths, SA } from '../catalog/names.js';
import { EnvError, SpecError, UsageError } from '../errors.js';
import { describeWriteError, makeDirs, readInSync, STATE_DIR, writeAtomic } from '../run/fsutil.js';
import { DEFAULT_SOURCE, DEFAULT_SPEC } from './default.js';
import { loadSpec } from './read.js';
import type { Spec } from './schema.js';

/** OUT-relative path of the remembered spec */
export const REMEMBERED = `${STATE_DIR}/spec.json`;

/** Files that only a PKI folder holds: with one of them, the folder is not new. */
const PKI_MARKERS = [paths(CA).key, paths(CA).crt, paths(APISERVER).key, paths(APISERVER).crt, paths(SA).key, MANIFEST];

export interface SpecChange {
  /** the spec path, e.g. master.extraSANs */
  path: string;
  /** undefined: not set on that side */
  from: unknown;
  to: unknown;
}

export interface ResolvedSpec {
  spec: Spec;
  /** how the command names its spec (messages, summary, --json) */
  source: string;
  /** where the spec came from (a --spec file, the embedded default): what manifest.json and the
   *  remembered spec record, unchanged by runs that use the remembered copy */
  origin: string;
  /** said before the command's output, e.g. that the remembered spec is in use */
  notes: string[];
  /** a --spec that differs from the remembered one: what it changes (empty otherwise) */
  changes: SpecChange[];
  /** the spec OUT remembers, as read here (undefined: none, or unreadable) */
  remembered?: Spec;
}

interface RememberedDoc {
  kubepki?: string;
  source: string;
  spec: Spec;
}

/** The remembered spec of OUT, validated again (the file may have been edited, or written by another
 *  kubepki); undefined when OUT has none. `shown` is how OUT is named in messages. */
async function readRemembered(out: string, shown: string): Promise<RememberedDoc | undefined> {
  const data = readInSync(out, REMEMBERED, true);
  if (data === undefined) return undefined;
  const file = path.join(shown, REMEMBERED);
  const hint = `kubepki writes it at every generate and renew; pass the spec of this PKI with --spec FILE (that run remembers it again), or move ${file} away`;
  let doc: unknown;
  try {
    doc = JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw new SpecError(`${file}: the remembered spec is not valid JSON: ${(e as Error).message}`, [hint]);
  }
  const d = doc as Partial<RememberedDoc> | null;
  if (d === null || typeof d !== 'object' || Array.isArray(d) || d.spec === undefined) {
    throw new SpecError(`${file}: the remembered spec has no "spec" member`, [hint]);
  }
  const source = typeof d.source === 'string' ? d.source : file;
  // the embedded default needs no parser; anything else is validated like a --spec file
  if (isDeepStrictEqual(d.spec, DEFAULT_SPEC)) return { source, spec: structuredClone(DEFAULT_SPEC) };
  const { parseSpec } = await import('./load.js');
  try {
    return { source, spec: parseSpec(d.spec, `${file} (remembered spec)`) };
  } catch (e) {
    if (e instanceof SpecError) e.details.push(hint);
    throw e;
  }
}

/** What manifest.json says made OUT (kubepki before remembered specs recorded only that name). */
function manifestSource(out: string): string | undefined {
  try {
    const m = JSON.parse(readInSync(out, MANIFEST, true)?.toString('utf8') ?? 'null') as { spec?: unknown } | null;
    return typeof m?.spec === 'string' ? m.spec : undefined;
  } catch {
    return undefined;
  }
}

/** The spec paths where `a` and `b` differ, with both values. Lists of the same length are
 *  compared entry by entry; otherwise a list is one value. */
export function specChanges(a: unknown, b: unknown, at = ''): SpecChange[] {
  if (isDeepStrictEqual(a, b)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => specChanges(a[k], b[k], at ? `${at}.${k}` : k));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.flatMap((v, i) => specChanges(v, b[i], `${at}[${i}]`));
  return [{ path: at || '(top level)', from: a, to: b }];
}

export function describeChange(c: SpecChange): string {
  const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
  return `${c.path}: ${show(c.from)} -> ${show(c.to)}`;
}

/** The spec of a command on OUT. `shown` names OUT in messages (the --out given). */
export async function resolveSpec(file: string | undefined, out: string, shown: string): Promise<ResolvedSpec> {
  const rememberedFile = path.join(shown, REMEMBERED);
  if (file) {
    const { spec, source } = await loadSpec(file);
    let remembered: RememberedDoc | undefined;
    const notes: string[] = [];
    try {
      remembered = await readRemembered(out, shown);
    } catch (e) {
      if (!(e instanceof SpecError || e instanceof EnvError)) throw e;
      // --spec says what the PKI must be; a remembered copy that cannot be read is only not compared
      notes.push(`${e.message}: not compared with --spec ${file} (this run remembers --spec ${file} instead)`);
    }
    const changes = remembered ? specChanges(remembered.spec, spec) : [];
    return { spec, source, origin: source, notes, changes, remembered: remembered?.spec };
  }
  const remembered = await readRemembered(out, shown);
  if (remembered) {
    return {
      spec: remembered.spec,
      source: `the spec remembered in ${rememberedFile}`,
      origin: remembered.source,
      notes: [`using the spec remembered in ${rememberedFile} (made from ${remembered.source === DEFAULT_SOURCE ? `the ${DEFAULT_SOURCE}` : remembered.source}); pass --spec FILE to use another`],
      changes: [],
      remembered: remembered.spec,
    };
  }
  const markers = PKI_MARKERS.filter((f) => {
    try {
      return readInSync(out, f, true) !== undefined;
    } catch {
      return true;
    }
  });
  if (markers.length === 0) {
    const { spec, source } = await loadSpec(undefined);
    return { spec, source, origin: source, notes: [], changes: [] };
  }
  const made = manifestSource(out);
  if (made === DEFAULT_SOURCE) {
    // a PKI from a kubepki that recorded only the spec's name: the embedded default is the spec that made it
    const { spec, source } = await loadSpec(undefined);
    return { spec, source, origin: source, notes: [`using the ${DEFAULT_SOURCE}: ${path.join(shown, MANIFEST)} says it made this PKI (there is no ${rememberedFile} yet)`], changes: [] };
  }
  throw new UsageError(
    `${shown} holds a PKI (${markers.join(', ')}) but remembers no spec (no ${rememberedFile})${made ? `; its manifest.json says it was made from ${made}` : ''}: kubepki will not assume the embedded default spec for it`,
    made
      ? `pass that spec again: --spec ${made} (the run remembers it; later commands need no --spec)`
      : 'pass the spec that made it with --spec FILE (for the documented cluster, `kubepki init FILE` writes the embedded default to a file); generate and renew remember it',
  );
}

/** Records `spec` as OUT's remembered spec (atomically), unless OUT already remembers it
 *  (`remembered`, as resolveSpec read it): the same spec under another name (the embedded
 *  default, then `kubepki init`'s file of it) is not rewritten, since nothing about the PKI changed. */
export async function rememberSpec(out: string, tmpDir: string, resolved: Pick<ResolvedSpec, 'spec' | 'origin' | 'remembered'>, version: string): Promise<void> {
  if (resolved.remembered && isDeepStrictEqual(resolved.remembered, resolved.spec)) return;
  try {
    makeDirs(out, path.relative(out, tmpDir), 0o700);
    await writeAtomic(path.join(out, REMEMBERED), JSON.stringify({ kubepki: version, source: resolved.origin, spec: resolved.spec }, null, 2) + '\n', 0o644, tmpDir);
  } catch (e) {
    throw new EnvError(`cannot write ${REMEMBERED} in ${out}: ${describeWriteError(e)}`, ['nothing else was changed; free the space (or fix the permissions) and run the same command again']);
  }
}
