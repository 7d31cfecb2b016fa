// kubepki renew on a real PKI: notAfter extended, keys kept (same sha256) unless --rekey, the CA
// never touched, every kubeconfig that embeds a renewed certificate rewritten, and the real
// kubectl still authenticates with the rewritten kubeconfigs (auth whoami against a loopback
// TLS server that checks client certificates the way kube-apiserver does).
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki } from '../helpers/cli.js';
import { cleanupTmp, copyDir } from '../helpers/tmp.js';
import { KUBECTL, requireTool } from '../helpers/tools.js';
import { startWhoamiServer } from '../helpers/whoami-server.js';
import { CLIENT_EXT, SPEC, basePki, changed, expectExit, newCa, newKey, notAfter, signLeaf, snapshot, verifyJson } from '../helpers/pki.js';

const SHORT = SPEC + 'certs: { days: 20 }\n';
const IDENTITIES: Record<string, { user: string; groups: string[] }> = {
  admin: { user: 'admin', groups: ['system:masters'] },
  'kube-controller-manager': { user: 'system:kube-controller-manager', groups: [] },
  'kube-scheduler': { user: 'system:kube-scheduler', groups: [] },
  'kube-proxy': { user: 'system:kube-proxy', groups: [] },
  'kubelet-k8s-node-1': { user: 'system:node:k8s-node-1', groups: ['system:nodes'] },
};
const LEAVES = ['apiserver', ...Object.keys(IDENTITIES)];
const crtOf = (name: string) => (name === 'apiserver' ? 'server.crt' : `clients/${name}.crt`);

let base: string;
let spec: string;
let work: string;
let baseSnap: Record<string, string>;

beforeAll(() => {
  requireTool(KUBECTL);
  ({ work, spec, out: base, snap: baseSnap } = basePki(SHORT, 'renew'));
});
afterAll(() => cleanupTmp());

/** kubectl auth whoami with each kubeconfig, against a loopback server using the PKI's server cert. */
async function whoamiAll(out: string, names = Object.keys(IDENTITIES)) {
  const srv = await startWhoamiServer({ cert: readFileSync(path.join(out, 'server.crt')), key: readFileSync(path.join(out, 'server.key')), ca: readFileSync(path.join(out, 'ca.crt')) });
  try {
    const seen: Record<string, { user: string; groups: string[] } | string> = {};
    await Promise.all(
      names.map(async (name) => {
        const r = await kubectlWhoami(path.join(out, `kubeconfig/${name}.kubeconfig`), srv.url);
        seen[name] = r.code === 0 ? { user: r.json.status.userInfo.username, groups: r.json.status.userInfo.groups.filter((g: string) => g !== 'system:authenticated') } : `kubectl exit ${r.code}: ${r.stderr}`;
      }),
    );
    return seen;
  } finally {
    await srv.close();
  }
}

function kubectlWhoami(kubeconfig: string, url: string): Promise<{ code: number | null; json: any; stderr: string }> {
  return new Promise((resolve) => {
    // never the kubeconfig's own server (192.168.18.3 in the default spec): always the loopback one
    const args = ['--kubeconfig', kubeconfig, '--server', url, '--tls-server-name', 'kubernetes.default.svc', '--request-timeout', '10s', 'auth', 'whoami', '-o', 'json'];
    const child = spawn(KUBECTL, args, { env: { ...process.env, KUBECONFIG: '' } });
    let so = '';
    let se = '';
    child.stdout.on('data', (d: Buffer) => (so += d));
    child.stderr.on('data', (d: Buffer) => (se += d));
    child.on('close', (code: number | null) => {
      let json: any = null;
      try {
        json = JSON.parse(so);
      } catch {
        /* failed */
      }
      resolve({ code, json, stderr: se.trim() });
    });
  });
}

const leafNotAfter = (out: string) => Object.fromEntries(LEAVES.map((n) => [n, notAfter(path.join(out, crtOf(n))).getTime()]));

describe('renew', () => {
  test('--all --days 400: notAfter extended, keys and CA untouched, kubeconfigs rewritten, kubectl still authenticates', async () => {
    const out = copyDir(base);
    // before: within --warn-days 30, so verify (as cron would run it) fails
    const pre = verifyJson(out, ['--spec', spec, '--warn-days', '30']);
    expect(pre.r.code).toBe(1);
    expect(pre.report.problems.filter((p) => p.code === 'expiring').map((p) => p.file)).toEqual(expect.arrayContaining(LEAVES.map(crtOf)));
    const before = leafNotAfter(out);
    const t0 = Date.now();
    const r = kubepki(['renew', '--all', '--days', '400', '--spec', spec, '--out', out]);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/re-issued\s+6: apiserver, kube-controller-manager, kube-scheduler, kube-proxy, admin, kubelet-k8s-node-1/);
    const after = leafNotAfter(out);
    for (const n of LEAVES) {
      expect([n, after[n] > before[n] + 300 * 86_400_000]).toEqual([n, true]);
      expect(Math.abs(after[n] - (t0 + 400 * 86_400_000))).toBeLessThan(10 * 60_000);
    }
    const snap = snapshot(out);
    const diff = changed(baseSnap, snap);
    // every key kept, the CA untouched
    for (const f of ['ca.key', 'ca.crt', 'server.key', 'sa.key', 'sa.pub', ...Object.keys(IDENTITIES).map((n) => `clients/${n}.key`)]) expect([f, snap[f]]).toEqual([f, baseSnap[f]]);
    // every certificate re-signed, every kubeconfig that embeds one rewritten (and nothing else)
    expect(diff).toEqual(
      ['ca.srl', 'manifest.json', ...LEAVES.map(crtOf), ...Object.keys(IDENTITIES).map((n) => `kubeconfig/${n}.kubeconfig`)].sort(),
    );
    for (const n of Object.keys(IDENTITIES)) {
      const kc = readFileSync(path.join(out, `kubeconfig/${n}.kubeconfig`), 'utf8');
      expect(kc).toContain(readFileSync(path.join(out, `clients/${n}.crt`)).toString('base64'));
    }
    const post = verifyJson(out, ['--spec', spec, '--warn-days', '30']);
    expect(post.report.problems).toEqual([]);
    expect(post.r.code).toBe(0);
    expect(await whoamiAll(out)).toEqual(IDENTITIES);
  });

  test('renew NAME re-signs that certificate only; its CSR is byte-identical (same key, same subject)', () => {
    const out = copyDir(base);
    const r = kubepki(['renew', 'kube-proxy', '--spec', spec, '--out', out]);
    expectExit(r, 0);
    expect(changed(baseSnap, snapshot(out))).toEqual(['ca.srl', 'clients/kube-proxy.crt', 'kubeconfig/kube-proxy.kubeconfig', 'manifest.json']);
    expect(notAfter(path.join(out, 'clients/kube-proxy.crt')).getTime()).toBeGreaterThan(notAfter(path.join(base, 'clients/kube-proxy.crt')).getTime());
    expectExit(kubepki(['verify', '--spec', spec, '--out', out, '--warn-days', '5']), 0);
  });

  test('--rekey makes new keys (the old ones kept in .kubepki/backup) and kubectl authenticates with them', async () => {
    const out = copyDir(base);
    const r = kubepki(['renew', 'admin', 'kubelet-k8s-node-1', 'apiserver', '--rekey', '--spec', spec, '--out', out]);
    expectExit(r, 0);
    const snap = snapshot(out);
    for (const f of ['clients/admin.key', 'clients/kubelet-k8s-node-1.key', 'server.key']) expect([f, snap[f] !== baseSnap[f]]).toEqual([f, true]);
    for (const f of ['ca.key', 'ca.crt', 'clients/kube-proxy.key', 'clients/kube-proxy.crt', 'sa.key']) expect([f, snap[f]]).toEqual([f, baseSnap[f]]);
    // the old keys are kept, 0600, under .kubepki/backup/<run>/
    const backups = readdirSync(path.join(out, '.kubepki/backup'));
    expect(backups).toHaveLength(1);
    const all = snapshot(path.join(out, '.kubepki/backup', backups[0]), true);
    expect(all).toEqual({ 'clients/admin.key': baseSnap['clients/admin.key'], 'clients/kubelet-k8s-node-1.key': baseSnap['clients/kubelet-k8s-node-1.key'], 'server.key': baseSnap['server.key'] });
    expectExit(kubepki(['verify', '--spec', spec, '--out', out, '--warn-days', '5']), 0);
    expect(await whoamiAll(out, ['admin', 'kubelet-k8s-node-1'])).toEqual({ admin: IDENTITIES.admin, 'kubelet-k8s-node-1': IDENTITIES['kubelet-k8s-node-1'] });
  });

  test('the whoami check can fail: a client certificate from another CA is rejected', async () => {
    const out = copyDir(base);
    const other = newCa(path.join(work, 'other'), 'k8s-master');
    signLeaf({ dir: work, key: path.join(out, 'clients/admin.key'), subj: '/CN=admin/O=system:masters', caCrt: other.crt, caKey: other.key, out: path.join(out, 'clients/admin.crt'), ext: CLIENT_EXT });
    const kc = path.join(out, 'kubeconfig/admin.kubeconfig');
    writeFileSync(kc, readFileSync(kc, 'utf8').replace(readFileSync(path.join(base, 'clients/admin.crt')).toString('base64'), readFileSync(path.join(out, 'clients/admin.crt')).toString('base64')));
    const seen = await whoamiAll(out, ['admin']);
    expect(typeof seen.admin).toBe('string');
  });

  test('renew never touches a CA and names what it accepts', () => {
    const out = copyDir(base);
    const r = kubepki(['renew', 'ca', '--spec', spec, '--out', out]);
    expectExit(r, 2);
    expect(r.stderr).toMatch(/ca is a CA: renew never touches a CA/);
    const r2 = kubepki(['renew', 'no-such', '--spec', spec, '--out', out]);
    expectExit(r2, 2);
    expect(r2.stderr).toMatch(/no certificate named "no-such".*\n.*names: apiserver, kube-controller-manager/);
    expectExit(kubepki(['renew', '--spec', spec, '--out', out]), 2);
    expectExit(kubepki(['renew', 'admin', '--all', '--spec', spec, '--out', out]), 2);
    expect(snapshot(out)).toEqual(baseSnap);
  });

  test('renew refuses a CA whose certificate and key do not belong together, and changes nothing', () => {
    const out = copyDir(base);
    newKey(path.join(out, 'ca.key'));
    const snap = snapshot(out);
    const r = kubepki(['renew', '--all', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/the CA in .* does not fit the spec: ca\.crt does not match its private key/);
    expect(r.stderr).toMatch(/ca\.key and ca\.crt are not one key pair .*restore the CA files/);
    expect(r.stdout).not.toMatch(/\$ openssl/); // refused before any step ran
    expect(snapshot(out)).toEqual(snap);
  });
});
