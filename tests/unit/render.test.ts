import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseIni } from 'ini';
import { parse as parseYaml, stringify } from 'yaml';
import { certRows, MASTER_CNF } from '../../src/catalog/certs.js';
import { kubeconfigRows } from '../../src/catalog/kubeconfigs.js';
import { renderConfigs, renderIni, renderReqCnf } from '../../src/render/cnf.js';
import { emitPlain, fillKubeconfig, kubeconfigTemplate, loadYaml } from '../../src/render/kubeconfig.js';
import { defaultSpec, parseSpecText } from '../../src/spec/load.js';
import { FIXTURES } from '../helpers/cli.js';

beforeAll(loadYaml); // for kubeconfigs with a value that needs quoting (the others are written without it)

/** ini.parse, with section names trimmed: the document writes "[ v3_req ]", openssl reads it as v3_req. */
const parseCnf = (text: string) => Object.fromEntries(Object.entries(parseIni(text)).map(([k, v]) => [k.trim(), v]));

describe('master_ssl.cnf', () => {
  const spec = defaultSpec();
  const text = renderConfigs(certRows(spec)).get(MASTER_CNF)!;

  test('for the default spec, parses identically to the document (fixtures/master_ssl.cnf)', () => {
    const doc = readFileSync(path.join(FIXTURES, 'master_ssl.cnf'), 'utf8');
    expect(parseCnf(text)).toEqual(parseCnf(doc));
    // same sections in the same order, including the empty one ini would drop
    expect(text.match(/^\[.*\]$/gm)).toEqual(['[req]', '[req_distinguished_name]', '[v3_req]', '[alt_names]']);
  });

  test('carries the SANs in the documented order', () => {
    expect(text).toContain(
      ['DNS.1 = kubernetes', 'DNS.2 = kubernetes.default', 'DNS.3 = kubernetes.default.svc', 'DNS.4 = kubernetes.default.svc.cluster.local', 'DNS.5 = k8s-master', 'IP.1 = 169.169.0.1', 'IP.2 = 192.168.18.3'].join('\n'),
    );
  });

  test('extra SANs append after the documented ones', () => {
    const s = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3, extraSANs: [lb.example.com, 10.0.0.9] }\n', 'x');
    const t = renderConfigs(certRows(s)).get(MASTER_CNF)!;
    expect(t).toContain('DNS.5 = k8s-master\nDNS.6 = lb.example.com\nIP.1 = 169.169.0.1\nIP.2 = 192.168.18.3\nIP.3 = 10.0.0.9\n');
  });

  test('a value ini would quote or escape is refused, never written mangled', () => {
    expect(() => renderIni([['s', { k: 'a;b' }]])).toThrow(/would be mangled/);
    expect(() => renderIni([['s', { k: '$ENV::HOME' }]])).toThrow(/would be mangled/);
    expect(() => renderIni([['s', { k: 'a=b' }]])).toThrow(/would be mangled/);
  });
});

test('the cnf of an etcd member and of a kubelet serving cert carry their EKU and SANs', () => {
  const s = parseSpecText('master: { hostname: cp, ip: 10.0.0.1 }\nnodes: [{ name: n1, ip: 10.0.0.2 }]\netcd: { mode: tls, members: [{ name: e1, ip: 10.0.0.11 }] }\n', 'x');
  const rows = certRows(s);
  const etcd = renderReqCnf(rows.find((r) => r.id === 'etcd-server-e1')!, 'etcd');
  expect(parseCnf(etcd).v3_req).toEqual({ basicConstraints: 'CA:FALSE', keyUsage: 'digitalSignature, keyEncipherment', extendedKeyUsage: 'serverAuth, clientAuth', subjectAltName: '@alt_names' });
  expect(parseCnf(etcd).alt_names).toEqual({ 'DNS.1': 'e1', 'DNS.2': 'localhost', 'IP.1': '10.0.0.11', 'IP.2': '127.0.0.1', 'IP.3': '::1' });
  const kubelet = renderReqCnf(rows.find((r) => r.id === 'kubelet-serving-n1')!, 'k');
  expect(parseCnf(kubelet).alt_names).toEqual({ 'DNS.1': 'n1', 'IP.1': '10.0.0.2' });
});

describe('kubeconfigs', () => {
  const spec = defaultSpec();
  const rows = kubeconfigRows(certRows(spec));
  test('one per client of kube-apiserver', () => {
    expect(rows.map((r) => r.path)).toEqual([
      'kubeconfig/kube-controller-manager.kubeconfig',
      'kubeconfig/kube-scheduler.kubeconfig',
      'kubeconfig/kube-proxy.kubeconfig',
      'kubeconfig/admin.kubeconfig',
      'kubeconfig/kubelet-k8s-node-1.kubeconfig',
    ]);
  });
  test('embedded: cluster, server, data of the files, one context that is current', () => {
    const t = kubeconfigTemplate(spec, rows[3])!;
    expect(t.secret).toBe(true);
    const text = fillKubeconfig(t, (rel) => Buffer.from(`bytes of ${rel}`));
    const doc = parseYaml(text);
    expect(doc.clusters).toEqual([{ name: 'kubernetes', cluster: { 'certificate-authority-data': Buffer.from('bytes of ca.crt').toString('base64'), server: 'https://192.168.18.3:6443' } }]);
    expect(doc.users[0]).toEqual({
      name: 'admin',
      user: { 'client-certificate-data': Buffer.from('bytes of clients/admin.crt').toString('base64'), 'client-key-data': Buffer.from('bytes of clients/admin.key').toString('base64') },
    });
    expect(doc.contexts).toEqual([{ name: 'admin@kubernetes', context: { cluster: 'kubernetes', user: 'admin' } }]);
    expect(doc['current-context']).toBe('admin@kubernetes');
  });
  test('embedCerts false: absolute paths under install.dir; IPv6 server in brackets', () => {
    const s = parseSpecText('cluster: { serviceClusterIpRange: "fd00:10:96::/112" }\nmaster: { hostname: cp, ip: "2001:db8::10", securePort: 443 }\nkubeconfig: { embedCerts: false }\ninstall: { dir: /etc/k8s/pki }\n', 'x');
    const t = kubeconfigTemplate(s, kubeconfigRows(certRows(s))[0])!;
    expect(t.secret).toBe(false);
    const doc = parseYaml(t.text);
    expect(doc.clusters[0].cluster).toEqual({ 'certificate-authority': '/etc/k8s/pki/ca.crt', server: 'https://[2001:db8::10]:443' });
    expect(doc.users[0].user).toEqual({ 'client-certificate': '/etc/k8s/pki/clients/kube-controller-manager.crt', 'client-key': '/etc/k8s/pki/clients/kube-controller-manager.key' });
  });
});

describe('kubeconfig YAML without the library (emitPlain)', () => {
  const rowsOf = (s: ReturnType<typeof defaultSpec>) => kubeconfigRows(certRows(s));
  const doc = (user: string, server = 'https://192.168.18.3:6443', cluster = 'kubernetes') => ({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { 'certificate-authority-data': 'KUBEPKIEMBED0X', server } }],
    users: [{ name: user, user: { 'client-certificate-data': 'KUBEPKIEMBED1X', 'client-key-data': 'KUBEPKIEMBED2X' } }],
    contexts: [{ name: `${user}@${cluster}`, context: { cluster, user } }],
    'current-context': `${user}@${cluster}`,
    preferences: {},
  });
  test('writes what yaml.stringify writes, byte for byte, or declines', () => {
    const plainOnes = ['admin', 'system:kube-proxy', 'system:node:k8s-node-1', 'ci:bot', 'a.b_c-d', 'Infinity', 'yes', 'on', 'inf', 'x[1]'];
    const quoted = ['Jane Doe', 'true', 'False', 'NULL', 'foo:', '@bot', '1e5', '0x1F', '-bot', 'é', 'a#b', 'a,b', 'a"b', "a'b", 'a b: c'];
    for (const u of [...plainOnes, ...quoted]) {
      const d = doc(u);
      const got = emitPlain(d);
      if (plainOnes.includes(u)) expect(got).toBe(stringify(d, { lineWidth: 0 }));
      else expect(got).toBeUndefined();
    }
    for (const server of ['https://[2001:db8::10]:443', 'https://10.0.0.1:6443']) expect(emitPlain(doc('admin', server))).toBe(stringify(doc('admin', server), { lineWidth: 0 }));
    const byPath = { ...doc('admin'), users: [{ name: 'admin', user: { 'client-certificate': '/etc/k8s/pki/clients/admin.crt', 'client-key': '/etc/k8s/pki/clients/admin.key' } }] };
    expect(emitPlain(byPath)).toBe(stringify(byPath, { lineWidth: 0 }));
  });
  test('the default cluster needs no YAML library; a quoted value gets the library\'s quoting', () => {
    for (const r of rowsOf(defaultSpec())) {
      const t = kubeconfigTemplate(defaultSpec(), r)!;
      expect(emitPlain(parseYaml(t.text))).toBe(t.text);
    }
    const s = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3 }\nclients:\n  - { name: jane, cn: "Jane Doe", organizations: [dev] }\n  - { name: t, cn: "true" }\n', 'x');
    const rows = rowsOf(s);
    const jane = kubeconfigTemplate(s, rows.find((r) => r.name === 'jane')!)!;
    expect(jane.text).toContain('\n  - name: Jane Doe\n');
    const t = kubeconfigTemplate(s, rows.find((r) => r.name === 't')!)!;
    expect(t.text).toContain('\n  - name: "true"\n');
    expect(parseYaml(t.text).users[0].name).toBe('true');
  });
});
