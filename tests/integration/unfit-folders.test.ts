// Folders kubepki cannot work in, refused at once with exit 1 and a clear message: a pseudo file
// system of the kernel as --out, a pipe where a file or the lock belongs; and verify on a folder
// that a run is making. Each of these can block a process or loop for ever, so every run here is
// bounded (spawnSync's timeout): a hang fails the test instead of hanging the suite.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, ROOT, type CliResult } from '../helpers/cli.js';
import { SPEC, basePki, expectExit, snapshot } from '../helpers/pki.js';
import { cleanupTmp, copyDir, tmpDir } from '../helpers/tmp.js';

let spec: string;
let base: string;

beforeAll(() => {
  ({ spec, out: base } = basePki(SPEC, 'unfit'));
});
afterAll(() => cleanupTmp());

/** kubepki, killed after 20 s: a run that does not end by itself shows as signal SIGKILL. */
function bounded(args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function mkfifo(file: string): void {
  const r = spawnSync('mkfifo', [file]);
  if (r.status !== 0) throw new Error(`mkfifo ${file} failed: ${r.stderr}`);
}

describe('a pseudo file system as --out', () => {
  test('generate --out under /proc exits 1 naming procfs, and creates nothing', () => {
    const out = `/proc/kubepki-test-${process.pid}/pki`;
    const r = bounded(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toContain(`kubepki: error: --out ${out} is on procfs, a pseudo file system of the kernel, not a disk`);
    expect(r.stderr).toContain('pass a folder on a real file system');
    expect(existsSync(`/proc/kubepki-test-${process.pid}`)).toBe(false);
  });

  test('generate --out /proc itself, and a folder under /sys, are refused the same way', () => {
    const proc = bounded(['generate', '--spec', spec, '--out', '/proc']);
    expectExit(proc, 1);
    expect(proc.stderr).toContain('--out /proc is on procfs');
    const sys = bounded(['generate', '--spec', spec, '--out', '/sys/kernel/kubepki-test']);
    expectExit(sys, 1);
    expect(sys.stderr).toContain('--out /sys/kernel/kubepki-test is on sysfs');
  });

  test('verify --out /proc exits 1 with the same message', () => {
    const r = bounded(['verify', '--spec', spec, '--out', '/proc']);
    expectExit(r, 1);
    expect(r.stderr).toContain('--out /proc is on procfs');
  });

  test('a new --out several folders deep on a real file system is still created, every level 0755', () => {
    const out = path.join(tmpDir('kubepki-deep-'), 'a', 'b', 'pki');
    const r = bounded(['generate', '--spec', spec, '--out', out, '--jobs', '2']);
    expectExit(r, 0);
    for (const d of ['a', 'a/b', 'a/b/pki']) expect([d, spawnSync('stat', ['-c', '%a', path.join(out, '../../..', d)], { encoding: 'utf8' }).stdout.trim()]).toEqual([d, '755']);
  });
});

describe('a pipe in the PKI folder', () => {
  test('verify with a pipe in place of a certificate exits 1 naming it, instead of waiting for a writer', () => {
    const out = copyDir(base);
    rmSync(path.join(out, 'server.crt'));
    mkfifo(path.join(out, 'server.crt'));
    const r = bounded(['verify', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toContain(`server.crt in ${out} is not a regular file (a pipe, a socket or a device)`);
  });

  test('generate with a pipe in place of a kubeconfig exits 1 naming it and changes no file', () => {
    const out = copyDir(base);
    rmSync(path.join(out, 'kubeconfig/admin.kubeconfig'));
    mkfifo(path.join(out, 'kubeconfig/admin.kubeconfig'));
    const before = snapshot(out);
    const r = bounded(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toContain('kubeconfig/admin.kubeconfig in');
    expect(r.stderr).toContain('is not a regular file');
    expect(snapshot(out)).toEqual(before);
  });

  test('generate with a pipe in place of its lock file says the folder is locked, instead of blocking', () => {
    const out = copyDir(base);
    mkdirSync(path.join(out, '.kubepki'), { recursive: true });
    mkfifo(path.join(out, '.kubepki', 'lock'));
    const r = bounded(['generate', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toContain(`${out} is locked by another kubepki run (its lock file ${path.join(out, '.kubepki', 'lock')} is unreadable)`);
  });
});

describe('verify on a folder whose lock is held', () => {
  const writeLock = (out: string, pid: number) => {
    mkdirSync(path.join(out, '.kubepki'), { recursive: true });
    writeFileSync(path.join(out, '.kubepki', 'lock'), JSON.stringify({ pid, host: os.hostname(), command: 'kubepki generate', started: new Date().toISOString() }) + '\n');
  };

  test('a live holder: verify exits 1 saying that a run is in progress, naming it', () => {
    const out = copyDir(base);
    // this test's own process: alive, and started before the lock
    writeLock(out, process.pid);
    const r = bounded(['verify', '--spec', spec, '--out', out]);
    expectExit(r, 1);
    expect(r.stderr).toContain(`kubepki: error: a kubepki run is in progress in ${out} (pid ${process.pid} on ${os.hostname()}, \`kubepki generate\`, since `);
    expect(r.stderr).toContain('what verify would see may be half-made');
    expect(r.stdout).not.toContain('CERTIFICATE');
  });

  test('a stale lock (its process gone) does not stop verify', () => {
    const out = copyDir(base);
    writeLock(out, Number(String(spawnSync('sh', ['-c', 'echo $$']).stdout).trim()));
    const r = bounded(['verify', '--spec', spec, '--out', out]);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^ok: /m);
  });
});
