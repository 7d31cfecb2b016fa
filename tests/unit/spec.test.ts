import { DEFAULT_SPEC, DEFAULT_SPEC_YAML } from '../../src/spec/default.js';
import { loadSpec } from '../../src/spec/read.js';
import { defaultSpec, parseSpecText } from '../../src/spec/load.js';
import { apiserverSans, serviceClusterIp, serviceClusterIps } from '../../src/spec/derive.js';
import { specChanges, describeChange } from '../../src/spec/remember.js';
import { specSchema } from '../../src/spec/schema.js';
import { SpecError } from '../../src/errors.js';
import { specProblems } from '../helpers/spec.js';

const MIN = 'master: { hostname: k8s-master, ip: 192.168.18.3 }\n';

const problems = specProblems;

describe('the embedded default spec', () => {
  const s = defaultSpec();
  test('is the documented cluster', () => {
    expect(s.master).toEqual({ hostname: 'k8s-master', ip: '192.168.18.3', securePort: 6443, extraSANs: [] });
    expect(s.cluster).toEqual({ name: 'kubernetes', kubernetesVersion: '1.37', serviceClusterIpRange: '169.169.0.0/16', dnsDomain: 'cluster.local' });
    expect(s.ca).toEqual({ commonName: 'k8s-master', days: 5000, external: false });
    expect(s.certs).toEqual({ keyAlgorithm: 'RSA-2048', days: 5000, clientExtensions: true });
    // one master, no load balancer, the service-account key of certs' algorithm, admin in system:masters
    expect([s.masters, s.controlPlaneEndpoint, s.serviceAccount, s.admin]).toEqual([[], '', {}, { group: 'system:masters', superAdmin: false }]);
    expect(s.install.dir).toBe('/var/run/kubernetes');
    expect(s.nodes).toEqual([{ name: 'k8s-node-1', ip: '192.168.18.4' }]);
    expect(s.etcd.mode).toBe('http');
    expect(s.frontProxy).toBe(false);
    expect(s.kubeletTLS.enabled).toBe(false);
  });
  test('DEFAULT_SPEC (what commands use without --spec) is exactly what validating the YAML text makes', async () => {
    // toStrictEqual: same keys, same values, no key missing or extra on either side
    expect(DEFAULT_SPEC).toStrictEqual(s);
    const { spec, source } = await loadSpec(undefined);
    expect(spec).toStrictEqual(s);
    expect(source).toBe('embedded default spec');
    // a copy: a caller that changes it cannot change the next run's default
    spec.nodes.push({ name: 'x', ip: '10.0.0.9' });
    expect((await loadSpec(undefined)).spec.nodes).toHaveLength(1);
  });
  test('derives the documented SANs in the documented order', () => {
    expect(serviceClusterIp(s)).toBe('169.169.0.1');
    expect(apiserverSans(s)).toEqual({
      dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'k8s-master'],
      ip: ['169.169.0.1', '192.168.18.3'],
    });
  });
  test('init writes text that parses to the same spec', () => {
    expect(parseSpecText(DEFAULT_SPEC_YAML, 'x')).toEqual(s);
    expect(DEFAULT_SPEC_YAML).toMatch(/^# kubepki cluster spec/);
  });
});

describe('a minimal spec file', () => {
  test('needs only master.hostname and master.ip; nodes default to none', () => {
    const s = parseSpecText(MIN, 'm.yaml');
    expect(s.nodes).toEqual([]);
    expect(s.ca.commonName).toBe('k8s-master');
    expect(s.certs.days).toBe(5000);
  });
  test('JSON works too', () => {
    const s = parseSpecText(JSON.stringify({ master: { hostname: 'cp-1', ip: '10.0.0.1' }, ca: { commonName: 'my-ca' } }), 'm.json');
    expect(s.ca.commonName).toBe('my-ca');
    expect(s.master.hostname).toBe('cp-1');
  });
  test('IPv6: service range, master IP and extra SANs', () => {
    const s = parseSpecText(
      'cluster: { serviceClusterIpRange: "fd00:10:96::/112" }\nmaster: { hostname: cp, ip: "2001:db8::10", extraSANs: [lb.example.com, "2001:DB8:0:0::20", 10.0.0.5, "*.apps.example.com"] }\n',
      'v6.yaml',
    );
    expect(serviceClusterIp(s)).toBe('fd00:10:96::1');
    expect(apiserverSans(s)).toEqual({
      dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'cp', 'lb.example.com', '*.apps.example.com'],
      ip: ['fd00:10:96::1', '2001:db8::10', '2001:db8::20', '10.0.0.5'],
    });
  });
  test('extra SANs come after the documented ones and are not repeated', () => {
    const s = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3, extraSANs: [k8s-master, 192.168.18.3, api.example.com, 10.1.2.3] }\n', 'x');
    expect(apiserverSans(s).dns.slice(5)).toEqual(['api.example.com']);
    expect(apiserverSans(s).ip).toEqual(['169.169.0.1', '192.168.18.3', '10.1.2.3']);
  });
  test('etcd tls without members gets one member named after the master, and turns kubelet TLS on', () => {
    const s = parseSpecText(MIN + 'etcd: { mode: tls }\n', 'x');
    expect(s.etcd.members).toEqual([{ name: 'k8s-master', ip: '192.168.18.3' }]);
    expect(s.kubeletTLS.enabled).toBe(true);
  });
});

describe('bad specs: every problem at once, each with its path and a plain sentence', () => {
  test.each([
    ['master: { hostname: k8s-master, ip: 192.168.18.300 }', 'master.ip: "192.168.18.300" is not an IP address'],
    ['master: { hostname: "k8s/O=system:masters", ip: 10.0.0.1 }', 'master.hostname: "k8s/O=system:masters" is not a valid host name'],
    ['master: { hostname: K8S_Master, ip: 10.0.0.1 }', 'master.hostname: "K8S_Master" is not a valid host name'],
    ['master: { ip: 10.0.0.1 }', 'master.hostname: is required'],
    ['nodes: []', 'master: is required'],
    [MIN + 'extra: 1', 'extra: unknown key'],
    [MIN + 'cluster: { nmae: x }', 'cluster.nmae: unknown key'],
    [MIN + 'cluster: { kubernetesVersion: 1.30 }', 'cluster.kubernetesVersion: write the version as a string, e.g. "1.3" in quotes'],
    [MIN + 'cluster: { kubernetesVersion: "1.12" }', 'cluster.kubernetesVersion: "1.12" is older than the oldest supported version'],
    [MIN + 'cluster: { serviceClusterIpRange: 169.169.0.1/16 }', 'cluster.serviceClusterIpRange: "169.169.0.1/16" has host bits set; the network address is 169.169.0.0/16'],
    [MIN + 'cluster: { serviceClusterIpRange: banana }', 'cluster.serviceClusterIpRange: "banana" is not a CIDR range'],
    [MIN + 'nodes: [{ name: n1, ip: 10.0.0.2 }, { name: n1, ip: 10.0.0.3 }]', 'nodes[1].name: node name "n1" is already used by entry 0'],
    [MIN + 'nodes: [{ name: n1, ip: 10.0.0.2 }, { name: n2, ip: 10.0.0.2 }]', 'nodes[1].ip: node IP "10.0.0.2" is already used by entry 0'],
    [MIN + 'nodes: [{ name: ../etc, ip: 10.0.0.2 }]', 'nodes[0].name: "../etc" is not a valid host name'],
    [MIN + 'certs: { keyBits: 1024 }', 'certs.keyBits: must be 2048, 3072 or 4096'],
    [MIN + 'certs: { days: 0 }', 'certs.days: must be at least 1 day'],
    [MIN + 'certs: { days: "5000" }', 'certs.days: expected number, got string "5000"'],
    [MIN + 'install: { dir: /var/run/../etc }', 'install.dir: "/var/run/../etc" must not contain \'..\''],
    [MIN + 'install: { dir: relative/dir }', 'install.dir: "relative/dir" is not an absolute path'],
    [MIN + 'install: { dir: "/var/run/$(reboot)" }', 'install.dir: "/var/run/$(reboot)" may only contain'],
    [MIN + 'clients: [{ name: bot, cn: "bot\\nx" }]', 'clients[0].cn: "bot\\nx" contains a control character'],
    [MIN + 'clients: [{ name: bot, cn: "bot\\u0000" }]', 'clients[0].cn: "bot\\u0000" contains a control character'],
    [MIN + 'clients: [{ name: bot, cn: bot, organizations: [system:masters] }]', 'clients[0].organizations[0]: "system:masters" bypasses RBAC'],
    [MIN + 'clients: [{ name: admin, cn: x }]', 'clients[0].name: "admin" is a built-in identity'],
    [MIN + 'clients: [{ name: ../../x, cn: x }]', 'clients[0].name: "../../x" is not a valid client name'],
    ['master: { hostname: a, ip: 10.0.0.1, extraSANs: ["bad name!"] }', 'master.extraSANs[0]: "bad name!" is neither an IP address nor a valid DNS name'],
    [MIN + 'etcd: { mode: https }', 'etcd.mode: "https" is not one of "http", "tls"'],
    [MIN + 'cluster: { serviceClusterIpRange: "fd00:10:96::/112" }', 'cluster.serviceClusterIpRange: "fd00:10:96::/112" is an IPv6 range but master.ip "192.168.18.3" is IPv4: kube-apiserver refuses'],
    ['master: { hostname: cp, ip: "2001:db8::10" }', 'cluster.serviceClusterIpRange: "169.169.0.0/16" is an IPv4 range but master.ip "2001:db8::10" is IPv6'],
    [MIN + 'cluster: { serviceClusterIpRange: "fd00:10:96::/112,10.96.0.0/12" }', 'cluster.serviceClusterIpRange: "fd00:10:96::/112" is an IPv6 range but master.ip "192.168.18.3" is IPv4: kube-apiserver refuses a primary service range of another family than its address; put the ranges the other way round'],
    [MIN + 'cluster: { serviceClusterIpRange: "10.96.0.0/12,10.112.0.0/12" }', 'cluster.serviceClusterIpRange: "10.96.0.0/12,10.112.0.0/12" has two IPv4 ranges'],
    [MIN + 'cluster: { serviceClusterIpRange: "10.96.0.0/12,fd00::/112,fd01::/112" }', 'cluster.serviceClusterIpRange: "10.96.0.0/12,fd00::/112,fd01::/112" has 3 ranges'],
    [MIN + 'cluster: { serviceClusterIpRange: "10.96.0.0/12, fd00::/112" }', 'cluster.serviceClusterIpRange: "10.96.0.0/12, fd00::/112": write the ranges separated by a comma without spaces'],
    [MIN + 'cluster: { serviceClusterIpRange: "10.96.0.0/12,fd00::1/112" }', 'cluster.serviceClusterIpRange: in "10.96.0.0/12,fd00::1/112": "fd00::1/112" has host bits set'],
    [MIN + 'clients: [{ name: fake-kubelet, cn: "system:node:k8s-node-1" }]', 'clients[0].cn: "system:node:k8s-node-1" is the identity of a kubelet'],
    [MIN + 'clients: [{ name: fake-proxy, cn: "system:kube-proxy" }]', 'clients[0].cn: "system:kube-proxy" is the identity of a Kubernetes component'],
    [MIN + 'clients: [{ name: fake-kcm, cn: "system:kube-controller-manager" }]', 'clients[0].cn: "system:kube-controller-manager" is the identity of a Kubernetes component'],
    [MIN + 'clients: [{ name: bot, cn: bot, organizations: [ci, system:nodes] }]', 'clients[0].organizations[1]: "system:nodes" is the group of kubelets'],
    [MIN + 'clients: [{ name: anon, cn: "system:anonymous" }]', 'clients[0].cn: "system:anonymous" is the user name kube-apiserver gives requests without credentials: RBAC treats a certificate that carries it as the anonymous user'],
    [MIN + 'clients: [{ name: anon, cn: bot, organizations: [system:unauthenticated] }]', 'clients[0].organizations[0]: "system:unauthenticated" is the group kube-apiserver gives requests without credentials'],
  ])('%s', (yaml, message) => {
    const ps = problems(yaml);
    expect(ps.some((p) => p.startsWith(message))).toBe(true);
  });

  test('an impersonating client gets one sentence, not also the generic system: name check', () => {
    expect(problems(MIN + 'clients: [{ name: x, cn: "system:kube-foo" }]')).toEqual([expect.stringMatching(/^clients\[0\]\.cn: "system:kube-foo" is the identity of a Kubernetes component/)]);
    expect(problems(MIN + 'clients: [{ name: x, cn: "system:anonymous" }]')).toHaveLength(1);
  });

  test('refused specs are SpecErrors: the CLI exits 2 for them', () => {
    for (const yaml of [MIN + 'cluster: { serviceClusterIpRange: "fd00:10:96::/112" }', MIN + 'clients: [{ name: x, cn: "system:node:n9" }]', MIN + 'clients: [{ name: x, cn: "system:unauthenticated" }]']) {
      let err: unknown;
      try {
        parseSpecText(yaml, 't.yaml');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SpecError);
      expect((err as SpecError).exitCode).toBe(2);
    }
  });

  test('reports all problems, not just the first', () => {
    const ps = problems('master: { hostname: "a b", ip: nope }\ncerts: { days: -1 }\nbogus: true\n');
    expect(ps).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^master\.hostname: /),
        expect.stringMatching(/^master\.ip: "nope" is not an IP address/),
        expect.stringMatching(/^certs\.days: /),
        expect.stringMatching(/^bogus: unknown key/),
      ]),
    );
  });

  test('YAML syntax errors and non-mappings are spec errors', () => {
    expect(() => parseSpecText('master: [', 'bad.yaml')).toThrow(/bad\.yaml: not valid YAML or JSON/);
    expect(() => parseSpecText('- 1\n- 2\n', 'list.yaml')).toThrow(/must be a mapping/);
    expect(() => parseSpecText('master: {hostname: a, ip: 10.0.0.1}\nmaster: {hostname: b, ip: 10.0.0.2}\n', 'dup.yaml')).toThrow(/not valid YAML/);
  });
});

describe('dual-stack service ranges (kube-apiserver\'s "A,B")', () => {
  test('IPv4 primary: both ClusterIPs are SANs, the documented list first, the IPv6 one right after it', () => {
    const s = parseSpecText('cluster: { serviceClusterIpRange: "10.96.0.0/12,fd00:10:96::/112" }\nmaster: { hostname: k8s-master, ip: 192.168.18.3, extraSANs: [10.1.1.1] }\n', 'ds.yaml');
    expect(serviceClusterIps(s)).toEqual(['10.96.0.1', 'fd00:10:96::1']);
    expect(serviceClusterIp(s)).toBe('10.96.0.1');
    expect(apiserverSans(s).ip).toEqual(['10.96.0.1', '192.168.18.3', 'fd00:10:96::1', '10.1.1.1']);
    expect(apiserverSans(s).dns).toEqual(['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'k8s-master']);
  });
  test('IPv6 primary with an IPv6 master', () => {
    const s = parseSpecText('cluster: { serviceClusterIpRange: "fd00:10:96::/112,10.96.0.0/12" }\nmaster: { hostname: cp, ip: "2001:db8::10" }\n', 'ds6.yaml');
    expect(apiserverSans(s).ip).toEqual(['fd00:10:96::1', '2001:db8::10', '10.96.0.1']);
  });
  test('a single-stack spec keeps exactly the documented IP SANs', () => {
    expect(apiserverSans(defaultSpec()).ip).toEqual(['169.169.0.1', '192.168.18.3']);
  });
});

describe('the remembered spec', () => {
  test('a resolved spec validates again to itself (what a command reads back from OUT/.kubepki/spec.json)', () => {
    for (const yaml of [DEFAULT_SPEC_YAML, MIN + 'etcd: { mode: tls }\nfrontProxy: true\nclients: [{ name: bot, cn: bot, organizations: [ci] }]\n', MIN + 'cluster: { serviceClusterIpRange: "10.96.0.0/12,fd00:10:96::/112" }\n']) {
      const s = parseSpecText(yaml, 'x');
      const again = specSchema.parse(JSON.parse(JSON.stringify(s)));
      expect(again).toStrictEqual(s);
    }
  });
  test('drift lists each changed path with its old and new value', () => {
    const a = parseSpecText(MIN + 'nodes: [{ name: n1, ip: 10.0.0.2 }]\n', 'a');
    const b = parseSpecText('master: { hostname: k8s-master, ip: 10.0.0.1, extraSANs: [lb.example] }\nnodes: [{ name: n1, ip: 10.0.0.3 }]\ncerts: { keyBits: 3072 }\n', 'b');
    expect(specChanges(a, b).map(describeChange)).toEqual([
      'master.ip: "192.168.18.3" -> "10.0.0.1"',
      'master.extraSANs: [] -> ["lb.example"]',
      'nodes[0].ip: "10.0.0.2" -> "10.0.0.3"',
      'certs.keyAlgorithm: "RSA-2048" -> "RSA-3072"',
    ]);
    expect(specChanges(a, structuredClone(a))).toEqual([]);
  });
});
