// A stand-in for a kubelet's HTTPS port: serves with the node's kubelet serving certificate,
// requires a client certificate from the cluster CA (as a kubelet with --client-ca-file does),
// answers /healthz "ok" to the one client identity it is told to trust and 403 to any other.
// Every request is logged as a JSON line: the tests read which identity called.
//   node stand-in-kubelet.mjs IP PORT CERT KEY CA TRUSTED_CN
import https from 'node:https';
import { readFileSync } from 'node:fs';

const [ip, port, cert, key, ca, trusted] = process.argv.slice(2);
const server = https.createServer(
  { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true },
  (req, res) => {
    const peer = req.socket.getPeerCertificate();
    const cn = peer?.subject?.CN ?? null;
    console.log(JSON.stringify({ method: req.method, url: req.url, cn }));
    if (cn !== trusted) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('forbidden');
    } else if (new URL(req.url, 'https://kubelet').pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  },
);
server.on('tlsClientError', (e) => console.log(JSON.stringify({ tlsError: e.message })));
server.listen(Number(port), ip, () => console.log(JSON.stringify({ listening: `${ip}:${port}` })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
