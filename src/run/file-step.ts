// A step that runs no process: a config, a kubeconfig or a flag file that kubepki writes itself.
// It compares and skips: a file that already holds its text (and mode) is left alone.
import path from 'node:path';
import { evaluate } from '../check/evaluate.js';
import { isSystemError, KubepkiError, StepError } from '../errors.js';
import type { Step } from '../plan/plan.js';
import { fillKubeconfig, renderKubeconfig, withYaml } from '../render/kubeconfig.js';
import type { RunShared, StepOutcome, StepStatus, Timing } from './context.js';
import { describeWriteError, ensureDir, inDir, modeOf, readInSync, sha256, writeAtomic } from './fsutil.js';
import { failedChecks, fileReader } from './stage.js';

export async function runFileStep(step: Step, index: number, run: RunShared, timing: Timing): Promise<StepOutcome> {
  const { ctx } = run;
  // nothing is written before the preflight (in a run that needs openssl) and beforeWrite
  await run.ready();
  const t0 = performance.now();
  const o = step.outputs[0];
  const read = fileReader(ctx.out);
  let text: string;
  const embedded = new Map<string, Buffer>(); // file -> the bytes a kubeconfig embeds
  if (step.kubeconfig) {
    await withYaml([step.kubeconfig]);
    const t = renderKubeconfig(step.kubeconfig)!;
    for (const f of t.embeds.values()) embedded.set(f, read(f));
    text = fillKubeconfig(t, (rel) => embedded.get(rel)!);
  } else text = step.content!;
  const before = readInSync(ctx.out, o.path, true);
  const bytes = Buffer.from(text);
  let status: StepStatus = 'unchanged';
  if (!before || !before.equals(bytes) || modeOf(ctx.out, o.path) !== o.mode) {
    try {
      ensureDir(ctx.out, path.dirname(o.path), run.outDirs);
      await writeAtomic(inDir(ctx.out, o.path), bytes, o.mode, ctx.tmpRoot);
    } catch (e) {
      if (e instanceof KubepkiError || !isSystemError(e)) throw e;
      throw new StepError(`cannot write ${o.path}: ${describeWriteError(e)}`, step.id, undefined, '');
    }
    status = before ? 'replaced' : 'created';
  }
  // the manifest's record of the file: the bytes it holds (compared, or written and checked below)
  const files = [{ path: o.path, sha256: sha256(bytes), mode: o.mode }];
  if (status === 'unchanged') return { step, index, status, checked: [`${o.path}: unchanged`], files, ms: performance.now() - t0, timing };
  const r = evaluate(step.checks, { now: ctx.now(), rowsById: ctx.rowsById, read, written: { text, embedded } });
  if (r.problems.length) throw failedChecks(step, r.problems);
  return { step, index, status, checked: r.lines, files, ms: performance.now() - t0, timing };
}
