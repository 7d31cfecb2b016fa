/**
 * The runner's early start, observed where it happens: a follow-up (here the CA's
 * certificate, `req -x509 … -key ca.key`) is started as soon as the process that writes its input
 * has exited, before that input is checked and moved into OUT.
 *
 * The runner is driven directly with an injected openssl runner (STYLE: inject the runner, do not
 * mock modules). It runs the real openssl and records every call when it is made, so that "the
 * follow-up had started" does not depend on how fast a wrapper script could write a log before
 * the run stopped it. To provoke the failure it asks for a 1024-bit `ca.key`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { opensslRunner, type OpensslRunner } from '../../src/openssl/exec.js';
import { buildPlan } from '../../src/plan/plan.js';
import { loadYaml } from '../../src/render/kubeconfig.js';
import { runSteps, type StepOutcome } from '../../src/run/runner.js';
import { defaultSpec } from '../../src/spec/load.js';
import { defaultRunContext } from '../helpers/run-context.js';
import { cleanupTmp, tmpDir } from '../helpers/tmp.js';

const CA_CERT = 'req -x509 -new -nodes -key ca.key -subj /CN=k8s-master -days 5000 -config ca.cnf -extensions v3_ca -out ca.crt';

beforeAll(loadYaml);
afterAll(() => cleanupTmp());

/** The real openssl, every call recorded as it is made; `weakCa` turns the CA's genrsa into a
 *  1024-bit one. The CA's certificate also reads ca.cnf, which a file step writes once the preflight
 *  has passed: a 1024-bit genrsa can end before that, and then nothing is left for an early start.
 *  So the weak genrsa is reported as ended only once `cnfDone` has resolved (the config step has
 *  completed), as a 2048-bit one would be. */
function recording(weakCa: boolean, cnfDone?: Promise<void>): { runner: OpensslRunner; calls: string[] } {
  const real = opensslRunner('openssl');
  const calls: string[] = [];
  const runner: OpensslRunner = {
    binary: real.binary,
    ready: real.ready,
    run: async (argv, cwd, signal) => {
      calls.push(argv.join(' '));
      const caKey = argv[0] === 'genrsa' && argv.includes('ca.key');
      const weak = weakCa && caKey;
      const r = await real.run(weak ? ['genrsa', '-out', 'ca.key', '1024'] : argv, cwd, signal);
      // the CA's key exits only once ca.cnf is written, so that the CA certificate waits for
      // nothing else at that moment (however slow the machine's preflight is)
      if (caKey) await cnfDone;
      return r;
    },
  };
  return { runner, calls };
}


test('with --jobs 2 the CA certificate is dispatched at the exit of genrsa, before ca.key has been checked', async () => {
  const out = tmpDir('kubepki-early-');
  let cnfWritten!: () => void;
  const cnfDone = new Promise<void>((ok) => (cnfWritten = ok));
  const { runner } = recording(false, cnfDone);
  const steps = buildPlan(defaultSpec()).steps;
  const outcomes = await runSteps(steps, { ...defaultRunContext(out, runner, 2), onDone: (o: StepOutcome) => o.step.id === 'config:ca.cnf' && cnfWritten() });
  const key = outcomes.find((o) => o.step.id === 'ca:key')!;
  const crt = outcomes.find((o) => o.step.id === 'ca:crt')!;
  expect(crt.timing.after).toBe(key.index);
  expect(crt.timing.dispatched).toBeLessThan(key.timing.done);
  expect(crt.timing.dispatched).toBeGreaterThanOrEqual(key.timing.exited!);
  expect(existsSync(path.join(out, 'ca.crt'))).toBe(true);
});

test('a follow-up started that way is stopped when its input then fails its check, and nothing of either is kept', async () => {
  const out = tmpDir('kubepki-early-weak-');
  let cnfWritten!: () => void;
  const cnfDone = new Promise<void>((ok) => (cnfWritten = ok));
  const { runner, calls } = recording(true, cnfDone);
  const steps = buildPlan(defaultSpec()).steps;
  const ctx = { ...defaultRunContext(out, runner, 2), onDone: (o: StepOutcome) => o.step.id === 'config:ca.cnf' && cnfWritten() };
  await expect(runSteps(steps, ctx)).rejects.toThrow(/step ca:key wrote a file that fails its check: ca\.key is RSA 1024/);
  expect(calls).toContain(CA_CERT);
  for (const f of ['ca.key', 'ca.crt', 'ca.srl']) expect([f, existsSync(path.join(out, f))]).toEqual([f, false]);
});
