// Printing: colour only on a TTY and never with NO_COLOR; a live progress line on a TTY, plain
// per-step lines in a pipe, NDJSON events with --json. Build data first, print it here.
import { fstatSync, writeSync } from 'node:fs';
import type { StepOutcome } from '../run/runner.js';
import type { Step } from '../plan/plan.js';

export interface Out {
  write(s: string): void;
  isTTY: boolean;
  color: boolean;
}

export function stdoutOut(): Out {
  const isTTY = Boolean(process.stdout.isTTY);
  return { write: isTTY || !stdoutIsFile() ? (s) => process.stdout.write(s) : writeToFd1, isTTY, color: isTTY && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb' };
}

/** Whether standard output is a regular file (a log: `kubepki generate > log`). */
function stdoutIsFile(): boolean {
  try {
    return fstatSync(1).isFile();
  } catch {
    return false;
  }
}

/** To a file, what process.stdout.write does (a synchronous write of every byte), without the
 *  stream around it: ~50 µs of JavaScript a line at the tier kubepki runs at, for a line a step. */
function writeToFd1(s: string): void {
  const b = Buffer.from(s);
  for (let at = 0; at < b.length; ) at += writeSync(1, b, at, b.length - at);
}

export function paint(out: { color: boolean }) {
  const wrap = (code: string) => (s: string) => (out.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { green: wrap('32'), red: wrap('31'), yellow: wrap('33'), dim: wrap('2'), bold: wrap('1') };
}

const fmtTime = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`);

export interface Progress {
  start(step: Step, index: number): void;
  done(o: StepOutcome, n: number, total: number): void;
  end(): void;
}

/** Per-step report. On a TTY the step lines scroll above one live status line. */
export function progress(out: Out, json: boolean, total: number, verbose = true): Progress {
  const c = paint(out);
  const t0 = Date.now();
  const width = String(total).length;
  let live = false;
  let lastDone = 0;
  const running = new Map<number, Step>();
  const clear = () => {
    if (live) out.write('\r\x1b[2K');
    live = false;
  };
  const status = () => {
    if (!out.isTTY || json) return;
    const elapsed = Date.now() - t0;
    const eta = lastDone > 0 ? ((elapsed / lastDone) * (total - lastDone)) : 0;
    const now = [...running.values()].map((s) => s.id).slice(0, 2).join(', ');
    const line = `[${String(lastDone).padStart(width)}/${total}] ${fmtTime(elapsed)} elapsed${lastDone > 0 && lastDone < total ? `, ~${fmtTime(eta)} left` : ''}${now ? `  ${now}` : ''}`;
    clear();
    out.write(c.dim(line.slice(0, (process.stdout.columns || 100) - 1)));
    live = true;
  };
  return {
    start(step, index) {
      running.set(index, step);
      status();
    },
    done(o, n, tot) {
      running.delete(o.index);
      lastDone = n;
      if (json) {
        out.write(
          JSON.stringify({ event: 'step', n, total: tot, id: o.step.id, status: o.status, command: o.command ?? null, outputs: o.step.outputs.map((x) => x.path), checked: o.checked, ms: Math.round(o.ms) }) + '\n',
        );
        return;
      }
      if (verbose && o.status !== 'unchanged') {
        clear();
        const head = `[${String(n).padStart(width)}/${tot}]`;
        const what = o.command ? `$ ${o.command}` : `wrote ${o.step.outputs[0].path}`;
        // one write per step: to a file or a pipe, each write is a system call
        const pad = ' '.repeat(head.length);
        out.write(`${c.bold(head)} ${what}\n` + o.checked.map((l) => `${pad} ${c.green('✓')} ${l}\n`).join(''));
      }
      status();
    },
    end() {
      clear();
    },
  };
}

export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : (cell ?? '').padEnd(widths[i]))).join('   ').trimEnd()).join('\n') + '\n';
}

export { fmtTime };
