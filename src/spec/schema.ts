// The cluster spec: zod at the edge. Parse once, report every problem with its path;
// the rest of the code uses the inferred, fully defaulted type.
// zod/mini, zod 4's functional API: the bundle keeps only the parts of zod the spec uses (~15 KB,
// English messages included; zod's classic API is ~450 KB, ~70 ms to load here at every start
// with --spec)
import * as z from 'zod/mini';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../catalog/keys.js';
import { apiserverOf, BUILTIN_CLIENTS, etcdMember, FIXED_NAMES, kubeletClient } from '../catalog/names.js';
import { canonicalIp, cidrFamily, ipVersion, isDns1123Label, isDns1123Subdomain, parseEndpoint, parseServiceRanges } from './net.js';
import { impersonation, looksLikeRdn, rbacNameProblems } from './rbac.js';

const show = (v: unknown) => JSON.stringify(v);

/** A string that `refine` adds issues to (zod/mini: a check on the schema). */
const str = (refine: (v: string, ctx: z.core.$RefinementCtx<string>) => void) => z.string().check(z.superRefine(refine));

const ip = str((v, ctx) => {
  if (ipVersion(v) === 0) ctx.addIssue({ code: 'custom', message: `${show(v)} is not an IP address` });
});

const hostname = str((v, ctx) => {
  if (!isDns1123Subdomain(v)) {
    ctx.addIssue({
      code: 'custom',
      message: `${show(v)} is not a valid host name (DNS-1123: lower-case letters, digits, '-' and '.', each label starting and ending with a letter or digit)`,
    });
  }
});

const label = (what: string) =>
  str((v, ctx) => {
    if (!isDns1123Label(v)) {
      ctx.addIssue({
        code: 'custom',
        message: `${show(v)} is not a valid ${what} (DNS-1123 label: lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit)`,
      });
    }
  });

/** A SAN: an IP address, or a DNS name (a leading "*." wildcard label allowed). */
const san = str((v, ctx) => {
  if (ipVersion(v) !== 0) return;
  const name = v.startsWith('*.') ? v.slice(2) : v;
  if (!isDns1123Subdomain(name)) {
    ctx.addIssue({ code: 'custom', message: `${show(v)} is neither an IP address nor a valid DNS name` });
  }
});

/** Why a value cannot be a certificate subject's CN or O (escaped for -subj; never with control characters). */
function subjectProblems(v: string): string[] {
  if (v.length === 0) return ['must not be empty'];
  if (v.length > 64) return [`${show(v)} is longer than 64 characters (X.509 upper bound)`];
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) return [`${show(v)} contains a control character (NUL, newline, …)`];
  if (v !== v.trim()) return [`${show(v)} has leading or trailing spaces`];
  if (looksLikeRdn(v)) return [`${show(v)} looks like more subject fields ("/X=…"): a value cannot add a field to the subject; put each group in its own organizations entry`];
  return rbacNameProblems(v).map((m) => `${show(v)} ${m}`);
}

const subject = (check: (v: string) => string[]) =>
  str((v, ctx) => {
    for (const message of check(v)) ctx.addIssue({ code: 'custom', message });
  });

/** A value that ends up in a certificate subject (CN or O). */
const subjectValue = subject(subjectProblems);

/** An extra client's CN or O: also never one that passes for an identity kubepki makes itself. */
const clientSubject = (kind: 'CN' | 'O') =>
  subject((v) => {
    const why = impersonation(kind, v);
    return why ? [`${show(v)} ${why}`] : subjectProblems(v);
  });

const days = z.number().check(z.int('must be a whole number of days'), z.gte(1, 'must be at least 1 day'), z.lte(36500, 'must be at most 36500 days (100 years)'));

const absPath = str((v, ctx) => {
  if (!v.startsWith('/')) ctx.addIssue({ code: 'custom', message: `${show(v)} is not an absolute path` });
  else if (!/^[A-Za-z0-9._/-]+$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: `${show(v)} may only contain letters, digits, '.', '_', '-' and '/' (it is written into shell-sourced flag files)` });
  } else if (v.split('/').includes('..')) ctx.addIssue({ code: 'custom', message: `${show(v)} must not contain '..'` });
});

const version = z.pipe(
  z.unknown().check(
    z.superRefine((v, ctx) => {
  if (typeof v === 'number') {
    ctx.addIssue({ code: 'custom', message: `write the version as a string, e.g. "${v}" in quotes (YAML reads 1.30 as the number 1.3)` });
    return;
  }
  if (typeof v !== 'string' || !/^1\.\d{1,2}$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: `${show(v)} is not a Kubernetes minor version like "1.37"` });
    return;
  }
  if (Number(v.split('.')[1]) < 19) {
    ctx.addIssue({ code: 'custom', message: `${show(v)} is older than the oldest supported version, "1.19"` });
  }
    }),
  ),
  z.transform((v) => v as string),
);

const node = z.strictObject({ name: hostname, ip });

const keyAlgorithm = z.enum(KEY_ALGORITHMS, { error: `must be one of ${KEY_ALGORITHMS.join(', ')} (kubeadm's names)` });

/** "host:port" of the control plane's load balancer: a DNS name or an IP ([…] for IPv6). */
const endpoint = str((v, ctx) => {
  if (v === '') return;
  const e = parseEndpoint(v);
  const port = Number(e?.port);
  if (!e || !(port >= 1 && port <= 65535)) ctx.addIssue({ code: 'custom', message: `${show(v)} is not "host:port" (an IPv6 address in brackets: "[fd00::10]:6443")` });
  else if (e.bracketed && ipVersion(e.host) !== 6) ctx.addIssue({ code: 'custom', message: `${show(e.host)} is in brackets, which are for an IPv6 address only${ipVersion(e.host) === 4 ? ` (write ${show(`${e.host}:${e.port}`)})` : ''}` });
  else if (!e.bracketed && ipVersion(e.host) === 0 && !isDns1123Subdomain(e.host)) ctx.addIssue({ code: 'custom', message: `${show(e.host)} is neither an IP address nor a valid DNS name` });
});

const BUILTIN_IDS = BUILTIN_CLIENTS.map((c) => c.id);
const KUBELET_PREFIX = kubeletClient('').id;

/** zod/mini's defaults: `def` fills in a missing value (the output), `pre` a missing object
 *  before its own fields are parsed (their defaults then apply) */
const def = z._default;
const pre = z.prefault;
const opt = z.optional;

const fields = z.strictObject({
  cluster: pre(
    z.strictObject({
      name: def(hostname, 'kubernetes'),
      kubernetesVersion: def(version, '1.37'),
      serviceClusterIpRange: def(z.string(), '169.169.0.0/16'),
      dnsDomain: def(hostname, 'cluster.local'),
    }),
    {},
  ),
  master: z.strictObject({
    hostname,
    ip,
    securePort: def(z.number().check(z.int(), z.gte(1), z.lte(65535)), 6443),
    extraSANs: def(z.array(san), []),
  }),
  masters: def(z.array(z.strictObject({ hostname, ip })), []),
  controlPlaneEndpoint: def(endpoint, ''),
  nodes: def(z.array(node), []),
  ca: pre(
    z.strictObject({
      commonName: opt(subjectValue),
      days: def(days, 5000),
      keyAlgorithm: opt(keyAlgorithm),
      external: def(z.boolean(), false),
    }),
    {},
  ),
  certs: pre(
    z.strictObject({
      keyBits: opt(z.union([z.literal(2048), z.literal(3072), z.literal(4096)], { error: 'must be 2048, 3072 or 4096' })),
      keyAlgorithm: opt(keyAlgorithm),
      days: def(days, 5000),
      clientExtensions: def(z.boolean(), true),
    }),
    {},
  ),
  serviceAccount: pre(z.strictObject({ keyAlgorithm: opt(keyAlgorithm) }), {}),
  admin: pre(
    z.strictObject({
      group: def(subjectValue, 'system:masters'),
      superAdmin: def(z.boolean(), false),
    }),
    {},
  ),
  install: pre(z.strictObject({ dir: def(absPath, '/var/run/kubernetes') }), {}),
  kubeconfig: pre(z.strictObject({ embedCerts: def(z.boolean(), true) }), {}),
  clients: def(
    z.array(
      z.strictObject({
        name: label('client name'),
        cn: clientSubject('CN'),
        organizations: def(z.array(clientSubject('O')), []),
      }),
    ),
    [],
  ),
  etcd: pre(
    z.strictObject({
      mode: def(z.enum(['http', 'tls']), 'http'),
      members: def(z.array(node), []),
      extraSANs: def(z.array(san), []),
    }),
    {},
  ),
  frontProxy: def(z.boolean(), false),
  kubeletTLS: pre(
    z.strictObject({
      enabled: opt(z.boolean()),
      clientOrganizations: def(z.array(subjectValue), ['system:masters']),
    }),
    {},
  ),
});

export const specSchema = z.pipe(
  fields.check(
    z.superRefine((s, ctx) => {
    /** `first` names where a value was first used (default: its index in the same list) */
    const dup = (items: string[], path: (i: number) => (string | number)[], what: string, first: (i: number) => string = (i) => `entry ${i}`) => {
      const seen = new Map<string, number>();
      items.forEach((v, i) => {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: path(i), message: `${what} ${show(v)} is already used by ${first(seen.get(v)!)}` });
        else seen.set(v, i);
      });
    };
    dup(s.nodes.map((n) => n.name), (i) => ['nodes', i, 'name'], 'node name');
    dup(s.nodes.map((n) => safeCanonical(n.ip)), (i) => ['nodes', i, 'ip'], 'node IP');
    dup(s.etcd.members.map((n) => n.name), (i) => ['etcd', 'members', i, 'name'], 'member name');
    dup(s.etcd.members.map((n) => safeCanonical(n.ip)), (i) => ['etcd', 'members', i, 'ip'], 'member IP');
    dup(s.clients.map((c) => c.name), (i) => ['clients', i, 'name'], 'client name');
    s.clients.forEach((c, i) => {
      if (BUILTIN_IDS.includes(c.name) || c.name.startsWith(KUBELET_PREFIX)) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'name'], message: `${show(c.name)} is a built-in identity; pick another name` });
      } else if (FIXED_NAMES.includes(c.name) || s.etcd.members.some((m) => c.name === etcdMember(m.name, 'server').id || c.name === etcdMember(m.name, 'peer').id) || s.masters.some((m) => c.name === apiserverOf(m.hostname).id)) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'name'], message: `${show(c.name)} is the name of another kubepki certificate; pick another name` });
      }
      c.organizations.forEach((o, j) => {
        if (o === 'system:masters') {
          ctx.addIssue({
            code: 'custom',
            path: ['clients', i, 'organizations', j],
            message: `"system:masters" bypasses RBAC entirely; only the built-in admin identity carries it (bind a ClusterRole to ${show(c.cn)} instead)`,
          });
        }
      });
    });
    if (s.certs.keyBits !== undefined && s.certs.keyAlgorithm !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['certs', 'keyBits'], message: `give certs.keyAlgorithm or certs.keyBits, not both (keyBits ${s.certs.keyBits} is keyAlgorithm RSA-${s.certs.keyBits})` });
    }
    if (s.certs.days > s.ca.days) {
      const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
      ctx.addIssue({
        code: 'custom',
        path: ['certs', 'days'],
        message: `${s.certs.days} days outlive the CA (ca.days ${s.ca.days}): a leaf signed today would be valid until ${day(s.certs.days)}, its CA only until ${day(s.ca.days)} (OpenSSL signs it without a word; clients refuse it once the CA has expired); lower certs.days or raise ca.days`,
      });
    }
    if (s.admin.superAdmin && s.admin.group === 'system:masters') {
      ctx.addIssue({ code: 'custom', path: ['admin', 'superAdmin'], message: 'the break-glass super-admin is for an admin whose group is not system:masters: set admin.group (e.g. kubeadm:cluster-admins) or leave superAdmin off' });
    }
    // one list: master, then masters[]; a duplicate names the host it repeats by its path
    const cpPath = (i: number, k: 'hostname' | 'ip') => (i === 0 ? ['master', k] : ['masters', i - 1, k]);
    const cpName = (i: number) => (i === 0 ? 'master' : `masters[${i - 1}]`);
    dup([s.master.hostname, ...s.masters.map((m) => m.hostname)], (i) => cpPath(i, 'hostname'), 'control-plane host name', cpName);
    dup([s.master.ip, ...s.masters.map((m) => m.ip)].map(safeCanonical), (i) => cpPath(i, 'ip'), 'control-plane IP', cpName);
    // a master's certificate is apiserver-<hostname>: never the name of another certificate (apiserver-etcd-client, …)
    s.masters.forEach((m, i) => {
      const id = apiserverOf(m.hostname).id;
      if (FIXED_NAMES.includes(id)) {
        ctx.addIssue({ code: 'custom', path: ['masters', i, 'hostname'], message: `${show(m.hostname)}: its kube-apiserver certificate ${id} would have the name of another kubepki certificate; rename the host` });
      }
    });
    if (s.etcd.mode === 'http') {
      for (const k of ['members', 'extraSANs'] as const) {
        if (s.etcd[k].length) ctx.addIssue({ code: 'custom', path: ['etcd', k], message: `is only used with etcd.mode: tls (etcd over plain http has no certificates); set mode: tls or remove it` });
      }
    }
    // node "serving-x" has the client certificate kubelet-serving-x, the name of node x's serving certificate
    if (s.kubeletTLS.enabled ?? s.etcd.mode === 'tls') {
      const names = new Set(s.nodes.map((n) => n.name));
      s.nodes.forEach((n, i) => {
        const other = n.name.startsWith('serving-') ? n.name.slice('serving-'.length) : undefined;
        if (other !== undefined && names.has(other)) {
          ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: `${show(n.name)}: its client certificate kubelet-${n.name} would have the name of the serving certificate of node ${show(other)}; rename one of them` });
        }
      });
    }
    const ranges = parseServiceRanges(s.cluster.serviceClusterIpRange);
    if (typeof ranges === 'string') {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'serviceClusterIpRange'], message: ranges });
    } else {
      // kube-apiserver refuses to start when its primary service range and its advertise address differ in family
      const family = cidrFamily(ranges[0]);
      const masterFamily = ipVersion(s.master.ip);
      if (masterFamily !== 0 && masterFamily !== family) {
        ctx.addIssue({
          code: 'custom',
          path: ['cluster', 'serviceClusterIpRange'],
          message: `${show(ranges[0].text)} is an IPv${family} range but master.ip ${show(s.master.ip)} is IPv${masterFamily}: kube-apiserver refuses a primary service range of another family than its address; ${ranges.length === 2 ? 'put the ranges the other way round' : `give an IPv${masterFamily} range (or "IPv${masterFamily}-range,IPv${family}-range" for dual-stack)`}`,
        });
      }
    }
    }),
  ),
  z.transform((s) => {
    const certs = { keyAlgorithm: s.certs.keyAlgorithm ?? (`RSA-${s.certs.keyBits ?? 2048}` as KeyAlgorithm), days: s.certs.days, clientExtensions: s.certs.clientExtensions };
    return {
    ...s,
    certs,
    // ca.keyAlgorithm and serviceAccount.keyAlgorithm stay unset when not given: they follow
    // certs.keyAlgorithm (the catalogue resolves them), and a change of certs alone is one change
    ca: { ...s.ca, commonName: s.ca.commonName ?? s.master.hostname },
    kubeletTLS: { ...s.kubeletTLS, enabled: s.kubeletTLS.enabled ?? s.etcd.mode === 'tls' },
    etcd: {
      ...s.etcd,
      members: s.etcd.members.length > 0 || s.etcd.mode === 'http' ? s.etcd.members : [s.master, ...s.masters].map((m) => ({ name: m.hostname, ip: m.ip })),
    },
  };
  }),
);

function safeCanonical(ip: string): string {
  try {
    return canonicalIp(ip);
  } catch {
    return ip;
  }
}

export type Spec = z.output<typeof specSchema>;
export type SpecInput = z.input<typeof specSchema>;
