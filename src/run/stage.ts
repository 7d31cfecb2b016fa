// An openssl step runs in a private staging folder inside OUT/.kubepki/tmp that holds links to
// the step's inputs, with the step's own argv and relative paths; its outputs are checked there
// and only then renamed into place. A run killed at any moment leaves nothing unchecked in OUT
// (only staging folders, removed by the next run).
//
// The folders and files of staging allocate as few inodes as they can, and free as few: on ext4
// without a journal, every allocation searches past each inode freed in the last half minute (one
// buffer-cache lookup each), so a run that made and removed a folder per step, or freed the
// serial each signing replaced, made every file any step writes search past hundreds of them.
// Hence the pool of folders (StagePool), hard links for inputs, and the serial's spare.
import { chmodSync, closeSync, constants, copyFileSync, ftruncateSync, linkSync, lstatSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { evaluate } from '../check/evaluate.js';
import { bareForm, type Problem } from '../check/rules.js';
import { EnvError, InternalError, isSystemError, KubepkiError, StepError } from '../errors.js';
import type { Step } from '../plan/plan.js';
import { commandLine } from '../render/script.js';
import type { RunContext, RunShared, StepOutcome, StepStatus, Timing } from './context.js';
import { describeWriteError, ensureDir, explainFullDisk, fsyncInPool, inDir, makeDirs, readInSync, readWithMode, sha256 } from './fsutil.js';

export function failedChecks(step: Step, problems: Problem[], command?: string): StepError {
  return new StepError(
    `step ${step.id} wrote ${problems.length === 1 ? 'a file that fails its check' : 'files that fail their checks'}: ${problems.map((p) => `${p.file} ${p.message}`).join('; ')}`,
    step.id,
    command,
    '',
    problems.map((p) => `${p.file}: ${p.code}`),
  );
}

/** The bytes of an OUT-relative file in OUT. */
export function fileReader(out: string) {
  return (rel: string): Buffer => {
    const b = readInSync(out, rel);
    if (!b) throw new EnvError(`${rel} is missing in the PKI folder: removed while kubepki was running?`);
    return b;
  };
}

/** A key cannot be made again: its bytes reach the disk before its name does, so that a power
 *  cut cannot leave an empty key under the real name (certificates can be re-issued). The fsync
 *  runs in the thread pool while the step's checks run. */
async function syncKeys(step: Step, stage: string): Promise<void> {
  for (const o of step.outputs) {
    if (o.type !== 'key') continue;
    const fd = openSync(inDir(stage, o.path), 'r');
    try {
      await fsyncInPool(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** The serial that a signing's rename is about to replace in OUT stays linked in the stage, as the
 *  inode of the next copy (placeSerial). */
export function keepSpare(dest: string, spare: string): void {
  try {
    linkSync(dest, spare);
  } catch (e) {
    // no serial in OUT yet (the first signing), a spare left by a failed step, or a file system
    // without hard links: then the replaced inode is freed, as any rename over a file frees it
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code !== 'ENOENT' && code !== 'EEXIST' && !NO_HARD_LINKS.includes(code)) throw e;
  }
}

/** Moves a step's checked (and, for keys, synced) outputs from its staging folder into OUT
 *  (synchronous: see readInSync). */
function promote(step: Step, stage: string, ctx: RunContext, outDirs: Set<string>): StepStatus {
  let status: StepStatus = 'created';
  for (const o of step.outputs) {
    const dest = inDir(ctx.out, o.path);
    if (lstatSync(dest, { throwIfNoEntry: false })) {
      if (ctx.protectedPaths.has(o.path)) {
        throw new EnvError(`refusing to replace ${o.path}: kubepki never overwrites a CA`, [`(step ${step.id}; this is a bug in kubepki if you see it)`]);
      }
      if (o.type !== 'serial') status = 'replaced';
      if (o.type === 'key') {
        const b = path.join(ctx.backupDir, o.path);
        makeDirs(ctx.out, path.relative(ctx.out, path.dirname(b)), 0o700);
        copyFileSync(dest, b);
        chmodSync(b, 0o600);
      }
    }
    ensureDir(ctx.out, path.dirname(o.path), outDirs);
    if (o.type === 'serial') keepSpare(dest, inDir(stage, o.path) + SPARE);
    renameSync(inDir(stage, o.path), dest);
  }
  return status;
}

/** What link() answers on a file system without hard links (or across two). */
const NO_HARD_LINKS = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK'];

/** A hard link, or `otherwise` on a file system without hard links. An input from OUT is linked
 *  so because a link allocates no inode, where a symlink is a new one (otherwise: a symlink). An
 *  input from a producer's stage is linked so that it keeps its bytes while the producer renames
 *  the file into OUT (otherwise: a copy). The link is the same file, mode and all. */
function linkOr(src: string, dst: string, otherwise: (src: string, dst: string) => void): void {
  try {
    linkSync(src, dst);
  } catch (e) {
    if (!NO_HARD_LINKS.includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    otherwise(src, dst);
  }
}
const symlinkTo = (src: string, dst: string) => {
  lstatSync(src);
  symlinkSync(src, dst);
};

/** A step started at the exit of the process that makes some of its inputs, before that step's
 *  outputs are checked and moved into OUT: those inputs are taken from the producer's staging
 *  folder (hard links; a serial is copied), and this step's own outputs are checked and moved in
 *  only once the producer has completed (`done` resolves false if it failed: then this one stops). */
export interface Early {
  stage: string;
  outputs: Set<string>;
  done: Promise<boolean>;
}

/** The staging folders of a run, each used by one step at a time and then by the next (see the
 *  head of this file). A folder goes back once its step has ended and the names the step used in
 *  it are gone; a folder that cannot be emptied is left for the run's end, which removes tmp/
 *  whole. */
export class StagePool {
  private free: string[] = [];
  constructor(private readonly root: string) {}

  /** per folder: the subfolders made in it (they stay from step to step) */
  private made = new Map<string, Set<string>>();

  take(): string {
    return this.free.pop() ?? mkdtempSync(path.join(this.root, 'stage-'));
  }

  /** The subfolders of `stage` for these OUT-relative folders (0700), each made once. */
  dirs(stage: string, rels: Iterable<string>): void {
    let made = this.made.get(stage);
    if (!made) this.made.set(stage, (made = new Set()));
    for (const d of rels) {
      if (made.has(d)) continue;
      makeDirs(stage, d, 0o700);
      made.add(d);
    }
  }

  give(stage: string, step: Step, promoted: boolean): void {
    // promoted outputs (a serial is also a read) were renamed out of the stage: an unlink of each
    // would only fail, and a failed system call costs node an exception
    const names = promoted ? step.reads.filter((r) => !step.outputs.some((o) => o.path === r)) : [...step.reads, ...step.outputs.map((o) => o.path)];
    for (const r of names) {
      try {
        unlinkSync(inDir(stage, r));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return;
      }
    }
    this.free.push(stage);
  }
}

/** The name beside a staged serial that keeps the inode the last signing in this stage replaced
 *  in OUT. */
export const SPARE = '.spare';

/** openssl rewrites a serial in place, so a signing's stage holds a copy of it. The copy goes into
 *  the inode that the previous signing in the same stage replaced in OUT (kept under SPARE by
 *  promote), so that a chain of signings neither allocates nor frees an inode. Without a serial
 *  in OUT yet, dst is removed (-CAcreateserial makes it, from nothing) and the ENOENT thrown. */
export function placeSerial(src: string, dst: string): void {
  try {
    renameSync(dst + SPARE, dst);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(src);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') rmSync(dst, { force: true });
    throw e;
  }
  // Written over from the start, then cut to its length, never truncated to nothing first: a
  // truncation to zero frees the file's block (on ext4 mounted with discard and no journal, a
  // discard the main thread waits for, ~1 ms here) and makes ext4 flush it again at close.
  const fd = openSync(dst, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    writeSync(fd, bytes, 0, bytes.length, 0);
    ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
}

/** The stage's folders, then every input: a link to the file in OUT, except the serial, which
 *  is copied (openssl rewrites it in place) and may not exist yet; inputs made by an early
 *  start's producer come from its stage. Synchronous, and so is everything up to the spawn: a
 *  follow-up started at its producer's exit links the producer's outputs before the producer
 *  moves them away. */
function makeStage(step: Step, stages: StagePool, ctx: RunContext, command: string, early?: Early): string {
  const stage = stages.take();
  stages.dirs(stage, new Set([...step.reads, ...step.outputs.map((o) => o.path)].map((r) => path.dirname(r)).filter((d) => d !== '.')));
  for (const r of step.reads) {
    const fromProducer = early?.outputs.has(r);
    const src = inDir(fromProducer ? early!.stage : ctx.out, r);
    const dst = inDir(stage, r);
    const isSerial = r.endsWith('.srl');
    try {
      if (isSerial) placeSerial(src, dst);
      else linkOr(src, dst, fromProducer ? copyFileSync : symlinkTo);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (isSerial) continue; // -CAcreateserial makes it
      throw new StepError(`step ${step.id} cannot run: its input ${r} is missing`, step.id, command, '');
    }
  }
  return stage;
}

/** The outputs openssl wrote, read whole from the stage (the checks read these bytes, and they
 *  are what goes into OUT), each given its mode (a chmod only where the mode differs: openssl
 *  writes a key 0600 itself); or the first output that openssl, having exited 0, did not write
 *  (or wrote as something other than a file) or wrote empty. */
function readOutputs(step: Step, stage: string, command: string, stderr: string): Map<string, Buffer> | StepError {
  const got = new Map<string, Buffer>();
  for (const o of step.outputs) {
    let r;
    try {
      r = readWithMode(stage, o.path);
    } catch (e) {
      // what is there is not a file openssl wrote (a folder, a symlink, a FIFO): said as before
      const st = lstatSync(inDir(stage, o.path), { throwIfNoEntry: false });
      if (st?.isFile()) throw e;
    }
    if (!r) return new StepError(`step ${step.id}: openssl exited 0 but did not write ${o.path}`, step.id, command, stderr);
    if (r.bytes.length === 0) return new StepError(`step ${step.id}: openssl wrote an empty ${o.path}`, step.id, command, stderr);
    if (r.mode !== o.mode) chmodSync(inDir(stage, o.path), o.mode);
    got.set(o.path, r.bytes);
  }
  return got;
}

/** `exited` is called once, as soon as the step's openssl process has ended (or could not start),
 *  with the staging folder when the process succeeded and wrote every output: its slot is free
 *  while its outputs are checked and moved in, and a follow-up may start from that folder. */
export async function runOpensslStep(step: Step, index: number, run: RunShared, signal: AbortSignal, timing: Timing, exited: (stage?: string) => void, early?: Early): Promise<StepOutcome> {
  const { ctx } = run;
  const t0 = performance.now();
  let ended = false;
  const end = (stage?: string) => {
    if (!ended) {
      ended = true;
      exited(stage);
    }
  };
  const command = commandLine(step.argv!, 'openssl');
  let stage: string | undefined;
  let promoted = false;
  try {
    stage = makeStage(step, run.stages, ctx, command, early);
    const res = await ctx.openssl!.run(step.argv!, stage, signal);
    // nothing of a step is used before the preflight has passed (a missing openssl is reported
    // as that, not as a failed step)
    const openssl = (await run.ready())!;
    timing.spawned = res.startedAt;
    timing.exited = res.exitedAt;
    const ok = !signal.aborted && !res.failure && res.exitCode === 0;
    const outputs = ok ? readOutputs(step, stage, command, res.stderr) : undefined;
    const missing = outputs instanceof StepError ? outputs : undefined;
    end(ok && !missing ? stage : undefined);
    if (signal.aborted) throw new StepError(`step ${step.id} was stopped`, step.id, command, '');
    if (!ok) throw new StepError(`step ${step.id} failed: openssl ${res.failure ?? `exited with code ${res.exitCode}`}`, step.id, command, res.stderr, step.outputs.map((o) => `${o.path} (${o.type})`));
    if (missing) throw missing;
    // an early start checks and moves in nothing before its producer is in OUT
    if (early && !(await early.done)) throw new StepError(`step ${step.id} was stopped`, step.id, command, '');
    const synced = syncKeys(step, stage);
    // a failed check does not leave its fsync unobserved
    synced.catch(() => undefined);
    // the checks read the step's own outputs as readOutputs read them, everything else from OUT
    const produced = outputs as Map<string, Buffer>;
    const fromOut = fileReader(ctx.out);
    const read = (rel: string) => produced.get(rel) ?? fromOut(rel);
    const r = evaluate(step.checks, { now: ctx.now(), rowsById: ctx.rowsById, read, bare: bareForm(openssl) });
    if (r.problems.length) throw failedChecks(step, r.problems, command);
    await synced;
    const status = promote(step, stage, ctx, run.outDirs);
    promoted = true;
    const files = step.outputs.map((o) => ({ path: o.path, sha256: sha256(produced.get(o.path)!), mode: o.mode }));
    // a certificate's check reads the step's own output: its record is in files
    const cert = r.cert && { path: r.cert.path, sha256: files.find((f) => f.path === r.cert!.path)!.sha256, facts: r.cert.facts };
    return { step, index, status, command, checked: r.lines, cert, files, ms: performance.now() - t0, timing };
  } catch (e) {
    if (e instanceof KubepkiError) throw await explainFullDisk(e, ctx.out);
    // a failed system call is the machine's; anything else is a bug, kept with its stack
    if (!isSystemError(e)) throw new InternalError(step.id, e);
    throw new StepError(`step ${step.id} could not complete: ${describeWriteError(e)}`, step.id, command, '');
  } finally {
    end();
    if (stage) run.stages.give(stage, step, promoted);
  }
}
