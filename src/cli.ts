#!/bin/sh
// argv -> command. The one catch and the only process.exit: explained errors exit with their code
// (2 usage/spec, 1 failed step/verification/environment); anything else is a bug and says so.
// Commands are imported lazily so that --version and plan load only what they need.
// Line 2 of dist/cli.js, added by scripts/build.mjs, makes the file a sh launcher as well: the
// installed command starts node without NODE_EXTRA_CA_CERTS (see there why).
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ErrorReport } from './errors.js';

const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

const COMMON = `Common options:
  --spec FILE       cluster spec, YAML or JSON (default: the spec remembered in OUT/.kubepki/spec.json;
                    in a new, empty folder the embedded spec of the documented cluster)
  --out DIR         the PKI folder (default: ./pki)
  --json            machine-readable output (an error too: one JSON line on stdout)
  --openssl PATH    the openssl binary (default: $KUBEPKI_OPENSSL, else openssl on PATH)
  -h, --help        this help;  -v, --version  kubepki's version`;

const HELP: Record<string, string> = {
  main: `kubepki ${VERSION}: the PKI of a Kubernetes cluster with CA-signed mutual TLS, made by the
documented openssl commands, checked after every step.

Usage: kubepki <command> [options]

Commands:
  generate   make or complete the PKI in --out (keys, certificates, kubeconfigs, flag files)
  plan       print the POSIX sh script of the openssl commands generate runs
  verify     check a PKI folder against the spec (read-only); exit 1 on any problem
  renew      re-sign leaf certificates with the existing CA (keys kept unless --rekey)
  init       write a commented spec file with the defaults, to edit

Exit codes: 0 success; 1 a failed step or verification; 2 bad usage or an invalid spec.
Run \`kubepki <command> --help\` for a command's options.

${COMMON}`,
  generate: `Usage: kubepki generate [--spec FILE] [--out DIR] [--jobs N] [--json]

Makes what is missing in --out, re-issues what no longer matches the spec (keeping its key),
and leaves the rest alone: on a complete, matching PKI it runs no openssl command. An existing
CA is never replaced. Prints each step (n/N, the openssl command, what was checked) and a
summary; --json prints one JSON event per line. One run at a time per folder.

  --jobs N          run up to N independent steps at once (default: the CPUs); --jobs 1 runs the plan's order

${COMMON}`,
  plan: `Usage: kubepki plan [--spec FILE] [--json]

Prints the POSIX sh script of what generate does for this spec in an empty folder: the same
openssl argv, the same rendered .cnf files (here-documents), in one valid order. Run by hand
in an empty folder it makes an equivalent PKI:  kubepki plan > plan.sh && mkdir pki && cd pki && sh ../plan.sh
--json prints the steps as data. Reads nothing but the spec; runs nothing.

${COMMON}`,
  verify: `Usage: kubepki verify [--spec FILE] [--out DIR] [--warn-days N] [--json]

Read-only. Prints a table of every certificate (like kubeadm certs check-expiration) and then
every problem: missing or unreadable files, keys that do not match, certificates not signed by
their CA, SANs or identities that differ from the spec, wrong EKU, expired or expiring
certificates, private keys readable by others, kubeconfigs and flag files that disagree with
the files. Exit 0 only when there is no problem. A folder that a kubepki run is making (its
lock held) is not checked: exit 1.

  --warn-days N     expiring within N days is a problem (default 30)

${COMMON}`,
  renew: `Usage: kubepki renew (NAME... | --all) [--days N] [--rekey] [--spec FILE] [--out DIR]

Re-signs leaf certificates with the existing CA and rewrites every kubeconfig that embeds
one. Keys are kept unless --rekey (the old key is kept in OUT/.kubepki/backup/). Never touches
a CA. Names are those of \`kubepki verify\` (admin, kube-proxy, apiserver, kubelet-<node>, …).

  --all             every leaf certificate
  --days N          validity of the new certificates (default: certs.days of the spec)
  --rekey           make new keys too

${COMMON}`,
  init: `Usage: kubepki init [FILE] [--force]

Writes the embedded default spec (the documented cluster), commented, to FILE (default
cluster.yaml; "-" for stdout). Refuses to overwrite an existing file unless --force.`,
};

const OPTIONS = {
  spec: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  openssl: { type: 'string' },
  jobs: { type: 'string' },
  'warn-days': { type: 'string' },
  days: { type: 'string' },
  rekey: { type: 'boolean' },
  all: { type: 'boolean' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} satisfies ParseArgsConfig['options'];

const ALLOWED: Record<string, string[]> = {
  generate: ['spec', 'out', 'json', 'openssl', 'jobs'],
  plan: ['spec', 'json'],
  verify: ['spec', 'out', 'json', 'warn-days'],
  renew: ['spec', 'out', 'json', 'openssl', 'jobs', 'days', 'rekey', 'all'],
  init: ['force'],
};

/** What the error report needs of the command line: the command and --json, known from the
 *  arguments before they are parsed (a usage error is reported as JSON too) and set again once
 *  they are. */
const invocation: { command?: string; json: boolean } = { json: jsonAsked(process.argv.slice(2)) };

function jsonAsked(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const { UsageError } = await import('./errors.js');
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/, ''), 'see kubepki --help');
  }
  const { values: v, positionals } = parsed;
  const [command, ...rest] = positionals;
  invocation.json = Boolean(v.json);
  if (command && ALLOWED[command]) invocation.command = command;
  if (v.version) {
    process.stdout.write(`kubepki ${VERSION}\n`);
    return 0;
  }
  if (!command || v.help) {
    process.stdout.write((HELP[command ?? 'main'] ?? HELP.main) + '\n');
    return command && !HELP[command] ? 2 : 0;
  }
  if (!ALLOWED[command]) throw new UsageError(`unknown command ${JSON.stringify(command)}`, 'commands: generate, plan, verify, renew, init (kubepki --help)');
  for (const k of Object.keys(v)) {
    if (!ALLOWED[command].includes(k)) throw new UsageError(`--${k} is not an option of ${command}`, `see kubepki ${command} --help`);
  }
  if (rest.length && command !== 'renew' && command !== 'init') throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`, `see kubepki ${command} --help`);
  const int = (name: string, s: string | undefined, min: number, max: number): number | undefined => {
    if (s === undefined) return undefined;
    if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(s)}`);
    return Number(s);
  };
  if (v.out !== undefined && v.out === '') throw new UsageError('--out must not be empty');
  const common = { spec: v.spec, out: v.out ?? './pki', json: Boolean(v.json), openssl: v.openssl, signal, version: VERSION };
  switch (command) {
    case 'generate':
      await (await import('./commands/generate.js')).generate({ ...common, jobs: int('jobs', v.jobs, 1, 256) });
      return 0;
    case 'plan':
      await (await import('./commands/plan.js')).plan(common);
      return 0;
    case 'verify':
      return (await import('./commands/verify.js')).verify({ ...common, warnDays: int('warn-days', v['warn-days'], 0, 36500) ?? 30 });
    case 'renew':
      await (await import('./commands/renew.js')).renew({
        ...common,
        jobs: int('jobs', v.jobs, 1, 256),
        names: rest,
        all: Boolean(v.all),
        rekey: Boolean(v.rekey),
        days: int('days', v.days, 1, 36500),
      });
      return 0;
    case 'init':
      if (rest.length > 1) throw new UsageError(`init takes one file name, got ${rest.length}`);
      await (await import('./commands/init.js')).init({ file: rest[0], force: Boolean(v.force) });
      return 0;
  }
  return 2;
}

const controller = new AbortController();
let signalled: NodeJS.Signals | undefined;
/** A stop ends the run within this time even when the command waits for something that does not
 *  come (a spec read from a pipe nobody writes): the staging design keeps OUT consistent at any
 *  moment, and the openssl process groups are killed on exit (openssl/exec.ts). */
const STOP_GRACE_MS = 1000;
/** Ends the process at once by the signal's default action: process.exit would wait for node's
 *  thread pool, where a read of a pipe may block for ever. The openssl process groups go first. */
async function terminate(sig: NodeJS.Signals): Promise<never> {
  (await import('./openssl/exec.js')).killRunning();
  process.removeAllListeners(sig);
  process.kill(process.pid, sig);
  // the signal is delivered before kill returns; this is not reached
  return new Promise<never>(() => undefined);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (signalled) return void terminate(sig);
    signalled = sig;
    controller.abort();
    setTimeout(async () => {
      if (!reported) report((await import('./errors.js')).stopReport(sig));
      void terminate(sig);
    }, STOP_GRACE_MS).unref();
  });
}

/** The human text on stderr; with --json also one JSON document on stdout (one line, so that it
 *  ends generate's NDJSON stream as well). */
let reported = false;
function report(r: ErrorReport): void {
  reported = true;
  process.exitCode = r.exitCode;
  process.stderr.write(r.text);
  if (invocation.json) {
    const error = { ...r.doc, ...(invocation.command ? { command: invocation.command } : {}) };
    process.stdout.write(JSON.stringify({ event: 'error', error, exitCode: r.exitCode }) + '\n');
  }
}
// a closed pipe (kubepki plan | head) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
});

main(process.argv.slice(2), controller.signal).then(
  (code) => {
    process.exitCode = code;
  },
  async (e: unknown) => {
    const { errorReport, Reported, stopReport } = await import('./errors.js');
    // verify has printed its report (with --json, the document)
    if (e instanceof Reported) {
      process.exitCode = e.exitCode;
      return;
    }
    report(signalled ? stopReport(signalled) : errorReport(e, VERSION));
  },
);
