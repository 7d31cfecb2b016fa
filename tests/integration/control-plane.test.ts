// The real control plane judges kubepki's output: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler of the spec's kubernetesVersion (built by scripts/control-plane/build.sh), each
// started with the flags of its file in flags/, sourced as written (install.dir is the generated
// folder), plus only what the test needs (etcd's data dir). Everything runs in a network namespace
// of this test's own, where the master's and the nodes' addresses are on a dummy interface: kubectl,
// curl and the stand-in kubelets are processes of that namespace too, so nothing leaves it.
// Rounds: the default spec, the same after `kubepki renew --all`, RSA-4096 keys, and a production
// shape (ECDSA-P256, an external two-level CA, two masters behind a named endpoint, the break-glass
// admin) whose two masters are two namespaces joined by a wire, one host each.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki, ROOT } from '../helpers/cli.js';
import { controlPlaneBinaries, NetNs, type Proc, type ControlPlaneBinaries, type RunResult, waitFor } from '../helpers/control-plane.js';
import { makeTwoLevelCa, signListed, type ExternalCa, type ToSign } from '../helpers/external-ca.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';
import { KUBECTL, requireTool, sha } from '../helpers/tools.js';

const MASTER = '192.168.18.3';
const NODES = [
  { name: 'k8s-node-1', ip: '192.168.18.4' },
  { name: 'k8s-node-2', ip: '192.168.18.5' },
];
const KUBELET_PORT = 10250;
/** a bound for each check (kubectl calls of 30 s at most, waits of 90 s at most) */
const CHECK_TIMEOUT = 300_000;
const API = `https://${MASTER}:6443`;
const STAND_IN = path.join(ROOT, 'tests/helpers/stand-in-kubelet.mjs');
/** The production round's two masters, each a host of its own: a namespace with its address, the
 *  two joined by a wire. Each runs its etcd member and kube-apiserver from its own flag files, which
 *  bind the same ports (6443, 127.0.0.1:2379) as real hosts do; master 1 runs the controller-manager
 *  and the scheduler. */
const PROD_MASTERS = [
  { hostname: 'k8s-master-1', ip: '192.168.18.11', ns: new NetNs(), apiFlags: 'flags/kube-apiserver.env', crt: 'server.crt' },
  { hostname: 'k8s-master-2', ip: '192.168.18.12', ns: new NetNs(), apiFlags: 'flags/kube-apiserver-k8s-master-2.env', crt: 'apiserver-k8s-master-2.crt' },
];
/** controlPlaneEndpoint: a name that each master's namespace resolves to that master, as a load balancer in front of it would answer */
const ENDPOINT = 'api.cluster.test';

let bins: ControlPlaneBinaries;
let work: string;
let pki: string;
let foreign: string;
let specFile: string;
const ns = new NetNs();
let procs: Proc[] = [];
let round = 0;
const at = (rel: string) => path.join(pki, rel);
const kc = (name: string) => at(`kubeconfig/${name}.kubeconfig`);

function kubectl(kubeconfig: string, args: string[], input?: string, where: NetNs = ns): RunResult {
  return where.run([KUBECTL, `--kubeconfig=${kubeconfig}`, '--request-timeout=30s', ...args], { input });
}
function ok(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
/** curl inside the namespace; the response body and the HTTP status (0: no HTTP response at all). */
function curl(
  url: string,
  opts: { ca: string; cert?: string; key?: string; headers?: string[]; post?: string; patch?: string; where?: NetNs },
): { status: number; body: string; err: string } {
  const argv = ['curl', '-sS', '--max-time', '20', '--cacert', opts.ca, '-w', '\n%{http_code}'];
  if (opts.cert) argv.push('--cert', opts.cert, '--key', opts.key!);
  for (const h of opts.headers ?? []) argv.push('-H', h);
  if (opts.post !== undefined) argv.push('-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', opts.post);
  if (opts.patch !== undefined) argv.push('-X', 'PATCH', '-H', 'Content-Type: application/strategic-merge-patch+json', '--data-binary', opts.patch);
  argv.push(url);
  const r = (opts.where ?? ns).run(argv);
  const i = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(i + 1)) || 0, body: r.stdout.slice(0, i), err: r.stderr };
}
const SELF_SUBJECT_REVIEW = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
const userOf = (body: string): { username: string; groups: string[] } => JSON.parse(body).status.userInfo;

/** A kubeconfig with the cluster only (CA and server) and a bearer token: nothing but the token authenticates. */
function tokenKubeconfig(name: string, token: string, cluster: Record<string, string> = { server: API }): string {
  const f = path.join(work, `${name}.kubeconfig`);
  writeFileSync(
    f,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { ...cluster, 'certificate-authority': at('ca.crt') } }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
    { mode: 0o600 },
  );
  return f;
}
const whoami = (kubeconfig: string, args: string[] = [], where: NetNs = ns) => kubectl(kubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}', ...args], undefined, where);

/** Starts a component as its flag file says: sh sources the file and execs the binary with $VARIABLE, then `extra`. */
function startComponent(name: string, envFile: string, variable: string, bin: string, extra: string[] = [], where: NetNs = ns): Proc {
  const p = where.start(name, ['sh', '-c', `. "$1"; shift; b=$1; shift; exec "$b" $${variable} "$@"`, 'sh', at(envFile), bin, ...extra], path.join(work, `${name}-${round}.log`));
  procs.push(p);
  return p;
}

function startStandIn(node: (typeof NODES)[number], dir: string): Proc {
  const trusted = new X509Certificate(readFileSync(at('apiserver-kubelet-client.crt'))).subject.match(/^CN=(.*)$/m)![1];
  const p = ns.start(
    `stand-in-kubelet-${node.name}`,
    [process.execPath, STAND_IN, node.ip, String(KUBELET_PORT), path.join(dir, `kubelet-serving/${node.name}.crt`), path.join(dir, `kubelet-serving/${node.name}.key`), at('ca.crt'), trusted],
    path.join(work, `stand-in-${node.name}-${round}.log`),
  );
  procs.push(p);
  return p;
}
const standInLog = (node: string) =>
  readFileSync(path.join(work, `stand-in-${node}-${round}.log`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { url?: string; cn?: string; listening?: string });

/** etcd, kube-apiserver (ready), kube-controller-manager and kube-scheduler of the master at MASTER. */
async function startMaster(etcdData: string): Promise<void> {
  const etcd = startComponent('etcd', 'flags/etcd-k8s-master.env', 'ETCD_ARGS', bins.etcd, [`--data-dir=${etcdData}`]);
  await waitFor(
    'etcd to answer /health over mutual TLS',
    () => (curl(`https://${MASTER}:2379/health`, { ca: at('etcd/ca.crt'), cert: at('etcd/healthcheck-client.crt'), key: at('etcd/healthcheck-client.key') }).body.includes('"health":"true"') ? true : undefined),
    { timeoutMs: 60_000, alive: [etcd] },
  );
  const api = startComponent('kube-apiserver', 'flags/kube-apiserver.env', 'KUBE_API_ARGS', bins.apiserver);
  let last: RunResult | undefined;
  await waitFor(
    'kube-apiserver /readyz',
    () => {
      last = kubectl(kc('admin'), ['get', '--raw', '/readyz']);
      return last.code === 0 && last.stdout.trim() === 'ok' ? true : undefined;
    },
    { timeoutMs: 180_000, alive: [etcd, api], last: () => `${last?.stdout}${last?.stderr}\n${api.log(15)}` },
  );
  startComponent('kube-controller-manager', 'flags/kube-controller-manager.env', 'KUBE_CONTROLLER_MANAGER_ARGS', bins.controllerManager);
  startComponent('kube-scheduler', 'flags/kube-scheduler.env', 'KUBE_SCHEDULER_ARGS', bins.scheduler);
}

async function startAll(): Promise<void> {
  await startMaster(path.join(work, 'etcd-data'));
  // node 1's stand-in has its own serving certificate; node 2's one from a foreign CA, which kube-apiserver must refuse
  const standIns = [startStandIn(NODES[0], pki), startStandIn(NODES[1], foreign)];
  await waitFor('the stand-in kubelets to listen', () => (NODES.every((n) => standInLog(n.name).some((l) => l.listening)) ? true : undefined), { timeoutMs: 30_000, alive: standIns });
}

async function stopAll(): Promise<void> {
  for (const p of procs.splice(0).reverse()) await p.stop();
}

const alive = () => procs.forEach((p) => p.assertAlive());
const leaseHolders: Record<string, string[]> = { 'kube-controller-manager': [], 'kube-scheduler': [] };

beforeAll(async () => {
  requireTool(KUBECTL);
  bins = controlPlaneBinaries();
  if (process.getuid?.() !== 0) throw new Error('this test makes a network namespace (ip netns add): it must run as root');
  work = tmpDir('kubepki-cp-');
  pki = path.join(work, 'pki');
  foreign = path.join(work, 'foreign');
  const spec = (dir: string) => `cluster: { kubernetesVersion: "${bins.minor}" }
master: { hostname: k8s-master, ip: ${MASTER} }
nodes:
${NODES.map((n) => `  - { name: ${n.name}, ip: ${n.ip} }`).join('\n')}
install: { dir: ${dir} }
etcd: { mode: tls }
frontProxy: true
kubeletTLS: { enabled: true }
`;
  specFile = path.join(work, 'cluster.yaml');
  writeFileSync(specFile, spec(pki));
  writeFileSync(path.join(work, 'foreign.yaml'), spec(foreign));
  for (const [s, out] of [
    [specFile, pki],
    [path.join(work, 'foreign.yaml'), foreign],
  ]) {
    const r = kubepki(['generate', '--spec', s, '--out', out]);
    if (r.code !== 0) throw new Error(`kubepki generate --out ${out}: exit ${r.code}\n${r.stderr}`);
  }
  mkdirSync(path.join(work, 'etcd-data'), { mode: 0o700 });
  ns.create([MASTER, ...NODES.map((n) => n.ip)]);
  round = 1;
  await startAll();
}, 600_000);

afterAll(async () => {
  await stopAll();
  ns.destroy();
  for (const m of PROD_MASTERS) m.ns.destroy();
  cleanupTmp();
}, 120_000);

/** A Node as its kubelet registers it (addresses, kubelet port); `ready` adds the Ready condition of a status update. */
function nodeObject(name: string, ip: string, ready = false) {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: {
      addresses: [{ type: 'InternalIP', address: ip }],
      daemonEndpoints: { kubeletEndpoint: { Port: KUBELET_PORT } },
      ...(ready ? { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }] } : {}),
    },
  };
}

/** A kubelet's status update (the Ready condition) of node `target`, sent with kubelet `as`'s client certificate. */
function statusPatch(as: string, target: string) {
  const ip = NODES.find((n) => n.name === target)!.ip;
  return curl(`${API}/api/v1/nodes/${target}/status`, {
    ca: at('ca.crt'),
    cert: at(`clients/kubelet-${as}.crt`),
    key: at(`clients/kubelet-${as}.key`),
    patch: JSON.stringify({ status: nodeObject(target, ip, true).status }),
  });
}

/** A binary run with the flags of its file, as the component's unit would start it, and --version: it parses every flag first. */
function parsesFlags(envFile: string, variable: string, bin: string): RunResult {
  return ns.run(['sh', '-c', `. "$1"; exec "$2" $${variable} --version`, 'sh', at(envFile), bin]);
}

function checks(label: string): void {
  test(`${label}: kubelet and kube-proxy of this version accept the flags of their files`, () => {
    for (const [file, variable, bin] of [
      ...NODES.map((n) => [`flags/kubelet-${n.name}.env`, 'KUBELET_ARGS', bins.kubelet]),
      ['flags/kube-proxy.env', 'KUBE_PROXY_ARGS', bins.kubeProxy],
    ]) {
      const r = parsesFlags(file, variable, bin);
      if (r.code !== 0) throw new Error(`${path.basename(bin)} refuses ${file} (exit ${r.code}): ${r.stderr.trim()}`);
      expect(r.stdout.trim()).toBe(`Kubernetes v${bins.version}`);
    }
  }, CHECK_TIMEOUT);

  test(`${label}: kube-apiserver is ready, with etcd over mutual TLS (apiserver-etcd-client); etcd refuses a client without a certificate`, () => {
    const flags = readFileSync(at('flags/kube-apiserver.env'), 'utf8');
    expect(flags).toContain(`--etcd-certfile=${at('apiserver-etcd-client.crt')}`);
    const verbose = ok(kubectl(kc('admin'), ['get', '--raw', '/readyz?verbose']), 'readyz');
    expect(verbose).toMatch(/\[\+\]etcd ok/);
    expect(verbose).toMatch(/readyz check passed/);
    const bare = curl(`https://${MASTER}:2379/health`, { ca: at('etcd/ca.crt') });
    expect(bare.body).not.toContain('"health":"true"');
    const withClient = curl(`https://${MASTER}:2379/health`, { ca: at('etcd/ca.crt'), cert: at('apiserver-etcd-client.crt'), key: at('apiserver-etcd-client.key') });
    expect(withClient.body).toContain('"health":"true"');
    alive();
  }, CHECK_TIMEOUT);

  test(`${label}: admin.kubeconfig lists namespaces, creates and deletes an object`, () => {
    const names = ok(kubectl(kc('admin'), ['get', 'namespaces', '-o', 'name']), 'get namespaces').split('\n');
    expect(names).toEqual(expect.arrayContaining(['namespace/default', 'namespace/kube-system']));
    const cm = `kubepki-check-${round}`;
    ok(kubectl(kc('admin'), ['-n', 'default', 'create', 'configmap', cm, '--from-literal=made-by=admin']), 'create configmap');
    expect(ok(kubectl(kc('admin'), ['-n', 'default', 'get', 'configmap', cm, '-o', 'jsonpath={.data.made-by}']), 'get')).toBe('admin');
    ok(kubectl(kc('admin'), ['-n', 'default', 'delete', 'configmap', cm]), 'delete configmap');
    const gone = kubectl(kc('admin'), ['-n', 'default', 'get', 'configmap', cm]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/NotFound|not found/);
    expect(ok(whoami(kc('admin')), 'whoami')).toBe('admin');
  }, CHECK_TIMEOUT);

  test(`${label}: kube-controller-manager and kube-scheduler, each with its own kubeconfig, hold their leases; kube-root-ca.crt is the --root-ca-file`, async () => {
    expect(ok(whoami(kc('kube-controller-manager')), 'whoami')).toBe('system:kube-controller-manager');
    expect(ok(whoami(kc('kube-scheduler')), 'whoami')).toBe('system:kube-scheduler');
    for (const lease of ['kube-controller-manager', 'kube-scheduler']) {
      const before = leaseHolders[lease];
      const holder = await waitFor(
        `the ${lease} lease to be held by the process of this start`,
        () => {
          const h = kubectl(kc('admin'), ['-n', 'kube-system', 'get', 'lease', lease, '-o', 'jsonpath={.spec.holderIdentity}']).stdout.trim();
          return h && !before.includes(h) ? h : undefined;
        },
        { timeoutMs: 90_000, alive: procs },
      );
      before.push(holder);
    }
    const nsName = `kubepki-round-${round}`;
    ok(kubectl(kc('admin'), ['create', 'namespace', nsName]), 'create namespace');
    const published = await waitFor(
      `kube-root-ca.crt in namespace ${nsName}`,
      () => {
        const r = kubectl(kc('admin'), ['-n', nsName, 'get', 'configmap', 'kube-root-ca.crt', '-o', 'jsonpath={.data.ca\\.crt}']);
        return r.code === 0 && r.stdout ? r.stdout : undefined;
      },
      { timeoutMs: 60_000, alive: procs },
    );
    expect(published.trim()).toBe(readFileSync(at('ca.crt'), 'utf8').trim());
  }, CHECK_TIMEOUT);

  test(`${label}: a service-account token from kube-apiserver (signed with sa.key) authenticates; one signed by another key is refused`, () => {
    const sa = `tester-${round}`;
    ok(kubectl(kc('admin'), ['-n', 'default', 'create', 'serviceaccount', sa]), 'create serviceaccount');
    const token = ok(kubectl(kc('admin'), ['-n', 'default', 'create', 'token', sa]), 'create token').trim();
    const [h, p, s] = token.split('.');
    expect(verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey(readFileSync(at('sa.pub'))), Buffer.from(s, 'base64url'))).toBe(true);
    expect(ok(whoami(tokenKubeconfig(`token-${round}`, token)), 'whoami --token')).toBe(`system:serviceaccount:default:${sa}`);
    // the same header and claims, signed again: with sa.key (accepted), with a key of the test's own (refused)
    const resign = (key: Parameters<typeof sign>[2]) => `${h}.${p}.${sign('sha256', Buffer.from(`${h}.${p}`), key).toString('base64url')}`;
    expect(ok(whoami(tokenKubeconfig(`resigned-${round}`, resign(createPrivateKey(readFileSync(at('sa.key')))))), 'whoami, re-signed with sa.key')).toBe(`system:serviceaccount:default:${sa}`);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const refused = whoami(tokenKubeconfig(`forged-${round}`, resign(other)));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Unauthorized|must be logged in/);
  }, CHECK_TIMEOUT);

  test(`${label}: each kubelet identity creates and updates its own Node and is refused another node's (Node authorizer, NodeRestriction)`, () => {
    ok(kubectl(kc('admin'), ['delete', 'node', ...NODES.map((n) => n.name), '--ignore-not-found', '--wait=false']), 'delete nodes');
    for (const n of NODES) {
      const me = kc(`kubelet-${n.name}`);
      expect(ok(whoami(me), 'whoami')).toBe(`system:node:${n.name}`);
      // as a kubelet registers: the Node with its addresses and kubelet port, then status updates
      ok(kubectl(me, ['create', '-f', '-'], JSON.stringify(nodeObject(n.name, n.ip))), `create node ${n.name} as itself`);
      // a status update as a kubelet sends it: a strategic-merge PATCH of nodes/<name>/status with its client certificate
      const update = statusPatch(n.name, n.name);
      if (update.status !== 200) throw new Error(`${n.name}'s status update as itself: HTTP ${update.status} ${update.body} ${update.err}`);
      ok(kubectl(me, ['annotate', 'node', n.name, `kubepki.test/round=${round}`, '--overwrite']), `annotate node ${n.name} as itself`);
    }
    expect(ok(kubectl(kc('admin'), ['get', 'node', NODES[0].name, '-o', 'jsonpath={.status.addresses[0].address} {.metadata.annotations.kubepki\\.test/round}']), 'get node')).toBe(`${NODES[0].ip} ${round}`);
    expect(ok(kubectl(kc('admin'), ['get', 'node', NODES[1].name, '-o', 'jsonpath={.status.conditions[0].reason}']), 'get node')).toBe('KubeletReady');
    const one = kc(`kubelet-${NODES[0].name}`);
    const other = NODES[1].name;
    const annotate = kubectl(one, ['annotate', 'node', other, 'kubepki.test/by=k8s-node-1', '--overwrite']);
    expect(annotate.code).not.toBe(0);
    expect(annotate.stderr).toMatch(/forbidden/i);
    const status = statusPatch(NODES[0].name, other);
    expect(status.status).toBe(403);
    expect(status.body).toMatch(/forbidden/i);
    // NodeRestriction: a kubelet creates no Node but its own and gives itself no role label
    const create = kubectl(one, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'k8s-node-3' } }));
    expect(create.code).not.toBe(0);
    expect(create.stderr).toMatch(/forbidden/i);
    const role = kubectl(one, ['label', 'node', NODES[0].name, 'node-role.kubernetes.io/control-plane=', '--overwrite']);
    expect(role.code).not.toBe(0);
    expect(role.stderr).toMatch(/forbidden/i);
    expect(kubectl(kc('admin'), ['get', 'node', 'k8s-node-3']).code).not.toBe(0);
    const secrets = kubectl(one, ['-n', 'kube-system', 'get', 'secrets']);
    expect(secrets.code).not.toBe(0);
    expect(secrets.stderr).toMatch(/forbidden/i);
  }, CHECK_TIMEOUT);

  test(`${label}: kube-proxy's identity lists EndpointSlices; the scheduler's identity cannot create Secrets`, () => {
    expect(ok(whoami(kc('kube-proxy')), 'whoami')).toBe('system:kube-proxy');
    const slices = ok(kubectl(kc('kube-proxy'), ['get', 'endpointslices.discovery.k8s.io', '--all-namespaces', '-o', 'name']), 'list endpointslices as kube-proxy');
    expect(slices).toMatch(/^endpointslice\.discovery\.k8s\.io\/kubernetes$/m);
    const secret = kubectl(kc('kube-scheduler'), ['-n', 'default', 'create', 'secret', 'generic', `from-scheduler-${round}`, '--from-literal=a=b']);
    expect(secret.code).not.toBe(0);
    expect(secret.stderr).toMatch(/forbidden/i);
    expect(secret.stderr).toContain('system:kube-scheduler');
  }, CHECK_TIMEOUT);

  test(`${label}: the front proxy's certificate makes X-Remote-User/X-Remote-Group count; an ordinary client certificate does not`, () => {
    const headers = ['X-Remote-User: proxied-alice', 'X-Remote-Group: proxied-devs'];
    const url = `${API}/apis/authentication.k8s.io/v1/selfsubjectreviews`;
    const proxied = curl(url, { ca: at('ca.crt'), cert: at('front-proxy-client.crt'), key: at('front-proxy-client.key'), headers, post: SELF_SUBJECT_REVIEW });
    expect(proxied.status).toBe(201);
    expect(userOf(proxied.body).username).toBe('proxied-alice');
    expect(userOf(proxied.body).groups).toContain('proxied-devs');
    for (const c of ['admin', 'kube-scheduler']) {
      const direct = curl(url, { ca: at('ca.crt'), cert: at(`clients/${c}.crt`), key: at(`clients/${c}.key`), headers, post: SELF_SUBJECT_REVIEW });
      expect(direct.status).toBe(201);
      expect(userOf(direct.body).username).toBe(c === 'admin' ? 'admin' : 'system:kube-scheduler');
      expect(userOf(direct.body).groups).not.toContain('proxied-devs');
    }
  }, CHECK_TIMEOUT);

  test(`${label}: kube-apiserver reaches a kubelet over mutual TLS (apiserver-kubelet-client, kubelet-serving) and refuses a kubelet of another CA`, async () => {
    const good = kubectl(kc('admin'), ['get', '--raw', `/api/v1/nodes/${NODES[0].name}/proxy/healthz`]);
    if (good.code !== 0) throw new Error(`proxy to the stand-in kubelet: ${good.stderr}; the stand-in saw: ${JSON.stringify(standInLog(NODES[0].name))}`);
    expect(good.stdout.trim()).toBe('ok');
    const trusted = new X509Certificate(readFileSync(at('apiserver-kubelet-client.crt'))).subject.match(/^CN=(.*)$/m)![1];
    expect(standInLog(NODES[0].name).some((l) => l.url?.split('?')[0] === '/healthz' && l.cn === trusted)).toBe(true);
    const bad = kubectl(kc('admin'), ['get', '--raw', `/api/v1/nodes/${NODES[1].name}/proxy/healthz`]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/x509|certificate/i);
    expect(standInLog(NODES[1].name).some((l) => l.url !== undefined)).toBe(false);
  }, CHECK_TIMEOUT);

  test(`${label}: a client certificate with the same subject from another CA is refused (401)`, () => {
    const url = `${API}/api/v1/namespaces`;
    for (const c of ['admin', 'kube-controller-manager', `kubelet-${NODES[0].name}`]) {
      expect(new X509Certificate(readFileSync(path.join(foreign, `clients/${c}.crt`))).subject).toBe(new X509Certificate(readFileSync(at(`clients/${c}.crt`))).subject);
      const forged = curl(url, { ca: at('ca.crt'), cert: path.join(foreign, `clients/${c}.crt`), key: path.join(foreign, `clients/${c}.key`) });
      expect(forged.status).toBe(401);
    }
    const real = curl(url, { ca: at('ca.crt'), cert: at('clients/admin.crt'), key: at('clients/admin.key') });
    expect(real.status).toBe(200);
    alive();
  }, CHECK_TIMEOUT);
}

describe('the control plane started from the generated PKI', () => {
  checks('generated');
});

describe('after kubepki renew --all and a restart', () => {
  const before: Record<string, string> = {};
  beforeAll(async () => {
    await stopAll();
    for (const f of ['ca.crt', 'server.crt', 'apiserver-etcd-client.crt', 'clients/admin.crt', 'kubelet-serving/k8s-node-1.crt', 'front-proxy-client.crt']) before[f] = sha(at(f));
    const r = kubepki(['renew', '--all', '--spec', specFile, '--out', pki]);
    if (r.code !== 0) throw new Error(`kubepki renew --all: exit ${r.code}\n${r.stderr}`);
    expect(sha(at('ca.crt'))).toBe(before['ca.crt']);
    for (const f of Object.keys(before).filter((x) => x !== 'ca.crt')) expect(sha(at(f))).not.toBe(before[f]);
    round = 2;
    await startAll();
  }, 600_000);
  checks('renewed');
});

/** Waits for a lease of a fresh etcd to have a holder. */
function leaseHeld(lease: string, kubeconfig: string, where: NetNs = ns, args: string[] = []): Promise<string> {
  return waitFor(
    `the ${lease} lease to be held`,
    () => kubectl(kubeconfig, ['-n', 'kube-system', 'get', 'lease', lease, '-o', 'jsonpath={.spec.holderIdentity}', ...args], undefined, where).stdout.trim() || undefined,
    { timeoutMs: 90_000, alive: procs },
  );
}
const keyDetails = (file: string) => createPrivateKey(readFileSync(file)).asymmetricKeyDetails!;

describe('RSA-4096 keys (certs.keyAlgorithm: RSA-4096) run the control plane', () => {
  beforeAll(async () => {
    await stopAll();
    pki = path.join(work, 'pki-rsa4096');
    const spec = path.join(work, 'rsa4096.yaml');
    writeFileSync(
      spec,
      `cluster: { kubernetesVersion: "${bins.minor}" }
master: { hostname: k8s-master, ip: ${MASTER} }
install: { dir: ${pki} }
etcd: { mode: tls }
certs: { keyAlgorithm: RSA-4096 }
`,
    );
    const r = kubepki(['generate', '--spec', spec, '--out', pki]);
    if (r.code !== 0) throw new Error(`kubepki generate (RSA-4096): exit ${r.code}\n${r.stderr}`);
    round = 3;
    mkdirSync(path.join(work, 'etcd-data-rsa4096'), { mode: 0o700 });
    await startMaster(path.join(work, 'etcd-data-rsa4096'));
  }, 600_000);

  test('RSA-4096: the CA, serving, client, etcd and service-account keys are RSA keys of 4096 bits', () => {
    for (const k of ['ca.key', 'server.key', 'clients/admin.key', 'clients/kube-controller-manager.key', 'etcd/ca.key', 'apiserver-etcd-client.key', 'sa.key']) {
      expect([k, createPrivateKey(readFileSync(at(k))).asymmetricKeyType, keyDetails(at(k)).modulusLength]).toEqual([k, 'rsa', 4096]);
    }
  });

  test('RSA-4096: kube-apiserver is ready with etcd over mutual TLS; admin lists namespaces', () => {
    expect(ok(kubectl(kc('admin'), ['get', '--raw', '/readyz?verbose']), 'readyz')).toMatch(/\[\+\]etcd ok[\s\S]*readyz check passed/);
    const names = ok(kubectl(kc('admin'), ['get', 'namespaces', '-o', 'name']), 'get namespaces').split('\n');
    expect(names).toEqual(expect.arrayContaining(['namespace/default', 'namespace/kube-system']));
    expect(ok(whoami(kc('admin')), 'whoami')).toBe('admin');
    alive();
  }, CHECK_TIMEOUT);

  test('RSA-4096: kube-controller-manager and kube-scheduler hold their leases', async () => {
    for (const lease of ['kube-controller-manager', 'kube-scheduler']) expect(await leaseHeld(lease, kc('admin'))).not.toBe('');
  }, CHECK_TIMEOUT);

  test('RSA-4096: a service-account token (RS256, signed with sa.key) authenticates', () => {
    ok(kubectl(kc('admin'), ['-n', 'default', 'create', 'serviceaccount', 'tester-rsa4096']), 'create serviceaccount');
    const token = ok(kubectl(kc('admin'), ['-n', 'default', 'create', 'token', 'tester-rsa4096']), 'create token').trim();
    const [h, p, s] = token.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString()).alg).toBe('RS256');
    expect(verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey(readFileSync(at('sa.pub'))), Buffer.from(s, 'base64url'))).toBe(true);
    expect(ok(whoami(tokenKubeconfig('token-rsa4096', token)), 'whoami --token')).toBe('system:serviceaccount:default:tester-rsa4096');
    alive();
  }, CHECK_TIMEOUT);
});

describe('production: ECDSA-P256 keys, an external two-level CA, two masters behind an endpoint, the break-glass admin', () => {
  let ca: ExternalCa;
  let first: { code: number | null; toSign: ToSign[]; stderr: string; kubeconfigsBefore: boolean; flagsBefore: boolean };
  let second: { code: number | null; toSign: ToSign[]; stderr: string };
  const [m1, m2] = PROD_MASTERS;
  /** kubectl to one master by its address, checking its certificate against the endpoint's name */
  const via = (m: (typeof PROD_MASTERS)[number], name = ENDPOINT) => ['--server', `https://${m.ip}:6443`, '--tls-server-name', name];
  const summaryOf = (stdout: string) => {
    const s = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; toSign?: ToSign[] })
      .find((e) => e.event === 'summary');
    if (!s?.toSign) throw new Error(`kubepki generate --json printed no summary with toSign:\n${stdout}`);
    return s.toSign;
  };

  beforeAll(async () => {
    await stopAll();
    pki = path.join(work, 'pki-production');
    mkdirSync(pki, { mode: 0o700 });
    ca = makeTwoLevelCa(path.join(work, 'external-ca'));
    writeFileSync(at('ca.crt'), ca.bundle);
    const spec = path.join(work, 'production.yaml');
    writeFileSync(
      spec,
      `cluster: { kubernetesVersion: "${bins.minor}" }
master: { hostname: ${m1.hostname}, ip: ${m1.ip} }
masters:
  - { hostname: ${m2.hostname}, ip: ${m2.ip} }
controlPlaneEndpoint: "${ENDPOINT}:6443"
install: { dir: ${pki} }
etcd: { mode: tls }
ca: { external: true }
certs: { keyAlgorithm: ECDSA-P256 }
admin: { group: "kubeadm:cluster-admins", superAdmin: true }
`,
    );
    const r1 = kubepki(['generate', '--spec', spec, '--out', pki, '--json']);
    first = { code: r1.code, toSign: r1.code === 0 ? summaryOf(r1.stdout) : [], stderr: r1.stderr, kubeconfigsBefore: existsSync(at('kubeconfig')), flagsBefore: existsSync(at('flags')) };
    if (r1.code !== 0) throw new Error(`kubepki generate (external CA, first run): exit ${r1.code}\n${r1.stderr}`);
    signListed(first.toSign, pki, ca);
    const r2 = kubepki(['generate', '--spec', spec, '--out', pki, '--json']);
    if (r2.code !== 0) throw new Error(`kubepki generate (external CA, signed certificates placed): exit ${r2.code}\n${r2.stderr}`);
    second = { code: r2.code, toSign: summaryOf(r2.stdout), stderr: r2.stderr };

    round = 4;
    for (const m of PROD_MASTERS) {
      m.ns.create([m.ip]);
      const hosts = path.join(work, `hosts-${m.hostname}`);
      writeFileSync(hosts, `127.0.0.1 localhost\n${m.ip} ${m.hostname} ${ENDPOINT}\n`);
      m.ns.resolveBy(hosts);
    }
    m1.ns.link(m2.ns, m1.ip, m2.ip);
    // etcd: one member on each master; neither is healthy before both run (quorum of two)
    const etcds = PROD_MASTERS.map((m) => {
      mkdirSync(path.join(work, `etcd-data-${m.hostname}`), { mode: 0o700 });
      return startComponent(`etcd-${m.hostname}`, `flags/etcd-${m.hostname}.env`, 'ETCD_ARGS', bins.etcd, [`--data-dir=${path.join(work, `etcd-data-${m.hostname}`)}`], m.ns);
    });
    for (const m of PROD_MASTERS) {
      await waitFor(
        `etcd member ${m.hostname} to answer /health over mutual TLS`,
        () => (curl(`https://${m.ip}:2379/health`, { ca: at('etcd/ca.crt'), cert: at('etcd/healthcheck-client.crt'), key: at('etcd/healthcheck-client.key'), where: m.ns }).body.includes('"health":"true"') ? true : undefined),
        { timeoutMs: 90_000, alive: etcds },
      );
    }
    const apis = PROD_MASTERS.map((m) => startComponent(`kube-apiserver-${m.hostname}`, m.apiFlags, 'KUBE_API_ARGS', bins.apiserver, [], m.ns));
    for (const m of PROD_MASTERS) {
      let last: RunResult | undefined;
      await waitFor(
        `kube-apiserver on ${m.hostname} /readyz`,
        () => {
          last = kubectl(kc('super-admin'), ['get', '--raw', '/readyz', ...via(m)], undefined, m.ns);
          return last.code === 0 && last.stdout.trim() === 'ok' ? true : undefined;
        },
        { timeoutMs: 180_000, alive: [...etcds, ...apis], last: () => `${last?.stdout}${last?.stderr}` },
      );
    }
    startComponent('kube-controller-manager', 'flags/kube-controller-manager.env', 'KUBE_CONTROLLER_MANAGER_ARGS', bins.controllerManager, [], m1.ns);
    startComponent('kube-scheduler', 'flags/kube-scheduler.env', 'KUBE_SCHEDULER_ARGS', bins.scheduler, [], m1.ns);
  }, 600_000);

  test('external CA: generate makes ECDSA P-256 keys and CSRs, no CA key, and lists each signing; placed certificates signed by the intermediate give kubeconfigs and flags', () => {
    expect(first.code).toBe(0);
    expect(first.toSign.map((t) => t.name).sort()).toEqual(
      ['admin', 'apiserver', `apiserver-${m2.hostname}`, 'apiserver-kubelet-client', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'super-admin'].sort(),
    );
    // nothing that needs the certificates is written before they are there
    expect([first.kubeconfigsBefore, first.flagsBefore]).toEqual([false, false]);
    expect(second.toSign).toEqual([]);
    expect(existsSync(at('ca.key'))).toBe(false);
    const root = new X509Certificate(readFileSync(ca.rootCrt));
    const intermediate = new X509Certificate(readFileSync(ca.intermediateCrt));
    expect(intermediate.verify(root.publicKey)).toBe(true);
    for (const t of first.toSign) {
      const crt = new X509Certificate(readFileSync(at(t.crt)));
      expect([t.crt, crt.issuer, crt.verify(intermediate.publicKey)]).toEqual([t.crt, intermediate.subject, true]);
      const key = at(t.crt.replace(/\.crt$/, '.key'));
      expect([key, createPrivateKey(readFileSync(key)).asymmetricKeyType, keyDetails(key).namedCurve]).toEqual([key, 'ec', 'prime256v1']);
    }
    for (const k of ['sa.key', 'etcd/ca.key', `etcd/${m2.hostname}/peer.key`]) expect([k, keyDetails(at(k)).namedCurve]).toEqual([k, 'prime256v1']);
    for (const c of ['admin', 'super-admin', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']) {
      expect(readFileSync(kc(c), 'utf8')).toMatch(new RegExp(`^\\s*server: https://${ENDPOINT.replace(/\./g, '\\.')}:6443$`, 'm'));
    }
    // no CA key, so the controller-manager signs nothing
    expect(readFileSync(at('flags/kube-controller-manager.env'), 'utf8')).not.toContain('--cluster-signing');
  });

  test('two masters: each kube-apiserver is ready, serves its own certificate and passes the TLS check with the endpoint name (a name not in its SANs fails); they share the etcd', () => {
    for (const m of PROD_MASTERS) {
      const sans = new X509Certificate(readFileSync(at(m.crt))).subjectAltName ?? '';
      expect(sans).toContain(`DNS:${ENDPOINT}`);
      expect(sans).toContain(`IP Address:${m.ip}`);
      expect(ok(kubectl(kc('super-admin'), ['get', '--raw', '/readyz?verbose', ...via(m)], undefined, m1.ns), `readyz of ${m.hostname}`)).toMatch(/\[\+\]etcd ok[\s\S]*readyz check passed/);
      // the kubeconfig as written: the endpoint's name, resolved in the master's namespace to that master
      expect(ok(whoami(kc('super-admin'), [], m.ns), `whoami through ${ENDPOINT} on ${m.hostname}`)).toBe('kubernetes-super-admin');
      const served = m.ns.run(['openssl', 's_client', '-connect', `${ENDPOINT}:6443`, '-servername', ENDPOINT], { input: '' });
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(served.stdout)?.[0];
      if (!pem) throw new Error(`openssl s_client to ${ENDPOINT}:6443 on ${m.hostname} showed no certificate: ${served.stderr}`);
      expect(new X509Certificate(pem).fingerprint256).toBe(new X509Certificate(readFileSync(at(m.crt))).fingerprint256);
      const wrong = kubectl(kc('super-admin'), ['get', '--raw', '/readyz', ...via(m, 'not-the-endpoint.test')], undefined, m1.ns);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(/x509|certificate/i);
    }
    ok(kubectl(kc('super-admin'), ['-n', 'default', 'create', 'configmap', 'made-on-master-1', '--from-literal=by=k8s-master-1', ...via(m1)], undefined, m1.ns), 'create on master 1');
    expect(ok(kubectl(kc('super-admin'), ['-n', 'default', 'get', 'configmap', 'made-on-master-1', '-o', 'jsonpath={.data.by}', ...via(m2)], undefined, m1.ns), 'get on master 2')).toBe('k8s-master-1');
    alive();
  }, CHECK_TIMEOUT);

  test('two masters: kube-controller-manager and kube-scheduler, through the endpoint, hold their leases; kube-root-ca.crt is the two-certificate bundle', async () => {
    expect(ok(whoami(kc('kube-controller-manager'), [], m1.ns), 'whoami')).toBe('system:kube-controller-manager');
    expect(ok(whoami(kc('kube-scheduler'), [], m1.ns), 'whoami')).toBe('system:kube-scheduler');
    for (const lease of ['kube-controller-manager', 'kube-scheduler']) expect(await leaseHeld(lease, kc('super-admin'), m1.ns, via(m2))).not.toBe('');
    ok(kubectl(kc('super-admin'), ['create', 'namespace', 'kubepki-production'], undefined, m1.ns), 'create namespace');
    const published = await waitFor(
      'kube-root-ca.crt in namespace kubepki-production',
      () => {
        const r = kubectl(kc('super-admin'), ['-n', 'kubepki-production', 'get', 'configmap', 'kube-root-ca.crt', '-o', 'jsonpath={.data.ca\\.crt}'], undefined, m1.ns);
        return r.code === 0 && r.stdout ? r.stdout : undefined;
      },
      { timeoutMs: 60_000, alive: procs },
    );
    expect(published.trim()).toBe(ca.bundle.trim());
    expect(published.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  }, CHECK_TIMEOUT);

  test('two masters: a service-account token made by master 1 is ES256, signed with the EC sa.key, and authenticates at master 2', () => {
    ok(kubectl(kc('super-admin'), ['-n', 'default', 'create', 'serviceaccount', 'tester-production', ...via(m1)], undefined, m1.ns), 'create serviceaccount');
    const token = ok(kubectl(kc('super-admin'), ['-n', 'default', 'create', 'token', 'tester-production', ...via(m1)], undefined, m1.ns), 'create token').trim();
    const [h, p, s] = token.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString()).alg).toBe('ES256');
    expect(verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey(readFileSync(at('sa.pub'))), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))).toBe(true);
    const at2 = tokenKubeconfig('token-production', token, { server: `https://${m2.ip}:6443`, 'tls-server-name': ENDPOINT });
    expect(ok(whoami(at2, [], m1.ns), 'whoami --token at master 2')).toBe('system:serviceaccount:default:tester-production');
    alive();
  }, CHECK_TIMEOUT);

  test('break-glass: admin (O=kubeadm:cluster-admins) is forbidden until the super-admin applies rbac/cluster-admins.yaml, then lists namespaces on both masters, never in system:masters', async () => {
    const groupsOf = (kubeconfig: string) => JSON.parse(ok(kubectl(kubeconfig, ['auth', 'whoami', '-o', 'json'], undefined, m1.ns), 'whoami -o json')).status.userInfo as { username: string; groups: string[] };
    const admin = groupsOf(kc('admin'));
    expect(admin.username).toBe('admin');
    expect(admin.groups).toContain('kubeadm:cluster-admins');
    expect(admin.groups).not.toContain('system:masters');
    const superAdmin = groupsOf(kc('super-admin'));
    expect(superAdmin.username).toBe('kubernetes-super-admin');
    expect(superAdmin.groups).toContain('system:masters');
    for (const m of PROD_MASTERS) {
      const before = kubectl(kc('admin'), ['get', 'namespaces', ...via(m)], undefined, m1.ns);
      expect(before.code).not.toBe(0);
      expect(before.stderr).toMatch(/forbidden[\s\S]*User "admin" cannot list resource "namespaces"/i);
    }
    ok(kubectl(kc('super-admin'), ['apply', '-f', at('rbac/cluster-admins.yaml')], undefined, m1.ns), 'apply rbac/cluster-admins.yaml as the super-admin');
    for (const m of PROD_MASTERS) {
      let last: RunResult | undefined;
      const names = await waitFor(
        `admin to list namespaces on ${m.hostname}`,
        () => {
          last = kubectl(kc('admin'), ['get', 'namespaces', '-o', 'name', ...via(m)], undefined, m1.ns);
          return last.code === 0 ? last.stdout.split('\n') : undefined;
        },
        { timeoutMs: 30_000, alive: procs, last: () => last?.stderr ?? '' },
      );
      expect(names).toEqual(expect.arrayContaining(['namespace/default', 'namespace/kube-system']));
    }
    expect(groupsOf(kc('admin')).groups).not.toContain('system:masters');
    alive();
  }, CHECK_TIMEOUT);
});
