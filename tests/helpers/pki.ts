// Helpers for the tests that operate on a real PKI folder: spec files, the PKI a test file
// generates once, sha256 snapshots of a folder, verify --json, hand-made certificates (the real
// openssl) and the test-only fake openssl.
import { existsSync, mkdirSync, readdirSync, readFileSync, lstatSync, writeFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { FIXTURES, kubepki, type CliResult } from './cli.js';
import { tmpDir } from './tmp.js';
import { openssl, sha } from './tools.js';

/** The real openssl, resolved once (fake ones on PATH delegate to it). A missing one fails the tests. */
export const REAL_OPENSSL = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('these tests need the real openssl on PATH (Debian: apt-get install openssl)');
  }
})();

/** fixtures/bin/openssl: test-only; it misbehaves on purpose on the calls a test chooses by their
 *  argv (the environment it reads is documented at the head of the script). */
export const FAKE_BIN = path.join(FIXTURES, 'bin');
export const FAKE_OPENSSL = path.join(FAKE_BIN, 'openssl');

export type FakeMode = 'pass' | 'fail' | 'enospc' | 'truncate' | 'weak' | 'old' | 'libressl';
export interface FakeOptions {
  /** a shell glob over the call's arguments joined by spaces: the calls `mode` applies to */
  match?: string;
  /** seconds a matching call waits before it misbehaves */
  delay?: number;
  /** seconds every other call sleeps before it runs */
  sleep?: number;
  /** only the calls this glob matches sleep (default: every call) */
  sleepMatch?: string;
  /** a file the calls wait for (GATE.waiting says one waits) */
  gate?: string;
}

/** The environment that makes kubepki run the fake openssl ($KUBEPKI_OPENSSL). */
export function fakeEnv(mode: FakeMode = 'pass', o: FakeOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { KUBEPKI_OPENSSL: FAKE_OPENSSL, FAKE_OPENSSL_MODE: mode, FAKE_OPENSSL_REAL: REAL_OPENSSL };
  if (o.match !== undefined) env.FAKE_OPENSSL_MATCH = o.match;
  if (o.delay !== undefined) env.FAKE_OPENSSL_DELAY = String(o.delay);
  if (o.sleep !== undefined) env.FAKE_OPENSSL_SLEEP = String(o.sleep);
  if (o.sleepMatch !== undefined) env.FAKE_OPENSSL_SLEEP_MATCH = o.sleepMatch;
  if (o.gate !== undefined) env.FAKE_OPENSSL_GATE = o.gate;
  return env;
}

/** Every openssl call but `version` fails the run: proof that a run made none. */
export const noOpenssl = (): NodeJS.ProcessEnv => fakeEnv('fail', { match: '*' });

/** A small spec for tests: loopback master, one node, everything else default. */
export const SPEC = `master:
  hostname: k8s-master
  ip: 127.0.0.1
nodes:
  - { name: k8s-node-1, ip: 127.0.0.2 }
`;

export function writeSpec(dir: string, text: string, name = 'cluster.yaml'): string {
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

export interface BasePki {
  /** the test file's own folder, where the spec is and where further specs may go */
  work: string;
  /** the spec file the PKI was made from */
  spec: string;
  /** the PKI folder; never changed by a test (one that mutates works on copyDir(out)) */
  out: string;
  /** snapshot(out) right after it was made */
  snap: Record<string, string>;
}

const bases = new Map<string, BasePki>();

/** The PKI of `specText` made by `kubepki generate --jobs 2` with the real openssl, once per test
 *  file (jest gives each file its own module registry, so each file has its own): every later
 *  call with the same text returns the same folder. It lives in a tmpDir, removed by cleanupTmp. */
export function basePki(specText = SPEC, name = 'base'): BasePki {
  const made = bases.get(specText);
  if (made && existsSync(made.out)) return made;
  const work = tmpDir(`kubepki-${name}-`);
  const spec = writeSpec(work, specText);
  const out = path.join(work, 'pki');
  expectExit(kubepki(['generate', '--spec', spec, '--out', out, '--jobs', '2']), 0);
  const b = { work, spec, out, snap: snapshot(out) };
  bases.set(specText, b);
  return b;
}

/** rel path -> sha256 of every file under dir (not following symlinks), .kubepki left out. */
export function snapshot(dir: string, withState = false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (!withState && rel === '.kubepki') continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[rel] = sha(p);
      else out[rel] = `(${lstatSync(p).isSymbolicLink() ? 'symlink' : 'other'})`;
    }
  };
  walk(dir);
  return out;
}

/** mtime (ns) of every file, to prove that nothing was even rewritten. */
export function mtimes(dir: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const rel of Object.keys(snapshot(dir))) out[rel] = statSync(path.join(dir, rel), { bigint: true }).mtimeNs;
  return out;
}

/** Files whose sha256 differs between two snapshots (added, removed or changed), sorted. */
export function changed(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}

export interface VerifyJson {
  ok: boolean;
  certificates: { name: string; status: string; notAfter: string | null; problems: string[] }[];
  problems: { file: string; code: string; message: string }[];
}

export function verifyJson(out: string, args: string[] = []): { r: CliResult; report: VerifyJson } {
  const r = kubepki(['verify', '--out', out, '--json', ...args]);
  let report: VerifyJson;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`verify --json did not print JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { r, report };
}

/** Shows the whole result when an exit code is not the expected one. */
export function expectExit(r: CliResult, code: number): void {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code} (signal ${r.signal})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

export function mustOpenssl(args: string[], cwd?: string): string {
  const r = openssl(args, cwd);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** A new RSA key (PKCS#8 PEM) at file. */
export function newKey(file: string, bits = 2048): string {
  mustOpenssl(['genrsa', '-out', file, String(bits)]);
  return readFileSync(file, 'utf8');
}

/** Signs a fresh CSR for `key` with `subj` by caCrt/caKey into `out`, with optional v3 extension lines. */
export function signLeaf(o: { dir: string; key: string; subj: string; caCrt: string; caKey: string; out: string; ext?: string; days?: number }): void {
  const csr = path.join(o.dir, `tmp-${Math.random().toString(36).slice(2)}.csr`);
  mustOpenssl(['req', '-new', '-key', o.key, '-subj', o.subj, '-out', csr]);
  const args = ['x509', '-req', '-in', csr, '-CA', o.caCrt, '-CAkey', o.caKey, '-set_serial', String(Date.now()), '-days', String(o.days ?? 365), '-out', o.out];
  if (o.ext) {
    const ext = `${csr}.ext`;
    writeFileSync(ext, `[v3]\n${o.ext}\n`);
    args.push('-extensions', 'v3', '-extfile', ext);
  }
  mustOpenssl(args);
}

/** A self-signed CA (key + cert) in dir with the given CN. */
export function newCa(dir: string, cn: string): { key: string; crt: string } {
  mkdirSync(dir, { recursive: true });
  const key = path.join(dir, 'other-ca.key');
  const crt = path.join(dir, 'other-ca.crt');
  mustOpenssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', `/CN=${cn}`, '-days', '30', '-out', crt]);
  return { key, crt };
}

/** The client v3 extensions kubepki uses (client_ssl.cnf), for hand-signed replacements. */
export const CLIENT_EXT = 'basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = clientAuth';

export function notAfter(file: string): Date {
  return new Date(mustOpenssl(['x509', '-in', file, '-noout', '-enddate']).trim().replace(/^notAfter=/, ''));
}
