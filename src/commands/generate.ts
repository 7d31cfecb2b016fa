import { selectForGenerate } from '../inspect/state.js';
import { executeRun, type RunOptions } from './common.js';

export async function generate(opts: RunOptions): Promise<void> {
  await executeRun('generate', opts, (plan, out) => selectForGenerate(plan, out, new Date()));
}
