// One run at a time per PKI folder. OUT/.kubepki/lock is created with O_EXCL and names its holder
// (pid, host, command, start time). A lock whose holder is gone (same host, pid not alive) is
// stale: it is taken over under a second O_EXCL file (lock.takeover), so two runs that both find
// the stale lock cannot both take it.
import { closeSync, constants, fstatSync, openSync, promises as fsp, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvError } from '../errors.js';
import { describeWriteError, makeDirs, STATE_DIR } from './fsutil.js';

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  started: string;
}

export interface Lock {
  release(): Promise<void>;
  tookOverFrom?: LockInfo;
}

/** Is the holder of this lock still running? Same host only. A pid that is alive but started
 *  after the lock was taken is another process that got the number again (a reboot, a restarted
 *  container where kubepki may even have the same pid as the killed run): the lock is stale. */
function holderAlive(l: LockInfo): boolean {
  if (l.pid === process.pid) return false; // we have not taken it: a previous process with our pid
  try {
    process.kill(l.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = processStartMs(l.pid);
  return !(started !== undefined && started > Date.parse(l.started) + 2000);
}

/** When a process started (ms since the epoch), from /proc on Linux; undefined elsewhere. */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, starttime field 22 (clock ticks since boot, USER_HZ = 100)
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(btime) ? (btime + ticks / 100) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

// Synchronous file calls: a handful of tiny ones before the first openssl process can start

function readLock(file: string): LockInfo | null | undefined {
  let fd: number | undefined;
  try {
    // never waits: a pipe in place of the lock would block the whole process
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return null;
    const l = JSON.parse(readFileSync(fd, 'utf8')) as LockInfo;
    if (!Number.isInteger(l?.pid) || l.pid <= 0 || typeof l.host !== 'string' || Number.isNaN(Date.parse(l.started))) return null;
    return l;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return null; // unreadable: being written right now, or garbage
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function createExclusive(file: string, info: LockInfo): boolean {
  try {
    const fd = openSync(file, 'wx', 0o644);
    try {
      writeSync(fd, JSON.stringify(info) + '\n');
    } catch (e) {
      // a lock that names nobody (a full disk) would hold the folder until it goes stale
      closeSync(fd);
      rmSync(file, { force: true });
      throw e;
    }
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new EnvError(`cannot create the lock ${file}: ${describeWriteError(e)}`, [`kubepki keeps its lock and staging folders in ${path.dirname(file)}: it must be a folder this user can write`]);
  }
}

/** The run that holds OUT's lock now, if any: for the commands that take no lock (verify) and
 *  would read a half-made folder. A stale lock (its holder gone) is no run; one taken on another
 *  host is, as for acquireLock. */
export function runInProgress(out: string): LockInfo | undefined {
  const holder = readLock(path.join(out, STATE_DIR, 'lock'));
  if (!holder) return undefined;
  return holder.host !== os.hostname() || holderAlive(holder) ? holder : undefined;
}

export const describe = (l: LockInfo) => `pid ${l.pid} on ${l.host}, \`${l.command}\`, since ${l.started}`;

export async function acquireLock(out: string, command: string): Promise<Lock> {
  const dir = path.join(out, STATE_DIR);
  try {
    makeDirs(out, STATE_DIR, 0o700);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const inTheWay = e.code === 'EEXIST' || e.code === 'ENOTDIR';
    throw new EnvError(`cannot create ${dir}: ${inTheWay ? 'a file is in the way' : describeWriteError(e)}`, [
      `kubepki keeps its lock and staging folders there: ${inTheWay ? 'move that file away' : 'it must be writable by the user who runs kubepki'}`,
    ]);
  }
  const file = path.join(dir, 'lock');
  const me: LockInfo = { pid: process.pid, host: os.hostname(), command, started: new Date().toISOString() };
  const release = async () => {
    const cur = readLock(file);
    if (cur && cur.pid === me.pid && cur.host === me.host) rmSync(file, { force: true });
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusive(file, me)) return { release };
    const holder = readLock(file);
    if (holder === undefined) continue; // released meanwhile
    if (holder === null) {
      // being written: give the writer a moment
      await new Promise((r) => setTimeout(r, 50));
      const again = readLock(file);
      if (again === null) {
        const st = await fsp.stat(file).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > 10_000) {
          if (await takeOver(dir, file, null, me)) return { release };
        }
        throw new EnvError(`${out} is locked by another kubepki run (its lock file ${file} is unreadable)`);
      }
      continue;
    }
    if (holder.host !== me.host || holderAlive(holder)) {
      throw new EnvError(`${out} is in use by another kubepki run: ${describe(holder)}`, [
        holder.host !== me.host
          ? `the lock was taken on another host; if that run is gone, remove ${file}`
          : 'wait for it to finish (one run at a time per folder)',
      ]);
    }
    if (await takeOver(dir, file, holder, me)) return { release, tookOverFrom: holder };
  }
  throw new EnvError(`could not lock ${out}: another run keeps taking it`);
}

/** Replaces a stale lock, guarded by lock.takeover so that only one run does it. */
async function takeOver(dir: string, file: string, stale: LockInfo | null, me: LockInfo): Promise<boolean> {
  const guard = path.join(dir, 'lock.takeover');
  if (!createExclusive(guard, me)) {
    const st = await fsp.stat(guard).catch(() => undefined);
    // a guard left by a run killed during its take-over (a window of microseconds) expires
    if (st && Date.now() - st.mtimeMs > 10_000) await fsp.rm(guard, { force: true });
    return false;
  }
  try {
    const cur = readLock(file);
    const same = stale === null ? cur === null : cur && cur.pid === stale.pid && cur.host === stale.host && cur.started === stale.started;
    if (cur !== undefined && !same) return false; // someone else got there first
    await fsp.rm(file, { force: true });
    return createExclusive(file, me);
  } finally {
    await fsp.rm(guard, { force: true });
  }
}
