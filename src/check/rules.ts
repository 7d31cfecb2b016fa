// What a key, a CSR and a certificate must be, for one catalogue row. The same functions check
// each step's outputs (generate, renew) and every file on disk (verify, incremental generate).
// In-process (node:crypto + the DER reader): no openssl spawn.
import { subjOf, type CertRow } from '../catalog/certs.js';
import { keyName, type KeyWant } from '../catalog/keys.js';
import { nameToSubj, OID } from '../x509/der.js';
import { certHoldsKey, publicId, readCertificate, readCertificates, readCsr, readByOpenssl, readPrivateKey, signedBy, type CertInfo, type KeyInfo } from '../x509/inspect.js';

export interface Problem {
  file: string;
  /** short machine-readable kind: missing, unparsable, key-mismatch, not-signed-by-ca, sans, identity, eku, expired, expiring, permissions, … */
  code: string;
  message: string;
}

const p = (file: string, code: string, message: string): Problem => ({ file, code, message });
const list = (xs: readonly string[]) => (xs.length ? xs.join(', ') : '(none)');
const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** What a key-size problem adds for verify's reader; generate and renew, which act on it, leave it out. */
export const REKEY_HINT = ' (renew --rekey makes a new key)';

export type { KeyWant };

export const keyWantOf = (entry: { key: KeyWant }): KeyWant => entry.key;

/** "RSA 2048", "ECDSA P-256", or the type node names */
export const describeKey = (k: { type: string; bits: number }) => (k.type === 'rsa' ? `RSA ${k.bits}` : k.type === 'ec' && k.bits ? `ECDSA P-${k.bits}` : `a ${k.type} key`);

export function checkKey(file: string, pem: string, want: KeyWant): { info?: KeyInfo; problems: Problem[] } {
  let info: KeyInfo;
  try {
    info = readPrivateKey(pem);
  } catch {
    return { problems: [p(file, 'unparsable', 'is not a readable private key')] };
  }
  const problems: Problem[] = [];
  if (want.algorithm === 'rsa') {
    if (info.type !== 'rsa') problems.push(p(file, 'key-type', `is ${describeKey(info)}; the spec asks for RSA ${want.bits}${REKEY_HINT}`));
    else if (info.bits !== want.bits) problems.push(p(file, 'key-size', `is RSA ${info.bits}; the spec asks for ${want.bits} bits${REKEY_HINT}`));
  } else if (info.type !== 'ec' || info.bits !== want.bits) {
    problems.push(p(file, info.type === 'ec' ? 'key-size' : 'key-type', `is ${describeKey(info)}; the spec asks for ${keyName(want)}${REKEY_HINT}`));
  }
  return { info, problems };
}

export function checkMode(file: string, mode: number, secret: boolean): Problem[] {
  if (secret && mode & 0o077) {
    return [p(file, 'permissions', `is a private key readable or writable by ${mode & 0o070 ? 'its group' : ''}${mode & 0o070 && mode & 0o007 ? ' and ' : ''}${mode & 0o007 ? 'others' : ''} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}; must be 0600): chmod 600 ${file}`)];
  }
  return [];
}

export function checkCsr(file: string, pem: string, row: CertRow, key?: KeyInfo): Problem[] {
  let csr;
  try {
    csr = readCsr(pem, key);
  } catch {
    return [p(file, 'unparsable', 'is not a readable certificate request')];
  }
  const problems: Problem[] = [];
  if (!csr.signatureValid) problems.push(p(file, 'csr-signature', 'its self-signature does not verify'));
  const want = subjOf(row);
  const got = nameToSubj(csr.subject);
  if (got !== want) problems.push(p(file, 'identity', `has subject ${got}; expected ${want}`));
  if (key && csr.publicKey !== key.publicKey && publicId(csr.publicKey) !== key.publicId) problems.push(p(file, 'key-mismatch', 'was not made from its private key'));
  if (row.ext?.forCsr && row.sans) {
    const s = csr.sans ?? { dns: [], ip: [] };
    if (s.dns.join() !== row.sans.dns.join() || s.ip.join() !== row.sans.ip.join()) {
      problems.push(p(file, 'sans', `requests SANs ${list([...s.dns, ...s.ip])}; expected ${list([...row.sans.dns, ...row.sans.ip])}`));
    }
  }
  return problems;
}

/** What `x509 -req` without -extfile (a bare client row) writes: X.509 v1 without extensions up
 *  to OpenSSL 3.1; from 3.2 on, v3 with exactly a subject and an authority key identifier. */
export type BareForm = 'v1' | 'v3-key-ids';

export function bareForm(openssl: { major: number; minor: number }): BareForm {
  return openssl.major > 3 || (openssl.major === 3 && openssl.minor >= 2) ? 'v3-key-ids' : 'v1';
}

const BARE_TEXT: Record<BareForm, string> = {
  v1: 'v1 without extensions (x509 -req without -extfile on OpenSSL 3.0 and 3.1)',
  'v3-key-ids': 'v3 with only subjectKeyIdentifier and authorityKeyIdentifier (x509 -req without -extfile from OpenSSL 3.2 on)',
};

function bareFormOf(c: CertInfo): BareForm | undefined {
  if (c.version === 1 && c.extensions.length === 0) return 'v1';
  const oids = c.extensions.map((e) => e.oid);
  if (c.version === 3 && !c.extensions.some((e) => e.critical) && sameSet(oids, [OID.subjectKeyIdentifier, OID.authorityKeyIdentifier])) return 'v3-key-ids';
  return undefined;
}

const extNames: Record<string, string> = Object.fromEntries(Object.entries(OID).map(([k, v]) => [v, k]));

export interface CertCheckOptions {
  now: Date;
  /** a bare certificate just made by this openssl must have this form; without it (verify, a
   *  certificate already on disk) either form is accepted */
  bare?: BareForm;
  /** a certificate just made: its validity must be exactly this many days */
  freshDays?: number;
  /** expiring within this many days is a problem (verify) */
  warnDays?: number;
}

/** Checks a certificate against its row. `signer` is the CA's certificate (for a CA row: ignored, it must be self-signed). */
export function checkCert(
  file: string,
  pem: string,
  row: CertRow,
  key: KeyInfo | undefined,
  signer: CertInfo | undefined,
  opts: CertCheckOptions,
): { info?: CertInfo; problems: Problem[] } {
  let c: CertInfo;
  try {
    c = readCertificate(pem);
  } catch {
    return { problems: [p(file, 'unparsable', 'is not a readable PEM certificate')] };
  }
  const signed = row.kind === 'ca' ? signedBy(c, c.publicKey) : signer && signedBy(c, signer.publicKey);
  // what the DER reader read alone and whose signature verifies is readable; anything else is
  // readable if OpenSSL reads it (a byte changed where only OpenSSL refuses it fails the signature)
  if (signed !== true && !readByOpenssl(c)) return { problems: [p(file, 'unparsable', 'is not a readable PEM certificate')] };
  const problems: Problem[] = [];
  const want = subjOf(row);
  const got = nameToSubj(c.subject);
  if (got !== want) problems.push(p(file, 'identity', `has subject ${got}; expected ${want}`));
  if (key && !certHoldsKey(c, key)) problems.push(p(file, 'key-mismatch', 'does not match its private key'));
  if (row.kind === 'ca') {
    if (nameToSubj(c.issuer) !== got || !signed) problems.push(p(file, 'not-self-signed', 'is not a self-signed CA certificate'));
    if (!c.basicConstraints?.ca) problems.push(p(file, 'not-a-ca', 'lacks basicConstraints CA:TRUE'));
    else if (!c.basicConstraints.critical) problems.push(p(file, 'not-a-ca', 'has basicConstraints CA:TRUE that is not marked critical'));
    if (!c.extensions.some((e) => e.oid === OID.subjectKeyIdentifier)) problems.push(p(file, 'not-a-ca', 'lacks a subjectKeyIdentifier'));
  } else {
    if (signer) {
      const issuer = nameToSubj(c.issuer);
      const caSubj = nameToSubj(signer.subject);
      if (!signed) {
        problems.push(p(file, 'not-signed-by-ca', `is not signed by ${row.signer}.crt${issuer === caSubj ? ' (same issuer name, different key: another CA with the same CN)' : ` (issuer ${issuer})`}`));
      } else if (issuer !== caSubj) problems.push(p(file, 'issuer', `names issuer ${issuer}; its CA is ${caSubj}`));
    }
    if (row.ext) {
      if (c.version !== 3) problems.push(p(file, 'version', `is X.509 v${c.version}; expected v3 (signed without -extfile?)`));
    } else {
      const form = bareFormOf(c);
      if (!form || (opts.bare && form !== opts.bare)) {
        const has = c.extensions.length ? ` with ${c.extensions.map((e) => extNames[e.oid] ?? e.oid).join(', ')}` : ' without extensions';
        const want = opts.bare ? BARE_TEXT[opts.bare] : `${BARE_TEXT.v1} or ${BARE_TEXT['v3-key-ids']}`;
        problems.push(p(file, 'version', `is X.509 v${c.version}${has}; expected ${want}`));
      }
    }
    if (row.ext && (!c.basicConstraints || c.basicConstraints.ca)) problems.push(p(file, 'basic-constraints', 'must carry basicConstraints CA:FALSE'));
    if (c.basicConstraints?.ca) problems.push(p(file, 'basic-constraints', 'is a CA certificate; a leaf must not be'));
    if (row.keyUsage && !sameSet(c.keyUsage ?? [], row.keyUsage)) problems.push(p(file, 'key-usage', `has keyUsage ${list(c.keyUsage ?? [])}; expected ${list(row.keyUsage)}`));
    const eku = c.extKeyUsage;
    if (row.eku === null ? eku !== null : !sameSet(eku ?? [], row.eku)) {
      problems.push(p(file, 'eku', `has extendedKeyUsage ${eku ? list(eku) : '(none)'}; expected ${row.eku ? list(row.eku) : '(none)'}`));
    }
    const s = c.sans ?? { dns: [], ip: [], other: [] };
    const w = row.sans ?? { dns: [], ip: [] };
    if (s.dns.join() !== w.dns.join() || s.ip.join() !== w.ip.join() || s.other.length) {
      const missing = [...w.dns, ...w.ip].filter((x) => !s.dns.includes(x) && !s.ip.includes(x));
      const extra = [...s.dns, ...s.ip].filter((x) => !w.dns.includes(x) && !w.ip.includes(x));
      problems.push(
        p(file, 'sans', `has SANs ${list([...s.dns, ...s.ip])}; expected ${list([...w.dns, ...w.ip])}` + (missing.length ? `; missing ${missing.join(', ')}` : '') + (extra.length ? `; unexpected ${extra.join(', ')}` : '')),
      );
    }
  }
  const now = opts.now.getTime();
  if (c.notAfter.getTime() <= now) problems.push(p(file, 'expired', `expired on ${c.notAfter.toISOString()}`));
  else if (c.notBefore.getTime() > now + 5 * 60_000) problems.push(p(file, 'not-yet-valid', `is not valid before ${c.notBefore.toISOString()}`));
  else if (opts.warnDays !== undefined && c.notAfter.getTime() - now < opts.warnDays * 86_400_000) {
    problems.push(p(file, 'expiring', `expires on ${c.notAfter.toISOString()}, within ${opts.warnDays} days`));
  }
  if (opts.freshDays !== undefined) {
    const days = (c.notAfter.getTime() - c.notBefore.getTime()) / 86_400_000;
    if (Math.abs(days - opts.freshDays) > 1 / 24) problems.push(p(file, 'validity', `is valid for ${days.toFixed(2)} days; expected ${opts.freshDays}`));
  }
  return { info: c, problems };
}

export function checkSerial(file: string, text: string, cert: CertInfo): Problem[] {
  const serial = text.trim().toUpperCase();
  if (!/^[0-9A-F]+$/.test(serial)) return [p(file, 'unparsable', 'is not a hexadecimal serial')];
  if (serial.replace(/^(00)+(?=.)/, '') !== cert.serialHex) return [p(file, 'serial', `holds ${serial}; the certificate just signed has serial ${cert.serialHex}`)];
  return [];
}

/** An external CA's ca.crt: one CA certificate, or a bundle of an issuing CA and the CAs above it
 *  (any order). Each must be a CA, valid now, and signed by the certificate of the bundle whose
 *  subject is its issuer, when there is one. */
export function checkCaBundle(file: string, pem: string, now: Date, warnDays?: number): { chain?: CertInfo[]; problems: Problem[] } {
  let chain: CertInfo[];
  try {
    chain = readCertificates(pem);
  } catch {
    return { problems: [p(file, 'unparsable', 'is not a readable PEM certificate (or bundle)')] };
  }
  const problems: Problem[] = [];
  chain.forEach((c, i) => {
    const which = chain.length > 1 ? ` (certificate ${i + 1} of ${chain.length}, ${nameToSubj(c.subject)})` : '';
    if (!c.basicConstraints?.ca) problems.push(p(file, 'not-a-ca', `${which ? which.slice(1) + ' ' : ''}lacks basicConstraints CA:TRUE: only CA certificates belong in ca.crt`));
    if (c.notAfter.getTime() <= now.getTime()) problems.push(p(file, 'expired', `expired on ${c.notAfter.toISOString()}${which}`));
    else if (warnDays !== undefined && c.notAfter.getTime() - now.getTime() < warnDays * 86_400_000) problems.push(p(file, 'expiring', `${nameToSubj(c.subject)} expires on ${c.notAfter.toISOString()}, within ${warnDays} days`));
    const issuerName = nameToSubj(c.issuer);
    const issuer = chain.find((x) => x !== c && nameToSubj(x.subject) === issuerName);
    if (issuer && !signedBy(c, issuer.publicKey)) problems.push(p(file, 'not-signed-by-ca', `is not signed by its issuer ${issuerName} in the same bundle${which}`));
  });
  return { chain, problems };
}

/** The certificate of an external CA's chain that signed this leaf (its first when none did: the
 *  check then says so). */
export function issuerIn(chain: CertInfo[], leafPem: string): CertInfo {
  try {
    const leaf = readCertificate(leafPem);
    return chain.find((c) => signedBy(leaf, c.publicKey)) ?? chain[0];
  } catch {
    return chain[0];
  }
}
