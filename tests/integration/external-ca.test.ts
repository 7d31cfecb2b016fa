// An external two-level CA (ca.external), made with the real openssl in the test: a root and an
// intermediate that issues; OUT/ca.crt is the bundle intermediate + root, and the CA keys never
// enter OUT. The first generate makes every key and request and lists the signings; the
// intermediate signs each by the listed command; the second generate checks them and writes the
// kubeconfigs and flag files; verify needs no CA key. A certificate signed by another CA, or with
// the wrong SANs, is listed again and never written into a kubeconfig; renew lists new requests.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki, type CliResult } from '../helpers/cli.js';
import { expectExit, mustOpenssl, newCa, SPEC, signLeaf, snapshot, verifyJson, writeSpec } from '../helpers/pki.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';
import { KUBECTL, requireTool } from '../helpers/tools.js';
import { startWhoamiServer } from '../helpers/whoami-server.js';
import { parseFlagFile } from '../../src/render/flags.js';

afterAll(cleanupTmp);

interface ToSign {
  name: string;
  csr: string;
  crt: string;
  command: string;
}

const LEAVES = ['apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'admin', 'kubelet-k8s-node-1'];
const summaryOf = (r: CliResult) => JSON.parse(r.stdout.trim().split('\n').at(-1)!);

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(requireTool(KUBECTL), args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBECONFIG: '/dev/null', HOME: tmpDir() } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A root CA and an intermediate it signs (pathlen 0), each with critical CA:TRUE and key ids. */
function twoLevelCa(dir: string) {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  writeFileSync(
    f('ca.cnf'),
    '[req]\ndistinguished_name = dn\n[dn]\n[root]\nbasicConstraints = critical, CA:true\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n[int]\nbasicConstraints = critical, CA:true, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n',
  );
  mustOpenssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('root.key'), '-subj', '/CN=example-root-ca', '-days', '3650', '-config', f('ca.cnf'), '-extensions', 'root', '-out', f('root.crt')]);
  mustOpenssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('int.key'), '-subj', '/CN=example-kubernetes-ca', '-out', f('int.csr')]);
  mustOpenssl(['x509', '-req', '-in', f('int.csr'), '-CA', f('root.crt'), '-CAkey', f('root.key'), '-CAcreateserial', '-days', '3000', '-extensions', 'int', '-extfile', f('ca.cnf'), '-out', f('int.crt')]);
  return { rootCrt: f('root.crt'), intCrt: f('int.crt'), intKey: f('int.key') };
}

/** The external CA at work: the listed command, with its own ca.crt and ca.key, run where the requests are. */
function signAsListed(out: string, t: ToSign, ca: { crt: string; key: string }) {
  expect(t.command).not.toMatch(/['"\\]/);
  const argv = t.command.split(' ');
  expect(argv.slice(0, 3)).toEqual(['openssl', 'x509', '-req']);
  argv[argv.indexOf('-CA') + 1] = ca.crt;
  argv[argv.indexOf('-CAkey') + 1] = ca.key;
  mustOpenssl(argv.slice(1), out);
}

describe('an external two-level CA', () => {
  let work: string;
  let spec: string;
  let ca: ReturnType<typeof twoLevelCa>;
  let out: string;
  let first: CliResult;
  let firstJson: CliResult;
  let afterFirst: string[];
  let second: CliResult;

  beforeAll(() => {
    work = tmpDir('kubepki-external-');
    ca = twoLevelCa(path.join(work, 'ca-side'));
    spec = writeSpec(work, `${SPEC}ca: { external: true, days: 3000 }\ncerts: { days: 365 }\n`);
    out = path.join(work, 'pki');
    mkdirSync(out);
    writeFileSync(path.join(out, 'ca.crt'), readFileSync(ca.intCrt, 'utf8') + readFileSync(ca.rootCrt, 'utf8'));
    first = kubepki(['generate', '--spec', spec, '--out', out, '--jobs', '2']);
    afterFirst = Object.keys(snapshot(out)).sort();
    // the same again, for its JSON summary: nothing is signed yet, so the same list
    firstJson = kubepki(['generate', '--spec', spec, '--out', out, '--json']);
    for (const t of summaryOf(firstJson).toSign as ToSign[]) signAsListed(out, t, { crt: ca.intCrt, key: ca.intKey });
    second = kubepki(['generate', '--spec', spec, '--out', out, '--json']);
  });

  test('the first generate exits 0, makes every key and request, and lists each signing with its command', () => {
    expectExit(first, 0);
    expect(first.stdout).toMatch(/^6 certificate requests for the external CA \(ca\.external\)/m);
    expect(first.stdout).toContain('  admin: openssl x509 -req -in clients/admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extensions v3_client -extfile client_ssl.cnf -out clients/admin.crt\n');
    expect(first.stdout).toContain('  apiserver: openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extensions v3_req -extfile master_ssl.cnf -out server.crt\n');
    for (const f of ['server.key', 'server.csr', 'clients/admin.key', 'clients/admin.csr', 'sa.key', 'sa.pub']) expect([f, afterFirst.includes(f)]).toEqual([f, true]);
  });

  test('the first generate writes no certificate, kubeconfig, flag file or CA key', () => {
    expect(afterFirst.filter((f) => f.endsWith('.crt'))).toEqual(['ca.crt']);
    expect(afterFirst.filter((f) => f.startsWith('kubeconfig/') || f.startsWith('flags/') || f === 'ca.key' || f === 'ca.srl')).toEqual([]);
  });

  test('--json lists the signings as toSign: name, request, certificate, command', () => {
    expectExit(firstJson, 0);
    const list = summaryOf(firstJson).toSign as ToSign[];
    expect(list.map((t) => t.name)).toEqual(LEAVES);
    expect(list.find((t) => t.name === 'kubelet-k8s-node-1')).toEqual({
      name: 'kubelet-k8s-node-1',
      csr: 'clients/kubelet-k8s-node-1.csr',
      crt: 'clients/kubelet-k8s-node-1.crt',
      command: 'openssl x509 -req -in clients/kubelet-k8s-node-1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extensions v3_client -extfile client_ssl.cnf -out clients/kubelet-k8s-node-1.crt',
    });
  });

  test('once the intermediate has signed, generate checks each certificate and writes the kubeconfigs and flag files, signing nothing itself', () => {
    expectExit(second, 0);
    const s = summaryOf(second);
    expect([s.toSign, s.created, s.reissued, s.opensslCommands]).toEqual([[], [], [], 0]);
    for (const id of LEAVES.filter((x) => x !== 'apiserver')) expect([id, existsSync(path.join(out, `kubeconfig/${id}.kubeconfig`))]).toEqual([id, true]);
    for (const f of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubelet-k8s-node-1']) expect([f, existsSync(path.join(out, `flags/${f}.env`))]).toEqual([f, true]);
    expect(existsSync(path.join(out, 'ca.key'))).toBe(false);
  });

  test('kube-controller-manager is given no --cluster-signing-* flags: the CA key is not there', () => {
    const cm = parseFlagFile(readFileSync(path.join(out, 'flags/kube-controller-manager.env'), 'utf8'))!;
    expect([...cm.flags.keys()].filter((k) => k.startsWith('--cluster-signing'))).toEqual([]);
    expect(cm.flags.get('--root-ca-file')).toBe('/var/run/kubernetes/ca.crt');
  });

  test('verify passes without ca.key', () => {
    const { r, report } = verifyJson(out, ['--spec', spec]);
    expect(report.problems).toEqual([]);
    expectExit(r, 0);
  });

  test('kubectl authenticates through the bundle: leaves of the intermediate, trusted as ca.crt', async () => {
    const f = (rel: string) => readFileSync(path.join(out, rel));
    const server = await startWhoamiServer({ cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') });
    try {
      const r = await kubectl(['--kubeconfig', path.join(out, 'kubeconfig/admin.kubeconfig'), '--server', server.url, 'auth', 'whoami', '-o', 'json']);
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(JSON.parse(r.stdout).status.userInfo).toEqual({ username: 'admin', groups: ['system:masters', 'system:authenticated'] });
      expect(server.rejected).toEqual([]);
    } finally {
      await server.close();
    }
  });

  test('a certificate of another CA and one with the wrong SANs are listed again, never accepted, and kept out of the kubeconfigs', () => {
    const copy = copyDir(out);
    const kubeconfigBefore = readFileSync(path.join(copy, 'kubeconfig/admin.kubeconfig'), 'utf8');
    // another CA, with the intermediate's very name
    const other = newCa(tmpDir(), 'example-kubernetes-ca');
    signLeaf({ dir: tmpDir(), key: path.join(copy, 'clients/admin.key'), subj: '/CN=admin/O=system:masters', caCrt: other.crt, caKey: other.key, out: path.join(copy, 'clients/admin.crt'), ext: 'basicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = clientAuth' });
    // the right CA, the wrong SANs
    signLeaf({ dir: tmpDir(), key: path.join(copy, 'server.key'), subj: '/CN=k8s-master', caCrt: ca.intCrt, caKey: ca.intKey, out: path.join(copy, 'server.crt'), ext: 'basicConstraints = CA:FALSE\nkeyUsage = nonRepudiation, digitalSignature, keyEncipherment\nsubjectAltName = DNS:wrong.example.com' });
    for (let round = 1; round <= 2; round++) {
      const r = kubepki(['generate', '--spec', spec, '--out', copy, '--json']);
      expectExit(r, 0);
      const s = summaryOf(r);
      expect([round, (s.toSign as ToSign[]).map((t) => t.name)]).toEqual([round, ['apiserver', 'admin']]);
      const reasons = Object.fromEntries((s.reissued as { name: string; reasons: string[] }[]).map((x) => [x.name, x.reasons[0]]));
      expect(reasons).toEqual({
        apiserver: expect.stringMatching(/^server\.crt has SANs wrong\.example\.com; expected .*; unexpected wrong\.example\.com$/),
        admin: 'clients/admin.crt is not signed by ca.crt (same issuer name, different key: another CA with the same CN)',
      });
      expect(readFileSync(path.join(copy, 'kubeconfig/admin.kubeconfig'), 'utf8')).toBe(kubeconfigBefore);
    }
    const { r, report } = verifyJson(copy, ['--spec', spec]);
    expectExit(r, 1);
    expect(report.problems).toEqual(expect.arrayContaining([expect.objectContaining({ file: 'clients/admin.crt', code: 'not-signed-by-ca' }), expect.objectContaining({ file: 'server.crt', code: 'sans' })]));
  });

  test('renew makes new requests and lists them for the CA; --rekey is refused', () => {
    const copy = copyDir(out);
    const r = kubepki(['renew', 'admin', 'kube-proxy', '--days', '30', '--out', copy, '--json']);
    expectExit(r, 0);
    const s = summaryOf(r);
    expect((s.toSign as ToSign[]).map((t) => [t.name, t.command.split(' ').slice(-3).join(' ')])).toEqual([
      ['admin', 'client_ssl.cnf -out clients/admin.crt'],
      ['kube-proxy', 'client_ssl.cnf -out clients/kube-proxy.crt'],
    ]);
    expect((s.toSign as ToSign[])[0].command).toContain(' -days 30 ');
    expect(s.reissued).toEqual([
      { name: 'admin', reasons: ['clients/admin.csr made again, to be signed by the external CA'] },
      { name: 'kube-proxy', reasons: ['clients/kube-proxy.csr made again, to be signed by the external CA'] },
    ]);
    // the certificates in use stay until the CA has signed the new requests
    expect(readFileSync(path.join(copy, 'clients/admin.crt'))).toEqual(readFileSync(path.join(out, 'clients/admin.crt')));
    const rekey = kubepki(['renew', 'admin', '--rekey', '--out', copy]);
    expectExit(rekey, 1);
    expect(rekey.stderr).toMatch(/renew --rekey cannot renew a certificate of the external CA/);
  });

  test('a bundle whose intermediate is not signed by the root beside it is refused before anything is written', () => {
    const copy = copyDir(out);
    const impostor = newCa(tmpDir(), 'example-root-ca');
    writeFileSync(path.join(copy, 'ca.crt'), readFileSync(ca.intCrt, 'utf8') + readFileSync(impostor.crt, 'utf8'));
    const before = snapshot(copy);
    const r = kubepki(['generate', '--spec', spec, '--out', copy]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/the CA in .* does not fit the spec: ca\.crt is not signed by its issuer \/CN=example-root-ca in the same bundle \(certificate 1 of 2, \/CN=example-kubernetes-ca\)/);
    expect(snapshot(copy)).toEqual(before);
  });

  test('the CA keys never entered the PKI folder', () => {
    const names = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? names(path.join(d, e.name)) : [e.name]));
    const intKey = readFileSync(ca.intKey, 'utf8');
    for (const f of Object.keys(snapshot(out, true))) expect([f, readFileSync(path.join(out, f), 'utf8').includes(intKey.split('\n')[1])]).toEqual([f, false]);
    expect(names(out)).not.toContain('ca.key');
  });
});
