// generate again on an existing folder: idempotent (no openssl, no byte, no timestamp changed),
// incremental (what is missing is made, what no longer matches the spec is re-issued, and only
// that), and never a CA replaced.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { kubepki } from '../helpers/cli.js';
import { cleanupTmp, copyDir } from '../helpers/tmp.js';
import { SPEC, basePki, changed, expectExit, mtimes, mustOpenssl, noOpenssl, snapshot, verifyJson, writeSpec } from '../helpers/pki.js';
import { sha } from '../helpers/tools.js';

let base: string;
let spec: string;
let work: string;
let baseSnap: Record<string, string>;

beforeAll(() => {
  ({ work, spec, out: base, snap: baseSnap } = basePki(SPEC, 'rerun'));
});
afterAll(() => cleanupTmp());

/** generate --json on `out`: the summary event. */
function generateJson(out: string, specFile: string, env?: NodeJS.ProcessEnv) {
  const r = kubepki(['generate', '--spec', specFile, '--out', out, '--json'], { env });
  expectExit(r, 0);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const summary = lines.find((l) => l.event === 'summary');
  return { r, summary, steps: lines.filter((l) => l.event === 'step') };
}

describe('re-running generate', () => {
  test('on a complete, matching PKI: runs no openssl command, says so, changes nothing', () => {
    const out = copyDir(base);
    const before = mtimes(out);
    const r = kubepki(['generate', '--spec', spec, '--out', out], { env: noOpenssl() });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/nothing to do: .* no openssl command was run, no file changed/);
    expect(snapshot(out)).toEqual(baseSnap);
    expect(mtimes(out)).toEqual(before);
    const { summary } = generateJson(out, spec, noOpenssl());
    expect(summary.opensslCommands).toBe(0);
    expect(summary.created).toEqual([]);
    expect(summary.reissued).toEqual([]);
    expect(summary.unchanged).toEqual(expect.arrayContaining(['ca', 'apiserver', 'admin', 'kubelet-k8s-node-1', 'sa']));
    expect(mtimes(out)).toEqual(before);
  });

  test('a spec change that adds a SAN re-issues server.crt only; every other file keeps its sha256', () => {
    const out = copyDir(base);
    const spec2 = writeSpec(work, SPEC.replace('ip: 127.0.0.1', 'ip: 127.0.0.1\n  extraSANs: [api.example.com, 10.0.0.10]'), 'san.yaml');
    const r = kubepki(['generate', '--spec', spec2, '--out', out]);
    expectExit(r, 0);
    // the summary lists what changed and why
    expect(r.stdout).toMatch(/re-issued\s+1: apiserver\n.*apiserver: server\.crt has SANs .*missing api\.example\.com, 10\.0\.0\.10/);
    expect(r.stdout).toMatch(/created\s+0\n/);
    expect(changed(baseSnap, snapshot(out))).toEqual(['ca.srl', 'manifest.json', 'master_ssl.cnf', 'server.crt', 'server.csr']);
    expect(readFileSync(path.join(out, 'master_ssl.cnf'), 'utf8')).toMatch(/DNS\.6 = api\.example\.com[\s\S]*IP\.3 = 10\.0\.0\.10/);
    expectExit(kubepki(['verify', '--spec', spec2, '--out', out]), 0);
    // and again: nothing left to do
    expect(kubepki(['generate', '--spec', spec2, '--out', out], { env: noOpenssl() }).stdout).toMatch(/nothing to do/);
  });

  test('a new node adds only its files; nothing else is touched', () => {
    const out = copyDir(base);
    const spec2 = writeSpec(work, SPEC + '  - { name: k8s-node-2, ip: 127.0.0.3 }\n', 'node2.yaml');
    const { summary } = generateJson(out, spec2);
    expect(summary.created).toEqual(['kubelet-k8s-node-2']);
    expect(summary.reissued).toEqual([]);
    expect(summary.opensslCommands).toBe(3); // genrsa, req -new, x509 -req
    expect(changed(baseSnap, snapshot(out))).toEqual([
      'ca.srl',
      'clients/kubelet-k8s-node-2.crt',
      'clients/kubelet-k8s-node-2.csr',
      'clients/kubelet-k8s-node-2.key',
      'flags/kubelet-k8s-node-2.env',
      'kubeconfig/kubelet-k8s-node-2.kubeconfig',
      'manifest.json',
    ]);
    expectExit(kubepki(['verify', '--spec', spec2, '--out', out]), 0);
  });

  test('a changed identity (an extra client\'s O) re-issues that client only, keeping its key', () => {
    const out = copyDir(base);
    const specA = writeSpec(work, SPEC + 'clients:\n  - { name: ci-bot, cn: ci-bot, organizations: [ci] }\n', 'bot-a.yaml');
    expectExit(kubepki(['generate', '--spec', specA, '--out', out]), 0);
    const a = snapshot(out);
    const specB = writeSpec(work, SPEC + 'clients:\n  - { name: ci-bot, cn: ci-bot, organizations: [ci, deployers] }\n', 'bot-b.yaml');
    const { summary } = generateJson(out, specB);
    expect(summary.reissued).toEqual([{ name: 'ci-bot', reasons: [expect.stringMatching(/clients\/ci-bot\.crt has subject \/CN=ci-bot\/O=ci; expected \/CN=ci-bot\/O=ci\/O=deployers/)] }]);
    expect(changed(a, snapshot(out))).toEqual(['ca.srl', 'clients/ci-bot.crt', 'clients/ci-bot.csr', 'kubeconfig/ci-bot.kubeconfig', 'manifest.json']);
    expectExit(kubepki(['verify', '--spec', specB, '--out', out]), 0);
  });

  test('what is missing is made: a lost certificate keeps its key, a lost key makes a new pair', () => {
    const out = copyDir(base);
    rmSync(path.join(out, 'clients/admin.crt'));
    rmSync(path.join(out, 'clients/kube-proxy.key'));
    rmSync(path.join(out, 'flags/kube-scheduler.env'));
    rmSync(path.join(out, 'sa.pub'));
    const { summary } = generateJson(out, spec);
    expect(summary.created).toEqual(['admin']);
    expect(summary.reissued.map((x: { name: string }) => x.name).sort()).toEqual(['kube-proxy', 'sa']);
    expect(changed(baseSnap, snapshot(out))).toEqual([
      'ca.srl',
      'clients/admin.crt',
      'clients/kube-proxy.crt',
      'clients/kube-proxy.csr',
      'clients/kube-proxy.key',
      'kubeconfig/admin.kubeconfig',
      'kubeconfig/kube-proxy.kubeconfig',
      'manifest.json',
    ]);
    // sa.pub is derived from the kept sa.key: the same bytes again; the flag file is as before
    expect(existsSync(path.join(out, 'sa.pub'))).toBe(true);
    expectExit(kubepki(['verify', '--spec', spec, '--out', out]), 0);
  });

  test('a CA whose CN differs from the spec is refused with the way out, and nothing changes', () => {
    const out = copyDir(base);
    const spec2 = writeSpec(work, SPEC + 'ca: { commonName: other-ca }\n', 'other-ca.yaml');
    const r = kubepki(['generate', '--spec', spec2, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/kubepki: error: the CA in .* does not fit the spec: ca\.crt has subject \/CN=k8s-master; expected \/CN=other-ca/);
    expect(r.stderr).toMatch(/never replaces a CA.*set ca\.commonName in the spec to its CN.*move ca\.key and ca\.crt away/);
    expect(snapshot(out)).toEqual(baseSnap);
    // a different master host name changes the CA's CN too (it defaults to it): same refusal
    const spec3 = writeSpec(work, SPEC.replace('hostname: k8s-master', 'hostname: master-2'), 'host2.yaml');
    const r3 = kubepki(['generate', '--spec', spec3, '--out', out]);
    expectExit(r3, 1);
    expect(r3.stderr).toMatch(/ca\.commonName/);
    // the way out works: keep the CA by naming its CN; the rest is re-issued for the new host name
    const spec4 = writeSpec(work, SPEC.replace('hostname: k8s-master', 'hostname: master-2') + 'ca: { commonName: k8s-master }\n', 'host2-keep-ca.yaml');
    const { summary } = generateJson(out, spec4);
    expect(summary.reissued.map((x: { name: string }) => x.name)).toEqual(['apiserver']);
    const after = snapshot(out);
    expect(after['ca.key']).toBe(baseSnap['ca.key']);
    expect(after['ca.crt']).toBe(baseSnap['ca.crt']);
    expectExit(kubepki(['verify', '--spec', spec4, '--out', out]), 0);
  });

  test('a new certs.keyBits (2048 -> 3072) with a SAN change in the same edit: every leaf and sa get new keys (the old ones backed up), the CA is kept, verify passes with a note on the CA', () => {
    const out = copyDir(base);
    const spec2 = writeSpec(work, SPEC.replace('ip: 127.0.0.1', 'ip: 127.0.0.1\n  extraSANs: [api.example.com]') + 'certs: { keyBits: 3072 }\n', 'bits.yaml');
    // renew keeps keys: with another size asked, it refuses before it writes anything
    const rr = kubepki(['renew', 'admin', 'apiserver', '--spec', spec2, '--out', out]);
    expectExit(rr, 1);
    expect(rr.stderr).toMatch(/kubepki: error: renew keeps the keys, but 2 do not fit the spec: clients\/admin\.key is RSA 2048; the spec asks for 3072 bits\n  server\.key is RSA 2048;.*\n.*renew with --rekey/);
    expect(snapshot(out, true)).toEqual(snapshot(base, true));
    const { summary } = generateJson(out, spec2);
    const reasons = new Map<string, string[]>(summary.reissued.map((d: { name: string; reasons: string[] }) => [d.name, d.reasons]));
    expect([...reasons.keys()].sort()).toEqual(['admin', 'apiserver', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubelet-k8s-node-1', 'sa']);
    expect(reasons.get('apiserver')).toEqual([expect.stringMatching(/^server\.key is RSA 2048; the spec asks for 3072 bits: new key \(the old one is kept in \.kubepki\/backup\/\) and certificate$/), expect.stringMatching(/server\.crt has SANs .*missing api\.example\.com/)]);
    expect(reasons.get('sa')![0]).toMatch(/^sa\.key is RSA 2048; the spec asks for 3072 bits: new key pair .*service-account tokens signed with the old key are rejected/);
    expect(summary.unchanged).toEqual(['ca']);
    const after = snapshot(out);
    expect(after['ca.key']).toBe(baseSnap['ca.key']);
    expect(after['ca.crt']).toBe(baseSnap['ca.crt']);
    const runs = readdirSync(path.join(out, '.kubepki/backup'));
    expect(runs).toHaveLength(1);
    const bits = (f: string) => Number(/\((\d+) bit/.exec(mustOpenssl(['pkey', '-in', f, '-noout', '-text']))?.[1]);
    for (const k of ['server.key', 'clients/admin.key', 'clients/kubelet-k8s-node-1.key', 'sa.key']) {
      expect([k, bits(path.join(out, k))]).toEqual([k, 3072]);
      // the old key, byte for byte, in the run's backup
      expect([k, sha(path.join(out, '.kubepki/backup', runs[0], k))]).toEqual([k, baseSnap[k]]);
    }
    expect(bits(path.join(out, 'ca.key'))).toBe(2048);
    expect(mustOpenssl(['x509', '-in', path.join(out, 'server.crt'), '-noout', '-ext', 'subjectAltName'])).toContain('DNS:api.example.com');
    // sa.pub is the new key's public half
    expect(mustOpenssl(['rsa', '-in', path.join(out, 'sa.key'), '-pubout'])).toBe(readFileSync(path.join(out, 'sa.pub'), 'utf8'));
    const { r, report } = verifyJson(out, ['--spec', spec2]);
    expectExit(r, 0);
    expect((report as unknown as { notes: unknown[] }).notes).toEqual([
      { file: 'ca.key', code: 'ca-key-size', message: expect.stringMatching(/^is RSA 2048; certs\.keyBits is 3072, which applies to new keys: kubepki never replaces a CA's key.*move ca\.key and ca\.crt away and run kubepki generate/) },
    ]);
    const text = kubepki(['verify', '--spec', spec2, '--out', out]);
    expectExit(text, 0);
    expect(text.stdout).toMatch(/^1 note \(not problems\):\n  - ca\.key is RSA 2048; .*\[ca-key-size\]\n^ok: /m);
    // and again: nothing left to do
    expect(kubepki(['generate', '--spec', spec2, '--out', out], { env: noOpenssl() }).stdout).toMatch(/nothing to do/);
    // a lost ca.crt is made again from the kept 2048-bit ca.key, never a new CA key
    rmSync(path.join(out, 'ca.crt'));
    const again = generateJson(out, spec2).summary;
    expect(again.created).toEqual(['ca']);
    expect(snapshot(out)['ca.key']).toBe(baseSnap['ca.key']);
    expectExit(verifyJson(out, ['--spec', spec2]).r, 0);
  });

  test('no flag replaces a CA: unknown flags are usage errors (exit 2) and change nothing', () => {
    const out = copyDir(base);
    for (const flag of ['--force', '--rekey', '--all', '--overwrite']) {
      const r = kubepki(['generate', '--spec', spec, '--out', out, flag]);
      expectExit(r, 2);
      expect(r.stderr).toMatch(new RegExp(`${flag}`));
    }
    expect(snapshot(out)).toEqual(baseSnap);
  });
});
