// Specs for the unit tests: one with every kind of entry, and the problems a spec text is refused
// with, for the tests of the spec's rules.
import { SpecError } from '../../src/errors.js';
import { parseSpecText } from '../../src/spec/load.js';

/** Every problem of a spec that must be refused (an accepted spec fails the test). */
export function specProblems(yaml: string): string[] {
  try {
    parseSpecText(yaml, 'test.yaml');
  } catch (e) {
    if (e instanceof SpecError) return e.problems;
    throw e;
  }
  throw new Error('spec was accepted');
}

/** A spec with every kind of entry: two nodes, an extra client, TLS etcd members, front proxy. */
export const FULL = parseSpecText(
  `master: { hostname: cp-1, ip: 10.0.0.1 }
nodes: [{ name: n1, ip: 10.0.0.2 }, { name: n2, ip: 10.0.0.3 }]
clients: [{ name: ci-bot, cn: ci-bot, organizations: [ci, deployers] }]
etcd: { mode: tls, members: [{ name: e1, ip: 10.0.0.11 }, { name: e2, ip: 10.0.0.12 }] }
frontProxy: true
`,
  'full.yaml',
);
