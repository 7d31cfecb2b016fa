// What generate and renew share: spec -> plan -> lock the folder -> select steps -> run -> manifest -> summary.
import { promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { paths } from '../catalog/certs.js';
import { describeChange, rememberSpec, resolveSpec } from '../spec/remember.js';
import { buildPlan, type Plan } from '../plan/plan.js';
import { opensslBinary, opensslRunner } from '../openssl/exec.js';
import { acquireLock } from '../run/lock.js';
import { prepareOut, STATE_DIR } from '../run/fsutil.js';
import { runSteps, type StepOutcome } from '../run/runner.js';
import type { Selection } from '../inspect/state.js';
import { writeManifest } from '../inspect/manifest.js';
import { paint, progress, stdoutOut, fmtTime } from '../ui/output.js';

export interface RunOptions {
  spec?: string;
  out: string;
  json: boolean;
  openssl?: string;
  jobs?: number;
  signal: AbortSignal;
  version: string;
}

/** KUBEPKI_TRACE=FILE (for scripts/bench.sh and scripts/scale.sh): when each step was dispatched,
 *  when its openssl process ran, which completion dispatched it, and the process's peak RSS.
 *  Times are ms since the process started (performance.now()); node's own CPU time (ms) at the run's
 *  start and end, and at exit. Not part of the CLI contract. */
async function writeTrace(file: string, r: { jobs: number; t0: number; ranAt: number; cpu0: number; cpuRan: number; outcomes: StepOutcome[] }): Promise<void> {
  const ms = (t: number | undefined) => (t === undefined ? null : Math.round(t * 100) / 100);
  const steps = r.outcomes.map((o) => ({
    i: o.index,
    id: o.step.id,
    after: o.timing.after,
    dispatched: ms(o.timing.dispatched),
    spawned: ms(o.timing.spawned),
    exited: ms(o.timing.exited),
    done: ms(o.timing.done),
  }));
  const u = process.resourceUsage();
  const trace = { jobs: r.jobs, runStart: ms(r.t0), runEnd: ms(r.ranAt), end: ms(performance.now()), maxRSSKiB: u.maxRSS, cpuAtRunStartMs: Math.round(r.cpu0), cpuAtRunEndMs: Math.round(r.cpuRan), cpuMs: Math.round((u.userCPUTime + u.systemCPUTime) / 1000), steps };
  await fsp.writeFile(file, JSON.stringify(trace) + '\n');
}

/** this process's CPU time so far, ms (children not counted) */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export async function executeRun(command: string, opts: RunOptions, select: (plan: Plan, out: string) => Promise<Selection>): Promise<void> {
  const out = path.resolve(opts.out);
  const binary = opensslRunner(opensslBinary(opts.openssl));
  const resolved = await resolveSpec(opts.spec, out, opts.out);
  const { spec, source, origin, notes, changes } = resolved;
  const plan = buildPlan(spec);
  prepareOut(out, command === 'generate');
  const lock = await acquireLock(out, `kubepki ${command}`);
  const stateDir = path.join(out, STATE_DIR);
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
  const tmpRoot = path.join(stateDir, 'tmp');
  const o = stdoutOut();
  const c = paint(o);
  const t0 = performance.now();
  const cpu0 = cpuMs();
  try {
    // staging folders of a run that was killed are garbage, never input
    rmSync(tmpRoot, { recursive: true, force: true });
    if (lock.tookOverFrom && !opts.json) o.write(c.yellow(`note: took over a stale lock from pid ${lock.tookOverFrom.pid} (${lock.tookOverFrom.command}), which is gone\n`));
    if (!opts.json) for (const n of notes) o.write(`note: ${n}\n`);
    const sel = await select(plan, out);
    // The spec is remembered before the first output is moved into OUT (a run stopped part-way is
    // completed by the next command without --spec, with the spec it was started with), and only
    // once the openssl preflight has passed (a refused openssl leaves nothing behind): the runner
    // uses no step's result before `ready()` resolves, so ready() includes the write.
    const remember = () => rememberSpec(out, tmpRoot, resolved, opts.version);
    let openssl = binary;
    if (sel.steps.some((s) => s.argv)) {
      let gate: ReturnType<typeof binary.ready> | undefined;
      openssl = { ...binary, ready: () => (gate ??= binary.ready().then(async (v) => (await remember(), v))) };
    } else await remember();
    const jobs = opts.jobs ?? Math.max(1, os.availableParallelism());
    const prog = progress(o, opts.json, sel.steps.length);
    let outcomes: StepOutcome[];
    try {
      outcomes = await runSteps(sel.steps, {
        out,
        tmpRoot,
        backupDir: path.join(stateDir, 'backup', runId),
        openssl,
        jobs,
        now: () => new Date(),
        protectedPaths: new Set(plan.rows.filter((r) => r.kind === 'ca').flatMap((r) => [paths(r).key, paths(r).crt])),
        rowsById: new Map(plan.rows.map((r) => [r.id, r])),
        signal: opts.signal,
        onStart: (s, i) => prog.start(s, i),
        onDone: (x, n, total) => prog.done(x, n, total),
      });
    } finally {
      prog.end();
    }
    const ranAt = performance.now();
    const cpuRan = cpuMs();
    // the certificates just checked are not parsed again for the manifest
    const known = new Map(outcomes.flatMap((x) => (x.cert ? [[x.cert.path, x.cert] as const] : [])));
    const manifestChanged = await writeManifest(plan, out, origin, opts.version, tmpRoot, known);
    if (process.env.KUBEPKI_TRACE) await writeTrace(process.env.KUBEPKI_TRACE, { jobs, t0, ranAt, cpu0, cpuRan, outcomes });
    const ran = outcomes.filter((x) => x.command).length;
    const files = { created: [] as string[], replaced: [] as string[], unchanged: [] as string[] };
    for (const x of outcomes) for (const f of x.step.outputs) if (f.type !== 'serial') files[x.status].push(f.path);
    if (manifestChanged) files[manifestChanged].push('manifest.json');
    const by = (s: string) => sel.decisions.filter((d) => d.status === s);
    const ms = performance.now() - t0;
    // the runner ran the preflight if any step needed openssl (a re-run with nothing to do runs none)
    const version = sel.steps.some((s) => s.argv) ? (await openssl.ready()).version : undefined;
    if (opts.json) {
      o.write(
        JSON.stringify({
          event: 'summary',
          command,
          out,
          spec: source,
          specChanges: changes,
          openssl: version ?? null,
          opensslCommands: ran,
          created: by('create').map((d) => d.unit),
          reissued: by('reissue').map((d) => ({ name: d.unit, reasons: d.reasons })),
          unchanged: by('keep').map((d) => d.unit),
          files,
          ms: Math.round(ms),
        }) + '\n',
      );
      return;
    }
    o.write('\n');
    if (changes.length) {
      o.write(`spec changes against the remembered spec (${path.join(opts.out, '.kubepki/spec.json')}):\n`);
      for (const ch of changes) o.write(`  ${describeChange(ch)}\n`);
    }
    if (ran === 0 && files.created.length === 0 && files.replaced.length === 0) {
      o.write(`${c.green('nothing to do')}: the PKI in ${opts.out} matches ${source}; no openssl command was run, no file changed.\n`);
      return;
    }
    o.write(`${c.bold(`kubepki ${command}`)}: ${sel.steps.length} steps (${ran} openssl commands${version ? `, ${version}` : ''}, ${jobs} job${jobs > 1 ? 's' : ''}) in ${fmtTime(ms)} into ${opts.out}\n`);
    const line = (label: string, ds: typeof sel.decisions) => {
      o.write(`  ${label.padEnd(10)} ${String(ds.length).padStart(3)}${ds.length ? ': ' + ds.map((d) => d.unit).join(', ') : ''}\n`);
      if (label !== 'unchanged') for (const d of ds) for (const r of d.reasons) o.write(c.dim(`               ${d.unit}: ${r}\n`));
    };
    line('created', by('create'));
    line('re-issued', by('reissue'));
    line('unchanged', by('keep'));
    o.write(`  files: ${files.created.length} created, ${files.replaced.length} replaced, ${files.unchanged.length} unchanged; manifest: ${path.join(opts.out, 'manifest.json')}\n`);
  } finally {
    await fsp.rm(tmpRoot, { recursive: true, force: true }).catch(() => undefined);
    await lock.release();
  }
}
