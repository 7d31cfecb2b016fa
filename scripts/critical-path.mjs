#!/usr/bin/env node
// kubepki's own overhead in one run, from the trace that KUBEPKI_TRACE=FILE makes it write:
// its wall time minus the openssl processes on its critical path.
//
//   node scripts/critical-path.mjs TRACE.json WALL_MS     -> one line of JSON
//
// The critical path is followed backwards from the step that finished last: every step records
// which step's end dispatched it (`after`: its completion, or the exit of its openssl process,
// which frees a slot; -1 = the start of the run), so the chain covers the run without a gap,
// from the first dispatch to the last completion. What is not openssl on
// that chain (node's start, loading the spec, staging, checks, renames, waiting for a free slot
// while kubepki itself works, manifest, exit) is kubepki's overhead. openssl time is measured from
// the return of spawn() to the process's exit: node's fork and its wait for exec (~3 ms a process
// here, more than a shell's fork) count as kubepki's overhead, not as openssl's.
import { readFileSync } from 'node:fs';

const [file, wallArg] = process.argv.slice(2);
if (!file || !wallArg) {
  console.error('usage: critical-path.mjs TRACE.json WALL_MS');
  process.exit(2);
}
const t = JSON.parse(readFileSync(file, 'utf8'));
const wall = Number(wallArg);
const byIndex = new Map(t.steps.map((s) => [s.i, s]));
let cur = t.steps.reduce((a, b) => (b.done > a.done ? b : a), t.steps[0]);
let openssl = 0;
let onPath = 0;
let procs = 0;
while (cur) {
  onPath++;
  if (cur.spawned !== null && cur.exited !== null) {
    openssl += cur.exited - cur.spawned;
    procs++;
  }
  cur = cur.after >= 0 ? byIndex.get(cur.after) : undefined;
}
const overhead = wall - openssl;
console.log(
  JSON.stringify({
    wallMs: Math.round(wall),
    opensslOnPathMs: Math.round(openssl),
    overheadMs: Math.round(overhead),
    overheadPct: Math.round((overhead / wall) * 1000) / 10,
    stepsOnPath: onPath,
    opensslOnPath: procs,
    steps: t.steps.length,
    untilFirstStepMs: Math.round(t.runStart),
    afterLastStepMs: Math.round(wall - t.runEnd),
    maxRSSKiB: t.maxRSSKiB,
    cpuMs: t.cpuMs,
  }),
);
