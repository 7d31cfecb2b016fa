// The DER reader and the checks, on committed test-only fixtures: nothing generated, nothing spawned.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { certRows, type CertRow } from '../../src/catalog/certs.js';
import { bareForm, checkCert, checkCsr, checkKey, checkSerial, type BareForm } from '../../src/check/rules.js';
import { defaultSpec, parseSpecText } from '../../src/spec/load.js';
import { nameToSubj } from '../../src/x509/der.js';
import { readCertificate, readCsr, readPrivateKey } from '../../src/x509/inspect.js';
import { FIXTURES } from '../helpers/cli.js';

const f = (name: string) => readFileSync(path.join(FIXTURES, 'x509', name), 'utf8');
const rows = certRows(defaultSpec());
const row = (id: string) => rows.find((r) => r.id === id)!;
// "now" is a day into the life of the shortest-lived fixture (admin.crt, 30 days), never the
// wall clock: the fixtures are committed once and the suite must pass on any later date.
const now = new Date(readCertificate(f('admin.crt')).notBefore.getTime() + 86_400_000);

test('a certificate: version, subject, issuer, extensions, SANs in order', () => {
  const c = readCertificate(f('server.crt'));
  expect(c.version).toBe(3);
  expect(nameToSubj(c.subject)).toBe('/CN=k8s-master');
  expect(nameToSubj(c.issuer)).toBe('/CN=k8s-master');
  expect(c.basicConstraints).toEqual({ ca: false, critical: false });
  expect(c.keyUsage).toEqual(['digitalSignature', 'nonRepudiation', 'keyEncipherment']);
  expect(c.extKeyUsage).toBeNull();
  expect(c.sans).toEqual({ dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'k8s-master'], ip: ['169.169.0.1', '192.168.18.3'], other: [] });
  expect(c.serialHex).toMatch(/^[0-9A-F]+$/);
  const ca = readCertificate(f('ca.crt'));
  expect(ca.basicConstraints?.ca).toBe(true);
  expect(c.x509.verify(ca.publicKey)).toBe(true);
});

test('IPv6 SANs and EKUs', () => {
  const c = readCertificate(f('v6.crt'));
  expect(c.sans).toEqual({ dns: ['node-6'], ip: ['fd00::1', '::1'], other: [] });
  expect(c.extKeyUsage).toEqual(['serverAuth', 'clientAuth']);
});

test('x509 -req without -extfile writes X.509 v1 (no extensions)', () => {
  const c = readCertificate(f('admin-v1.crt'));
  expect(c.version).toBe(1);
  expect(c.extensions).toEqual([]);
});

test('x509 -req without -extfile on OpenSSL 3.2 or newer writes v3 with only the key identifiers', () => {
  const c = readCertificate(f('admin-bare-v3.crt'));
  expect(c.version).toBe(3);
  expect(c.extensions.map((e) => [e.oid, e.critical])).toEqual([
    ['2.5.29.14', false],
    ['2.5.29.35', false],
  ]);
});

test('a CSR: subject, requested SANs, self-signature; a tampered CSR fails', () => {
  const csr = readCsr(f('server.csr'));
  expect(csr.signatureValid).toBe(true);
  expect(nameToSubj(csr.subject)).toBe('/CN=k8s-master');
  expect(csr.sans?.ip).toEqual(['169.169.0.1', '192.168.18.3']);
  // flip one byte of the subject inside the signed part
  const pem = f('admin.csr');
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const at = der.indexOf(Buffer.from('admin'));
  der[at] = 'A'.charCodeAt(0);
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  expect(readCsr(tampered).signatureValid).toBe(false);
});

test('an escaped slash stays inside one CN', () => {
  const csr = readCsr(f('escaped.csr'));
  expect(csr.subject).toEqual([[{ type: 'CN', value: 'k8s/O=system:masters' }]]);
  expect(nameToSubj(csr.subject)).toBe('/CN=k8s\\/O=system:masters');
});

describe('checks', () => {
  const caKey = readPrivateKey(f('test-only-ca.key'));
  const leafKey = readPrivateKey(f('test-only-leaf.key'));
  const ca = readCertificate(f('ca.crt'));

  test('a good server certificate has no problem; the wrong key or CA is named', () => {
    expect(checkCert('server.crt', f('server.crt'), row('apiserver'), leafKey, ca, { now }).problems).toEqual([]);
    expect(checkCert('server.crt', f('server.crt'), row('apiserver'), caKey, ca, { now }).problems.map((p) => p.code)).toEqual(['key-mismatch']);
    const other = readCertificate(f('server.crt')); // not a CA of this cert
    expect(checkCert('server.crt', f('server.crt'), row('apiserver'), leafKey, other, { now }).problems.map((p) => p.code)).toContain('not-signed-by-ca');
  });
  test('SANs, identity, EKU and version mismatches are each reported', () => {
    const admin = row('admin');
    expect(checkCert('admin.crt', f('admin.crt'), admin, leafKey, ca, { now }).problems).toEqual([]);
    const v1 = checkCert('admin-v1.crt', f('admin-v1.crt'), admin, leafKey, ca, { now }).problems.map((p) => p.code);
    expect(v1).toEqual(expect.arrayContaining(['version', 'basic-constraints', 'key-usage', 'eku']));
    const asProxy = checkCert('admin.crt', f('admin.crt'), row('kube-proxy'), leafKey, ca, { now }).problems;
    expect(asProxy.map((p) => p.message)).toContain('has subject /CN=admin/O=system:masters; expected /CN=system:kube-proxy');
    const moreSans: CertRow = { ...row('apiserver'), sans: { dns: [...row('apiserver').sans!.dns, 'lb.example.com'], ip: row('apiserver').sans!.ip } };
    const p = checkCert('server.crt', f('server.crt'), moreSans, leafKey, ca, { now }).problems;
    expect(p.map((x) => x.code)).toEqual(['sans']);
    expect(p[0].message).toMatch(/missing lb\.example\.com/);
  });
  test('a bare client certificate: what the openssl that signed it writes, and nothing else', () => {
    const bare: CertRow = certRows(parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3 }\ncerts: { clientExtensions: false }\n', 'x')).find((r) => r.id === 'admin')!;
    // each fixture judged a day into its own life
    const at = (file: string) => new Date(readCertificate(f(file)).notBefore.getTime() + 86_400_000);
    const codes = (file: string, bareAs?: BareForm) => checkCert(file, f(file), bare, leafKey, ca, { now: at(file), bare: bareAs }).problems.map((p) => p.code);
    expect(bareForm({ major: 3, minor: 0 })).toBe('v1');
    expect(bareForm({ major: 3, minor: 1 })).toBe('v1');
    expect(bareForm({ major: 3, minor: 2 })).toBe('v3-key-ids');
    expect(bareForm({ major: 4, minor: 0 })).toBe('v3-key-ids');
    // a certificate on disk (verify): either form
    expect(codes('admin-v1.crt')).toEqual([]);
    expect(codes('admin-bare-v3.crt')).toEqual([]);
    // one just signed: exactly what that openssl writes
    expect(codes('admin-v1.crt', 'v1')).toEqual([]);
    expect(codes('admin-bare-v3.crt', 'v3-key-ids')).toEqual([]);
    expect(codes('admin-bare-v3.crt', 'v1')).toEqual(['version']);
    const msg = checkCert('admin-v1.crt', f('admin-v1.crt'), bare, leafKey, ca, { now: at('admin-v1.crt'), bare: 'v3-key-ids' }).problems[0].message;
    expect(msg).toBe('is X.509 v1 without extensions; expected v3 with only subjectKeyIdentifier and authorityKeyIdentifier (x509 -req without -extfile from OpenSSL 3.2 on)');
    // client extensions on a bare row are never accepted, whichever openssl signed it
    const withExt = checkCert('admin.crt', f('admin.crt'), bare, leafKey, ca, { now: at('admin.crt') }).problems;
    expect(withExt.map((p) => p.code)).toEqual(expect.arrayContaining(['version', 'eku']));
    expect(withExt.find((p) => p.code === 'version')!.message).toMatch(/^is X\.509 v3 with basicConstraints, keyUsage, extKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier; expected v1 without extensions .* or v3 with only/);
  });
  test('a CA certificate needs basicConstraints critical CA:TRUE and a subjectKeyIdentifier', () => {
    expect(checkCert('ca.crt', f('ca.crt'), row('ca'), caKey, undefined, { now }).problems).toEqual([]);
    const weakNow = new Date(readCertificate(f('weak-ca.crt')).notBefore.getTime() + 86_400_000);
    expect(checkCert('ca.crt', f('weak-ca.crt'), row('ca'), caKey, undefined, { now: weakNow }).problems.map((p) => p.message)).toEqual([
      'has basicConstraints CA:TRUE that is not marked critical',
      'lacks a subjectKeyIdentifier',
    ]);
  });
  test('expiry: expired, and expiring within --warn-days', () => {
    const later = new Date(now.getTime() + 31 * 86_400_000);
    expect(checkCert('admin.crt', f('admin.crt'), row('admin'), leafKey, ca, { now: later }).problems.map((p) => p.code)).toEqual(['expired']);
    expect(checkCert('admin.crt', f('admin.crt'), row('admin'), leafKey, ca, { now, warnDays: 60 }).problems.map((p) => p.code)).toEqual(['expiring']);
    expect(checkCert('admin.crt', f('admin.crt'), row('admin'), leafKey, ca, { now, freshDays: 5000 }).problems.map((p) => p.code)).toEqual(['validity']);
  });
  test('keys, CSRs and serials', () => {
    expect(checkKey('k', f('test-only-leaf.key'), { algorithm: 'rsa', bits: 2048 }).problems).toEqual([]);
    expect(checkKey('k', f('test-only-leaf.key'), { algorithm: 'rsa', bits: 4096 }).problems.map((p) => p.code)).toEqual(['key-size']);
    expect(checkKey('k', 'garbage', { algorithm: 'rsa', bits: 2048 }).problems.map((p) => p.code)).toEqual(['unparsable']);
    expect(checkCsr('server.csr', f('server.csr'), row('apiserver'), leafKey)).toEqual([]);
    expect(checkCsr('server.csr', f('server.csr'), row('apiserver'), caKey).map((p) => p.code)).toEqual(['key-mismatch']);
    const c = readCertificate(f('admin.crt'));
    expect(checkSerial('ca.srl', c.serialHex + '\n', c)).toEqual([]);
    expect(checkSerial('ca.srl', '01\n', c).map((p) => p.code)).toEqual(['serial']);
  });
});
