// Lifetimes: a leaf never outlives its CA by the spec (refused with the dates before anything is
// written), verify notes a leaf on disk that does (OpenSSL signs one without a word), and
// --warn-days covers the CAs too.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { kubepki } from '../helpers/cli.js';
import { basePki, CLIENT_EXT, expectExit, signLeaf, SPEC, verifyJson, writeSpec } from '../helpers/pki.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';

afterAll(cleanupTmp);

test('certs.days beyond ca.days is refused with both end dates, before anything is written', () => {
  const work = tmpDir();
  const out = path.join(work, 'pki');
  const r = kubepki(['generate', '--spec', writeSpec(work, SPEC + 'ca: { days: 3650 }\ncerts: { days: 5000 }\n'), '--out', out]);
  expectExit(r, 2);
  const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
  expect(r.stderr).toContain(`certs.days: 5000 days outlive the CA (ca.days 3650): a leaf signed today would be valid until ${day(5000)}, its CA only until ${day(3650)}`);
  expect(existsSync(path.join(out, 'ca.key'))).toBe(false);
});

describe('on a PKI', () => {
  const { out } = basePki(SPEC, 'lifetimes');

  test('a leaf signed beyond its CA by hand is a note of verify, with both dates', () => {
    const pki = copyDir(out);
    signLeaf({ dir: pki, key: path.join(pki, 'clients/admin.key'), subj: '/CN=admin/O=system:masters', caCrt: path.join(pki, 'ca.crt'), caKey: path.join(pki, 'ca.key'), out: path.join(pki, 'clients/admin.crt'), ext: CLIENT_EXT, days: 6000 });
    const { report } = verifyJson(pki);
    const notes = (report as unknown as { notes: { file: string; code: string; message: string }[] }).notes;
    const n = notes.find((x) => x.code === 'outlives-ca')!;
    expect(n.file).toBe('clients/admin.crt');
    expect(n.message).toMatch(/^is valid until \d{4}-\d\d-\d\d, after its CA \(ca, until \d{4}-\d\d-\d\d\)/);
    expect(notes.filter((x) => x.code === 'outlives-ca').map((x) => x.file)).toEqual(['clients/admin.crt']);
  });

  test('--warn-days covers the CA: a CA that ends within the window is reported as expiring', () => {
    const { r, report } = verifyJson(out, ['--warn-days', '6000']);
    expectExit(r, 1);
    expect(report.problems.filter((p) => p.file === 'ca.crt').map((p) => p.code)).toEqual(['expiring']);
    expect(verifyJson(out, ['--warn-days', '30']).report.ok).toBe(true);
  });
});
