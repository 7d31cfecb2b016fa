// What a run is given (RunContext) and what it says of each step (StepOutcome).
import type { CertRow } from '../catalog/certs.js';
import type { CertFacts } from '../x509/inspect.js';
import type { Openssl, OpensslRunner } from '../openssl/exec.js';
import type { Step } from '../plan/plan.js';
import { StagePool } from './stage.js';

export type StepStatus = 'created' | 'replaced' | 'unchanged';

export interface StepOutcome {
  step: Step;
  index: number;
  status: StepStatus;
  command?: string;
  /** one line per checked output: what was verified. Given to onDone; the outcomes that
   *  runSteps resolves with no longer carry them (empty), so that a run over a thousand nodes
   *  does not hold every printed line until its end. */
  checked: string[];
  ms: number;
  /** a certificate this step wrote and checked: its sha256 and what the manifest records of it
   *  (so that the manifest need not parse it again) */
  cert?: { path: string; sha256: string; facts: CertFacts };
  /** outputs whose bytes the step's checks read (as they are in OUT now) and their mode: what the
   *  manifest records of them, so that it need not read them again */
  files?: WrittenFile[];
  timing: Timing;
}

export interface WrittenFile {
  path: string;
  sha256: string;
  mode: number;
}

/** performance.now() marks: dispatched, openssl started and exited (openssl steps), done; and
 *  `after`: the step whose completion, or whose process's exit, dispatched this one (-1: the
 *  run's start), so that the chain of steps that decided the run's end can be followed back
 *  (scripts/bench.sh does). */
export interface Timing {
  dispatched: number;
  spawned?: number;
  exited?: number;
  done: number;
  after: number;
}

export interface RunContext {
  out: string;
  /** OUT/.kubepki/tmp: staging folders live here (same file system as OUT) */
  tmpRoot: string;
  /** OUT/.kubepki/backup/<run>: keys replaced by this run are kept here */
  backupDir: string;
  /** needed when a step runs openssl */
  openssl?: OpensslRunner;
  jobs: number;
  now: () => Date;
  /** CA files: never replaced, whatever a step says */
  protectedPaths: Set<string>;
  rowsById: Map<string, CertRow>;
  signal?: AbortSignal;
  /** runs once before the first output is moved into OUT, and (in a run that needs openssl)
   *  only once the preflight has passed */
  beforeWrite?: () => Promise<void>;
  onStart?: (step: Step, index: number) => void;
  onDone?: (o: StepOutcome, done: number, total: number) => void;
}

/** What every step of one run shares: the context, and the gate that nothing is used or
 *  written before (the openssl preflight, then beforeWrite), run once. */
export interface RunShared {
  ctx: RunContext;
  ready: () => Promise<Openssl | undefined>;
  stages: StagePool;
  /** folders of OUT this run has made or found to be real folders (ensureDir looks at each once) */
  outDirs: Set<string>;
}

export function runShared(ctx: RunContext, needsOpenssl: boolean): RunShared {
  let gate: Promise<Openssl | undefined> | undefined;
  const ready = () =>
    (gate ??= (async () => {
      const v = needsOpenssl ? await ctx.openssl!.ready() : undefined;
      await ctx.beforeWrite?.();
      return v;
    })());
  return { ctx, ready, stages: new StagePool(ctx.tmpRoot), outDirs: new Set() };
}
