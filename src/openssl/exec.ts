// The only module that spawns a process: execa 9, argv array (no shell), stdin ignored.
// Bundled by esbuild, execa costs ~20 ms to load (140 ms unbundled) and ~1.5 ms more CPU per
// process than a bare child_process.spawn (measured: 2.5 vs 0.9 ms); what it brings is one tested
// place for start failures, output collection and exit codes. Each openssl leads its own process
// group (detached), so that a stop ends whatever a wrapper script started too.
import { execa } from 'execa';
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

/** Runs one process. Steps write files with -out and print nothing kubepki reads on stdout:
 *  their stdout is not collected (one pipe less per process); stderr always is. */
async function spawn(binary: string, argv: string[], cwd: string, signal?: AbortSignal, collectStdout = false): Promise<OpensslResult> {
  const startedAt = performance.now();
  if (signal?.aborted) return { exitCode: -1, stdout: '', stderr: '', failure: 'cancelled', startedAt, exitedAt: startedAt };
  const child = execa(binary, argv, {
    cwd,
    stdin: 'ignore',
    stdout: collectStdout ? 'pipe' : 'ignore',
    stderr: 'pipe',
    reject: false,
    detached: true,
    cleanup: false,
    stripFinalNewline: true,
  });
  const spawnedAt = performance.now();
  let exitedAt = 0;
  child.on('exit', () => {
    exitedAt = performance.now();
  });
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
  try {
    const r = await child;
    let failure: string | undefined;
    if (cancelled) failure = 'cancelled';
    else if (r.exitCode === undefined) {
      const code = (r.cause as NodeJS.ErrnoException | undefined)?.code;
      failure = code === 'ENOENT' ? 'not found' : r.signal ? `killed by ${r.signal}` : `failed to start: ${code ?? r.shortMessage}`;
    }
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), failure, startedAt: spawnedAt, exitedAt: exitedAt || performance.now() };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    clearTimeout(killTimer);
  }
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
