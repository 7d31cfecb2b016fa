// Temporary folders, removed after the test file.
import { mkdtempSync, rmSync, cpSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
export function tmpDir(prefix = 'kubepki-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
/** cp -a: a copy to mutate, so that a PKI generated once per file stays intact. */
export function copyDir(src: string): string {
  const d = tmpDir('kubepki-copy-');
  cpSync(src, d, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  return d;
}
export function cleanupTmp(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
