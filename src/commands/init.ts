import { promises as fsp } from 'node:fs';
import { DEFAULT_SPEC_YAML } from '../spec/default.js';
import { EnvError } from '../errors.js';

export async function init(opts: { file?: string; force: boolean }): Promise<void> {
  const file = opts.file ?? 'cluster.yaml';
  if (file === '-') {
    process.stdout.write(DEFAULT_SPEC_YAML);
    return;
  }
  try {
    await fsp.writeFile(file, DEFAULT_SPEC_YAML, { flag: opts.force ? 'w' : 'wx', mode: 0o644 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new EnvError(`${file} already exists`, ['pass --force to overwrite it, or another file name']);
    throw new EnvError(`cannot write ${file}: ${(e as Error).message}`);
  }
  process.stdout.write(`wrote ${file}: the documented cluster. Edit master.hostname, master.ip and nodes, then:\n  kubepki plan --spec ${file}\n  kubepki generate --spec ${file} --out ./pki\n`);
}
