// Component start-up flags as one table of data. Each row: the component, the flag, its value
// (from the spec and the layout; null = not written for this spec), the first minor version that
// has it (`since`), the minor version that removed it (`until`), and where that is written down.
// A new Kubernetes release is a new row (or an `until` on an old one).
import type { Spec } from '../spec/schema.js';
import { canonicalIp } from '../spec/net.js';
import { hostOf, onHost } from '../spec/derive.js';
import * as N from './names.js';

export type Component = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'kube-proxy' | 'etcd';

export interface FlagContext {
  spec: Spec;
  /** host path of an OUT-relative file: install.dir + '/' + rel */
  host: (rel: string) => string;
  /** host path of an entry's file */
  file: (e: N.Named, ext: 'key' | 'crt' | 'pub') => string;
  node?: { name: string; ip: string };
  member?: { name: string; ip: string };
  /** kube-apiserver: the control-plane host this file is for, and its serving certificate */
  master?: ControlPlaneHost;
}

/** A control-plane host: the first is spec.master (server.crt, the document's); masters[] follow. */
export interface ControlPlaneHost {
  hostname: string;
  ip: string;
  cert: N.Named;
}

export function controlPlaneHosts(spec: Spec): ControlPlaneHost[] {
  return [{ ...spec.master, cert: N.APISERVER }, ...spec.masters.map((m) => ({ ...m, cert: N.apiserverOf(m.hostname) }))];
}

export interface FlagRule {
  component: Component;
  flag: string;
  value: (c: FlagContext) => string | null;
  since?: number;
  until?: number;
  source: string;
}

const SEED = 'the source document, §1.1 (KUBE_API_ARGS)';
const SEED_ADMISSION = 'NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota';
const KUBELET_AUTH = 'kubelet authentication/authorization docs: the kubelet allows anonymous requests and authorizes every request (AlwaysAllow) unless told otherwise; kubeadm sets anonymous off, webhook token authentication on and Webhook authorization';
const KLOG = 'KEP-2845: klog-specific flags deprecated in 1.23 (#105042), removed in 1.26 (#112120, CHANGELOG-1.26)';
const hostPort = (ip: string, port: number) => `${hostOf(ip)}:${port}`;
const etcdTls = (c: FlagContext) => c.spec.etcd.mode === 'tls';
const kubeletTls = (c: FlagContext) => c.spec.kubeletTLS.enabled;
const kc = (e: N.Named) => (c: FlagContext) => c.host(N.kubeconfigPath(e));
const logs = (component: Component): FlagRule[] => [
  { component, flag: '--logtostderr', value: () => 'false', until: 26, source: KLOG },
  { component, flag: '--log-dir', value: () => '/var/log/kubernetes', until: 26, source: KLOG },
  { component, flag: '--v', value: () => '0', source: SEED },
];

export const FLAG_RULES: FlagRule[] = [
  // kube-apiserver: the document's line, in its order, then what current versions require
  {
    component: 'kube-apiserver',
    flag: '--etcd-servers',
    value: (c) => (etcdTls(c) ? c.spec.etcd.members.map((m) => `https://${hostPort(m.ip, 2379)}`).join(',') : 'http://127.0.0.1:2379'),
    source: SEED,
  },
  { component: 'kube-apiserver', flag: '--client-ca-file', value: (c) => c.file(N.CA, 'crt'), source: SEED },
  { component: 'kube-apiserver', flag: '--tls-private-key-file', value: (c) => c.file(c.master!.cert, 'key'), source: SEED },
  { component: 'kube-apiserver', flag: '--tls-cert-file', value: (c) => c.file(c.master!.cert, 'crt'), source: SEED },
  { component: 'kube-apiserver', flag: '--insecure-port', value: () => '0', until: 24, source: 'CHANGELOG-1.20 (#95856): only 0 allowed, removed in 1.24 (CHANGELOG-1.24)' },
  { component: 'kube-apiserver', flag: '--secure-port', value: (c) => String(c.spec.master.securePort), source: SEED },
  { component: 'kube-apiserver', flag: '--service-cluster-ip-range', value: (c) => c.spec.cluster.serviceClusterIpRange, source: SEED },
  { component: 'kube-apiserver', flag: '--service-node-port-range', value: () => '1-65535', source: SEED },
  { component: 'kube-apiserver', flag: '--enable-admission-plugins', value: () => SEED_ADMISSION, until: 24, source: SEED },
  {
    component: 'kube-apiserver',
    flag: '--enable-admission-plugins',
    value: () => `${SEED_ADMISSION},NodeRestriction`,
    since: 24,
    source:
      "Node authorization docs: the Node authorizer is to be used with the NodeRestriction admission plugin, which limits a kubelet to its own Node and its pods' objects (kubeadm enables it); without it a kubelet's identity can rewrite any other Node. The document's list stays verbatim up to 1.23",
  },
  ...logs('kube-apiserver'),
  { component: 'kube-apiserver', flag: '--advertise-address', value: (c) => canonicalIp(c.master!.ip), source: 'kube-apiserver reference: the address published to the cluster (the kubeconfigs name it)' },
  { component: 'kube-apiserver', flag: '--authorization-mode', value: () => 'Node,RBAC', source: 'RBAC and Node authorizer docs: the identities kubepki issues (system:node:*, system:kube-*) are what they expect' },
  { component: 'kube-apiserver', flag: '--service-account-key-file', value: (c) => c.file(N.SA, 'pub'), source: 'kube-apiserver reference: verifies service-account tokens' },
  {
    component: 'kube-apiserver',
    flag: '--service-account-signing-key-file',
    value: (c) => c.file(N.SA, 'key'),
    since: 20,
    source: 'CHANGELOG-1.20: TokenRequest GA; kube-apiserver requires --service-account-issuer and --service-account-signing-key-file (#95896)',
  },
  {
    component: 'kube-apiserver',
    flag: '--service-account-issuer',
    value: (c) => `https://kubernetes.default.svc.${c.spec.cluster.dnsDomain}`,
    since: 20,
    source: 'CHANGELOG-1.20: TokenRequest GA; kube-apiserver requires --service-account-issuer and --service-account-signing-key-file (#95896)',
  },
  { component: 'kube-apiserver', flag: '--etcd-cafile', value: (c) => (etcdTls(c) ? c.file(N.ETCD_CA, 'crt') : null), source: 'kubeadm: etcd over TLS' },
  { component: 'kube-apiserver', flag: '--etcd-certfile', value: (c) => (etcdTls(c) ? c.file(N.APISERVER_ETCD_CLIENT, 'crt') : null), source: 'kubeadm: etcd over TLS' },
  { component: 'kube-apiserver', flag: '--etcd-keyfile', value: (c) => (etcdTls(c) ? c.file(N.APISERVER_ETCD_CLIENT, 'key') : null), source: 'kubeadm: etcd over TLS' },
  { component: 'kube-apiserver', flag: '--kubelet-client-certificate', value: (c) => (kubeletTls(c) ? c.file(N.APISERVER_KUBELET_CLIENT, 'crt') : null), source: 'kubelet authentication docs' },
  { component: 'kube-apiserver', flag: '--kubelet-client-key', value: (c) => (kubeletTls(c) ? c.file(N.APISERVER_KUBELET_CLIENT, 'key') : null), source: 'kubelet authentication docs' },
  { component: 'kube-apiserver', flag: '--kubelet-certificate-authority', value: (c) => (kubeletTls(c) ? c.file(N.CA, 'crt') : null), source: 'kubelet serving certificates, verified by kube-apiserver' },
  ...(
    [
      ['--requestheader-client-ca-file', (c: FlagContext) => c.file(N.FRONT_PROXY_CA, 'crt')],
      ['--proxy-client-cert-file', (c: FlagContext) => c.file(N.FRONT_PROXY_CLIENT, 'crt')],
      ['--proxy-client-key-file', (c: FlagContext) => c.file(N.FRONT_PROXY_CLIENT, 'key')],
      ['--requestheader-allowed-names', () => 'front-proxy-client'],
      ['--requestheader-extra-headers-prefix', () => 'X-Remote-Extra-'],
      ['--requestheader-group-headers', () => 'X-Remote-Group'],
      ['--requestheader-username-headers', () => 'X-Remote-User'],
    ] as const
  ).map(
    ([flag, v]): FlagRule => ({
      component: 'kube-apiserver',
      flag,
      value: (c) => (c.spec.frontProxy ? v(c) : null),
      source: 'configure the aggregation layer (kubernetes.io docs)',
    }),
  ),

  // kube-controller-manager (document §1.2, with sa.key instead of reusing server.key)
  { component: 'kube-controller-manager', flag: '--kubeconfig', value: kc(N.CONTROLLER_MANAGER), source: 'the source document, §1.2' },
  { component: 'kube-controller-manager', flag: '--authentication-kubeconfig', value: kc(N.CONTROLLER_MANAGER), source: 'kube-controller-manager reference' },
  { component: 'kube-controller-manager', flag: '--authorization-kubeconfig', value: kc(N.CONTROLLER_MANAGER), source: 'kube-controller-manager reference' },
  { component: 'kube-controller-manager', flag: '--service-account-private-key-file', value: (c) => c.file(N.SA, 'key'), source: 'the source document, §1.2' },
  { component: 'kube-controller-manager', flag: '--root-ca-file', value: (c) => c.file(N.CA, 'crt'), source: 'the source document, §1.2' },
  { component: 'kube-controller-manager', flag: '--client-ca-file', value: (c) => c.file(N.CA, 'crt'), source: 'kube-controller-manager reference: authenticates clients of its secure port (kubeadm sets it)' },
  {
    component: 'kube-controller-manager',
    flag: '--cluster-signing-cert-file',
    value: (c) => (c.spec.ca.external ? null : c.file(N.CA, 'crt')),
    source: 'kube-controller-manager reference: signs CSRs with the cluster CA (none with an external CA: its key is not here)',
  },
  {
    component: 'kube-controller-manager',
    flag: '--cluster-signing-key-file',
    value: (c) => (c.spec.ca.external ? null : c.file(N.CA, 'key')),
    source: 'kube-controller-manager reference: signs CSRs with the cluster CA (none with an external CA: its key is not here)',
  },
  { component: 'kube-controller-manager', flag: '--service-cluster-ip-range', value: (c) => c.spec.cluster.serviceClusterIpRange, source: 'kube-controller-manager reference' },
  { component: 'kube-controller-manager', flag: '--use-service-account-credentials', value: () => 'true', source: 'RBAC docs: per-controller credentials' },
  { component: 'kube-controller-manager', flag: '--requestheader-client-ca-file', value: (c) => (c.spec.frontProxy ? c.file(N.FRONT_PROXY_CA, 'crt') : null), source: 'configure the aggregation layer' },
  ...logs('kube-controller-manager'),

  // kube-scheduler
  { component: 'kube-scheduler', flag: '--kubeconfig', value: kc(N.SCHEDULER), source: 'the source document, §1.3' },
  { component: 'kube-scheduler', flag: '--authentication-kubeconfig', value: kc(N.SCHEDULER), source: 'kube-scheduler reference' },
  { component: 'kube-scheduler', flag: '--authorization-kubeconfig', value: kc(N.SCHEDULER), source: 'kube-scheduler reference' },
  { component: 'kube-scheduler', flag: '--leader-elect', value: () => 'true', source: 'kube-scheduler reference' },
  ...logs('kube-scheduler'),

  // kubelet, one file per node
  { component: 'kubelet', flag: '--kubeconfig', value: (c) => c.host(N.kubeconfigPath(N.kubeletClient(c.node!.name))), source: 'the source document, §1.4' },
  { component: 'kubelet', flag: '--hostname-override', value: (c) => c.node!.name, source: 'kubelet reference: the node name must match the certificate (system:node:<name>)' },
  { component: 'kubelet', flag: '--client-ca-file', value: (c) => c.file(N.CA, 'crt'), source: 'kubelet authentication docs' },
  { component: 'kubelet', flag: '--cluster-domain', value: (c) => c.spec.cluster.dnsDomain, source: 'kubelet reference' },
  { component: 'kubelet', flag: '--tls-cert-file', value: (c) => (kubeletTls(c) ? c.file(N.kubeletServing(c.node!.name), 'crt') : null), source: 'kubelet reference' },
  { component: 'kubelet', flag: '--tls-private-key-file', value: (c) => (kubeletTls(c) ? c.file(N.kubeletServing(c.node!.name), 'key') : null), source: 'kubelet reference' },
  { component: 'kubelet', flag: '--anonymous-auth', value: () => 'false', source: KUBELET_AUTH },
  { component: 'kubelet', flag: '--authentication-token-webhook', value: () => 'true', source: KUBELET_AUTH },
  { component: 'kubelet', flag: '--authorization-mode', value: () => 'Webhook', source: KUBELET_AUTH },
  ...logs('kubelet'),

  // kube-proxy
  { component: 'kube-proxy', flag: '--kubeconfig', value: kc(N.PROXY), source: 'the source document, §1.5' },
  ...logs('kube-proxy'),

  // etcd, one file per member (etcd.mode: tls)
  ...(
    [
      ['--name', (c: FlagContext) => c.member!.name],
      ['--data-dir', (c: FlagContext) => `/var/lib/etcd/${c.member!.name}`],
      // kubeadm listens on loopback too (healthchecks, etcdctl on the host); written once if the member's IP is 127.0.0.1
      ['--listen-client-urls', (c: FlagContext) => [...new Set([`https://${hostPort(c.member!.ip, 2379)}`, 'https://127.0.0.1:2379'])].join(',')],
      ['--advertise-client-urls', (c: FlagContext) => `https://${hostPort(c.member!.ip, 2379)}`],
      ['--listen-peer-urls', (c: FlagContext) => `https://${hostPort(c.member!.ip, 2380)}`],
      ['--initial-advertise-peer-urls', (c: FlagContext) => `https://${hostPort(c.member!.ip, 2380)}`],
      ['--initial-cluster', (c: FlagContext) => c.spec.etcd.members.map((m) => `${m.name}=https://${hostPort(m.ip, 2380)}`).join(',')],
      ['--initial-cluster-state', () => 'new'],
      ['--cert-file', (c: FlagContext) => c.file(N.etcdMember(c.member!.name, 'server'), 'crt')],
      ['--key-file', (c: FlagContext) => c.file(N.etcdMember(c.member!.name, 'server'), 'key')],
      ['--trusted-ca-file', (c: FlagContext) => c.file(N.ETCD_CA, 'crt')],
      ['--client-cert-auth', () => 'true'],
      ['--peer-cert-file', (c: FlagContext) => c.file(N.etcdMember(c.member!.name, 'peer'), 'crt')],
      ['--peer-key-file', (c: FlagContext) => c.file(N.etcdMember(c.member!.name, 'peer'), 'key')],
      ['--peer-trusted-ca-file', (c: FlagContext) => c.file(N.ETCD_CA, 'crt')],
      ['--peer-client-cert-auth', () => 'true'],
    ] as const
  ).map(([flag, value]): FlagRule => ({ component: 'etcd', flag, value, source: 'etcd transport security docs (v3.4+)' })),
];

export interface FlagFile {
  component: Component;
  /** OUT-relative */
  path: string;
  variable: string;
  /** where the document keeps it on the host */
  hostFile: string;
  node?: { name: string; ip: string };
  member?: { name: string; ip: string };
  master?: ControlPlaneHost;
}

export function flagFiles(spec: Spec): FlagFile[] {
  const files: FlagFile[] = [
    ...controlPlaneHosts(spec).map(
      (master, i): FlagFile => ({ component: 'kube-apiserver', path: i === 0 ? 'flags/kube-apiserver.env' : `flags/kube-apiserver-${master.hostname}.env`, variable: 'KUBE_API_ARGS', hostFile: '/etc/kubernetes/apiserver', master }),
    ),
    { component: 'kube-controller-manager', path: 'flags/kube-controller-manager.env', variable: 'KUBE_CONTROLLER_MANAGER_ARGS', hostFile: '/etc/kubernetes/controller-manager' },
    { component: 'kube-scheduler', path: 'flags/kube-scheduler.env', variable: 'KUBE_SCHEDULER_ARGS', hostFile: '/etc/kubernetes/scheduler' },
    ...spec.nodes.map(
      (node): FlagFile => ({ component: 'kubelet', path: `flags/kubelet-${node.name}.env`, variable: 'KUBELET_ARGS', hostFile: '/etc/kubernetes/kubelet', node }),
    ),
    { component: 'kube-proxy', path: 'flags/kube-proxy.env', variable: 'KUBE_PROXY_ARGS', hostFile: '/etc/kubernetes/proxy' },
  ];
  if (spec.etcd.mode === 'tls') {
    for (const member of spec.etcd.members) {
      files.push({ component: 'etcd', path: `flags/etcd-${member.name}.env`, variable: 'ETCD_ARGS', hostFile: '/etc/etcd/etcd.conf', member });
    }
  }
  return files;
}

export function minorOf(version: string): number {
  return Number(version.split('.')[1]);
}

/** The flags of one file for the spec's Kubernetes version: [flag, value] in table order. */
export function flagsFor(spec: Spec, file: FlagFile): [string, string][] {
  const minor = minorOf(spec.cluster.kubernetesVersion);
  const host = (rel: string) => onHost(spec, rel);
  const ctx: FlagContext = {
    spec,
    host,
    file: (e, ext) => host(N.paths(e)[ext]),
    node: file.node,
    member: file.member,
    master: file.master,
  };
  const out: [string, string][] = [];
  for (const r of FLAG_RULES) {
    if (r.component !== file.component) continue;
    if (r.since !== undefined && minor < r.since) continue;
    if (r.until !== undefined && minor >= r.until) continue;
    const v = r.value(ctx);
    if (v !== null) out.push([r.flag, v]);
  }
  return out;
}
