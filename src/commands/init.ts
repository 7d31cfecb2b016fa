import { promises as fsp } from 'node:fs';
import { DEFAULT_SPEC_YAML } from '../spec/default.js';
import { EnvError } from '../errors.js';

/** The spec's JSON Schema (what a spec file may hold: the input side of the zod schema), for
 *  editors. The rules across fields (names unique, lifetimes, …) are zod's alone. */
export async function jsonSchema(): Promise<string> {
  const schema = (await import('../spec/json-schema.js')).specJsonSchema();
  return JSON.stringify({ ...schema, title: 'kubepki cluster spec', description: 'kubepki init writes a commented example; kubepki plan --spec FILE validates it (every rule, with its path)' }, null, 2) + '\n';
}

export async function init(opts: { file?: string; force: boolean; schema?: boolean }): Promise<void> {
  const file = opts.file ?? (opts.schema ? 'kubepki.schema.json' : 'cluster.yaml');
  const text = opts.schema ? await jsonSchema() : DEFAULT_SPEC_YAML;
  if (file === '-') {
    process.stdout.write(text);
    return;
  }
  try {
    await fsp.writeFile(file, text, { flag: opts.force ? 'w' : 'wx', mode: 0o644 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new EnvError(`${file} already exists`, ['pass --force to overwrite it, or another file name']);
    throw new EnvError(`cannot write ${file}: ${(e as Error).message}`);
  }
  if (opts.schema) {
    process.stdout.write(`wrote ${file}: the spec's JSON Schema. Name it in a spec file's first line for your editor:\n  # yaml-language-server: $schema=${file}\n`);
    return;
  }
  process.stdout.write(`wrote ${file}: the documented cluster. Edit master.hostname, master.ip and nodes, then:\n  kubepki plan --spec ${file}\n  kubepki generate --spec ${file} --out ./pki\n`);
}
