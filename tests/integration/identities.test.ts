// Every client of kube-apiserver, proven with the real kubectl against a loopback TLS
// server that authenticates client certificates the way kube-apiserver does.
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { kubepki } from '../helpers/cli.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';
import { KUBECTL, requireTool } from '../helpers/tools.js';
import { startWhoamiServer } from '../helpers/whoami-server.js';

const SPEC = `cluster: { kubernetesVersion: "1.34" }
master: { hostname: k8s-master, ip: 192.168.18.3 }
nodes:
  - { name: k8s-node-1, ip: 192.168.18.4 }
  - { name: k8s-node-2, ip: 192.168.18.5 }
clients:
  - { name: ci-bot, cn: "ci:bot", organizations: [ci, "deployers+ops"] }
  - { name: jane, cn: "Jane Doe", organizations: [dev] }
`;

const IDENTITIES: [string, string, string[]][] = [
  ['kube-controller-manager', 'system:kube-controller-manager', []],
  ['kube-scheduler', 'system:kube-scheduler', []],
  ['kube-proxy', 'system:kube-proxy', []],
  ['admin', 'admin', ['system:masters']],
  ['kubelet-k8s-node-1', 'system:node:k8s-node-1', ['system:nodes']],
  ['kubelet-k8s-node-2', 'system:node:k8s-node-2', ['system:nodes']],
  ['ci-bot', 'ci:bot', ['ci', 'deployers+ops']],
  // a user name with a space: the one kubeconfig written with the YAML library (the others are
  // plain scalars, written without it)
  ['jane', 'Jane Doe', ['dev']],
];

function gen(spec: string): string {
  const dir = tmpDir();
  const out = path.join(dir, 'pki');
  writeFileSync(path.join(dir, 'cluster.yaml'), spec.replaceAll('@OUT@', out));
  const r = kubepki(['generate', '--spec', 'cluster.yaml', '--out', 'pki', '--json'], { cwd: dir });
  if (r.code !== 0) throw new Error(`generate failed: ${r.stderr}`);
  return out;
}

/** kubectl, asynchronously: the TLS server it talks to runs in this process. */
function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(requireTool(KUBECTL), args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBECONFIG: '/dev/null', HOME: tmpDir() } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

let embedded: string;
let byPath: string;
let otherCa: string;
beforeAll(() => {
  embedded = gen(SPEC);
  byPath = gen(SPEC + 'kubeconfig: { embedCerts: false }\ninstall: { dir: "@OUT@" }\n');
  otherCa = gen('master: { hostname: k8s-master, ip: 192.168.18.3 }\n');
});
afterAll(cleanupTmp);

for (const mode of ['embedded', 'by path'] as const) {
  describe(`kubectl auth whoami with each kubeconfig (${mode})`, () => {
    let server: Awaited<ReturnType<typeof startWhoamiServer>>;
    const out = () => (mode === 'embedded' ? embedded : byPath);
    beforeAll(async () => {
      const f = (n: string) => readFileSync(path.join(out(), n));
      server = await startWhoamiServer({ cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') });
    });
    afterAll(() => server.close());
    test.each(IDENTITIES)('%s is user %s with groups %j', async (name, user, groups) => {
      const r = await kubectl(['--kubeconfig', path.join(out(), `kubeconfig/${name}.kubeconfig`), '--server', server.url, '--tls-server-name', 'kubernetes.default.svc', 'auth', 'whoami', '-o', 'json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const review = JSON.parse(r.stdout);
      expect(review.status.userInfo.username).toBe(user);
      expect(review.status.userInfo.groups).toEqual([...groups, 'system:authenticated']);
      expect(server.seen.at(-1)).toEqual({ user, groups });
    });
  });
}

describe('a client certificate from another CA is refused, even when that CA has the same CN', () => {
  let server: Awaited<ReturnType<typeof startWhoamiServer>>;
  beforeAll(async () => {
    const f = (n: string) => readFileSync(path.join(embedded, n));
    server = await startWhoamiServer({ cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') });
  });
  afterAll(() => server.close());
  test('same CN on both CAs, and the foreign admin cert is refused', async () => {
    const cn = (dir: string) => spawnSync('openssl', ['x509', '-in', 'ca.crt', '-noout', '-subject'], { cwd: dir, encoding: 'utf8' }).stdout;
    expect(cn(otherCa)).toBe(cn(embedded));
    // our kubeconfig (trusts our CA, so the server is accepted) with the other CA's admin cert and key
    const doc = parseYaml(readFileSync(path.join(embedded, 'kubeconfig/admin.kubeconfig'), 'utf8'));
    const foreign = parseYaml(readFileSync(path.join(otherCa, 'kubeconfig/admin.kubeconfig'), 'utf8'));
    doc.users[0].user = foreign.users[0].user;
    const file = path.join(tmpDir(), 'foreign.kubeconfig');
    writeFileSync(file, stringify(doc), { mode: 0o600 });
    const before = server.seen.length;
    const r = await kubectl(['--kubeconfig', file, '--server', server.url, '--tls-server-name', 'kubernetes.default.svc', 'auth', 'whoami']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Unauthorized/);
    expect(server.seen.length).toBe(before);
    expect(server.rejected.at(-1)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate signature failure|unable to verify/i);
    // the unmodified kubeconfig works against the same server: the refusal is about the client cert
    expect((await kubectl(['--kubeconfig', path.join(embedded, 'kubeconfig/admin.kubeconfig'), '--server', server.url, '--tls-server-name', 'kubernetes.default.svc', 'auth', 'whoami'])).code).toBe(0);
  });
});

test('kubectl config view --raw reads every kubeconfig; the embedded data equals the files on disk', async () => {
  for (const [name] of IDENTITIES) {
    const r = await kubectl(['config', 'view', '--raw', '-o', 'json', '--kubeconfig', path.join(embedded, `kubeconfig/${name}.kubeconfig`)]);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    const file = (rel: string) => readFileSync(path.join(embedded, rel)).toString('base64');
    expect(v['current-context']).toBe(v.contexts[0].name);
    expect(v.clusters[0].cluster.server).toBe('https://192.168.18.3:6443');
    expect(v.clusters[0].cluster['certificate-authority-data']).toBe(file('ca.crt'));
    expect(v.users[0].user['client-certificate-data']).toBe(file(`clients/${name}.crt`));
    expect(v.users[0].user['client-key-data']).toBe(file(`clients/${name}.key`));
  }
});

test('embedCerts false: kubeconfigs name absolute paths under install.dir', async () => {
  const r = await kubectl(['config', 'view', '--raw', '-o', 'json', '--kubeconfig', path.join(byPath, 'kubeconfig/admin.kubeconfig')]);
  const v = JSON.parse(r.stdout);
  expect(v.clusters[0].cluster['certificate-authority']).toBe(path.join(byPath, 'ca.crt'));
  expect(v.users[0].user).toEqual({ 'client-certificate': path.join(byPath, 'clients/admin.crt'), 'client-key': path.join(byPath, 'clients/admin.key') });
});

test('service-account key pair: sa.key and sa.pub are one pair', () => {
  const pub = spawnSync('openssl', ['rsa', '-in', 'sa.key', '-pubout'], { cwd: embedded, encoding: 'utf8' }).stdout;
  expect(pub).toBe(readFileSync(path.join(embedded, 'sa.pub'), 'utf8'));
});

test('every path a flag file names exists in the layout', () => {
  const flags = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet-k8s-node-1', 'kubelet-k8s-node-2', 'kube-proxy'];
  let count = 0;
  for (const f of flags) {
    const text = readFileSync(path.join(byPath, `flags/${f}.env`), 'utf8');
    for (const m of text.matchAll(/=(\/[^\s"]+)/g)) {
      if (m[1] === '/var/log/kubernetes') continue;
      count++;
      expect(existsSync(m[1]) ? m[1] : `${f}: ${m[1]} is missing`).toBe(m[1]);
    }
  }
  expect(count).toBeGreaterThan(15);
});

test('client certificates carry clientAuth and are signed by ca.crt', () => {
  for (const [name] of IDENTITIES) {
    const v = spawnSync('openssl', ['verify', '-CAfile', 'ca.crt', '-purpose', 'sslclient', `clients/${name}.crt`], { cwd: embedded, encoding: 'utf8' });
    expect(v.stdout.trim()).toBe(`clients/${name}.crt: OK`);
  }
});

test('the plan for the full spec, run with sh, reproduces the same identities', () => {
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'cluster.yaml'), SPEC);
  const plan = kubepki(['plan', '--spec', 'cluster.yaml'], { cwd: dir });
  expect(plan.code).toBe(0);
  writeFileSync(path.join(dir, 'plan.sh'), plan.stdout);
  const out = path.join(dir, 'out');
  spawnSync('mkdir', [out]);
  const r = spawnSync('sh', ['../plan.sh'], { cwd: out, encoding: 'utf8' });
  expect(r.status).toBe(0);
  const subj = (base: string, name: string) => spawnSync('openssl', ['x509', '-in', `clients/${name}.crt`, '-noout', '-subject', '-ext', 'extendedKeyUsage'], { cwd: base, encoding: 'utf8' }).stdout;
  for (const [name] of IDENTITIES) expect(subj(out, name)).toBe(subj(embedded, name));
  const v = kubepki(['verify', '--spec', path.join(dir, 'cluster.yaml'), '--out', out]);
  expect(v.stdout).toMatch(/^ok: /m);
});
