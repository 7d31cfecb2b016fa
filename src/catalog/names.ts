// The name and file stem of every catalogue entry, written once. The rows, the flag table, the
// kubeconfigs, the spec's reserved names and verify all take them from here, as kubeadm's
// certlist.go keeps a certificate's name and base name in one place.

export interface Named {
  /** the name operators use: `kubepki renew admin`, verify's table */
  id: string;
  /** OUT-relative path without extension: ca -> ca.key, ca.crt */
  stem: string;
}

const entry = (id: string, stem = id): Named => ({ id, stem });

export const CA = entry('ca');
export const APISERVER = entry('apiserver', 'server');
/** the service-account signing key pair (sa.key, sa.pub) */
export const SA = entry('sa');
export const ETCD_CA = entry('etcd-ca', 'etcd/ca');
export const ETCD_HEALTHCHECK_CLIENT = entry('etcd-healthcheck-client', 'etcd/healthcheck-client');
export const APISERVER_ETCD_CLIENT = entry('apiserver-etcd-client');
export const FRONT_PROXY_CA = entry('front-proxy-ca');
export const FRONT_PROXY_CLIENT = entry('front-proxy-client');
export const APISERVER_KUBELET_CLIENT = entry('apiserver-kubelet-client');

/** a client of kube-apiserver: its files live under clients/ and it gets a kubeconfig */
export const client = (id: string): Named => entry(id, `clients/${id}`);
export const CONTROLLER_MANAGER = client('kube-controller-manager');
export const SCHEDULER = client('kube-scheduler');
export const PROXY = client('kube-proxy');
export const ADMIN = client('admin');
/** the break-glass admin (admin.superAdmin): system:masters, like kubeadm's super-admin.conf */
export const SUPER_ADMIN = client('super-admin');
/** the kube-apiserver certificate of a control-plane host beside the first (masters[]) */
export const apiserverOf = (host: string): Named => entry(`apiserver-${host}`);
export const BUILTIN_CLIENTS: readonly Named[] = [CONTROLLER_MANAGER, SCHEDULER, PROXY, ADMIN, SUPER_ADMIN];

export const kubeletClient = (node: string): Named => client(`kubelet-${node}`);
export const kubeletServing = (node: string): Named => entry(`kubelet-serving-${node}`, `kubelet-serving/${node}`);
export const etcdMember = (member: string, role: 'server' | 'peer'): Named => entry(`etcd-${role}-${member}`, `etcd/${member}/${role}`);

/** Names no extra client (spec.clients) may take: every fixed entry but the built-in clients. */
export const FIXED_NAMES: readonly string[] = [CA, APISERVER, SA, ETCD_CA, ETCD_HEALTHCHECK_CLIENT, APISERVER_ETCD_CLIENT, FRONT_PROXY_CA, FRONT_PROXY_CLIENT, APISERVER_KUBELET_CLIENT].map((e) => e.id);

export const paths = (e: { stem: string }) => ({
  key: `${e.stem}.key`,
  csr: `${e.stem}.csr`,
  crt: `${e.stem}.crt`,
  /** a key pair's public half (`rsa -pubout`) */
  pub: `${e.stem}.pub`,
  /** a CA's rendered `req -x509` config */
  cnf: `${e.stem}.cnf`,
});

/** ca.crt -> ca.srl: where -CAcreateserial keeps the serial of a CA (openssl's own naming rule). */
export const serialPath = (ca: { stem: string }) => `${ca.stem}.srl`;

/** the kubeconfig of a client of kube-apiserver */
export const kubeconfigPath = (c: { id: string }) => `kubeconfig/${c.id}.kubeconfig`;

/** every artifact, its command and its sha256 (inspect/manifest.ts writes it) */
export const MANIFEST = 'manifest.json';
