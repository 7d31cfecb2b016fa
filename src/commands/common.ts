// What generate and renew share: spec -> plan -> lock the folder -> select steps -> run -> manifest -> summary.
import { promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MANIFEST } from '../catalog/names.js';
import { paths } from '../catalog/certs.js';
import { describeChange, REMEMBERED, rememberSpec, resolveSpec, type ResolvedSpec } from '../spec/remember.js';
import { buildPlan, type Plan } from '../plan/plan.js';
import { launcherCpuMs, opensslBinary, opensslRunner } from '../openssl/exec.js';
import { acquireLock } from '../run/lock.js';
import { prepareOut, STATE_DIR } from '../run/fsutil.js';
import { runSteps, type StepOutcome, type StepStatus } from '../run/runner.js';
import type { Selection } from '../inspect/state.js';
import { writeManifest } from '../inspect/manifest.js';
import { commandLine } from '../render/script.js';
import { paint, progress, stdoutOut, fmtTime, type Out } from '../ui/output.js';

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
  const launchers = launcherCpuMs();
  const trace = { jobs: r.jobs, runStart: ms(r.t0), runEnd: ms(r.ranAt), end: ms(performance.now()), maxRSSKiB: u.maxRSS, cpuAtRunStartMs: Math.round(r.cpu0), cpuAtRunEndMs: Math.round(r.cpuRan), cpuMs: Math.round((u.userCPUTime + u.systemCPUTime) / 1000 + launchers), launcherCpuMs: Math.round(launchers), steps };
  await fsp.writeFile(file, JSON.stringify(trace) + '\n');
}

/** this process's CPU time so far, ms (children not counted) */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** What a run did, for its summary. */
interface RunSummary {
  command: string;
  out: string;
  shownOut: string;
  source: string;
  changes: ResolvedSpec['changes'];
  sel: Selection;
  files: Record<StepStatus, string[]>;
  /** openssl commands run */
  ran: number;
  version?: string;
  jobs: number;
  ms: number;
  /** what an external CA has to sign */
  toSign: ReturnType<typeof toSign>;
}

/** the signings an external CA has to do: the request, where the certificate goes, the command */
const toSign = (sel: Selection) =>
  (sel.external ?? []).map((s) => ({ name: s.unit, csr: s.reads[0], crt: s.outputs[1].path, command: commandLine(s.argv!) }));

function summarize(base: Omit<RunSummary, 'files' | 'ran' | 'toSign'>, outcomes: StepOutcome[], manifestChanged: 'created' | 'replaced' | false): RunSummary {
  const files: RunSummary['files'] = { created: [], replaced: [], unchanged: [] };
  for (const x of outcomes) for (const f of x.step.outputs) if (f.type !== 'serial') files[x.status].push(f.path);
  if (manifestChanged) files[manifestChanged].push(MANIFEST);
  return { ...base, files, ran: outcomes.filter((x) => x.command).length, toSign: toSign(base.sel) };
}

const decided = (r: RunSummary, status: string) => r.sel.decisions.filter((d) => d.status === status);

function writeJsonSummary(o: Out, r: RunSummary): void {
  o.write(
    JSON.stringify({
      event: 'summary',
      command: r.command,
      out: r.out,
      spec: r.source,
      specChanges: r.changes,
      openssl: r.version ?? null,
      opensslCommands: r.ran,
      created: decided(r, 'create').map((d) => d.unit),
      reissued: decided(r, 'reissue').map((d) => ({ name: d.unit, reasons: d.reasons })),
      unchanged: decided(r, 'keep').map((d) => d.unit),
      toSign: r.toSign,
      files: r.files,
      ms: Math.round(r.ms),
    }) + '\n',
  );
}

function writeTextSummary(o: Out, r: RunSummary): void {
  const c = paint(o);
  o.write('\n');
  if (r.changes.length) {
    o.write(`spec changes against the remembered spec (${path.join(r.shownOut, REMEMBERED)}):\n`);
    for (const ch of r.changes) o.write(`  ${describeChange(ch)}\n`);
  }
  if (r.ran === 0 && r.files.created.length === 0 && r.files.replaced.length === 0 && !r.toSign.length) {
    o.write(`${c.green('nothing to do')}: the PKI in ${r.shownOut} matches ${r.source}; no openssl command was run, no file changed.\n`);
    return;
  }
  o.write(`${c.bold(`kubepki ${r.command}`)}: ${r.sel.steps.length} steps (${r.ran} openssl commands${r.version ? `, ${r.version}` : ''}, ${r.jobs} job${r.jobs > 1 ? 's' : ''}) in ${fmtTime(r.ms)} into ${r.shownOut}\n`);
  const line = (label: string, ds: Selection['decisions']) => {
    o.write(`  ${label.padEnd(10)} ${String(ds.length).padStart(3)}${ds.length ? ': ' + ds.map((d) => d.unit).join(', ') : ''}\n`);
    if (label !== 'unchanged') for (const d of ds) for (const x of d.reasons) o.write(c.dim(`               ${d.unit}: ${x}\n`));
  };
  line('created', decided(r, 'create'));
  line('re-issued', decided(r, 'reissue'));
  line('unchanged', decided(r, 'keep'));
  o.write(`  files: ${r.files.created.length} created, ${r.files.replaced.length} replaced, ${r.files.unchanged.length} unchanged; manifest: ${path.join(r.shownOut, MANIFEST)}\n`);
  writeToSign(o, r);
}

/** What the external CA must sign, and how; the kubeconfigs and flag files follow once it has. */
function writeToSign(o: Out, r: RunSummary): void {
  const list = r.toSign;
  if (!list.length) return;
  const c = paint(o);
  o.write(`\n${c.bold(`${list.length} certificate request${list.length > 1 ? 's' : ''} for the external CA`)} (ca.external): sign each with the CA whose certificate is ${r.shownOut}/ca.crt and place the certificate beside its key, e.g. in ${r.shownOut}:\n`);
  for (const x of list) o.write(`  ${x.name}: ${x.command}\n`);
  o.write(`then run kubepki ${r.command === 'renew' ? 'generate' : r.command} again: it checks each certificate (signed by that CA, subject, SANs, usages, matching key) and writes the kubeconfigs and flag files.\n`);
}

export async function executeRun(command: string, opts: RunOptions, select: (plan: Plan, out: string) => Promise<Selection>): Promise<void> {
  const out = path.resolve(opts.out);
  const binary = opensslRunner(opensslBinary(opts.openssl));
  const resolved = await resolveSpec(opts.spec, out, opts.out);
  const plan = buildPlan(resolved.spec);
  prepareOut(out, command === 'generate');
  const lock = await acquireLock(out, `kubepki ${command}`);
  const stateDir = path.join(out, STATE_DIR);
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
  const tmpRoot = path.join(stateDir, 'tmp');
  const o = stdoutOut();
  const t0 = performance.now();
  const cpu0 = cpuMs();
  try {
    // staging folders of a run that was killed are garbage, never input
    rmSync(tmpRoot, { recursive: true, force: true });
    if (!opts.json) {
      if (lock.tookOverFrom) o.write(paint(o).yellow(`note: took over a stale lock from pid ${lock.tookOverFrom.pid} (${lock.tookOverFrom.command}), which is gone\n`));
      for (const n of resolved.notes) o.write(`note: ${n}\n`);
    }
    const sel = await select(plan, out);
    const jobs = opts.jobs ?? Math.max(1, os.availableParallelism());
    const prog = progress(o, opts.json, sel.steps.length);
    let outcomes: StepOutcome[];
    try {
      outcomes = await runSteps(sel.steps, {
        out,
        tmpRoot,
        backupDir: path.join(stateDir, 'backup', runId),
        openssl: binary,
        jobs,
        now: () => new Date(),
        protectedPaths: new Set(plan.rows.filter((r) => r.kind === 'ca').flatMap((r) => [paths(r).key, paths(r).crt])),
        rowsById: new Map(plan.rows.map((r) => [r.id, r])),
        signal: opts.signal,
        // The spec is remembered before the first output is moved into OUT (a run stopped
        // part-way is completed by the next command without --spec, with the spec it was started
        // with), and only once the openssl preflight has passed (a refused openssl leaves nothing
        // behind).
        beforeWrite: () => rememberSpec(out, tmpRoot, resolved, opts.version),
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
    // nor are the files the steps wrote (or compared) read again: in plan order, the last step
    // that wrote a file (the serial of the last signing) is what OUT holds
    const files = new Map(outcomes.flatMap((x) => (x.files ?? []).map((f) => [f.path, f] as const)));
    const manifestChanged = await writeManifest(plan, out, resolved.origin, opts.version, tmpRoot, known, files);
    if (process.env.KUBEPKI_TRACE) await writeTrace(process.env.KUBEPKI_TRACE, { jobs, t0, ranAt, cpu0, cpuRan, outcomes });
    // the runner ran the preflight if any step needed openssl (a re-run with nothing to do runs none)
    const version = sel.steps.some((s) => s.argv) ? (await binary.ready()).version : undefined;
    const summary = summarize({ command, out, shownOut: opts.out, source: resolved.source, changes: resolved.changes, sel, version, jobs, ms: performance.now() - t0 }, outcomes, manifestChanged);
    (opts.json ? writeJsonSummary : writeTextSummary)(o, summary);
  } finally {
    // synchronous: what is left are the few staging folders (a serial's spare inode, empty
    // subfolders); node's promise-based rm takes a round trip through the thread pool per entry,
    // on the run's critical path
    try {
      rmSync(tmpRoot, { recursive: true, force: true });
    } catch {
      // removed at the next run's start
    }
    await lock.release();
  }
}
