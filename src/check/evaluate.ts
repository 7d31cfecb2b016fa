// Evaluates a step's checks on the files it just wrote (the runner) and returns what each check
// verified, one human line per output, or the problems of the first check that fails.
import type { CertRow } from '../catalog/certs.js';
import { derToPem } from '../x509/der.js';
import { certFacts, readCertificate, readPrivateKey, readPublicKey, subjectText, type CertFacts, type CertInfo, type KeyInfo } from '../x509/inspect.js';
import { checkCert, checkCsr, checkKey, checkSerial, describeKey, type BareForm, type Problem } from './rules.js';
import type { Check, KeyRef } from './types.js';

export interface CheckEnv {
  now: Date;
  rowsById: Map<string, CertRow>;
  /** the bytes of an OUT-relative file (the step's stage for its own outputs) */
  read: (rel: string) => Buffer;
  /** what `x509 -req` without -extfile writes with this openssl (its version is known) */
  bare?: BareForm;
  /** a file step: the text it wrote, and the bytes of every file it embeds */
  written?: { text: string; embedded: Map<string, Buffer> };
}

export interface Evaluation {
  lines: string[];
  problems: Problem[];
  /** the certificate a cert check read: its bytes and what the manifest records of it */
  cert?: { path: string; bytes: Buffer; facts: CertFacts };
}

/** A certificate's key is checked after genrsa, again with its request and again with its
 *  certificate; a CA's certificate is read for every signing. Parsing an RSA key costs about a
 *  millisecond of the main thread, so the last few parses are kept, keyed by the file's exact
 *  text (a file that changed is parsed again). Bounded: memory does not grow with the node count. */
class ParseCache<T> {
  private m = new Map<string, { text: string; value: T }>();
  constructor(private size = 32) {}
  get(key: string, text: string, parse: () => T): T {
    const hit = this.m.get(key);
    if (hit && hit.text === text) return hit.value;
    const value = parse();
    this.m.delete(key);
    this.m.set(key, { text, value });
    if (this.m.size > this.size) this.m.delete(this.m.keys().next().value!);
    return value;
  }
}
const keyCache = new ParseCache<ReturnType<typeof checkKey>>();
const certCache = new ParseCache<CertInfo>();

/** Evaluates the checks in order; stops at the first that finds a problem. */
export function evaluate(checks: readonly Check[], env: CheckEnv): Evaluation {
  const lines: string[] = [];
  const certs = new Map<string, CertInfo>();
  let cert: Evaluation['cert'];
  const text = (rel: string) => env.read(rel).toString('utf8');
  const key = (k: KeyRef): KeyInfo | Problem[] => {
    const pem = text(k.file);
    const r = keyCache.get(`${k.file}:${k.algorithm}:${k.bits}`, pem, () => checkKey(k.file, pem, k));
    return r.problems.length || !r.info ? r.problems : r.info;
  };
  const row = (id: string) => {
    const r = env.rowsById.get(id);
    if (!r) throw new Error(`internal: no catalogue row ${id}`);
    return r;
  };
  for (const c of checks) {
    switch (c.kind) {
      case 'key': {
        const k = key(c);
        if (Array.isArray(k)) return { lines, problems: k };
        lines.push(`${c.file}: ${k.type === 'rsa' ? `RSA ${k.bits}-bit` : describeKey(k)} private key, mode 0600`);
        break;
      }
      case 'csr': {
        const k = key(c.key);
        if (Array.isArray(k)) return { lines, problems: k };
        const problems = checkCsr(c.file, text(c.file), row(c.row), k);
        if (problems.length) return { lines, problems };
        lines.push(`${c.file}: subject ok, self-signature ok, made from ${c.key.file}`);
        break;
      }
      case 'cert': {
        const r = row(c.row);
        const k = key(c.key);
        if (Array.isArray(k)) return { lines, problems: k };
        let signer: CertInfo | undefined;
        if (c.signer) {
          const pem = text(c.signer);
          signer = certCache.get(c.signer, pem, () => readCertificate(pem));
        }
        const bytes = env.read(c.file);
        const res = checkCert(c.file, bytes.toString('utf8'), r, k, signer, { now: env.now, freshDays: c.days, bare: r.kind === 'leaf' && !r.ext ? env.bare : undefined });
        if (res.problems.length || !res.info) return { lines, problems: res.problems };
        const info = res.info;
        certs.set(c.file, info);
        cert = { path: c.file, bytes, facts: certFacts(info) };
        const sans = info.sans ? `, SANs ${[...info.sans.dns, ...info.sans.ip].join(' ')}` : '';
        const eku = info.extKeyUsage ? `, ${info.extKeyUsage.join('+')}` : '';
        const what = r.kind === 'ca' ? 'self-signed CA' : `v${info.version}`;
        const by = r.kind === 'ca' ? '' : `signed by ${r.signer}, `;
        lines.push(`${c.file}: ${what} ${subjectText(info)}, ${by}key matches${eku}${sans}, until ${info.notAfter.toISOString().slice(0, 10)}`);
        break;
      }
      case 'serial': {
        const signed = certs.get(c.cert);
        if (!signed) throw new Error(`internal: the serial check of ${c.file} comes before the check of ${c.cert}`);
        const problems = checkSerial(c.file, text(c.file), signed);
        if (problems.length) return { lines, problems };
        lines.push(`${c.file}: serial ${signed.serialHex}`);
        break;
      }
      case 'public-of': {
        // `pkey -pubout` writes the PEM of the key's SPKI: that exact text is the key's public
        // half; any other text is parsed and compared by its public key
        const k = readPrivateKey(text(c.key));
        const pub = text(c.file);
        if (pub !== derToPem(k.spki, 'PUBLIC KEY') && readPublicKey(pub) !== k.publicId) {
          return { lines, problems: [{ file: c.file, code: 'key-mismatch', message: `is not the public half of ${c.key}` }] };
        }
        lines.push(`${c.file}: public half of ${c.key}`);
        break;
      }
      case 'kubeconfig': {
        // the file holds exactly the text rendered for it, and that text embeds every file with
        // the bytes read from disk for it (the step's own read: not a second one)
        const t = env.written!;
        const got = text(c.file);
        if (got !== t.text) return { lines, problems: [{ file: c.file, code: 'kubeconfig', message: 'does not hold what was written to it' }] };
        for (const [file, bytes] of t.embedded) {
          if (!got.includes(`: ${bytes.toString('base64')}\n`)) return { lines, problems: [{ file: c.file, code: 'kubeconfig', message: `does not embed ${file} as written` }] };
        }
        const server = /^ +server: (.*)$/m.exec(got)?.[1] ?? '(none)';
        lines.push(`${c.file}: ${t.embedded.size ? `embeds ${[...t.embedded.keys()].join(', ')}` : 'names files under install.dir'}, server ${server}`);
        break;
      }
      case 'written':
        lines.push(`${c.file}: written`);
        break;
    }
  }
  return { lines, problems: [], cert };
}
