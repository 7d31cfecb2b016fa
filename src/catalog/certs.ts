// The catalogue: one row per artifact (a certificate, or the service-account key pair), like
// kubeadm's certlist.go. The plan, generate, verify and renew all walk this table; adding a
// certificate is adding a row.
import { apiserverSans, appendUnique, type Sans } from '../spec/derive.js';
import type { Spec } from '../spec/schema.js';
import { canonicalIp } from '../spec/net.js';
import { escapeSubjValue } from '../x509/der.js';
import { keyWant, type KeyWant } from './keys.js';
import * as N from './names.js';

export { paths, serialPath } from './names.js';

export type Eku = 'serverAuth' | 'clientAuth';

/** Which openssl config a leaf is signed with, or a CA's `req -x509` reads. */
export interface ExtConfig {
  /** OUT-relative path of the rendered .cnf */
  file: string;
  /** the section passed to -extensions */
  section: string;
  /** also passed to `req -new -config` (the documented server cert does; plain clients do not) */
  forCsr: boolean;
}

export interface CertRow {
  /** the name operators use: `kubepki renew admin`, verify's table */
  id: string;
  /** OUT-relative path without extension: ca -> ca.key, ca.crt */
  stem: string;
  kind: 'ca' | 'leaf';
  /** id of the signing CA row (leaves only) */
  signer?: string;
  cn: string;
  o: string[];
  days: number;
  /** what its private key is */
  key: KeyWant;
  /** null: the certificate has no EKU extension (the documented server cert, bare v1 clients) */
  eku: Eku[] | null;
  /** null: no keyUsage extension expected */
  keyUsage: string[] | null;
  sans: Sans | null;
  ext: ExtConfig | null;
  /** a CA whose certificate is given (ca.external) and whose key kubepki never has: its leaves
   *  are signed by that CA, from the requests kubepki makes */
  external?: boolean;
  /** RBAC: the only identities allowed to carry system:masters */
  mayBeMaster?: boolean;
  /** the kubelet identity of a node: CN must be system:node:<node> */
  node?: string;
  group: 'document' | 'client' | 'etcd' | 'front-proxy' | 'kubelet';
  description: string;
}

export const MASTER_CNF = 'master_ssl.cnf';
/** the section of a CA's .cnf (ca.cnf, etcd/ca.cnf, …) passed to `req -x509 -extensions` */
export const CA_SECTION = 'v3_ca';
export const CLIENT_CNF = 'client_ssl.cnf';

// in the document's order (master_ssl.cnf); compared as a set. An EC key cannot encipher a key:
// its certificates leave keyEncipherment out, as kubeadm's do.
const SERVER_KU = ['nonRepudiation', 'digitalSignature', 'keyEncipherment'];
const CLIENT_KU = ['digitalSignature', 'keyEncipherment'];
const forKey = (ku: string[], key: KeyWant) => (key.algorithm === 'rsa' ? ku : ku.filter((u) => u !== 'keyEncipherment'));
const leafKey = (spec: Spec) => keyWant(spec.certs.keyAlgorithm);

export function clientRows(spec: Spec): CertRow[] {
  const bare = !spec.certs.clientExtensions;
  const client = (name: N.Named, cn: string, o: string[], extra: Partial<CertRow> = {}): CertRow => ({
    ...name,
    kind: 'leaf',
    signer: N.CA.id,
    cn,
    o,
    days: spec.certs.days,
    key: leafKey(spec),
    eku: bare ? null : ['clientAuth'],
    keyUsage: bare ? null : forKey(CLIENT_KU, leafKey(spec)),
    sans: null,
    ext: bare ? null : { file: CLIENT_CNF, section: 'v3_client', forCsr: false },
    group: 'client',
    description: '',
    ...extra,
  });
  return [
    client(N.CONTROLLER_MANAGER, 'system:kube-controller-manager', [], { description: 'kube-controller-manager → kube-apiserver' }),
    client(N.SCHEDULER, 'system:kube-scheduler', [], { description: 'kube-scheduler → kube-apiserver' }),
    client(N.PROXY, 'system:kube-proxy', [], { description: 'kube-proxy → kube-apiserver' }),
    client(N.ADMIN, 'admin', [spec.admin.group], { description: 'kubectl (cluster admin)', mayBeMaster: spec.admin.group === 'system:masters' }),
    ...(spec.admin.superAdmin ? [client(N.SUPER_ADMIN, 'kubernetes-super-admin', ['system:masters'], { description: 'break-glass kubectl (system:masters: bypasses RBAC)', mayBeMaster: true })] : []),
    ...spec.nodes.map((n) =>
      client(N.kubeletClient(n.name), `system:node:${n.name}`, ['system:nodes'], { node: n.name, description: `kubelet on ${n.name} → kube-apiserver` }),
    ),
    ...spec.clients.map((c) => client(N.client(c.name), c.cn, c.organizations, { description: 'extra client (spec.clients)' })),
  ];
}

/** kubeadm's GetEtcdAltNames (server and peer alike): DNS [member, localhost], IP [member IP, 127.0.0.1, ::1],
 *  then spec extras. Each name once: a member on 127.0.0.1 or ::1 does not repeat it. */
export function etcdMemberSans(spec: Spec, m: { name: string; ip: string }): Sans {
  return appendUnique({ dns: [m.name], ip: [canonicalIp(m.ip)] }, ['localhost', '127.0.0.1', '::1', ...spec.etcd.extraSANs]);
}

/** A kubelet's serving certificate: the subject that the kubernetes.io/kubelet-serving signer
 *  requires (CN system:node:<node>, O system:nodes), SANs the node name and IP. kubeadm has no such
 *  row (its kubelets self-sign or bootstrap through a CSR); this is what that CSR would get. */
export function kubeletServingSans(n: { name: string; ip: string }): Sans {
  return { dns: [n.name], ip: [canonicalIp(n.ip)] };
}

/** Every certificate the spec asks for, CAs before their leaves, in plan order. */
export function certRows(spec: Spec): CertRow[] {
  return catalogue(spec).filter(isCert);
}

/** A key pair that is not a certificate: the service-account token signing key (sa.key) and its
 *  public half (sa.pub) that kube-apiserver verifies tokens with. */
export interface KeyPairRow {
  id: string;
  stem: string;
  kind: 'keypair';
  key: KeyWant;
  description: string;
}

export type Entry = CertRow | KeyPairRow;
export const isCert = (e: Entry): e is CertRow => e.kind !== 'keypair';

/** Every artifact the spec asks for, in plan order: CAs before their leaves, the
 *  service-account pair after the API server's certificate. */
export function catalogue(spec: Spec): Entry[] {
  return [...documentRows(spec), ...(spec.etcd.mode === 'tls' ? etcdRows(spec) : []), ...(spec.frontProxy ? frontProxyRows(spec) : []), ...(spec.kubeletTLS.enabled ? kubeletRows(spec) : [])];
}

const leaf = (spec: Spec, r: Omit<CertRow, 'kind' | 'days' | 'key'>): CertRow => ({ kind: 'leaf', days: spec.certs.days, key: leafKey(spec), ...r, keyUsage: r.keyUsage && forKey(r.keyUsage, leafKey(spec)) });

const caRow = (spec: Spec, name: N.Named, cn: string, group: CertRow['group'], description: string): CertRow => ({
  ...name,
  kind: 'ca',
  cn,
  o: [],
  days: spec.ca.days,
  key: keyWant(spec.ca.keyAlgorithm ?? spec.certs.keyAlgorithm),
  eku: null,
  keyUsage: null,
  sans: null,
  ext: { file: N.paths(name).cnf, section: CA_SECTION, forCsr: false },
  group,
  description,
});

/** a client certificate with the client extensions (kubeadm's shape) */
const clientLeaf = (spec: Spec, name: N.Named, signer: N.Named, cn: string, o: string[], group: CertRow['group'], description: string, extra: Partial<CertRow> = {}): CertRow =>
  leaf(spec, { ...name, signer: signer.id, cn, o, eku: ['clientAuth'], keyUsage: CLIENT_KU, sans: null, ext: { file: CLIENT_CNF, section: 'v3_client', forCsr: false }, group, description, ...extra });

/** a serving certificate with its own .cnf (SANs), also read by `req -new -config` */
const servingLeaf = (spec: Spec, name: N.Named, signer: N.Named, cn: string, o: string[], eku: Eku[], sans: Sans, group: CertRow['group'], description: string): CertRow =>
  leaf(spec, { ...name, signer: signer.id, cn, o, eku, keyUsage: CLIENT_KU, sans, ext: { file: N.paths(name).cnf, section: 'v3_req', forCsr: true }, group, description });

/** A control-plane host's kube-apiserver certificate: the document's shape (master_ssl.cnf for
 *  the first master), that host's name and address, the endpoint of an HA control plane. */
const apiserverRow = (spec: Spec, name: N.Named, host: { hostname: string; ip: string }, cnf: string, description: string): CertRow =>
  leaf(spec, {
    ...name,
    signer: N.CA.id,
    cn: host.hostname,
    o: [],
    eku: null,
    keyUsage: SERVER_KU,
    sans: apiserverSans(spec, host),
    ext: { file: cnf, section: 'v3_req', forCsr: true },
    group: 'document',
    description,
  });

/** The document's PKI: its CA, kube-apiserver's certificate, the service-account pair and the clients. */
function documentRows(spec: Spec): Entry[] {
  return [
    spec.ca.external
      ? { ...caRow(spec, N.CA, spec.ca.commonName, 'document', 'cluster CA (external): signs kube-apiserver and every client'), ext: null, external: true }
      : caRow(spec, N.CA, spec.ca.commonName, 'document', 'cluster CA: signs kube-apiserver and every client'),
    apiserverRow(spec, N.APISERVER, spec.master, MASTER_CNF, 'kube-apiserver serving certificate'),
    ...spec.masters.map((m) => apiserverRow(spec, N.apiserverOf(m.hostname), m, N.paths(N.apiserverOf(m.hostname)).cnf, `kube-apiserver on ${m.hostname}: serving certificate`)),
    { ...N.SA, kind: 'keypair', key: keyWant(spec.serviceAccount.keyAlgorithm ?? spec.certs.keyAlgorithm), description: 'service-account token signing key pair' },
    ...clientRows(spec),
  ];
}

/** etcd.mode tls: kubeadm's etcd CA, a server and a peer certificate per member, and its two clients. */
function etcdRows(spec: Spec): CertRow[] {
  const members = spec.etcd.members.flatMap((m) =>
    (['server', 'peer'] as const).map((role) =>
      servingLeaf(spec, N.etcdMember(m.name, role), N.ETCD_CA, m.name, [], ['serverAuth', 'clientAuth'], etcdMemberSans(spec, m), 'etcd', role === 'server' ? `etcd ${m.name}: serving clients` : `etcd ${m.name}: peer traffic`),
    ),
  );
  return [
    caRow(spec, N.ETCD_CA, 'etcd-ca', 'etcd', 'etcd CA: signs etcd members and etcd clients'),
    ...members,
    clientLeaf(spec, N.ETCD_HEALTHCHECK_CLIENT, N.ETCD_CA, 'kube-etcd-healthcheck-client', [], 'etcd', 'liveness probes → etcd'),
    clientLeaf(spec, N.APISERVER_ETCD_CLIENT, N.ETCD_CA, 'kube-apiserver-etcd-client', [], 'etcd', 'kube-apiserver → etcd'),
  ];
}

/** frontProxy: the aggregation layer's CA and the client kube-apiserver presents to extension servers. */
function frontProxyRows(spec: Spec): CertRow[] {
  return [
    caRow(spec, N.FRONT_PROXY_CA, 'front-proxy-ca', 'front-proxy', 'front-proxy CA: aggregation layer'),
    clientLeaf(spec, N.FRONT_PROXY_CLIENT, N.FRONT_PROXY_CA, 'front-proxy-client', [], 'front-proxy', 'kube-apiserver → extension API servers'),
  ];
}

/** kubeletTLS: kube-apiserver's client of the kubelets, and each kubelet's serving certificate. */
function kubeletRows(spec: Spec): CertRow[] {
  return [
    clientLeaf(spec, N.APISERVER_KUBELET_CLIENT, N.CA, 'kube-apiserver-kubelet-client', spec.kubeletTLS.clientOrganizations, 'kubelet', 'kube-apiserver → kubelets', { mayBeMaster: true }),
    ...spec.nodes.map((n) =>
      servingLeaf(spec, N.kubeletServing(n.name), N.CA, `system:node:${n.name}`, ['system:nodes'], ['serverAuth'], kubeletServingSans(n), 'kubelet', `kubelet on ${n.name}: serving (verified by kube-apiserver)`),
    ),
  ];
}

/** -subj "/CN=…/O=…": every value escaped so that no spec value can add an RDN. */
export function subjOf(row: { cn: string; o: string[] }): string {
  return `/CN=${escapeSubjValue(row.cn)}` + row.o.map((o) => `/O=${escapeSubjValue(o)}`).join('');
}
