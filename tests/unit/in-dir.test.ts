// inDir is path.join without the second normalization, for the folders and relative paths that
// runs join: for them it must give exactly path.join's string, and anything else goes to path.join.
import path from 'node:path';
import { buildPlan } from '../../src/plan/plan.js';
import { inDir } from '../../src/run/fsutil.js';
import { FULL } from '../helpers/spec.js';

test("every path a plan reads or writes joins to path.join's string under every kind of base", () => {
  const plan = buildPlan(FULL);
  const rels = new Set(plan.steps.flatMap((s) => [...s.reads, ...s.outputs.map((o) => o.path)]));
  expect(rels.size).toBeGreaterThan(30);
  expect([...rels].some((r) => r.includes('/'))).toBe(true);
  for (const base of ['/', '/tmp/pki', '/tmp/pki/.kubepki/tmp/stage-abc123', '/a b/c\'d']) for (const r of rels) expect(inDir(base, r)).toBe(path.join(base, r));
});

test('paths that path.join would change are left to it', () => {
  for (const r of ['', '.', './a', 'a/./b', 'a/../b', '../x', 'a//b', 'a/', '/abs', '.hidden', 'a/.b']) {
    expect(inDir('/base', r)).toBe(path.join('/base', r));
  }
});
