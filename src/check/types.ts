// A step's checks as data: what each output must be. The plan attaches them to its steps (and
// `plan --json` prints them); the runner evaluates them after each step, and incremental
// generate and verify judge the files on disk by the same checks.
import type { KeyWant } from './rules.js';

/** a private key on disk and what it must be */
export interface KeyRef extends KeyWant {
  file: string;
}

export type Check =
  /** a private key of this algorithm and size, mode 0600 */
  | ({ kind: 'key' } & KeyRef)
  /** a request for catalogue row `row`, self-signed by `key` */
  | { kind: 'csr'; file: string; row: string; key: KeyRef }
  /** a certificate for row `row`, of `key`, signed by the certificate `signer` (none: self-signed),
   *  valid for `days` from now when just made */
  | { kind: 'cert'; file: string; row: string; key: KeyRef; signer?: string; days: number }
  /** a CA's serial file that holds the serial of the certificate `cert` just signed */
  | { kind: 'serial'; file: string; cert: string }
  /** the public half of the private key `key` */
  | { kind: 'public-of'; file: string; key: string }
  /** a kubeconfig that holds the text rendered for it, embedding each file as read */
  | { kind: 'kubeconfig'; file: string }
  /** a file kubepki writes itself: holds what was written */
  | { kind: 'written'; file: string };

export type CheckKind = Check['kind'];
export type CheckOf<K extends CheckKind> = Extract<Check, { kind: K }>;

/** the check of this kind among a step's (or a unit's) checks */
export function checkOf<K extends CheckKind>(checks: readonly Check[], kind: K): CheckOf<K> | undefined {
  return checks.find((c): c is CheckOf<K> => c.kind === kind);
}
