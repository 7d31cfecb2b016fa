// The problems a spec text is refused with, for the tests of the spec's rules.
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
