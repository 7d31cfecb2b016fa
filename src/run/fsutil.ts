// File-system helpers for a PKI folder: safe reads (no symlinks followed), writes through a
// temporary name, and the checks on --out itself.
import { accessSync, closeSync, constants, lstatSync, mkdirSync, openSync, promises as fsp, readFileSync, realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';
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

/** Reads OUT/rel without following a symlink at the last component. undefined when missing. */
export async function readIn(out: string, rel: string): Promise<Buffer | undefined> {
  let fh;
  try {
    fh = await fsp.open(path.join(out, rel), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    return missingOrThrow(e, out, rel);
  }
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** readIn without the round trips through the thread pool (four per file): for the runner's
 *  checks, a few small files per step, read while openssl processes hold the CPUs. */
export function readInSync(out: string, rel: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path.join(out, rel), constants.O_RDONLY | constants.O_NOFOLLOW);
    return readFileSync(fd);
  } catch (e) {
    return missingOrThrow(e, out, rel);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The permission bits of OUT/rel (the entry itself, not a symlink's target); undefined when missing. */
export function modeOf(out: string, rel: string): number | undefined {
  try {
    return lstatSync(path.join(out, rel)).mode & 0o777;
  } catch {
    return undefined;
  }
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** --out must be a real folder we can write (created if missing); never a file or a symlink.
 *  Synchronous calls: a few tiny ones before the first openssl process can start. */
export function prepareOut(out: string, create: boolean): void {
  let st;
  try {
    st = lstatSync(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new EnvError(`cannot use --out ${out}: ${(e as Error).message}`);
    if (!create) throw new EnvError(`--out ${out} does not exist`, ['run `kubepki generate` first, or pass the folder that holds the PKI with --out']);
    try {
      mkdirSync(out, { recursive: true, mode: 0o755 });
    } catch (e2) {
      const code = (e2 as NodeJS.ErrnoException).code;
      throw new EnvError(`cannot create --out ${out}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a parent is a file' : code === 'EROFS' ? 'read-only file system' : (e2 as Error).message}`);
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

/** Creates OUT/relDir folder by folder (0755), refusing a symlink or a file on the way. Synchronous:
 *  a few tiny calls, made by the runner between openssl processes. */
export function ensureDir(out: string, relDir: string): void {
  if (!relDir || relDir === '.') return;
  let cur = out;
  for (const part of relDir.split('/')) {
    cur = path.join(cur, part);
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (!st) {
      try {
        mkdirSync(cur, { mode: 0o755 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    } else if (st.isSymbolicLink()) throw new EnvError(`${path.relative(out, cur)} in ${out} is a symlink; kubepki does not write through symlinks`);
    else if (!st.isDirectory()) throw new EnvError(`${path.relative(out, cur)} in ${out} is a file where a folder belongs`);
  }
}

/** Writes a file durably: data to a temporary name, fsync, chmod, rename over the target. */
export async function writeAtomic(file: string, data: string | Buffer, mode: number, tmpDir: string): Promise<void> {
  const tmp = path.join(tmpDir, `${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
}

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
