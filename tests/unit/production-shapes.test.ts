// Production shapes without a key being made: key algorithms, HA masters and the endpoint, the
// admin group and the break-glass super-admin, certs.days within ca.days, and the external CA.
// The spec's rules, the catalogue's rows, the plan's argv, the flag and RBAC files, and what
// generate and renew decide for an external CA's folder (assembled from the committed test-only
// fixtures): nothing is generated, nothing is spawned.
import { parse as parseYaml } from 'yaml';
import { catalogue, certRows, type CertRow } from '../../src/catalog/certs.js';
import { flagFiles, flagsFor } from '../../src/catalog/flags.js';
import { genkeyArgv, keyWant, puboutArgv } from '../../src/catalog/keys.js';
import { kubeconfigRows } from '../../src/catalog/kubeconfigs.js';
import { rbacFiles } from '../../src/catalog/rbac.js';
import { EnvError } from '../../src/errors.js';
import { selectForGenerate, selectForRenew, type Selection } from '../../src/inspect/state.js';
import { buildPlan } from '../../src/plan/plan.js';
import { renderConfigs } from '../../src/render/cnf.js';
import { kubeconfigDoc } from '../../src/render/kubeconfig.js';
import { renderFlagFile } from '../../src/render/flags.js';
import { apiserverUrl } from '../../src/spec/derive.js';
import { parseSpecText } from '../../src/spec/load.js';
import type { Spec } from '../../src/spec/schema.js';
import { fixtureFolder, FIXTURE_NOW } from '../helpers/fixture-folder.js';
import { cleanupTmp } from '../helpers/tmp.js';
import { specProblems } from '../helpers/spec.js';

afterAll(cleanupTmp);

const MIN = 'master: { hostname: k8s-master, ip: 192.168.18.3 }\n';
const spec = (extra: string, base = MIN): Spec => parseSpecText(base + extra, 'test.yaml');

const problems = specProblems;

const rowOf = (s: Spec, id: string): CertRow => {
  const r = certRows(s).find((x) => x.id === id);
  if (!r) throw new Error(`no row ${id}; rows: ${certRows(s).map((x) => x.id).join(', ')}`);
  return r;
};

describe('the spec: key algorithms', () => {
  test('certs.keyAlgorithm is resolved from keyBits for RSA and defaults to RSA-2048; ca and serviceAccount follow it unless given', () => {
    expect(spec('').certs.keyAlgorithm).toBe('RSA-2048');
    expect(spec('certs: { keyBits: 4096 }\n').certs).toEqual({ keyAlgorithm: 'RSA-4096', days: 5000, clientExtensions: true });
    const s = spec('certs: { keyAlgorithm: ECDSA-P384 }\n');
    expect([s.certs.keyAlgorithm, s.ca.keyAlgorithm, s.serviceAccount.keyAlgorithm]).toEqual(['ECDSA-P384', undefined, undefined]);
    expect(rowOf(s, 'ca').key).toEqual({ algorithm: 'ec', bits: 384 });
    expect(catalogue(s).find((e) => e.id === 'sa')!.key).toEqual({ algorithm: 'ec', bits: 384 });
    const mixed = spec('certs: { keyAlgorithm: ECDSA-P256 }\nca: { keyAlgorithm: RSA-4096 }\nserviceAccount: { keyAlgorithm: RSA-3072 }\n');
    expect(rowOf(mixed, 'ca').key).toEqual({ algorithm: 'rsa', bits: 4096 });
    expect(rowOf(mixed, 'admin').key).toEqual({ algorithm: 'ec', bits: 256 });
    expect(catalogue(mixed).find((e) => e.id === 'sa')!.key).toEqual({ algorithm: 'rsa', bits: 3072 });
  });

  test.each([
    ['certs: { keyBits: 2048, keyAlgorithm: RSA-2048 }', ['certs.keyBits: give certs.keyAlgorithm or certs.keyBits, not both (keyBits 2048 is keyAlgorithm RSA-2048)']],
    ['certs: { keyBits: 3072, keyAlgorithm: ECDSA-P256 }', ['certs.keyBits: give certs.keyAlgorithm or certs.keyBits, not both (keyBits 3072 is keyAlgorithm RSA-3072)']],
    ['certs: { keyAlgorithm: RSA-1024 }', ['certs.keyAlgorithm: "RSA-1024" is not one of "RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"']],
    ['ca: { keyAlgorithm: ed25519 }', ['ca.keyAlgorithm: "ed25519" is not one of "RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"']],
    ['serviceAccount: { keyAlgorithm: ECDSA-P521 }', ['serviceAccount.keyAlgorithm: "ECDSA-P521" is not one of "RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"']],
    ['serviceAccount: { keyBits: 2048 }', ['serviceAccount.keyBits: unknown key (not part of the spec; check its spelling)']],
    ['ca: { external: "yes" }', ['ca.external: expected boolean, got string "yes"']],
  ])('%s is refused with its path', (yaml, want) => {
    expect(problems(MIN + yaml + '\n')).toEqual(want);
  });
});

describe('the spec: certs.days within ca.days', () => {
  test('a leaf that would outlive its CA is refused with both end dates, one day apart for one day too many', () => {
    const ps = problems(MIN + 'ca: { days: 100 }\ncerts: { days: 101 }\n');
    expect(ps).toHaveLength(1);
    const m = /^certs\.days: 101 days outlive the CA \(ca\.days 100\): a leaf signed today would be valid until (\d{4}-\d\d-\d\d), its CA only until (\d{4}-\d\d-\d\d) .*; lower certs\.days or raise ca\.days$/.exec(ps[0]);
    expect(m).not.toBeNull();
    expect(Date.parse(m![1]) - Date.parse(m![2])).toBe(86_400_000);
    // the CA's date is ca.days from today (whatever today is: no fixed date in the test)
    expect(Math.round((Date.parse(m![2]) - Date.parse(new Date().toISOString().slice(0, 10))) / 86_400_000)).toBe(100);
  });
  test('the default ca.days (5000) bounds certs.days too; equal days are fine', () => {
    expect(problems(MIN + 'certs: { days: 6000 }\n')).toEqual([expect.stringMatching(/^certs\.days: 6000 days outlive the CA \(ca\.days 5000\)/)]);
    expect(spec('ca: { days: 365 }\ncerts: { days: 365 }\n').certs.days).toBe(365);
  });
});

describe('the spec: masters and controlPlaneEndpoint', () => {
  test.each([
    ['lb.example.com:6443'],
    ['10.0.0.100:443'],
    ['[fd00::10]:6443'],
    ['[FD00:0:0::10]:6443'],
  ])('%s is accepted', (ep) => {
    expect(spec(`controlPlaneEndpoint: "${ep}"\n`).controlPlaneEndpoint).toBe(ep);
  });

  const NOT_HOST_PORT = 'is not "host:port" (an IPv6 address in brackets: "[fd00::10]:6443")';
  test.each([
    ['lb.example.com', `controlPlaneEndpoint: "lb.example.com" ${NOT_HOST_PORT}`],
    ['lb.example.com:0', `controlPlaneEndpoint: "lb.example.com:0" ${NOT_HOST_PORT}`],
    ['lb.example.com:65536', `controlPlaneEndpoint: "lb.example.com:65536" ${NOT_HOST_PORT}`],
    ['https://lb.example.com:6443', `controlPlaneEndpoint: "https://lb.example.com:6443" ${NOT_HOST_PORT}`],
    // an IPv6 address without brackets: its last group cannot be told from a port
    ['fd00::10:6443', `controlPlaneEndpoint: "fd00::10:6443" ${NOT_HOST_PORT}`],
    ['[fd00::10]', `controlPlaneEndpoint: "[fd00::10]" ${NOT_HOST_PORT}`],
    ['[10.0.0.1]:6443', 'controlPlaneEndpoint: "10.0.0.1" is in brackets, which are for an IPv6 address only (write "10.0.0.1:6443")'],
    ['[lb.example.com]:6443', 'controlPlaneEndpoint: "lb.example.com" is in brackets, which are for an IPv6 address only'],
    ['LB_bad:6443', 'controlPlaneEndpoint: "LB_bad" is neither an IP address nor a valid DNS name'],
  ])('%s is refused', (ep, want) => {
    expect(problems(MIN + `controlPlaneEndpoint: "${ep}"\n`)).toEqual([want]);
  });

  test('a master repeating the first master or another one is refused at its own path, naming the host it repeats', () => {
    expect(problems(MIN + 'masters: [{ hostname: k8s-master, ip: 10.0.0.2 }, { hostname: cp-3, ip: "192.168.18.3" }]\n')).toEqual([
      'masters[0].hostname: control-plane host name "k8s-master" is already used by master',
      'masters[1].ip: control-plane IP "192.168.18.3" is already used by master',
    ]);
    expect(problems(MIN + 'masters: [{ hostname: cp-2, ip: 10.0.0.2 }, { hostname: cp-2, ip: "10.0.0.3" }, { hostname: cp-4, ip: "10.0.0.02" }]\n').sort()).toEqual([
      'masters[1].hostname: control-plane host name "cp-2" is already used by masters[0]',
      'masters[2].ip: "10.0.0.02" is not an IP address',
    ]);
    // IPv6 addresses are compared in their canonical form
    expect(problems('master: { hostname: a, ip: "fd00::1" }\ncluster: { serviceClusterIpRange: "fd00:10:96::/112" }\nmasters: [{ hostname: b, ip: "FD00:0::1" }]\n')).toEqual([
      'masters[0].ip: control-plane IP "fd00::1" is already used by master',
    ]);
  });

  test('a master is {hostname, ip}, both checked, nothing else', () => {
    expect(problems(MIN + 'masters: [{ hostname: CP_2, ip: 10.0.0.300, port: 6443 }]\n').sort()).toEqual([
      expect.stringMatching(/^masters\[0\]\.hostname: "CP_2" is not a valid host name/),
      'masters[0].ip: "10.0.0.300" is not an IP address',
      'masters[0].port: unknown key (not part of the spec; check its spelling)',
    ]);
  });

  test("a master whose certificate apiserver-<hostname> would be another certificate's name is refused", () => {
    expect(problems(MIN + 'etcd: { mode: tls }\nmasters: [{ hostname: etcd-client, ip: 10.0.0.2 }]\n')).toEqual([
      'masters[0].hostname: "etcd-client": its kube-apiserver certificate apiserver-etcd-client would have the name of another kubepki certificate; rename the host',
    ]);
  });

  test('etcd members default to every control-plane host; given members stay as they are', () => {
    const s = spec('etcd: { mode: tls }\nmasters: [{ hostname: cp-2, ip: 10.0.0.2 }, { hostname: cp-3, ip: 10.0.0.3 }]\n');
    expect(s.etcd.members).toEqual([
      { name: 'k8s-master', ip: '192.168.18.3' },
      { name: 'cp-2', ip: '10.0.0.2' },
      { name: 'cp-3', ip: '10.0.0.3' },
    ]);
    expect(spec('etcd: { mode: tls, members: [{ name: e1, ip: 10.0.0.11 }] }\nmasters: [{ hostname: cp-2, ip: 10.0.0.2 }]\n').etcd.members).toEqual([{ name: 'e1', ip: '10.0.0.11' }]);
  });
});

describe('the spec: admin group and super-admin', () => {
  test.each([
    ['admin: { superAdmin: true }'],
    ['admin: { group: "system:masters", superAdmin: true }'],
  ])('%s: the break-glass identity is only for an admin outside system:masters', (yaml) => {
    expect(problems(MIN + yaml + '\n')).toEqual([
      'admin.superAdmin: the break-glass super-admin is for an admin whose group is not system:masters: set admin.group (e.g. kubeadm:cluster-admins) or leave superAdmin off',
    ]);
  });
  test.each([
    ['admin: { group: "" }', 'admin.group: must not be empty'],
    ['admin: { group: "a,b" }', 'admin.group: "a,b" contains a comma'],
    ['admin: { group: "x/O=system:masters" }', 'admin.group: "x/O=system:masters" looks like more subject fields'],
    ['admin: { group: "system:admins" }', 'admin.group: "system:admins" is not a name Kubernetes defines under system:'],
  ])('%s is refused like any O', (yaml, want) => {
    const ps = problems(MIN + yaml + '\n');
    expect(ps).toHaveLength(1);
    expect(ps[0].startsWith(want)).toBe(true);
  });
  test('extra clients cannot take super-admin or a master\'s apiserver-<host>', () => {
    expect(problems(MIN + 'masters: [{ hostname: cp-2, ip: 10.0.0.2 }]\nclients: [{ name: apiserver-cp-2, cn: x }, { name: super-admin, cn: y }, { name: apiserver, cn: z }]\n')).toEqual([
      'clients[0].name: "apiserver-cp-2" is the name of another kubepki certificate; pick another name',
      'clients[1].name: "super-admin" is a built-in identity; pick another name',
      'clients[2].name: "apiserver" is the name of another kubepki certificate; pick another name',
    ]);
    // without that master the name is free
    expect(spec('clients: [{ name: apiserver-cp-2, cn: x }]\n').clients[0].name).toBe('apiserver-cp-2');
  });
});

describe('catalogue rows', () => {
  test('EC leaves leave keyEncipherment out of keyUsage (the documented server cert keeps nonRepudiation); RSA leaves keep it', () => {
    const ec = spec('certs: { keyAlgorithm: ECDSA-P256 }\netcd: { mode: tls }\nfrontProxy: true\nnodes: [{ name: n1, ip: 10.0.0.5 }]\n');
    for (const r of certRows(ec)) {
      if (r.kind === 'ca') expect([r.id, r.keyUsage]).toEqual([r.id, null]);
      else expect([r.id, r.keyUsage]).toEqual([r.id, r.id === 'apiserver' ? ['nonRepudiation', 'digitalSignature'] : ['digitalSignature']]);
    }
    const rsa = spec('etcd: { mode: tls }\n');
    expect(rowOf(rsa, 'apiserver').keyUsage).toEqual(['nonRepudiation', 'digitalSignature', 'keyEncipherment']);
    expect(rowOf(rsa, 'admin').keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
    expect(rowOf(rsa, 'etcd-server-k8s-master').keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
    // a leaf's usages follow its own key, not its CA's
    expect(rowOf(spec('ca: { keyAlgorithm: ECDSA-P256 }\n'), 'admin').keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
    expect(rowOf(spec('certs: { keyAlgorithm: ECDSA-P384 }\nca: { keyAlgorithm: RSA-4096 }\n'), 'admin').keyUsage).toEqual(['digitalSignature']);
  });

  test('the rendered configs carry those usages: client_ssl.cnf and master_ssl.cnf of an EC spec', () => {
    const configs = renderConfigs(certRows(spec('certs: { keyAlgorithm: ECDSA-P256 }\n')));
    expect(configs.get('client_ssl.cnf')).toMatch(/^keyUsage = digitalSignature$/m);
    expect(configs.get('master_ssl.cnf')).toMatch(/^keyUsage = nonRepudiation, digitalSignature$/m);
  });

  test('each master has its own serving certificate: its name and IP, and the endpoint host as a SAN of every one', () => {
    const s = spec('masters: [{ hostname: cp-2, ip: 10.0.0.2 }, { hostname: cp-3, ip: "fd00::3" }]\ncontrolPlaneEndpoint: "lb.example.com:8443"\n');
    const first = rowOf(s, 'apiserver');
    expect([first.stem, first.cn, first.ext]).toEqual(['server', 'k8s-master', { file: 'master_ssl.cnf', section: 'v3_req', forCsr: true }]);
    expect(first.sans).toEqual({
      dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'k8s-master', 'lb.example.com'],
      ip: ['169.169.0.1', '192.168.18.3'],
    });
    const cp2 = rowOf(s, 'apiserver-cp-2');
    expect([cp2.stem, cp2.cn, cp2.o, cp2.signer, cp2.eku, cp2.ext]).toEqual(['apiserver-cp-2', 'cp-2', [], 'ca', null, { file: 'apiserver-cp-2.cnf', section: 'v3_req', forCsr: true }]);
    expect(cp2.sans).toEqual({
      dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'cp-2', 'lb.example.com'],
      ip: ['169.169.0.1', '10.0.0.2'],
    });
    expect(rowOf(s, 'apiserver-cp-3').sans!.ip).toEqual(['169.169.0.1', 'fd00::3']);
    // one config per master, each with its own SANs
    const configs = renderConfigs(certRows(s));
    expect(configs.get('apiserver-cp-2.cnf')).toMatch(/^DNS\.5 = cp-2$/m);
    expect(configs.get('apiserver-cp-2.cnf')).toMatch(/^IP\.2 = 10\.0\.0\.2$/m);
    expect(configs.get('master_ssl.cnf')).toMatch(/^DNS\.6 = lb\.example\.com$/m);
  });

  test('an IP endpoint is an IP SAN (canonical, once); a DNS endpoint a DNS SAN', () => {
    expect(rowOf(spec('controlPlaneEndpoint: "10.0.0.100:6443"\n'), 'apiserver').sans!.ip).toEqual(['169.169.0.1', '192.168.18.3', '10.0.0.100']);
    expect(rowOf(spec('controlPlaneEndpoint: "192.168.18.3:6443"\n'), 'apiserver').sans!.ip).toEqual(['169.169.0.1', '192.168.18.3']);
    const v6 = spec('controlPlaneEndpoint: "[FD00:0::10]:6443"\nmasters: [{ hostname: cp-2, ip: 10.0.0.2 }]\n');
    for (const id of ['apiserver', 'apiserver-cp-2']) expect(rowOf(v6, id).sans!.ip).toContain('fd00::10');
  });

  test('kubeconfigs name the endpoint when there is one (an IPv6 one canonical, in brackets), else the master', () => {
    expect(apiserverUrl(spec(''))).toBe('https://192.168.18.3:6443');
    expect(apiserverUrl(spec('controlPlaneEndpoint: "lb.example.com:8443"\n'))).toBe('https://lb.example.com:8443');
    expect(apiserverUrl(spec('controlPlaneEndpoint: "[FD00:0::10]:6443"\n'))).toBe('https://[fd00::10]:6443');
    const s = spec('controlPlaneEndpoint: "lb.example.com:8443"\nadmin: { group: "kubeadm:cluster-admins", superAdmin: true }\nnodes: [{ name: n1, ip: 10.0.0.5 }]\n');
    const kcs = kubeconfigRows(certRows(s));
    expect(kcs.map((k) => k.name)).toEqual(['kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'admin', 'super-admin', 'kubelet-n1']);
    for (const k of kcs) {
      const doc = kubeconfigDoc(s, k).doc as { clusters: { cluster: { server: string } }[] };
      expect([k.name, doc.clusters[0].cluster.server]).toEqual([k.name, 'https://lb.example.com:8443']);
    }
  });

  test("admin's O is admin.group; only in system:masters may it carry that group", () => {
    expect([rowOf(spec(''), 'admin').o, rowOf(spec(''), 'admin').mayBeMaster]).toEqual([['system:masters'], true]);
    const g = rowOf(spec('admin: { group: "kubeadm:cluster-admins" }\n'), 'admin');
    expect([g.cn, g.o, g.mayBeMaster]).toEqual(['admin', ['kubeadm:cluster-admins'], false]);
  });

  test('superAdmin adds clients/super-admin: CN kubernetes-super-admin, O system:masters, a client certificate with a kubeconfig', () => {
    expect(certRows(spec('admin: { group: "kubeadm:cluster-admins" }\n')).some((r) => r.id === 'super-admin')).toBe(false);
    const s = spec('admin: { group: "kubeadm:cluster-admins", superAdmin: true }\n');
    const r = rowOf(s, 'super-admin');
    expect({ stem: r.stem, cn: r.cn, o: r.o, signer: r.signer, eku: r.eku, mayBeMaster: r.mayBeMaster, group: r.group }).toEqual({
      stem: 'clients/super-admin',
      cn: 'kubernetes-super-admin',
      o: ['system:masters'],
      signer: 'ca',
      eku: ['clientAuth'],
      mayBeMaster: true,
      group: 'client',
    });
    // the two admins are adjacent: admin, then super-admin
    const ids = certRows(s).map((x) => x.id);
    expect(ids.indexOf('super-admin')).toBe(ids.indexOf('admin') + 1);
    expect(buildPlan(s).steps.find((x) => x.id === 'kubeconfig:super-admin')).toMatchObject({ unit: 'kubeconfig/super-admin.kubeconfig', outputs: [{ path: 'kubeconfig/super-admin.kubeconfig', mode: 0o600 }] });
  });

  test('an external CA is a row without key steps or config: its certificate is given', () => {
    const s = spec('ca: { external: true }\n');
    const ca = rowOf(s, 'ca');
    expect([ca.kind, ca.external, ca.ext]).toEqual(['ca', true, null]);
    const plan = buildPlan(s);
    expect(plan.steps.filter((x) => x.unit === 'ca')).toEqual([]);
    expect(plan.steps.some((x) => x.outputs.some((o) => o.path === 'ca.cnf'))).toBe(false);
    // every signing by the cluster CA is the external CA's: listed, never run
    const signs = plan.steps.filter((x) => x.action === 'sign');
    expect(signs.length).toBeGreaterThan(0);
    for (const x of signs) expect([x.id, x.external, x.title]).toEqual([x.id, true, expect.stringMatching(/: sign with ca \(by the external CA\)$/)]);
  });
});

describe('the plan: key commands', () => {
  const argvOf = (s: Spec, id: string) => ['openssl', ...buildPlan(s).steps.find((x) => x.id === id)!.argv!].join(' ');

  test('EC keys are made by genpkey on the curve; the service-account public half by pkey -pubout', () => {
    const s = spec('certs: { keyAlgorithm: ECDSA-P256 }\n');
    expect(argvOf(s, 'ca:key')).toBe('openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key');
    expect(argvOf(s, 'apiserver:key')).toBe('openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key');
    expect(argvOf(s, 'admin:key')).toBe('openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out clients/admin.key');
    expect(argvOf(s, 'sa:key')).toBe('openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sa.key');
    expect(argvOf(s, 'sa:pub')).toBe('openssl pkey -in sa.key -pubout -out sa.pub');
    // the requests and signings are the same commands whatever the key
    expect(argvOf(s, 'admin:csr')).toBe('openssl req -new -key clients/admin.key -subj /CN=admin/O=system:masters -out clients/admin.csr');
    expect(argvOf(s, 'apiserver:crt')).toBe('openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 5000 -extensions v3_req -extfile master_ssl.cnf -out server.crt');
  });

  test('P-384, RSA sizes, and a service-account key of another algorithm than the certificates', () => {
    expect(argvOf(spec('certs: { keyAlgorithm: ECDSA-P384 }\n'), 'admin:key')).toBe('openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out clients/admin.key');
    expect(argvOf(spec('certs: { keyAlgorithm: RSA-4096 }\n'), 'admin:key')).toBe('openssl genrsa -out clients/admin.key 4096');
    expect(argvOf(spec('certs: { keyAlgorithm: RSA-3072 }\n'), 'sa:pub')).toBe('openssl rsa -in sa.key -pubout -out sa.pub');
    const s = spec('certs: { keyAlgorithm: ECDSA-P256 }\nca: { keyAlgorithm: RSA-3072 }\nserviceAccount: { keyAlgorithm: RSA-2048 }\n');
    expect(argvOf(s, 'ca:key')).toBe('openssl genrsa -out ca.key 3072');
    expect(argvOf(s, 'sa:key')).toBe('openssl genrsa -out sa.key 2048');
    expect(argvOf(s, 'sa:pub')).toBe('openssl rsa -in sa.key -pubout -out sa.pub');
    expect(argvOf(spec('serviceAccount: { keyAlgorithm: ECDSA-P256 }\n'), 'sa:pub')).toBe('openssl pkey -in sa.key -pubout -out sa.pub');
  });

  test("each key step checks the key it asks for", () => {
    const p = buildPlan(spec('certs: { keyAlgorithm: ECDSA-P384 }\nca: { keyAlgorithm: RSA-4096 }\n'));
    expect(p.steps.find((x) => x.id === 'admin:key')!.checks).toEqual([{ kind: 'key', file: 'clients/admin.key', algorithm: 'ec', bits: 384 }]);
    expect(p.steps.find((x) => x.id === 'ca:key')!.checks).toEqual([{ kind: 'key', file: 'ca.key', algorithm: 'rsa', bits: 4096 }]);
    expect(p.steps.find((x) => x.id === 'admin:crt')!.checks[0]).toMatchObject({ key: { file: 'clients/admin.key', algorithm: 'ec', bits: 384 } });
  });

  test('keys.ts: every algorithm name maps to its kind and size, and to its commands', () => {
    expect(['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256', 'ECDSA-P384'].map((n) => keyWant(n as never))).toEqual([
      { algorithm: 'rsa', bits: 2048 },
      { algorithm: 'rsa', bits: 3072 },
      { algorithm: 'rsa', bits: 4096 },
      { algorithm: 'ec', bits: 256 },
      { algorithm: 'ec', bits: 384 },
    ]);
    expect(genkeyArgv({ algorithm: 'ec', bits: 384 }, 'k')).toEqual(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'k']);
    expect(puboutArgv({ algorithm: 'ec', bits: 256 }, 'k', 'p')).toEqual(['pkey', '-in', 'k', '-pubout', '-out', 'p']);
  });
});

describe('flag files', () => {
  const HA = spec('masters: [{ hostname: cp-2, ip: 10.0.0.2 }, { hostname: cp-3, ip: 10.0.0.3 }]\ncontrolPlaneEndpoint: "lb.example.com:6443"\n');
  const flagsOf = (s: Spec, path: string) => new Map(flagsFor(s, flagFiles(s).find((f) => f.path === path)!));

  test('HA: one kube-apiserver file per master, each with its own certificate and --advertise-address; the rest identical', () => {
    expect(flagFiles(HA).map((f) => f.path)).toEqual([
      'flags/kube-apiserver.env',
      'flags/kube-apiserver-cp-2.env',
      'flags/kube-apiserver-cp-3.env',
      'flags/kube-controller-manager.env',
      'flags/kube-scheduler.env',
      'flags/kube-proxy.env',
    ]);
    const first = flagsOf(HA, 'flags/kube-apiserver.env');
    expect([first.get('--tls-cert-file'), first.get('--tls-private-key-file'), first.get('--advertise-address')]).toEqual(['/var/run/kubernetes/server.crt', '/var/run/kubernetes/server.key', '192.168.18.3']);
    const cp2 = flagsOf(HA, 'flags/kube-apiserver-cp-2.env');
    expect([cp2.get('--tls-cert-file'), cp2.get('--tls-private-key-file'), cp2.get('--advertise-address')]).toEqual(['/var/run/kubernetes/apiserver-cp-2.crt', '/var/run/kubernetes/apiserver-cp-2.key', '10.0.0.2']);
    const own = new Set(['--tls-cert-file', '--tls-private-key-file', '--advertise-address']);
    const rest = (m: Map<string, string>) => [...m].filter(([k]) => !own.has(k));
    expect(rest(cp2)).toEqual(rest(first));
    expect(rest(flagsOf(HA, 'flags/kube-apiserver-cp-3.env'))).toEqual(rest(first));
    // every file is for the same host file: each on its own master
    const text = renderFlagFile(HA, flagFiles(HA)[1]);
    expect(text.split('\n')[0]).toBe('# /etc/kubernetes/apiserver: kube-apiserver flags for Kubernetes 1.37 (written by kubepki)');
    expect(text).toMatch(/^KUBE_API_ARGS=".*--tls-cert-file=\/var\/run\/kubernetes\/apiserver-cp-2\.crt /m);
  });

  test('HA with etcd over TLS: kube-apiserver reaches every member, one etcd file per master', () => {
    const s = spec('etcd: { mode: tls }\nmasters: [{ hostname: cp-2, ip: 10.0.0.2 }]\n');
    expect(flagFiles(s).filter((f) => f.component === 'etcd').map((f) => f.path)).toEqual(['flags/etcd-k8s-master.env', 'flags/etcd-cp-2.env']);
    expect(flagsOf(s, 'flags/kube-apiserver-cp-2.env').get('--etcd-servers')).toBe('https://192.168.18.3:2379,https://10.0.0.2:2379');
  });

  test('an external CA: kube-controller-manager signs no CSRs (no --cluster-signing-* flags); the CA certificate is still trusted everywhere', () => {
    const own = flagsOf(spec(''), 'flags/kube-controller-manager.env');
    expect([own.get('--cluster-signing-cert-file'), own.get('--cluster-signing-key-file')]).toEqual(['/var/run/kubernetes/ca.crt', '/var/run/kubernetes/ca.key']);
    const ext = spec('ca: { external: true }\n');
    const cm = flagsOf(ext, 'flags/kube-controller-manager.env');
    expect([...cm.keys()].filter((k) => k.startsWith('--cluster-signing'))).toEqual([]);
    expect([cm.get('--root-ca-file'), cm.get('--client-ca-file')]).toEqual(['/var/run/kubernetes/ca.crt', '/var/run/kubernetes/ca.crt']);
    expect(flagsOf(ext, 'flags/kube-apiserver.env').get('--client-ca-file')).toBe('/var/run/kubernetes/ca.crt');
    // nothing names ca.key
    for (const f of flagFiles(ext)) expect([f.path, renderFlagFile(ext, f)]).toEqual([f.path, expect.not.stringContaining('ca.key')]);
  });
});

describe('rbac/', () => {
  test('admin in system:masters needs no binding', () => {
    expect(rbacFiles(spec(''))).toEqual([]);
    expect(buildPlan(spec('')).steps.some((s) => s.action === 'rbac')).toBe(false);
  });
  test("another group gets rbac/cluster-admins.yaml: a ClusterRoleBinding of that group to cluster-admin", () => {
    const s = spec('admin: { group: "kubeadm:cluster-admins" }\n');
    const [f] = rbacFiles(s);
    expect(f.path).toBe('rbac/cluster-admins.yaml');
    expect(f.content).toBe(
      [
        "# kubepki: gives the admin identity's group cluster-admin (apply as the super-admin: kubectl apply -f rbac/)",
        'apiVersion: rbac.authorization.k8s.io/v1',
        'kind: ClusterRoleBinding',
        'metadata:',
        '  name: "kubeadm:cluster-admins"',
        'roleRef:',
        '  apiGroup: rbac.authorization.k8s.io',
        '  kind: ClusterRole',
        '  name: cluster-admin',
        'subjects:',
        '  - apiGroup: rbac.authorization.k8s.io',
        '    kind: Group',
        '    name: "kubeadm:cluster-admins"',
        '',
      ].join('\n'),
    );
    const step = buildPlan(s).steps.find((x) => x.action === 'rbac')!;
    expect([step.id, step.content, step.outputs]).toEqual(['rbac:rbac/cluster-admins.yaml', f.content, [{ path: 'rbac/cluster-admins.yaml', type: 'text', mode: 0o644 }]]);
  });
  test('a group that YAML would read otherwise (spaces, "#", a leading "*") is quoted: the binding names exactly it', () => {
    for (const group of ['ops team #1', '*admins', 'yes']) {
      const doc = parseYaml(rbacFiles(spec(`admin: { group: ${JSON.stringify(group)} }\n`))[0].content);
      expect(doc).toEqual({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: group },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
      });
    }
  });
});

describe('an external CA: what generate and renew decide (fixture folders)', () => {
  const EXT = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3 }\nnodes: [{ name: k8s-node-1, ip: 192.168.18.4 }]\nca: { external: true }\n', 'ext.yaml');
  const plan = buildPlan(EXT);
  const now = FIXTURE_NOW;
  const decision = (sel: Selection, unit: string) => sel.decisions.find((d) => d.unit === unit)!;
  const ran = (sel: Selection, unit: string) => sel.steps.filter((s) => s.unit === unit && s.argv).map((s) => s.action);
  const SERVER = { 'server.key': 'test-only-leaf.key', 'server.csr': 'server.csr', 'server.crt': 'server.crt' };
  const LEAVES = ['apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'admin', 'kubelet-k8s-node-1'];

  test('only ca.crt: every key and request is made, every signing listed for the CA; no kubeconfig or flag file yet', async () => {
    const sel = await selectForGenerate(plan, fixtureFolder({ 'ca.crt': 'ca.crt' }), now);
    expect(decision(sel, 'ca')).toEqual({ unit: 'ca', status: 'keep', reasons: ['external CA: one certificate, no ca.key needed'] });
    for (const id of LEAVES) {
      expect([id, ran(sel, id)]).toEqual([id, ['genkey', 'csr']]);
      expect(decision(sel, id).status).toBe('create');
    }
    expect(ran(sel, 'sa')).toEqual(['genkey', 'pubout']);
    expect(sel.steps.filter((s) => s.action === 'sign' || s.action === 'kubeconfig' || s.action === 'flags')).toEqual([]);
    expect(sel.steps.map((s) => s.action)).toEqual(expect.arrayContaining(['config']));
    expect(sel.external!.map((s) => s.unit)).toEqual(LEAVES);
    const admin = sel.external!.find((s) => s.unit === 'admin')!;
    expect(['openssl', ...admin.argv!].join(' ')).toBe('openssl x509 -req -in clients/admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 5000 -extensions v3_client -extfile client_ssl.cnf -out clients/admin.crt');
    expect(decision(sel, 'admin').reasons).toEqual(['clients/admin.csr to be signed by the external CA (kubepki generate checks clients/admin.crt once it is there)']);
  });

  test('a placed certificate that fits is kept; a request that still fits is signed as it is; the rest are listed', async () => {
    const out = fixtureFolder({ 'ca.crt': 'ca.crt', ...SERVER, 'clients/admin.key': 'test-only-leaf.key', 'clients/admin.csr': 'admin.csr' });
    const sel = await selectForGenerate(plan, out, now);
    expect(decision(sel, 'apiserver')).toEqual({ unit: 'apiserver', status: 'keep', reasons: [] });
    expect(ran(sel, 'apiserver')).toEqual([]);
    // the request on disk is the one the CA may already hold: not made again
    expect(ran(sel, 'admin')).toEqual([]);
    expect(decision(sel, 'admin').reasons[0]).toBe('clients/admin.crt missing; kept clients/admin.key');
    expect(sel.external!.map((s) => s.unit)).toEqual(LEAVES.filter((x) => x !== 'apiserver'));
  });

  test('a placed certificate for another identity is never accepted: re-requested and listed again', async () => {
    const out = fixtureFolder({ 'ca.crt': 'ca.crt', 'clients/kube-proxy.key': 'test-only-leaf.key', 'clients/kube-proxy.crt': 'admin.crt' });
    const sel = await selectForGenerate(plan, out, now);
    const d = decision(sel, 'kube-proxy');
    expect(d.status).toBe('reissue');
    expect(d.reasons).toEqual([
      'clients/kube-proxy.crt has subject /CN=admin/O=system:masters; expected /CN=system:kube-proxy',
      'clients/kube-proxy.csr to be signed by the external CA (kubepki generate checks clients/kube-proxy.crt once it is there)',
    ]);
    expect(ran(sel, 'kube-proxy')).toEqual(['csr']);
    expect(sel.external!.some((s) => s.unit === 'kube-proxy')).toBe(true);
  });

  test('a server certificate without the SANs of this spec is listed again', async () => {
    const s = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3 }\ncontrolPlaneEndpoint: "lb.example.com:6443"\nca: { external: true }\n', 'ext.yaml');
    const sel = await selectForGenerate(buildPlan(s), fixtureFolder({ 'ca.crt': 'ca.crt', ...SERVER }), now);
    expect(decision(sel, 'apiserver').status).toBe('reissue');
    expect(decision(sel, 'apiserver').reasons[0]).toMatch(/^server\.crt has SANs .*; missing lb\.example\.com$/);
    expect(sel.external!.map((s) => s.unit)).toContain('apiserver');
  });

  test('ca.crt missing, or not a CA certificate: refused, naming what to place', async () => {
    const missing = await selectForGenerate(plan, fixtureFolder({}), now).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(EnvError);
    expect((missing as EnvError).message).toMatch(/^ca\.external is true, but ca\.crt is missing in /);
    expect((missing as EnvError).details.join('\n')).toMatch(/a bundle of the issuing CA and the CAs above it works/);
    const leaf = await selectForGenerate(plan, fixtureFolder({ 'ca.crt': 'server.crt' }), now).catch((e: unknown) => e);
    expect(leaf).toBeInstanceOf(EnvError);
    expect((leaf as EnvError).message).toMatch(/does not fit the spec: ca\.crt lacks basicConstraints CA:TRUE: only CA certificates belong in ca\.crt/);
  });

  test('a CA key beside an external ca.crt is neither needed nor read', async () => {
    // a key that is not ca.crt's: with ca.external it is not the CA's business
    const sel = await selectForGenerate(plan, fixtureFolder({ 'ca.crt': 'ca.crt', 'ca.key': 'test-only-leaf.key' }), now);
    expect(decision(sel, 'ca').status).toBe('keep');
  });

  test('renew makes new requests for the CA to sign and lists them; --rekey is refused', async () => {
    const out = fixtureFolder({ 'ca.crt': 'ca.crt', ...SERVER });
    const sel = await selectForRenew(plan, out, ['apiserver'], { rekey: false, days: 90 });
    expect(sel.steps.filter((s) => s.argv).map((s) => s.id)).toEqual(['apiserver:csr']);
    expect(sel.external!.map((s) => s.id)).toEqual(['apiserver:crt']);
    expect(sel.external![0].argv).toContain('90');
    expect(sel.decisions).toEqual([{ unit: 'apiserver', status: 'reissue', reasons: ['server.csr made again, to be signed by the external CA'] }]);
    await expect(selectForRenew(plan, out, ['apiserver'], { rekey: true })).rejects.toThrow(/renew --rekey cannot renew a certificate of the external CA/);
  });
});
