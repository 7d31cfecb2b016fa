#!/usr/bin/env bash
# `npm test`: installs what the tests need (deps.sh), builds, runs the whole suite, then the unit
# suite again with the clock two years ahead (faketime), so that a test that depends on today's
# date fails today rather than on the day it breaks. Extra arguments go to the first jest run.
# Writes jest's --json results to .test-results/ and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
bash scripts/test/deps.sh
npm run build --silent || { echo "0 passed, 1 failed"; exit 1; }
rm -rf .test-results && mkdir -p .test-results
export NODE_OPTIONS=--experimental-vm-modules
npx jest --json --outputFile=.test-results/all.json "$@"
s1=$?
if command -v faketime >/dev/null; then
  echo "--- the unit suite with the clock two years ahead (faketime -f +730d)"
  faketime -f '+730d' npx jest tests/unit --json --outputFile=.test-results/future.json
  s2=$?
else
  echo "faketime is missing: the unit suite could not run with the clock moved ahead" >&2
  s2=1
fi
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  for (const f of ["all", "future"]) {
    const p = `.test-results/${f}.json`;
    if (!fs.existsSync(p)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(p, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  }
  console.log(`${passed} passed, ${failed} failed`);
'
[ "$s1" = 0 ] && [ "$s2" = 0 ]
