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
