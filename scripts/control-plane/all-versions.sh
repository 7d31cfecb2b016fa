#!/usr/bin/env bash
# Runs the control-plane test (tests/integration/control-plane.test.ts) against every Kubernetes
# version of scripts/control-plane/versions (or the versions given), building each as needed, and
# prints a table: version, build, tests passed/failed, and the first failure.
#   scripts/control-plane/all-versions.sh            every "k8s" line of the versions file
#   scripts/control-plane/all-versions.sh 1.35 1.37  those (newest patch release of each)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

if (($#)); then versions=("$@"); else mapfile -t versions < <(awk '$1=="k8s"{print $2}' "$here/versions"); fi
results=$(mktemp -d "${TMPDIR:-/tmp}/kubepki-all-versions.XXXXXX")
trap 'rm -rf "$results"' EXIT

npm run build --silent || { echo "all-versions: npm run build failed" >&2; exit 1; }
export NODE_OPTIONS=--experimental-vm-modules
rows=()
status=0
for v in "${versions[@]}"; do
  echo "=== Kubernetes $v" >&2
  bstart=$(date +%s)
  if ! nice -n 10 bash "$here/build.sh" "$v" >&2; then
    rows+=("| $v | build failed | - | - | - | see the build output above |")
    status=1
    continue
  fi
  btime=$(( $(date +%s) - bstart ))
  tstart=$(date +%s)
  KUBEPKI_CP_VERSION=$v npx jest tests/integration/control-plane.test.ts --json --outputFile="$results/$v.json" >&2
  rc=$?
  ttime=$(( $(date +%s) - tstart ))
  row=$(node -e '
    const fs = require("fs");
    const [file, v, b, t] = process.argv.slice(1);
    let passed = 0, failed = 0, first = "";
    if (fs.existsSync(file)) {
      const r = JSON.parse(fs.readFileSync(file, "utf8"));
      passed = r.numPassedTests;
      failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
      for (const s of r.testResults) {
        if (!first && s.message && !s.assertionResults.some((a) => a.status === "failed")) first = s.message;
        for (const a of s.assertionResults) if (!first && a.status === "failed") first = `${a.title}: ${a.failureMessages.join(" ")}`;
      }
    } else failed = 1, first = "jest wrote no results";
    first = first.replace(/\x1b\[[0-9;]*m/g, "").replace(/\s+/g, " ").replace(/\|/g, "/").slice(0, 200);
    console.log(`| ${v} | ${b}s | ${passed} | ${failed} | ${t}s | ${first || "-"} |`);
  ' "$results/$v.json" "$v" "$btime" "$ttime")
  rows+=("$row")
  [ "$rc" = 0 ] || status=1
done

echo
echo "| Kubernetes | build (this run) | passed | failed | test time | first failure |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$status"
