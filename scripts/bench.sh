#!/usr/bin/env bash
# kubepki against the documented openssl commands run by hand (issue 6).
#
#   scripts/bench.sh            ROUNDS=5 by default; run it on a quiet machine
#
# Workloads, each run ROUNDS times; in every round the three contenders run one after another,
# in an order that rotates from round to round, each in a fresh empty folder:
#   W1  the default cluster: `kubepki generate` with the embedded spec (CA, apiserver, four
#       clients, one kubelet, the service-account key: 8 keys) against the reference scripts
#       with NODES=1 (the same certificates, 7 keys: no service-account key).
#   W2  200 kubelets: kubepki with a spec of 200 nodes against the scripts with NODES=200.
#       Like with like: kubepki always makes the CA, the apiserver cert and the four clients too,
#       so by default the scripts make them as well (their default mode: 206 certificates each;
#       kubepki also makes the service-account key, 200 kubeconfigs and the flag files).
#       W2_SCRIPTS=nodes-only runs the scripts with --nodes-only instead (the issue's 'CA + 200
#       kubelets' workload: 5 certificates fewer for the scripts than for kubepki).
# Contenders: kubepki as the installed command runs it (dist/cli.js executed: its sh launcher starts
# node without NODE_EXTRA_CA_CERTS; default --jobs: the CPUs), baseline-seq.sh,
# baseline-par.sh --seq-sign (JOBS: the CPUs). Wall time from bash's $EPOCHREALTIME around
# each command.
#
# kubepki's overhead: its wall time minus the openssl processes on its critical path, from the
# trace it writes under KUBEPKI_TRACE (see scripts/critical-path.mjs).
#
# Environment: ROUNDS (5; W1_ROUNDS and W2_ROUNDS override it per workload: RSA key generation
# is noisy, and W1 is short enough for many rounds), BENCH_DIR (default: ../shared/bench beside the repository),
# WORKLOADS ("W1 W2"), W2_NODES (200), W2_SCRIPTS (full | nodes-only), KEEP=1 keeps the folders,
# NO_BUILD=1 uses dist/ as it is (default: npm run build first).
set -euo pipefail

ROOT=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
ROUNDS=${ROUNDS:-5}
WORKLOADS=${WORKLOADS:-W1 W2}
W2_NODES=${W2_NODES:-200}
W2_SCRIPTS=${W2_SCRIPTS:-full}
CLI=$ROOT/dist/cli.js

for f in baseline-seq.sh baseline-par.sh; do
  [[ -f $BENCH_DIR/$f ]] || { echo "bench: $BENCH_DIR/$f not found (set BENCH_DIR to the folder of the reference scripts)" >&2; exit 2; }
done
case $W2_SCRIPTS in full | nodes-only) ;; *) echo "bench: W2_SCRIPTS must be full or nodes-only" >&2; exit 2 ;; esac
W1_ROUNDS=${W1_ROUNDS:-$ROUNDS}
W2_ROUNDS=${W2_ROUNDS:-$ROUNDS}
for n in "$ROUNDS" "$W1_ROUNDS" "$W2_ROUNDS"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROUNDS, W1_ROUNDS and W2_ROUNDS must be positive numbers" >&2; exit 2; }
done
rounds_of() { if [[ $1 == W1 ]]; then echo "$W1_ROUNDS"; else echo "$W2_ROUNDS"; fi; }
if [[ ${NO_BUILD:-0} != 1 ]]; then (cd "$ROOT" && npm run build --silent); fi
[[ -f $CLI ]] || { echo "bench: $CLI missing: npm run build" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kubepki-bench.XXXXXX")
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$WORK"' EXIT
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
private_cli

spec_of "$W2_NODES" "$WORK/w2.yaml"

# elapsed ms between two $EPOCHREALTIME readings (taken in this shell: no process in between)
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# run_one WORKLOAD CONTENDER DIR -> prints the wall ms; kubepki also leaves DIR.trace
run_one() {
  local w=$1 who=$2 dir=$3 t0 t1 nodes=1 mode=()
  if [[ $w == W2 ]]; then
    nodes=$W2_NODES
    [[ $W2_SCRIPTS == nodes-only ]] && mode=(--nodes-only)
  fi
  local spec=()
  [[ $w == W2 ]] && spec=(--spec "$WORK/w2.yaml")
  t0=$EPOCHREALTIME
  case $who in
    kubepki) KUBEPKI_TRACE=$dir.trace "$CLI" generate --out "$dir" "${spec[@]}" >"$dir.log" 2>&1 || { echo "bench: kubepki failed, see $dir.log" >&2; KEEP=1; exit 1; } ;;
    seq) bash "$BENCH_DIR/baseline-seq.sh" "${mode[@]}" "$dir" "$nodes" >"$dir.log" 2>&1 || { echo "bench: baseline-seq.sh failed, see $dir.log" >&2; exit 1; } ;;
    par) bash "$BENCH_DIR/baseline-par.sh" --seq-sign "${mode[@]}" "$dir" "$nodes" >"$dir.log" 2>&1 || { echo "bench: baseline-par.sh failed, see $dir.log" >&2; exit 1; } ;;
  esac
  t1=$EPOCHREALTIME
  elapsed_ms "$t0" "$t1"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.0f", a[(NR + 1) / 2]; else printf "%.0f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
secs() { awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "kubepki benchmark: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "  kubepki $("$CLI" --version | awk '{print $2}') at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (+ uncommitted src changes)'), node $(node --version)"
echo "  machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(openssl version)"
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# node's own start, which every kubepki run pays: median of 9 `node -e 0`
node_start() { local i t0 t1; for ((i = 0; i < 9; i++)); do t0=$EPOCHREALTIME; "$@" node -e 0; t1=$EPOCHREALTIME; elapsed_ms "$t0" "$t1"; echo; done | median; }
if [[ -n ${NODE_EXTRA_CA_CERTS:-} ]]; then
  echo "  node -e 0: $(node_start) ms here with NODE_EXTRA_CA_CERTS (set in this environment; node 20 parses that file at every start),"
  echo "    $(node_start env -u NODE_EXTRA_CA_CERTS) ms without it: kubepki's launcher (dist/cli.js line 2) starts node without it"
else
  echo "  node -e 0: $(node_start) ms"
fi
echo "  rounds:$(for w in $WORKLOADS; do echo -n " $w $(rounds_of "$w")"; done), contenders alternate (order rotates every round), fresh empty folder for each run"
[[ " $WORKLOADS " == *" W1 "* ]] && echo "  W1: default cluster: kubepki default spec (8 keys: + service-account key) vs scripts NODES=1 (7 keys)"
if [[ " $WORKLOADS " != *" W2 "* ]]; then
  :
elif [[ $W2_SCRIPTS == full ]]; then
  echo "  W2: $W2_NODES kubelets, like with like: kubepki spec of $W2_NODES nodes vs scripts NODES=$W2_NODES in their default mode;"
  echo "      both make CA + apiserver + 4 clients + $W2_NODES kubelets ($((W2_NODES + 6)) certificates); kubepki also the SA key, kubeconfigs, flags, manifest"
else
  echo "  W2: $W2_NODES kubelets: kubepki spec of $W2_NODES nodes vs scripts --nodes-only $W2_NODES"
  echo "      (kubepki also makes the apiserver cert, 4 clients and the SA key: 6 keys more than the scripts)"
fi
echo

declare -A times over
for w in $WORKLOADS; do
  [[ $w == W1 || $w == W2 ]] || { echo "bench: unknown workload $w" >&2; exit 2; }
  order=(kubepki seq par)
  for ((r = 1; r <= $(rounds_of "$w"); r++)); do
    line="$w round $r:"
    for ((k = 0; k < 3; k++)); do
      who=${order[$(((k + r - 1) % 3))]}
      dir=$WORK/$w-$r-$who
      ms=$(run_one "$w" "$who" "$dir")
      times[$w.$who]+="$ms "
      if [[ $who == kubepki ]]; then
        cp=$(node "$ROOT/scripts/critical-path.mjs" "$dir.trace" "$ms")
        o=$(node -e 'const c=JSON.parse(process.argv[1]); process.stdout.write(`${c.overheadMs} ${c.overheadPct}`)' "$cp")
        over[$w]+="${o#* } "
        line+="  kubepki $(secs "$ms") s (overhead $(secs "${o% *}") s = ${o#* } %)"
      else
        line+="  baseline-$who $(secs "$ms") s"
      fi
      [[ ${KEEP:-0} == 1 ]] || rm -rf "$dir" "$dir.log" "$dir.trace"
    done
    echo "$line"
  done
  echo
done

echo "medians (wall time):"
printf '  %-4s %6s %10s %14s %14s %12s %12s %10s\n' "" rounds kubepki baseline-seq baseline-par "kp/seq" "kp/par" overhead
for w in $WORKLOADS; do
  k=$(tr ' ' '\n' <<<"${times[$w.kubepki]}" | grep . | median)
  s=$(tr ' ' '\n' <<<"${times[$w.seq]}" | grep . | median)
  p=$(tr ' ' '\n' <<<"${times[$w.par]}" | grep . | median)
  o=$(tr ' ' '\n' <<<"${over[$w]}" | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  printf '  %-4s %6s %8s s %12s s %12s s %11s× %11s× %9s%%\n' "$w" "$(rounds_of "$w")" "$(secs "$k")" "$(secs "$s")" "$(secs "$p")" "$(ratio "$k" "$s")" "$(ratio "$k" "$p")" "$o"
done
echo "targets: W1 ≤ 0.85× seq and ≤ 1.10× par; W2 ≤ 0.70× seq and ≤ 1.10× par; overhead ≤ 10 %"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
