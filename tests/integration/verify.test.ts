// kubepki verify on a real PKI made by the real openssl: exit 0 on a good folder, and for each
// kind of problem (inflicted on a copy with openssl by hand) exit 1 and a message that names it.
import { chmodSync, existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki, kubepkiAsync } from '../helpers/cli.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';
import { CLIENT_EXT, SPEC, basePki, expectExit, mtimes, mustOpenssl, newCa, newKey, signLeaf, snapshot, verifyJson, writeSpec, type VerifyJson } from '../helpers/pki.js';

let base: string; // generated once, never modified
let spec: string;
let work: string;

beforeAll(() => {
  ({ work, spec, out: base } = basePki(SPEC, 'verify'));
});
afterAll(() => cleanupTmp());

type Expect = [code: string, file: string, message?: RegExp];

/** verify on a mutated copy: exit 1, and for each expectation a problem with this code on this
 *  file (message matching); the human form (table, then every problem) names each code too. */
async function expectProblems(out: string, want: Expect[], args: string[] = ['--spec', spec], text = false) {
  // the JSON form always; the human form too where asked (at once: two cores)
  const [j, human] = await Promise.all([kubepkiAsync(['verify', '--out', out, '--json', ...args]).done, text ? kubepkiAsync(['verify', '--out', out, ...args]).done : undefined]);
  let report: VerifyJson;
  try {
    report = JSON.parse(j.stdout);
  } catch {
    throw new Error(`verify --json did not print JSON (exit ${j.code}):\n${j.stdout}\n${j.stderr}`);
  }
  for (const [code, file, message] of want) {
    const hit = report.problems.filter((p) => p.code === code && p.file === file && (!message || message.test(p.message)));
    if (j.code !== 1 || report.ok || hit.length === 0) {
      throw new Error(`expected exit 1 and a [${code}] problem on ${file}${message ? ` matching ${message}` : ''}; exit ${j.code}, problems:\n${JSON.stringify(report.problems, null, 2)}`);
    }
  }
  if (!human) return report;
  if (human.code !== 1 || !want.every(([code, file]) => human.stdout.includes(`  - ${file} `) && human.stdout.includes(`[${code}]`))) {
    throw new Error(`expected exit 1 naming ${want.map((w) => w[0]).join(', ')}; exit ${human.code}\nstdout:\n${human.stdout}\nstderr:\n${human.stderr}`);
  }
  expect(human.stdout).toMatch(/^\d+ problems? in /m);
  return report;
}

const ca = (out: string) => ({ caCrt: path.join(out, 'ca.crt'), caKey: path.join(out, 'ca.key') });

describe('verify on a good PKI', () => {
  test('exits 0, prints the table and says ok; --json says ok with no problem', async () => {
    const before = mtimes(base);
    const r = kubepki(['verify', '--spec', spec, '--out', base]);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/CERTIFICATE\s+SUBJECT\s+EXPIRES\s+RESIDUAL TIME\s+SIGNED BY\s+STATUS/);
    for (const name of ['ca', 'apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'admin', 'kubelet-k8s-node-1']) {
      expect(r.stdout).toMatch(new RegExp(`^${name}\\s+/CN=\\S+.*\\s13y \\d+d\\s+\\S+\\s+ok$`, 'm'));
    }
    expect(r.stdout).toMatch(/^ok: .* nothing expires within 30 days\.$/m);
    const { report } = verifyJson(base, ['--spec', spec]);
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.certificates.every((c) => c.status === 'ok')).toBe(true);
    // read-only: not a byte, not a timestamp, no lock left
    expect(mtimes(base)).toEqual(before);
    expect(existsSync(path.join(base, '.kubepki', 'lock'))).toBe(false);
  });

  test('--warn-days N turns expiry within N days into a failure (exit 1), 0 days does not', async () => {
    await expectProblems(base, [['expiring', 'server.crt', /within 6000 days/]], ['--spec', spec, '--warn-days', '6000']);
    expectExit(kubepki(['verify', '--spec', spec, '--out', base, '--warn-days', '0']), 0);
    expectExit(kubepki(['verify', '--spec', spec, '--out', base, '--warn-days', 'soon']), 2);
  });

  test('a folder that does not exist is an error, not an empty success', async () => {
    const r = kubepki(['verify', '--out', path.join(work, 'nowhere')]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/does not exist/);
    expect(existsSync(path.join(work, 'nowhere'))).toBe(false);
  });
});

describe('verify names each kind of problem (exit 1)', () => {
  test('missing file', async () => {
    const out = copyDir(base);
    rmSync(path.join(out, 'clients/kube-proxy.crt'));
    const report = await expectProblems(out, [['missing', 'clients/kube-proxy.crt']], undefined, true);
    expect(report.certificates.find((c) => c.name === 'kube-proxy')?.status).toBe('missing');
  });

  test('unparsable (truncated) certificate and key', async () => {
    const out = copyDir(base);
    const crt = path.join(out, 'server.crt');
    truncateSync(crt, Math.floor(readFileSync(crt).length / 2));
    writeFileSync(path.join(out, 'clients/admin.key'), '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n');
    await expectProblems(out, [['unparsable', 'server.crt'], ['unparsable', 'clients/admin.key']], undefined, true);
  });

  test('a key that does not match its certificate', async () => {
    const out = copyDir(base);
    newKey(path.join(out, 'clients/admin.key'));
    await expectProblems(out, [['key-mismatch', 'clients/admin.crt']]);
  });

  test('a certificate not signed by ca.crt (another CA with the same CN)', async () => {
    const out = copyDir(base);
    const other = newCa(path.join(work, 'other-ca-same-cn'), 'k8s-master');
    signLeaf({ dir: work, key: path.join(out, 'clients/kube-scheduler.key'), subj: '/CN=system:kube-scheduler', caCrt: other.crt, caKey: other.key, out: path.join(out, 'clients/kube-scheduler.crt'), ext: CLIENT_EXT });
    await expectProblems(out, [['not-signed-by-ca', 'clients/kube-scheduler.crt', /another CA with the same CN/]]);
  });

  test('SANs that differ from the spec (a SAN added to the spec)', async () => {
    const out = copyDir(base);
    const spec2 = writeSpec(work, SPEC.replace('ip: 127.0.0.1', 'ip: 127.0.0.1\n  extraSANs: [lb.example.com, 10.1.2.3]'), 'extra-san.yaml');
    await expectProblems(out, [['sans', 'server.crt', /missing lb\.example\.com, 10\.1\.2\.3/]], ['--spec', spec2]);
  });

  test('an identity (CN/O) that differs from the spec, and system:masters on a non-admin', async () => {
    const out = copyDir(base);
    signLeaf({ dir: work, key: path.join(out, 'clients/kube-proxy.key'), subj: '/CN=system:kube-proxy/O=system:masters', ...ca(out), out: path.join(out, 'clients/kube-proxy.crt'), ext: CLIENT_EXT });
    await expectProblems(out, [
      ['identity', 'clients/kube-proxy.crt', /expected \/CN=system:kube-proxy$/],
      ['rbac-masters', 'clients/kube-proxy.crt'],
      // the kubeconfig embeds the old certificate: it no longer agrees with the file
      ['kubeconfig-cert', 'kubeconfig/kube-proxy.kubeconfig', /differs from clients\/kube-proxy\.crt/],
    ]);
  });

  test('RBAC typos: system:system:, a comma in O, stray spaces', async () => {
    const out = copyDir(base);
    signLeaf({ dir: work, key: path.join(out, 'clients/kube-scheduler.key'), subj: '/CN=system:system:kube-scheduler', ...ca(out), out: path.join(out, 'clients/kube-scheduler.crt'), ext: CLIENT_EXT });
    signLeaf({ dir: work, key: path.join(out, 'clients/kubelet-k8s-node-1.key'), subj: '/CN=system:node:k8s-node-1/O=system:nodes,system:masters', ...ca(out), out: path.join(out, 'clients/kubelet-k8s-node-1.crt'), ext: CLIENT_EXT });
    signLeaf({ dir: work, key: path.join(out, 'clients/admin.key'), subj: '/CN=admin/O=system:  masters', ...ca(out), out: path.join(out, 'clients/admin.crt'), ext: CLIENT_EXT });
    await expectProblems(out, [
      ['rbac-identity', 'clients/kube-scheduler.crt', /repeats the system: prefix/],
      ['rbac-identity', 'clients/kubelet-k8s-node-1.crt', /contains a comma/],
      ['rbac-identity', 'clients/admin.crt', /stray spaces/],
    ], undefined, true);
  });

  test('a kubelet whose CN is not system:node:<its node name>', async () => {
    const out = copyDir(base);
    signLeaf({ dir: work, key: path.join(out, 'clients/kubelet-k8s-node-1.key'), subj: '/CN=system:node:k8s-node-2/O=system:nodes', ...ca(out), out: path.join(out, 'clients/kubelet-k8s-node-1.crt'), ext: CLIENT_EXT });
    await expectProblems(out, [['kubelet-identity', 'clients/kubelet-k8s-node-1.crt', /not system:node:k8s-node-1/]]);
  });

  test('wrong EKU (serverAuth on a client certificate)', async () => {
    const out = copyDir(base);
    signLeaf({ dir: work, key: path.join(out, 'clients/kube-scheduler.key'), subj: '/CN=system:kube-scheduler', ...ca(out), out: path.join(out, 'clients/kube-scheduler.crt'), ext: CLIENT_EXT.replace('clientAuth', 'serverAuth') });
    await expectProblems(out, [['eku', 'clients/kube-scheduler.crt', /has extendedKeyUsage serverAuth; expected clientAuth/]]);
  });

  test('an expired certificate', async () => {
    const out = copyDir(base);
    // openssl x509 -req cannot back-date: `openssl ca` with -startdate/-enddate can
    const d = tmpDir('kubepki-ca-db-');
    writeFileSync(path.join(d, 'index.txt'), '');
    writeFileSync(path.join(d, 'serial'), '1000\n');
    writeFileSync(
      path.join(d, 'ca.cnf'),
      `[ca]\ndefault_ca = d\n[d]\ndatabase = ${d}/index.txt\nnew_certs_dir = ${d}\nserial = ${d}/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\ncopy_extensions = none\n[p]\ncommonName = supplied\n[v3]\n${CLIENT_EXT}\n`,
    );
    const csr = path.join(d, 'admin.csr');
    mustOpenssl(['req', '-new', '-key', path.join(out, 'clients/admin.key'), '-subj', '/CN=admin/O=system:masters', '-out', csr]);
    mustOpenssl(['ca', '-batch', '-config', path.join(d, 'ca.cnf'), '-cert', path.join(out, 'ca.crt'), '-keyfile', path.join(out, 'ca.key'), '-in', csr, '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-extensions', 'v3', '-preserveDN', '-notext', '-out', path.join(out, 'clients/admin.crt')]);
    const report = await expectProblems(out, [['expired', 'clients/admin.crt', /expired on 2020-02-01/]]);
    expect(report.certificates.find((c) => c.name === 'admin')?.status).toBe('problem');
    expect(kubepki(['verify', '--spec', spec, '--out', out]).stdout).toMatch(/^admin\s.*\sexpired\s+ca\s+PROBLEM$/m);
  });

  test('a private key readable by group or others', async () => {
    const out = copyDir(base);
    chmodSync(path.join(out, 'server.key'), 0o640);
    chmodSync(path.join(out, 'kubeconfig/admin.kubeconfig'), 0o604);
    await expectProblems(out, [['permissions', 'server.key', /its group .*mode 0640/], ['permissions', 'kubeconfig/admin.kubeconfig', /others/]], undefined, true);
  });

  test('a kubeconfig whose server disagrees, or names a host that is not a SAN of server.crt', async () => {
    const out = copyDir(base);
    const kc = path.join(out, 'kubeconfig/kube-proxy.kubeconfig');
    writeFileSync(kc, readFileSync(kc, 'utf8').replace('https://127.0.0.1:6443', 'https://10.9.9.9:6443'));
    await expectProblems(out, [
      ['kubeconfig-server', 'kubeconfig/kube-proxy.kubeconfig', /points at https:\/\/10\.9\.9\.9:6443; the spec says https:\/\/127\.0\.0\.1:6443/],
      ['kubeconfig-server', 'kubeconfig/kube-proxy.kubeconfig', /10\.9\.9\.9, which is not a SAN of server\.crt/],
    ]);
  });

  test('a kubeconfig that embeds another CA, or a certificate that differs from the files', async () => {
    const out = copyDir(base);
    const other = newCa(path.join(work, 'other-ca-2'), 'evil');
    const kc = path.join(out, 'kubeconfig/admin.kubeconfig');
    const text = readFileSync(kc, 'utf8');
    const b64 = (f: string) => readFileSync(f).toString('base64');
    writeFileSync(kc, text.replace(b64(path.join(out, 'ca.crt')), b64(other.crt)).replace(b64(path.join(out, 'clients/admin.crt')), b64(path.join(out, 'clients/kube-proxy.crt'))));
    await expectProblems(out, [
      ['kubeconfig-ca', 'kubeconfig/admin.kubeconfig', /differs from ca\.crt/],
      ['kubeconfig-cert', 'kubeconfig/admin.kubeconfig', /differs from clients\/admin\.crt/],
      // the embedded certificate is checked like a file: wrong identity, and not the embedded key's
      ['identity', 'kubeconfig/admin.kubeconfig (embedded certificate)'],
      ['key-mismatch', 'kubeconfig/admin.kubeconfig'],
    ], undefined, true);
  });

  test('a flag file whose --service-cluster-ip-range disagrees with the spec and server.crt', async () => {
    const out = copyDir(base);
    const f = path.join(out, 'flags/kube-controller-manager.env');
    writeFileSync(f, readFileSync(f, 'utf8').replace('--service-cluster-ip-range=169.169.0.0/16', '--service-cluster-ip-range=10.96.0.0/12'));
    await expectProblems(out, [
      ['service-ip', 'flags/kube-controller-manager.env', /starts at 10\.96\.0\.1, but the spec's kubernetes Service address is 169\.169\.0\.1/],
      ['flags-drift', 'flags/kube-controller-manager.env'],
    ]);
  });

  test('a spec whose service range changed: server.crt lacks the new first address', async () => {
    const spec2 = writeSpec(work, SPEC + 'cluster: { serviceClusterIpRange: 10.96.0.0/12 }\n', 'range.yaml');
    await expectProblems(base, [
      ['sans', 'server.crt', /missing 10\.96\.0\.1/],
      ['flags-drift', 'flags/kube-apiserver.env'],
    ], ['--spec', spec2]);
  });

  test('service-account files that are not one key pair', async () => {
    const out = copyDir(base);
    const k = path.join(work, 'other-sa.key');
    newKey(k);
    mustOpenssl(['rsa', '-in', k, '-pubout', '-out', path.join(out, 'sa.pub')]);
    await expectProblems(out, [
      ['sa-pair', 'sa.pub', /not the public half of sa\.key/],
      ['sa-pair', 'flags/', /not one key pair/],
    ]);
  });

  test('a tampered ca.crt: every certificate is reported', async () => {
    const out = copyDir(base);
    const other = newCa(path.join(work, 'other-ca-3'), 'k8s-master');
    writeFileSync(path.join(out, 'ca.crt'), readFileSync(other.crt));
    const report = await expectProblems(out, [
      ['key-mismatch', 'ca.crt'],
      ['not-signed-by-ca', 'server.crt'],
      ['not-signed-by-ca', 'clients/admin.crt'],
      ['not-signed-by-ca', 'kubeconfig/admin.kubeconfig (embedded certificate)'],
    ], undefined, true);
    expect(report.certificates.filter((c) => c.status !== 'ok').map((c) => c.name)).toEqual(
      expect.arrayContaining(['ca', 'apiserver', 'admin', 'kube-proxy', 'kubelet-k8s-node-1']),
    );
  });

  test('the base PKI was never modified by these tests', async () => {
    expectExit(kubepki(['verify', '--spec', spec, '--out', base]), 0);
    expect(Object.keys(snapshot(base)).length).toBeGreaterThan(30);
  });
});

describe('a dual-stack cluster (kube-apiserver\'s "IPv4-range,IPv6-range")', () => {
  let ds: string;
  let dsSpec: string;
  beforeAll(() => {
    dsSpec = writeSpec(work, SPEC + 'cluster: { serviceClusterIpRange: "10.96.0.0/12,fd00:10:96::/112" }\n', 'dual.yaml');
    ds = path.join(work, 'pki-dual');
    expectExit(kubepki(['generate', '--spec', dsSpec, '--out', ds]), 0);
  });

  test('generate and verify pass: server.crt has both ClusterIPs (the IPv6 one after the documented IPs), both flag files pass the pair', () => {
    const san = mustOpenssl(['x509', '-in', path.join(ds, 'server.crt'), '-noout', '-ext', 'subjectAltName']);
    expect(san).toMatch(/DNS:k8s-master, IP Address:10\.96\.0\.1, IP Address:127\.0\.0\.1, IP Address:FD00:10:96:0:0:0:0:1\s*$/);
    for (const f of ['flags/kube-apiserver.env', 'flags/kube-controller-manager.env']) {
      expect([f, readFileSync(path.join(ds, f), 'utf8')]).toEqual([f, expect.stringContaining(' --service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/112')]);
    }
    expectExit(kubepki(['verify', '--spec', dsSpec, '--out', ds]), 0);
    // and without --spec: the remembered dual-stack spec
    expectExit(kubepki(['verify', '--out', ds]), 0);
  });

  test('verify reads the pair: a second range that gives another Service address is a service-ip problem', async () => {
    const out = copyDir(ds);
    const f = path.join(out, 'flags/kube-apiserver.env');
    writeFileSync(f, readFileSync(f, 'utf8').replace('10.96.0.0/12,fd00:10:96::/112', '10.96.0.0/12,fd00:20::/112'));
    await expectProblems(out, [['service-ip', 'flags/kube-apiserver.env', /starts at 10\.96\.0\.1 and fd00:20::1, but the spec's kubernetes Service addresses are 10\.96\.0\.1 and fd00:10:96::1/]], ['--spec', dsSpec]);
  });

  test('a server.crt from the single-stack spec lacks the IPv6 ClusterIP: verify names it', async () => {
    const out = copyDir(ds);
    for (const f of ['server.crt', 'server.key', 'ca.crt', 'ca.key']) writeFileSync(path.join(out, f), readFileSync(path.join(base, f)));
    await expectProblems(out, [['sans', 'server.crt', /missing 10\.96\.0\.1, fd00:10:96::1/]], ['--spec', dsSpec]);
  });
});

test('sa.key is checked like every other key: another size than certs.keyBits is a key-size problem', async () => {
  const out = copyDir(base);
  newKey(path.join(out, 'sa.key'), 3072);
  mustOpenssl(['rsa', '-in', path.join(out, 'sa.key'), '-pubout', '-out', path.join(out, 'sa.pub')]);
  await expectProblems(out, [['key-size', 'sa.key', /is RSA 3072; the spec asks for 2048 bits \(kubepki generate makes a new key pair/]]);
});
