// One error family. The CLI's single catch maps them to exit codes:
//   UsageError / SpecError -> 2; StepError / EnvError / VerifyFailed -> 1; anything else is a bug
//   (InternalError: one raised inside a step, which it names).

export abstract class KubepkiError extends Error {
  abstract readonly exitCode: 1 | 2;
  /** Extra lines printed under the message (problems, hints). */
  details: string[] = [];
}

export class UsageError extends KubepkiError {
  readonly exitCode = 2 as const;
  constructor(message: string, readonly hint?: string) {
    super(message);
    if (hint) this.details = [hint];
  }
}

export class SpecError extends KubepkiError {
  readonly exitCode = 2 as const;
  constructor(message: string, readonly problems: string[]) {
    super(message);
    this.details = problems;
  }
}

/** The machine or the folder is not fit for the job: no openssl, unwritable --out, a held lock, a CA mismatch. */
export class EnvError extends KubepkiError {
  readonly exitCode = 1 as const;
  constructor(message: string, details: string[] = []) {
    super(message);
    this.details = details;
  }
}

/** A step failed: its command, openssl's stderr (trimmed) and what was expected. */
export class StepError extends KubepkiError {
  readonly exitCode = 1 as const;
  constructor(
    message: string,
    readonly stepId: string,
    readonly command: string | undefined,
    readonly stderr: string,
    readonly expected: string[] = [],
  ) {
    super(message);
    const d: string[] = [];
    if (command) d.push(`command: ${command}`);
    if (stderr) d.push(...trimStderr(stderr).map((l) => `openssl: ${l}`));
    d.push(...expected.map((e) => `expected: ${e}`));
    this.details = d;
  }
}

/** Already reported (verify printed its table); exit 1 quietly. */
export class Reported extends KubepkiError {
  readonly exitCode = 1 as const;
}

/** Long stderr is cut to the lines that matter (those mentioning error/fail/unable), at most 12. */
export function trimStderr(stderr: string): string[] {
  const lines = stderr.split('\n').map((l) => l.trimEnd()).filter(Boolean);
  if (lines.length <= 8) return lines;
  const important = lines.filter((l) => /error|fail|unable|cannot|can't|no such|invalid|bad/i.test(l));
  const chosen = important.length ? important : lines.slice(-8);
  return chosen.slice(0, 12);
}

/** A bug (an exception that is none of kubepki's errors nor a failed system call) raised inside a
 *  step. Not a KubepkiError: the CLI reports it as a bug, with the stack of its cause. */
export class InternalError extends Error {
  constructor(
    readonly stepId: string,
    override readonly cause: unknown,
  ) {
    super(`step ${stepId}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
    this.name = 'InternalError';
  }
}

/** A failed system call (node's fs and child_process errors: errno, code and syscall): the
 *  machine's problem (a full disk, a permission), not kubepki's. */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  const x = e as NodeJS.ErrnoException;
  return typeof e === 'object' && e !== null && typeof x.errno === 'number' && typeof x.code === 'string' && typeof x.syscall === 'string';
}

/** An error as the CLI reports it: the text for stderr, the `error` member of the --json
 *  document, and the exit code. */
export interface ErrorReport {
  doc: { kind: 'usage' | 'spec' | 'environment' | 'step' | 'internal' | 'signal'; message: string; details: string[]; step?: string; stack?: string };
  exitCode: number;
  text: string;
}

export function stopReport(sig: NodeJS.Signals): ErrorReport {
  return {
    doc: { kind: 'signal', message: `stopped by ${sig}`, details: [] },
    exitCode: 128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1),
    text: `kubepki: stopped by ${sig}; nothing unchecked was left in the PKI folder\n`,
  };
}

/** kubepki's own errors by kind and exit code; anything else is a bug, printed with its stack
 *  (for one raised inside a step: the step and the stack of the original). */
export function errorReport(e: unknown, version: string): ErrorReport {
  if (e instanceof KubepkiError) {
    const kind = e instanceof UsageError ? 'usage' : e instanceof SpecError ? 'spec' : e instanceof StepError ? 'step' : 'environment';
    return {
      doc: { kind, message: e.message, details: e.details, ...(e instanceof StepError ? { step: e.stepId } : {}) },
      exitCode: e.exitCode,
      text: `kubepki: error: ${e.message}\n${e.details.map((d) => `  ${d}\n`).join('')}`,
    };
  }
  const inStep = e instanceof InternalError ? e : undefined;
  const cause = inStep ? inStep.cause : e;
  const stack = (cause as Error)?.stack ?? String(cause);
  return {
    doc: { kind: 'internal', message: inStep ? inStep.message : String((cause as Error)?.message ?? cause), details: [], ...(inStep ? { step: inStep.stepId } : {}), stack },
    exitCode: 1,
    text: `kubepki: internal error (a bug in kubepki ${version}; please report it with this output):\n${inStep ? `in step ${inStep.stepId}:\n` : ''}${stack}\n`,
  };
}
