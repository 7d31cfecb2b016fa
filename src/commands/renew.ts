import { UsageError } from '../errors.js';
import { selectForRenew } from '../inspect/state.js';
import { executeRun, type RunOptions } from './common.js';

export async function renew(opts: RunOptions & { names: string[]; all: boolean; rekey: boolean; days?: number }): Promise<void> {
  if (!opts.all && opts.names.length === 0) throw new UsageError('renew needs certificate names or --all', 'e.g. kubepki renew admin kube-proxy, or kubepki renew --all (see kubepki verify for the names)');
  if (opts.all && opts.names.length) throw new UsageError('give certificate names or --all, not both');
  await executeRun('renew', opts, (plan, out) =>
    selectForRenew(plan, out, opts.all ? plan.rows.filter((r) => r.kind === 'leaf').map((r) => r.id) : opts.names, { rekey: opts.rekey, days: opts.days }),
  );
}
