// argv -> what to do, without doing it: the options each command takes, their values checked, the
// help texts. Pure (no file, no process, no output), so that it is tested without spawning the CLI;
// cli.ts runs what it returns. Two stages, because an error found after the options are read is
// reported with the command and --json they name: readArgv (node's parseArgs, strict) and then
// toInvocation (the command's rules).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

const COMMON = `Common options:
  --spec FILE       cluster spec, YAML or JSON (default: the spec remembered in OUT/.kubepki/spec.json;
                    in a new, empty folder the embedded spec of the documented cluster)
  --out DIR         the PKI folder (default: ./pki)
  --json            machine-readable output (an error too: one JSON line on stdout)
  --openssl PATH    the openssl binary (default: $KUBEPKI_OPENSSL, else openssl on PATH)
  -h, --help        this help;  -v, --version  kubepki's version`;

const mainHelp = (version: string) => `kubepki ${version}: the PKI of a Kubernetes cluster with CA-signed mutual TLS, made by the
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

${COMMON}`;

const COMMAND_HELP: Record<Command, string> = {
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
  init: `Usage: kubepki init [FILE] [--force] [--schema]

Writes the embedded default spec (the documented cluster), commented, to FILE (default
cluster.yaml; "-" for stdout). Refuses to overwrite an existing file unless --force.

  --schema   write the spec's JSON Schema instead (default FILE: kubepki.schema.json), for
             editors: # yaml-language-server: $schema=kubepki.schema.json`,
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
  schema: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} satisfies ParseArgsConfig['options'];

export type Command = 'generate' | 'plan' | 'verify' | 'renew' | 'init';

const ALLOWED: Record<Command, string[]> = {
  generate: ['spec', 'out', 'json', 'openssl', 'jobs'],
  plan: ['spec', 'json'],
  verify: ['spec', 'out', 'json', 'warn-days'],
  renew: ['spec', 'out', 'json', 'openssl', 'jobs', 'days', 'rekey', 'all'],
  init: ['force', 'schema'],
};

const isCommand = (s: string | undefined): s is Command => s !== undefined && Object.hasOwn(ALLOWED, s);

/** The help text of a command, or the main one (for no command or an unknown one). */
export function helpText(command: string | undefined, version: string): string {
  return isCommand(command) ? COMMAND_HELP[command] : mainHelp(version);
}

/** Whether --json is among the arguments (before a `--`), known before they are parsed: a usage
 *  error is reported as JSON too. */
export function jsonAsked(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

export type OptionValues = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** The arguments as read by node's parseArgs: what an error report needs (the command, if it is
 *  one of kubepki's, and --json) and the rest for toInvocation. */
export interface Argv {
  /** the first positional, whatever it is */
  command?: string;
  /** the command, when it is one of kubepki's */
  known?: Command;
  json: boolean;
  values: OptionValues;
  /** the positionals after the command */
  rest: string[];
}

/** An option the parser does not know, a missing value or a value given to a flag: UsageError. */
export function readArgv(argv: string[]): Argv {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/, ''), 'see kubepki --help');
  }
  const [command, ...rest] = parsed.positionals;
  return { command, known: isCommand(command) ? command : undefined, json: Boolean(parsed.values.json), values: parsed.values, rest };
}

/** The options every command that reads a spec shares. */
export interface CommonArgs {
  spec?: string;
  out: string;
  json: boolean;
  openssl?: string;
}

export type Invocation =
  | { action: 'version' }
  | { action: 'help'; text: string; exitCode: 0 | 2 }
  | { action: 'generate'; common: CommonArgs; jobs?: number }
  | { action: 'plan'; common: CommonArgs }
  | { action: 'verify'; common: CommonArgs; warnDays: number }
  | { action: 'renew'; common: CommonArgs; jobs?: number; names: string[]; all: boolean; rekey: boolean; days?: number }
  | { action: 'init'; file?: string; force: boolean; schema: boolean };

/** What to do. --version wins over everything; --help (or no command) prints the command's help,
 *  exit 2 for an unknown command; then the command's rules, each broken one a UsageError (exit 2). */
export function toInvocation(a: Argv, version: string): Invocation {
  const { values: v, command, rest } = a;
  if (v.version) return { action: 'version' };
  if (!command || v.help) return { action: 'help', text: helpText(command, version), exitCode: command && !isCommand(command) ? 2 : 0 };
  if (!isCommand(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}`, 'commands: generate, plan, verify, renew, init (kubepki --help)');
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
  const common: CommonArgs = { spec: v.spec, out: v.out ?? './pki', json: Boolean(v.json), openssl: v.openssl };
  switch (command) {
    case 'generate':
      return { action: 'generate', common, jobs: int('jobs', v.jobs, 1, 256) };
    case 'plan':
      return { action: 'plan', common };
    case 'verify':
      return { action: 'verify', common, warnDays: int('warn-days', v['warn-days'], 0, 36500) ?? 30 };
    case 'renew': {
      const jobs = int('jobs', v.jobs, 1, 256);
      return { action: 'renew', common, jobs, names: rest, all: Boolean(v.all), rekey: Boolean(v.rekey), days: int('days', v.days, 1, 36500) };
    }
    case 'init':
      if (rest.length > 1) throw new UsageError(`init takes one file name, got ${rest.length}`);
      return { action: 'init', file: rest[0], force: Boolean(v.force), schema: Boolean(v.schema) };
  }
}
