// How a run that does not succeed ends: with --json an error is one JSON document on stdout (the
// exit code unchanged, the human text still on stderr); a bug inside a step keeps its stack; a
// stop by SIGTERM ends the process even while it waits for something that never comes.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InternalError, KubepkiError } from '../../src/errors.js';
import type { OpensslRunner } from '../../src/openssl/exec.js';
import { buildPlan } from '../../src/plan/plan.js';
import { loadYaml } from '../../src/render/kubeconfig.js';
import { runSteps } from '../../src/run/runner.js';
import { defaultSpec } from '../../src/spec/load.js';
import { CLI, ROOT, kubepki, type CliResult } from '../helpers/cli.js';
import { SPEC, basePki, expectExit, fakeEnv, writeSpec } from '../helpers/pki.js';
import { defaultRunContext } from '../helpers/run-context.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';

let work: string;
let spec: string;

beforeAll(async () => {
  await loadYaml();
  work = tmpDir('kubepki-errors-');
  spec = writeSpec(work, SPEC);
});
afterAll(() => cleanupTmp());

interface ErrorDoc {
  event: 'error';
  error: { kind: string; message: string; details: string[]; step?: string; command?: string };
  exitCode: number;
}

/** The last line of stdout, which must be the JSON error document. */
function errorDoc(r: CliResult): ErrorDoc {
  const last = r.stdout.trimEnd().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`the last line of stdout is not JSON (exit ${r.code}):\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

describe('--json on an error prints one JSON document on stdout', () => {
  test('bad usage: kind usage, exit 2, the message on stderr too', () => {
    const r = kubepki(['generate', '--json', '--jobs', '0']);
    expectExit(r, 2);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(errorDoc(r)).toEqual({ event: 'error', error: { kind: 'usage', message: '--jobs must be a whole number from 1 to 256, not "0"', details: [], command: 'generate' }, exitCode: 2 });
    expect(r.stderr).toContain('kubepki: error: --jobs must be a whole number from 1 to 256');
  });

  test('an option the parser rejects is reported as JSON too', () => {
    const r = kubepki(['verify', '--json', '--bogus']);
    expectExit(r, 2);
    expect(errorDoc(r).error.kind).toBe('usage');
    expect(errorDoc(r).exitCode).toBe(2);
  });

  test('an invalid spec: kind spec, exit 2, its problems as details', () => {
    const bad = writeSpec(work, 'master: {hostname: k8s-master, ip: 999.1.1.1}\n', 'bad.yaml');
    const r = kubepki(['plan', '--spec', bad, '--json']);
    expectExit(r, 2);
    const d = errorDoc(r);
    expect(d.error.kind).toBe('spec');
    expect(d.error.command).toBe('plan');
    expect(d.exitCode).toBe(2);
    expect(d.error.details.join('\n')).toMatch(/999\.1\.1\.1/);
  });

  test('an unfit environment: kind environment, exit 1', () => {
    const r = kubepki(['verify', '--spec', spec, '--out', path.join(work, 'none'), '--json']);
    expectExit(r, 1);
    const d = errorDoc(r);
    expect(d).toMatchObject({ event: 'error', error: { kind: 'environment', message: `--out ${path.join(work, 'none')} does not exist`, command: 'verify' }, exitCode: 1 });
  });

  test("a failed step: kind step, the step's id and command in the document, after generate's step events", () => {
    const r = kubepki(['generate', '--spec', spec, '--out', path.join(work, 'fail'), '--jobs', '1', '--json'], { env: fakeEnv('fail', { match: 'req -x509 * -out ca.crt' }) });
    expectExit(r, 1);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.slice(0, -1).every((l) => l.event === 'step')).toBe(true);
    const d = errorDoc(r);
    expect(d.exitCode).toBe(1);
    expect(d.error.kind).toBe('step');
    expect(d.error.command).toBe('generate');
    expect(d.error.step).toBe('ca:crt');
    expect(d.error.message).toBe('step ca:crt failed: openssl exited with code 1');
    expect(d.error.details).toContain('command: openssl req -x509 -new -nodes -key ca.key -subj "/CN=k8s-master" -days 5000 -config ca.cnf -extensions v3_ca -out ca.crt');
    expect(d.error.details).toContain('openssl: fake openssl: fails on purpose: req -x509 -new -nodes -key ca.key -subj /CN=k8s-master -days 5000 -config ca.cnf -extensions v3_ca -out ca.crt');
  });

  test('without --json, stdout carries no error document', () => {
    const r = kubepki(['verify', '--spec', spec, '--out', path.join(work, 'none')]);
    expectExit(r, 1);
    expect(r.stdout).toBe('');
  });

  test('verify --json on a PKI with problems prints its report only, exit 1', () => {
    const { out } = basePki(SPEC, 'errors-pki');
    const other = writeSpec(work, SPEC.replace('k8s-node-1', 'k8s-node-9'), 'other.yaml');
    const r = kubepki(['verify', '--spec', other, '--out', out, '--json']);
    expectExit(r, 1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.error).toBeUndefined();
  });
});

describe('an exception inside a step that is not one of kubepki\'s errors', () => {

  test('rejects the run with an InternalError naming the step, which keeps the original and its stack', async () => {
    // a runner whose run() has a bug: a TypeError, thrown where the runner awaits a process
    const buggy: OpensslRunner = {
      binary: 'openssl',
      ready: async () => ({ binary: 'openssl', version: 'OpenSSL 3.0.0', major: 3, minor: 0, patch: 0 }),
      run: function runWithABug(argv) {
        return (argv as unknown as { nope: () => never }).nope();
      },
    };
    const err = await runSteps(buildPlan(defaultSpec()).steps, defaultRunContext(tmpDir('kubepki-bug-'), buggy, 1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InternalError);
    expect(err).not.toBeInstanceOf(KubepkiError);
    const bug = err as InternalError;
    expect(bug.stepId).toBe('ca:key');
    expect(bug.cause).toBeInstanceOf(TypeError);
    expect((bug.cause as Error).stack).toContain('runWithABug');
    expect(bug.message).toMatch(/^step ca:key: TypeError: .*nope is not a function/);
  });

  test('a failed system call inside a step is still a failed step (exit 1), not a bug', async () => {
    const failing: OpensslRunner = {
      binary: 'openssl',
      ready: async () => ({ binary: 'openssl', version: 'OpenSSL 3.0.0', major: 3, minor: 0, patch: 0 }),
      run: async () => {
        readFileSync(path.join(work, 'no-such-file'));
        throw new Error('not reached');
      },
    };
    const err = await runSteps(buildPlan(defaultSpec()).steps, defaultRunContext(tmpDir('kubepki-syscall-'), failing, 1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubepkiError);
    expect((err as Error).message).toMatch(/^step ca:key could not complete: ENOENT: no such file or directory/);
  });
});

describe('a stop by SIGTERM', () => {
  let child: ReturnType<typeof spawn> | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** The write end of the pipe, once kubepki has opened it for reading (until then a writer
   *  that does not wait gets ENXIO): kubepki then waits in a read that nothing will answer. */
  const writerOnceRead = async (fifo: string): Promise<number> => {
    for (;;) {
      try {
        return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };

  test.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s ends the process while it waits for a spec from a pipe that nobody writes, with --json its document', async (sig, code) => {
    const fifo = path.join(tmpDir('kubepki-fifo-'), 'spec.yaml');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const out = path.join(work, `never-${sig}`);
    const c = spawn(process.execPath, [CLI, 'generate', '--spec', fifo, '--out', out, '--json'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
    child = c;
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => c.on('close', (code, signal) => resolve({ code, signal })));
    const writer = await writerOnceRead(fifo);
    c.kill(sig);
    // bounded by the test's timeout: without the stop's own deadline the process waits for ever
    const r = await done;
    closeSync(writer);
    // ended by the signal itself (a shell sees 128 + its number)
    expect([r.code, r.signal]).toEqual([null, sig]);
    expect(stderr).toBe(`kubepki: stopped by ${sig}; nothing unchecked was left in the PKI folder\n`);
    expect(JSON.parse(stdout.trim())).toEqual({ event: 'error', error: { kind: 'signal', message: `stopped by ${sig}`, details: [], command: 'generate' }, exitCode: code });
    expect(existsSync(out)).toBe(false);
  }, 20_000);
});
