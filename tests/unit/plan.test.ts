import { certRows } from '../../src/catalog/certs.js';
import { kubeconfigRows } from '../../src/catalog/kubeconfigs.js';
import { buildPlan, dependencies, subjOf } from '../../src/plan/plan.js';
import { loadYaml } from '../../src/render/kubeconfig.js';
import { renderScript, commandLine } from '../../src/render/script.js';
import { defaultSpec, parseSpecText } from '../../src/spec/load.js';
import { FULL } from '../helpers/spec.js';

beforeAll(loadYaml); // kubeconfig templates render with the YAML library, imported on first need

describe('the catalogue (rules of the table, not only its rows)', () => {
  for (const [label, spec] of [['default', defaultSpec()], ['full', FULL]] as const) {
    test(`${label}: ids and file stems are unique; every CA comes before its leaves; every signer is a CA`, () => {
      const rows = certRows(spec);
      expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
      expect(new Set(rows.map((r) => r.stem)).size).toBe(rows.length);
      rows.forEach((r, i) => {
        if (r.kind === 'leaf') {
          const ca = rows.findIndex((x) => x.id === r.signer);
          expect(ca).toBeGreaterThanOrEqual(0);
          expect(ca).toBeLessThan(i);
          expect(rows[ca].kind).toBe('ca');
        } else expect(r.signer).toBeUndefined();
        if (r.o.includes('system:masters')) expect(r.mayBeMaster).toBe(true);
        if (r.node) expect(r.cn).toBe(`system:node:${r.node}`);
        if (r.sans) expect(r.ext?.forCsr).toBe(true);
      });
      for (const k of kubeconfigRows(rows)) expect(rows).toContain(k.cert);
    });
  }
  test('the built-in identities have the CN and O that the default RBAC and the Node authorizer expect', () => {
    const rows = certRows(defaultSpec());
    const id = (x: string) => rows.find((r) => r.id === x)!;
    expect([id('kube-controller-manager').cn, id('kube-controller-manager').o]).toEqual(['system:kube-controller-manager', []]);
    expect([id('kube-scheduler').cn, id('kube-scheduler').o]).toEqual(['system:kube-scheduler', []]);
    expect([id('kube-proxy').cn, id('kube-proxy').o]).toEqual(['system:kube-proxy', []]);
    expect([id('admin').cn, id('admin').o]).toEqual(['admin', ['system:masters']]);
    expect([id('kubelet-k8s-node-1').cn, id('kubelet-k8s-node-1').o]).toEqual(['system:node:k8s-node-1', ['system:nodes']]);
  });
});

describe('the plan for the default spec', () => {
  const plan = buildPlan(defaultSpec());
  const argv = (id: string) => ['openssl', ...plan.steps.find((s) => s.id === id)!.argv!].join(' ');

  test('the CA and server steps are the documented commands, argv for argv; the CA reads its extensions from ca.cnf', () => {
    expect(argv('ca:key')).toBe('openssl genrsa -out ca.key 2048');
    expect(argv('ca:crt')).toBe('openssl req -x509 -new -nodes -key ca.key -subj /CN=k8s-master -days 5000 -config ca.cnf -extensions v3_ca -out ca.crt');
    expect(argv('apiserver:key')).toBe('openssl genrsa -out server.key 2048');
    expect(argv('apiserver:csr')).toBe('openssl req -new -key server.key -subj /CN=k8s-master -config master_ssl.cnf -out server.csr');
    expect(argv('apiserver:crt')).toBe('openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 5000 -extensions v3_req -extfile master_ssl.cnf -out server.crt');
  });
  test('client certificates follow the documented shape, with the client extension section', () => {
    expect(argv('admin:csr')).toBe('openssl req -new -key clients/admin.key -subj /CN=admin/O=system:masters -out clients/admin.csr');
    expect(argv('admin:crt')).toBe(
      'openssl x509 -req -in clients/admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 5000 -extensions v3_client -extfile client_ssl.cnf -out clients/admin.crt',
    );
    expect(argv('sa:key')).toBe('openssl genrsa -out sa.key 2048');
    expect(argv('sa:pub')).toBe('openssl rsa -in sa.key -pubout -out sa.pub');
  });
  test('certs.clientExtensions: false gives the bare documented command', () => {
    const p = buildPlan(parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3 }\ncerts: { clientExtensions: false }\n', 'x'));
    expect(p.steps.find((s) => s.id === 'admin:crt')!.argv).toEqual(['x509', '-req', '-in', 'clients/admin.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '5000', '-out', 'clients/admin.crt']);
    expect(p.steps.some((s) => s.id === 'config:client_ssl.cnf')).toBe(false);
  });
  test('the documented order: CA, then the server cert, each cnf written before it is read', () => {
    const ids = plan.steps.map((s) => s.id);
    expect(ids.slice(0, 7)).toEqual(['ca:key', 'config:ca.cnf', 'ca:crt', 'apiserver:key', 'config:master_ssl.cnf', 'apiserver:csr', 'apiserver:crt']);
  });
  test("every CA's extensions are explicit: Debian's default v3_ca, whatever the system's openssl.cnf", () => {
    const full = buildPlan(FULL);
    const cas = full.steps.filter((s) => s.action === 'ca-cert');
    expect(cas.map((s) => s.argv!.slice(s.argv!.indexOf('-config'), s.argv!.indexOf('-config') + 4))).toEqual([
      ['-config', 'ca.cnf', '-extensions', 'v3_ca'],
      ['-config', 'etcd/ca.cnf', '-extensions', 'v3_ca'],
      ['-config', 'front-proxy-ca.cnf', '-extensions', 'v3_ca'],
    ]);
    const cnf = full.steps.find((s) => s.id === 'config:etcd/ca.cnf')!.content!;
    expect(cnf.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      '[req]',
      'distinguished_name = req_distinguished_name',
      'string_mask = utf8only',
      '[req_distinguished_name]',
      '[v3_ca]',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid:always,issuer',
      'basicConstraints = critical,CA:true',
      '',
    ]);
  });
  test('every step reads only what an earlier step writes (or a serial -CAcreateserial creates)', () => {
    const written = new Set<string>();
    for (const s of plan.steps) {
      for (const r of s.reads) if (!r.endsWith('.srl')) expect(written.has(r) ? r : `${s.id} reads ${r} before it is written`).toBe(r);
      for (const o of s.outputs) written.add(o.path);
    }
  });
  test('every output of every step is judged by a check of that step, and every check names an output or an earlier file', () => {
    const written = new Set<string>();
    for (const s of plan.steps) {
      const judged = new Set(s.checks.map((c) => c.file));
      for (const o of s.outputs) expect([s.id, o.path, judged.has(o.path)]).toEqual([s.id, o.path, true]);
      for (const c of s.checks) {
        const refs = [c.file, ...('key' in c && typeof c.key === 'object' ? [c.key.file] : []), ...(c.kind === 'cert' && c.signer ? [c.signer] : [])];
        for (const f of refs) expect([s.id, f, s.outputs.some((o) => o.path === f) || written.has(f)]).toEqual([s.id, f, true]);
      }
      for (const o of s.outputs) written.add(o.path);
    }
  });
  test("a certificate's check carries the row, the key's size, its CA's certificate and the days of its argv", () => {
    const sign = plan.steps.find((s) => s.id === 'admin:crt')!;
    expect(sign.checks).toEqual([
      { kind: 'cert', file: 'clients/admin.crt', row: 'admin', key: { file: 'clients/admin.key', algorithm: 'rsa', bits: 2048 }, signer: 'ca.crt', days: 5000 },
      { kind: 'serial', file: 'ca.srl', cert: 'clients/admin.crt' },
    ]);
    expect(plan.steps.find((s) => s.id === 'sa:pub')!.checks).toEqual([{ kind: 'public-of', file: 'sa.pub', key: 'sa.key' }]);
  });
  test('keys are 0600, everything else 0644, embedded kubeconfigs 0600', () => {
    for (const s of plan.steps) {
      for (const o of s.outputs) {
        if (o.type === 'key' || (s.action === 'kubeconfig' && s.kubeconfig!.secret)) expect(o.mode).toBe(0o600);
        else expect(o.mode).toBe(0o644);
      }
    }
  });
});

describe('dependencies: what may run at once', () => {
  const plan = buildPlan(FULL);
  const deps = dependencies(plan.steps);
  const idx = (id: string) => plan.steps.findIndex((s) => s.id === id);
  test('signings with one CA form a chain through its .srl, in plan order', () => {
    const signs = plan.steps.map((s, i) => [s, i] as const).filter(([s]) => s.action === 'sign' && s.row!.signer === 'ca');
    for (let k = 1; k < signs.length; k++) expect(deps[signs[k][1]]).toContain(signs[k - 1][1]);
  });
  test('key generations depend on nothing: they can all run at once', () => {
    for (const [i, s] of plan.steps.entries()) if (s.action === 'genkey') expect(deps[i]).toEqual([]);
  });
  test('a signing waits for its CSR and its CA; a kubeconfig for the files it embeds', () => {
    expect(deps[idx('admin:crt')]).toEqual(expect.arrayContaining([idx('admin:csr'), idx('ca:crt')]));
    expect(deps[idx('etcd-server-e1:crt')]).toEqual(expect.arrayContaining([idx('etcd-ca:crt'), idx('etcd-server-e1:csr')]));
    expect(deps[idx('kubeconfig:admin')]).toEqual(expect.arrayContaining([idx('admin:crt'), idx('admin:key'), idx('ca:crt')]));
  });
  test('etcd and front-proxy signings do not wait for the cluster CA serial', () => {
    const a = idx('front-proxy-client:crt');
    expect(deps[a].map((i) => plan.steps[i].id).some((id) => id.endsWith(':crt') && plan.steps[idx(id)].row?.signer === 'ca')).toBe(false);
  });
});

describe('subjects and the script', () => {
  test('a CN or O can never add an RDN: / + and \\ are escaped', () => {
    expect(subjOf({ cn: 'k8s/O=system:masters', o: [] })).toBe('/CN=k8s\\/O=system:masters');
    expect(subjOf({ cn: 'a+b', o: ['x\\y', 'p/q'] })).toBe('/CN=a\\+b/O=x\\\\y/O=p\\/q');
  });
  test('-subj is quoted as the document writes it; other arguments only when needed', () => {
    expect(commandLine(['req', '-new', '-key', 'server.key', '-subj', '/CN=k8s-master', '-out', 'a b.csr'])).toBe('openssl req -new -key server.key -subj "/CN=k8s-master" -out "a b.csr"');
    expect(commandLine(['req', '-subj', '/CN=$(reboot)'])).toBe("openssl req -subj '/CN=$(reboot)'");
  });
  test('the script: set -eu, umask, the cnf as a here-document, the same argv, every step once', () => {
    const plan = buildPlan(defaultSpec());
    const sh = renderScript(plan, 'test', '0.0.0');
    expect(sh.startsWith('#!/bin/sh\n')).toBe(true);
    expect(sh).toMatch(/^set -eu$/m);
    expect(sh).toMatch(/^umask 077$/m);
    expect(sh).toContain("cat > master_ssl.cnf <<'KUBEPKI_EOF'\n# master_ssl.cnf\n[req]\n");
    expect(sh).toContain("cat > ca.cnf <<'KUBEPKI_EOF'\n# ca.cnf: ");
    expect(sh).toContain('openssl req -x509 -new -nodes -key ca.key -subj "/CN=k8s-master" -days 5000 -config ca.cnf -extensions v3_ca -out ca.crt\n');
    expect(sh).toContain('openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 5000 -extensions v3_req -extfile master_ssl.cnf -out server.crt\n');
    // embeds are read into variables before the here-document (set -e stops at a failed read)
    expect(sh).toContain('b64_ca_crt=$(openssl base64 -A -in ca.crt)\n');
    expect(sh).toContain('certificate-authority-data: ${b64_ca_crt}\n');
    expect(sh).not.toMatch(/<<KUBEPKI_EOF\n(?:(?!KUBEPKI_EOF\n)[^])*\$\(/);
    expect((sh.match(/^# \[\d+\/\d+\]/gm) ?? []).length).toBe(plan.steps.length);
  });
});
