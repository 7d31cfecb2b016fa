#!/usr/bin/env bash
# Installs what the test suite needs and a fresh machine of this kind may lack, with apt-get
# (as root), and says what is still missing. Tests that need a missing tool fail; none skips.
# Called by `npm test` (scripts/test/run.sh), so the README's test command works on a fresh
# machine; set KUBEPKI_TEST_NO_INSTALL=1 to only report (and build nothing).
set -uo pipefail

need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
want openssl openssl
want etcd etcd-server
want etcdctl etcd-client
want make make
want setpriv util-linux
want mount mount          # hostile.test.ts fills a small tmpfs (a full disk)
want faketime faketime    # the unit suite also runs with the clock two years ahead
want ip iproute2          # the control-plane test makes its own network namespace
want curl curl
# a real kubectl: the google-cloud-sdk's versioned binaries, else Debian's own package
# (the sdk's own /usr/bin/kubectl is a dispatcher that contacts servers: it does not count)
if ! ls /usr/lib/google-cloud-sdk/bin/kubectl.1.* >/dev/null 2>&1; then
  case "$(readlink -f /usr/bin/kubectl 2>/dev/null)" in
    ''|/usr/lib/google-cloud-sdk/*) need+=(kubectl) ;;
  esac
fi

if ((${#need[@]})); then
  if [ "${KUBEPKI_TEST_NO_INSTALL:-}" = 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "test deps: missing ${need[*]} (install them: the tests that need them will fail)" >&2
  else
    echo "test deps: installing ${need[*]}" >&2
    apt-get update -qq >/dev/null 2>&1
    # one by one: a package this Debian lacks (kubectl on bookworm) must not stop the others
    for p in "${need[@]}"; do
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null 2>&1 || echo "test deps: apt-get install $p failed" >&2
    done
  fi
fi

# Debian's builds of OpenSSL 3.5, 3.6 and 4.0 for the OpenSSL matrix, unpacked under the user's
# cache (nothing installed system-wide); reused when already there
fetch=$(dirname "$0")/../openssl/fetch.sh
if [ "${KUBEPKI_TEST_NO_INSTALL:-}" = 1 ]; then
  bash "$fetch" --list >/dev/null || echo "test deps: the OpenSSL matrix needs scripts/openssl/fetch.sh to be run" >&2
else
  bash "$fetch" >&2 || echo "test deps: scripts/openssl/fetch.sh failed: the OpenSSL matrix tests will fail" >&2
fi

# the control plane the control-plane test runs (scripts/control-plane/versions names its version),
# built from the Go modules into a cache outside the repository; reused when already built
if command -v go >/dev/null 2>&1; then
  if [ "${KUBEPKI_TEST_NO_INSTALL:-}" = 1 ]; then
    :
  elif ! nice -n 10 bash "$(dirname "$0")/../control-plane/build.sh" ${KUBEPKI_CP_VERSION:-} >&2; then
    echo "test deps: scripts/control-plane/build.sh failed (the control-plane test will fail)" >&2
  fi
else
  echo "test deps: go is missing: the control-plane test needs it to build Kubernetes (Go 1.26+)" >&2
fi
exit 0
