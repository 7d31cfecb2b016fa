// The embedded default spec: the cluster of the source document. `kubepki init` writes this text;
// DEFAULT_SPEC below is the same spec, validated (a unit test holds the two equal).
import type { Spec } from './schema.js';

/** How a run names the embedded spec (summary, manifest.json, messages). */
export const DEFAULT_SOURCE = 'embedded default spec';

export const DEFAULT_SPEC_YAML = `# kubepki cluster spec — edit, then: kubepki plan --spec cluster.yaml
# Every field but master.hostname and master.ip has the default shown here
# (nodes default to none). Unknown keys are errors.

cluster:
  name: kubernetes                 # cluster name in every kubeconfig
  kubernetesVersion: "1.37"        # decides which component flags are written (quote it)
  serviceClusterIpRange: 169.169.0.0/16  # first address (169.169.0.1) = ClusterIP of the kubernetes Service, a SAN
  dnsDomain: cluster.local         # kubernetes.default.svc.<dnsDomain> is a SAN

master:
  hostname: k8s-master             # CN of the CA and of server.crt; a DNS SAN
  ip: 192.168.18.3                 # an IP SAN; kubeconfigs point at https://<ip>:<securePort>
  securePort: 6443
  extraSANs: []                    # more DNS names / IPs, appended after the documented ones
masters: []                        # HA: more control-plane hosts - { hostname: k8s-master-2, ip: 192.168.18.5 },
                                   # each with its own serving cert and flags/kube-apiserver-<hostname>.env
controlPlaneEndpoint: ""           # "host:port" of a load balancer in front of every master: every
                                   # kubeconfig's server, and a SAN of every kube-apiserver cert

nodes:                             # one kubelet identity (system:node:<name>) per node
  - { name: k8s-node-1, ip: 192.168.18.4 }

ca:
  # commonName: k8s-master         # defaults to master.hostname, as the document says
  days: 5000
  # keyAlgorithm: RSA-2048         # defaults to certs.keyAlgorithm
  external: false                  # true: OUT/ca.crt is given (a bundle with intermediates works), no ca.key:
                                   # generate makes every key and CSR and lists what the CA must sign

certs:
  keyAlgorithm: RSA-2048           # RSA-2048, RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384 (kubeadm's names);
                                   # keyBits: 2048|3072|4096 is still accepted for RSA (not both)
  days: 5000                       # at most ca.days: a leaf never outlives its CA
  clientExtensions: true           # false: the bare documented x509 -req (X.509 v1 client certs)

serviceAccount: {}                 # keyAlgorithm of sa.key: defaults to certs.keyAlgorithm (RSA: RS256 tokens,
                                   # ECDSA-P256: ES256)

admin:
  group: system:masters            # the admin identity's O; e.g. kubeadm:cluster-admins: then rbac/ holds the
                                   # ClusterRoleBinding that gives that group cluster-admin (apply it first)
  superAdmin: false                # true: a break-glass super-admin identity and kubeconfig with system:masters

install:
  dir: /var/run/kubernetes         # where the files will live on the hosts (flag files and kubeconfigs name it)

kubeconfig:
  embedCerts: true                 # false: kubeconfigs name files under install.dir

clients: []                        # extra client identities: - { name: ci-bot, cn: ci-bot, organizations: [ci] }

# Beyond the document (off by default):
etcd:
  mode: http                       # http as the document does; tls: etcd CA, server/peer/healthcheck certs
  members: []                      # with tls and none given: one member named after the master
  extraSANs: []
frontProxy: false                  # aggregation layer: front-proxy CA and front-proxy-client
kubeletTLS:
  # enabled: false                 # apiserver-kubelet-client + kubelet serving certs; defaults to on with etcd tls
  clientOrganizations: [system:masters]
`;

/** DEFAULT_SPEC_YAML as the validated spec (what parseSpecText makes of it; a unit test holds the
 *  two equal). generate, plan and verify without --spec start from this: no YAML parser and no
 *  zod to load before the first openssl process. Never changed: loadSpec hands out copies. */
export const DEFAULT_SPEC: Spec = {
  cluster: { name: 'kubernetes', kubernetesVersion: '1.37', serviceClusterIpRange: '169.169.0.0/16', dnsDomain: 'cluster.local' },
  master: { hostname: 'k8s-master', ip: '192.168.18.3', securePort: 6443, extraSANs: [] },
  masters: [],
  controlPlaneEndpoint: '',
  nodes: [{ name: 'k8s-node-1', ip: '192.168.18.4' }],
  ca: { days: 5000, commonName: 'k8s-master', external: false },
  certs: { keyAlgorithm: 'RSA-2048', days: 5000, clientExtensions: true },
  serviceAccount: {},
  admin: { group: 'system:masters', superAdmin: false },
  install: { dir: '/var/run/kubernetes' },
  kubeconfig: { embedCerts: true },
  clients: [],
  etcd: { mode: 'http', members: [], extraSANs: [] },
  frontProxy: false,
  kubeletTLS: { clientOrganizations: ['system:masters'], enabled: false },
};
