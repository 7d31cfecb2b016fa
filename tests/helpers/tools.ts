// The real binaries the tests use. A missing one fails the test that needs it (never a silent skip).
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';

const SDK_BIN = '/usr/lib/google-cloud-sdk/bin';

/** A real kubectl that talks only to the server a test names: $KUBEPKI_TEST_KUBECTL, else the
 *  newest versioned binary of the google-cloud-sdk, else a distribution's own /usr/bin/kubectl
 *  (Debian 13 packages it). The sdk's /usr/bin/kubectl is a dispatcher that first contacts the
 *  kubeconfig's server on every call, so it is never chosen. Without one, the path named here
 *  does not exist and requireTool fails the test. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env, sdkBin = SDK_BIN, system = '/usr/bin/kubectl'): string {
  if (env.KUBEPKI_TEST_KUBECTL) return env.KUBEPKI_TEST_KUBECTL;
  const versioned = (existsSync(sdkBin) ? readdirSync(sdkBin) : [])
    .map((f) => /^kubectl\.1\.(\d+)$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]));
  if (versioned.length) return `${sdkBin}/${versioned[0][0]}`;
  if (existsSync(system) && !realpathSync(system).startsWith(sdkBin + '/')) return system;
  return `${sdkBin}/kubectl.1.NN (none installed; on Debian: apt-get install kubectl)`;
}

export const KUBECTL = findKubectl();

export function requireTool(p: string): string {
  if (!existsSync(p)) throw new Error(`this test needs ${p}, which is not installed (.ci/run installs what it can)`);
  return p;
}

export function openssl(args: string[], cwd?: string, input?: string) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
