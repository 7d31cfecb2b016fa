// The embedded default spec: the cluster of the source document. `kubepki init` writes this text;
// `generate` without --spec parses it. One source for both.
export const DEFAULT_SPEC_YAML = `# kubepki cluster spec — edit, then: kubepki plan --spec cluster.yaml
# Every field but master.hostname and master.ip has the default shown here
# (nodes default to none). Unknown keys are errors.

cluster:
  name: kubernetes                 # cluster name in every kubeconfig
  kubernetesVersion: "1.34"        # decides which component flags are written (quote it)
  serviceClusterIpRange: 169.169.0.0/16  # first address (169.169.0.1) = ClusterIP of the kubernetes Service, a SAN
  dnsDomain: cluster.local         # kubernetes.default.svc.<dnsDomain> is a SAN

master:
  hostname: k8s-master             # CN of the CA and of server.crt; a DNS SAN
  ip: 192.168.18.3                 # an IP SAN; kubeconfigs point at https://<ip>:<securePort>
  securePort: 6443
  extraSANs: []                    # more DNS names / IPs (load balancer, …), appended after the documented ones

nodes:                             # one kubelet identity (system:node:<name>) per node
  - { name: k8s-node-1, ip: 192.168.18.4 }

ca:
  # commonName: k8s-master         # defaults to master.hostname, as the document says
  days: 5000

certs:
  keyBits: 2048                    # RSA: 2048, 3072 or 4096
  days: 5000
  clientExtensions: true           # false: the bare documented x509 -req (X.509 v1 client certs)

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
