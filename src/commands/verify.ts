import path from 'node:path';
import os from 'node:os';
import { EnvError, Reported } from '../errors.js';
import { describe as describeLock, runInProgress } from '../run/lock.js';
import { describeChange, resolveSpec } from '../spec/remember.js';
import { buildPlan } from '../plan/plan.js';
import { prepareOut } from '../run/fsutil.js';
import { verifyPki } from '../inspect/verify.js';
import { paint, stdoutOut, table } from '../ui/output.js';

export async function verify(opts: { spec?: string; out: string; json: boolean; warnDays: number }): Promise<number> {
  const out = path.resolve(opts.out);
  const { spec, source, notes, changes } = await resolveSpec(opts.spec, out, opts.out);
  const plan = buildPlan(spec);
  prepareOut(out, false);
  // verify takes no lock (it writes nothing); a folder that a run is making is not judged
  const run = runInProgress(out);
  if (run) {
    throw new EnvError(`a kubepki run is in progress in ${opts.out} (${describeLock(run)}): what verify would see may be half-made`, [
      run.host !== os.hostname() ? `the lock ${path.join(out, '.kubepki', 'lock')} was taken on another host; if that run is gone, remove it` : 'wait for it to finish, then run verify again',
    ]);
  }
  const report = await verifyPki(plan, out, opts.warnDays);
  const o = stdoutOut();
  if (opts.json) {
    o.write(JSON.stringify({ ...report, spec: source, specChanges: changes }, null, 2) + '\n');
  } else {
    const c = paint(o);
    for (const n of notes) o.write(`note: ${n}\n`);
    if (changes.length) {
      o.write(`--spec ${opts.spec} differs from the remembered spec (${path.join(opts.out, '.kubepki/spec.json')}):\n`);
      for (const ch of changes) o.write(`  ${describeChange(ch)}\n`);
    }
    const rows = report.certificates.map((r) => [
      r.name,
      r.subject ?? '-',
      r.notAfter ? r.notAfter.slice(0, 16).replace('T', ' ') + 'Z' : '-',
      r.residualDays === null ? '-' : r.residualDays < 0 ? 'expired' : r.residualDays >= 365 ? `${Math.floor(r.residualDays / 365)}y ${r.residualDays % 365}d` : `${r.residualDays}d`,
      r.signedBy,
      r.status === 'ok' ? c.green('ok') : r.status === 'missing' ? c.red('MISSING') : c.red('PROBLEM'),
    ]);
    o.write(table(rows, ['CERTIFICATE', 'SUBJECT', 'EXPIRES', 'RESIDUAL TIME', 'SIGNED BY', 'STATUS']));
    o.write('\n');
    if (report.notes.length) {
      o.write(c.yellow(`${report.notes.length} note${report.notes.length > 1 ? 's' : ''} (not problems):\n`));
      for (const n of report.notes) o.write(`  - ${n.file} ${n.message} [${n.code}]\n`);
    }
    if (report.ok) o.write(`${c.green('ok')}: ${opts.out} matches ${source}; nothing expires within ${opts.warnDays} days.\n`);
    else {
      o.write(c.red(`${report.problems.length} problem${report.problems.length > 1 ? 's' : ''} in ${opts.out} (checked against ${source}):\n`));
      for (const p of report.problems) o.write(`  - ${p.file} ${p.message} [${p.code}]\n`);
    }
  }
  if (!report.ok) throw new Reported('verification failed');
  return 0;
}
