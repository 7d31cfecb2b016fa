// The shortcuts of the checks give the verdicts of node's own parse of the same bytes: an RSA key
// read by OpenSSL's PKCS#1 reader inside its PKCS#8 envelope, the SPKI bytes built from a key, a
// request of the key's own SPKI checked with the key's public half, sa.pub matched by its text.
// Keys are made in-process (node writes PKCS#8 PEM with OpenSSL's writer, as openssl does); nothing
// is spawned and nothing is timed.
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { certRows } from '../../src/catalog/certs.js';
import { evaluate } from '../../src/check/evaluate.js';
import { checkCert, checkCsr, checkKey } from '../../src/check/rules.js';
import { defaultSpec } from '../../src/spec/load.js';
import { derToPem, pemToDer, readTlv, tlv } from '../../src/x509/der.js';
import { certHoldsKey, readCertificate, readCsr, readPrivateKey, signedBy, spkiOf, type KeyInfo } from '../../src/x509/inspect.js';
import { FIXTURES } from '../helpers/cli.js';

const f = (name: string) => readFileSync(path.join(FIXTURES, 'x509', name), 'utf8');
const pkcs1Pem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs1' }) as string;
const pkcs8 = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }) as string;
const rsa = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).privateKey;

/** what node makes of the text on its own: the key, or that it throws */
function nodeVerdict(pem: string): KeyObject | 'throws' {
  try {
    return createPrivateKey(pem);
  } catch {
    return 'throws';
  }
}
/** what the checks make of it: the key (made when asked for, which must then not throw), or that
 *  reading it throws */
function ourVerdict(pem: string): KeyObject | 'throws' {
  let info;
  try {
    info = readPrivateKey(pem);
  } catch {
    return 'throws';
  }
  return info.key;
}
/** the nine INTEGERs of an RSAPrivateKey, each as its whole DER */
function rsaInts(rsa: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const seq = readTlv(rsa);
  for (let at = seq.body; at < seq.end; ) {
    const t = readTlv(rsa, at);
    out.push(rsa.subarray(t.start, t.end));
    at = t.end;
  }
  return out;
}
const same = (a: KeyObject | 'throws', b: KeyObject | 'throws') => (a === 'throws' || b === 'throws' ? a === b : a.equals(b));

describe('DER writer', () => {
  test('shortest length forms', () => {
    expect(tlv(0x04, Buffer.alloc(0)).toString('hex')).toBe('0400');
    expect(tlv(0x04, Buffer.alloc(0x7f)).subarray(0, 2).toString('hex')).toBe('047f');
    expect(tlv(0x04, Buffer.alloc(0x80)).subarray(0, 3).toString('hex')).toBe('048180');
    expect(tlv(0x04, Buffer.alloc(0x100)).subarray(0, 4).toString('hex')).toBe('04820100');
    expect(tlv(0x04, Buffer.alloc(0x10000)).subarray(0, 5).toString('hex')).toBe('0483010000');
  });

  test('PEM as OpenSSL writes it', () => {
    for (const pem of [f('test-only-leaf.key'), f('ca.crt'), f('server.csr')]) {
      const label = /-----BEGIN ([A-Z ]+)-----/.exec(pem)![1];
      expect(derToPem(pemToDer(pem, label), label)).toBe(pem);
    }
  });
});

describe('SPKI built from a key', () => {
  test('equals OpenSSL encoding for RSA, EC (every coordinate length) and other types', () => {
    const keys = [
      readPrivateKey(f('test-only-ca.key')).key,
      readPrivateKey(f('test-only-leaf.key')).key,
      rsa(1024),
      rsa(3072),
      // enough P-256 keys that some coordinates start with a zero byte
      ...Array.from({ length: 300 }, () => ec('P-256')),
      ec('P-384'),
      ec('P-521'),
      generateKeyPairSync('ed25519').privateKey,
    ];
    for (const k of keys) {
      const pub = createPublicKey(k);
      expect(spkiOf(pub).toString('hex')).toBe((pub.export({ format: 'der', type: 'spki' }) as Buffer).toString('hex'));
    }
  });
});

describe('private keys', () => {
  test('an RSA key as OpenSSL writes it: the same key, type and size as node reads from the PEM', () => {
    for (const pem of [f('test-only-ca.key'), f('test-only-leaf.key'), pkcs8(rsa(1024))]) {
      const k = readPrivateKey(pem);
      const n = createPrivateKey(pem);
      expect(k.key.equals(n)).toBe(true);
      expect([k.type, k.bits]).toEqual([n.asymmetricKeyType, n.asymmetricKeyDetails?.modulusLength]);
      expect(k.publicKey.equals(createPublicKey(n))).toBe(true);
      expect(k.spki.equals(createPublicKey(n).export({ format: 'der', type: 'spki' }) as Buffer)).toBe(true);
    }
  });

  test('any other text or envelope gets node’s verdict on the whole text', () => {
    const pem = f('test-only-leaf.key');
    const der = pemToDer(pem, 'PRIVATE KEY');
    const inner = der.subarray(26); // 30 82 LL LL | 02 01 00 | 30 0d (rsaEncryption, NULL) | 04 82 LL LL
    expect(der.subarray(4, 26).toString('hex')).toBe('020100300d06092a864886f70d0101010500048204a8');
    const wrap = (version: Buffer, alg: Buffer, key: Buffer, extra: Buffer[] = []) => derToPem(tlv(0x30, version, alg, tlv(0x04, key), ...extra), 'PRIVATE KEY');
    const v0 = Buffer.from('020100', 'hex');
    const alg = der.subarray(7, 22);
    const flip = (b: Buffer, at: number) => {
      const c = Buffer.from(b);
      c[at] ^= 0x01;
      return c;
    };
    const texts = [
      pem,
      pem.replace(/\n/g, '\r\n'),
      `a comment\n${pem}`,
      `${pem}trailing text\n`,
      pem.replace(/(.{64})\n(.{64})\n/, '$1$2\n'),
      createPrivateKey(pem).export({ format: 'pem', type: 'pkcs1' }) as string,
      pkcs8(ec('P-256')),
      pkcs8(generateKeyPairSync('ed25519').privateKey),
      'garbage',
      '-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n',
      wrap(Buffer.from('020101', 'hex'), alg, inner),
      wrap(v0, tlv(0x30, tlv(0x06, Buffer.from('2a864886f70d01010a', 'hex'))), inner), // RSA-PSS OID
      wrap(v0, tlv(0x30, alg.subarray(2, 13)), inner), // rsaEncryption without the NULL
      wrap(v0, alg, inner, [tlv(0xa0, Buffer.alloc(0))]), // with (empty) attributes
      wrap(v0, alg, Buffer.concat([inner, Buffer.from('0500', 'hex')])), // bytes after the RSAPrivateKey
      wrap(v0, alg, inner.subarray(0, inner.length - 1)), // truncated RSAPrivateKey
      wrap(v0, alg, flip(inner, 6)), // the RSAPrivateKey's version
      wrap(v0, alg, flip(inner, 0)), // not a SEQUENCE
      wrap(v0, alg, flip(inner, 4)), // an INTEGER's tag
      wrap(v0, alg, tlv(0x30, ...rsaInts(inner).slice(0, 8))), // eight INTEGERs
      wrap(v0, alg, tlv(0x30, ...rsaInts(inner), tlv(0x02, Buffer.from([1])))), // ten INTEGERs
      wrap(v0, alg, tlv(0x30, ...rsaInts(inner).map((x, i) => (i === 2 ? tlv(0x02, Buffer.from([0, 1, 0, 1])) : x)))), // e not in its shortest form
      wrap(v0, alg, tlv(0x30, ...rsaInts(inner).map((x, i) => (i === 2 ? tlv(0x02, Buffer.from([0xff, 0x01])) : x)))), // a negative e
      wrap(v0, alg, tlv(0x30, ...rsaInts(inner).map((x, i) => (i === 0 ? tlv(0x02, Buffer.from([0, 0])) : x)))), // version 0 written long
      derToPem(Buffer.concat([der, Buffer.from('0500', 'hex')]), 'PRIVATE KEY'), // bytes after the PKCS#8
      derToPem(flip(der, 1), 'PRIVATE KEY'), // the outer length
    ];
    for (const t of texts) expect([t, same(ourVerdict(t), nodeVerdict(t))]).toEqual([t, true]);
  });

  test('an RSA key as OpenSSL writes it is read without making its private KeyObject, which is made (the same as node’s) when asked for', () => {
    for (const bits of [1024, 2048, 3072]) {
      const pem = bits === 2048 ? f('test-only-leaf.key') : pkcs8(rsa(bits));
      const k = readPrivateKey(pem);
      const n = createPrivateKey(pem);
      expect(Object.getOwnPropertyDescriptor(k, 'key')?.get).toBeDefined();
      expect([k.type, k.bits, k.publicId]).toEqual(['rsa', n.asymmetricKeyDetails?.modulusLength, readPrivateKey(pkcs1Pem(n)).publicId]);
      expect(k.key.equals(n)).toBe(true);
      expect(k.key).toBe(k.key);
    }
  });

  test('checkKey: the same problems on both paths', () => {
    expect(checkKey('k', f('test-only-leaf.key'), { algorithm: 'rsa', bits: 2048 }).problems).toEqual([]);
    expect(checkKey('k', f('test-only-leaf.key').replace(/\n/g, '\r\n'), { algorithm: 'rsa', bits: 2048 }).problems).toEqual([]);
    expect(checkKey('k', pkcs8(rsa(1024)), { algorithm: 'rsa', bits: 2048 }).problems.map((p) => p.message)).toEqual(['is RSA 1024; the spec asks for 2048 bits (renew --rekey makes a new key)']);
    expect(checkKey('k', pkcs8(ec('P-256')), { algorithm: 'rsa', bits: 2048 }).problems.map((p) => p.code)).toEqual(['key-type']);
  });
});

/** a PKCS#10 request for the subject of `row` with the public key of `key`, signed by `signer` (default: key) */
function csrOf(key: KeyObject, row: { cn: string; o: string[] }, signer = key, spki = spkiOf(createPublicKey(key))): string {
  const rdn = (oid: string, v: string) => tlv(0x31, tlv(0x30, tlv(0x06, Buffer.from(oid, 'hex')), tlv(0x0c, Buffer.from(v))));
  const subject = tlv(0x30, rdn('550403', row.cn), ...row.o.map((o) => rdn('55040a', o)));
  const info = tlv(0x30, Buffer.from('020100', 'hex'), subject, spki, tlv(0xa0, Buffer.alloc(0)));
  const isEc = key.asymmetricKeyType === 'ec';
  const alg = isEc ? tlv(0x30, tlv(0x06, Buffer.from('2a8648ce3d040302', 'hex'))) : tlv(0x30, tlv(0x06, Buffer.from('2a864886f70d01010b', 'hex')), Buffer.from('0500', 'hex'));
  const sig = sign('sha256', info, signer);
  return derToPem(tlv(0x30, info, alg, tlv(0x03, Buffer.from([0]), sig)), 'CERTIFICATE REQUEST');
}

describe('certificates', () => {
  const caPub = createPublicKey(createPrivateKey(f('test-only-ca.key')));
  const leafPub = createPublicKey(createPrivateKey(f('test-only-leaf.key')));
  const RSA_CERTS = ['ca.crt', 'server.crt', 'admin.crt', 'admin-v1.crt', 'admin-bare-v3.crt', 'v6.crt', 'weak-ca.crt'];

  test('one of OpenSSL’s writing, for an RSA key signed with RSA, is read without X509Certificate, with its verdicts', () => {
    for (const name of RSA_CERTS) {
      const c = readCertificate(f(name));
      const x = new X509Certificate(f(name));
      expect([name, c.signed !== undefined]).toEqual([name, true]);
      expect([name, c.notBefore.toISOString(), c.notAfter.toISOString()]).toEqual([name, new Date(x.validFrom).toISOString(), new Date(x.validTo).toISOString()]);
      expect([name, c.publicKey.equals(x.publicKey)]).toEqual([name, true]);
      for (const k of [caPub, leafPub]) expect([name, signedBy(c, k)]).toEqual([name, x.verify(k)]);
      expect([name, c.x509.fingerprint256]).toEqual([name, x.fingerprint256]);
    }
  });

  test('every one-bit change of a certificate: readable where OpenSSL reads it, or its signature fails; the same dates and signature verdicts where both read it', () => {
    const pem = f('server.crt');
    const der = pemToDer(pem, 'CERTIFICATE');
    const server = certRows(defaultSpec()).find((r) => r.id === 'apiserver')!;
    const ca = readCertificate(f('ca.crt'));
    let onlyOurs = 0;
    for (let at = 0; at < der.length; at++) {
      const b = Buffer.from(der);
      b[at] ^= 0x01;
      const text = derToPem(b, 'CERTIFICATE');
      let ours;
      let theirs;
      try {
        ours = readCertificate(text);
      } catch {
        ours = undefined;
      }
      try {
        theirs = new X509Certificate(b);
      } catch {
        theirs = undefined;
      }
      if (!ours) continue;
      if (!theirs) {
        onlyOurs++;
        expect([at, signedBy(ours, caPub)]).toEqual([at, false]);
        // and the check says what it said when X509Certificate read every certificate
        expect([at, checkCert('server.crt', text, server, undefined, ca, { now: new Date() }).problems.map((x) => x.code)]).toEqual([at, ['unparsable']]);
        continue;
      }
      expect([at, ours.notBefore.getTime(), ours.notAfter.getTime()]).toEqual([at, new Date(theirs.validFrom).getTime(), new Date(theirs.validTo).getTime()]);
      expect([at, signedBy(ours, caPub), signedBy(ours, leafPub)]).toEqual([at, theirs.verify(caPub), theirs.verify(leafPub)]);
    }
    // the property above is not vacuous: some changes are read by one reader and not the other
    expect(onlyOurs).toBeGreaterThan(0);
  });

  test('any other text is read by X509Certificate: CRLF, a block without its last newline (a bundle’s), text before it', () => {
    const pem = f('server.crt');
    expect(readCertificate(pem.replace(/\n/g, '\r\n')).signed).toBeUndefined();
    expect(readCertificate(pem.trimEnd()).signed).toBeUndefined();
    expect(readCertificate(`a comment\n${pem}`).signed).toBeUndefined();
  });
});

describe('a certificate and its key', () => {
  const ca = readPrivateKey(f('test-only-ca.key'));
  const leaf = readPrivateKey(f('test-only-leaf.key'));
  /** the same key information, with a private KeyObject that must not be asked for */
  const untouchable = (k: KeyInfo) => Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(k), key: { get: () => { throw new Error('the private KeyObject was asked for'); } } }) as KeyInfo;
  /** the same key, with SPKI bytes that differ from the certificate's (another encoding of it) */
  const otherBytes = (k: KeyInfo) => Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(k), spki: { value: Buffer.concat([k.spki, Buffer.from([0])]) } }) as KeyInfo;

  test('the SPKI bytes of the key decide a match without OpenSSL', () => {
    expect(certHoldsKey(readCertificate(f('ca.crt')), untouchable(ca))).toBe(true);
    expect(certHoldsKey(readCertificate(f('server.crt')), untouchable(leaf))).toBe(true);
  });

  test('any other pair gets OpenSSL’s verdict, as x509.checkPrivateKey gives it', () => {
    for (const [crt, k] of [['ca.crt', ca], ['ca.crt', leaf], ['admin.crt', ca], ['admin.crt', leaf]] as const) {
      const c = readCertificate(f(crt));
      expect([crt, certHoldsKey(c, otherBytes(k))]).toEqual([crt, c.x509.checkPrivateKey(k.key)]);
      expect([crt, certHoldsKey(c, k)]).toEqual([crt, c.x509.checkPrivateKey(k.key)]);
    }
  });
});

describe('requests', () => {
  const leaf = readPrivateKey(f('test-only-leaf.key'));
  const ca = readPrivateKey(f('test-only-ca.key'));
  const ecKey = readPrivateKey(pkcs8(ec('P-256')));
  const row = certRows(defaultSpec()).find((r) => r.id === 'admin')!;

  test('a request of the key’s own SPKI is checked with the key’s public half', () => {
    for (const k of [leaf, ecKey]) {
      const csr = readCsr(csrOf(k.key, row), k);
      expect([csr.publicKey === k.publicKey, csr.signatureValid]).toEqual([true, true]);
    }
    expect(readCsr(f('server.csr'), leaf).publicKey).toBe(leaf.publicKey);
  });

  test('a request of another key is read by node, and named so', () => {
    const csr = readCsr(csrOf(ca.key, row), leaf);
    expect([csr.publicKey === leaf.publicKey, csr.publicKey.equals(ca.publicKey), csr.signatureValid]).toEqual([false, true, true]);
    expect(checkCsr('admin.csr', csrOf(ca.key, row), row, leaf).map((p) => p.code)).toEqual(['key-mismatch']);
  });

  test('the same SPKI with a signature by another key does not verify', () => {
    expect(readCsr(csrOf(leaf.key, row, ca.key), leaf).signatureValid).toBe(false);
    expect(checkCsr('admin.csr', csrOf(leaf.key, row, ca.key), row, leaf).map((p) => p.code)).toEqual(['csr-signature']);
    expect(checkCsr('admin.csr', csrOf(ecKey.key, row, readPrivateKey(pkcs8(ec('P-256'))).key), row, ecKey).map((p) => p.code)).toEqual(['csr-signature']);
  });

  test('an SPKI of the same key in another encoding (a compressed EC point) is read by node and matches', () => {
    const compressed = createPublicKey(ecKey.key).export({ format: 'jwk' });
    const x = Buffer.from(compressed.x!, 'base64url');
    const y = Buffer.from(compressed.y!, 'base64url');
    const point = Buffer.concat([Buffer.from([2 + (y[y.length - 1] & 1)]), x]);
    const spki = tlv(0x30, tlv(0x30, tlv(0x06, Buffer.from('2a8648ce3d0201', 'hex')), tlv(0x06, Buffer.from('2a8648ce3d030107', 'hex'))), tlv(0x03, Buffer.from([0]), point));
    const pem = csrOf(ecKey.key, row, ecKey.key, spki);
    const csr = readCsr(pem, ecKey);
    expect([csr.publicKey === ecKey.publicKey, csr.publicKey.equals(ecKey.publicKey), csr.signatureValid]).toEqual([false, true, true]);
    expect(checkCsr('admin.csr', pem, row, ecKey)).toEqual([]);
  });

  test('an unreadable SPKI is unparsable, with or without the key', () => {
    const bad = tlv(0x30, tlv(0x30, tlv(0x06, Buffer.from('2a864886f70d010101', 'hex')), Buffer.from('0500', 'hex')), tlv(0x03, Buffer.from([0, 1, 2, 3])));
    const pem = csrOf(leaf.key, row, leaf.key, bad);
    expect(checkCsr('admin.csr', pem, row, leaf).map((p) => p.code)).toEqual(['unparsable']);
    expect(checkCsr('admin.csr', pem, row).map((p) => p.code)).toEqual(['unparsable']);
  });
});

describe('public-of (sa.pub)', () => {
  const key = f('test-only-leaf.key');
  const check = [{ kind: 'public-of' as const, file: 'sa.pub', key: 'sa.key' }];
  const run = (pub: string, priv = key) => {
    const files = new Map([
      ['sa.key', Buffer.from(priv)],
      ['sa.pub', Buffer.from(pub)],
    ]);
    return evaluate(check, { now: new Date(), rowsById: new Map(), read: (rel) => files.get(rel)! }).problems.map((p) => p.code);
  };
  const pub = createPublicKey(key);

  test('the public half as `pkey -pubout` writes it, or in another encoding of the same key', () => {
    expect(run(pub.export({ format: 'pem', type: 'spki' }) as string)).toEqual([]);
    expect(run(pub.export({ format: 'pem', type: 'pkcs1' }) as string)).toEqual([]);
    expect(run((pub.export({ format: 'pem', type: 'spki' }) as string).replace(/\n/g, '\r\n'))).toEqual([]);
  });

  test('the public half of another key does not match', () => {
    expect(run(createPublicKey(f('test-only-ca.key')).export({ format: 'pem', type: 'spki' }) as string)).toEqual(['key-mismatch']);
  });
});

test('a certificate’s public key is the one node reads from it', () => {
  const c = readCertificate(f('ca.crt'));
  expect(c.publicKey.equals(c.x509.publicKey)).toBe(true);
  expect(c.x509.verify(c.publicKey)).toBe(true);
});
