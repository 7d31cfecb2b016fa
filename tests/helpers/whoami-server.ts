// A loopback TLS server that authenticates clients the way kube-apiserver does: it asks for a
// client certificate, verifies it against the CA (chain and clientAuth purpose), answers 401 when
// it does not verify, and otherwise takes CN as the user and O as the groups. It answers
// `kubectl auth whoami` (POST /apis/authentication.k8s.io/v1/selfsubjectreviews) with what it saw.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface Seen {
  user: string;
  groups: string[];
}

export async function startWhoamiServer(opts: { cert: Buffer | string; key: Buffer | string; ca: Buffer | string }) {
  const seen: Seen[] = [];
  /** requests refused, with the reason (a foreign client certificate lands here) */
  const rejected: string[] = [];
  const server = https.createServer({ cert: opts.cert, key: opts.key, ca: opts.ca, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const sock = req.socket as TLSSocket;
    if (!sock.authorized) {
      rejected.push(String(sock.authorizationError ?? 'no client certificate'));
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
      return;
    }
    const peer = sock.getPeerCertificate();
    const subj = peer.subject as unknown as Record<string, string | string[]>;
    const user = String(subj.CN);
    const groups = subj.O === undefined ? [] : Array.isArray(subj.O) ? subj.O : [subj.O];
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const m = req.url?.match(/^\/apis\/authentication\.k8s\.io\/(v1|v1beta1|v1alpha1)\/selfsubjectreviews/);
      if (req.method === 'POST' && m) {
        seen.push({ user, groups });
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            kind: 'SelfSubjectReview',
            apiVersion: `authentication.k8s.io/${m[1]}`,
            metadata: { creationTimestamp: null },
            status: { userInfo: { username: user, groups: [...groups, 'system:authenticated'] } },
          }),
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    seen,
    rejected,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
