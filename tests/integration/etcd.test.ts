// The etcd PKI against a real etcd (Debian's etcd-server / etcd-client, 3.4+).
// Two members on loopback (127.0.0.1 and 127.0.0.2: both are 127/8), each started with the flags of
// its rendered flags/etcd-<member>.env — only the ports, the install.dir prefix and the data dir are
// substituted — and the generated certificates. Nothing here connects anywhere but loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { basePki } from '../helpers/pki.js';
import { cleanupTmp } from '../helpers/tmp.js';
import { requireTool } from '../helpers/tools.js';

const ETCD = process.env.KUBEPKI_TEST_ETCD ?? '/usr/bin/etcd';
const ETCDCTL = process.env.KUBEPKI_TEST_ETCDCTL ?? '/usr/bin/etcdctl';
const INSTALL_DIR = '/var/run/kubernetes';
const MEMBERS = [
  { name: 'etcd-a', ip: '127.0.0.1' },
  { name: 'etcd-b', ip: '127.0.0.2' },
];
const SPEC = `master: { hostname: k8s-master, ip: 127.0.0.1 }
etcd:
  mode: tls
  members:
${MEMBERS.map((m) => `    - { name: ${m.name}, ip: ${m.ip} }`).join('\n')}
`;

interface Member {
  name: string;
  ip: string;
  /** the rendered flags, as read from flags/etcd-<name>.env */
  rendered: [string, string][];
  args: string[];
  client: number;
  peer: number;
  /** the extra loopback client listener (127.0.0.1:2379 in the rendered file) of a member that is not on 127.0.0.1 */
  loopback: number;
  proc?: ChildProcess;
  log: string;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
}

let work: string;
let pki: string;
const members: Member[] = [];
const at = (rel: string) => path.join(pki, rel);
const endpoint = (m: Member) => `https://${m.ip}:${m.client}`;

/** A port that was free on this address a moment ago. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** ETCD_ARGS="--a=b --c=d" -> [['--a','b'], ['--c','d']] (parsed here, not with kubepki's own parser). */
function readEtcdArgs(file: string): [string, string][] {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('ETCD_ARGS='));
  expect(lines).toHaveLength(1);
  const m = lines[0].match(/^ETCD_ARGS="([^"]*)"$/);
  expect(m).not.toBeNull();
  return m![1].split(' ').map((tok) => {
    const eq = tok.indexOf('=');
    expect(eq).toBeGreaterThan(2);
    return [tok.slice(0, eq), tok.slice(eq + 1)];
  });
}

/** The one honest substitution: rendered loopback URL (ip:2379 / ip:2380) -> this test's free ports;
 *  install.dir -> the generated folder; the data dir -> a temp folder. Everything else is passed as rendered. */
function localArgs(m: Member, dataDir: string): string[] {
  const byIp = new Map(members.map((x) => [x.ip, x]));
  const url = (u: string) =>
    u.replace(/^https:\/\/([0-9.]+):(2379|2380)$/, (_all, ip: string, port: string) => {
      const owner = byIp.get(ip);
      if (port === '2380' && owner) return `https://${ip}:${owner.peer}`;
      if (port === '2379' && ip === m.ip) return `https://${ip}:${m.client}`;
      if (port === '2379' && ip === '127.0.0.1') return `https://${ip}:${m.loopback}`;
      throw new Error(`${m.name}: unexpected URL ${u} in the rendered flags`);
    });
  return m.rendered.map(([flag, value]) => {
    let v = value;
    if (flag === '--data-dir') v = dataDir;
    else if (v.startsWith(`${INSTALL_DIR}/`)) v = path.join(pki, v.slice(INSTALL_DIR.length + 1));
    else if (/^https:\/\//.test(v) || v.includes('=https://')) {
      v = v
        .split(',')
        .map((part) => (part.includes('=') ? part.replace(/=(.*)$/, (_a, u: string) => `=${url(u)}`) : url(part)))
        .join(',');
    }
    return `${flag}=${v}`;
  });
}

function etcdctl(m: Member, tlsArgs: string[], args: string[], timeout = '4s') {
  const r = spawnSync(ETCDCTL, [`--endpoints=${endpoint(m)}`, `--dial-timeout=${timeout}`, `--command-timeout=${timeout}`, ...tlsArgs, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ETCDCTL_API: '3' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const client = (crt: string, key: string) => [`--cacert=${at('etcd/ca.crt')}`, `--cert=${at(crt)}`, `--key=${at(key)}`];
const API = () => client('apiserver-etcd-client.crt', 'apiserver-etcd-client.key');
const HEALTH = () => client('etcd/healthcheck-client.crt', 'etcd/healthcheck-client.key');
const logOf = (m: Member) => (existsSync(m.log) ? readFileSync(m.log, 'utf8') : '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  requireTool(ETCD);
  requireTool(ETCDCTL);
  ({ work, out: pki } = basePki(SPEC, 'etcd'));

  for (const { name, ip } of MEMBERS) {
    members.push({
      name,
      ip,
      rendered: readEtcdArgs(at(`flags/etcd-${name}.env`)),
      args: [],
      client: await freePort(ip),
      peer: await freePort(ip),
      loopback: ip === '127.0.0.1' ? 0 : await freePort('127.0.0.1'),
      log: path.join(work, `${name}.log`),
    });
  }
  for (const m of members) {
    const dataDir = path.join(work, 'data', m.name);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    m.args = localArgs(m, dataDir);
    const log = createWriteStream(m.log);
    // a clean environment: etcd reads ETCD_* variables as flags
    m.proc = spawn(ETCD, m.args, { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
    m.proc.stdout!.pipe(log);
    m.proc.stderr!.pipe(log);
    m.proc.on('exit', (code, signal) => (m.exited = { code, signal }));
  }
  // both members healthy (the cluster has formed): at most ~20 s
  const deadline = Date.now() + 20_000;
  for (;;) {
    const dead = members.find((m) => m.exited);
    if (dead) throw new Error(`etcd ${dead.name} exited (${JSON.stringify(dead.exited)}):\n${logOf(dead).slice(-3000)}`);
    if (members.every((m) => etcdctl(m, HEALTH(), ['endpoint', 'health'], '2s').code === 0)) break;
    if (Date.now() > deadline) throw new Error(`etcd did not become healthy in 20 s:\n${members.map((m) => `--- ${m.name}\n${logOf(m).slice(-2000)}`).join('\n')}`);
    await sleep(300);
  }
}, 50_000);

afterAll(async () => {
  for (const m of members) {
    if (m.proc && !m.exited) {
      m.proc.kill('SIGTERM');
      const t = Date.now();
      while (!m.exited && Date.now() - t < 5000) await sleep(50);
      if (!m.exited) m.proc.kill('SIGKILL');
      while (!m.exited && Date.now() - t < 8000) await sleep(50);
    }
  }
  cleanupTmp();
  // every etcd this file started is gone
  for (const m of members) {
    if (!m.proc?.pid) continue;
    expect(m.exited).toBeDefined();
    expect(() => process.kill(m.proc!.pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  }
}, 20_000);

test('the rendered flag files are what etcd is started with: TLS for clients and peers, the generated files, https URLs', () => {
  for (const m of members) {
    const f = new Map(m.rendered);
    expect(f.get('--name')).toBe(m.name);
    expect(f.get('--client-cert-auth')).toBe('true');
    expect(f.get('--peer-client-cert-auth')).toBe('true');
    expect(f.get('--trusted-ca-file')).toBe(`${INSTALL_DIR}/etcd/ca.crt`);
    expect(f.get('--peer-trusted-ca-file')).toBe(`${INSTALL_DIR}/etcd/ca.crt`);
    expect(f.get('--cert-file')).toBe(`${INSTALL_DIR}/etcd/${m.name}/server.crt`);
    expect(f.get('--peer-key-file')).toBe(`${INSTALL_DIR}/etcd/${m.name}/peer.key`);
    expect(f.get('--advertise-client-urls')).toBe(`https://${m.ip}:2379`);
    expect(f.get('--initial-cluster')).toBe(MEMBERS.map((x) => `${x.name}=https://${x.ip}:2380`).join(','));
    // every file flag names a file that generate wrote
    for (const [flag, v] of m.rendered) if (v.startsWith(INSTALL_DIR)) expect([flag, existsSync(at(v.slice(INSTALL_DIR.length + 1)))]).toEqual([flag, true]);
    // no http:// anywhere
    expect(m.rendered.filter(([, v]) => v.includes('http://'))).toEqual([]);
  }
  // the API server's side names the same CA and its etcd client pair
  const api = readFileSync(at('flags/kube-apiserver.env'), 'utf8');
  expect(api).toContain(`--etcd-servers=${MEMBERS.map((x) => `https://${x.ip}:2379`).join(',')} `);
  expect(api).toContain(`--etcd-cafile=${INSTALL_DIR}/etcd/ca.crt --etcd-certfile=${INSTALL_DIR}/apiserver-etcd-client.crt --etcd-keyfile=${INSTALL_DIR}/apiserver-etcd-client.key`);
});

test('two members with peer TLS form one cluster: member list shows both started, https peer URLs', () => {
  const r = etcdctl(members[0], API(), ['member', 'list', '--write-out=json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const list = JSON.parse(r.stdout).members as { name: string; peerURLs: string[]; clientURLs: string[] }[];
  // a member that has not started has no name and no client URLs
  expect(list.map((x) => x.name).sort()).toEqual(['etcd-a', 'etcd-b']);
  for (const x of list) {
    const m = members.find((y) => y.name === x.name)!;
    expect(x.peerURLs).toEqual([`https://${m.ip}:${m.peer}`]);
    expect(x.clientURLs).toEqual([endpoint(m)]);
  }
});

test('kube-apiserver\'s etcd client (apiserver-etcd-client) writes a key on one member and reads it on the other', () => {
  const value = `written-at-${Date.now()}`;
  const put = etcdctl(members[0], API(), ['put', '/registry/kubepki-test', value]);
  expect(put.stderr).toBe('');
  expect(put.stdout.trim()).toBe('OK');
  const get = etcdctl(members[1], API(), ['get', '/registry/kubepki-test', '--print-value-only']);
  expect(get.code).toBe(0);
  expect(get.stdout.trim()).toBe(value);
});

test('the healthcheck client passes endpoint health on every member', () => {
  for (const m of members) {
    const r = etcdctl(m, HEALTH(), ['endpoint', 'health']);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(new RegExp(`${endpoint(m).replace(/[.]/g, '\\.')} is healthy`));
  }
});

describe('refused', () => {
  const rejectedIn = (m: Member, since: number, pattern: RegExp) => logOf(m).slice(since).match(pattern);

  test('a client without a certificate', async () => {
    const m = members[0];
    const before = logOf(m).length;
    const r = etcdctl(m, [`--cacert=${at('etcd/ca.crt')}`], ['get', '/registry/kubepki-test'], '2s');
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    await sleep(200);
    // etcd says why: "rejected connection from ... (error "tls: client didn't provide a certificate" ...)"
    expect(rejectedIn(m, before, /rejected connection[^\n]*didn't provide a certificate/)).not.toBeNull();
  });

  test('a client certificate of the cluster CA (clients/admin.crt, system:masters) instead of the etcd CA', async () => {
    const m = members[1];
    const before = logOf(m).length;
    const r = etcdctl(m, client('clients/admin.crt', 'clients/admin.key'), ['get', '/registry/kubepki-test'], '2s');
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    await sleep(200);
    expect(rejectedIn(m, before, /rejected connection[^\n]*certificate signed by unknown authority/)).not.toBeNull();
  });

  test('the etcd servers, by a client that trusts only the cluster CA (ca.crt); trusted with etcd/ca.crt for their own IP', async () => {
    for (const m of members) {
      // a TLS client with the apiserver-etcd-client pair; the server's chain is checked against `ca`, its IP SAN against m.ip
      const handshake = (ca: string) =>
        new Promise<{ ok: boolean; error?: string }>((resolve) => {
          const sock = tls.connect({ host: m.ip, port: m.client, ca: readFileSync(at(ca)), cert: readFileSync(at('apiserver-etcd-client.crt')), key: readFileSync(at('apiserver-etcd-client.key')) });
          sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
          sock.on('secureConnect', () => {
            sock.end();
            resolve({ ok: sock.authorized });
          });
          sock.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, error: e.code ?? e.message }));
        });
      expect(await handshake('etcd/ca.crt')).toEqual({ ok: true });
      expect(await handshake('ca.crt')).toEqual({ ok: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    }
  });
});
