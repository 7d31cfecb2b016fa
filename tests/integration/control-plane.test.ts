// The real control plane judges kubepki's output: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler of the spec's kubernetesVersion (built by scripts/control-plane/build.sh), each
// started with the flags of its file in flags/, sourced as written (install.dir is the generated
// folder), plus only what the test needs (etcd's data dir). Everything runs in a network namespace
// of this test's own, where the master's and the nodes' addresses are on a dummy interface: kubectl,
// curl and the stand-in kubelets are processes of that namespace too, so nothing leaves it.
// Rounds: the default spec, the same after `kubepki renew --all`, and RSA-4096 keys.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki, ROOT } from '../helpers/cli.js';
import { controlPlaneBinaries, NetNs, type Proc, type ControlPlaneBinaries, type RunResult, waitFor } from '../helpers/control-plane.js';
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
