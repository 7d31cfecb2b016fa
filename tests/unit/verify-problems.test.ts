// What verify reports for a folder (inspect/verify.ts): each problem with its file and code, and
// the notes that are not problems. Folders are assembled from the committed test-only fixtures:
// nothing is generated, nothing is spawned.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { verifyPki } from '../../src/inspect/verify.js';
import { buildPlan } from '../../src/plan/plan.js';
import { defaultSpec, parseSpecText } from '../../src/spec/load.js';
import { fixtureFolder, FIXTURE_NOW, publicPemOf } from '../helpers/fixture-folder.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';

afterAll(cleanupTmp);

const now = FIXTURE_NOW;
const folder = fixtureFolder;

const BASE = { 'ca.key': 'test-only-ca.key', 'ca.crt': 'ca.crt', 'server.key': 'test-only-leaf.key', 'server.crt': 'server.crt', 'clients/admin.key': 'test-only-leaf.key', 'clients/admin.crt': 'admin.crt', 'sa.key': 'test-only-leaf.key' };
const plan = buildPlan(defaultSpec());
const codes = (r: Awaited<ReturnType<typeof verifyPki>>, file: string) => r.problems.filter((p) => p.file === file).map((p) => p.code);

test('an empty folder: every certificate, key, kubeconfig and flag file is missing', async () => {
  const r = await verifyPki(plan, tmpDir(), 30, now);
  expect(r.ok).toBe(false);
  expect(r.certificates.every((c) => c.status === 'missing')).toBe(true);
  const files = new Set(r.problems.map((p) => p.file));
  for (const s of plan.steps) for (const o of s.outputs) if (o.type !== 'csr' && o.type !== 'serial' && !o.path.endsWith('.cnf')) expect([o.path, files.has(o.path)]).toEqual([o.path, true]);
  expect(new Set(r.problems.map((p) => p.code))).toEqual(new Set(['missing']));
});

test('fitting certificates are ok in the table, with their signer and residual days', async () => {
  const out = folder(BASE);
  writeFileSync(path.join(out, 'sa.pub'), publicPemOf('test-only-leaf.key'));
  const r = await verifyPki(plan, out, 30, now);
  const row = (name: string) => r.certificates.find((c) => c.name === name)!;
  expect(row('ca')).toMatchObject({ status: 'ok', signedBy: '(self)', subject: '/CN=k8s-master' });
  expect(row('apiserver')).toMatchObject({ status: 'ok', signedBy: 'ca', file: 'server.crt' });
  // admin.crt lives 30 days and is a day old: inside --warn-days 30 it is a problem
  expect(row('admin')).toMatchObject({ status: 'problem', residualDays: 29 });
  expect(codes(r, 'clients/admin.crt')).toEqual(['expiring']);
  expect(codes(r, 'sa.pub')).toEqual([]);
  expect((await verifyPki(plan, out, 7, now)).certificates.find((c) => c.name === 'admin')!.status).toBe('ok');
});

test('a private key readable by others is a problem that names the chmod', async () => {
  const out = folder(BASE);
  chmodSync(path.join(out, 'server.key'), 0o644);
  const r = await verifyPki(plan, out, 0, now);
  const p = r.problems.find((x) => x.file === 'server.key')!;
  expect(p.code).toBe('permissions');
  expect(p.message).toMatch(/readable or writable by its group and others \(mode 0644; must be 0600\): chmod 600 server\.key/);
});

test('a certificate of another key, and a CA certificate whose basicConstraints is not critical', async () => {
  const out = folder({ ...BASE, 'server.key': 'test-only-ca.key', 'ca.crt': 'weak-ca.crt' });
  const r = await verifyPki(plan, out, 0, now);
  expect(codes(r, 'server.crt')).toContain('key-mismatch');
  expect(codes(r, 'ca.crt')).toContain('not-a-ca');
});

test('a CA key smaller than certs.keyBits is a note, not a problem; a leaf key of the wrong size is a problem', async () => {
  const spec = parseSpecText('master: { hostname: k8s-master, ip: 192.168.18.3 }\ncerts: { keyBits: 3072 }\n', 'x.yaml');
  const out = folder(BASE);
  const r = await verifyPki(buildPlan(spec), out, 0, now);
  expect(r.notes.map((n) => [n.file, n.code])).toEqual([['ca.key', 'ca-key-size']]);
  expect(codes(r, 'ca.key')).toEqual([]);
  expect(r.problems.find((p) => p.file === 'server.key')!.message).toBe('is RSA 2048; the spec asks for 3072 bits (renew --rekey makes a new key)');
  // the service-account key says what generate does about it instead
  expect(r.problems.find((p) => p.file === 'sa.key')!.message).toBe('is RSA 2048; the spec asks for 3072 bits (kubepki generate makes a new key pair; tokens signed with the old key are then rejected)');
});

test('a service-account public key of another key pair is reported', async () => {
  const out = folder(BASE);
  writeFileSync(path.join(out, 'sa.pub'), publicPemOf('test-only-ca.key'));
  const r = await verifyPki(plan, out, 0, now);
  expect(r.problems.find((p) => p.file === 'sa.pub')).toMatchObject({ code: 'sa-pair', message: expect.stringMatching(/is not the public half of sa\.key/) });
  writeFileSync(path.join(out, 'sa.pub'), 'garbage\n');
  expect(codes(await verifyPki(plan, out, 0, now), 'sa.pub')).toEqual(['unparsable']);
});

test('a flag file that drifted from the spec, and one without its variable', async () => {
  const out = folder(BASE);
  mkdirSync(path.join(out, 'flags'));
  writeFileSync(path.join(out, 'flags/kube-scheduler.env'), 'KUBE_SCHEDULER_ARGS="--v=2"\n');
  writeFileSync(path.join(out, 'flags/kube-proxy.env'), '# nothing here\n');
  const r = await verifyPki(plan, out, 0, now);
  expect(codes(r, 'flags/kube-scheduler.env')).toEqual(['flags-drift']);
  expect(codes(r, 'flags/kube-proxy.env')).toEqual(['unparsable']);
});
