#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy of one
# Kubernetes version from the k8s.io/kubernetes Go module, and etcd from go.etcd.io/etcd/server/v3,
# into a cache outside the repository:
#   $KUBEPKI_CACHE/k8s/<X.Y.Z>/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kube-proxy}
#   $KUBEPKI_CACHE/etcd/<A.B.C>/etcd
# (KUBEPKI_CACHE defaults to ~/.cache/kubepki). What has its stamp file is reused; a stamp is
# written only after every binary it stands for was built. KUBEPKI_BUILD_ONLY=etcd|k8s|node
# builds one part.
#
#   scripts/control-plane/build.sh            the version in scripts/control-plane/versions (first line)
#   scripts/control-plane/build.sh 1.36       the newest patch release of 1.36 named in that file
#   scripts/control-plane/build.sh 1.36.3     exactly that version
#
# k8s.io/kubernetes is not meant to be a dependency: its go.mod requires every staging module
# (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and replaces it with ./staging/src/..., which a
# dependency's replace lines cannot reach. The throwaway module below maps each of those
# staging modules to its published v0.<minor>.<patch>, the usual way to build it as a
# dependency. The list comes from the kubernetes go.mod's own replace block.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KUBEPKI_CACHE:-$HOME/.cache/kubepki}

resolve() { # X.Y or X.Y.Z -> X.Y.Z, through the versions file
  local v=$1
  if [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then echo "$v"; return; fi
  if [[ $v =~ ^[0-9]+\.[0-9]+$ ]]; then
    local full
    full=$(grep -E "^k8s ${v//./\\.}\.[0-9]+$" "$here/versions" | awk '{print $2}' | sort -V | tail -1)
    [ -n "$full" ] || { echo "build.sh: no patch release of $v in $here/versions" >&2; exit 2; }
    echo "$full"; return
  fi
  echo "build.sh: not a version: $v (want X.Y or X.Y.Z)" >&2; exit 2
}

ver=$(resolve "${1:-$(awk '$1=="default"{print $2; exit}' "$here/versions")}")
etcdver=$(awk '$1=="etcd"{print $2; exit}' "$here/versions")
minor=${ver#*.}; minor=${minor%%.*}
patch=${ver##*.}

command -v go >/dev/null || { echo "build.sh: go is not installed (Go 1.26 or newer builds these)" >&2; exit 1; }

# The Go build cache (GOCACHE) is kept: later versions and etcd reuse the packages they share.
export GOFLAGS="${GOFLAGS:-} -trimpath -buildvcs=false"
export CGO_ENABLED=0
ldflags='-s -w'

took() { local s=$1; local t=$(( $(date +%s) - s )); printf '%dm%02ds' $((t / 60)) $((t % 60)); }

build_etcd() {
  local out="$cache/etcd/$etcdver"
  if [ -f "$out/.built" ] && [ -x "$out/etcd" ]; then
    echo "etcd $etcdver: cached in $out"; return
  fi
  local start; start=$(date +%s)
  echo "etcd $etcdver: building into $out (go.etcd.io/etcd/server/v3 v$etcdver)"
  local mod; mod=$(mktemp -d "${TMPDIR:-/tmp}/kubepki-etcd-build.XXXXXX")
  mkdir -p "$out"
  (
    trap 'rm -rf "$mod"' EXIT
    cd "$mod"
    go mod init kubepki.local/etcd-build >/dev/null 2>&1
    # etcd's own main (the etcd repository's root module) is a one-line call of etcdmain.Main;
    # the server module serves that package, the root module is not meant as a dependency
    cat > main.go <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
    go get "go.etcd.io/etcd/server/v3@v$etcdver" >/dev/null
    go mod tidy >/dev/null
    go build -ldflags="$ldflags" -o "$out/etcd.new" .
  )
  mv "$out/etcd.new" "$out/etcd"
  "$out/etcd" --version | head -1
  date -u +%FT%TZ > "$out/.built"
  echo "etcd $etcdver: built in $(took "$start")"
}

# build_k8s STAMP BINARY...: the named commands of k8s.io/kubernetes into $cache/k8s/<version>/
build_k8s() {
  local stamp=$1; shift
  local out="$cache/k8s/$ver"
  local bins=("$@")
  if [ -f "$out/$stamp" ]; then
    local ok=1 b
    for b in "${bins[@]}"; do [ -x "$out/$b" ] || ok=0; done
    if ((ok)); then echo "kubernetes $ver: ${bins[*]} cached in $out"; return; fi
  fi
  local start; start=$(date +%s)
  echo "kubernetes $ver: building ${bins[*]} into $out (k8s.io/kubernetes v$ver)"
  local mod; mod=$(mktemp -d "${TMPDIR:-/tmp}/kubepki-k8s-build.XXXXXX")
  mkdir -p "$out"
  (
    trap 'rm -rf "$mod"' EXIT
    cd "$mod"
    go mod download "k8s.io/kubernetes@v$ver"
    local kmod; kmod=$(go mod download -json "k8s.io/kubernetes@v$ver" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
    [ -f "$kmod" ] || { echo "build.sh: no go.mod for k8s.io/kubernetes v$ver" >&2; exit 1; }
    local gover; gover=$(awk '$1=="go"{print $2; exit}' "$kmod")
    {
      echo "module kubepki.local/k8s-build"
      echo
      echo "go $gover"
      echo
      echo "require k8s.io/kubernetes v$ver"
      echo
      echo "replace ("
      # every "k8s.io/x => ./staging/src/k8s.io/x" of kubernetes becomes k8s.io/x v0.<minor>.<patch>
      awk '/=> \.\/staging\/src\// {print "\t" $1 " => " $1 " v0.'"$minor.$patch"'"}' "$kmod"
      echo ")"
    } > go.mod
    {
      echo '//go:build tools'
      echo
      echo 'package tools'
      echo
      echo 'import ('
      for b in "${bins[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
      echo ')'
    } > tools.go
    go mod tidy -e >/dev/null 2>tidy.err || { cat tidy.err >&2; exit 1; }
    # the version the binaries report (--version, /version) is stamped by the Kubernetes build
    # scripts from git; a module build has no git, so the linker sets it
    local vpkg=k8s.io/component-base/version
    local xs="-X $vpkg.gitVersion=v$ver -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
    local pkgs=() b
    for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    mkdir -p "$out/new"
    go build -ldflags="$ldflags $xs" -o "$out/new/" "${pkgs[@]}"
  )
  local b
  for b in "${bins[@]}"; do mv "$out/new/$b" "$out/$b"; done
  rmdir "$out/new"
  "$out/${bins[0]}" --version
  date -u +%FT%TZ > "$out/$stamp"
  echo "kubernetes $ver: built ${bins[*]} in $(took "$start")"
}

# the control plane (the test runs it), then kubelet and kube-proxy (the test checks that they
# accept their flag files); two stamps, so that each set is reused on its own
control_plane() { build_k8s .built kube-apiserver kube-controller-manager kube-scheduler; }
node_side() { build_k8s .built-node kubelet kube-proxy; }
total=$(date +%s)
case "${KUBEPKI_BUILD_ONLY:-}" in
  etcd) build_etcd ;;
  k8s) control_plane ;;
  node) node_side ;;
  *) build_etcd; control_plane; node_side ;;
esac
echo "build.sh $ver: done in $(took "$total")"
