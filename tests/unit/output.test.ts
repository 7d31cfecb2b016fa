// What kubepki prints while it runs: per step in a pipe (the command, then each checked file),
// nothing for a step whose files were unchanged, one JSON event per step with --json, a live
// status line only on a terminal, colour only where asked; and the table verify prints.
import type { Step } from '../../src/plan/plan.js';
import type { StepOutcome, StepStatus } from '../../src/run/runner.js';
import { fmtTime, paint, progress, stdoutOut, table, type Out } from '../../src/ui/output.js';

/** An Out that records what is written. */
function recorder(o: { isTTY?: boolean; color?: boolean } = {}): Out & { text: () => string } {
  const chunks: string[] = [];
  return { write: (s) => void chunks.push(s), isTTY: o.isTTY ?? false, color: o.color ?? false, text: () => chunks.join('') };
}

const step = (id: string, outputs: string[], argv?: string[]): Step => ({ id, unit: id.split(':')[0], action: argv ? 'key' : 'config', argv, reads: [], outputs: outputs.map((path) => ({ path })), title: id }) as unknown as Step;

function outcome(s: Step, index: number, status: StepStatus, command: string | undefined, checked: string[], ms = 12.4): StepOutcome {
  return { step: s, index, status, command, checked, ms, timing: { dispatched: 0, done: ms, after: -1 } };
}

/** an fmtTime() value: the status line shows how long the run has taken, whatever that is */
const T = String.raw`(?:\d+ms|\d+\.\d+s|\d+m\d+s)`;

const KEY = step('ca:key', ['ca.key'], ['genrsa', '-out', 'ca.key', '2048']);
const CNF = step('ca.cnf', ['ca.cnf']);
const CRT = step('ca:crt', ['ca.crt'], ['req']);

describe('in a pipe', () => {
  test('each step: [n/N], the command, then each checked file under it; a written file is named', () => {
    const out = recorder();
    const p = progress(out, false, 12);
    p.start(CNF, 0);
    p.done(outcome(CNF, 0, 'created', undefined, ['ca.cnf: written']), 1, 12);
    p.start(KEY, 1);
    p.done(outcome(KEY, 1, 'created', 'openssl genrsa -out ca.key 2048', ['ca.key: RSA 2048-bit private key, mode 0600']), 2, 12);
    p.end();
    expect(out.text()).toBe('[ 1/12] wrote ca.cnf\n        ✓ ca.cnf: written\n[ 2/12] $ openssl genrsa -out ca.key 2048\n        ✓ ca.key: RSA 2048-bit private key, mode 0600\n');
  });

  test('a step whose files were unchanged prints nothing; a replaced one prints like a created one', () => {
    const out = recorder();
    const p = progress(out, false, 3);
    p.done(outcome(CNF, 0, 'unchanged', undefined, ['ca.cnf: unchanged']), 1, 3);
    p.done(outcome(CRT, 2, 'replaced', 'openssl req', ['ca.crt: ok']), 3, 3);
    expect(out.text()).toBe('[3/3] $ openssl req\n      ✓ ca.crt: ok\n');
  });

  test('quiet (verbose off): nothing at all', () => {
    const out = recorder();
    const p = progress(out, false, 2, false);
    p.start(KEY, 0);
    p.done(outcome(KEY, 0, 'created', 'openssl genrsa', ['ca.key: ok']), 1, 2);
    p.end();
    expect(out.text()).toBe('');
  });

  test('no control character: no status line, no colour unless asked', () => {
    const out = recorder();
    const p = progress(out, false, 1);
    p.start(KEY, 0);
    p.done(outcome(KEY, 0, 'created', 'openssl genrsa', ['ca.key: ok']), 1, 1);
    p.end();
    expect(out.text()).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
  });

  test('with colour: the counter bold, the tick green', () => {
    const out = recorder({ color: true });
    progress(out, false, 1).done(outcome(KEY, 0, 'created', 'openssl genrsa', ['ca.key: ok']), 1, 1);
    expect(out.text()).toBe('\x1b[1m[1/1]\x1b[0m $ openssl genrsa\n      \x1b[32m✓\x1b[0m ca.key: ok\n');
  });
});

describe('--json', () => {
  test('one JSON event per finished step, unchanged ones included, whole milliseconds; nothing on start or end', () => {
    const out = recorder({ isTTY: true, color: true });
    const p = progress(out, true, 2);
    p.start(KEY, 0);
    p.done(outcome(KEY, 0, 'created', 'openssl genrsa -out ca.key 2048', ['ca.key: ok'], 12.6), 1, 2);
    p.done(outcome(CNF, 1, 'unchanged', undefined, [], 0.2), 2, 2);
    p.end();
    const lines = out.text().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { event: 'step', n: 1, total: 2, id: 'ca:key', status: 'created', command: 'openssl genrsa -out ca.key 2048', outputs: ['ca.key'], checked: ['ca.key: ok'], ms: 13 },
      { event: 'step', n: 2, total: 2, id: 'ca.cnf', status: 'unchanged', command: null, outputs: ['ca.cnf'], checked: [], ms: 0 },
    ]);
    expect(out.text()).not.toContain('\x1b');
  });
});

describe('on a terminal', () => {
  test('a live status line (done/total, elapsed, the steps running) that each step line replaces, cleared at the end', () => {
    const out = recorder({ isTTY: true });
    const p = progress(out, false, 2);
    p.start(KEY, 0);
    expect(out.text()).toMatch(new RegExp(String.raw`^\[0/2\] ${T} elapsed  ca:key$`));
    p.done(outcome(KEY, 0, 'created', 'openssl genrsa', ['ca.key: ok']), 1, 2);
    p.end();
    const [first, rest] = [out.text().indexOf('\r\x1b[2K'), out.text().slice(out.text().indexOf('\r\x1b[2K'))];
    expect(first).toBeGreaterThan(0);
    // the status line is cleared, the step's lines printed, the status line drawn again, then cleared
    expect(rest).toMatch(new RegExp(String.raw`^\r\x1b\[2K\[1/2\] \$ openssl genrsa\n {6}✓ ca\.key: ok\n\[1/2\] ${T} elapsed, ~${T} left\r\x1b\[2K$`));
  });

  test('the status line is dim with colour, and names at most two running steps', () => {
    const out = recorder({ isTTY: true, color: true });
    const p = progress(out, false, 3);
    p.start(KEY, 0);
    p.start(CNF, 1);
    p.start(CRT, 2);
    const last = out.text().split('\r\x1b[2K').at(-1)!;
    expect(last).toMatch(new RegExp(String.raw`^\x1b\[2m\[0/3\] ${T} elapsed  ca:key, ca\.cnf\x1b\[0m$`));
  });
});

describe('colour and the terminal', () => {
  const saved = { isTTY: process.stdout.isTTY, NO_COLOR: process.env.NO_COLOR, TERM: process.env.TERM };
  const setTTY = (v: boolean | undefined) => Object.defineProperty(process.stdout, 'isTTY', { value: v, configurable: true, writable: true });
  afterEach(() => {
    setTTY(saved.isTTY);
    for (const k of ['NO_COLOR', 'TERM'] as const) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  test('colour on a terminal only, never with NO_COLOR (even empty) or TERM=dumb', () => {
    delete process.env.NO_COLOR;
    process.env.TERM = 'xterm-256color';
    setTTY(true);
    expect(stdoutOut()).toMatchObject({ isTTY: true, color: true });
    process.env.NO_COLOR = '';
    expect(stdoutOut().color).toBe(false);
    delete process.env.NO_COLOR;
    process.env.TERM = 'dumb';
    expect(stdoutOut().color).toBe(false);
    process.env.TERM = 'xterm-256color';
    setTTY(undefined);
    expect(stdoutOut()).toMatchObject({ isTTY: false, color: false });
  });

  test('paint adds nothing without colour', () => {
    const c = paint({ color: false });
    expect([c.green('a'), c.red('b'), c.yellow('c'), c.dim('d'), c.bold('e')]).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(paint({ color: true }).red('x')).toBe('\x1b[31mx\x1b[0m');
  });
});

test('table: columns padded to the widest cell, three spaces apart, the last one not padded, no trailing space', () => {
  expect(table([['ca', '/CN=k8s-master', 'ok'], ['kube-proxy', '/CN=system:kube-proxy', '']], ['CERTIFICATE', 'SUBJECT', 'STATUS'])).toBe(
    'CERTIFICATE   SUBJECT                 STATUS\n' + 'ca            /CN=k8s-master          ok\n' + 'kube-proxy    /CN=system:kube-proxy\n',
  );
});

test('fmtTime: milliseconds under a second, tenths of seconds under a minute, then minutes and seconds', () => {
  expect([fmtTime(0), fmtTime(999.4), fmtTime(1000), fmtTime(1549), fmtTime(59_000), fmtTime(60_000), fmtTime(90_500), fmtTime(3_600_000)]).toEqual(['0ms', '999ms', '1.0s', '1.5s', '59.0s', '1m0s', '1m31s', '60m0s']);
});
