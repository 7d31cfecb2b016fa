// The command line as cli.ts reads it: which options each command takes, the checks on their
// values, --help and --version, and that every refusal is a usage error (exit 2) that says what
// to do. Pure functions: no process is started.
import { helpText, jsonAsked, readArgv, toInvocation, type Invocation } from '../../src/cli-args.js';
import { errorReport, UsageError } from '../../src/errors.js';

const V = '9.8.7';
const parse = (...argv: string[]): Invocation => toInvocation(readArgv(argv), V);

/** The UsageError that parsing argv throws (fails the test if it throws none or another). */
function usageError(...argv: string[]): UsageError {
  try {
    parse(...argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`kubepki ${argv.join(' ')} was accepted`);
}

describe('each command and its options', () => {
  test('generate: the common options and --jobs; --out defaults to ./pki', () => {
    expect(parse('generate')).toEqual({ action: 'generate', common: { spec: undefined, out: './pki', json: false, openssl: undefined }, jobs: undefined });
    expect(parse('generate', '--spec', 'c.yaml', '--out', '/tmp/p', '--json', '--openssl', '/usr/bin/openssl', '--jobs', '3')).toEqual({
      action: 'generate',
      common: { spec: 'c.yaml', out: '/tmp/p', json: true, openssl: '/usr/bin/openssl' },
      jobs: 3,
    });
    expect(parse('generate', '--jobs=1')).toMatchObject({ jobs: 1 });
  });

  test('plan: --spec and --json only', () => {
    expect(parse('plan', '--spec', 's.json', '--json')).toEqual({ action: 'plan', common: { spec: 's.json', out: './pki', json: true, openssl: undefined } });
  });

  test('verify: --warn-days, 30 by default, 0 allowed', () => {
    expect(parse('verify')).toMatchObject({ action: 'verify', warnDays: 30 });
    expect(parse('verify', '--warn-days', '0')).toMatchObject({ warnDays: 0 });
    expect(parse('verify', '--warn-days', '36500')).toMatchObject({ warnDays: 36500 });
  });

  test('renew: names, --all, --rekey, --days, --jobs', () => {
    expect(parse('renew', 'admin', 'apiserver', '--rekey', '--days', '90', '--jobs', '2')).toEqual({
      action: 'renew',
      common: { spec: undefined, out: './pki', json: false, openssl: undefined },
      jobs: 2,
      names: ['admin', 'apiserver'],
      all: false,
      rekey: true,
      days: 90,
    });
    expect(parse('renew', '--all')).toMatchObject({ names: [], all: true, rekey: false, days: undefined });
  });

  test('init: one optional file name, --force and --schema', () => {
    expect(parse('init')).toEqual({ action: 'init', file: undefined, force: false, schema: false });
    expect(parse('init', '-', '--force')).toEqual({ action: 'init', file: '-', force: true, schema: false });
    expect(parse('init', '--schema')).toEqual({ action: 'init', file: undefined, force: false, schema: true });
  });

  test('a value after -- is a positional, not an option', () => {
    expect(parse('renew', '--', '--all')).toMatchObject({ names: ['--all'], all: false });
  });
});

describe('what is refused: a usage error (exit 2) with the way out', () => {
  test.each([
    [['generate', '--bogus'], "Unknown option '--bogus'", 'see kubepki --help'],
    [['generate', '-x'], "Unknown option '-x'", 'see kubepki --help'],
    [['verify', '--spec'], "Option '--spec <value>' argument missing", 'see kubepki --help'],
    [['generate', '--json=yes'], "Option '--json' does not take an argument", 'see kubepki --help'],
    [['deploy'], 'unknown command "deploy"', 'commands: generate, plan, verify, renew, init (kubepki --help)'],
    [['plan', '--out', 'pki'], '--out is not an option of plan', 'see kubepki plan --help'],
    [['init', '--spec', 'x.yaml'], '--spec is not an option of init', 'see kubepki init --help'],
    [['generate', '--rekey'], '--rekey is not an option of generate', 'see kubepki generate --help'],
    [['verify', '--jobs', '2'], '--jobs is not an option of verify', 'see kubepki verify --help'],
    [['generate', 'extra'], 'unexpected argument "extra"', 'see kubepki generate --help'],
    [['verify', 'a', 'b'], 'unexpected argument "a"', 'see kubepki verify --help'],
  ])('kubepki %j: %s', (argv, message, hint) => {
    const e = usageError(...argv);
    expect(e.message).toBe(message);
    expect(e.details).toEqual([hint]);
    expect(e.exitCode).toBe(2);
  });

  test.each([
    [['generate', '--jobs', '0'], '--jobs must be a whole number from 1 to 256, not "0"'],
    [['generate', '--jobs', '257'], '--jobs must be a whole number from 1 to 256, not "257"'],
    [['generate', '--jobs=-1'], '--jobs must be a whole number from 1 to 256, not "-1"'],
    [['generate', '--jobs', '2.5'], '--jobs must be a whole number from 1 to 256, not "2.5"'],
    [['generate', '--jobs', ''], '--jobs must be a whole number from 1 to 256, not ""'],
    [['renew', '--all', '--jobs', 'many'], '--jobs must be a whole number from 1 to 256, not "many"'],
    [['renew', '--all', '--days', '0'], '--days must be a whole number from 1 to 36500, not "0"'],
    [['verify', '--warn-days', '36501'], '--warn-days must be a whole number from 0 to 36500, not "36501"'],
    [['generate', '--out', ''], '--out must not be empty'],
    [['init', 'a.yaml', 'b.yaml'], 'init takes one file name, got 2'],
  ])('kubepki %j: %s', (argv, message) => {
    const e = usageError(...argv);
    expect(e.message).toBe(message);
    expect(e.exitCode).toBe(2);
  });

  test('--jobs takes 1 and 256, the bounds themselves', () => {
    expect(parse('generate', '--jobs', '1')).toMatchObject({ jobs: 1 });
    expect(parse('generate', '--jobs', '256')).toMatchObject({ jobs: 256 });
  });

  test('an empty --out is checked before the numbers', () => {
    expect(usageError('generate', '--out', '', '--jobs', '0').message).toBe('--out must not be empty');
  });

  test('the names of Object.prototype are unknown commands like any other', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(usageError(name).message).toBe(`unknown command "${name}"`);
    expect(parse('constructor', '--help')).toEqual({ action: 'help', text: helpText(undefined, V), exitCode: 2 });
  });

  test('the CLI reports a usage error as kind usage, exit 2, the way out under the message', () => {
    expect(errorReport(usageError('plan', '--out', 'x'), V)).toEqual({
      doc: { kind: 'usage', message: '--out is not an option of plan', details: ['see kubepki plan --help'] },
      exitCode: 2,
      text: 'kubepki: error: --out is not an option of plan\n  see kubepki plan --help\n',
    });
  });
});

describe('--help and --version', () => {
  test('no command, or --help alone: the main help, exit 0', () => {
    for (const argv of [[], ['--help'], ['-h']]) expect(parse(...argv)).toEqual({ action: 'help', text: helpText(undefined, V), exitCode: 0 });
    expect(helpText(undefined, V)).toMatch(/^kubepki 9\.8\.7: the PKI of a Kubernetes cluster/);
    expect(helpText(undefined, V)).toContain('Exit codes: 0 success; 1 a failed step or verification; 2 bad usage or an invalid spec.');
  });

  test.each(['generate', 'plan', 'verify', 'renew', 'init'])('%s --help: its own help, exit 0, even with options it does not take', (cmd) => {
    const h = parse(cmd, '--help', '--rekey', '--warn-days', 'x');
    expect(h).toEqual({ action: 'help', text: helpText(cmd, V), exitCode: 0 });
    expect(helpText(cmd, V)).toMatch(new RegExp(`^Usage: kubepki ${cmd} `));
  });

  test('each command\'s help names exactly the options it takes', () => {
    expect(helpText('generate', V)).toContain('--jobs N');
    expect(helpText('verify', V)).toContain('--warn-days N');
    expect(helpText('verify', V)).not.toContain('--jobs N');
    for (const o of ['--all', '--days N', '--rekey']) expect(helpText('renew', V)).toContain(o);
    expect(helpText('init', V)).toContain('--force');
    expect(helpText('init', V)).not.toContain('Common options');
  });

  test('an unknown command with --help: the main help, exit 2', () => {
    expect(parse('deploy', '--help')).toEqual({ action: 'help', text: helpText(undefined, V), exitCode: 2 });
  });

  test('--version wins over --help, a command and options the command does not take', () => {
    for (const argv of [['--version'], ['-v'], ['plan', '--rekey', '--version'], ['deploy', '-v'], ['--help', '--version']]) expect(parse(...argv)).toEqual({ action: 'version' });
  });
});

describe('what an error report knows before the command runs', () => {
  test('readArgv: the command when it is one of kubepki\'s, and --json', () => {
    expect(readArgv(['verify', '--json'])).toMatchObject({ command: 'verify', known: 'verify', json: true, rest: [] });
    expect(readArgv(['deploy', 'x'])).toMatchObject({ command: 'deploy', known: undefined, json: false, rest: ['x'] });
    expect(readArgv(['constructor'])).toMatchObject({ known: undefined });
  });

  test('jsonAsked: --json before a --, seen without parsing (so an unknown option is still reported as JSON)', () => {
    expect(jsonAsked(['verify', '--bogus', '--json'])).toBe(true);
    expect(jsonAsked(['verify', '--json=1'])).toBe(false);
    expect(jsonAsked(['renew', '--', '--json'])).toBe(false);
    expect(jsonAsked([])).toBe(false);
  });
});
