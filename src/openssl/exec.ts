// The only module that spawns a process. openssl runs from an argv array (no shell), stdin ignored.
// node:child_process directly: execa cost ~140 ms of CPU to import on every generate (about 10 %
// of the default cluster's run on 2 cores), for the few things used here: argv, cwd, cancel with
// SIGTERM then SIGKILL, collected output.
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { EnvError } from '../errors.js';

export interface OpensslResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** set when the process was ended by a signal or could not start */
  failure?: string;
  /** performance.now() when spawn() returned (the process exists: node's fork and the wait for
   *  exec are not counted) and when it exited */
  startedAt: number;
  exitedAt: number;
}

export interface Openssl {
  binary: string;
  version: string;
  run(argv: string[], cwd: string, signal?: AbortSignal): Promise<OpensslResult>;
}

export const MIN_MAJOR = 3;
/** after SIGTERM, a process that is still there gets SIGKILL */
const FORCE_KILL_MS = 2000;

/** Which binary: --openssl, then KUBEPKI_OPENSSL, then `openssl` on PATH. */
export function opensslBinary(flag?: string): string {
  return flag || process.env.KUBEPKI_OPENSSL || 'openssl';
}

const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');

/** Runs one process. Steps write files with -out and print nothing kubepki reads on stdout:
 *  their stdout is not collected (one pipe less per process); stderr always is. */
function spawn(binary: string, argv: string[], cwd: string, signal?: AbortSignal, collectStdout = false): Promise<OpensslResult> {
  return new Promise((resolve) => {
    let startedAt = performance.now();
    if (signal?.aborted) {
      resolve({ exitCode: -1, stdout: '', stderr: '', failure: 'cancelled', startedAt, exitedAt: startedAt });
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let exitedAt = 0;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;
    let child: ChildProcess;
    // the process leads its own process group, so that a stop ends whatever it started too
    // (a wrapper script's openssl); a group that is already gone is fine
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        child.kill(sig);
      }
    };
    const onAbort = () => {
      cancelled = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), FORCE_KILL_MS);
    };
    const settle = (r: Omit<OpensslResult, 'startedAt' | 'exitedAt'>) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      resolve({ ...r, startedAt, exitedAt: exitedAt || performance.now() });
    };
    try {
      child = spawnChild(binary, argv, { cwd, stdio: ['ignore', collectStdout ? 'pipe' : 'ignore', 'pipe'], detached: true });
      startedAt = performance.now();
    } catch (e) {
      settle({ exitCode: -1, stdout: '', stderr: '', failure: `failed to start: ${(e as Error).message}` });
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e: NodeJS.ErrnoException) => {
      // could not start (ENOENT, EACCES): no 'exit' follows
      if (child.pid === undefined) settle({ exitCode: -1, stdout: '', stderr: '', failure: e.code === 'ENOENT' ? 'not found' : `failed to start: ${e.code ?? e.message}` });
    });
    child.on('exit', () => {
      exitedAt = performance.now();
    });
    child.on('close', (code, sig) => {
      const failure = cancelled ? 'cancelled' : sig ? `killed by ${sig}` : undefined;
      settle({ exitCode: code ?? -1, stdout: text(out), stderr: text(err), failure });
    });
  });
}

/** Preflight: `openssl version`, once. OpenSSL 3 is required (genrsa's PKCS#8 output, -CAcreateserial's random serials). */
export async function preflight(binary: string): Promise<Openssl> {
  const r = await spawn(binary, ['version'], process.cwd(), undefined, true);
  if (r.failure === 'not found') {
    throw new EnvError(`openssl not found: ${binary}`, [
      'kubepki runs the real openssl binary. Install it (Debian/Ubuntu: apt-get install openssl) or point --openssl / KUBEPKI_OPENSSL at it.',
    ]);
  }
  if (r.failure || r.exitCode !== 0) {
    throw new EnvError(`\`${binary} version\` failed (${r.failure ?? `exit code ${r.exitCode}`})`, r.stderr ? [r.stderr.split('\n')[0]] : []);
  }
  const m = r.stdout.match(/^OpenSSL (\d+)\.(\d+)\.(\d+)\S*/);
  if (!m) throw new EnvError(`${binary} is not OpenSSL: \`version\` said ${JSON.stringify(r.stdout.split('\n')[0])}`, ['kubepki needs OpenSSL 3 (LibreSSL and BoringSSL differ in the commands it runs).']);
  if (Number(m[1]) < MIN_MAJOR) {
    throw new EnvError(`${m[0]} is too old: kubepki needs OpenSSL ${MIN_MAJOR}.0 or newer`, ['OpenSSL 1.1 writes different key formats and serials; upgrade openssl or point --openssl at a newer one.']);
  }
  return { binary, version: m[0], run: (argv, cwd, signal) => spawn(binary, argv, cwd, signal) };
}
