// The etcd / front-proxy / kubelet rows against kubeadm's certlist.go (as of 1.29+), row by
// row, and the spec rules that keep their names apart. Pure: nothing is spawned.
import { certRows, type CertRow } from '../../src/catalog/certs.js';
import { flagFiles, flagsFor } from '../../src/catalog/flags.js';
import { parseSpecText } from '../../src/spec/load.js';
import { SpecError } from '../../src/errors.js';

const SPEC = `master: { hostname: cp-1, ip: 10.0.0.1 }
nodes: [{ name: n1, ip: 10.0.0.2 }]
etcd:
  mode: tls
  members: [{ name: e1, ip: 10.0.0.11 }, { name: e2, ip: 127.0.0.1 }, { name: e3, ip: "fd00::3" }]
  extraSANs: [etcd.example.com, 10.9.9.9, 127.0.0.1]
frontProxy: true
`;
const spec = parseSpecText(SPEC, 'tls.yaml');
const rows = certRows(spec);
const row = (id: string) => rows.find((r) => r.id === id)!;
const shape = (r: CertRow) => ({ stem: r.stem, signer: r.signer, cn: r.cn, o: r.o, eku: r.eku, keyUsage: r.keyUsage });
const KU = ['digitalSignature', 'keyEncipherment'];

describe("kubeadm's rows (cmd/kubeadm/app/phases/certs/certlist.go): names, file stems, CAs, CN, O, usages", () => {
  test('the CAs: etcd-ca and front-proxy-ca, self-signed, kubeadm CNs and paths', () => {
    expect(shape(row('etcd-ca'))).toEqual({ stem: 'etcd/ca', signer: undefined, cn: 'etcd-ca', o: [], eku: null, keyUsage: null });
    expect(shape(row('front-proxy-ca'))).toEqual({ stem: 'front-proxy-ca', signer: undefined, cn: 'front-proxy-ca', o: [], eku: null, keyUsage: null });
  });
  test('etcd server and peer, one pair per member: CN = member name, serverAuth + clientAuth (etcd needs both)', () => {
    for (const m of ['e1', 'e2', 'e3']) {
      for (const role of ['server', 'peer']) {
        expect(shape(row(`etcd-${role}-${m}`))).toEqual({ stem: `etcd/${m}/${role}`, signer: 'etcd-ca', cn: m, o: [], eku: ['serverAuth', 'clientAuth'], keyUsage: KU });
      }
    }
  });
  test('etcd SANs as kubeadm orders them (member name, localhost; member IP, 127.0.0.1, ::1), then extras, each once', () => {
    expect(row('etcd-server-e1').sans).toEqual({ dns: ['e1', 'localhost', 'etcd.example.com'], ip: ['10.0.0.11', '127.0.0.1', '::1', '10.9.9.9'] });
    expect(row('etcd-peer-e1').sans).toEqual(row('etcd-server-e1').sans);
    expect(row('etcd-server-e2').sans).toEqual({ dns: ['e2', 'localhost', 'etcd.example.com'], ip: ['127.0.0.1', '::1', '10.9.9.9'] });
    expect(row('etcd-server-e3').sans!.ip).toEqual(['fd00::3', '127.0.0.1', '::1', '10.9.9.9']);
  });
  test('etcd clients: no O since kubeadm 1.29 (etcd ignores it; system:masters there only widened the blast radius)', () => {
    expect(shape(row('etcd-healthcheck-client'))).toEqual({ stem: 'etcd/healthcheck-client', signer: 'etcd-ca', cn: 'kube-etcd-healthcheck-client', o: [], eku: ['clientAuth'], keyUsage: KU });
    expect(shape(row('apiserver-etcd-client'))).toEqual({ stem: 'apiserver-etcd-client', signer: 'etcd-ca', cn: 'kube-apiserver-etcd-client', o: [], eku: ['clientAuth'], keyUsage: KU });
  });
  test('front-proxy-client: signed by front-proxy-ca, clientAuth', () => {
    expect(shape(row('front-proxy-client'))).toEqual({ stem: 'front-proxy-client', signer: 'front-proxy-ca', cn: 'front-proxy-client', o: [], eku: ['clientAuth'], keyUsage: KU });
  });
  test('apiserver-kubelet-client: the cluster CA, clientAuth, O from kubeletTLS.clientOrganizations (default system:masters)', () => {
    expect(shape(row('apiserver-kubelet-client'))).toEqual({ stem: 'apiserver-kubelet-client', signer: 'ca', cn: 'kube-apiserver-kubelet-client', o: ['system:masters'], eku: ['clientAuth'], keyUsage: KU });
    expect(row('apiserver-kubelet-client').mayBeMaster).toBe(true);
    const custom = parseSpecText(SPEC + 'kubeletTLS: { clientOrganizations: ["kubeadm:cluster-admins"] }\n', 'x');
    expect(certRows(custom).find((r) => r.id === 'apiserver-kubelet-client')!.o).toEqual(['kubeadm:cluster-admins']);
  });
  test('kubelet serving (not a kubeadm row): the subject the kubelet-serving signer issues, serverAuth only, SANs node name and IP', () => {
    expect(shape(row('kubelet-serving-n1'))).toEqual({ stem: 'kubelet-serving/n1', signer: 'ca', cn: 'system:node:n1', o: ['system:nodes'], eku: ['serverAuth'], keyUsage: KU });
    expect(row('kubelet-serving-n1').sans).toEqual({ dns: ['n1'], ip: ['10.0.0.2'] });
    // a serving cert is not a kubelet identity for the Node authorizer (no clientAuth); only the client row carries `node`
    expect(row('kubelet-serving-n1').node).toBeUndefined();
  });
  test('etcd.mode http and frontProxy false: none of these rows', () => {
    const plain = certRows(parseSpecText('master: { hostname: cp-1, ip: 10.0.0.1 }\nnodes: [{ name: n1, ip: 10.0.0.2 }]\n', 'x'));
    expect(plain.filter((r) => r.group !== 'document' && r.group !== 'client')).toEqual([]);
  });
});

describe('flags of an etcd member', () => {
  const flags = (name: string) => new Map(flagsFor(spec, flagFiles(spec).find((f) => f.member?.name === name)!));
  test('a member listens on its IP and on loopback; once when its IP is 127.0.0.1; IPv6 in brackets', () => {
    expect(flags('e1').get('--listen-client-urls')).toBe('https://10.0.0.11:2379,https://127.0.0.1:2379');
    expect(flags('e2').get('--listen-client-urls')).toBe('https://127.0.0.1:2379');
    expect(flags('e3').get('--listen-client-urls')).toBe('https://[fd00::3]:2379,https://127.0.0.1:2379');
    expect(flags('e3').get('--initial-cluster')).toBe('e1=https://10.0.0.11:2380,e2=https://127.0.0.1:2380,e3=https://[fd00::3]:2380');
  });
});

describe('spec rules for the new rows', () => {
  const problems = (yaml: string): string[] => {
    try {
      parseSpecText(yaml, 'test.yaml');
    } catch (e) {
      if (e instanceof SpecError) return e.problems;
      throw e;
    }
    return [];
  };
  const MIN = 'master: { hostname: cp-1, ip: 10.0.0.1 }\n';
  test.each([
    ['etcd.members: is only used with etcd.mode: tls', MIN + 'etcd: { members: [{ name: e1, ip: 10.0.0.11 }] }'],
    ['etcd.extraSANs: is only used with etcd.mode: tls', MIN + 'etcd: { extraSANs: [x.example.com] }'],
    ['etcd.members[1].ip: member IP "10.0.0.11" is already used by entry 0', MIN + 'etcd: { mode: tls, members: [{ name: e1, ip: 10.0.0.11 }, { name: e2, ip: 10.0.0.11 }] }'],
    ['clients[0].name: "front-proxy-client" is the name of another kubepki certificate', MIN + 'clients: [{ name: front-proxy-client, cn: x }]'],
    ['clients[0].name: "ca" is the name of another kubepki certificate', MIN + 'clients: [{ name: ca, cn: x }]'],
    ['clients[0].name: "etcd-peer-e1" is the name of another kubepki certificate', MIN + 'etcd: { mode: tls, members: [{ name: e1, ip: 10.0.0.11 }] }\nclients: [{ name: etcd-peer-e1, cn: x }]'],
    ['nodes[1].name: "serving-a": its client certificate kubelet-serving-a would have the name', MIN + 'kubeletTLS: { enabled: true }\nnodes: [{ name: a, ip: 10.0.0.2 }, { name: serving-a, ip: 10.0.0.3 }]'],
  ])('%s', (message, yaml) => {
    const ps = problems(yaml);
    expect(ps.filter((p) => p.startsWith(message))).toHaveLength(1);
  });
  test('the same names are fine where they cannot clash', () => {
    expect(problems(MIN + 'clients: [{ name: etcd-peer-e1, cn: x }]\nnodes: [{ name: a, ip: 10.0.0.2 }, { name: serving-a, ip: 10.0.0.3 }]')).toEqual([]);
  });
});
