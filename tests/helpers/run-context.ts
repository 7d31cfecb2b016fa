// A RunContext for tests that drive the runner directly (with an injected openssl runner) on
// the plan of the embedded default spec.
import path from 'node:path';
import { paths } from '../../src/catalog/certs.js';
import type { OpensslRunner } from '../../src/openssl/exec.js';
import { buildPlan } from '../../src/plan/plan.js';
import type { RunContext } from '../../src/run/runner.js';
import { defaultSpec } from '../../src/spec/load.js';

export function defaultRunContext(out: string, openssl: OpensslRunner, jobs: number): RunContext {
  const plan = buildPlan(defaultSpec());
  return {
    out,
    tmpRoot: path.join(out, '.kubepki', 'tmp'),
    backupDir: path.join(out, '.kubepki', 'backup', 'test'),
    openssl,
    jobs,
    now: () => new Date(),
    protectedPaths: new Set(plan.rows.filter((r) => r.kind === 'ca').flatMap((r) => [paths(r).key, paths(r).crt])),
    rowsById: new Map(plan.rows.map((r) => [r.id, r])),
  };
}
