// End to end: generate with the embedded default spec, the real openssl, and what the
// document promises of the result.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { CLI, kubepki, FIXTURES } from '../helpers/cli.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';
import { openssl } from '../helpers/tools.js';

let work: string;
let pki: string;
let gen: ReturnType<typeof kubepki>;
beforeAll(() => {
  work = tmpDir();
  gen = kubepki(['generate'], { cwd: work });
  pki = path.join(work, 'pki');
});
afterAll(cleanupTmp);

const text = (rel: string) => readFileSync(path.join(pki, rel), 'utf8');
const x509 = (rel: string, ...args: string[]) => openssl(['x509', '-in', rel, '-noout', ...args], pki).stdout;

test('generate (default --out ./pki) succeeds and prints each step: n/N, the command, the checked file; then a summary', () => {
  expect(gen.stderr).toBe('');
  expect(gen.code).toBe(0);
  expect(gen.stdout).toMatch(/^\[ ?\d+\/\d+\] \$ openssl genrsa -out ca\.key 2048\n +✓ ca\.key: RSA 2048-bit private key, mode 0600$/m);
  expect(gen.stdout).toMatch(/\$ openssl req -new -key server\.key -subj "\/CN=k8s-master" -config master_ssl\.cnf -out server\.csr\n +✓ server\.csr: subject ok, self-signature ok/);
  expect(gen.stdout).toMatch(/✓ server\.crt: v3 \/CN=k8s-master, signed by ca, key matches, SANs kubernetes kubernetes\.default kubernetes\.default\.svc kubernetes\.default\.svc\.cluster\.local k8s-master 169\.169\.0\.1 192\.168\.18\.3/);
  expect(gen.stdout).toMatch(/kubepki generate: \d+ steps \(\d+ openssl commands, OpenSSL 3/);
  expect(gen.stdout).toMatch(/created +8: ca, apiserver, kube-controller-manager, kube-scheduler, kube-proxy, admin, kubelet-k8s-node-1, sa/);
  // a pipe gets no control characters
  expect(gen.stdout).not.toMatch(/\x1b|\r/);
});

test('stdout to a file (a log) gets the same lines as a pipe', () => {
  const dir = tmpDir();
  const log = path.join(dir, 'log');
  const r = spawnSync('sh', ['-c', 'exec node "$0" generate --out "$1" > "$2"', CLI, path.join(dir, 'pki'), log], { encoding: 'utf8' });
  expect([r.status, r.stderr]).toEqual([0, '']);
  // the same lines, whatever order two jobs finished their steps in
  const shape = (t: string, out: string) =>
    t.replaceAll(out, 'OUT').replace(/^\[ ?\d+\/\d+\]/gm, '[n]').replace(/\d+(\.\d+)?m?s\b/g, 'T').replace(/[0-9A-F]{16,}/g, 'SERIAL').replace(/until \d{4}-\d\d-\d\d/g, 'until D').split('\n').sort();
  const lines = readFileSync(log, 'utf8');
  expect(lines).toMatch(/^\[ ?1\/\d+\] /);
  expect(shape(lines, path.join(dir, 'pki'))).toEqual(shape(gen.stdout, pki).map((l) => l.replaceAll('./pki', 'OUT').replace(' pki/manifest', ' OUT/manifest')));
});

test('the six documented files, master_ssl.cnf and manifest.json; keys 0600, the rest 0644', () => {
  for (const f of ['ca.crt', 'ca.key', 'ca.srl', 'server.crt', 'server.csr', 'server.key', 'master_ssl.cnf', 'manifest.json']) expect(existsSync(path.join(pki, f))).toBe(true);
  for (const f of ['ca.key', 'server.key', 'sa.key', 'clients/admin.key']) expect(statSync(path.join(pki, f)).mode & 0o777).toBe(0o600);
  for (const f of ['ca.crt', 'ca.srl', 'server.crt', 'server.csr', 'master_ssl.cnf', 'manifest.json']) expect(statSync(path.join(pki, f)).mode & 0o777).toBe(0o644);
  expect(text('ca.key')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  // no staging left behind
  expect(readdirSync(path.join(pki, '.kubepki')).filter((x) => x !== 'lock')).not.toContain('tmp');
  expect(existsSync(path.join(pki, '.kubepki/lock'))).toBe(false);
});

test('openssl verify -CAfile ca.crt server.crt passes; SANs are exactly the documented ones', () => {
  const v = openssl(['verify', '-CAfile', 'ca.crt', 'server.crt'], pki);
  expect(v.stdout.trim()).toBe('server.crt: OK');
  expect(v.code).toBe(0);
  expect(x509('server.crt', '-ext', 'subjectAltName').split('\n')[1].trim()).toBe(
    'DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, DNS:k8s-master, IP Address:169.169.0.1, IP Address:192.168.18.3',
  );
  expect(x509('server.crt', '-subject', '-issuer')).toBe('subject=CN = k8s-master\nissuer=CN = k8s-master\n');
  expect(x509('server.crt', '-ext', 'basicConstraints,keyUsage')).toMatch(/CA:FALSE[\s\S]*Digital Signature, Non Repudiation, Key Encipherment/);
  expect(text('ca.srl').trim()).toMatch(/^[0-9A-F]+$/);
});

test('fidelity: openssl req with the document\'s master_ssl.cnf and the generated key gives a byte-identical server.csr', () => {
  const out = path.join(tmpDir(), 'doc.csr');
  const r = openssl(['req', '-new', '-key', 'server.key', '-subj', '/CN=k8s-master', '-config', path.join(FIXTURES, 'master_ssl.cnf'), '-out', out], pki);
  expect(r.code).toBe(0);
  expect(readFileSync(out).equals(readFileSync(path.join(pki, 'server.csr')))).toBe(true);
});

test('manifest.json lists every artifact with the command that made it, its sha256 and, for certificates, subject and expiry', () => {
  const m = JSON.parse(text('manifest.json'));
  const server = m.artifacts.find((a: { path: string }) => a.path === 'server.crt');
  expect(server).toMatchObject({
    type: 'cert',
    name: 'apiserver',
    mode: '0644',
    subject: '/CN=k8s-master',
    issuer: '/CN=k8s-master',
    madeBy: 'openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 5000 -extensions v3_req -extfile master_ssl.cnf -out server.crt',
  });
  expect(server.sha256).toBe(execFileSync('sha256sum', [path.join(pki, 'server.crt')], { encoding: 'utf8' }).split(' ')[0]);
  const paths = m.artifacts.map((a: { path: string }) => a.path);
  expect(paths).toEqual(expect.arrayContaining(['ca.key', 'ca.crt', 'ca.srl', 'master_ssl.cnf', 'server.key', 'server.csr', 'server.crt', 'sa.key', 'sa.pub', 'kubeconfig/admin.kubeconfig', 'flags/kube-apiserver.env']));
  expect(JSON.stringify(m)).not.toMatch(/PRIVATE KEY/);
});

test('every manifest.json entry holds the sha256 and mode of the file on disk (the serial: of the last signing)', () => {
  const m = JSON.parse(text('manifest.json'));
  const files = m.artifacts.map((a: { path: string }) => a.path) as string[];
  expect(files.length).toBeGreaterThan(30);
  const sums = new Map(
    execFileSync('sha256sum', files, { cwd: pki, encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => [l.slice(66), l.slice(0, 64)]),
  );
  for (const a of m.artifacts as { path: string; sha256: string; mode: string }[]) {
    expect([a.path, a.sha256, a.mode]).toEqual([a.path, sums.get(a.path), (statSync(path.join(pki, a.path)).mode & 0o777).toString(8).padStart(4, '0')]);
  }
});

test('the plan script, run with sh in another folder, yields certificates with the same subjects, issuers, extensions and SANs', () => {
  const script = kubepki(['plan']);
  expect(script.code).toBe(0);
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'plan.sh'), script.stdout);
  const r = spawnSync('sh', ['plan.sh'], { cwd: dir, encoding: 'utf8' });
  expect(r.status).toBe(0);
  for (const crt of ['ca.crt', 'server.crt', 'clients/admin.crt', 'clients/kubelet-k8s-node-1.crt', 'clients/kube-proxy.crt']) {
    const show = (base: string) => openssl(['x509', '-in', crt, '-noout', '-subject', '-issuer', '-ext', 'subjectAltName,basicConstraints,keyUsage,extendedKeyUsage'], base).stdout;
    expect(show(dir)).toBe(show(pki));
  }
  expect(readFileSync(path.join(dir, 'master_ssl.cnf'), 'utf8')).toBe(text('master_ssl.cnf'));
  expect(statSync(path.join(dir, 'server.key')).mode & 0o777).toBe(0o600);
  expect(statSync(path.join(dir, 'server.crt')).mode & 0o777).toBe(0o644);
  // a folder made by hand remembers no spec: verify without --spec will not assume the embedded
  // default for it, and names the way out
  const refused = kubepki(['verify', '--out', dir]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/holds a PKI .* but remembers no spec .*\n.*--spec FILE .*kubepki init FILE/);
  // and kubepki verify accepts what the script made, given the spec the script was printed for
  const specFile = path.join(tmpDir(), 'cluster.yaml');
  expect(kubepki(['init', specFile]).code).toBe(0);
  const v = kubepki(['verify', '--spec', specFile, '--out', dir]);
  expect(v.stdout).toMatch(/^ok: /m);
  expect(v.code).toBe(0);
});

describe('a TLS handshake proves the server certificate serves', () => {
  let server: ReturnType<typeof spawn>;
  let port: number;
  beforeAll(async () => {
    port = 20000 + Math.floor(Math.random() * 20000);
    server = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', 'server.crt', '-key', 'server.key', '-www', '-naccept', '10'], { cwd: pki, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('ACCEPT')) resolve();
      });
      server.on('exit', (c) => reject(new Error(`s_server exited ${c}`)));
    });
  });
  afterAll(() => server.kill());
  const connect = (servername: string) =>
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername, ca: readFileSync(path.join(pki, 'ca.crt')) }, () => {
        s.write('GET / HTTP/1.0\r\n\r\n');
      });
      let body = '';
      s.on('data', (d) => (body += d));
      s.on('end', () => resolve(body));
      s.on('error', reject);
    });
  test('a client trusting ca.crt and checking kubernetes.default.svc succeeds', async () => {
    expect(await connect('kubernetes.default.svc')).toMatch(/^HTTP\/1\.0 200 ok/);
  });
  test('the name evil.example fails', async () => {
    await expect(connect('evil.example')).rejects.toThrow(/Hostname\/IP does not match certificate's altnames/);
  });
});

describe('bad input: a clear error and the documented exit code, never a stack trace', () => {
  test('no openssl', () => {
    const d = tmpDir();
    const r = kubepki(['generate', '--out', d], { env: { KUBEPKI_OPENSSL: '/nonexistent/openssl' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kubepki: error: openssl not found: \/nonexistent\/openssl\n/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(readdirSync(d).filter((x) => x !== '.kubepki')).toEqual([]);
  });
  test("--openssl with a relative path is taken from kubepki's own folder, for every step", () => {
    const d = tmpDir();
    const which = execFileSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' }).trim();
    const r = kubepki(['generate', '--out', d, '--openssl', path.relative(path.dirname(path.dirname(which)), which)], { cwd: path.dirname(path.dirname(which)) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(path.join(d, 'server.crt'))).toBe(true);
  });
  test('--out is a file', () => {
    const f = path.join(tmpDir(), 'file');
    writeFileSync(f, 'x');
    const r = kubepki(['generate', '--out', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--out ${f} is a file, not a folder`);
  });
  test('an injection attempt in the host name is a spec error naming its path', () => {
    const d = tmpDir();
    writeFileSync(path.join(d, 'evil.yaml'), 'master: { hostname: "k8s/O=system:masters", ip: 10.0.0.1 }\n');
    const r = kubepki(['generate', '--spec', 'evil.yaml', '--out', 'pki'], { cwd: d });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('master.hostname: "k8s/O=system:masters" is not a valid host name');
    expect(existsSync(path.join(d, 'pki'))).toBe(false);
  });
  test('unknown command and option: exit 2', () => {
    expect(kubepki(['frobnicate']).code).toBe(2);
    const r = kubepki(['plan', '--out', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out is not an option of plan');
  });
});

test('--version and --help answer', () => {
  expect(kubepki(['--version']).stdout).toMatch(/^kubepki \d+\.\d+\.\d+\n$/);
  const h = kubepki(['generate', '--help']);
  expect(h.code).toBe(0);
  expect(h.stdout).toMatch(/Usage: kubepki generate/);
  expect(kubepki(['--help']).stdout).toMatch(/Exit codes: 0 success; 1 a failed step or verification; 2 bad usage or an invalid spec/);
});

test('init writes the commented default spec and refuses to overwrite it', () => {
  const d = tmpDir();
  expect(kubepki(['init'], { cwd: d }).code).toBe(0);
  const t = readFileSync(path.join(d, 'cluster.yaml'), 'utf8');
  expect(t).toMatch(/^# kubepki cluster spec/);
  const again = kubepki(['init'], { cwd: d });
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/cluster\.yaml already exists/);
  expect(kubepki(['plan', '--spec', 'cluster.yaml'], { cwd: d }).stdout).toBe(kubepki(['plan']).stdout.replace('plan for embedded default spec', 'plan for cluster.yaml'));
});
