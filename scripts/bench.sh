#!/usr/bin/env bash
# kubepki against the documented openssl commands run by hand, on the machine's OpenSSL and on
# 3.5, with cfssl and easy-rsa as peers on the default cluster.
#
#   scripts/bench.sh            W1_ROUNDS=11 W2_ROUNDS=3 by default; run it on a quiet machine
#
# Workloads, each run for a number of rounds; in every round all contenders run one after
# another, in an order that rotates from round to round, each in a fresh empty folder:
#   W1  the default cluster: `kubepki generate` with the embedded spec (CA, apiserver, four
#       clients, one kubelet, the service-account key: 8 keys) against the reference scripts
#       with --with-sa and NODES=1 (the same 8 keys).
#   W2  200 kubelets: kubepki with a spec of 200 nodes against the scripts with --with-sa and
#       NODES=200. Like with like: kubepki always makes the CA, the apiserver cert and the four
#       clients too, so by default the scripts make them as well (their default mode: 206
#       certificates and the service-account key each; kubepki also writes 200 kubeconfigs and
#       the flag files). W2_SCRIPTS=nodes-only runs the scripts with --nodes-only instead (the
#       'CA + 200 kubelets' workload: 5 certificates fewer for the scripts than for kubepki).
# Every workload runs on each OpenSSL of OPENSSLS: kubepki gets `--openssl BIN`; the scripts and
# easy-rsa find `openssl` first on PATH, in a folder that holds only a link named openssl to BIN.
# Contenders: kubepki as the installed command runs it (dist/cli.js executed: its sh launcher
# starts node without NODE_EXTRA_CA_CERTS; default --jobs: the CPUs), baseline-seq.sh --with-sa,
# baseline-par.sh --seq-sign --with-sa (JOBS: the CPUs); on W1 also the peers of PEERS, one
# command after another as their documentation shows (scripts/bench-peers/): cfssl (Go's crypto,
# so one run a round, whatever OPENSSLS says) and easy-rsa (on each OpenSSL). Wall time from
# bash's $EPOCHREALTIME around each command. Every ratio is against baseline-par --seq-sign
# --with-sa on the same OpenSSL, from the medians; each ratio target also gets a 95 % bootstrap
# interval over the rounds (see ratio_interval).
#
# kubepki's overhead: its wall time minus the openssl processes on its critical path, from the
# trace it writes under KUBEPKI_TRACE (see scripts/critical-path.mjs). Its own CPU: the CPU time
# of its node process (user + system, openssl's children not counted; cpuMs in the trace) divided
# by the certificates it made.
#
# Environment: W1_ROUNDS (11) and W2_ROUNDS (3), ROUNDS sets both; OPENSSLS ("system 3.5"; each
# is `system` (openssl on PATH), a track of scripts/openssl/fetch.sh (3.5: the Debian build it
# unpacks under $KUBEPKI_CACHE, default ~/.cache/kubepki) or a path to an openssl binary);
# PEERS ("cfssl easy-rsa", "" for none; Debian packages golang-cfssl and easy-rsa); BENCH_DIR
# (default: ../shared/bench beside the repository, or beside its main checkout for a git
# worktree); WORKLOADS ("W1 W2"), W2_NODES (200), W2_SCRIPTS (full | nodes-only); KEEP=1 keeps
# the folders; NO_BUILD=1 uses dist/ as it is (default: npm run build first).
set -euo pipefail

ROOT=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
# beside the repository; for a git worktree, beside its main checkout
BENCH_DIR=${BENCH_DIR:-$(dirname "$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir)")/../shared/bench}
PEER_DIR=$ROOT/scripts/bench-peers
WORKLOADS=${WORKLOADS:-W1 W2}
W2_NODES=${W2_NODES:-200}
W2_SCRIPTS=${W2_SCRIPTS:-full}
OPENSSLS=${OPENSSLS-system 3.5}
PEERS=${PEERS-cfssl easy-rsa}
CLI=$ROOT/dist/cli.js
# the targets: rounds a median needs, and the bounds
W1_MIN_ROUNDS=11 W2_MIN_ROUNDS=3
TARGET_PAR=1.05 TARGET_CPU_MS=10 TARGET_OVERHEAD_PCT=5

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

for f in baseline-seq.sh baseline-par.sh; do
  [[ -f $BENCH_DIR/$f ]] || { echo "bench: $BENCH_DIR/$f not found (set BENCH_DIR to the folder of the reference scripts)" >&2; exit 2; }
  grep -q -- '--with-sa' "$BENCH_DIR/$f" || { echo "bench: $BENCH_DIR/$f has no --with-sa (the service-account key pair): update the reference scripts" >&2; exit 2; }
done
case $W2_SCRIPTS in full | nodes-only) ;; *) echo "bench: W2_SCRIPTS must be full or nodes-only" >&2; exit 2 ;; esac
W1_ROUNDS=${W1_ROUNDS:-${ROUNDS:-$W1_MIN_ROUNDS}}
W2_ROUNDS=${W2_ROUNDS:-${ROUNDS:-$W2_MIN_ROUNDS}}
for n in "$W1_ROUNDS" "$W2_ROUNDS"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROUNDS, W1_ROUNDS and W2_ROUNDS must be positive numbers" >&2; exit 2; }
done
for w in $WORKLOADS; do [[ $w == W1 || $w == W2 ]] || { echo "bench: unknown workload $w (W1, W2)" >&2; exit 2; }; done
for p in $PEERS; do
  case $p in
    cfssl) command -v cfssl >/dev/null && command -v cfssljson >/dev/null || { echo "bench: cfssl and cfssljson not found (Debian: apt-get install golang-cfssl; or PEERS= without cfssl)" >&2; exit 2; } ;;
    easy-rsa) [[ -x ${EASYRSA:-/usr/share/easy-rsa/easyrsa} ]] || { echo "bench: ${EASYRSA:-/usr/share/easy-rsa/easyrsa} not found (Debian: apt-get install easy-rsa; or PEERS= without easy-rsa)" >&2; exit 2; } ;;
    *) echo "bench: unknown peer $p (cfssl, easy-rsa)" >&2; exit 2 ;;
  esac
done
rounds_of() { if [[ $1 == W1 ]]; then echo "$W1_ROUNDS"; else echo "$W2_ROUNDS"; fi; }
min_rounds_of() { if [[ $1 == W1 ]]; then echo "$W1_MIN_ROUNDS"; else echo "$W2_MIN_ROUNDS"; fi; }
has_peer() { [[ " $PEERS " == *" $1 "* ]]; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kubepki-bench.XXXXXX")
# a failed run leaves $WORK/failed, and the folders stay for its log
[[ ${KEEP:-0} == 1 ]] || trap '[[ -e $WORK/failed ]] || rm -rf "$WORK"' EXIT

# the OpenSSLs: TB binary, TV version ("3.0.19"), TL label ("3.0"), TP the folder put first on PATH
TB=() TV=() TL=() TP=()
for what in $OPENSSLS; do
  openssl_bin "$what" || { echo "bench: OPENSSLS: $OPENSSL_ERR (OPENSSLS=system runs on the machine's OpenSSL alone)" >&2; exit 2; }
  bin=$OPENSSL_BIN
  v=$("$bin" version | awk '{ print $2 }')
  l=$(cut -d. -f1-2 <<<"$v")
  dup=''
  for x in "${TL[@]}"; do [[ $x == "$l" ]] && dup=1; done
  if [[ -n $dup ]]; then echo "bench: OPENSSLS: $what is OpenSSL $v, a $l already in the run: left out" >&2; continue; fi
  i=${#TB[@]}
  mkdir -p "$WORK/openssl-$i"
  ln -s "$bin" "$WORK/openssl-$i/openssl"
  TB+=("$bin") TV+=("$v") TL+=("$l") TP+=("$WORK/openssl-$i")
done
((${#TB[@]} > 0)) || { echo "bench: OPENSSLS names no OpenSSL" >&2; exit 2; }
TRACKS=$(seq 0 $((${#TB[@]} - 1)))

if [[ ${NO_BUILD:-0} != 1 ]]; then (cd "$ROOT" && npm run build --silent); fi
[[ -f $CLI ]] || { echo "bench: $CLI missing: npm run build" >&2; exit 2; }
private_cli

spec_of "$W2_NODES" "$WORK/w2.yaml"

# elapsed ms between two $EPOCHREALTIME readings (taken in this shell: no process in between)
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# failed WHAT LOG: say so, keep the folders, stop
failed() { echo "bench: $1 failed, see $2; its end:" >&2; tail -n 5 "$2" | sed 's/^/  /' >&2; touch "$WORK/failed"; exit 1; }

# run_one WORKLOAD CONTENDER TRACK DIR -> prints the wall ms; kubepki also leaves DIR.trace
run_one() {
  local w=$1 who=$2 t=$3 dir=$4 t0 t1 nodes=1 mode=() spec=() path=${TP[$3]}:$PATH
  if [[ $w == W2 ]]; then
    nodes=$W2_NODES
    spec=(--spec "$WORK/w2.yaml")
    [[ $W2_SCRIPTS == nodes-only ]] && mode=(--nodes-only)
  fi
  t0=$EPOCHREALTIME
  case $who in
    kubepki) KUBEPKI_TRACE=$dir.trace "$CLI" generate --out "$dir" "${spec[@]}" --openssl "${TB[$t]}" >"$dir.log" 2>&1 || failed kubepki "$dir.log" ;;
    seq) PATH=$path bash "$BENCH_DIR/baseline-seq.sh" --with-sa "${mode[@]}" "$dir" "$nodes" >"$dir.log" 2>&1 || failed baseline-seq.sh "$dir.log" ;;
    par) PATH=$path bash "$BENCH_DIR/baseline-par.sh" --seq-sign --with-sa "${mode[@]}" "$dir" "$nodes" >"$dir.log" 2>&1 || failed baseline-par.sh "$dir.log" ;;
    easy-rsa) PATH=$path bash "$PEER_DIR/easy-rsa.sh" "$dir" >"$dir.log" 2>&1 || failed easy-rsa "$dir.log" ;;
    cfssl) bash "$PEER_DIR/cfssl.sh" "$dir" >"$dir.log" 2>&1 || failed cfssl "$dir.log" ;;
  esac
  t1=$EPOCHREALTIME
  elapsed_ms "$t0" "$t1"
}

# the contenders of a workload, as WHO/TRACK (cfssl: no track), the OpenSSLs interleaved
contenders_of() {
  local w=$1 t
  for t in $TRACKS; do echo "kubepki/$t par/$t"; done
  for t in $TRACKS; do echo "seq/$t"; done
  if [[ $w == W1 ]]; then
    if has_peer easy-rsa; then for t in $TRACKS; do echo "easy-rsa/$t"; done; fi
    if has_peer cfssl; then echo "cfssl/-"; fi
  fi
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.0f", a[(NR + 1) / 2]; else printf "%.0f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
median1() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.1f", a[(NR + 1) / 2]; else printf "%.1f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
med1() { tr ' ' '\n' <<<"$1" | grep . | median1; }
secs() { awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# verdict VALUE BOUND -> met | not met (VALUE <= BOUND)
verdict() { awk -v v="$1" -v b="$2" 'BEGIN { print (v <= b) ? "met" : "not met" }'; }
label() { case $1 in kubepki) echo kubepki ;; seq) echo baseline-seq ;; par) echo baseline-par ;; *) echo "$1" ;; esac; }

echo "kubepki benchmark: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "  kubepki $("$CLI" --version | awk '{print $2}') at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (+ uncommitted src changes)'), node $(node --version)"
echo "  machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
for t in $TRACKS; do echo "  OpenSSL ${TL[$t]}: ${TB[$t]}: $("${TB[$t]}" version)"; done
if has_peer cfssl; then echo "  peer cfssl: $(cfssl version | awk '/^Version/ { print $2 }') ($(command -v cfssl), Go's crypto: no openssl process; one run a round)"; fi
if has_peer easy-rsa; then echo "  peer easy-rsa: $("${EASYRSA:-/usr/share/easy-rsa/easyrsa}" --version | awk '/^Version/ { print $2 }') (${EASYRSA:-/usr/share/easy-rsa/easyrsa}, on each OpenSSL)"; fi
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "  load average at start: $load0"
if awk -v l="${load0%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > 1.5 * n) }'; then
  echo "  warning: the machine is busy (load ${load0%% *} on $(nproc) CPUs): these numbers are not a result; run it on a quiet machine"
fi
# node's own start, which every kubepki run pays: median of 9 `node -e 0`
node_start() { local i t0 t1; for ((i = 0; i < 9; i++)); do t0=$EPOCHREALTIME; "$@" node -e 0; t1=$EPOCHREALTIME; elapsed_ms "$t0" "$t1"; echo; done | median; }
if [[ -n ${NODE_EXTRA_CA_CERTS:-} ]]; then
  echo "  node -e 0: $(node_start) ms here with NODE_EXTRA_CA_CERTS (set in this environment; node 20 parses that file at every start),"
  echo "    $(node_start env -u NODE_EXTRA_CA_CERTS) ms without it: kubepki's launcher (dist/cli.js line 2) starts node without it"
else
  echo "  node -e 0: $(node_start) ms"
fi
echo "  rounds:$(for w in $WORKLOADS; do echo -n " $w $(rounds_of "$w")"; done), contenders alternate (order rotates every round), fresh empty folder for each run"
if [[ " $WORKLOADS " == *" W1 "* ]]; then
  echo "  W1: default cluster: kubepki default spec vs scripts --with-sa NODES=1: both 8 keys (CA, apiserver, 4 clients, 1 kubelet, service-account key)"
  [[ -z $PEERS ]] || echo "      peers (scripts/bench-peers/): the same certificates and the service-account key; no sa.pub (neither exports a public key)"
fi
if [[ " $WORKLOADS " != *" W2 "* ]]; then
  :
elif [[ $W2_SCRIPTS == full ]]; then
  echo "  W2: $W2_NODES kubelets, like with like: kubepki spec of $W2_NODES nodes vs scripts --with-sa NODES=$W2_NODES in their default mode;"
  echo "      both make CA + apiserver + 4 clients + $W2_NODES kubelets ($((W2_NODES + 6)) certificates) + the SA key; kubepki also kubeconfigs, flags, manifest"
else
  echo "  W2: $W2_NODES kubelets: kubepki spec of $W2_NODES nodes vs scripts --with-sa --nodes-only $W2_NODES"
  echo "      (kubepki also makes the apiserver cert and 4 clients: 5 certificates more than the scripts)"
fi
echo

# times[W.WHO.TRACK]: wall ms per round; overms/overpct/cpucert[W.TRACK]: kubepki's, per round
declare -A times overms overpct cpucert ncerts
for w in $WORKLOADS; do
  read -r -a order <<<"$(contenders_of "$w" | tr '\n' ' ')"
  n=${#order[@]}
  for ((r = 1; r <= $(rounds_of "$w"); r++)); do
    line="$w round $r:"
    for ((k = 0; k < n; k++)); do
      c=${order[$(((k + r - 1) % n))]}
      who=${c%/*} t=${c#*/}
      dir=$WORK/$w-$r-$who-$t
      ms=$(run_one "$w" "$who" "${t/-/0}" "$dir")
      times[$w.$who.$t]+="$ms "
      name=$(label "$who")
      [[ $t == - ]] || name+=" ${TL[$t]}"
      if [[ $who == kubepki ]]; then
        certs=$(find "$dir" -name '*.crt' -not -path '*/.kubepki/*' | wc -l)
        cp=$(node "$ROOT/scripts/critical-path.mjs" "$dir.trace" "$ms")
        read -r oms opct cpu <<<"$(node -e 'const c=JSON.parse(process.argv[1]); console.log(c.overheadMs, c.overheadPct, c.cpuMs)' "$cp")"
        pc=$(awk -v c="$cpu" -v n="$certs" 'BEGIN { printf "%.1f", c / n }')
        overms[$w.$t]+="$oms " overpct[$w.$t]+="$opct " cpucert[$w.$t]+="$pc " ncerts[$w.$t]=$certs
        line+="  $name $(secs "$ms") s (overhead $(secs "$oms") s = $opct %, CPU $pc ms/cert)"
      else
        line+="  $name $(secs "$ms") s"
      fi
      [[ ${KEEP:-0} == 1 ]] || rm -rf "$dir" "$dir.log" "$dir.trace"
    done
    echo "$line"
  done
  echo
done

# the medians, computed once: m[W.WHO.TRACK] (cfssl under each track's key too, for the ratios)
declare -A m
for w in $WORKLOADS; do
  for t in $TRACKS; do
    for who in kubepki seq par easy-rsa; do
      [[ -n ${times[$w.$who.$t]:-} ]] && m[$w.$who.$t]=$(med "${times[$w.$who.$t]}")
    done
    [[ -n ${times[$w.cfssl.-]:-} ]] && m[$w.cfssl.$t]=$(med "${times[$w.cfssl.-]}")
  done
done
cell_s() { if [[ -n ${m[$1]:-} ]]; then echo "$(secs "${m[$1]}") s"; else echo "—"; fi; }
cell_r() { if [[ -n ${m[$1]:-} ]]; then echo "$(ratio "${m[$1]}" "$2")×"; else echo "—"; fi; }

echo "medians (wall time):"
printf '  %-4s %-8s %6s %10s %14s %14s %10s %10s\n' "" openssl rounds kubepki baseline-seq baseline-par cfssl easy-rsa
for w in $WORKLOADS; do
  for t in $TRACKS; do
    printf '  %-4s %-8s %6s %10s %14s %14s %10s %10s\n' "$w" "${TV[$t]}" "$(rounds_of "$w")" "$(cell_s "$w.kubepki.$t")" "$(cell_s "$w.seq.$t")" \
      "$(cell_s "$w.par.$t")" "$(cell_s "$w.cfssl.$t")" "$(cell_s "$w.easy-rsa.$t")"
  done
done
echo "ratios against baseline-par --seq-sign --with-sa on the same OpenSSL (cfssl: one timing, against each):"
printf '  %-4s %-8s %10s %14s %10s %10s\n' "" openssl kubepki baseline-seq cfssl easy-rsa
for w in $WORKLOADS; do
  for t in $TRACKS; do
    p=${m[$w.par.$t]}
    printf '  %-4s %-8s %10s %14s %10s %10s\n' "$w" "${TV[$t]}" "$(cell_r "$w.kubepki.$t" "$p")" "$(cell_r "$w.seq.$t" "$p")" \
      "$(cell_r "$w.cfssl.$t" "$p")" "$(cell_r "$w.easy-rsa.$t" "$p")"
  done
done
echo "kubepki itself (medians): overhead on the critical path; its own CPU (node's process) per certificate:"
printf '  %-4s %-8s %10s %10s %14s\n' "" openssl overhead "" "CPU per cert"
for w in $WORKLOADS; do
  for t in $TRACKS; do
    printf '  %-4s %-8s %8s s %9s%% %11s ms  (%s certificates)\n' "$w" "${TV[$t]}" "$(secs "$(med "${overms[$w.$t]}")")" "$(med1 "${overpct[$w.$t]}")" \
      "$(med1 "${cpucert[$w.$t]}")" "${ncerts[$w.$t]}"
  done
done
echo

# a target's line: TEXT VALUE BOUND UNIT WORKLOAD [SPREAD]
target() {
  local v=$2 b=$3 w=$5 r note='' spread=${6:+ ($6)}
  r=$(rounds_of "$w")
  ((r >= $(min_rounds_of "$w"))) || note=" ($r round$( ((r > 1)) && echo s) of the ≥ $(min_rounds_of "$w") it asks for: no result)"
  echo "  $1: $v$4$spread, $(verdict "$v" "$b")$note"
}

# ratio_interval K_TIMES P_TIMES -> "LO–HI": the 95 % bootstrap interval of median(K)/median(P)
# over the rounds (2000 resamples of the round numbers; a round's two runs stay paired, as they
# ran minutes apart at most). How far the ratio of one run's medians can be from the machine's:
# on the default cluster, key generation's random duration moves it by more than the 5 % the
# target leaves. A fixed seed: the same rounds give the same interval.
ratio_interval() {
  awk -v a="$1" -v b="$2" '
    function sort(x, n,   i, j, t) { for (i = 2; i <= n; i++) { t = x[i]; for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]; x[j + 1] = t } }
    function med(x, n) { sort(x, n); return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }
    BEGIN {
      n = split(a, k, " "); split(b, p, " "); srand(1); B = 2000
      for (s = 1; s <= B; s++) {
        for (i = 1; i <= n; i++) { j = int(rand() * n) + 1; kk[i] = k[j]; pp[i] = p[j] }
        r[s] = med(kk, n) / med(pp, n)
      }
      sort(r, B)
      printf "%.2f–%.2f", r[int(B * 0.025) + 1], r[int(B * 0.975)]
    }'
}
echo "targets (medians of ≥ $W1_MIN_ROUNDS rounds for W1, ≥ $W2_MIN_ROUNDS for W2; ratios against baseline-par --seq-sign --with-sa;"
echo "  the verdict is on the ratio of the medians, the interval says how much that ratio moves with the rounds drawn):"
for w in $WORKLOADS; do
  for t in $TRACKS; do
    target "$w on OpenSSL ${TL[$t]}: kubepki ≤ ${TARGET_PAR}× baseline-par" "$(ratio "${m[$w.kubepki.$t]}" "${m[$w.par.$t]}")" "$TARGET_PAR" × "$w" \
      "95 % interval over the rounds: $(ratio_interval "${times[$w.kubepki.$t]}" "${times[$w.par.$t]}")"
  done
done
if [[ " $WORKLOADS " == *" W2 "* ]]; then
  for t in $TRACKS; do
    target "W2 on OpenSSL ${TL[$t]}: kubepki's own CPU ≤ $TARGET_CPU_MS ms per certificate" "$(med1 "${cpucert[W2.$t]}")" "$TARGET_CPU_MS" " ms" W2
    target "W2 on OpenSSL ${TL[$t]}: overhead on the critical path ≤ $TARGET_OVERHEAD_PCT % of the run" "$(med1 "${overpct[W2.$t]}")" "$TARGET_OVERHEAD_PCT" " %" W2
  done
else
  echo "  (the CPU and overhead targets are for W2, not run)"
fi
echo

# the README's Performance table, from this run
wname() { if [[ $1 == W1 ]]; then echo "default cluster"; else echo "$W2_NODES kubelets"; fi; }
md_cell() { if [[ -z ${m[$1]:-} ]]; then echo "—"; elif [[ $1 == *.par.* ]]; then cell_s "$1"; else echo "$(cell_s "$1") ($(cell_r "$1" "$2"))"; fi; }
echo "README table (ratios: against 'keys in parallel, signings in order' on the same OpenSSL):"
echo
echo "| workload | OpenSSL | kubepki | documented commands, one after another | keys in parallel, signings in order | cfssl | easy-rsa |"
echo "|---|---|---|---|---|---|---|"
for w in $WORKLOADS; do
  for t in $TRACKS; do
    p=${m[$w.par.$t]}
    echo "| $(wname "$w") | ${TV[$t]} | $(md_cell "$w.kubepki.$t" "$p") | $(md_cell "$w.seq.$t" "$p") | $(md_cell "$w.par.$t" "$p") | $(md_cell "$w.cfssl.$t" "$p") | $(md_cell "$w.easy-rsa.$t" "$p") |"
  done
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
