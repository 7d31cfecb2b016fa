// One run at a time per folder (OUT/.kubepki/lock): a second run fails at once naming the holder;
// a stale lock (its process gone, or its pid now someone else's) is taken over.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubepki, kubepkiAsync } from '../helpers/cli.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';
import { SPEC, basePki, expectExit, fakeEnv, snapshot, writeSpec } from '../helpers/pki.js';

let spec: string;
let work: string;
let base: string;

beforeAll(() => {
  ({ work, spec, out: base } = basePki(SPEC, 'lock'));
});
afterAll(() => cleanupTmp());

// a slowed-down openssl (test-only wrapper) keeps the first run busy for a few seconds
const slow = () => fakeEnv('pass', { sleep: 0.8 });
/** a spec with work to do on a copy of the base PKI: a new node (three openssl steps) */
const node2 = () => writeSpec(work, SPEC + '  - { name: k8s-node-2, ip: 127.0.0.3 }\n', 'node2.yaml');
const lockFile = (out: string) => path.join(out, '.kubepki', 'lock');

function writeLock(out: string, l: Record<string, unknown> | string) {
  mkdirSync(path.join(out, '.kubepki'), { recursive: true });
  writeFileSync(lockFile(out), typeof l === 'string' ? l : JSON.stringify(l) + '\n');
}

/** A pid that is certainly not running: a process that has ended (and was reaped). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}

describe('one run at a time per folder', () => {
  test('a second generate while one runs fails at once, naming the holder; the first completes', async () => {
    const out = copyDir(base);
    // the first run is held at its first openssl call until the gate opens: it holds the lock
    const gate = path.join(tmpDir('kubepki-gate-'), 'open');
    const a = kubepkiAsync(['generate', '--spec', node2(), '--out', out, '--jobs', '2'], { env: fakeEnv('pass', { gate }) });
    try {
      await new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => existsSync(`${gate}.waiting`) && (clearInterval(poll), resolve()), 20);
        a.done.then((r) => (clearInterval(poll), reject(new Error(`the first run ended before its first openssl step (exit ${r.code}):\n${r.stdout}\n${r.stderr}`))));
      });
      const b = kubepki(['generate', '--spec', spec, '--out', out]);
      expectExit(b, 1);
      expect(b.stderr).toContain(`kubepki: error: ${out} is in use by another kubepki run: pid ${a.child.pid} on ${os.hostname()}, \`kubepki generate\`, since `);
      expect(b.stderr).toMatch(/wait for it to finish \(one run at a time per folder\)/);
      // renew too
      const c = kubepki(['renew', '--all', '--spec', spec, '--out', out]);
      expectExit(c, 1);
      expect(c.stderr).toContain(`pid ${a.child.pid}`);
    } finally {
      writeFileSync(gate, '');
    }
    const ra = await a.done;
    expectExit(ra, 0);
    expect(existsSync(lockFile(out))).toBe(false);
    expectExit(kubepki(['verify', '--spec', node2(), '--out', out]), 0);
  });

  test('two generates started at the same moment on one folder: exactly one runs, the other names it', async () => {
    const out = copyDir(base);
    const runs = [0, 1].map(() => kubepkiAsync(['generate', '--spec', node2(), '--out', out, '--jobs', '2'], { env: slow() }));
    const res = await Promise.all(runs.map((r) => r.done));
    const codes = res.map((r) => r.code).sort();
    if (codes.join() !== '0,1') throw new Error(`expected one success and one refusal, got ${codes}:\n${res.map((r) => r.stdout + r.stderr).join('\n---\n')}`);
    const loser = res.findIndex((r) => r.code === 1);
    expect(res[loser].stderr).toContain(`in use by another kubepki run: pid ${runs[1 - loser].child.pid} `);
    expectExit(kubepki(['verify', '--spec', node2(), '--out', out]), 0);
    expect(readdirSync(path.join(out, '.kubepki'))).toEqual(['spec.json']); // no lock left
  });

  test('a stale lock whose process is gone is taken over, with a note', () => {
    const out = copyDir(base);
    const pid = deadPid();
    writeLock(out, { pid, host: os.hostname(), command: 'kubepki generate', started: new Date(Date.now() - 60_000).toISOString() });
    const r = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 0);
    expect(r.stdout).toContain(`note: took over a stale lock from pid ${pid} (kubepki generate), which is gone`);
    expect(readdirSync(path.join(out, '.kubepki'))).toEqual(['spec.json']); // no lock left
  });

  test('a lock whose pid is alive but belongs to a process started after the lock (pid reused) is stale', async () => {
    const out = copyDir(base);
    const sleeper = spawn('sleep', ['30']);
    try {
      writeLock(out, { pid: sleeper.pid, host: os.hostname(), command: 'kubepki generate', started: '2020-01-01T00:00:00.000Z' });
      const r = kubepki(['generate', '--spec', spec, '--out', out]);
      expectExit(r, 0);
      expect(r.stdout).toContain(`took over a stale lock from pid ${sleeper.pid}`);
      // the same live process, named by a lock taken after it started: that run may be going on
      writeLock(out, { pid: sleeper.pid, host: os.hostname(), command: 'kubepki renew', started: new Date().toISOString() });
      const r2 = kubepki(['generate', '--spec', spec, '--out', out]);
      expectExit(r2, 1);
      expect(r2.stderr).toContain(`in use by another kubepki run: pid ${sleeper.pid} on ${os.hostname()}, \`kubepki renew\``);
    } finally {
      sleeper.kill();
    }
  });

  test('a lock from another host is never guessed stale: refused with the way out', () => {
    const out = copyDir(base);
    const before = snapshot(out, true);
    writeLock(out, { pid: 4242, host: 'some-other-host', command: 'kubepki generate', started: new Date().toISOString() });
    const r = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toContain('pid 4242 on some-other-host');
    expect(r.stderr).toMatch(/the lock was taken on another host; if that run is gone, remove .*\.kubepki\/lock/);
    expect(existsSync(lockFile(out))).toBe(true);
    const { ['.kubepki/lock']: _lock, ...rest } = snapshot(out, true);
    expect(rest).toEqual(before);
  });

  test('an unreadable lock: refused while fresh (a writer may be mid-write), taken over once old', () => {
    const out = copyDir(base);
    writeLock(out, '');
    const r = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toMatch(/is locked by another kubepki run \(its lock file .* is unreadable\)/);
    writeLock(out, '{"pid": 0, "garbage": true}');
    utimesSync(lockFile(out), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const r2 = kubepki(['generate', '--spec', spec, '--out', out]);
    expectExit(r2, 0);
    expect(readdirSync(path.join(out, '.kubepki'))).toEqual(['spec.json']); // no lock left
  });

  test('verify takes no lock and writes nothing; while a run holds the lock it exits 1 saying so', () => {
    const out = copyDir(base);
    writeLock(out, { pid: 4242, host: 'some-other-host', command: 'kubepki generate', started: new Date().toISOString() });
    const before = snapshot(out, true);
    const r = kubepki(['verify', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toContain(`a kubepki run is in progress in ${out} (pid 4242 on some-other-host, \`kubepki generate\``);
    expect(r.stderr).toMatch(/the lock .*\.kubepki\/lock was taken on another host; if that run is gone, remove it/);
    expect(snapshot(out, true)).toEqual(before);
  });
});
