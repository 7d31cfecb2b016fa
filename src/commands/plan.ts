import { loadSpec } from '../spec/read.js';
import { buildPlan } from '../plan/plan.js';
import { withYaml } from '../render/kubeconfig.js';
import { renderScript } from '../render/script.js';

export async function plan(opts: { spec?: string; json: boolean; version: string }): Promise<void> {
  const { spec, source } = await loadSpec(opts.spec);
  const p = buildPlan(spec);
  if (opts.json) {
    const steps = p.steps.map((s) => ({
      id: s.id,
      action: s.action,
      argv: s.argv ? ['openssl', ...s.argv] : null,
      reads: s.reads,
      outputs: s.outputs.map((o) => ({ ...o, mode: o.mode.toString(8).padStart(4, '0') })),
      checks: s.checks,
    }));
    process.stdout.write(JSON.stringify({ spec: source, steps }, null, 2) + '\n');
    return;
  }
  // the YAML library only if a kubeconfig has a value that needs quoting
  await withYaml(p.steps.flatMap((s) => (s.kubeconfig ? [s.kubeconfig] : [])));
  process.stdout.write(renderScript(p, source, opts.version));
}
