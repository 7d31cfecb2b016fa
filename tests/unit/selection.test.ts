// What incremental generate decides for a folder (inspect/state.ts): create, re-issue or keep each
// catalogue entry, and which steps run. Folders are assembled from the committed test-only
// fixtures: nothing is generated, nothing is spawned.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { EnvError } from '../../src/errors.js';
import { selectForGenerate, selectForRenew } from '../../src/inspect/state.js';
import { buildPlan } from '../../src/plan/plan.js';
import { defaultSpec, parseSpecText } from '../../src/spec/load.js';
import { fixtureFolder, FIXTURE_NOW, publicPemOf } from '../helpers/fixture-folder.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';

afterAll(cleanupTmp);

const now = FIXTURE_NOW;
const folder = fixtureFolder;

const CA = { 'ca.key': 'test-only-ca.key', 'ca.crt': 'ca.crt' };
const SERVER = { 'server.key': 'test-only-leaf.key', 'server.csr': 'server.csr', 'server.crt': 'server.crt' };
const ADMIN = { 'clients/admin.key': 'test-only-leaf.key', 'clients/admin.csr': 'admin.csr', 'clients/admin.crt': 'admin.crt' };

const plan = buildPlan(defaultSpec());
const decision = (sel: Awaited<ReturnType<typeof selectForGenerate>>, unit: string) => sel.decisions.find((d) => d.unit === unit)!;
const ran = (sel: Awaited<ReturnType<typeof selectForGenerate>>, unit: string) => sel.steps.filter((s) => s.unit === unit && s.argv).map((s) => s.action);

test('an empty folder: every entry is created, every openssl step runs, in the plan order', async () => {
  const sel = await selectForGenerate(plan, tmpDir(), now);
  expect(sel.decisions.every((d) => d.status === 'create' && d.reasons.length === 0)).toBe(true);
  expect(sel.steps.map((s) => s.id)).toEqual(plan.steps.map((s) => s.id));
});

test('a fitting CA and certificates are kept; only what is missing runs', async () => {
  const sel = await selectForGenerate(plan, folder({ ...CA, ...SERVER, ...ADMIN }), now);
  expect(decision(sel, 'ca')).toEqual({ unit: 'ca', status: 'keep', reasons: [] });
  expect(decision(sel, 'apiserver')).toEqual({ unit: 'apiserver', status: 'keep', reasons: [] });
  expect(decision(sel, 'admin')).toEqual({ unit: 'admin', status: 'keep', reasons: [] });
  expect(ran(sel, 'ca')).toEqual([]);
  expect(ran(sel, 'apiserver')).toEqual([]);
  expect(ran(sel, 'kube-proxy')).toEqual(['genkey', 'csr', 'sign']);
  // files kubepki writes itself always run: they compare and skip
  expect(sel.steps.filter((s) => !s.argv).length).toBe(plan.steps.filter((s) => !s.argv).length);
});

test('a missing request is made again from the kept key; the certificate is kept', async () => {
  const { 'server.csr': _, ...rest } = SERVER;
  const sel = await selectForGenerate(plan, folder({ ...CA, ...rest }), now);
  expect(decision(sel, 'apiserver')).toEqual({ unit: 'apiserver', status: 'keep', reasons: ['server.csr missing: made again'] });
  expect(ran(sel, 'apiserver')).toEqual(['csr']);
});

test('a certificate whose SANs no longer fit the spec is re-issued with its key kept', async () => {
  const spec = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3, extraSANs: [api.example.com] }\n', 'x.yaml');
  const sel = await selectForGenerate(buildPlan(spec), folder({ ...CA, ...SERVER }), now);
  const d = decision(sel, 'apiserver');
  expect(d.status).toBe('reissue');
  expect(d.reasons.join()).toMatch(/^server\.crt has SANs .*missing api\.example\.com/);
  expect(ran(sel, 'apiserver')).toEqual(['csr', 'sign']);
});

test('a leaf whose key no longer fits certs.keyBits gets a new key; the CA keeps its key and its certificate is made from it', async () => {
  const spec = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3 }\ncerts: { keyBits: 3072 }\n', 'x.yaml');
  const p = buildPlan(spec);
  const sel = await selectForGenerate(p, folder({ 'ca.key': 'test-only-ca.key', ...SERVER }), now);
  expect(decision(sel, 'ca')).toEqual({ unit: 'ca', status: 'create', reasons: ["ca.crt missing; made from the existing ca.key (RSA 2048: kubepki never replaces a CA's key)"] });
  // the CA certificate's check asks for the kept key's size, not certs.keyBits
  const caCrt = sel.steps.find((s) => s.id === 'ca:crt')!;
  expect(caCrt.checks).toEqual([{ kind: 'cert', file: 'ca.crt', row: 'ca', key: { file: 'ca.key', algorithm: 'rsa', bits: 2048 }, days: 5000 }]);
  expect(p.steps.find((s) => s.id === 'ca:crt')!.checks[0]).toMatchObject({ key: { bits: 3072 } });
  const d = decision(sel, 'apiserver');
  expect(d.status).toBe('reissue');
  expect(d.reasons[0]).toBe('server.key is RSA 2048; the spec asks for 3072 bits: new key (the old one is kept in .kubepki/backup/) and certificate');
  expect(ran(sel, 'apiserver')).toEqual(['genkey', 'csr', 'sign']);
});

test('a CA certificate without its key is refused: a CA is never replaced', async () => {
  const out = folder({ 'ca.crt': 'ca.crt' });
  await expect(selectForGenerate(plan, out, now)).rejects.toThrow(EnvError);
  await expect(selectForGenerate(plan, out, now)).rejects.toThrow(/ca\.crt exists in .* but ca\.key does not/);
});

test('a CA key and certificate that are not one pair are refused with the way out', async () => {
  const out = folder({ 'ca.key': 'test-only-leaf.key', 'ca.crt': 'ca.crt' });
  const e = await selectForGenerate(plan, out, now).catch((x: EnvError) => x);
  expect(e).toBeInstanceOf(EnvError);
  expect((e as EnvError).details.join('\n')).toMatch(/ca\.key and ca\.crt are not one key pair/);
});

test('a CA whose name differs from the spec is refused, naming ca.commonName', async () => {
  const spec = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3 }\nca: { commonName: other-ca }\n', 'x.yaml');
  const e = await selectForGenerate(buildPlan(spec), folder(CA), now).catch((x: EnvError) => x);
  expect((e as EnvError).message).toMatch(/does not fit the spec: ca\.crt has subject \/CN=k8s-master; expected \/CN=other-ca/);
  expect((e as EnvError).details.join('\n')).toMatch(/set ca\.commonName in the spec to its CN/);
});

test('an unreadable key is never overwritten', async () => {
  const out = folder(CA);
  writeFileSync(path.join(out, 'server.key'), 'not a key\n', { mode: 0o600 });
  await expect(selectForGenerate(plan, out, now)).rejects.toThrow(/server\.key in .* is not a readable private key/);
});

test('a leaf key that does not match its certificate is refused (no interrupted rekey explains it)', async () => {
  const out = folder({ ...CA, ...SERVER, 'server.key': 'test-only-ca.key' });
  await expect(selectForGenerate(plan, out, now)).rejects.toThrow(/server\.key does not match server\.crt/);
});

test('the service-account pair: a missing public half is derived again; one of another key is refused', async () => {
  const out = folder({ ...CA, 'sa.key': 'test-only-leaf.key' });
  let sel = await selectForGenerate(plan, out, now);
  expect(decision(sel, 'sa')).toEqual({ unit: 'sa', status: 'reissue', reasons: ['sa.pub missing'] });
  expect(ran(sel, 'sa')).toEqual(['pubout']);
  writeFileSync(path.join(out, 'sa.pub'), publicPemOf('test-only-leaf.key'));
  sel = await selectForGenerate(plan, out, now);
  expect(decision(sel, 'sa')).toEqual({ unit: 'sa', status: 'keep', reasons: [] });
  expect(ran(sel, 'sa')).toEqual([]);
  writeFileSync(path.join(out, 'sa.pub'), publicPemOf('test-only-ca.key'));
  await expect(selectForGenerate(plan, out, now)).rejects.toThrow(/sa\.pub in .* is not the public half of sa\.key/);
});

test('renew refuses a CA and an unknown name, and keeps keys unless --rekey', async () => {
  const out = folder({ ...CA, ...ADMIN });
  await expect(selectForRenew(plan, out, ['ca'], { rekey: false })).rejects.toThrow(/ca is a CA: renew never touches a CA/);
  await expect(selectForRenew(plan, out, ['nobody'], { rekey: false })).rejects.toThrow(/no certificate named "nobody"/);
  const kept = await selectForRenew(plan, out, ['admin'], { rekey: false });
  expect(kept.steps.filter((s) => s.argv).map((s) => s.id)).toEqual(['admin:csr', 'admin:crt']);
  const rekeyed = await selectForRenew(plan, out, ['admin'], { rekey: true, days: 30 });
  expect(rekeyed.steps.filter((s) => s.argv).map((s) => s.id)).toEqual(['admin:key', 'admin:csr', 'admin:crt']);
  // --days reaches both the argv and the certificate's check
  const sign = rekeyed.steps.find((s) => s.id === 'admin:crt')!;
  expect(sign.argv![sign.argv!.indexOf('-days') + 1]).toBe('30');
  expect(sign.checks[0]).toMatchObject({ kind: 'cert', days: 30 });
});
