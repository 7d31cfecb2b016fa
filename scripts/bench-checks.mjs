#!/usr/bin/env node
// Micro-benchmark of the in-process checks: the milliseconds evaluate() takes for the checks of a
// kubelet's genkey, csr and sign steps, as a generate run evaluates them.
//
//   node scripts/bench-checks.mjs            NODES=40 ROUNDS=15 OPENSSL=~/.cache/kubepki/openssl/3.5/bin/openssl
//   BASE=HEAD~1 node scripts/bench-checks.mjs   the same, and the checks of that revision beside them
//
// Once: `kubepki generate` (dist/cli.js: run `npm run build` first) makes a PKI of NODES kubelets
// with OPENSSL in a temporary folder, and src/ (evaluate, the plan) is bundled with esbuild into
// the same folder, so that the checks measured are those of the working tree. Then every round
// evaluates, node after node, the checks of its genkey, csr and sign steps, on bytes read into
// memory beforehand (file reads are not timed). With more nodes than evaluate keeps parsed, each
// genkey check parses its key afresh and the csr and sign checks find it parsed, as in a run.
// Prints the median (and the quartiles) over all evaluations of each step kind, after one warm-up
// round. With BASE, src/ of that git revision is bundled too and both run in this process, round
// after round in turns (the order swapped every round): on a busy machine the two see the same
// load, which separate runs do not. KEEP=1 keeps the folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const NODES = Number(process.env.NODES ?? 40);
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const OPENSSL = process.env.OPENSSL ?? path.join(os.homedir(), '.cache/kubepki/openssl/3.5/bin/openssl');

const dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-bench-checks-'));
try {
  const out = path.join(dir, 'pki');
  const nodes = Array.from({ length: NODES }, (_, i) => `  - { name: node-${i + 1}, ip: 10.0.${i >> 8}.${(i & 255) + 1} }`).join('\n');
  writeFileSync(path.join(dir, 'spec.yaml'), `master:\n  hostname: k8s-master\n  ip: 192.168.18.3\nnodes:\n${nodes}\n`);
  execFileSync(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'generate', '--spec', path.join(dir, 'spec.yaml'), '--out', out, '--openssl', OPENSSL, '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });

  const bundle = async (root, outfile) => {
    await build({
      stdin: {
        contents: `export { evaluate } from './src/check/evaluate.ts';
export { bareForm } from './src/check/rules.ts';
export { buildPlan } from './src/plan/plan.ts';
export { parseSpecText } from './src/spec/load.ts';`,
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      nodePaths: [path.join(ROOT, 'node_modules')],
      banner: { js: `import{createRequire as __r}from'node:module';const require=__r(import.meta.url);` },
      logLevel: 'warning',
    });
    return import(pathToFileURL(outfile).href);
  };
  const versions = [{ name: 'working tree', m: await bundle(ROOT, path.join(dir, 'checks.mjs')) }];
  if (process.env.BASE) {
    const base = path.join(dir, 'base');
    execFileSync('mkdir', ['-p', base]);
    execFileSync('sh', ['-c', 'git -C "$1" archive "$2" src | tar -x -C "$3"', 'sh', ROOT, process.env.BASE, base]);
    versions.push({ name: process.env.BASE, m: await bundle(base, path.join(dir, 'base.mjs')) });
  }
  const m = versions[0].m;
  const plan = m.buildPlan(m.parseSpecText(readFileSync(path.join(dir, 'spec.yaml'), 'utf8'), 'bench'));
  const rowsById = new Map(plan.rows.map((r) => [r.id, r]));
  const files = new Map();
  const walk = (rel) => {
    for (const e of readdirSync(path.join(out, rel))) {
      const r = rel ? `${rel}/${e}` : e;
      if (statSync(path.join(out, r)).isDirectory()) walk(r);
      else files.set(r, readFileSync(path.join(out, r)));
    }
  };
  walk('');
  const reader = (serials) => (rel) => {
    const b = serials?.get(rel) ?? files.get(rel);
    if (!b) throw new Error(`bench: no file ${rel}`);
    return b;
  };
  // the serial file holds the serial of the last certificate signed: for each sign step, that of its own
  const serialsOf = (step) => {
    const c = step.checks.find((x) => x.kind === 'serial');
    if (!c) return undefined;
    const hex = execFileSync(OPENSSL, ['x509', '-noout', '-serial', '-in', path.join(out, c.cert)], { encoding: 'utf8' }).trim().replace(/^serial=/, '');
    return new Map([[c.file, Buffer.from(hex + '\n')]]);
  };
  const version = /OpenSSL (\d+)\.(\d+)/.exec(execFileSync(OPENSSL, ['version'], { encoding: 'utf8' }));
  const bare = m.bareForm({ major: Number(version[1]), minor: Number(version[2]) });
  const kinds = ['genkey', 'csr', 'sign'];
  const units = [...new Set(plan.steps.filter((s) => s.action === 'genkey' && s.row?.node !== undefined).map((s) => s.unit))];
  const stepsOf = units.map((u) =>
    kinds.map((a) => {
      const s = plan.steps.find((x) => x.unit === u && x.action === a);
      return { s, read: reader(serialsOf(s)) };
    }),
  );
  for (const v of versions) v.times = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let round = 0; round <= ROUNDS; round++) {
    for (const v of round % 2 ? [...versions].reverse() : versions) {
      for (const steps of stepsOf) {
        steps.forEach(({ s, read }, i) => {
          const t0 = performance.now();
          const r = v.m.evaluate(s.checks, { now: new Date(), rowsById, read, bare });
          const ms = performance.now() - t0;
          if (r.problems.length) throw new Error(`bench: ${v.name}: ${s.id}: ${JSON.stringify(r.problems)}`);
          if (round > 0) v.times[kinds[i]].push(ms);
        });
      }
    }
  }
  const q = (xs, f) => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))];
  console.log(`${os.cpus().length} CPUs, node ${process.version} (OpenSSL ${process.versions.openssl}), files by ${version[0]}, ${units.length} kubelets x ${ROUNDS} rounds`);
  for (const v of versions) {
    if (versions.length > 1) console.log(`${v.name}:`);
    for (const k of kinds) {
      const xs = v.times[k].sort((a, b) => a - b);
      console.log(`evaluate:${k.padEnd(6)} median ${q(xs, 0.5).toFixed(3)} ms  (p25 ${q(xs, 0.25).toFixed(3)}, p75 ${q(xs, 0.75).toFixed(3)})  n=${xs.length}`);
    }
  }
} finally {
  if (process.env.KEEP) console.log(`bench: kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
