// The real binaries the tests use. A missing one fails the test that needs it (never a silent skip).
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';

export const KUBECTL = process.env.KUBEPKI_TEST_KUBECTL ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.33';

export function requireTool(p: string): string {
  if (!existsSync(p)) throw new Error(`this test needs ${p}, which is not installed (.ci/run installs what it can)`);
  return p;
}

export function openssl(args: string[], cwd?: string, input?: string) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
