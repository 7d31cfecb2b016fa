// Runs a plan's steps: independent steps at once, up to `jobs` openssl processes; steps that share
// a file (every -CAcreateserial signing shares the CA's .srl) keep the plan's order. How each
// step runs is in stage.ts (openssl steps) and file-step.ts (files kubepki writes itself).
//
// The scheduler's rules:
// 1. A step is ready when every step it depends on (plan.dependencies) has completed.
// 2. Among ready openssl steps the lowest plan index goes first, so each certificate's key,
//    request and signing follow each other and a signing (next in its CA's serial chain) never
//    waits behind later keys; with jobs > 1, steps with no signing behind them go last (ranks).
// 3. With jobs > 1, a slot is free when its process exits (the outputs are checked beside the
//    next process). A follow-up that only this step holds back and that goes before everything
//    waiting (a key's request, a CA's certificate, the next signing of the serial chain) takes the
//    slot at once, its inputs linked from this step's stage (see Early in stage.ts); it is moved
//    into OUT only after this step.
// 4. With jobs > 1, file steps take no slot: up to MAX_WRITERS run beside the processes as soon as
//    they are ready (after the preflight).
// 5. With jobs = 1 everything runs one at a time, in exactly the plan's order.
// 6. The first failure stops the run: nothing new starts, every started step ends, then it rejects.
import path from 'node:path';
import { EnvError, InternalError, KubepkiError } from '../errors.js';
import { dependencies, type Step } from '../plan/plan.js';
import { runShared, type RunContext, type RunShared, type StepOutcome, type Timing } from './context.js';
import { runFileStep } from './file-step.js';
import { makeDirs } from './fsutil.js';
import { runOpensslStep, type Early } from './stage.js';

export type { RunContext, StepOutcome, StepStatus } from './context.js';

/** file steps at once beside the openssl processes (each holds a few files open) */
const MAX_WRITERS = 8;

/** Rule 2's ranks: 0 for a step with a signing at or behind it, 1 for the others (the
 *  service-account key, whose only follower is its .pub). When the last key to finish is one of
 *  those, no chain of signings is left to run on one core after it. Linear: dependents always
 *  come later in the plan. */
function ranks(steps: Step[], dependents: number[][]): number[] {
  const signs = new Array<boolean>(steps.length).fill(false);
  for (let i = steps.length - 1; i >= 0; i--) {
    signs[i] = steps[i].action === 'sign' || steps[i].action === 'ca-cert' || dependents[i].some((j) => signs[j]);
  }
  return signs.map((x) => (x ? 0 : 1));
}

/** A binary min-heap of step indexes ordered by (rank, index); without ranks, by index. */
class MinHeap {
  private a: number[] = [];
  private less: (x: number, y: number) => boolean;
  constructor(rank?: number[]) {
    this.less = rank ? (x, y) => rank[x] < rank[y] || (rank[x] === rank[y] && x < y) : (x, y) => x < y;
  }
  get size() {
    return this.a.length;
  }
  /** would x be taken before everything in the heap? */
  before(x: number): boolean {
    return this.a.length === 0 || this.less(x, this.a[0]);
  }
  push(v: number) {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

class Scheduler {
  private readonly waiting: number[];
  private readonly dependents: number[][];
  private readonly sequential: boolean;
  private readonly procs: MinHeap;
  private readonly files: MinHeap;
  private readonly outcomes: StepOutcome[];
  private readonly started: boolean[];
  /** per step: resolves when it has completed (true) or failed (false) */
  private readonly settled: Promise<boolean>[];
  private readonly abort = new AbortController();
  private running = 0; // openssl processes (every step when sequential)
  private writing = 0; // file steps beside them
  private inflight = 0; // steps started and not yet settled
  private done = 0;
  private failure: unknown;

  constructor(
    private readonly steps: Step[],
    private readonly ctx: RunContext,
    private readonly run: RunShared,
    private finish: (failure: unknown) => void,
  ) {
    const deps = dependencies(steps);
    this.waiting = deps.map((d) => d.length);
    this.dependents = steps.map(() => []);
    deps.forEach((d, j) => d.forEach((i) => this.dependents[i].push(j)));
    this.sequential = ctx.jobs <= 1;
    this.procs = new MinHeap(this.sequential ? undefined : ranks(steps, this.dependents));
    this.files = this.sequential ? this.procs : new MinHeap();
    this.outcomes = new Array(steps.length);
    this.started = new Array<boolean>(steps.length).fill(false);
    this.settled = new Array(steps.length);
    this.waiting.forEach((w, i) => w === 0 && this.queue(i));
  }

  get results(): StepOutcome[] {
    return this.outcomes;
  }

  go(): void {
    const onOuterAbort = () => this.abort.abort();
    this.ctx.signal?.addEventListener('abort', onOuterAbort);
    const end = this.finish;
    this.finish = (failure) => {
      this.ctx.signal?.removeEventListener('abort', onOuterAbort);
      end(failure);
    };
    this.pump(-1);
    // the preflight (`openssl version`) runs beside the first steps' processes
    this.run.ready().catch(() => undefined);
  }

  private queue(i: number): void {
    if (!this.started[i]) (this.steps[i].argv ? this.procs : this.files).push(i);
  }

  private get stopping(): boolean {
    return this.failure !== undefined || this.abort.signal.aborted;
  }

  /** Rules 2, 4 and 6: fill the free slots, then end the run when nothing is left. */
  private pump(after: number): void {
    while (!this.stopping && this.running < this.ctx.jobs && this.procs.size) this.start(this.procs.pop(), after, true);
    if (!this.sequential) while (!this.stopping && this.writing < MAX_WRITERS && this.files.size) this.start(this.files.pop(), after, false);
    if (this.inflight === 0 && (this.stopping || (this.procs.size === 0 && this.files.size === 0))) {
      this.finish(this.failure ?? (this.ctx.signal?.aborted ? new EnvError('stopped by a signal') : undefined));
    }
  }

  private start(i: number, after: number, slot: boolean, early?: Early): void {
    const step = this.steps[i];
    this.started[i] = true;
    this.inflight++;
    if (slot) this.running++;
    else this.writing++;
    let held = slot;
    const free = () => {
      if (held) this.running--;
      held = false;
    };
    const timing: Timing = { dispatched: performance.now(), done: 0, after };
    this.ctx.onStart?.(step, i);
    // a step that fails before its first await (no stage could be made) ends inside this call:
    // its exit is handled once this start has returned
    let inStart = true;
    const exited = (stage?: string) => (inStart ? queueMicrotask(() => this.onExit(i, stage, free)) : this.onExit(i, stage, free));
    const p = step.argv
      ? runOpensslStep(step, i, this.run, this.abort.signal, timing, exited, early)
      : runFileStep(step, i, this.run, timing).catch((e: unknown) => {
          throw e instanceof KubepkiError || e instanceof InternalError ? e : new InternalError(step.id, e);
        });
    inStart = false;
    p.then(
      (o) => {
        timing.done = performance.now();
        this.inflight--;
        if (!slot) this.writing--;
        this.done++;
        if (!this.failure) this.ctx.onDone?.(o, this.done, this.steps.length);
        this.outcomes[i] = { ...o, checked: [] };
        for (const j of this.dependents[i]) if (--this.waiting[j] === 0) this.queue(j);
        free();
        this.pump(i);
      },
      (e) => {
        this.inflight--;
        if (!slot) this.writing--;
        if (!this.stopping) this.failure = e;
        else if (!this.failure && this.ctx.signal?.aborted) this.failure = new EnvError('stopped by a signal');
        this.abort.abort();
        free();
        this.pump(i);
      },
    );
    // registered after the handlers above: a follow-up started early learns of a failure once
    // the run has recorded it
    this.settled[i] = p.then(
      () => true,
      () => false,
    );
  }

  /** Rule 3: the process of step i has ended; `stage` is set when it succeeded. Sequential runs
   *  free the slot at the step's end instead, so that --jobs 1 is exactly the plan's order. */
  private onExit(i: number, stage: string | undefined, free: () => void): void {
    if (this.sequential) return;
    const next = this.dependents[i].find((j) => this.steps[j].argv && this.waiting[j] === 1 && !this.started[j] && this.procs.before(j));
    // a failed process keeps its slot until its step ends (the run stops)
    if (next !== undefined && !stage) return;
    free();
    if (next !== undefined && !this.stopping) this.start(next, i, true, { stage: stage!, outputs: new Set(this.steps[i].outputs.map((o) => o.path)), done: this.settled[i] });
    else this.pump(i);
  }
}

/** Runs the steps; resolves with their outcomes in plan order, or rejects with the first failure
 *  after every started step has ended (its process gone; staging folders are removed in the
 *  background, and the caller removes what is left of tmpRoot). */
export async function runSteps(steps: Step[], ctx: RunContext): Promise<StepOutcome[]> {
  makeDirs(ctx.out, path.relative(ctx.out, ctx.tmpRoot), 0o700);
  const needsOpenssl = steps.some((s) => s.argv);
  const run = runShared(ctx, needsOpenssl);
  // without openssl there is no preflight to run beside: beforeWrite runs first
  if (!needsOpenssl) await run.ready();
  return new Promise<StepOutcome[]>((resolve, reject) => {
    const s: Scheduler = new Scheduler(steps, ctx, run, (failure) => (failure ? reject(failure) : resolve(s.results)));
    s.go();
  });
}
