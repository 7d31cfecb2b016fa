// The only module that starts processes. A step's openssl is started by a launcher: a long-lived
// /bin/sh per job slot, which reads one command line at a time on its stdin, runs it in the
// foreground and prints its exit status. node's own spawn forks the whole node process (~75 MiB
// resident on 200 kubelets) and waits for the child's exec while both CPUs run openssl; a shell
// forks a process of ~1 MiB, and node only writes a line and reads one. Every word of the command
// line is single-quoted (shellWord): the shell expands nothing, so openssl gets exactly the argv
// the plan holds, in the step's folder, with kubepki's environment (PWD names that folder, as cd
// sets it), stdin and stdout /dev/null, its stderr back through the launcher. Each launcher leads its
// own process group (detached), so that a stop ends whatever a wrapper script started too:
// SIGTERM to the group, SIGKILL 2 s later; a cancelled launcher is not used again. Where no
// /bin/sh can be started, and for the preflight, node spawns directly (argv array, no shell).
// KUBEPKI_LAUNCH=node makes every process a direct spawn (for comparisons; not part of the CLI).
//
// Not execa: what kubepki needs of it (start failures, output collection, exit codes, signals)
// fits in this module, without its start-up and per-spawn cost while openssl holds the CPUs
// (docs/performance.md).
import { spawn as cpSpawn } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
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

/** The environment of every openssl process: kubepki's own, copied once. Given as process.env,
 *  node would enumerate that object's accessors anew for every process it starts. */
let childEnv: NodeJS.ProcessEnv | undefined;

const text = (s: string) => s.replace(/\r?\n$/, '');

/** A stop of one process group: SIGTERM, then SIGKILL FORCE_KILL_MS later unless `done` comes
 *  first. `kill` sends a signal to the group. */
function groupStop(signal: AbortSignal | undefined, kill: (sig: NodeJS.Signals) => void) {
  let timer: NodeJS.Timeout | undefined;
  const s = {
    stopped: false,
    done() {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
    },
  };
  const onAbort = () => {
    s.stopped = true;
    kill('SIGTERM');
    timer = setTimeout(() => kill('SIGKILL'), FORCE_KILL_MS);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  return s;
}

/** Runs one process with node's spawn (the preflight, and every process where no launcher can
 *  start). Steps write files with -out and print nothing kubepki reads on stdout: their stdout is
 *  not collected (one pipe less per process); stderr always is. */
async function spawn(binary: string, argv: string[], cwd: string, signal?: AbortSignal, collectStdout = false): Promise<OpensslResult> {
  const startedAt = performance.now();
  if (signal?.aborted) return { exitCode: -1, stdout: '', stderr: '', failure: 'cancelled', startedAt, exitedAt: startedAt };
  let child: ReturnType<typeof cpSpawn>;
  try {
    child = cpSpawn(binary, argv, { cwd, env: (childEnv ??= { ...process.env }), stdio: ['ignore', collectStdout ? 'pipe' : 'ignore', 'pipe'], detached: true });
  } catch (e) {
    return { exitCode: -1, stdout: '', stderr: '', failure: `failed to start: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, startedAt, exitedAt: performance.now() };
  }
  const spawnedAt = performance.now();
  const pid = child.pid;
  if (pid !== undefined) live.add(pid);
  const stop = groupStop(signal, (sig) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      child.kill(sig);
    }
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  let exitedAt = 0;
  child.on('exit', () => {
    exitedAt = performance.now();
    if (pid !== undefined) live.delete(pid);
  });
  const stderr = () => text(Buffer.concat(err).toString('utf8'));
  try {
    return await new Promise<OpensslResult>((resolve) => {
      child.on('error', (e: NodeJS.ErrnoException) => {
        // could not start (ENOENT, EACCES): node emits 'close' too, with a negative code; the
        // first resolve wins
        if (child.pid === undefined) resolve({ exitCode: -1, stdout: '', stderr: stderr(), failure: e.code === 'ENOENT' ? 'not found' : `failed to start: ${e.code ?? e.message}`, startedAt: spawnedAt, exitedAt: performance.now() });
      });
      child.on('close', (code, sig) => {
        const failure = stop.stopped ? 'cancelled' : code === null ? `killed by ${sig}` : undefined;
        resolve({ exitCode: code ?? -1, stdout: text(Buffer.concat(out).toString('utf8')), stderr: stderr(), failure, startedAt: spawnedAt, exitedAt: exitedAt || performance.now() });
      });
    });
  } finally {
    stop.done();
  }
}

/** A POSIX shell word: single quotes, each ' written as '\'' (nothing inside is expanded). */
export function shellWord(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/** One long-lived /bin/sh that starts the openssl processes of one slot, one at a time. */
interface Launcher {
  child: ReturnType<typeof cpSpawn>;
  pid: number;
  /** ends each report on the launcher's stdout; random, so that no process's stderr can fake one */
  mark: string;
  /** the step it runs: called with the process's stderr and status ("0", "cd"), or with
   *  undefined when the launcher has ended */
  busy?: (r: { stderr: string; status: string } | undefined) => void;
  buf: string;
  dead: boolean;
}

const idle: Launcher[] = [];
const launchers = new Set<Launcher>();

function newLauncher(): Launcher | undefined {
  let child: ReturnType<typeof cpSpawn>;
  try {
    child = cpSpawn('/bin/sh', [], { env: (childEnv ??= { ...process.env }), stdio: ['pipe', 'pipe', 'ignore'], detached: true });
  } catch {
    return undefined;
  }
  child.on('error', () => undefined);
  if (child.pid === undefined) return undefined;
  const l: Launcher = { child, pid: child.pid, mark: randomBytes(12).toString('hex'), buf: '', dead: false };
  launchers.add(l);
  live.add(l.pid);
  // A stop's SIGTERM goes to the whole group: the shell outlives it (a trap, not an ignore, which
  // openssl would inherit) and reports the status of openssl once it has ended; a process that
  // outlives SIGTERM is there until the SIGKILL, like a directly spawned one.
  child.stdin!.write('trap : TERM\n');
  const tail = new RegExp(`\n${l.mark} (\\w+)\n$`);
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    l.buf += d;
    const m = tail.exec(l.buf);
    if (!m) return;
    const stderr = l.buf.slice(0, m.index);
    l.buf = '';
    const b = l.busy;
    l.busy = undefined;
    b?.({ stderr, status: m[1] });
  });
  child.stdin!.on('error', () => undefined);
  child.on('exit', () => {
    l.dead = true;
    live.delete(l.pid);
    launchers.delete(l);
    const i = idle.indexOf(l);
    if (i >= 0) idle.splice(i, 1);
    const b = l.busy;
    l.busy = undefined;
    b?.(undefined);
  });
  return l;
}

function hold(l: Launcher, on: boolean): void {
  const f = on ? 'ref' : 'unref';
  l.child[f]();
  (l.child.stdout as unknown as { ref(): void; unref(): void })[f]();
  (l.child.stdin as unknown as { ref(): void; unref(): void })[f]();
}

let noShell = false;

/** Runs one step's process through a launcher: the same argv, cwd and environment (but PWD, which
 *  the shell's cd sets to the step's folder), stdin and stdout /dev/null. Its stderr comes back on
 *  the launcher's stdout, before the line with the launcher's mark and the status: the shell
 *  prints that line only once the process has ended, so nothing of its stderr comes after. No
 *  file per step: truncating one that a signing wrote to costs a block freed (on a file system
 *  mounted with discard and no journal, a discard the main thread waits for). */
async function launch(binary: string, argv: string[], cwd: string, signal?: AbortSignal): Promise<OpensslResult> {
  const startedAt = performance.now();
  if (signal?.aborted) return { exitCode: -1, stdout: '', stderr: '', failure: 'cancelled', startedAt, exitedAt: startedAt };
  const l = idle.pop() ?? newLauncher();
  if (!l) {
    noShell = true;
    return spawn(binary, argv, cwd, signal);
  }
  const dir = path.resolve(cwd);
  const words = [binary, ...argv].map(shellWord).join(' ');
  hold(l, true);
  const stop = groupStop(signal, (sig) => {
    try {
      process.kill(-l.pid, sig);
    } catch {
      // gone
    }
  });
  try {
    const r = await new Promise<{ stderr: string; status: string } | undefined>((resolve) => {
      l.busy = resolve;
      const report = (status: string) => `printf '\\n%s %s\\n' ${l.mark} ${status}`;
      l.child.stdin!.write(`if cd ${shellWord(dir)}; then ${words} </dev/null 2>&1 >/dev/null; ${report('"$?"')}; else ${report('cd')}; fi\n`);
    });
    const exitedAt = performance.now();
    if (r && !stop.stopped && !l.dead) {
      hold(l, false);
      idle.push(l);
    } else if (!l.dead) l.child.stdin!.end();
    const stderr = text(r?.stderr ?? '');
    const fail = (failure: string): OpensslResult => ({ exitCode: -1, stdout: '', stderr, failure, startedAt, exitedAt });
    if (stop.stopped) return fail('cancelled');
    if (!r) return fail('its launcher (/bin/sh) ended');
    if (r.status === 'cd') return fail(`failed to start: cannot enter ${dir}`);
    const code = Number(r.status);
    if (code === 127) return fail('not found');
    if (code === 126) return fail('failed to start: EACCES');
    const sig = code > 128 ? Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0] : undefined;
    if (sig) return fail(`killed by ${sig}`);
    return { exitCode: code, stdout: '', stderr, startedAt, exitedAt };
  } finally {
    stop.done();
  }
}

/** CPU (user + system, ms) of the launchers themselves, not of the processes they start; 0 where
 *  /proc is not there. */
export function launcherCpuMs(): number {
  let ticks = 0;
  for (const l of launchers) {
    try {
      const f = readFileSync(`/proc/${l.pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      // gone
    }
  }
  return (ticks * 1000) / 100;
}

/** The file that would be run for `binary`: a path (with a slash) is taken from kubepki's own
 *  folder, not the step's; a bare name is looked up on PATH as execvp would. Unresolved names are
 *  left as they are (the preflight reports them). */
export function resolveBinary(binary: string, envPath = process.env.PATH ?? ''): string {
  if (binary.includes('/')) return path.resolve(binary);
  for (const dir of envPath.split(':')) {
    const f = path.resolve(dir || '.', binary);
    try {
      accessSync(f, fsConstants.X_OK);
      if (statSync(f).isFile()) return f;
    } catch {
      // not here
    }
  }
  return binary;
}

export function opensslRunner(binary: string): OpensslRunner {
  let pre: Promise<Openssl> | undefined;
  let file: string | undefined;
  const direct = process.env.KUBEPKI_LAUNCH === 'node';
  return {
    binary,
    run: (argv, cwd, signal) => (direct || noShell ? spawn : launch)((file ??= resolveBinary(binary)), argv, cwd, signal),
    ready: () => (pre ??= preflight(binary)),
  };
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
