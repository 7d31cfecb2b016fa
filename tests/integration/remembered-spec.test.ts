// The spec that made a PKI is the spec that maintains it: a folder remembers its resolved spec
// (OUT/.kubepki/spec.json), commands on it without --spec use that one and say so, a PKI that
// remembers none is refused instead of being rewritten from the embedded default, and a --spec that
// differs is listed path by path. Real openssl throughout.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki } from '../helpers/cli.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';
import { basePki, expectExit, fakeEnv, mtimes, mustOpenssl, noOpenssl, snapshot, verifyJson, writeSpec } from '../helpers/pki.js';

// other addresses than the embedded default's (192.168.18.3, 169.169.0.0/16) and an extra SAN
const CLUSTER = `cluster:
  serviceClusterIpRange: 10.96.0.0/12
master:
  hostname: cp-1
  ip: 127.0.0.1
  extraSANs: [api.example.com, 127.0.0.9]
nodes:
  - { name: node-a, ip: 127.0.0.2 }
`;

let work: string;
let spec: string;
let base: string;
let baseSnap: Record<string, string>;

beforeAll(() => {
  ({ work, spec, out: base } = basePki(CLUSTER, 'remembered'));
  baseSnap = snapshot(base, true);
});
afterAll(() => cleanupTmp());

const sans = (out: string) => mustOpenssl(['x509', '-in', path.join(out, 'server.crt'), '-noout', '-ext', 'subjectAltName']);
const servers = (out: string) =>
  ['admin', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubelet-node-a'].map((k) => /^ +server: (.*)$/m.exec(readFileSync(path.join(out, `kubeconfig/${k}.kubeconfig`), 'utf8'))?.[1]);

describe('a PKI made from a spec file remembers it', () => {
  test('generate writes the resolved spec to OUT/.kubepki/spec.json: no secret in it, mode 0644', () => {
    const file = path.join(base, '.kubepki/spec.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc.source).toBe(spec);
    expect(doc.spec.master).toEqual({ hostname: 'cp-1', ip: '127.0.0.1', securePort: 6443, extraSANs: ['api.example.com', '127.0.0.9'] });
    // resolved: the defaults are filled in
    expect(doc.spec.ca.commonName).toBe('cp-1');
    expect(doc.spec.certs.keyAlgorithm).toBe('RSA-2048');
    expect(readFileSync(file, 'utf8')).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(statSync(file).mode & 0o777).toBe(0o644);
  });

  test('renew apiserver admin without --spec keeps the SANs and every kubeconfig server, and says which spec it used', () => {
    const out = copyDir(base);
    const r = kubepki(['renew', 'apiserver', 'admin', '--out', out]);
    expectExit(r, 0);
    expect(r.stdout).toContain(`note: using the spec remembered in ${path.join(out, '.kubepki/spec.json')} (made from ${spec})`);
    const s = sans(out);
    for (const want of ['DNS:cp-1', 'DNS:api.example.com', 'IP Address:10.96.0.1', 'IP Address:127.0.0.1', 'IP Address:127.0.0.9']) expect(s).toContain(want);
    expect(s).not.toContain('192.168.18.3');
    expect(servers(out)).toEqual(Array(5).fill('https://127.0.0.1:6443'));
    expect(readFileSync(path.join(out, 'flags/kube-apiserver.env'), 'utf8')).toContain('--service-cluster-ip-range=10.96.0.0/12');
    // the renewal really happened (a new certificate), and the folder still verifies against its spec
    expect(snapshot(out)['server.crt']).not.toBe(baseSnap['server.crt']);
    expectExit(kubepki(['verify', '--spec', spec, '--out', out]), 0);
  });

  test('verify without --spec checks against the remembered spec and names it; --json too', () => {
    const r = kubepki(['verify', '--out', base]);
    expectExit(r, 0);
    expect(r.stdout).toContain(`note: using the spec remembered in ${path.join(base, '.kubepki/spec.json')}`);
    expect(r.stdout).toMatch(new RegExp(`^ok: .* matches the spec remembered in ${path.join(base, '.kubepki/spec.json').replace(/[.]/g, '\\.')};`, 'm'));
    const { r: j, report } = verifyJson(base);
    expectExit(j, 0);
    expect((report as unknown as { spec: string }).spec).toBe(`the spec remembered in ${path.join(base, '.kubepki/spec.json')}`);
  });

  test('generate without --spec on it: nothing to do, no openssl, no file (manifest.json included) rewritten', () => {
    const out = copyDir(base);
    const before = mtimes(out);
    const r = kubepki(['generate', '--out', out], { env: noOpenssl() });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/nothing to do: the PKI in .* matches the spec remembered in .*\.kubepki\/spec\.json/);
    expect(mtimes(out)).toEqual(before);
    expect(snapshot(out, true)).toEqual(baseSnap);
  });

  test('a spec.json remembered by an earlier kubepki (certs.keyBits, none of the newer fields) still reads: nothing to do, nothing rewritten', () => {
    const out = copyDir(base);
    const file = path.join(out, '.kubepki/spec.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const { keyAlgorithm: _k, ...certs } = doc.spec.certs;
    const { masters: _m, controlPlaneEndpoint: _c, serviceAccount: _s, admin: _a, ...rest } = doc.spec;
    const { external: _e, ...ca } = rest.ca;
    writeFileSync(file, JSON.stringify({ ...doc, spec: { ...rest, ca, certs: { ...certs, keyBits: 2048 } } }, null, 2) + '\n');
    const before = mtimes(out);
    const r = kubepki(['generate', '--out', out], { env: noOpenssl() });
    expectExit(r, 0);
    expect(r.stdout).toMatch(/nothing to do/);
    const after = mtimes(out);
    delete before['.kubepki/spec.json'];
    delete after['.kubepki/spec.json'];
    expect(after).toEqual(before);
  });

  test('a --spec that differs is drift: generate applies it and lists what changed (text and --json); the new spec is remembered', () => {
    const out = copyDir(base);
    const spec2 = writeSpec(work, CLUSTER.replace('extraSANs: [api.example.com, 127.0.0.9]', 'extraSANs: [api.example.com, lb.example.com]'), 'drift.yaml');
    const r = kubepki(['generate', '--spec', spec2, '--out', out, '--json']);
    expectExit(r, 0);
    const summary = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.event === 'summary');
    expect(summary.specChanges).toEqual([{ path: 'master.extraSANs[1]', from: '127.0.0.9', to: 'lb.example.com' }]);
    expect(summary.reissued.map((d: { name: string }) => d.name)).toEqual(['apiserver']);
    // remembered: verify and generate without --spec now follow drift.yaml
    expect(JSON.parse(readFileSync(path.join(out, '.kubepki/spec.json'), 'utf8')).source).toBe(spec2);
    expectExit(kubepki(['verify', '--out', out]), 0);
    // the human summary: old -> new per path
    const back = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(back, 0);
    expect(back.stdout).toContain(`spec changes against the remembered spec (${path.join(out, '.kubepki/spec.json')}):\n  master.extraSANs[1]: "lb.example.com" -> "127.0.0.9"\n`);
    expect(sans(out)).toContain('IP Address:127.0.0.9');
  });

  test('verify --spec with another spec shows what differs from the remembered one', () => {
    const other = writeSpec(work, CLUSTER.replace('ip: 127.0.0.1\n', 'ip: 127.0.0.5\n'), 'other-ip.yaml');
    const r = kubepki(['verify', '--spec', other, '--out', base]);
    expectExit(r, 1);
    expect(r.stdout).toContain('  master.ip: "127.0.0.1" -> "127.0.0.5"\n');
    const { report } = verifyJson(base, ['--spec', other]);
    expect((report as unknown as { specChanges: unknown }).specChanges).toEqual([{ path: 'master.ip', from: '127.0.0.1', to: '127.0.0.5' }]);
  });
});

test('a first run that fails part-way has remembered its spec: generate without --spec completes the PKI with it', () => {
  const out = path.join(tmpDir('kubepki-partial-'), 'pki');
  // the CA is made, then the apiserver's request fails
  const r = kubepki(['generate', '--spec', spec, '--out', out, '--jobs', '1'], { env: fakeEnv('fail', { match: 'req -new -key server.key *' }) });
  expectExit(r, 1);
  expect(r.stderr).toContain('step apiserver:csr failed');
  expect(existsSync(path.join(out, 'ca.key'))).toBe(true);
  const g = kubepki(['generate', '--out', out]);
  expectExit(g, 0);
  expect(g.stdout).toContain('note: using the spec remembered in');
  expect(sans(out)).toContain('DNS:api.example.com');
  expect(servers(out)).toEqual(Array(5).fill('https://127.0.0.1:6443'));
  expectExit(kubepki(['verify', '--spec', spec, '--out', out]), 0);
});

describe('a PKI that remembers no spec', () => {
  test('generate, renew and verify without --spec are refused (exit 2) with the way out; nothing changes on disk', () => {
    const out = copyDir(base);
    rmSync(path.join(out, '.kubepki/spec.json'));
    const before = snapshot(out, true);
    const times = mtimes(out);
    for (const cmd of [['generate'], ['renew', 'apiserver', 'admin'], ['verify']]) {
      const r = kubepki([...cmd, '--out', out]);
      expectExit(r, 2);
      expect(r.stderr).toContain(`kubepki: error: ${out} holds a PKI`);
      expect(r.stderr).toContain('kubepki will not assume the embedded default spec for it');
      // manifest.json names the spec file that made it: the hint names it too
      expect(r.stderr).toContain(`its manifest.json says it was made from ${spec}`);
      expect(r.stderr).toContain(`pass that spec again: --spec ${spec}`);
    }
    expect(snapshot(out, true)).toEqual(before);
    expect(mtimes(out)).toEqual(times);
    // without manifest.json either: the generic way out
    rmSync(path.join(out, 'manifest.json'));
    const r = kubepki(['renew', '--all', '--out', out]);
    expectExit(r, 2);
    expect(r.stderr).toMatch(/pass the spec that made it with --spec FILE/);
    // the way out works, and from then on the folder remembers
    expectExit(kubepki(['generate', '--spec', spec, '--out', out]), 0);
    expect(existsSync(path.join(out, '.kubepki/spec.json'))).toBe(true);
    expectExit(kubepki(['renew', 'admin', '--out', out]), 0);
    expect(servers(out)).toEqual(Array(5).fill('https://127.0.0.1:6443'));
  });

  test('a remembered spec that does not validate (edited by hand) is a spec error naming the file (exit 2); --spec still works', () => {
    const out = copyDir(base);
    const file = path.join(out, '.kubepki/spec.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    doc.spec.master.ip = 'not-an-ip';
    writeFileSync(file, JSON.stringify(doc));
    const before = snapshot(out);
    const r = kubepki(['renew', 'admin', '--out', out]);
    expectExit(r, 2);
    expect(r.stderr).toContain(`kubepki: error: ${file} (remembered spec): 1 problem in the spec`);
    expect(r.stderr).toContain('master.ip: "not-an-ip" is not an IP address');
    expect(snapshot(out)).toEqual(before);
    writeFileSync(file, '{ not json');
    expectExit(kubepki(['verify', '--out', out]), 2);
    // --spec says what the PKI must be: the unreadable copy is replaced
    const g = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(g, 0);
    expect(g.stdout).toMatch(/note: .*spec\.json: the remembered spec is not valid JSON.*not compared with --spec/);
    expect(JSON.parse(readFileSync(file, 'utf8')).spec.master.ip).toBe('127.0.0.1');
  });

  test('the embedded default is used for a new, empty folder; a PKI that an older kubepki made from it (its manifest.json says so) keeps using it, and says so', () => {
    const out = path.join(tmpDir('kubepki-default-'), 'pki');
    const g = kubepki(['generate', '--out', out]);
    expectExit(g, 0);
    expect(g.stdout).not.toContain('note: using');
    expect(sans(out)).toContain('IP Address:192.168.18.3');
    expect(JSON.parse(readFileSync(path.join(out, '.kubepki/spec.json'), 'utf8')).source).toBe('embedded default spec');
    // as an older kubepki left it: manifest.json names the spec, nothing is remembered
    rmSync(path.join(out, '.kubepki/spec.json'));
    expect(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).spec).toBe('embedded default spec');
    const r = kubepki(['renew', 'admin', '--out', out]);
    expectExit(r, 0);
    expect(r.stdout).toContain(`note: using the embedded default spec: ${path.join(out, 'manifest.json')} says it made this PKI`);
    expect(JSON.parse(readFileSync(path.join(out, '.kubepki/spec.json'), 'utf8')).source).toBe('embedded default spec');
    expectExit(kubepki(['verify', '--out', out]), 0);
  });
});
