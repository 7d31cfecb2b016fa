// The lock of a PKI folder (OUT/.kubepki/lock), decided on files in a temporary folder: taken by
// a run and removed by it, refused while its holder may be running (naming it, with the way
// out), taken over once stale (the holder gone, or its pid now another process's), and what
// verify sees of it (runInProgress).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvError } from '../../src/errors.js';
import { acquireLock, describe as describeLock, runInProgress, type LockInfo } from '../../src/run/lock.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';

afterAll(() => cleanupTmp());

const HOST = os.hostname();
const lockFile = (out: string) => path.join(out, '.kubepki', 'lock');
const readLockFile = (out: string): LockInfo => JSON.parse(readFileSync(lockFile(out), 'utf8'));

/** A file whose mtime is ageMs before Date.now(): the lock judges an unreadable lock and a
 *  take-over guard by their age on that clock (set here, so that the test holds with the clock
 *  moved ahead too, where a new file's mtime is the machine's). */
function writeAged(file: string, text: string, ageMs = 0) {
  writeFileSync(file, text);
  const t = new Date(Date.now() - ageMs);
  utimesSync(file, t, t);
}

function writeLock(out: string, l: LockInfo | string, ageMs = 0) {
  mkdirSync(path.join(out, '.kubepki'), { recursive: true });
  writeAged(lockFile(out), typeof l === 'string' ? l : JSON.stringify(l) + '\n', ageMs);
}

/** A process that is alive and started before any lock a test writes: the test runner's parent. */
const LIVE = process.ppid;
/** A pid that runs nothing: a process that has ended and was reaped. */
const deadPid = () => spawnSync('true').pid!;
const now = () => new Date().toISOString();

async function refusal(out: string): Promise<EnvError> {
  const e = await acquireLock(out, 'kubepki generate').then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof EnvError)) throw new Error(`expected the lock to be refused with an EnvError, got ${String(e)}`);
  return e;
}

describe('a run takes the lock and removes it', () => {
  test('in a new folder: .kubepki (mode 0700) and a lock naming this process, host, command and start', async () => {
    const out = tmpDir('kubepki-lock-');
    const before = Date.now();
    const lock = await acquireLock(out, 'kubepki generate');
    const l = readLockFile(out);
    expect(l).toEqual({ pid: process.pid, host: HOST, command: 'kubepki generate', started: expect.any(String) });
    expect(Date.parse(l.started)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(l.started)).toBeLessThanOrEqual(Date.now());
    expect(lock.tookOverFrom).toBeUndefined();
    expect(statSync(path.join(out, '.kubepki')).mode & 0o777).toBe(0o700);
    await lock.release();
    expect(readdirSync(path.join(out, '.kubepki'))).toEqual([]);
  });

  test('release leaves a lock that is not its own (taken over meanwhile)', async () => {
    const out = tmpDir('kubepki-lock-');
    const lock = await acquireLock(out, 'kubepki renew');
    const other = { pid: LIVE, host: HOST, command: 'kubepki generate', started: now() };
    writeLock(out, other);
    await lock.release();
    expect(readLockFile(out)).toEqual(other);
  });

  test('a lock naming this very pid was left by an earlier process that had it (a restarted container): taken over', async () => {
    const out = tmpDir('kubepki-lock-');
    const earlier = { pid: process.pid, host: HOST, command: 'kubepki generate', started: now() };
    writeLock(out, earlier);
    const lock = await acquireLock(out, 'kubepki renew');
    expect(lock.tookOverFrom).toEqual(earlier);
    expect(readLockFile(out).command).toBe('kubepki renew');
  });
});

describe('a lock whose holder may be running is refused', () => {
  test('a live process on this host that started before the lock: "in use", its pid, host, command and start; wait for it', async () => {
    const out = tmpDir('kubepki-lock-');
    const holder = { pid: LIVE, host: HOST, command: 'kubepki generate', started: now() };
    writeLock(out, holder);
    const e = await refusal(out);
    expect(e.message).toBe(`${out} is in use by another kubepki run: pid ${LIVE} on ${HOST}, \`kubepki generate\`, since ${holder.started}`);
    expect(e.details).toEqual(['wait for it to finish (one run at a time per folder)']);
    expect(e.exitCode).toBe(1);
    expect(readLockFile(out)).toEqual(holder);
  });

  test('a lock from another host, even of a pid that runs nothing here: never guessed stale; remove it if that run is gone', async () => {
    const out = tmpDir('kubepki-lock-');
    writeLock(out, { pid: deadPid(), host: 'some-other-host', command: 'kubepki renew', started: now() });
    const e = await refusal(out);
    expect(e.message).toMatch(/ is in use by another kubepki run: pid \d+ on some-other-host, `kubepki renew`, since /);
    expect(e.details).toEqual([`the lock was taken on another host; if that run is gone, remove ${lockFile(out)}`]);
  });

  test('an unreadable lock that is fresh (a writer may be mid-write): refused', async () => {
    const out = tmpDir('kubepki-lock-');
    writeLock(out, '{"pid": 12');
    const e = await refusal(out);
    expect(e.message).toBe(`${out} is locked by another kubepki run (its lock file ${lockFile(out)} is unreadable)`);
  });

  test('a take-over guard left fresh by another run: that run is taking it over, so this one gives up', async () => {
    const out = tmpDir('kubepki-lock-');
    writeLock(out, { pid: deadPid(), host: HOST, command: 'kubepki generate', started: now() });
    writeAged(path.join(out, '.kubepki', 'lock.takeover'), '');
    const e = await refusal(out);
    expect(e.message).toBe(`could not lock ${out}: another run keeps taking it`);
  });
});

describe('a stale lock is taken over, and says whose it was', () => {
  test('its pid runs nothing', async () => {
    const out = tmpDir('kubepki-lock-');
    const stale = { pid: deadPid(), host: HOST, command: 'kubepki generate', started: new Date(Date.now() - 60_000).toISOString() };
    writeLock(out, stale);
    const lock = await acquireLock(out, 'kubepki renew');
    expect(lock.tookOverFrom).toEqual(stale);
    expect(readLockFile(out)).toMatchObject({ pid: process.pid, command: 'kubepki renew' });
    expect(readdirSync(path.join(out, '.kubepki')).sort()).toEqual(['lock']);
  });

  test('its pid is alive but that process started after the lock was taken (the pid was reused)', async () => {
    const out = tmpDir('kubepki-lock-');
    const stale = { pid: LIVE, host: HOST, command: 'kubepki generate', started: '2020-01-01T00:00:00.000Z' };
    writeLock(out, stale);
    expect((await acquireLock(out, 'kubepki generate')).tookOverFrom).toEqual(stale);
  });

  test('an unreadable lock older than 10 s (its writer died mid-write): taken over, naming no holder', async () => {
    const out = tmpDir('kubepki-lock-');
    writeLock(out, '{"pid": 0, "garbage": true}', 120_000);
    const lock = await acquireLock(out, 'kubepki generate');
    expect(lock.tookOverFrom).toBeUndefined();
    expect(readLockFile(out).pid).toBe(process.pid);
  });

  test('a take-over guard older than 10 s (a run killed during its take-over) is removed and the stale lock taken over', async () => {
    const out = tmpDir('kubepki-lock-');
    writeLock(out, { pid: deadPid(), host: HOST, command: 'kubepki generate', started: now() });
    const guard = path.join(out, '.kubepki', 'lock.takeover');
    writeAged(guard, '', 60_000);
    const lock = await acquireLock(out, 'kubepki generate');
    expect(lock.tookOverFrom).toBeDefined();
    expect(existsSync(guard)).toBe(false);
  });
});

describe('what stands in the way of the lock', () => {
  test('OUT/.kubepki is a file: "a file is in the way", move it away', async () => {
    const out = tmpDir('kubepki-lock-');
    writeFileSync(path.join(out, '.kubepki'), 'x\n');
    const e = await refusal(out);
    expect(e.message).toBe(`cannot create ${path.join(out, '.kubepki')}: a file is in the way`);
    expect(e.details).toEqual(['kubepki keeps its lock and staging folders there: move that file away']);
  });
});

describe('runInProgress (verify takes no lock, but does not read a folder that a run is making)', () => {
  test('no lock, a stale one, an unreadable one: no run', () => {
    const out = tmpDir('kubepki-lock-');
    expect(runInProgress(out)).toBeUndefined();
    writeLock(out, { pid: deadPid(), host: HOST, command: 'kubepki generate', started: now() });
    expect(runInProgress(out)).toBeUndefined();
    writeLock(out, '');
    expect(runInProgress(out)).toBeUndefined();
  });

  test('a live holder on this host, or any holder on another host: that run', () => {
    const out = tmpDir('kubepki-lock-');
    const live = { pid: LIVE, host: HOST, command: 'kubepki renew', started: now() };
    writeLock(out, live);
    expect(runInProgress(out)).toEqual(live);
    const remote = { pid: deadPid(), host: 'some-other-host', command: 'kubepki generate', started: now() };
    writeLock(out, remote);
    expect(runInProgress(out)).toEqual(remote);
  });

  test('describe names the pid, host, command and start', () => {
    expect(describeLock({ pid: 42, host: 'h', command: 'kubepki generate', started: '2030-01-02T03:04:05.000Z' })).toBe('pid 42 on h, `kubepki generate`, since 2030-01-02T03:04:05.000Z');
  });
});
