// The only module that spawns a process: node:child_process, argv array (no shell), stdin
// ignored, stderr collected. Each openssl leads its own process group (detached), so that a stop
// ends whatever a wrapper script started too: SIGTERM to the group, SIGKILL 2 s later.
//
// Not execa (the stack's first choice, used here until issue 6's third round): on the default
// cluster execa cost ~70 ms of a ~1.9 s run on 2 CPUs (benchmark A/B, 11 rounds: kubepki's own
// overhead 210 ms with execa, 141 ms without): ~20 ms to load even bundled, ~10 ms more for its
// first call, and ~2.4 ms of CPU per spawn against ~1 ms, a burst long enough to be preempted
// when both CPUs run genrsa (a median of 11.8 ms per spawn call then, against 1.5 ms). What it
// did here fits in this function: start failures, output collection, exit codes and signals.
import { spawn as cpSpawn } from 'node:child_process';
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

/** What the preflight learnt: the binary and its version line. */
export interface Openssl {
  binary: string;
  version: string;
}

/** One binary: `run` starts a process at once; `ready` is the preflight (`openssl version`),
 *  run once, when first asked. The runner starts the first steps' processes before it asks (the
 *  version process then runs beside them, not before them) and reads no step's result before
 *  the preflight has passed: a missing or too old openssl is reported as such, and its outputs,
 *  still in a staging folder, are never used. */
export interface OpensslRunner {
  binary: string;
  run(argv: string[], cwd: string, signal?: AbortSignal): Promise<OpensslResult>;
  ready(): Promise<Openssl>;
}

export const MIN_MAJOR = 3;
/** after SIGTERM, a process that is still there gets SIGKILL */
const FORCE_KILL_MS = 2000;

/** The process groups of the openssl processes still running: killed if kubepki exits before
 *  they have ended (a second signal, or a stop that outlasts its grace time in cli.ts). */
const live = new Set<number>();
export function killRunning(): void {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killRunning);

/** Which binary: --openssl, then KUBEPKI_OPENSSL, then `openssl` on PATH. */
export function opensslBinary(flag?: string): string {
  return flag || process.env.KUBEPKI_OPENSSL || 'openssl';
}

/** Runs one process. Steps write files with -out and print nothing kubepki reads on stdout:
 *  their stdout is not collected (one pipe less per process); stderr always is. */
async function spawn(binary: string, argv: string[], cwd: string, signal?: AbortSignal, collectStdout = false): Promise<OpensslResult> {
  const startedAt = performance.now();
  if (signal?.aborted) return { exitCode: -1, stdout: '', stderr: '', failure: 'cancelled', startedAt, exitedAt: startedAt };
  let child: ReturnType<typeof cpSpawn>;
  try {
    child = cpSpawn(binary, argv, { cwd, stdio: ['ignore', collectStdout ? 'pipe' : 'ignore', 'pipe'], detached: true });
  } catch (e) {
    return { exitCode: -1, stdout: '', stderr: '', failure: `failed to start: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, startedAt, exitedAt: performance.now() };
  }
  const spawnedAt = performance.now();
  const pid = child.pid;
  if (pid !== undefined) live.add(pid);
  let cancelled = false;
  let killTimer: NodeJS.Timeout | undefined;
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
  signal?.addEventListener('abort', onAbort, { once: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  let exitedAt = 0;
  child.on('exit', () => {
    exitedAt = performance.now();
    if (pid !== undefined) live.delete(pid);
  });
  try {
    return await new Promise<OpensslResult>((resolve) => {
      const text = (b: Buffer[]) => Buffer.concat(b).toString('utf8').replace(/\r?\n$/, '');
      child.on('error', (e: NodeJS.ErrnoException) => {
        // could not start (ENOENT, EACCES): node emits 'close' too, with a negative code; the
        // first resolve wins
        if (child.pid === undefined) resolve({ exitCode: -1, stdout: '', stderr: text(err), failure: e.code === 'ENOENT' ? 'not found' : `failed to start: ${e.code ?? e.message}`, startedAt: spawnedAt, exitedAt: performance.now() });
      });
      child.on('close', (code, sig) => {
        const failure = cancelled ? 'cancelled' : code === null ? `killed by ${sig}` : undefined;
        resolve({ exitCode: code ?? -1, stdout: text(out), stderr: text(err), failure, startedAt: spawnedAt, exitedAt: exitedAt || performance.now() });
      });
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    clearTimeout(killTimer);
  }
}

export function opensslRunner(binary: string): OpensslRunner {
  let pre: Promise<Openssl> | undefined;
  return { binary, run: (argv, cwd, signal) => spawn(binary, argv, cwd, signal), ready: () => (pre ??= preflight(binary)) };
}

/** Preflight: `openssl version`. OpenSSL 3 is required (genrsa's PKCS#8 output, -CAcreateserial's random serials). */
async function preflight(binary: string): Promise<Openssl> {
  const r = await spawn(binary, ['version'], process.cwd(), undefined, true);
  if (r.failure === 'not found') {
    throw new EnvError(`openssl not found: ${binary}`, [
      'kubepki runs the real openssl binary. Install it (Debian/Ubuntu: apt-get install openssl) or point --openssl / KUBEPKI_OPENSSL at it.',
    ]);
  }
  if (r.failure === 'failed to start: EACCES') {
    throw new EnvError(`openssl cannot be run: ${binary}: permission denied`, ['make it executable (chmod +x), or point --openssl / KUBEPKI_OPENSSL at another openssl.']);
  }
  if (r.failure || r.exitCode !== 0) {
    throw new EnvError(`\`${binary} version\` failed (${r.failure ?? `exit code ${r.exitCode}`})`, r.stderr ? [r.stderr.split('\n')[0]] : []);
  }
  const m = r.stdout.match(/^OpenSSL (\d+)\.(\d+)\.(\d+)\S*/);
  if (!m) throw new EnvError(`${binary} is not OpenSSL: \`version\` said ${JSON.stringify(r.stdout.split('\n')[0])}`, ['kubepki needs OpenSSL 3 (LibreSSL and BoringSSL differ in the commands it runs).']);
  if (Number(m[1]) < MIN_MAJOR) {
    throw new EnvError(`${m[0]} is too old: kubepki needs OpenSSL ${MIN_MAJOR}.0 or newer`, ['OpenSSL 1.1 writes different key formats and serials; upgrade openssl or point --openssl at a newer one.']);
  }
  return { binary, version: m[0] };
}
