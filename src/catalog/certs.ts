// The catalogue of certificates: one row per certificate, like kubeadm's certlist.go.
// The plan, generate, verify and renew all walk this table; adding a certificate is adding a row.
import { apiserverSans, appendUnique, type Sans } from '../spec/derive.js';
import type { Spec } from '../spec/schema.js';
import { canonicalIp } from '../spec/net.js';

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
  keyBits: number;
  /** null: the certificate has no EKU extension (the documented server cert, bare v1 clients) */
  eku: Eku[] | null;
  /** null: no keyUsage extension expected */
  keyUsage: string[] | null;
  sans: Sans | null;
  ext: ExtConfig | null;
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

// in the document's order (master_ssl.cnf); compared as a set
const SERVER_KU = ['nonRepudiation', 'digitalSignature', 'keyEncipherment'];
const CLIENT_KU = ['digitalSignature', 'keyEncipherment'];

export const paths = (row: { stem: string }) => ({
  key: `${row.stem}.key`,
  csr: `${row.stem}.csr`,
  crt: `${row.stem}.crt`,
});

/** ca.crt -> ca.srl: where -CAcreateserial keeps the serial of a CA (openssl's own naming rule). */
export const serialPath = (caRow: { stem: string }) => `${caRow.stem}.srl`;

export function clientRows(spec: Spec): CertRow[] {
  const bare = !spec.certs.clientExtensions;
  const client = (id: string, cn: string, o: string[], extra: Partial<CertRow> = {}): CertRow => ({
    id,
    stem: `clients/${id}`,
    kind: 'leaf',
    signer: 'ca',
    cn,
    o,
    days: spec.certs.days,
    keyBits: spec.certs.keyBits,
    eku: bare ? null : ['clientAuth'],
    keyUsage: bare ? null : CLIENT_KU,
    sans: null,
    ext: bare ? null : { file: CLIENT_CNF, section: 'v3_client', forCsr: false },
    group: 'client',
    description: '',
    ...extra,
  });
  return [
    client('kube-controller-manager', 'system:kube-controller-manager', [], { description: 'kube-controller-manager → kube-apiserver' }),
    client('kube-scheduler', 'system:kube-scheduler', [], { description: 'kube-scheduler → kube-apiserver' }),
    client('kube-proxy', 'system:kube-proxy', [], { description: 'kube-proxy → kube-apiserver' }),
    client('admin', 'admin', ['system:masters'], { description: 'kubectl (cluster admin)', mayBeMaster: true }),
    ...spec.nodes.map((n) =>
      client(`kubelet-${n.name}`, `system:node:${n.name}`, ['system:nodes'], { node: n.name, description: `kubelet on ${n.name} → kube-apiserver` }),
    ),
    ...spec.clients.map((c) => client(c.name, c.cn, c.organizations, { description: 'extra client (spec.clients)' })),
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
  const leaf = (r: Omit<CertRow, 'kind' | 'days' | 'keyBits'>): CertRow => ({ kind: 'leaf', days: spec.certs.days, keyBits: spec.certs.keyBits, ...r });
  const ca = (id: string, stem: string, cn: string, group: CertRow['group'], description: string): CertRow => ({
    id,
    stem,
    kind: 'ca',
    cn,
    o: [],
    days: spec.ca.days,
    keyBits: spec.certs.keyBits,
    eku: null,
    keyUsage: null,
    sans: null,
    ext: { file: `${stem}.cnf`, section: CA_SECTION, forCsr: false },
    group,
    description,
  });
  const clientExt: ExtConfig = { file: CLIENT_CNF, section: 'v3_client', forCsr: false };
  const rows: CertRow[] = [
    ca('ca', 'ca', spec.ca.commonName, 'document', 'cluster CA: signs kube-apiserver and every client'),
    leaf({
      id: 'apiserver',
      stem: 'server',
      signer: 'ca',
      cn: spec.master.hostname,
      o: [],
      eku: null,
      keyUsage: SERVER_KU,
      sans: apiserverSans(spec),
      ext: { file: MASTER_CNF, section: 'v3_req', forCsr: true },
      group: 'document',
      description: 'kube-apiserver serving certificate',
    }),
    ...clientRows(spec),
  ];
  if (spec.etcd.mode === 'tls') {
    rows.push(ca('etcd-ca', 'etcd/ca', 'etcd-ca', 'etcd', 'etcd CA: signs etcd members and etcd clients'));
    for (const m of spec.etcd.members) {
      const sans = etcdMemberSans(spec, m);
      for (const role of ['server', 'peer'] as const) {
        rows.push(
          leaf({
            id: `etcd-${role}-${m.name}`,
            stem: `etcd/${m.name}/${role}`,
            signer: 'etcd-ca',
            cn: m.name,
            o: [],
            eku: ['serverAuth', 'clientAuth'],
            keyUsage: CLIENT_KU,
            sans,
            ext: { file: `etcd/${m.name}/${role}.cnf`, section: 'v3_req', forCsr: true },
            group: 'etcd',
            description: role === 'server' ? `etcd ${m.name}: serving clients` : `etcd ${m.name}: peer traffic`,
          }),
        );
      }
    }
    rows.push(
      leaf({
        id: 'etcd-healthcheck-client',
        stem: 'etcd/healthcheck-client',
        signer: 'etcd-ca',
        cn: 'kube-etcd-healthcheck-client',
        o: [],
        eku: ['clientAuth'],
        keyUsage: CLIENT_KU,
        sans: null,
        ext: clientExt,
        group: 'etcd',
        description: 'liveness probes → etcd',
      }),
      leaf({
        id: 'apiserver-etcd-client',
        stem: 'apiserver-etcd-client',
        signer: 'etcd-ca',
        cn: 'kube-apiserver-etcd-client',
        o: [],
        eku: ['clientAuth'],
        keyUsage: CLIENT_KU,
        sans: null,
        ext: clientExt,
        group: 'etcd',
        description: 'kube-apiserver → etcd',
      }),
    );
  }
  if (spec.frontProxy) {
    rows.push(
      ca('front-proxy-ca', 'front-proxy-ca', 'front-proxy-ca', 'front-proxy', 'front-proxy CA: aggregation layer'),
      leaf({
        id: 'front-proxy-client',
        stem: 'front-proxy-client',
        signer: 'front-proxy-ca',
        cn: 'front-proxy-client',
        o: [],
        eku: ['clientAuth'],
        keyUsage: CLIENT_KU,
        sans: null,
        ext: clientExt,
        group: 'front-proxy',
        description: 'kube-apiserver → extension API servers',
      }),
    );
  }
  if (spec.kubeletTLS.enabled) {
    rows.push(
      leaf({
        id: 'apiserver-kubelet-client',
        stem: 'apiserver-kubelet-client',
        signer: 'ca',
        cn: 'kube-apiserver-kubelet-client',
        o: spec.kubeletTLS.clientOrganizations,
        eku: ['clientAuth'],
        keyUsage: CLIENT_KU,
        sans: null,
        ext: clientExt,
        mayBeMaster: true,
        group: 'kubelet',
        description: 'kube-apiserver → kubelets',
      }),
      ...spec.nodes.map((n) =>
        leaf({
          id: `kubelet-serving-${n.name}`,
          stem: `kubelet-serving/${n.name}`,
          signer: 'ca',
          cn: `system:node:${n.name}`,
          o: ['system:nodes'],
          eku: ['serverAuth'],
          keyUsage: CLIENT_KU,
          sans: kubeletServingSans(n),
          ext: { file: `kubelet-serving/${n.name}.cnf`, section: 'v3_req', forCsr: true },
          group: 'kubelet',
          description: `kubelet on ${n.name}: serving (verified by kube-apiserver)`,
        }),
      ),
    );
  }
  return rows;
}

/** The service-account signing key pair (sa.key, sa.pub): not a certificate, still a catalogue entry. */
export const SA = { id: 'sa', key: 'sa.key', pub: 'sa.pub' } as const;
