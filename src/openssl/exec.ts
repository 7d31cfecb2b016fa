// The only module that spawns a process. openssl runs from an argv array (no shell), stdin ignored.
import { execa } from 'execa';
import { EnvError } from '../errors.js';

export interface OpensslResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** set when the process was ended by a signal or could not start */
  failure?: string;
}

export interface Openssl {
  binary: string;
  version: string;
  run(argv: string[], cwd: string, signal?: AbortSignal): Promise<OpensslResult>;
}

export const MIN_MAJOR = 3;

/** Which binary: --openssl, then KUBEPKI_OPENSSL, then `openssl` on PATH. */
export function opensslBinary(flag?: string): string {
  return flag || process.env.KUBEPKI_OPENSSL || 'openssl';
}

async function spawn(binary: string, argv: string[], cwd: string, signal?: AbortSignal): Promise<OpensslResult> {
  const r = await execa(binary, argv, { cwd, stdin: 'ignore', reject: false, cancelSignal: signal, forceKillAfterDelay: 2000, stripFinalNewline: true });
  let failure: string | undefined;
  if (r.failed && r.exitCode === undefined) {
    const code = (r.cause as NodeJS.ErrnoException | undefined)?.code;
    failure = code === 'ENOENT' ? 'not found' : r.isCanceled ? 'cancelled' : r.signal ? `killed by ${r.signal}` : (r.shortMessage ?? 'failed to start');
  }
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), failure };
}

/** Preflight: `openssl version`, once. OpenSSL 3 is required (genrsa's PKCS#8 output, -CAcreateserial's random serials). */
export async function preflight(binary: string): Promise<Openssl> {
  const r = await spawn(binary, ['version'], process.cwd());
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
