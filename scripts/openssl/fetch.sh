#!/usr/bin/env bash
# Fetches Debian's own builds of the OpenSSL versions operators run besides this machine's 3.0:
# 3.5 (trixie), 3.6 (sid) and 4.0 (experimental). For each, the .debs of openssl, its libssl and
# the libc6, libzstd1 and zlib1g of that suite are downloaded with apt-get (a private apt tree
# under the cache: nothing is installed or configured system-wide) and unpacked with dpkg-deb -x
# into CACHE/openssl/<debian version>/. CACHE/openssl/<track> links to it, and
# <dir>/bin/openssl is a wrapper that runs the real binary through that glibc's own dynamic
# loader, so the newer glibc is used by that binary only.
#
#   fetch.sh            fetch what is missing (a track whose wrapper runs is reused as it is)
#   fetch.sh --refresh  look up the suites' current versions again
#   fetch.sh --list     print "<track> <wrapper>" per track, without fetching; exit 1 if one is missing
#
# CACHE is $KUBEPKI_CACHE, else $XDG_CACHE_HOME/kubepki, else ~/.cache/kubepki. The tests (tests/integration/openssl-matrix.test.ts)
# read the wrappers from CACHE/openssl/<track>/bin/openssl.
set -euo pipefail

home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache=${KUBEPKI_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/kubepki}
root=$cache/openssl
# track  suite of openssl  its libssl  suite of the runtime it is built against
tracks=(
  "3.5 trixie libssl3t64 trixie"
  "3.6 sid libssl3t64 sid"
  "4.0 experimental libssl4 sid"
)
runtime=(libc6 libzstd1 zlib1g)

mode=fetch
case "${1:-}" in
  '') ;;
  --refresh) mode=refresh ;;
  --list) mode=list ;;
  -h | --help) sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "fetch.sh: unknown argument $1 (--refresh, --list, --help)" >&2; exit 2 ;;
esac

# a track is usable when its wrapper runs and says it is that version
usable() {
  local track=$1 w=$root/$1/bin/openssl
  [ -x "$w" ] && "$w" version 2>/dev/null | grep -q "^OpenSSL $track\."
}

if [ "$mode" = list ]; then
  status=0
  for t in "${tracks[@]}"; do
    set -- $t
    if usable "$1"; then echo "$1 $root/$1/bin/openssl"
    else echo "$1 missing: run scripts/openssl/fetch.sh" >&2; status=1; fi
  done
  exit "$status"
fi

todo=()
for t in "${tracks[@]}"; do
  set -- $t
  if [ "$mode" = fetch ] && usable "$1"; then
    echo "openssl $1: $("$root/$1/bin/openssl" version) (cached in $(readlink -f "$root/$1"))"
  else
    todo+=("$t")
  fi
done
((${#todo[@]})) || exit 0

for tool in apt-get apt-cache dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "fetch.sh: $tool is missing (this script needs Debian's apt and dpkg)" >&2; exit 1; }
done

# a private apt tree: its own sources, lists, cache and (empty) status; no system configuration.
# Release files are not judged by their date (Check-Valid-Until, as this machine's own apt does):
# the package access here may serve the archive as it was some days ago; signatures are checked.
apt=$root/.apt
dl=
# the package lists and apt's caches (some 250 MB) are of no use once the packages are unpacked
trap 'rm -rf "$apt" ${dl:+"$dl"}' EXIT
mkdir -p "$apt"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,lists/partial,archives/partial}
: >"$apt/status"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
{
  for s in trixie sid experimental; do
    echo "deb [arch=amd64 signed-by=$keyring] http://deb.debian.org/debian $s main"
  done
} >"$apt/etc/sources.list"
cat >"$apt/apt.conf" <<EOF
Dir::Etc "$apt/etc";
Dir::Etc::Parts "$apt/etc/apt.conf.d";
Dir::State "$apt";
Dir::State::Lists "$apt/lists";
Dir::State::status "$apt/status";
Dir::Cache "$apt";
Dir::Cache::archives "$apt/archives";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
APT::Sandbox::User "root";
Debug::NoLocking "true";
EOF
export APT_CONFIG=$apt/apt.conf
echo "fetch.sh: reading the package lists of trixie, sid and experimental" >&2
apt-get update -qq >/dev/null

# the version of package $1 in suite $2
version_in() {
  apt-cache show "$1/$2" 2>/dev/null | sed -n 's/^Version: //p' | head -1
}

for t in "${todo[@]}"; do
  set -- $t
  track=$1 suite=$2 libssl=$3 rsuite=$4
  ver=$(version_in openssl "$suite")
  [ -n "$ver" ] || { echo "fetch.sh: no openssl in $suite" >&2; exit 1; }
  case "$ver" in "$track".*) ;; *) echo "fetch.sh: openssl in $suite is $ver, not $track.x" >&2; exit 1 ;; esac
  dir=$root/$ver
  if ! [ -x "$dir/bin/openssl" ] || ! "$dir/bin/openssl" version >/dev/null 2>&1; then
    dl=$(mktemp -d "$root/.dl.XXXXXX")
    want=("openssl=$ver" "$libssl=$ver")
    for p in "${runtime[@]}"; do
      v=$(version_in "$p" "$rsuite")
      [ -n "$v" ] || { echo "fetch.sh: no $p in $rsuite" >&2; exit 1; }
      want+=("$p=$v")
    done
    (cd "$dl" && apt-get download -qq "${want[@]}" >/dev/null)
    rm -rf "$dir.new"
    mkdir -p "$dir.new"
    for deb in "$dl"/*.deb; do
      dpkg-deb -x "$deb" "$dir.new/root"
      echo "  $(basename "$deb")"
    done
    rm -rf "$dl"
    dl=
    r=$dir/root
    # the loader of that glibc and the libraries it finds; that package's providers folder
    # (OPENSSL_MODULES: the compiled-in one is this machine's, built for its own libcrypto) and
    # configuration (OPENSSL_CONF, unless the caller sets one, even to /dev/null)
    mkdir -p "$dir.new/bin"
    cat >"$dir.new/bin/openssl" <<EOF
#!/bin/sh
# Debian's openssl $ver ($suite), run through the glibc of $rsuite that it was built for
# (written by scripts/openssl/fetch.sh; nothing of it is installed system-wide).
export OPENSSL_MODULES="$r/usr/lib/x86_64-linux-gnu/ossl-modules"
export OPENSSL_CONF="\${OPENSSL_CONF-$r/etc/ssl/openssl.cnf}"
exec "$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu" "$r/usr/bin/openssl" "\$@"
EOF
    chmod 755 "$dir.new/bin/openssl"
    rm -rf "$dir"
    mv "$dir.new" "$dir"
  fi
  ln -sfn "$ver" "$root/$track.new" && mv -T "$root/$track.new" "$root/$track"
  if ! usable "$track"; then
    echo "fetch.sh: $dir/bin/openssl does not run as OpenSSL $track:" >&2
    "$dir/bin/openssl" version >&2 || true
    exit 1
  fi
  echo "openssl $track: $("$dir/bin/openssl" version) (fetched into $dir)"
done
