#!/usr/bin/env bash
# kubepki at scale (issue 6): wall time, cost per node and peak RSS for growing node counts.
#
#   scripts/scale.sh                 SIZES="100 500 1000" by default
#
# Each size: a spec of N nodes (the documented master, nodes node-1..node-N), one
# `kubepki generate` into a fresh empty folder, default --jobs (the CPUs). Peak RSS is kubepki's
# own process (process.resourceUsage().maxRSS, written to the KUBEPKI_TRACE file; the openssl
# children are not in it). The per-node columns show whether anything grows with the node count:
# the cost per node should stay flat, and the memory per extra node should stay near what
# manifest.json (built in memory, allowed to grow) and the plan's own step list take.
#
# Environment: SIZES; OPENSSL (system: openssl on PATH; a track of scripts/openssl/fetch.sh such
# as 3.5; or a path to an openssl binary), KEEP=1 keeps the folders, NO_BUILD=1 uses dist/ as it is.
set -euo pipefail

ROOT=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
SIZES=${SIZES:-100 500 1000}
CLI=$ROOT/dist/cli.js
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
openssl_bin "${OPENSSL:-system}" || { echo "scale: OPENSSL: $OPENSSL_ERR" >&2; exit 2; }
if [[ ${NO_BUILD:-0} != 1 ]]; then (cd "$ROOT" && npm run build --silent); fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kubepki-scale.XXXXXX")
# a failed run leaves $WORK/failed, and the folder stays for its log
[[ ${KEEP:-0} == 1 ]] || trap '[[ -e $WORK/failed ]] || rm -rf "$WORK"' EXIT
private_cli


echo "kubepki scale run: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $("$OPENSSL_BIN" version | cut -d' ' -f1-2), node $(node --version)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%6s %7s %9s %12s %11s %11s %13s %10s\n' nodes keys wall "s per node" "peak RSS" "manifest" "kubepki CPU" overhead
first_n="" first_rss=""
for n in $SIZES; do
  spec_of "$n" "$WORK/spec-$n.yaml"
  out=$WORK/pki-$n
  t0=$EPOCHREALTIME
  KUBEPKI_TRACE=$WORK/trace-$n.json "$CLI" generate --openssl "$OPENSSL_BIN" --spec "$WORK/spec-$n.yaml" --out "$out" >"$WORK/log-$n" 2>&1 || { echo "scale: kubepki failed at $n nodes, see $WORK/log-$n" >&2; touch "$WORK/failed"; exit 1; }
  t1=$EPOCHREALTIME
  ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
  cp=$(node "$ROOT/scripts/critical-path.mjs" "$WORK/trace-$n.json" "$ms")
  read -r rss cpu over < <(node -e 'const c=JSON.parse(process.argv[1]); console.log(c.maxRSSKiB, c.cpuMs, c.overheadPct)' "$cp")
  man=$(stat -c %s "$out/manifest.json")
  keys=$(find "$out" -name '*.key' -not -path '*/.kubepki/*' | wc -l)
  printf '%6s %7s %7.1f s %10.3f s %8.1f MiB %7.1f MiB %10.1f s %9s%%\n' "$n" "$keys" "$(awk -v m="$ms" 'BEGIN { print m / 1000 }')" \
    "$(awk -v m="$ms" -v n="$n" 'BEGIN { print m / 1000 / n }')" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
    "$(awk -v b="$man" 'BEGIN { print b / 1048576 }')" "$(awk -v c="$cpu" 'BEGIN { print c / 1000 }')" "$over"
  if [[ -z $first_n ]]; then
    first_n=$n first_rss=$rss
  else
    echo "        peak RSS from $first_n to $n nodes: +$(awk -v a="$first_rss" -v b="$rss" -v n0="$first_n" -v n="$n" 'BEGIN { printf "%.1f KiB per extra node", (b - a) / (n - n0) }')"
  fi
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$out"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
