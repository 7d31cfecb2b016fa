// The only module that spawns a process: node:child_process, argv array (no shell), stdin
// ignored, stderr collected (through a file). Each openssl leads its own process group (detached), so that a stop
// ends whatever a wrapper script started too: SIGTERM to the group, SIGKILL 2 s later.
//
// Not execa: what kubepki needs of it (start failures, output collection, exit codes, signals)
// fits in this function, without its start-up and per-spawn cost while openssl holds the CPUs
// (docs/performance.md).
import { spawn as cpSpawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
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

/** What the preflight learnt: the binary, its version ("OpenSSL 3.5.9") and that version's
 *  numbers, which decide what some commands write (see bareForm in check/rules.ts). */
export interface Openssl {
  binary: string;
  version: string;
  major: number;
  minor: number;
  patch: number;
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

/** The file a step's openssl writes its stderr to, in the step's staging folder (no output of a
 *  step has this name). A file, not a pipe: no socket pair, stream and reads per process while
 *  it runs, and the file is read once, when the process has ended. */
export const STDERR_FILE = '.openssl-stderr';

/** The environment of every openssl process: kubepki's own, copied once. Given as process.env,
 *  node would enumerate that object's accessors anew for every process it starts. */
let childEnv: NodeJS.ProcessEnv | undefined;

const text = (s: string) => s.replace(/\r?\n$/, '');

function readStderr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Runs one process. Steps write files with -out and print nothing kubepki reads on stdout:
 *  their stdout is not collected (one pipe less per process), and their stderr goes to
 *  STDERR_FILE in their cwd (the step's staging folder); the preflight collects both through
 *  pipes. */
async function spawn(binary: string, argv: string[], cwd: string, signal?: AbortSignal, collectStdout = false): Promise<OpensslResult> {
  const startedAt = performance.now();
  if (signal?.aborted) return { exitCode: -1, stdout: '', stderr: '', failure: 'cancelled', startedAt, exitedAt: startedAt };
  const stderrFile = collectStdout ? undefined : path.join(cwd, STDERR_FILE);
  let child: ReturnType<typeof cpSpawn>;
  let fd: number | undefined;
  try {
    if (stderrFile) fd = openSync(stderrFile, 'w', 0o600);
    child = cpSpawn(binary, argv, { cwd, env: (childEnv ??= { ...process.env }), stdio: ['ignore', collectStdout ? 'pipe' : 'ignore', fd ?? 'pipe'], detached: true });
  } catch (e) {
    return { exitCode: -1, stdout: '', stderr: '', failure: `failed to start: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, startedAt, exitedAt: performance.now() };
  } finally {
    if (fd !== undefined) closeSync(fd);
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
  const stderr = () => text(stderrFile ? readStderr(stderrFile) : Buffer.concat(err).toString('utf8'));
  try {
    return await new Promise<OpensslResult>((resolve) => {
      child.on('error', (e: NodeJS.ErrnoException) => {
        // could not start (ENOENT, EACCES): node emits 'close' too, with a negative code; the
        // first resolve wins
        if (child.pid === undefined) resolve({ exitCode: -1, stdout: '', stderr: stderr(), failure: e.code === 'ENOENT' ? 'not found' : `failed to start: ${e.code ?? e.message}`, startedAt: spawnedAt, exitedAt: performance.now() });
      });
      child.on('close', (code, sig) => {
        const failure = cancelled ? 'cancelled' : code === null ? `killed by ${sig}` : undefined;
        resolve({ exitCode: code ?? -1, stdout: text(Buffer.concat(out).toString('utf8')), stderr: stderr(), failure, startedAt: spawnedAt, exitedAt: exitedAt || performance.now() });
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

/** The way to an OpenSSL 3 on the systems whose own openssl is not one. */
const WAY_OUT = [
  'on macOS: brew install openssl@3, then pass --openssl "$(brew --prefix openssl@3)/bin/openssl" (or set KUBEPKI_OPENSSL to it)',
  'on Linux: install your distribution\'s openssl 3 (Debian/Ubuntu: apt-get install openssl), or point --openssl / KUBEPKI_OPENSSL at one',
];

export type VersionLine =
  | { kind: 'openssl'; version: string; major: number; minor: number; patch: number }
  | { kind: 'libressl'; version: string }
  | { kind: 'other'; line: string };

/** Reads the first line of `openssl version`: "OpenSSL 3.5.9 29 Sep 2026 (Library: …)",
 *  "OpenSSL 1.1.1w  11 Sep 2023", "LibreSSL 3.3.6" (macOS's /usr/bin/openssl). */
export function parseVersionLine(text: string): VersionLine {
  const line = text.split('\n')[0].trim();
  const m = /^OpenSSL (\d+)\.(\d+)\.(\d+)\S*/.exec(line);
  if (m) return { kind: 'openssl', version: m[0], major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
  const l = /^LibreSSL \S+/.exec(line);
  if (l) return { kind: 'libressl', version: l[0] };
  return { kind: 'other', line };
}

/** Preflight: `openssl version`. OpenSSL 3 is required (genrsa's PKCS#8 output, -CAcreateserial's
 *  random serials); LibreSSL and OpenSSL 1.x are refused with the way out. */
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
  const v = parseVersionLine(r.stdout);
  if (v.kind === 'libressl') {
    throw new EnvError(`${binary} is ${v.version}, not OpenSSL: kubepki needs OpenSSL ${MIN_MAJOR}.0 or newer`, [
      'LibreSSL (macOS\'s /usr/bin/openssl) differs in the commands kubepki runs and in what they write.',
      ...WAY_OUT,
    ]);
  }
  if (v.kind === 'other') throw new EnvError(`${binary} is not OpenSSL: \`version\` said ${JSON.stringify(v.line)}`, [`kubepki needs OpenSSL ${MIN_MAJOR} (LibreSSL and BoringSSL differ in the commands it runs).`, ...WAY_OUT]);
  if (v.major < MIN_MAJOR) {
    throw new EnvError(`${v.version} is too old: kubepki needs OpenSSL ${MIN_MAJOR}.0 or newer`, ['OpenSSL 1.1 writes different key formats and serials.', ...WAY_OUT]);
  }
  return { binary, version: v.version, major: v.major, minor: v.minor, patch: v.patch };
}
