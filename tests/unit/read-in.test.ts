// readInSync reads a file of a PKI folder whole, in as few system calls as it can: every size
// comes back byte for byte, a missing file (or a file where a folder is expected) is undefined,
// and what is not a regular file is refused without blocking. Plain files in a temporary folder.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readInSync } from '../../src/run/fsutil.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';

afterAll(() => cleanupTmp());

test('files of every size around the edges of a read are read whole', () => {
  const dir = tmpDir('kubepki-read-');
  for (const size of [0, 1, 2, 1703, 4095, 4096, 4097, 65536, 65537, 1 << 20]) {
    const bytes = Buffer.alloc(size, size % 251);
    writeFileSync(path.join(dir, `f${size}`), bytes);
    expect([size, readInSync(dir, `f${size}`)?.equals(bytes)]).toEqual([size, true]);
  }
});

test('missing is undefined; a symlink or a FIFO is refused, without blocking', () => {
  const dir = tmpDir('kubepki-read-');
  writeFileSync(path.join(dir, 'file'), 'x');
  expect(readInSync(dir, 'none')).toBeUndefined();
  expect(readInSync(dir, 'file/below')).toBeUndefined();
  mkdirSync(path.join(dir, 'sub'));
  expect(readInSync(dir, 'sub/none')).toBeUndefined();
  symlinkSync(path.join(dir, 'file'), path.join(dir, 'link'));
  expect(() => readInSync(dir, 'link')).toThrow(/is a symlink/);
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  expect(() => readInSync(dir, 'fifo')).toThrow(/not a regular file/);
});
