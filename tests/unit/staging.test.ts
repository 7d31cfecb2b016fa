// Staging folders are reused from step to step, and a chain of signings moves the serial through
// two inodes per folder instead of allocating and freeing one per signing; on plain files in a
// temporary folder (no openssl).
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Step } from '../../src/plan/plan.js';
import { keepSpare, placeSerial, SPARE, StagePool } from '../../src/run/stage.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';

afterAll(() => cleanupTmp());

const signing = (csr: string, crt: string) =>
  ({ reads: ['ca.crt', 'ca.key', 'ca.srl', csr], outputs: [{ path: crt, type: 'cert', mode: 0o644 }, { path: 'ca.srl', type: 'serial', mode: 0o644 }] }) as unknown as Step;

describe('StagePool', () => {
  test('gives the same folder back once its step has ended, without the names the step used', () => {
    const root = tmpDir('kubepki-stages-');
    const pool = new StagePool(root);
    const a = pool.take();
    const b = pool.take();
    expect(a).not.toBe(b);
    mkdirSync(path.join(a, 'clients'));
    for (const f of ['ca.crt', 'ca.key', 'ca.srl', 'clients/admin.csr', 'clients/admin.crt', 'other']) writeFileSync(path.join(a, f), f);
    pool.give(a, signing('clients/admin.csr', 'clients/admin.crt'), false);
    for (const f of ['ca.crt', 'ca.key', 'ca.srl', 'clients/admin.csr', 'clients/admin.crt']) expect([f, existsSync(path.join(a, f))]).toEqual([f, false]);
    // a folder of its own making stays: the next step of the same shape needs it again
    expect(statSync(path.join(a, 'clients')).isDirectory()).toBe(true);
    expect(pool.take()).toBe(a);
    expect(pool.take()).not.toBe(b);
  });

  test('after a promotion only the inputs are unlinked: the outputs (the serial among them) were renamed away', () => {
    const root = tmpDir('kubepki-stages-');
    const pool = new StagePool(root);
    const a = pool.take();
    mkdirSync(path.join(a, 'clients'));
    // what a promoted signing leaves: its inputs, and the serial's spare; a file at an output's
    // name stands for "not tried": a promoted output is gone, and unlinking it could only fail
    for (const f of ['ca.crt', 'ca.key', 'clients/admin.csr', 'clients/admin.crt', 'ca.srl' + SPARE]) writeFileSync(path.join(a, f), f);
    pool.give(a, signing('clients/admin.csr', 'clients/admin.crt'), true);
    for (const f of ['ca.crt', 'ca.key', 'clients/admin.csr']) expect([f, existsSync(path.join(a, f))]).toEqual([f, false]);
    expect(['clients/admin.crt', 'ca.srl' + SPARE].map((f) => existsSync(path.join(a, f)))).toEqual([true, true]);
    expect(pool.take()).toBe(a);
  });

  test('a name the step left that cannot be removed keeps the folder out of the pool', () => {
    const root = tmpDir('kubepki-stages-');
    const pool = new StagePool(root);
    const a = pool.take();
    // a folder where the step's output belongs: unlink fails with EISDIR or EPERM
    mkdirSync(path.join(a, 'ca.crt'));
    pool.give(a, signing('x.csr', 'x.crt'), false);
    expect(pool.take()).not.toBe(a);
  });
});

describe('the serial of a chain of signings', () => {
  test('goes into the inode the previous signing in the same stage replaced in OUT', () => {
    const out = tmpDir('kubepki-serial-');
    const stage = path.join(out, 'stage');
    mkdirSync(stage);
    const srl = path.join(out, 'ca.srl');
    const staged = path.join(stage, 'ca.srl');
    writeFileSync(srl, '01\n');
    // first signing in this stage: a copy (a new inode), openssl rewrites it, promote
    placeSerial(srl, staged);
    expect(readFileSync(staged, 'utf8')).toBe('01\n');
    writeFileSync(staged, '02\n'); // openssl's rewrite in place
    const replaced = statSync(srl).ino;
    keepSpare(srl, staged + SPARE);
    renameSync(staged, srl);
    expect(readFileSync(srl, 'utf8')).toBe('02\n');
    // the serial it replaced is still linked, beside the stage's name
    expect(statSync(staged + SPARE).ino).toBe(replaced);
    // the next signing in this stage copies the current serial into that same inode
    placeSerial(srl, staged);
    expect(statSync(staged).ino).toBe(replaced);
    expect(readFileSync(staged, 'utf8')).toBe('02\n');
    expect(existsSync(staged + SPARE)).toBe(false);
    // and OUT's serial is untouched by the copy
    writeFileSync(staged, '03\n');
    expect(readFileSync(srl, 'utf8')).toBe('02\n');
  });

  test('a serial not in OUT yet is reported as missing, for -CAcreateserial to make', () => {
    const out = tmpDir('kubepki-serial-');
    const stage = path.join(out, 'stage');
    mkdirSync(stage);
    writeFileSync(path.join(stage, 'ca.srl' + SPARE), 'FF\n');
    expect(() => placeSerial(path.join(out, 'ca.srl'), path.join(stage, 'ca.srl'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  test('the first signing of a CA has no serial to keep', () => {
    const out = tmpDir('kubepki-serial-');
    expect(() => keepSpare(path.join(out, 'ca.srl'), path.join(out, 'ca.srl' + SPARE))).not.toThrow();
    expect(existsSync(path.join(out, 'ca.srl' + SPARE))).toBe(false);
    // a spare already there (a stage reused after a failed step) is left as it is
    writeFileSync(path.join(out, 'ca.srl'), '05\n');
    writeFileSync(path.join(out, 'ca.srl' + SPARE), '04\n');
    keepSpare(path.join(out, 'ca.srl'), path.join(out, 'ca.srl' + SPARE));
    expect(readFileSync(path.join(out, 'ca.srl' + SPARE), 'utf8')).toBe('04\n');
  });
});
