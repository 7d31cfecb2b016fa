// Reading keys, CSRs and certificates into plain data with node:crypto and the DER reader.
// In-process: no openssl spawn is needed for any of these checks.
import { X509Certificate, createPrivateKey, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import {
  OID,
  children,
  content,
  decodeBasicConstraints,
  derToPem,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeSans,
  extensions,
  name,
  oid,
  pemToDer,
  readTlv,
  tlv,
  whole,
  type Extension,
  type Name,
  type Tlv,
} from './der.js';

export interface CertInfo {
  /** made when first asked for, for a certificate the DER reader reads alone (opensslRsaCert) */
  readonly x509: X509Certificate;
  /** what signedBy checks without OpenSSL, for such a certificate */
  signed?: { tbs: Buffer; hash: string; signature: Buffer };
  pem: string;
  version: number; // 1 or 3
  serialHex: string;
  subject: Name;
  issuer: Name;
  notBefore: Date;
  notAfter: Date;
  extensions: Extension[];
  /** the SubjectPublicKeyInfo's DER, as it stands in the certificate */
  spki: Buffer;
  basicConstraints: { ca: boolean; critical: boolean } | null;
  keyUsage: string[] | null;
  extKeyUsage: string[] | null;
  sans: { dns: string[]; ip: string[]; other: string[] } | null;
  /** read from the certificate when first asked for (a leaf's is not: its signer's is) */
  readonly publicKey: KeyObject;
}

/** Whether a certificate holds the public half of a private key. The SPKI bytes a key of OpenSSL's
 *  writing gives (spkiOf) decide a match without OpenSSL: the same bytes are the same public key.
 *  Any other pair gets OpenSSL's verdict (X509_check_private_key), which needs the private key's
 *  KeyObject. */
export function certHoldsKey(c: CertInfo, key: KeyInfo): boolean {
  return c.spki.equals(key.spki) || c.x509.checkPrivateKey(key.key);
}

/** A subject or issuer as openssl prints it with -nameopt compat: /CN=a/O=b */
export function subjectText(c: { subject: Name }): string {
  return nameText(c.subject);
}
const nameText = (n: Name) => n.map((rdn) => '/' + rdn.map((a) => `${a.type}=${a.value}`).join('+')).join('');

/** What manifest.json records of a certificate. */
export interface CertFacts {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  sans: string[];
  extendedKeyUsage: string[];
}
export function certFacts(c: CertInfo): CertFacts {
  return {
    subject: nameText(c.subject),
    issuer: nameText(c.issuer),
    serial: c.serialHex,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    sans: c.sans ? [...c.sans.dns, ...c.sans.ip] : [],
    extendedKeyUsage: c.extKeyUsage ?? [],
  };
}

function decodeExts(exts: Extension[]) {
  const find = (o: string) => exts.find((e) => e.oid === o);
  const bc = find(OID.basicConstraints);
  const ku = find(OID.keyUsage);
  const eku = find(OID.extKeyUsage);
  const san = find(OID.subjectAltName);
  return {
    basicConstraints: bc ? { ...decodeBasicConstraints(bc.value), critical: bc.critical } : null,
    keyUsage: ku ? decodeKeyUsage(ku.value) : null,
    extKeyUsage: eku ? decodeExtKeyUsage(eku.value) : null,
    sans: san ? decodeSans(san.value) : null,
  };
}

/** Parses one PEM certificate. Throws with a plain reason if it is not one. */
/** Every certificate of a PEM bundle, in its order. */
export function readCertificates(pem: string): CertInfo[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) readCertificate(pem); // throws the reader's own error
  return blocks.map(readCertificate);
}

/** The AlgorithmIdentifiers of the RSA PKCS#1 v1.5 signatures, as OpenSSL writes them (NULL
 *  parameters) -> their hash. */
const RSA_SIG_ALGS = new Map(
  [
    ['2a864886f70d01010b', 'sha256'],
    ['2a864886f70d01010c', 'sha384'],
    ['2a864886f70d01010d', 'sha512'],
  ].map(([o, h]) => [tlv(0x30, tlv(0x06, Buffer.from(o, 'hex')), Buffer.from([0x05, 0x00])).toString('latin1'), h]),
);

/** A UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) in the one form DER allows, as
 *  a Date; undefined for anything else. */
function derTime(t: Tlv): Date | undefined {
  if (t.tag !== 0x17 && t.tag !== 0x18) return undefined;
  const text = content(t).toString('latin1');
  const m = (t.tag === 0x17 ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/ : /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/).exec(text);
  if (!m) return undefined;
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  const [mo, d, h, mi, se] = m.slice(2).map(Number);
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, se));
  // a day or an hour out of range would roll over into another date
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === se ? date : undefined;
}

/** What the checks take from a certificate that the DER reader reads alone (opensslRsaCert). */
interface FastCert {
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  tbs: Buffer;
  hash: string;
  signature: Buffer;
}

/** [3] { SEQUENCE OF Extension }, each Extension an OID, an optional critical TRUE (DER writes
 *  no FALSE) and an OCTET STRING. */
function extensionsInDer(field: Tlv): boolean {
  const inner = children(field);
  if (inner.length !== 1 || inner[0].tag !== 0x30) return false;
  return children(inner[0]).every((ext) => {
    const p = children(ext);
    const crit = p.length === 3 ? p[1] : undefined;
    return ext.tag === 0x30 && (p.length === 2 || p.length === 3) && p[0].tag === 0x06 && p[p.length - 1].tag === 0x04 && (!crit || (crit.tag === 0x01 && crit.end - crit.body === 1 && crit.buf[crit.body] === 0xff));
  });
}

/** What a certificate of the form OpenSSL writes for an RSA key, signed with RSA PKCS#1 v1.5,
 *  holds for the checks, read by the DER reader alone: the text is one PEM block exactly as
 *  OpenSSL writes it; the DER is the three fields of a Certificate and nothing after them; the
 *  TBSCertificate has a version of 2 or 3 (or none: v1), a shortest-form serial, the signature
 *  algorithm of the outer field byte for byte, two names, validity times in their DER forms, an
 *  rsaEncryption SPKI around a PKCS#1 public key that node reads, and extensions only in v3. node's
 *  X509Certificate takes ~0.45 ms to read a certificate here (OpenSSL's decoders for its public
 *  key); this, a few µs. Undefined for anything else, which X509Certificate then reads. */
function opensslRsaCert(pem: string, der: Buffer, cert: Tlv, top: Tlv[], f: Tlv[], i: number, version: number): FastCert | undefined {
  if (derToPem(der, 'CERTIFICATE') !== pem || cert.tag !== 0x30 || cert.start !== 0 || cert.end !== der.length || top.length !== 3) return undefined;
  const [tbs, sigAlg, sig] = top;
  const hash = RSA_SIG_ALGS.get(whole(sigAlg).toString('latin1'));
  if (!hash || tbs.tag !== 0x30 || sig.tag !== 0x03 || sig.end - sig.body < 2 || der[sig.body] !== 0) return undefined;
  if (i === 1 && (f[0].end - f[0].body !== 3 || der[f[0].body] !== 0x02 || der[f[0].body + 1] !== 1 || !(version === 2 || version === 3))) return undefined;
  const serial = f[i];
  const sb = serial.end - serial.body;
  if (serial.tag !== 0x02 || sb === 0 || (der[serial.body] === 0 && sb > 1 && der[serial.body + 1] < 0x80)) return undefined;
  if (!whole(f[i + 1]).equals(whole(sigAlg)) || f[i + 2].tag !== 0x30 || f[i + 3].tag !== 0x30 || f[i + 4].tag !== 0x30) return undefined;
  const validity = children(f[i + 3]);
  const notBefore = validity.length === 2 ? derTime(validity[0]) : undefined;
  const notAfter = validity.length === 2 ? derTime(validity[1]) : undefined;
  if (!notBefore || !notAfter) return undefined;
  const rest = f.slice(i + 6);
  if (rest.length > 1 || (rest.length === 1 && (rest[0].tag !== 0xa3 || version !== 3 || !extensionsInDer(rest[0])))) return undefined;
  const spki = whole(f[i + 5]);
  const parts = children(f[i + 5]);
  if (parts.length !== 2 || !whole(parts[0]).equals(RSA_ALG) || parts[1].tag !== 0x03 || der[parts[1].body] !== 0) return undefined;
  const pkcs1 = der.subarray(parts[1].body + 1, parts[1].end);
  const publicKey = createPublicKey({ key: pkcs1, format: 'der', type: 'pkcs1' });
  // the same public key written back is the same bytes: nothing after the RSAPublicKey, no other encoding
  if (!spkiOf(publicKey).equals(spki)) return undefined;
  return { notBefore, notAfter, publicKey, tbs: whole(tbs), hash, signature: der.subarray(sig.body + 1, sig.end) };
}

export function readCertificate(pem: string): CertInfo {
  const der = pemToDer(pem, 'CERTIFICATE');
  const cert = readTlv(der);
  const top = children(cert);
  const tbs = top[0];
  const f = children(tbs);
  let i = 0;
  let version = 1;
  if (f[0].tag === 0xa0) {
    version = content(children(f[0])[0])[0] + 1;
    i = 1;
  }
  let fast: FastCert | undefined;
  try {
    fast = opensslRsaCert(pem, der, cert, top, f, i, version);
  } catch {
    fast = undefined;
  }
  let x509 = fast ? undefined : new X509Certificate(der);
  const serialHex = content(f[i]).toString('hex').toUpperCase().replace(/^(00)+(?=.)/, '');
  const issuer = name(f[i + 2]);
  const subject = name(f[i + 4]);
  const extField = f.slice(i + 6).find((t) => t.tag === 0xa3);
  const exts = extField ? extensions(children(extField)[0]) : [];
  return {
    get x509() {
      return (x509 ??= new X509Certificate(der));
    },
    pem,
    version,
    serialHex,
    subject,
    issuer,
    notBefore: fast?.notBefore ?? new Date(x509!.validFrom),
    notAfter: fast?.notAfter ?? new Date(x509!.validTo),
    extensions: exts,
    spki: whole(f[i + 5]),
    ...decodeExts(exts),
    signed: fast && { tbs: fast.tbs, hash: fast.hash, signature: fast.signature },
    get publicKey() {
      return fast?.publicKey ?? x509!.publicKey;
    },
  };
}

/** Whether X509Certificate reads the certificate (it did, for one the DER reader does not read alone). */
export function readByOpenssl(c: CertInfo): boolean {
  try {
    return c.x509 !== undefined;
  } catch {
    return false;
  }
}

/** Whether `key` signed the certificate: X509_verify's verdict. For a certificate read by the DER
 *  reader and an RSA key, the signature over the TBSCertificate's bytes with the hash its
 *  algorithm names (which X509_verify checks, after the algorithms of both fields are the same
 *  and the key's type is the algorithm's); anything else asks X509_verify itself. */
export function signedBy(c: CertInfo, key: KeyObject): boolean {
  if (c.signed && key.asymmetricKeyType === 'rsa') return cryptoVerify(c.signed.hash, c.signed.tbs, key, c.signed.signature);
  return c.x509.verify(key);
}

export interface CsrInfo {
  subject: Name;
  publicKey: KeyObject;
  signatureValid: boolean;
  sans: { dns: string[]; ip: string[]; other: string[] } | null;
  extensions: Extension[];
}

const SIG_HASH: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
};

/** Parses a PKCS#10 request and checks its self-signature. A request that holds the SPKI bytes of
 *  `key` (one made from it) gets that key's public half as its public key, and its self-signature
 *  is checked with it: the same key, without a second parse of the same bytes. */
export function readCsr(pem: string, key?: Pick<KeyInfo, 'publicKey' | 'spki'>): CsrInfo {
  const der = pemToDer(pem, 'CERTIFICATE REQUEST');
  const top = children(readTlv(der));
  const [info, sigAlg, sig] = top;
  const f = children(info);
  const subject = name(f[1]);
  const spki = whole(f[2]);
  const publicKey = key && spki.equals(key.spki) ? key.publicKey : createPublicKey({ key: spki, format: 'der', type: 'spki' });
  let exts: Extension[] = [];
  const attrs = f[3] && f[3].tag === 0xa0 ? children(f[3]) : [];
  for (const a of attrs) {
    const [type, values] = children(a);
    if (oid(type) === OID.extensionRequest) exts = extensions(children(values)[0]);
  }
  const hash = SIG_HASH[oid(children(sigAlg)[0])];
  const sigBytes = content(sig).subarray(1); // BIT STRING: skip the unused-bits byte
  const signatureValid = hash ? cryptoVerify(hash, whole(info), publicKey, sigBytes) : false;
  return { subject, publicKey, signatureValid, sans: decodeExts(exts).sans, extensions: exts };
}

export interface KeyInfo {
  /** made when first asked for (an RSA key as OpenSSL writes it: see opensslRsaKey) */
  readonly key: KeyObject;
  type: string;
  /** RSA: the modulus; EC: the curve's size (256: P-256) */
  bits: number;
  /** publicId of its public half */
  publicId: string;
  publicKey: KeyObject;
  /** the SPKI DER of its public half as OpenSSL writes it: what a request or certificate made
   *  from this key holds */
  spki: Buffer;
}

/** A public key's identity, cheap to compare: its JWK members (RSA n and e; EC crv, x and y), or
 *  its SPKI DER for a type without a JWK form. The JWK, not the DER: node returns it without
 *  asking OpenSSL to encode anything, which is what makes comparing every key of a run cheap. */
export function publicId(k: KeyObject): string {
  const pub = k.type === 'private' ? createPublicKey(k) : k;
  try {
    const j = pub.export({ format: 'jwk' });
    return JSON.stringify([j.kty, j.crv, j.n, j.e, j.x, j.y]);
  } catch {
    return (pub.export({ format: 'der', type: 'spki' }) as Buffer).toString('base64');
  }
}

/** node's namedCurve of the NIST curves -> their size */
const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

const ZERO = Buffer.from([0]);
const RSA_ALG = tlv(0x30, tlv(0x06, Buffer.from('2a864886f70d010101', 'hex')), Buffer.from([0x05, 0x00]));
const EC_ALG = tlv(0x06, Buffer.from('2a8648ce3d0201', 'hex'));
/** the JWK crv of the NIST curves -> the DER of their OID */
const CURVE_OID: Record<string, Buffer> = {
  'P-256': tlv(0x06, Buffer.from('2a8648ce3d030107', 'hex')),
  'P-384': tlv(0x06, Buffer.from('2b81040022', 'hex')),
  'P-521': tlv(0x06, Buffer.from('2b81040023', 'hex')),
};

/** The SPKI DER of a public key, as OpenSSL encodes it. RSA and EC are built here from what node
 *  returns without OpenSSL's encoder framework (RSA: the PKCS#1 public key; EC: the JWK's x and y,
 *  as the uncompressed point) in a few µs: OpenSSL 3 takes ~0.2 ms to encode an SPKI. A unit test
 *  holds the two equal. */
export function spkiOf(pub: KeyObject): Buffer {
  if (pub.asymmetricKeyType === 'rsa') return tlv(0x30, RSA_ALG, tlv(0x03, ZERO, pub.export({ format: 'der', type: 'pkcs1' })));
  if (pub.asymmetricKeyType === 'ec') {
    const j = pub.export({ format: 'jwk' });
    const curve = CURVE_OID[j.crv ?? ''];
    if (curve && j.x && j.y) return tlv(0x30, tlv(0x30, EC_ALG, curve), tlv(0x03, Buffer.from([0, 4]), Buffer.from(j.x, 'base64url'), Buffer.from(j.y, 'base64url')));
  }
  return pub.export({ format: 'der', type: 'spki' }) as Buffer;
}

const PKCS8_V0 = Buffer.from([0x02, 0x01, 0x00]);

/** A DER INTEGER that is non-negative and in its shortest form (what DER requires). */
function isMinimalUnsigned(t: Tlv): boolean {
  const len = t.end - t.body;
  const b0 = t.buf[t.body];
  return t.tag === 0x02 && len > 0 && b0 < 0x80 && !(b0 === 0 && len > 1 && t.buf[t.body + 1] < 0x80);
}

/** An RSA key in the text OpenSSL writes (genrsa, genpkey, req -newkey): one PEM block of a PKCS#8
 *  PrivateKeyInfo, version 0, rsaEncryption with NULL parameters, no attributes, around a
 *  two-prime RSAPrivateKey of nine non-negative, shortest-form INTEGERs and nothing after them.
 *  The text and the envelope must be exactly that, byte for byte. Such a key is read here, in a few
 *  µs: OpenSSL reads every such RSAPrivateKey (it checks no relation between the numbers when it
 *  loads a key), and its public half is n and e, which is all any check compares. OpenSSL's own
 *  reader takes ~0.4 ms a key here (createPrivateKey, even of the bare PKCS#1 DER), so the private
 *  KeyObject is made only when something asks for it. Undefined for any other text: createPrivateKey
 *  then reads the whole text and gives its own verdict. */
function opensslRsaKey(pem: string): { rsa: Buffer; n: Tlv; e: Tlv } | undefined {
  if (!pem.startsWith('-----BEGIN PRIVATE KEY-----\n')) return undefined;
  try {
    const der = pemToDer(pem, 'PRIVATE KEY');
    if (derToPem(der, 'PRIVATE KEY') !== pem) return undefined;
    const f = children(readTlv(der));
    if (f.length !== 3 || f[2].tag !== 0x04) return undefined;
    const rsa = content(f[2]);
    const inner = readTlv(rsa);
    if (inner.tag !== 0x30 || inner.end !== rsa.length || !tlv(0x30, PKCS8_V0, RSA_ALG, tlv(0x04, rsa)).equals(der)) return undefined;
    const ints = children(inner);
    if (ints.length !== 9 || !ints.every(isMinimalUnsigned) || !whole(ints[0]).equals(PKCS8_V0)) return undefined;
    return { rsa, n: ints[1], e: ints[2] };
  } catch {
    return undefined;
  }
}

/** The bit length of a non-negative DER INTEGER. */
function intBits(t: Tlv): number {
  let at = t.body;
  while (at < t.end - 1 && t.buf[at] === 0) at++;
  return (t.end - at - 1) * 8 + (32 - Math.clz32(t.buf[at]));
}

export function readPrivateKey(pem: string): KeyInfo {
  const fast = opensslRsaKey(pem);
  if (fast) {
    const pkcs1 = tlv(0x30, whole(fast.n), whole(fast.e));
    // node reads a bare PKCS#1 public key without OpenSSL's decoders: ~15 µs
    const publicKey = createPublicKey({ key: pkcs1, format: 'der', type: 'pkcs1' });
    let key: KeyObject | undefined;
    return {
      get key() {
        return (key ??= createPrivateKey({ key: fast.rsa, format: 'der', type: 'pkcs1' }));
      },
      type: 'rsa',
      bits: intBits(fast.n),
      publicId: publicId(publicKey),
      publicKey,
      spki: tlv(0x30, RSA_ALG, tlv(0x03, ZERO, pkcs1)),
    };
  }
  const key = createPrivateKey(pem);
  const publicKey = createPublicKey(key);
  return {
    key,
    type: key.asymmetricKeyType ?? 'unknown',
    bits: key.asymmetricKeyDetails?.modulusLength ?? CURVE_BITS[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? 0,
    publicId: publicId(publicKey),
    publicKey,
    spki: spkiOf(publicKey),
  };
}

/** publicId of a PEM public key (or of the public half of a certificate's key). */
export function readPublicKey(pem: string): string {
  return publicId(createPublicKey(pem));
}
