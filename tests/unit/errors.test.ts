// How the CLI reports an error (errorReport, stopReport): kind, exit code, stderr text and the
// --json document's error member. A bug says it is one and keeps the stack of its cause.
import { EnvError, errorReport, InternalError, SpecError, StepError, stopReport, UsageError } from '../../src/errors.js';

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
