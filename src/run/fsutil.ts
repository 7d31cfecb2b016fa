// File-system helpers for a PKI folder: safe reads (no symlinks followed), writes through a
// temporary name, and the checks on --out itself.
import { accessSync, closeSync, constants, fchmodSync, fstatSync, fsync, lstatSync, mkdirSync, openSync, promises as fsp, readFileSync, readSync, realpathSync, renameSync, statfsSync, writeFileSync } from 'node:fs';
import * as crypto from 'node:crypto';
import path from 'node:path';
import { EnvError, type KubepkiError } from '../errors.js';

export const STATE_DIR = '.kubepki';

/** What a failed open of OUT/rel means: missing (undefined), or a clear error. */
function missingOrThrow(e: unknown, out: string, rel: string): undefined {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
  if (code === 'ELOOP') throw new EnvError(`${rel} in ${out} is a symlink; kubepki does not follow symlinks inside a PKI folder`, ['replace it by the real file, or move it away']);
  if (code === 'EISDIR') throw new EnvError(`${rel} in ${out} is a folder where a file belongs`);
  throw new EnvError(`cannot read ${rel} in ${out}: ${(e as Error).message}`);
}

/** Opening never waits (a FIFO or a device in the folder would block open and read for ever:
 *  the synchronous variant, the whole process and its signal handlers with it); what is opened
 *  must then be a regular file. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const notAFile = (out: string, rel: string) => new EnvError(`${rel} in ${out} is not a regular file (a pipe, a socket or a device)`, ['move it away: kubepki reads and writes only regular files in a PKI folder']);

/** Reads OUT/rel without following a symlink at the last component. undefined when missing. */
export async function readIn(out: string, rel: string): Promise<Buffer | undefined> {
  let fh;
  try {
    fh = await fsp.open(path.join(out, rel), READ_FLAGS);
  } catch (e) {
    return missingOrThrow(e, out, rel);
  }
  try {
    if (!(await fh.stat()).isFile()) throw notAFile(out, rel);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** path.join(base, rel) without normalizing the whole string again, for a base that is already
 *  normal (path.resolve's, or a folder joined from one) and a plan's relative path (no ".", ".."
 *  or empty component): then the two are the same string. Anything else goes to path.join. */
export function inDir(base: string, rel: string): string {
  if (!rel || rel[0] === '/' || rel[0] === '.' || rel.includes('/.') || rel.includes('//') || rel.endsWith('/')) return path.join(base, rel);
  return base.endsWith('/') ? base + rel : `${base}/${rel}`;
}

/** readIn without the round trips through the thread pool (four per file). kubepki's small file
 *  operations (checks, staging, promotion, the folder's state) are synchronous for this reason:
 *  while openssl processes hold the CPUs, each trip through the pool waits for a core, and the
 *  next step of a chain waits for it. */
export function readInSync(out: string, rel: string, mayBeMissing = false): Buffer | undefined {
  return readWithMode(out, rel, mayBeMissing)?.bytes;
}

/** readInSync, with the file's permission bits (from the same fstat). `mayBeMissing`: a look
 *  first, which answers "missing" without an exception, for a file that is often not there yet
 *  (a failed open costs node one, ~15 µs here; a look, ~4 µs, which a file that is there pays on
 *  top of its read). */
export function readWithMode(out: string, rel: string, mayBeMissing = false): { bytes: Buffer; mode: number } | undefined {
  const file = inDir(out, rel);
  let fd: number | undefined;
  try {
    if (mayBeMissing && !lstatSync(file, { throwIfNoEntry: false })) return undefined;
    fd = openSync(file, READ_FLAGS);
  } catch (e) {
    return missingOrThrow(e, out, rel);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notAFile(out, rel);
    // the size is known: one buffer, one byte larger, read until the end (a file that grew
    // meanwhile is read whole). A read that returns less than it asked for, once the size fstat
    // gave is in, is at the end: no second read to be told so (a file system that returns short
    // reads before the end, as FUSE may, is read on until a read returns nothing).
    let b = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (;;) {
      const want = b.length - n;
      const r = readSync(fd, b, n, want, null);
      n += r;
      if (r === 0 || (r < want && n >= st.size)) break;
      if (n === b.length) b = Buffer.concat([b, Buffer.allocUnsafe(b.length)]);
    }
    return { bytes: b.subarray(0, n), mode: st.mode & 0o7777 };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The permission bits of OUT/rel (the entry itself, not a symlink's target); undefined when missing. */
export function modeOf(out: string, rel: string): number | undefined {
  try {
    return lstatSync(inDir(out, rel)).mode & 0o777;
  } catch {
    return undefined;
  }
}

/** node's one-shot digest (20.12 and later; `engines` allows 20.5): a third of the CPU of a Hash
 *  object for a file of a few KB */
const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer | string, encoding: 'hex') => string }).hash;
export const sha256 = (b: Buffer | string): string => (oneShot ? oneShot('sha256', b, 'hex') : crypto.createHash('sha256').update(b).digest('hex'));

/** File systems made by the kernel, not stored on a disk (statfs f_type, linux/magic.h): a PKI
 *  cannot live there, and creating folders in them fails in ways (procfs answers ENOENT to mkdir
 *  in a folder that exists) that would otherwise be reported as something else. */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'procfs',
  0x62656572: 'sysfs',
  0x1cd1: 'devpts',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x73636673: 'securityfs',
  0x74726163: 'tracefs',
  0xcafe4a11: 'bpf',
  0x6165676c: 'pstore',
  0xde5e81e4: 'efivarfs',
  0x62656570: 'configfs',
  0x65735543: 'fusectl',
  0xf97cff8c: 'selinuxfs',
  0x43415d53: 'smackfs',
  0x42494e4d: 'binfmt_misc',
  0x19800202: 'mqueue',
  0x6e736673: 'nsfs',
};

/** The nearest folder of an absolute path that exists (the path itself when it does). Bounded by
 *  the path's components. */
function nearestExisting(abs: string): string {
  let cur = abs;
  for (;;) {
    if (lstatSync(cur, { throwIfNoEntry: false })) return cur;
    const up = path.dirname(cur);
    if (up === cur) return cur;
    cur = up;
  }
}

/** The name of the pseudo file system that holds dir (or would hold it), or undefined. */
export function pseudoFileSystem(dir: string): string | undefined {
  try {
    return PSEUDO_FS[statfsSync(nearestExisting(path.resolve(dir))).type];
  } catch {
    return undefined; // statfs is only a guard: the mkdir or open that follows reports real errors
  }
}

/** Creates every missing folder of base/rel, one mkdir per component (never node's recursive
 *  mkdir, which loops for ever on a file system that answers ENOENT for a folder that exists).
 *  A component that appears meanwhile is fine if it is a folder. Inside a PKI folder (`inPki`),
 *  a symlink or a file on the way is an EnvError that names it; elsewhere the raw EEXIST. */
export function makeDirs(base: string, rel: string, mode: number, inPki = false): void {
  let cur = base;
  for (const part of path.normalize(rel).split(path.sep).filter((p) => p && p !== '.')) {
    cur = path.join(cur, part);
    // a look first: most folders exist, and a failed mkdir costs the file system far more
    let st = lstatSync(cur, { throwIfNoEntry: false });
    if (!st) {
      try {
        mkdirSync(cur, { mode });
        continue;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        st = lstatSync(cur);
      }
    }
    if (st.isDirectory()) continue;
    // elsewhere the caller reads the raw error: the mkdir's own
    if (!inPki) mkdirSync(cur, { mode });
    const where = `${path.relative(base, cur)} in ${base}`;
    throw new EnvError(st.isSymbolicLink() ? `${where} is a symlink; kubepki does not write through symlinks` : `${where} is a file where a folder belongs`);
  }
}

/** The folders of an output inside OUT (0755), refusing a symlink or a file on the way. A folder
 *  in `known` is not looked at again (a run's steps write hundreds of files into the same few). */
export function ensureDir(out: string, relDir: string, known?: Set<string>): void {
  if (known?.has(relDir)) return;
  makeDirs(out, relDir, 0o755, true);
  known?.add(relDir);
}

/** --out must be a real folder we can write (created if missing); never a file or a symlink, nor
 *  on a pseudo file system. */
export function prepareOut(out: string, create: boolean): void {
  const pseudo = pseudoFileSystem(out);
  if (pseudo) throw new EnvError(`--out ${out} is on ${pseudo}, a pseudo file system of the kernel, not a disk`, [create ? 'pass a folder on a real file system (it is created if missing)' : 'pass the folder that holds the PKI']);
  let st;
  try {
    st = lstatSync(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new EnvError(`cannot use --out ${out}: ${(e as Error).message}`);
    if (!create) throw new EnvError(`--out ${out} does not exist`, ['run `kubepki generate` first, or pass the folder that holds the PKI with --out']);
    const abs = path.resolve(out);
    const from = nearestExisting(abs);
    try {
      makeDirs(from, path.relative(from, abs), 0o755);
    } catch (e2) {
      const code = (e2 as NodeJS.ErrnoException).code;
      throw new EnvError(`cannot create --out ${out}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' || code === 'EEXIST' ? 'a parent is a file' : code === 'EROFS' ? 'read-only file system' : (e2 as Error).message}`);
    }
    return;
  }
  if (st.isSymbolicLink()) {
    let target = '(a missing target)';
    try {
      target = realpathSync(out);
    } catch {
      // shown as missing
    }
    throw new EnvError(`--out ${out} is a symlink to ${target}`, [`kubepki does not write through symlinks; pass the real folder (--out ${target}) if that is where the PKI belongs`]);
  }
  if (!st.isDirectory()) throw new EnvError(`--out ${out} is a file, not a folder`, ['pass a folder (it is created if missing)']);
  if (create) {
    try {
      accessSync(out, constants.W_OK | constants.X_OK);
    } catch {
      throw new EnvError(`--out ${out} is not writable by this user (uid ${process.getuid?.() ?? '?'})`, ['fix its ownership or mode, or pass another folder']);
    }
  }
}

/** Writes a file durably: data to a temporary name, chmod, fsync, rename over the target. Only
 *  the fsync goes through the thread pool (it waits for the disk); the other calls are quick and
 *  synchronous (see readInSync). */
export async function writeAtomic(file: string, data: string | Buffer, mode: number, tmpDir: string): Promise<void> {
  const tmp = path.join(tmpDir, `${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeFileSync(fd, data);
    fchmodSync(fd, mode);
    await fsyncInPool(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** fsync through the thread pool: it waits for the disk, which the main thread need not. */
export const fsyncInPool = (fd: number): Promise<void> => new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));

export function describeWriteError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    default:
      return (e as Error).message;
  }
}

/** A step's failure whose real cause may be a full disk gets that cause first: openssl does not
 *  always say so (genrsa exits 0 leaving an empty key when its final write fails). */
export async function explainFullDisk<E extends KubepkiError>(e: E, dir: string): Promise<E> {
  try {
    const s = await fsp.statfs(dir);
    const free = s.bavail * s.bsize;
    if ((free < 256 * 1024 || s.ffree === 0) && !/no space left/i.test(e.message)) {
      e.message = `no space left on the device (${Math.floor(free / 1024)} KiB free where ${dir} is): ${e.message}`;
      e.details.push('free some space (or pass another --out) and run the same command again: what was checked is kept, the rest is made');
    }
  } catch {
    /* statfs is only a hint */
  }
  return e;
}
