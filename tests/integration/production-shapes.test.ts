// Production shapes on real PKIs made by the real openssl: RSA-4096 keys; a folder switched from
// RSA-2048 to ECDSA-P256 (leaves and the service-account pair re-keyed, the CA kept); an HA
// control plane (two masters behind controlPlaneEndpoint) with the admin in its own group and the
// break-glass super-admin. Each PKI is made once; the tests that change one work on a copy.
import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { kubepki } from '../helpers/cli.js';
import { basePki, expectExit, SPEC, signLeaf, snapshot, verifyJson, writeSpec } from '../helpers/pki.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';
import { KUBECTL, requireTool, sha } from '../helpers/tools.js';
import { startWhoamiServer } from '../helpers/whoami-server.js';
import { parseFlagFile } from '../../src/render/flags.js';
import { readCertificate } from '../../src/x509/inspect.js';

afterAll(cleanupTmp);

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(requireTool(KUBECTL), args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBECONFIG: '/dev/null', HOME: tmpDir() } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** the last line of a --json run: its summary */
const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);
const keyOf = (file: string) => createPrivateKey(readFileSync(file));
const certOf = (file: string) => readCertificate(readFileSync(file, 'utf8'));
type Notes = { notes: { file: string; code: string; message: string }[] };

describe('RSA-4096', () => {
  test('every key, the CA\'s and the service account\'s too, is RSA 4096; the leaves keep keyEncipherment; verify passes', () => {
    const { out, spec } = basePki('master: { hostname: k8s-master, ip: 127.0.0.1 }\ncerts: { keyAlgorithm: RSA-4096 }\n', 'rsa4096');
    for (const k of ['ca.key', 'server.key', 'sa.key', 'clients/admin.key', 'clients/kube-proxy.key']) {
      const key = keyOf(path.join(out, k));
      expect([k, key.asymmetricKeyType, key.asymmetricKeyDetails?.modulusLength]).toEqual([k, 'rsa', 4096]);
    }
    expect(certOf(path.join(out, 'clients/admin.crt')).keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
    const { r, report } = verifyJson(out, ['--spec', spec]);
    expect(report.problems).toEqual([]);
    expectExit(r, 0);
  });
});

describe('switching an existing folder from RSA-2048 to ECDSA-P256', () => {
  const LEAF_KEYS = ['server.key', 'clients/kube-controller-manager.key', 'clients/kube-scheduler.key', 'clients/kube-proxy.key', 'clients/admin.key', 'clients/kubelet-k8s-node-1.key'];
  let out: string;
  let ecSpec: string;
  let before: Record<string, string>;
  let run: ReturnType<typeof kubepki>;

  beforeAll(() => {
    const base = basePki(SPEC, 'switch');
    out = copyDir(base.out);
    before = base.snap;
    ecSpec = writeSpec(base.work, `${SPEC}certs: { keyAlgorithm: ECDSA-P256 }\n`, 'ec.yaml');
    run = kubepki(['generate', '--spec', ecSpec, '--out', out, '--json', '--jobs', '2']);
  });

  test('generate re-keys every leaf and the service-account pair, names the change, and keeps the CA byte for byte', () => {
    expectExit(run, 0);
    const s = summaryOf(run.stdout);
    expect(s.specChanges).toEqual([{ path: 'certs.keyAlgorithm', from: 'RSA-2048', to: 'ECDSA-P256' }].map((c) => expect.objectContaining(c)));
    expect(s.reissued.map((x: { name: string }) => x.name).sort()).toEqual(['admin', 'apiserver', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubelet-k8s-node-1', 'sa']);
    expect(s.unchanged).toEqual(['ca']);
    const after = snapshot(out);
    expect([after['ca.key'], after['ca.crt']]).toEqual([before['ca.key'], before['ca.crt']]);
    for (const k of [...LEAF_KEYS, 'sa.key']) {
      const key = keyOf(path.join(out, k));
      expect([k, key.asymmetricKeyType, key.asymmetricKeyDetails]).toEqual([k, 'ec', { namedCurve: 'prime256v1' }]);
    }
    expect(keyOf(path.join(out, 'ca.key')).asymmetricKeyType).toBe('rsa');
  });

  test('every replaced key is kept in .kubepki/backup/, byte for byte', () => {
    const state = snapshot(out, true);
    for (const k of [...LEAF_KEYS, 'sa.key']) {
      const backups = Object.keys(state).filter((f) => f.startsWith('.kubepki/backup/') && f.endsWith(`/${k}`));
      expect([k, backups.length]).toEqual([k, 1]);
      expect([k, sha(path.join(out, backups[0]))]).toEqual([k, before[k]]);
    }
  });

  test('verify passes and notes that the CA keeps its RSA key (ca-key-size), which is not a problem', () => {
    const { r, report } = verifyJson(out, ['--spec', ecSpec]);
    expect(report.problems).toEqual([]);
    expect((report as unknown as Notes).notes).toEqual([expect.objectContaining({ file: 'ca.key', code: 'ca-key-size', message: expect.stringMatching(/^is RSA 2048; the spec asks for ECDSA P-256/) })]);
    expectExit(r, 0);
  });

  test('generate again with the ECDSA spec has nothing to do', () => {
    const again = kubepki(['generate', '--spec', ecSpec, '--out', out]);
    expectExit(again, 0);
    expect(again.stdout).toMatch(/^nothing to do: /m);
  });
});

describe('HA control plane behind an endpoint, admin in its own group, break-glass super-admin', () => {
  const ENDPOINT_HOST = 'api.example.test';
  const HA = `master: { hostname: cp-1, ip: 127.0.0.1 }
masters: [{ hostname: cp-2, ip: 127.0.0.3 }]
controlPlaneEndpoint: "${ENDPOINT_HOST}:8443"
nodes: [{ name: k8s-node-1, ip: 127.0.0.2 }]
admin: { group: "kubeadm:cluster-admins", superAdmin: true }
`;
  const MASTERS = [
    { host: 'cp-1', ip: '127.0.0.1', stem: 'server', flags: 'flags/kube-apiserver.env' },
    { host: 'cp-2', ip: '127.0.0.3', stem: 'apiserver-cp-2', flags: 'flags/kube-apiserver-cp-2.env' },
  ];
  let out: string;
  let spec: string;

  beforeAll(() => {
    ({ out, spec } = basePki(HA, 'ha'));
  });

  test('each master has its own serving certificate with its name, its IP and the endpoint host', () => {
    for (const m of MASTERS) {
      const c = certOf(path.join(out, `${m.stem}.crt`));
      expect([m.host, c.sans]).toEqual([m.host, { dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', m.host, ENDPOINT_HOST], ip: ['169.169.0.1', m.ip], other: [] }]);
    }
  });

  test('each master\'s flag file names its own certificate and key and advertises its own address', () => {
    for (const m of MASTERS) {
      const f = parseFlagFile(readFileSync(path.join(out, m.flags), 'utf8'))!;
      expect([m.flags, f.variable, f.flags.get('--tls-cert-file'), f.flags.get('--tls-private-key-file'), f.flags.get('--advertise-address')]).toEqual([
        m.flags,
        'KUBE_API_ARGS',
        `/var/run/kubernetes/${m.stem}.crt`,
        `/var/run/kubernetes/${m.stem}.key`,
        m.ip,
      ]);
    }
  });

  test('every kubeconfig points at the endpoint', () => {
    for (const kc of ['admin', 'super-admin', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubelet-k8s-node-1']) {
      const doc = parseYaml(readFileSync(path.join(out, `kubeconfig/${kc}.kubeconfig`), 'utf8'));
      expect([kc, doc.clusters[0].cluster.server]).toEqual([kc, `https://${ENDPOINT_HOST}:8443`]);
    }
  });

  test('verify passes', () => {
    const { r, report } = verifyJson(out, ['--spec', spec]);
    expect(report.problems).toEqual([]);
    expect(report.certificates.map((c) => c.name)).toEqual(expect.arrayContaining(['apiserver', 'apiserver-cp-2', 'super-admin']));
    expectExit(r, 0);
  });

  test('kubectl reaches either master by the endpoint name, and refuses a master by the name of the other', async () => {
    for (const m of MASTERS) {
      const server = await startWhoamiServer({ cert: readFileSync(path.join(out, `${m.stem}.crt`)), key: readFileSync(path.join(out, `${m.stem}.key`)), ca: readFileSync(path.join(out, 'ca.crt')) });
      try {
        const kc = path.join(out, 'kubeconfig/admin.kubeconfig');
        const ok = await kubectl(['--kubeconfig', kc, '--server', server.url, '--tls-server-name', ENDPOINT_HOST, 'auth', 'whoami', '-o', 'json']);
        expect([m.host, ok.code, ok.stderr]).toEqual([m.host, 0, '']);
        const other = MASTERS.find((x) => x !== m)!.host;
        const bad = await kubectl(['--kubeconfig', kc, '--server', server.url, '--tls-server-name', other, 'auth', 'whoami', '-o', 'json']);
        expect([m.host, bad.code, bad.stderr]).toEqual([m.host, 1, expect.stringContaining(`certificate is valid for`)]);
      } finally {
        await server.close();
      }
    }
  });

  test('verify reports a master certificate re-signed without the endpoint SAN', () => {
    const copy = copyDir(out);
    const sans = ['DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', 'DNS:cp-2', 'IP:169.169.0.1', 'IP:127.0.0.3'].join(', ');
    signLeaf({
      dir: tmpDir(),
      key: path.join(copy, 'apiserver-cp-2.key'),
      subj: '/CN=cp-2',
      caCrt: path.join(copy, 'ca.crt'),
      caKey: path.join(copy, 'ca.key'),
      out: path.join(copy, 'apiserver-cp-2.crt'),
      ext: `basicConstraints = CA:FALSE\nkeyUsage = nonRepudiation, digitalSignature, keyEncipherment\nsubjectAltName = ${sans}`,
    });
    const { r, report } = verifyJson(copy, ['--spec', spec]);
    expectExit(r, 1);
    expect(report.problems.filter((p) => p.file === 'apiserver-cp-2.crt')).toEqual([expect.objectContaining({ code: 'sans', message: expect.stringMatching(new RegExp(`; missing ${ENDPOINT_HOST.replace(/\./g, '\\.')}$`)) })]);
    // and every kubeconfig, whose server is the endpoint that master now fails to serve
    const kubeconfigs = report.problems.filter((p) => p.code === 'kubeconfig-server');
    expect(kubeconfigs).toHaveLength(6);
    for (const p of kubeconfigs) expect(p.message).toBe(`names server host ${ENDPOINT_HOST}, which is not a SAN of apiserver-cp-2.crt: clients will refuse the connection`);
    expect(report.problems).toHaveLength(7);
    expect(report.certificates.find((c) => c.name === 'apiserver-cp-2')!.status).not.toBe('ok');
    expect(report.certificates.find((c) => c.name === 'apiserver')!.status).toBe('ok');
  });

  test("verify reports a master's flag file that names the other master's certificate and address", () => {
    const copy = copyDir(out);
    const f = path.join(copy, 'flags/kube-apiserver-cp-2.env');
    writeFileSync(f, readFileSync(f, 'utf8').replace(/apiserver-cp-2\.(crt|key)/g, 'server.$1').replace('--advertise-address=127.0.0.3', '--advertise-address=127.0.0.1'));
    const { r, report } = verifyJson(copy, ['--spec', spec]);
    expectExit(r, 1);
    expect(report.problems).toEqual([expect.objectContaining({ file: 'flags/kube-apiserver-cp-2.env', code: 'flags-drift' })]);
  });

  test("admin's O is its group, and rbac/cluster-admins.yaml binds that group to cluster-admin", () => {
    const admin = certOf(path.join(out, 'clients/admin.crt'));
    expect(admin.x509.subject).toBe('CN=admin\nO=kubeadm:cluster-admins');
    const rbac = path.join(out, 'rbac/cluster-admins.yaml');
    expect(statSync(rbac).mode & 0o777).toBe(0o644);
    expect(parseYaml(readFileSync(rbac, 'utf8'))).toEqual({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kubeadm:cluster-admins' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'kubeadm:cluster-admins' }],
    });
  });

  test('the super-admin is CN kubernetes-super-admin in system:masters with a 0600 kubeconfig; kubectl sees both admins as such', async () => {
    expect(certOf(path.join(out, 'clients/super-admin.crt')).x509.subject).toBe('CN=kubernetes-super-admin\nO=system:masters');
    expect(statSync(path.join(out, 'kubeconfig/super-admin.kubeconfig')).mode & 0o777).toBe(0o600);
    const f = (rel: string) => readFileSync(path.join(out, rel));
    const server = await startWhoamiServer({ cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') });
    try {
      for (const [kc, user, groups] of [
        ['admin', 'admin', ['kubeadm:cluster-admins']],
        ['super-admin', 'kubernetes-super-admin', ['system:masters']],
      ] as const) {
        const r = await kubectl(['--kubeconfig', path.join(out, `kubeconfig/${kc}.kubeconfig`), '--server', server.url, 'auth', 'whoami', '-o', 'json']);
        expect([kc, r.code, r.stderr]).toEqual([kc, 0, '']);
        expect(JSON.parse(r.stdout).status.userInfo).toEqual({ username: user, groups: [...groups, 'system:authenticated'] });
      }
    } finally {
      await server.close();
    }
  });
});
