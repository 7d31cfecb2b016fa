// A minimal DER reader: just enough of X.509 and PKCS#10 to check what node:crypto does not expose
// (the exact RDN sequence of a name, X.509 version, extension criticality, key usage bits, CSRs),
// and a DER writer for the few fixed envelopes the checks compare bytes with.
// Pure; no I/O, no processes.
import { bigIntToIp } from '../spec/net.js';

export interface Tlv {
  tag: number;
  /** offset of the tag byte in the buffer */
  start: number;
  /** offset of the content */
  body: number;
  /** offset just past the content */
  end: number;
  buf: Buffer;
}

export class DerError extends Error {}

export function readTlv(buf: Buffer, at = 0): Tlv {
  if (at + 2 > buf.length) throw new DerError('truncated DER');
  const tag = buf[at];
  if ((tag & 0x1f) === 0x1f) throw new DerError('high-tag-number form not supported');
  let len = buf[at + 1];
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > buf.length) throw new DerError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[body + i];
    body += n;
  }
  const end = body + len;
  if (end > buf.length) throw new DerError('truncated DER');
  return { tag, start: at, body, end, buf };
}

export function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let at = t.body;
  while (at < t.end) {
    const c = readTlv(t.buf, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

/** One DER element: the tag, the length in its shortest form, the content. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  const n = body.length;
  if (n >= 0x1000000) throw new DerError('DER element too long to write');
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

export const content = (t: Tlv): Buffer => t.buf.subarray(t.body, t.end);
export const whole = (t: Tlv): Buffer => t.buf.subarray(t.start, t.end);

export function oid(t: Tlv): string {
  if (t.tag !== 0x06) throw new DerError('expected an OBJECT IDENTIFIER');
  const b = content(t);
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

export function str(t: Tlv): string {
  const b = content(t);
  switch (t.tag) {
    case 0x0c: // UTF8String
      return b.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // T61String (treated as latin1)
      return b.toString('latin1');
    case 0x1e: {
      // BMPString, UTF-16BE
      const swapped = Buffer.from(b);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    default:
      return b.toString('latin1');
  }
}

const ATTR_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

export interface Attr {
  type: string;
  value: string;
}
/** A name as its exact sequence of RDNs; each RDN a set of attributes (normally one). */
export type Name = Attr[][];

export function name(t: Tlv): Name {
  return children(t).map((rdn) =>
    children(rdn).map((atv) => {
      const [type, value] = children(atv);
      const o = oid(type);
      return { type: ATTR_NAMES[o] ?? o, value: str(value) };
    }),
  );
}

/** The name as openssl's -subj would write it: /CN=a/O=b, with '/', '+' and '\' escaped. */
export function nameToSubj(n: Name): string {
  return n.map((rdn) => '/' + rdn.map((a) => `${a.type}=${escapeSubjValue(a.value)}`).join('+')).join('');
}

export function escapeSubjValue(v: string): string {
  return v.replace(/[\\/+]/g, (c) => '\\' + c);
}

export interface Extension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

export function extensions(seq: Tlv): Extension[] {
  return children(seq).map((ext) => {
    const parts = children(ext);
    const critical = parts.length === 3 && parts[1].tag === 0x01 && content(parts[1])[0] !== 0;
    const value = content(parts[parts.length - 1]);
    return { oid: oid(parts[0]), critical, value };
  });
}

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  extensionRequest: '1.2.840.113549.1.9.14',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export function decodeKeyUsage(value: Buffer): string[] {
  const t = readTlv(value);
  const b = content(t);
  const out: string[] = [];
  for (let i = 0; i < KEY_USAGE_BITS.length; i++) {
    const byte = 1 + (i >> 3);
    if (byte < b.length && b[byte] & (0x80 >> (i & 7))) out.push(KEY_USAGE_BITS[i]);
  }
  return out;
}

const EKU_NAMES: Record<string, string> = { [OID.serverAuth]: 'serverAuth', [OID.clientAuth]: 'clientAuth' };

export function decodeExtKeyUsage(value: Buffer): string[] {
  return children(readTlv(value)).map((t) => EKU_NAMES[oid(t)] ?? oid(t));
}

export function decodeBasicConstraints(value: Buffer): { ca: boolean; pathLen?: number } {
  const parts = children(readTlv(value));
  let ca = false;
  let pathLen: number | undefined;
  for (const p of parts) {
    if (p.tag === 0x01) ca = content(p)[0] !== 0;
    if (p.tag === 0x02) pathLen = content(p).readUIntBE(0, content(p).length);
  }
  return { ca, pathLen };
}

export function decodeSans(value: Buffer): { dns: string[]; ip: string[]; other: string[] } {
  const out = { dns: [] as string[], ip: [] as string[], other: [] as string[] };
  for (const g of children(readTlv(value))) {
    const b = content(g);
    if (g.tag === 0x82) out.dns.push(b.toString('latin1'));
    else if (g.tag === 0x87) out.ip.push(ipBytesToText(b));
    else out.other.push(`[${g.tag & 0x1f}]`);
  }
  return out;
}

function ipBytesToText(b: Buffer): string {
  if (b.length === 4 || b.length === 16) return bigIntToIp(BigInt('0x' + b.toString('hex')), b.length === 4 ? 32 : 128);
  return `<${b.length}-byte address>`;
}

/** DER as PEM the way OpenSSL writes it: base64 in lines of 64, every line ending in \n. */
export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

export function pemToDer(pem: string, label: string): Buffer {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`);
  const m = pem.match(re);
  if (!m) throw new DerError(`no "BEGIN ${label}" block`);
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}
