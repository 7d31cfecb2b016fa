// Each certificate beyond the document does its job in a real TLS handshake, and only its job.
// node:tls / node:https servers and clients on loopback (127.0.0.1, 127.0.0.2). Under TLS 1.3 the
// client finishes its handshake before the server has judged the client certificate, so a client
// certificate is judged by what the server answers (an HTTP reply naming the subject it saw).
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { basePki } from '../helpers/pki.js';
import { cleanupTmp } from '../helpers/tmp.js';

const SPEC = `master: { hostname: k8s-master, ip: 127.0.0.1 }
nodes:
  - { name: k8s-node-1, ip: 127.0.0.1 }
  - { name: k8s-node-2, ip: 127.0.0.2 }
frontProxy: true
kubeletTLS: { enabled: true }
`;

let pki: string;
const file = (rel: string) => readFileSync(path.join(pki, rel));
/** The value of a flag in a rendered flags/<component>.env; a path under install.dir comes back OUT-relative. */
function flag(env: string, name: string): string {
  const line = readFileSync(path.join(pki, 'flags', env), 'utf8').split('\n').find((l) => /^[A-Z_]+="/.test(l)) ?? '';
  const tok = line.replace(/^[A-Z_]+="|"$/g, '').split(' ').find((t) => t.startsWith(`${name}=`));
  if (!tok) throw new Error(`flags/${env} has no ${name}`);
  const v = tok.slice(name.length + 1);
  return v.startsWith('/var/run/kubernetes/') ? v.slice('/var/run/kubernetes/'.length) : v;
}
const servers: https.Server[] = [];

beforeAll(() => {
  pki = basePki(SPEC, 'tls-roles').out;
}, 40_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
  cleanupTmp();
});

interface Server {
  port: number;
  host: string;
  /** why the server refused a client certificate (OpenSSL's verify code), most recent last */
  refusals: string[];
}

/** An https server that requires a client certificate verified against `trust` and answers with the subject it saw. */
async function serve(opts: { crt: string; key: string; trust: string[]; host?: string; requireClient?: boolean }): Promise<Server> {
  const refusals: string[] = [];
  const s = https.createServer(
    // rejectUnauthorized: false + the check below = what node:tls does with true, but keeping the reason
    { cert: file(opts.crt), key: file(opts.key), ca: opts.trust.map(file), requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const sock = req.socket as TLSSocket;
      const peer = sock.getPeerCertificate();
      const subject = peer && peer.subject ? { CN: peer.subject.CN, O: peer.subject.O ?? null } : null;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ authorized: sock.authorized, subject }));
    },
  );
  s.on('secureConnection', (sock: TLSSocket) => {
    const presented = Object.keys(sock.getPeerCertificate() ?? {}).length > 0;
    if (sock.authorized || (!presented && opts.requireClient === false)) return;
    refusals.push(String(sock.authorizationError));
    sock.destroy();
  });
  servers.push(s);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  return { port: (s.address() as AddressInfo).port, host, refusals };
}

type Answer = { status: number; body: { authorized: boolean; subject: { CN: string; O: string | null } | null } } | { error: string };

/** GET / with a client certificate (or none); the server certificate verified against `trust`, for `servername` or else the IP connected to. */
function request(srv: Server, o: { trust: string; crt?: string; key?: string; servername?: string; identity?: string }): Promise<Answer> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: srv.host,
        port: srv.port,
        path: '/',
        ca: file(o.trust),
        ...(o.crt && o.key ? { cert: file(o.crt), key: file(o.key) } : {}),
        // (undefined keys are not the same as absent ones to node:tls: leave them out)
        ...(o.servername !== undefined ? { servername: o.servername } : {}),
        // the name or IP the server must prove (what kube-apiserver checks against a kubelet's address)
        ...(o.identity !== undefined ? { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(o.identity!, cert) } : {}),
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

const ok = (CN: string, O: string | null = null) => ({ status: 200, body: { authorized: true, subject: { CN, O } } });
// a refused client certificate: the server ends the connection (the exact error depends on timing)
const refused = expect.objectContaining({ error: expect.stringMatching(/ECONNRESET|EPIPE|ERR_SSL_TLSV1?3?_ALERT|socket hang up/) });

// OpenSSL's verdicts on a certificate that no trusted CA signed (which one depends on whether the peer sent its CA along)
const UNTRUSTED = expect.stringMatching(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)$/);

// the files are those the rendered flags name
const API = 'kube-apiserver.env';
const ADMIN = { crt: 'clients/admin.crt', key: 'clients/admin.key' };
let FRONT_PROXY: { crt: string; key: string };
let KUBELET_CLIENT: { crt: string; key: string };
// kube-apiserver's own serving pair; clients verify it for the DNS SAN "kubernetes"
let APISERVER: { crt: string; key: string };
const kubeletServing = (node: string) => ({ crt: flag(`kubelet-${node}.env`, '--tls-cert-file'), key: flag(`kubelet-${node}.env`, '--tls-private-key-file') });
beforeAll(() => {
  FRONT_PROXY = { crt: flag(API, '--proxy-client-cert-file'), key: flag(API, '--proxy-client-key-file') };
  KUBELET_CLIENT = { crt: flag(API, '--kubelet-client-certificate'), key: flag(API, '--kubelet-client-key') };
  APISERVER = { crt: flag(API, '--tls-cert-file'), key: flag(API, '--tls-private-key-file') };
  expect([FRONT_PROXY.crt, KUBELET_CLIENT.crt, APISERVER.crt]).toEqual(['front-proxy-client.crt', 'apiserver-kubelet-client.crt', 'server.crt']);
  expect(kubeletServing('k8s-node-1').crt).toBe('kubelet-serving/k8s-node-1.crt');
  expect([flag(API, '--client-ca-file'), flag(API, '--requestheader-client-ca-file'), flag(API, '--kubelet-certificate-authority')]).toEqual(['ca.crt', 'front-proxy-ca.crt', 'ca.crt']);
});

describe('front proxy (aggregation layer): the front-proxy CA and the cluster CA do not trust each other\'s clients', () => {
  let frontProxyTrust: Server;
  let clusterTrust: Server;
  beforeAll(async () => {
    // an extension API server: --requestheader-client-ca-file=front-proxy-ca.crt
    frontProxyTrust = await serve({ ...APISERVER, trust: [flag(API, '--requestheader-client-ca-file')] });
    // kube-apiserver itself: --client-ca-file=ca.crt
    clusterTrust = await serve({ ...APISERVER, trust: [flag(API, '--client-ca-file')] });
  });

  test('front-proxy-client is accepted by a server trusting front-proxy-ca.crt, with CN front-proxy-client (--requestheader-allowed-names)', async () => {
    expect(await request(frontProxyTrust, { trust: 'ca.crt', servername: 'kubernetes', ...FRONT_PROXY })).toEqual(ok(flag(API, '--requestheader-allowed-names')));
  });
  test('front-proxy-client is refused by a server trusting only ca.crt', async () => {
    const before = clusterTrust.refusals.length;
    expect(await request(clusterTrust, { trust: 'ca.crt', servername: 'kubernetes', ...FRONT_PROXY })).toEqual(refused);
    expect(clusterTrust.refusals.slice(before)).toEqual([UNTRUSTED]);
  });
  test('a cluster client (admin) is accepted by the server trusting ca.crt', async () => {
    expect(await request(clusterTrust, { trust: 'ca.crt', servername: 'kubernetes', ...ADMIN })).toEqual(ok('admin', 'system:masters'));
  });
  test('a cluster client (admin) is refused by the server trusting only front-proxy-ca.crt', async () => {
    const before = frontProxyTrust.refusals.length;
    expect(await request(frontProxyTrust, { trust: 'ca.crt', servername: 'kubernetes', ...ADMIN })).toEqual(refused);
    expect(frontProxyTrust.refusals.slice(before)).toEqual([UNTRUSTED]);
  });
  test('no client certificate: refused by both', async () => {
    for (const s of [frontProxyTrust, clusterTrust]) expect(await request(s, { trust: 'ca.crt', servername: 'kubernetes' })).toEqual(refused);
  });
});

describe('kubelet serving certificates, as kube-apiserver checks them (--kubelet-certificate-authority=ca.crt)', () => {
  let node1: Server;
  let node2: Server;
  beforeAll(async () => {
    // a kubelet: --tls-cert-file/--tls-private-key-file, --client-ca-file=ca.crt (anonymous clients allowed at the TLS level)
    node1 = await serve({ ...kubeletServing('k8s-node-1'), trust: [flag('kubelet-k8s-node-1.env', '--client-ca-file')], host: '127.0.0.1', requireClient: false });
    node2 = await serve({ ...kubeletServing('k8s-node-2'), trust: [flag('kubelet-k8s-node-2.env', '--client-ca-file')], host: '127.0.0.2', requireClient: false });
  });

  test('accepted for its node name', async () => {
    expect(await request(node1, { trust: 'ca.crt', servername: 'k8s-node-1', ...KUBELET_CLIENT })).toMatchObject({ status: 200 });
    expect(await request(node2, { trust: 'ca.crt', servername: 'k8s-node-2', ...KUBELET_CLIENT })).toMatchObject({ status: 200 });
  });
  test('accepted for its node IP (connected to by address, no server name)', async () => {
    expect(await request(node1, { trust: 'ca.crt', ...KUBELET_CLIENT })).toMatchObject({ status: 200 });
    expect(await request(node2, { trust: 'ca.crt', ...KUBELET_CLIENT })).toMatchObject({ status: 200 });
  });
  test('refused for another node\'s name or IP', async () => {
    expect(await request(node1, { trust: 'ca.crt', servername: 'k8s-node-2', ...KUBELET_CLIENT })).toEqual({ error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(await request(node2, { trust: 'ca.crt', servername: 'k8s-node-1', ...KUBELET_CLIENT })).toEqual({ error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(await request(node1, { trust: 'ca.crt', identity: '127.0.0.2', ...KUBELET_CLIENT })).toEqual({ error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(await request(node2, { trust: 'ca.crt', identity: '127.0.0.1', ...KUBELET_CLIENT })).toEqual({ error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
  test('refused by a client that trusts another CA (front-proxy-ca.crt)', async () => {
    expect(await request(node1, { trust: 'front-proxy-ca.crt', servername: 'k8s-node-1' })).toEqual({ error: UNTRUSTED });
  });
});

describe('apiserver-kubelet-client: kube-apiserver\'s client certificate for kubelets', () => {
  let kubelet: Server;
  beforeAll(async () => {
    // a kubelet that insists on a client certificate verified against --client-ca-file=ca.crt
    kubelet = await serve({ ...kubeletServing('k8s-node-1'), trust: [flag('kubelet-k8s-node-1.env', '--client-ca-file')] });
  });

  test('accepted by a server that trusts ca.crt and checks clientAuth; the kubelet sees its user and group', async () => {
    expect(await request(kubelet, { trust: 'ca.crt', servername: 'k8s-node-1', ...KUBELET_CLIENT })).toEqual(ok('kube-apiserver-kubelet-client', 'system:masters'));
  });
  test('the server does check the purpose: a serverAuth-only certificate (a kubelet serving cert) is refused as a client', async () => {
    const before = kubelet.refusals.length;
    expect(await request(kubelet, { trust: 'ca.crt', servername: 'k8s-node-1', ...kubeletServing('k8s-node-2') })).toEqual(refused);
    expect(kubelet.refusals.slice(before)).toEqual(['INVALID_PURPOSE']);
  });
  test('a client of another CA (front-proxy-client) is refused: kubelets trust only the cluster CA', async () => {
    const before = kubelet.refusals.length;
    expect(await request(kubelet, { trust: 'ca.crt', servername: 'k8s-node-1', ...FRONT_PROXY })).toEqual(refused);
    expect(kubelet.refusals.slice(before)).toEqual([UNTRUSTED]);
  });
});
