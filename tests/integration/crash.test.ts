// A run killed at any moment (SIGKILL included) leaves nothing a later run or verify would accept
// that is truncated or unchecked; the next generate completes the PKI, the CA unchanged.
// kubepki generate is killed after different numbers of finished steps (its "[n/N]" lines), once
// with a slowed-down openssl (test-only wrapper in fixtures/bin) so that a process is mid-flight.
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { kubepki, kubepkiAsync, type CliResult } from '../helpers/cli.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';
import { SPEC, basePki, expectExit, fakeEnv, snapshot, verifyJson } from '../helpers/pki.js';
import { openssl } from '../helpers/tools.js';

let spec: string;
let base: string;

beforeAll(() => {
  ({ spec, out: base } = basePki(SPEC, 'crash'));
});
afterAll(() => cleanupTmp());

/** Starts `kubepki args`, SIGKILLs it once its stdout has `lines` step lines ("[ n/N]") plus delayMs. */
async function killAfter(args: string[], lines: number, delayMs = 0, env?: NodeJS.ProcessEnv, which = /^\[\s*\d+\/\d+\]/gm): Promise<{ res: CliResult; seen: number }> {
  const p = kubepkiAsync(args, { env });
  let seen = 0;
  let fired = false;
  const count = () => (p.out().match(which) ?? []).length;
  p.child.stdout.on('data', () => {
    seen = count();
    if (!fired && seen >= lines) {
      fired = true;
      setTimeout(() => p.child.kill('SIGKILL'), delayMs);
    }
  });
  const res = await p.done;
  if (!fired) throw new Error(`the run ended (exit ${res.code}) before ${lines} steps were printed:\n${res.stdout}\n${res.stderr}`);
  return { res, seen: count() };
}

/** Every file a killed run left in OUT (outside .kubepki) is whole and checked: keys parse, CSRs
 *  verify, and verify reports no problem on an existing file other than "something it names is
 *  still missing". */
function assertNothingHalfMade(out: string) {
  const files = Object.keys(snapshot(out));
  for (const f of files) {
    const text = readFileSync(path.join(out, f), 'utf8');
    expect([f, text.length > 0]).toEqual([f, true]);
    if (f.endsWith('.key')) expect(() => createPrivateKey(text)).not.toThrow();
    if (f.endsWith('.csr')) expect([f, openssl(['req', '-in', path.join(out, f), '-verify', '-noout']).code]).toEqual([f, 0]);
    if (f.endsWith('.srl')) expect(text).toMatch(/^[0-9A-F]+\n$/);
  }
  const { report } = verifyJson(out, ['--spec', spec]);
  const onExisting = report.problems.filter((p) => existsSync(path.join(out, p.file.replace(/ \(embedded certificate\)$/, ''))));
  // a flag file may name a file that is not made yet; anything else on an existing file is a defect
  const bad = onExisting.filter((p) => !(p.code === 'flags-path' || (p.code === 'not-signed-by-ca' && /cannot be checked: its CA/.test(p.message))));
  expect(bad).toEqual([]);
}

/** The next generate completes the PKI: exit 0, verify ok, the CA and every whole file the killed
 *  run left are unchanged (only the serial file moves on). */
function completeAndCheck(out: string, left: Record<string, string>, stale = true) {
  const r = kubepki(['generate', '--spec', spec, '--out', out]);
  expectExit(r, 0);
  if (stale) expect(r.stdout).toMatch(/took over a stale lock from pid \d+ \(kubepki (generate|renew)\), which is gone/);
  const after = snapshot(out);
  for (const [f, h] of Object.entries(left)) if (f !== 'ca.srl') expect([f, after[f]]).toEqual([f, h]);
  expectExit(kubepki(['verify', '--spec', spec, '--out', out]), 0);
  // nothing of the killed run's staging is left behind, nor a lock
  expect(readdirSync(path.join(out, '.kubepki')).filter((e) => e !== 'backup')).toEqual(['spec.json']);
  return Object.assign(after, { [STDOUT]: r.stdout });
}
const STDOUT = Symbol('stdout');

describe('SIGKILL of kubepki generate', () => {
  test('killed again and again after different numbers of steps (once mid-openssl): nothing half-made, the next generate completes, the CA is unchanged', async () => {
    const out = path.join(tmpDir('kubepki-kill-'), 'pki');
    const args = ['generate', '--spec', spec, '--out', out, '--jobs', '2'];
    const slow = fakeEnv('pass', { sleep: 0.4 });
    // each run makes only what the ones before it left undone; its own "[n/N]" lines are counted
    const points: { lines: number; delay: number; env?: NodeJS.ProcessEnv }[] = [
      { lines: 2, delay: 0 },
      { lines: 3, delay: 150, env: slow }, // a slowed-down openssl is running when the kill comes
      { lines: 7, delay: 0 },
      { lines: 11, delay: 0 },
    ];
    let left: Record<string, string> = {};
    let ca: [string, string] | undefined;
    for (const [i, pt] of points.entries()) {
      const { res, seen } = await killAfter(args, pt.lines, pt.delay, pt.env);
      expect(res.signal).toBe('SIGKILL');
      if (i > 0) expect(res.stdout).toMatch(/took over a stale lock from pid \d+ \(kubepki generate\), which is gone/);
      expect(res.stdout).not.toMatch(/^kubepki generate: /m); // killed before its summary
      if (pt.env) expect(readdirSync(path.join(out, '.kubepki', 'tmp')).length).toBeGreaterThan(0); // the staging folder holds the half-done step
      const now = snapshot(out);
      // what an earlier run left is never replaced (only the serial moves on)
      for (const [f, h] of Object.entries(left)) if (f !== 'ca.srl') expect([f, now[f]]).toEqual([f, h]);
      expect([`after run ${i + 1} (${seen} steps)`, Object.keys(now).length > Object.keys(left).length]).toEqual([`after run ${i + 1} (${seen} steps)`, true]);
      assertNothingHalfMade(out);
      if (now['ca.crt'] && !ca) ca = [now['ca.key'], now['ca.crt']];
      left = now;
    }
    const after = completeAndCheck(out, left);
    expect(ca).toBeDefined();
    expect([after['ca.key'], after['ca.crt']]).toEqual(ca);
  });

  test('SIGTERM stops cleanly: exit 143, a plain message, no lock and no staging left', async () => {
    const out = path.join(tmpDir('kubepki-term-'), 'pki');
    const p = kubepkiAsync(['generate', '--spec', spec, '--out', out, '--jobs', '2'], { env: fakeEnv('pass', { sleep: 0.3 }) });
    await new Promise<void>((resolve, reject) => {
      p.child.stdout.on('data', () => /\[\s*3\/\d+\]/.test(p.out()) && resolve());
      p.done.then((r) => reject(new Error(`the run ended before its third step (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)));
    });
    p.child.kill('SIGTERM');
    const res = await p.done;
    expect(res.code).toBe(143);
    expect(res.stderr).toMatch(/stopped by SIGTERM; nothing unchecked was left/);
    expect(readdirSync(path.join(out, '.kubepki'))).toEqual(['spec.json']);
    assertNothingHalfMade(out);
  });
});

describe('SIGKILL of kubepki renew', () => {
  test.each([2])('renew --all --rekey killed right after its new key number %i is in place: generate completes the PKI with the CA unchanged', async (n) => {
    const out = copyDir(base);
    const ca = snapshot(out);
    // a slowed-down openssl, so that the kill surely comes before that key's certificate
    const { res } = await killAfter(['renew', '--all', '--rekey', '--spec', spec, '--out', out, '--jobs', '2'], n, 0, fakeEnv('pass', { sleep: 0.4 }), /^\[\s*\d+\/\d+\] \$ openssl genrsa /gm);
    expect(res.signal).toBe('SIGKILL');
    const after = completeAndCheck(out, {}, true);
    // a new key in place whose certificate was not re-signed yet: generate finishes that renewal
    expect(after[STDOUT]).toMatch(/is the new key of an interrupted renew --rekey \(the old key is in \.kubepki\/backup\/[^)]+\): certificate re-issued for it/);
    expect([after['ca.key'], after['ca.crt']]).toEqual([ca['ca.key'], ca['ca.crt']]);
  });

  test('renew --all killed half way: generate completes it (kubeconfigs embed the files again)', async () => {
    const out = copyDir(base);
    const ca = snapshot(out);
    await killAfter(['renew', '--all', '--spec', spec, '--out', out, '--jobs', '2'], 8);
    const after = completeAndCheck(out, {}, true);
    expect([after['ca.key'], after['ca.crt']]).toEqual([ca['ca.key'], ca['ca.crt']]);
    for (const k of ['admin', 'kube-proxy']) expect([k, after[`clients/${k}.key`]]).toEqual([k, ca[`clients/${k}.key`]]);
  });
});
