// How the CLI reports an error (errorReport, stopReport): kind, exit code, stderr text and the
// --json document's error member. A bug says it is one and keeps the stack of its cause.
import { EnvError, errorReport, InternalError, isSystemError, KubepkiError, Reported, SpecError, StepError, stopReport, trimStderr, UsageError } from '../../src/errors.js';

test("kubepki's errors: kind and exit code by class, message and details on stderr", () => {
  const usage = errorReport(new UsageError('--jobs must be a whole number', 'see kubepki generate --help'), '1.2.3');
  expect(usage).toEqual({
    doc: { kind: 'usage', message: '--jobs must be a whole number', details: ['see kubepki generate --help'] },
    exitCode: 2,
    text: 'kubepki: error: --jobs must be a whole number\n  see kubepki generate --help\n',
  });
  expect(errorReport(new SpecError('invalid spec', ['master.ip: not an address']), '1.2.3').doc.kind).toBe('spec');
  expect(errorReport(new SpecError('invalid spec', []), '1.2.3').exitCode).toBe(2);
  expect(errorReport(new EnvError('openssl not found: x'), '1.2.3')).toMatchObject({ doc: { kind: 'environment' }, exitCode: 1 });
  const step = errorReport(new StepError('step ca:crt failed', 'ca:crt', 'openssl req -x509', 'oops'), '1.2.3');
  expect(step.doc).toEqual({ kind: 'step', message: 'step ca:crt failed', details: ['command: openssl req -x509', 'openssl: oops'], step: 'ca:crt' });
  expect(step.exitCode).toBe(1);
});

test('a bug inside a step: the banner, the step, and the stack of the original; exit 1', () => {
  const original = new TypeError('x.nope is not a function');
  const r = errorReport(new InternalError('server:crt', original), '1.2.3');
  expect(r.exitCode).toBe(1);
  expect(r.text).toBe(`kubepki: internal error (a bug in kubepki 1.2.3; please report it with this output):\nin step server:crt:\n${original.stack}\n`);
  expect(r.doc).toEqual({ kind: 'internal', message: 'step server:crt: TypeError: x.nope is not a function', details: [], step: 'server:crt', stack: original.stack });
});

test('a bug elsewhere: the banner and its stack', () => {
  const e = new RangeError('out of range');
  const r = errorReport(e, '1.2.3');
  expect(r.text).toBe(`kubepki: internal error (a bug in kubepki 1.2.3; please report it with this output):\n${e.stack}\n`);
  expect(r.doc.kind).toBe('internal');
  expect(r.doc.step).toBeUndefined();
});

test('a stop by a signal exits 128 + its number', () => {
  expect(stopReport('SIGTERM')).toEqual({ doc: { kind: 'signal', message: 'stopped by SIGTERM', details: [] }, exitCode: 143, text: 'kubepki: stopped by SIGTERM; nothing unchecked was left in the PKI folder\n' });
  expect(stopReport('SIGINT').exitCode).toBe(130);
  expect(stopReport('SIGHUP').exitCode).toBe(129);
});

test('every detail line is printed under the message, indented; a spec error lists each problem', () => {
  expect(errorReport(new SpecError('cluster.yaml: 2 problems in the spec', ['master.ip: "x" is not an IP address', 'nodes[0].name: missing']), '1.2.3')).toEqual({
    doc: { kind: 'spec', message: 'cluster.yaml: 2 problems in the spec', details: ['master.ip: "x" is not an IP address', 'nodes[0].name: missing'] },
    exitCode: 2,
    text: 'kubepki: error: cluster.yaml: 2 problems in the spec\n  master.ip: "x" is not an IP address\n  nodes[0].name: missing\n',
  });
  expect(errorReport(new EnvError('--out /x does not exist', ['run `kubepki generate` first']), '1.2.3').text).toBe('kubepki: error: --out /x does not exist\n  run `kubepki generate` first\n');
  expect(errorReport(new UsageError('--out must not be empty'), '1.2.3').text).toBe('kubepki: error: --out must not be empty\n');
});

test('a failed step: its command, each line openssl printed, then what was expected', () => {
  const e = new StepError('step ca:key wrote a file that fails its check', 'ca:key', 'openssl genrsa -out ca.key 2048', 'line one\n\nline two  \n', ['ca.key is RSA 2048']);
  expect(e.details).toEqual(['command: openssl genrsa -out ca.key 2048', 'openssl: line one', 'openssl: line two', 'expected: ca.key is RSA 2048']);
  // a step that runs no openssl (a kubeconfig, a flag file) has neither command nor stderr
  expect(new StepError('step x failed', 'x', undefined, '').details).toEqual([]);
  expect(errorReport(e, '1.2.3').doc.step).toBe('ca:key');
});

test("openssl's stderr: up to 8 lines whole; longer, the lines that say what failed (at most 12), else the last 8", () => {
  const eight = Array.from({ length: 8 }, (_, i) => `line ${i}`);
  expect(trimStderr(eight.join('\n'))).toEqual(eight);
  const noisy = [...Array.from({ length: 20 }, (_, i) => `noise ${i}`), '80AB:error:0A000001:bad decrypt', 'unable to load key'];
  expect(trimStderr(noisy.join('\n'))).toEqual(['80AB:error:0A000001:bad decrypt', 'unable to load key']);
  const manyErrors = Array.from({ length: 20 }, (_, i) => `error ${i}`);
  expect(trimStderr(manyErrors.join('\n'))).toEqual(manyErrors.slice(0, 12));
  const quiet = Array.from({ length: 10 }, (_, i) => `info ${i}`);
  expect(trimStderr(quiet.join('\n'))).toEqual(quiet.slice(-8));
});

test('InternalError keeps the original as its cause (and its stack), names the step, and is none of kubepki\'s errors', () => {
  const original = new TypeError('boom');
  const e = new InternalError('apiserver:crt', original);
  expect(e.cause).toBe(original);
  expect(e.name).toBe('InternalError');
  expect(e).not.toBeInstanceOf(KubepkiError);
  expect(errorReport(e, '1.2.3').doc.stack).toBe(original.stack);
  // a thrown value that is not an Error
  expect(new InternalError('x', 42).message).toBe('step x: 42');
  expect(errorReport('a string', '1.2.3')).toEqual({
    doc: { kind: 'internal', message: 'a string', details: [], stack: 'a string' },
    exitCode: 1,
    text: 'kubepki: internal error (a bug in kubepki 1.2.3; please report it with this output):\na string\n',
  });
});

test('Reported (verify printed its own report) exits 1', () => {
  expect(new Reported('').exitCode).toBe(1);
  expect(new Reported('')).toBeInstanceOf(KubepkiError);
});

test("a failed system call is one of node's errors with errno, code and syscall; anything else is not", () => {
  const enoent = Object.assign(new Error('ENOENT: no such file'), { errno: -2, code: 'ENOENT', syscall: 'open' });
  expect(isSystemError(enoent)).toBe(true);
  expect(isSystemError(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' }))).toBe(false);
  expect(isSystemError(new UsageError('x'))).toBe(false);
  expect(isSystemError(null)).toBe(false);
  expect(isSystemError('ENOENT')).toBe(false);
});
