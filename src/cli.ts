// argv -> command (the parsing itself is cli-args.ts). The one catch and the only process.exit:
// explained errors exit with their code (2 usage/spec, 1 failed step/verification/environment);
// anything else is a bug and says so. Commands are imported lazily so that --version and plan load
// only what they need.
// The program bundle that dist/cli.js (src/boot.ts) runs; import.meta.url is the bundle's URL.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { jsonAsked, readArgv, toInvocation } from './cli-args.js';
import type { ErrorReport } from './errors.js';

/** Loads a command's module, then makes baseline code (Sparkplug) V8's highest tier: kubepki's
 *  JavaScript runs briefly between openssl processes, and the optimizing compiler (TurboFan) would
 *  spend more CPU compiling it, on threads beside the openssl processes, than the compiled code
 *  saves. Set only once the command's modules are loaded: a changed flag makes V8 refuse node's
 *  embedded code cache, so every built-in module loaded after it (node:crypto, child_process, …)
 *  would be compiled from source. Code compiled before is still held to the limit. Not while the
 *  build trains the code cache (src/boot.ts): a cache made under a changed flag is refused. */
async function load<T>(m: Promise<T>): Promise<T> {
  const mod = await m;
  // the global `performance` loads node's perf_hooks modules on first use (the runner times every
  // step): loaded here, node takes them from its code cache (~0.7 against ~3 ms)
  performance.now();
  if (!process.env.KUBEPKI_TRAIN_CODE_CACHE) setFlagsFromString('--max-opt=1');
  return mod;
}

const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** What the error report needs of the command line: the command and --json, known from the
 *  arguments before they are parsed (a usage error is reported as JSON too) and set again once
 *  they are. */
const invocation: { command?: string; json: boolean } = { json: jsonAsked(process.argv.slice(2)) };

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const args = readArgv(argv);
  invocation.json = args.json;
  if (args.known) invocation.command = args.known;
  const what = toInvocation(args, VERSION);
  const run = { signal, version: VERSION };
  switch (what.action) {
    case 'version':
      process.stdout.write(`kubepki ${VERSION}\n`);
      return 0;
    case 'help':
      process.stdout.write(what.text + '\n');
      return what.exitCode;
    case 'generate':
      await (await load(import('./commands/generate.js'))).generate({ ...what.common, ...run, jobs: what.jobs });
      return 0;
    case 'plan':
      await (await load(import('./commands/plan.js'))).plan({ ...what.common, ...run });
      return 0;
    case 'verify':
      return (await load(import('./commands/verify.js'))).verify({ ...what.common, ...run, warnDays: what.warnDays });
    case 'renew':
      await (await load(import('./commands/renew.js'))).renew({ ...what.common, ...run, jobs: what.jobs, names: what.names, all: what.all, rekey: what.rekey, days: what.days });
      return 0;
    case 'init':
      await (await load(import('./commands/init.js'))).init({ file: what.file, force: what.force, schema: what.schema });
      return 0;
  }
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
