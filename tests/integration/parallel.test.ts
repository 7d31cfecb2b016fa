/**
 * The parallel runner: independent steps at once, signings in the plan's order.
 * - --jobs 4 makes a PKI that passes the same checks as --jobs 1: the same subjects, SANs,
 *   issuers and EKUs, chains that openssl verify accepts, unique serials that follow the plan's
 *   signing order (each -CAcreateserial signing adds one), and ca.srl holding the last one;
 * - --jobs 1 runs exactly the order of `kubepki plan`;
 * - a step that fails while others run stops the run cleanly: no openssl (or wrapper) process
 *   left, no staging folder, nothing in OUT that fails its check, and the next run completes it;
 * - a run whose step fails its check while a follow-up started from it runs (early-start.test.ts
 *   shows the follow-up had started) stops cleanly and keeps nothing of either;
 * - a stop by SIGTERM in the middle of a parallel run does the same;
 * - in a pipe and with --json the output carries no control characters.
 * Real openssl throughout; the test-only fake (fixtures/bin/openssl) wraps it to fail, make a weak
 * key or slow down on purpose, choosing the calls by their argv.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki, kubepkiAsync } from '../helpers/cli.js';
import { fakeEnv } from '../helpers/pki.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';
import { openssl } from '../helpers/tools.js';

// loopback addresses only; three nodes and an extra client: 10 keys, 9 signings
const SPEC = `master: {hostname: k8s-master, ip: 127.0.0.1, extraSANs: [api.example.test, 127.0.0.9]}
nodes:
  - {name: node-1, ip: 127.0.0.2}
  - {name: node-2, ip: 127.0.0.3}
  - {name: node-3, ip: 127.0.0.4}
clients:
  - {name: ci-bot, cn: ci-bot, organizations: [ci]}
`;

interface Artifact {
  path: string;
  type: string;
  subject?: string;
  issuer?: string;
  serial?: string;
  sans?: string[];
  extendedKeyUsage?: string[];
}
interface StepEvent {
  event: 'step';
  id: string;
  command: string | null;
}

let work: string;
let spec: string;
let planSteps: { id: string; action: string; argv: string[] | null; outputs: { path: string }[] }[];

beforeAll(() => {
  work = tmpDir('kubepki-parallel-');
  spec = path.join(work, 'cluster.yaml');
  writeFileSync(spec, SPEC);
  const p = kubepki(['plan', '--spec', spec, '--json']);
  expect(p.code).toBe(0);
  planSteps = JSON.parse(p.stdout).steps;
});
afterAll(() => cleanupTmp());

const CONTROL = /[\x00-\x09\x0b-\x1f\x7f\x9b]/; // anything but \n

/** processes (wrappers, openssl, sleep) that carry this run's marker in their environment */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').includes(marker)) found.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

const manifest = (out: string): Artifact[] => JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).artifacts;
const certsOf = (out: string) => manifest(out).filter((a) => a.type === 'cert');
const signPaths = () => planSteps.filter((s) => s.action === 'sign').map((s) => s.outputs.find((o) => o.path.endsWith('.crt'))!.path);

/** what a PKI must be, whatever the number of jobs */
function checkPki(out: string) {
  const v = kubepki(['verify', '--spec', spec, '--out', out]);
  expect([v.code, v.stderr]).toEqual([0, '']);
  const certs = certsOf(out);
  const leaves = certs.filter((c) => c.path !== 'ca.crt').map((c) => c.path);
  expect(leaves).toHaveLength(signPaths().length);
  const chain = openssl(['verify', '-CAfile', 'ca.crt', ...leaves], out);
  expect(chain.code).toBe(0);
  expect(chain.stdout.trim().split('\n')).toEqual(leaves.map((l) => `${l}: OK`));
  // serials: unique; in the plan's signing order each is the one before plus one (every
  // -CAcreateserial signing reads ca.srl, adds one, writes it back); ca.srl holds the last
  const serial = new Map(certs.map((c) => [c.path, BigInt('0x' + c.serial)]));
  expect(new Set(serial.values()).size).toBe(certs.length);
  const signed = signPaths().map((p) => serial.get(p)!);
  for (let i = 1; i < signed.length; i++) expect([signPaths()[i], signed[i] - signed[i - 1]]).toEqual([signPaths()[i], 1n]);
  expect(BigInt('0x' + readFileSync(path.join(out, 'ca.srl'), 'utf8').trim())).toBe(signed.at(-1));
  expect(existsSync(path.join(out, '.kubepki', 'tmp'))).toBe(false);
}

/** identity of each certificate: what must not depend on the number of jobs */
const identities = (out: string) =>
  Object.fromEntries(certsOf(out).map((c) => [c.path, { subject: c.subject, issuer: c.issuer, sans: c.sans, eku: c.extendedKeyUsage }]));

describe('parallel and sequential runs', () => {
  let seq: string;
  let par: string;
  let seqEvents: StepEvent[];

  beforeAll(() => {
    seq = path.join(work, 'seq');
    par = path.join(work, 'par');
    const a = kubepki(['generate', '--spec', spec, '--out', seq, '--jobs', '1', '--json']);
    expect([a.code, a.stderr]).toEqual([0, '']);
    expect(a.stdout).not.toMatch(CONTROL);
    seqEvents = a.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'step');
    const b = kubepki(['generate', '--spec', spec, '--out', par, '--jobs', '4']);
    expect([b.code, b.stderr]).toEqual([0, '']);
  });

  test('--jobs 1 passes every check', () => checkPki(seq));
  test('--jobs 4 passes every check', () => checkPki(par));

  test('--jobs 4 makes the same certificates as --jobs 1: subjects, SANs, issuers, EKUs', () => {
    expect(identities(par)).toEqual(identities(seq));
    expect(Object.keys(identities(par)).sort()).toEqual(['ca.crt', ...signPaths()].sort());
  });

  test('--jobs 1 runs exactly the plan order: the same steps, the same openssl lines as the plan script', () => {
    expect(seqEvents.map((e) => e.id)).toEqual(planSteps.map((s) => s.id));
    const script = kubepki(['plan', '--spec', spec]);
    expect(script.code).toBe(0);
    const scriptLines = script.stdout.split('\n').filter((l) => l.startsWith('openssl '));
    expect(seqEvents.filter((e) => e.command).map((e) => e.command)).toEqual(scriptLines);
  });

  test('with --json every line is one JSON event, without control characters', () => {
    const again = kubepki(['generate', '--spec', spec, '--out', par, '--json'], { env: { NO_COLOR: undefined, TERM: 'xterm-256color' } });
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(CONTROL);
    for (const l of again.stdout.trim().split('\n')) expect(() => JSON.parse(l)).not.toThrow();
  });
});

describe('a failure while other steps run', () => {
  const failing = 'clients/kube-proxy.key';
  let out: string;
  let marker: string;
  let r: ReturnType<typeof kubepki>;

  beforeAll(() => {
    out = path.join(work, 'fail');
    marker = `kubepki-parallel-marker-${process.pid}-${Date.now()}`;
    // the failing key fails after 0.3 s while every other key generation sleeps 1 s first
    r = kubepki(['generate', '--spec', spec, '--out', out, '--jobs', '4'], {
      env: { ...fakeEnv('fail', { match: `genrsa -out ${failing} *`, delay: 0.3, sleep: 1, sleepMatch: 'genrsa *' }), PARALLEL_TEST_MARKER: marker },
    });
  });

  test('exits 1 and names the failed step and what openssl said', () => {
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('kube-proxy:key');
    expect(r.stderr).toContain('fails on purpose');
  });

  test('leaves no openssl, wrapper or sleep process behind, and no staging folder', () => {
    expect(processesWith(marker)).toEqual([]);
    expect(existsSync(path.join(out, '.kubepki', 'tmp'))).toBe(false);
  });

  test('leaves nothing in OUT that fails its check: only missing files (and flag files that name them)', () => {
    expect(existsSync(path.join(out, failing))).toBe(false);
    const v = kubepki(['verify', '--spec', spec, '--out', out, '--json']);
    expect(v.code).toBe(1);
    const problems: { file: string; code: string }[] = JSON.parse(v.stdout).problems;
    expect(problems.some((p) => p.code === 'missing' && p.file === 'clients/kube-proxy.crt')).toBe(true);
    expect(problems.filter((p) => p.code !== 'missing' && p.code !== 'flags-path')).toEqual([]);
    const files = (d: string): string[] => readdirSync(path.join(out, d), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === '.kubepki' ? [] : files(path.join(d, e.name))) : [path.join(d, e.name)]));
    for (const f of files('.')) {
      if (f.endsWith('.key')) expect([f, openssl(['pkey', '-in', f, '-noout'], out).code]).toEqual([f, 0]);
      if (f.endsWith('.crt') && f !== 'ca.crt') expect([f, openssl(['verify', '-CAfile', 'ca.crt', f], out).code]).toEqual([f, 0]);
    }
  });

  test('the next run completes the PKI; in a pipe its lines carry no control characters', () => {
    const again = kubepki(['generate', '--spec', spec, '--out', out], { env: { NO_COLOR: undefined, TERM: 'xterm-256color' } });
    expect([again.code, again.stderr]).toEqual([0, '']);
    expect(again.stdout).not.toMatch(CONTROL);
    expect(again.stdout).toContain('$ openssl genrsa -out clients/kube-proxy.key 2048');
    expect(kubepki(['verify', '--spec', spec, '--out', out]).code).toBe(0);
  });
});

describe('a step started at its producer\'s exit, whose producer then fails its check', () => {
  // with --jobs > 1 the CA's certificate (req -x509 -key ca.key) starts as soon as genrsa has
  // written ca.key, from the key's staging folder, while the key is checked. Here the key is
  // 1024-bit (it fails its check) and the request is slowed down, so that it is still running.
  // That the request had started is asserted where it is recorded as it happens, in
  // early-start.test.ts: a wrapper's own log could be cut short by the stop itself
  let out: string;
  let marker: string;
  let r: ReturnType<typeof kubepki>;

  beforeAll(() => {
    out = path.join(work, 'weak');
    marker = `kubepki-parallel-marker-weak-${process.pid}-${Date.now()}`;
    r = kubepki(['generate', '--spec', spec, '--out', out, '--jobs', '2'], {
      env: { ...fakeEnv('weak', { match: 'genrsa -out ca.key *', sleep: 5, sleepMatch: 'req *' }), PARALLEL_TEST_MARKER: marker },
    });
  });

  test('exits 1 naming the key\'s check, not the request it had started', () => {
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/kubepki: error: step ca:key wrote a file that fails its check: ca\.key is RSA 1024/);
    expect(r.stderr).not.toContain('ca:crt');
  });

  test('the run stops cleanly: no process left, nothing of either step in OUT, no staging folder', () => {
    expect(processesWith(marker)).toEqual([]);
    for (const f of ['ca.key', 'ca.crt', 'ca.srl']) expect([f, existsSync(path.join(out, f))]).toEqual([f, false]);
    expect(existsSync(path.join(out, '.kubepki', 'tmp'))).toBe(false);
  });
});

test('SIGTERM during a parallel run ends every openssl process and leaves no staging folder', async () => {
  const out = path.join(work, 'term');
  const marker = `kubepki-parallel-marker-term-${process.pid}-${Date.now()}`;
  const run = kubepkiAsync(['generate', '--spec', spec, '--out', out, '--jobs', '4', '--json'], {
    env: { ...fakeEnv('pass', { sleep: 5, sleepMatch: 'genrsa *' }), PARALLEL_TEST_MARKER: marker },
  });
  // wait until slowed genrsa processes are in flight, then stop the run
  const deadline = Date.now() + 30_000;
  while (processesWith(marker).filter((p) => / genrsa /.test(p)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(processesWith(marker).filter((p) => / genrsa /.test(p)).length).toBeGreaterThanOrEqual(2);
  run.child.kill('SIGTERM');
  const r = await run.done;
  expect(r.code).toBe(143);
  expect(r.stderr).toContain('stopped by SIGTERM');
  expect(processesWith(marker)).toEqual([]);
  expect(existsSync(path.join(out, '.kubepki', 'tmp'))).toBe(false);
  expect(r.stdout).not.toMatch(CONTROL);
});
