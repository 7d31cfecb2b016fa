#!/usr/bin/env node
// What the machine allows on the default cluster (W1), whatever the tool: a simulation of the two
// schedules with this machine's own openssl durations and no overhead at all (issue 6).
//
//   node scripts/schedule-sim.mjs [SAMPLES_FILE]      (default: measure 40 `openssl genrsa 2048`)
//
// Key generation dominates and its duration is random (a prime search): the samples are wall
// times of `openssl genrsa 2048` run one at a time here. The other commands take their measured
// means (MS below; override with CSR_MS, SIGN_MS). CPUs are shared fairly when more processes
// than CPUs run.
//   kubepki  the default plan's steps (8 keys: the CA, apiserver, 4 clients, 1 kubelet and the
//            service-account key), every signing after the previous one (ca.srl), up to CPUs
//            processes, ready steps in the runner's order (plan order, the service-account key
//            last), plus START ms before the first process and STEP_IN/STEP_OUT ms of kubepki
//            work before and after each process (default 0: the limit).
//   par      baseline-par.sh --seq-sign: 7 jobs (key + request; the CA: key + certificate) over
//            the CPUs, then the 6 signings one after another.
// Prints the median and mean of TRIALS (2000) simulated runs of each, and their ratio.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = (k, d) => Number(process.env[k] ?? d);
const CPUS = env('CPUS', os.availableParallelism());
const TRIALS = env('TRIALS', 2000);
const MS = { csr: env('CSR_MS', 8), sign: env('SIGN_MS', 45), caCert: 15, pubout: 8 };
const START = env('START', 0), STEP_IN = env('STEP_IN', 0), STEP_OUT = env('STEP_OUT', 0);

function measure(n) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-sim-'));
  try {
    return Array.from({ length: n }, () => {
      const t = performance.now();
      execFileSync('openssl', ['genrsa', '-out', path.join(dir, 'k.pem'), '2048'], { stdio: 'ignore' });
      return performance.now() - t;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const samples = process.argv[2] ? readFileSync(process.argv[2], 'utf8').trim().split(/\s+/).map(Number) : measure(40);
const key = () => samples[Math.floor(Math.random() * samples.length)];

/** processes with fair sharing of CPUS; returns when the last job ends. jobs: {ms, deps, rank} */
function run(jobs, limit, start, stepIn, stepOut) {
  const waiting = jobs.map((j) => j.deps.length);
  const dependents = jobs.map(() => []);
  jobs.forEach((j, i) => j.deps.forEach((d) => dependents[d].push(i)));
  const ready = jobs.map((_, i) => i).filter((i) => waiting[i] === 0);
  const running = []; // {i, left}
  const timers = []; // [at, fn]
  let t = start;
  let slots = 0;
  const pump = () => {
    ready.sort((a, b) => jobs[a].rank - jobs[b].rank || a - b);
    while (slots < limit && ready.length) {
      const i = ready.shift();
      slots++;
      timers.push([t + stepIn, () => running.push({ i, left: jobs[i].ms })]);
    }
  };
  pump();
  while (running.length || timers.length) {
    const share = Math.min(1, CPUS / Math.max(1, running.length));
    let next = Infinity;
    let k = -1;
    running.forEach((r, idx) => {
      if (t + r.left / share < next) [next, k] = [t + r.left / share, idx];
    });
    timers.sort((a, b) => a[0] - b[0]);
    const tt = timers.length ? timers[0][0] : Infinity;
    const at = Math.min(next, tt);
    for (const r of running) r.left -= (at - t) * share;
    t = at;
    if (tt <= next) timers.shift()[1]();
    else {
      const { i } = running.splice(k, 1)[0];
      slots--;
      pump();
      timers.push([
        t + stepOut,
        () => {
          for (const d of dependents[i]) if (--waiting[d] === 0) ready.push(d);
          pump();
        },
      ]);
    }
  }
  return t;
}

function kubepki() {
  const jobs = [];
  const add = (ms, deps, rank = 0) => jobs.push({ ms, deps, rank }) - 1;
  const caKey = add(key(), []);
  const caCrt = add(MS.caCert, [caKey]);
  let prevSign = caCrt;
  for (const name of ['apiserver', 'kcm', 'scheduler', 'proxy', 'admin', 'kubelet']) {
    const k = add(key(), []);
    const csr = add(MS.csr, [k]);
    prevSign = add(MS.sign, [csr, caCrt, prevSign]);
    if (name === 'apiserver') add(MS.pubout, [add(key(), [], 1)], 1); // service-account key: last among ready steps
  }
  return run(jobs, CPUS, START, STEP_IN, STEP_OUT);
}

function par() {
  const jobs = [{ ms: key() + MS.caCert, deps: [], rank: 0 }];
  for (let i = 0; i < 6; i++) jobs.push({ ms: key() + MS.csr, deps: [], rank: 0 });
  return run(jobs, CPUS, 0, 0, 0) + 6 * MS.sign;
}

const stats = (f) => {
  const xs = Array.from({ length: TRIALS }, f).sort((a, b) => a - b);
  return { median: xs[xs.length >> 1], mean: xs.reduce((a, b) => a + b, 0) / xs.length };
};
const s = [...samples].sort((a, b) => a - b);
console.log(`genrsa 2048 here: ${s.length} samples, median ${s[s.length >> 1].toFixed(0)} ms, mean ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(0)} ms, max ${s.at(-1).toFixed(0)} ms; ${CPUS} CPUs`);
console.log(`kubepki overhead modelled: start ${START} ms, ${STEP_IN} ms before and ${STEP_OUT} ms after each process`);
const k = stats(kubepki);
const p = stats(par);
console.log(`kubepki schedule (8 keys): median ${k.median.toFixed(0)} ms, mean ${k.mean.toFixed(0)} ms`);
console.log(`baseline-par --seq-sign (7 keys): median ${p.median.toFixed(0)} ms, mean ${p.mean.toFixed(0)} ms`);
console.log(`ratio of medians: ${(k.median / p.median).toFixed(2)}×`);
