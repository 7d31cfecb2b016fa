# Shared by bench.sh and scale.sh (sourced): a private copy of the bundle, specs of N nodes, and
# the openssl binaries to run on.

# run a private copy of the bundle: a rebuild in a shared working tree during the run
# (npm test builds) must not change what is measured half-way. Sets CLI.
private_cli() {
  mkdir -p "$WORK/kubepki"
  cp -r "$ROOT/dist" "$ROOT/package.json" "$WORK/kubepki/"
  CLI=$WORK/kubepki/dist/cli.js
}

# a spec of N nodes: the documented master, nodes node-1..node-N (the scripts' kubelet names)
spec_of() {
  local n=$1 file=$2 i
  {
    echo 'master: {hostname: k8s-master, ip: 192.168.18.3}'
    echo 'nodes:'
    for ((i = 1; i <= n; i++)); do echo "  - {name: node-$i, ip: 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))}"; done
  } >"$file"
}

# the folder scripts/openssl/fetch.sh unpacks other OpenSSL builds into (its CACHE/openssl)
openssl_cache() {
  local home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
  echo "${KUBEPKI_CACHE:-${XDG_CACHE_HOME:-$home/.cache}/kubepki}/openssl"
}

# openssl_bin WHAT: sets OPENSSL_BIN to the openssl binary for WHAT: `system` (openssl on PATH), a
# track that scripts/openssl/fetch.sh provides (3.5, 3.6, 4.0: its wrapper), or a path to a binary.
# Else fails with OPENSSL_ERR saying how to get it.
openssl_bin() {
  local what=$1 bin
  OPENSSL_BIN='' OPENSSL_ERR=''
  case $what in
    system) bin=$(command -v openssl) || { OPENSSL_ERR="no openssl on PATH (Debian: apt-get install openssl)"; return 1; } ;;
    [0-9]*.[0-9]*)
      bin=$(openssl_cache)/$what/bin/openssl
      "$bin" version 2>/dev/null | grep -q "^OpenSSL $what\." || { OPENSSL_ERR="OpenSSL $what not found at $bin: run scripts/openssl/fetch.sh"; return 1; } ;;
    /*) bin=$what; "$bin" version 2>/dev/null | grep -q '^OpenSSL ' || { OPENSSL_ERR="$bin version does not print an OpenSSL version"; return 1; } ;;
    *) OPENSSL_ERR="$what is neither 'system', a track like 3.5 nor an absolute path"; return 1 ;;
  esac
  OPENSSL_BIN=$bin
}
