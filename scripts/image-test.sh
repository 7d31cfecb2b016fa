#!/usr/bin/env bash
# scripts/image-test.sh — build the REAL kubepki image from ./Dockerfile with
# podman and run it: generate, verify, re-run, --user, --spec, anonymous volume.
#
# Not part of `npm test`: it needs root, apt, a Debian mirror and npm's registry
# (for the image's own `npm ci`), and takes a few minutes on a fresh machine.
#
# These machines have a docker client but no engine and no reachable registry,
# so the base image is a STAND-IN: `debootstrap --variant=minbase bookworm`
# plus this machine's own node and npm in /usr/local and a `node` user with
# uid/gid 1000, imported under the exact name the Dockerfile's FROM resolves to.
# It is Debian bookworm with this machine's Node, not the real node image.
#
# Podman runs with its own config in a temp folder (/etc is left alone):
# runc + cgroupfs (the packaged crun fails here with "cgroups in hybrid mode
# not supported"), explicit ulimits (podman's defaults fail for root with
# "setrlimit RLIMIT_NOFILE"), overlay storage under the temp folder.
#
# Environment: KUBEPKI_IMAGE_CACHE (default /var/tmp/kubepki-image-test) keeps
# the stand-in base tarball between runs; KEEP_WORK=1 keeps the temp folder.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KUBEPKI_IMAGE_CACHE:-/var/tmp/kubepki-image-test}
IMAGE=localhost/kubepki:test
T_START=$SECONDS

log() { printf '[image-test +%3ds] %s\n' "$((SECONDS - T_START))" "$*"; }
die() { printf '[image-test] FAILED: %s\n' "$*" >&2; exit 1; }
check() { # check DESCRIPTION CMD... : run CMD, record and print the outcome
  local what=$1; shift
  if "$@"; then log "ok   $what"; EXERCISED+=("$what"); else die "$what"; fi
}
EXERCISED=()

[ "$(id -u)" = 0 ] || die "run as root (podman as root, debootstrap, chown of volume folders)"
[ -f "$ROOT/Dockerfile" ] || die "no Dockerfile in $ROOT"

# ---- 1. tools ---------------------------------------------------------------
missing=()
for t in podman runc debootstrap; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install debootstrap podman runc (missing: ${missing[*]})"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap podman runc >/dev/null
fi
log "tools: $(podman --version), $(runc --version | head -1), debootstrap $(dpkg-query -W -f='${Version}' debootstrap)"

# ---- 2. podman configuration in a temp folder ------------------------------
WORK=$(mktemp -d /var/tmp/kubepki-podman.XXXXXX)
cleanup() {
  local rc=$?
  set +e
  if [ "${KEEP_WORK:-}" = 1 ]; then log "kept $WORK"; exit $rc; fi
  podman rm -a -f >/dev/null 2>&1 || true
  podman rmi -a -f >/dev/null 2>&1 || true
  # never rm -rf through a mount that is still in place
  findmnt -rn -o TARGET | grep -F "$WORK" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

nofile=$(ulimit -Hn)
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/events.log"
tmp_dir = "$WORK/tmp"
EOF
cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
cat >"$WORK/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
export CONTAINERS_STORAGE_CONF=$WORK/storage.conf
export CONTAINERS_REGISTRIES_CONF=$WORK/registries.conf

# ---- 3. the stand-in base image --------------------------------------------
# Every FROM that is not a stage name must be the same image; import the stand-in under it.
stages=$(awk 'toupper($1)=="FROM" { for (i=2;i<=NF;i++) if (toupper($i)=="AS") print $(i+1) }' "$ROOT/Dockerfile")
bases=$(awk 'toupper($1)=="FROM" { print $2 }' "$ROOT/Dockerfile" | grep -vxF -f <(printf '%s\n' $stages scratch) | sort -u)
[ "$(printf '%s\n' "$bases" | wc -l)" = 1 ] || die "expected one base image in the Dockerfile, found: $bases"
case $bases in
  */*/*) BASE_FULL=$bases ;;
  */*)   BASE_FULL=docker.io/$bases ;;
  *)     BASE_FULL=docker.io/library/$bases ;;
esac
NODE_BIN=$(command -v node)
NODE_VERSION=$(node --version)
NPM_DIR=$(npm root -g)/npm
NPM_VERSION=$(npm --version)
STANDIN_TAR=$CACHE/standin-bookworm-node-$NODE_VERSION-npm-$NPM_VERSION.tar
MIRROR=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

if [ -s "$STANDIN_TAR" ]; then
  log "stand-in base: reusing $STANDIN_TAR"
else
  mkdir -p "$CACHE"
  t0=$SECONDS
  log "stand-in base: debootstrap --variant=minbase bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; die "debootstrap"; }
  log "debootstrap took $((SECONDS - t0)) s"
  R=$WORK/rootfs
  install -D -m 0755 "$NODE_BIN" "$R/usr/local/bin/node"
  mkdir -p "$R/usr/local/lib/node_modules"
  cp -a "$NPM_DIR" "$R/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
  echo 'node:x:1000:' >>"$R/etc/group"
  echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$R/etc/passwd"
  echo 'node:*:19000:0:99999:7:::' >>"$R/etc/shadow"
  install -d -o 1000 -g 1000 "$R/home/node"
  # npm inside RUN goes through a TLS-intercepting proxy whose CA this machine trusts
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$R/usr/local/share/host-ca-certificates.crt"
  rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*
  tar -C "$R" -cf "$STANDIN_TAR.tmp" . && mv "$STANDIN_TAR.tmp" "$STANDIN_TAR"
  rm -rf "$R"
fi
t0=$SECONDS
podman import -q \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/host-ca-certificates.crt' \
  --change 'CMD ["node"]' \
  "$STANDIN_TAR" "$BASE_FULL" >/dev/null
log "imported stand-in as $BASE_FULL ($((SECONDS - t0)) s): Debian bookworm minbase + node $NODE_VERSION + npm $NPM_VERSION from this machine"

# ---- 4. build the image from the Dockerfile --------------------------------
t0=$SECONDS
log "podman build --pull=never -t $IMAGE $ROOT ($(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 'not a git checkout'))"
podman build --pull=never -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log"; die "podman build"; }
BUILD_S=$((SECONDS - t0))
log "build took $BUILD_S s; image size $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1/1e6 }')"

run() { podman run --rm --network none "$@"; }
quiet() { "$@" >/dev/null; }
logged() { # logged NAME CMD...: output into $WORK/NAME.log, shown only on failure
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 || { sed 's/^/    | /' "$WORK/$name.log" >&2; return 1; }
}
cfg=$(podman image inspect --format 'User={{.Config.User}} Entrypoint={{json .Config.Entrypoint}} Cmd={{json .Config.Cmd}} Volumes={{json .Config.Volumes}} WorkingDir={{.Config.WorkingDir}}' "$IMAGE")
log "image config: $cfg"
check "image config: USER 1000:1000, CMD generate --out /pki, VOLUME /pki" \
  grep -q 'User=1000:1000 .*Cmd=\["generate","--out","/pki"\] Volumes={"/pki":{}}' <<<"$cfg"

inside=$(run --entrypoint /bin/sh "$IMAGE" -c '
  echo "openssl: $(openssl version)"; echo "node: $(node --version)";
  echo "build tools on PATH: $(for t in npm npx yarn corepack tsc jest; do command -v $t; done | tr "\n" " ")";
  echo "dev deps in /opt/kubepki/node_modules: $(ls -d /opt/kubepki/node_modules/typescript /opt/kubepki/node_modules/jest /opt/kubepki/node_modules/ts-jest 2>/dev/null | tr "\n" " ")";
  echo "source/test files: $(find /opt/kubepki -path /opt/kubepki/node_modules -prune -o \( -name "*.ts" -o -name "*.map" -o -path "*/tests/*" -o -path "*/fixtures/*" \) -print | tr "\n" " ")";
  echo "keys/specs in image: $(find / -xdev \( -name "*.key" -o -name "*.pem" -o -name "cluster.yaml" -o -name "*.kubeconfig" \) -type f 2>/dev/null | tr "\n" " ")";
  echo "package files: $(ls /opt/kubepki | tr "\n" " ")"')
printf '%s\n' "$inside" | sed 's/^/    /'
check "no build tool in the runtime image (npm/npx/yarn/corepack/tsc/jest)" grep -qx 'build tools on PATH: ' <<<"$inside"
check "no dev dependency installed in /opt/kubepki" grep -qx 'dev deps in /opt/kubepki/node_modules: ' <<<"$inside"
check "no TypeScript source, source map, test or fixture in the image" grep -qx 'source/test files: ' <<<"$inside"
check "no key, PEM, spec or kubeconfig file anywhere in the image" grep -qx 'keys/specs in image: ' <<<"$inside"

log "kubepki --version: $(run "$IMAGE" --version)"
check "kubepki --version through the ENTRYPOINT" quiet run "$IMAGE" --version
check "kubepki --help through the ENTRYPOINT" quiet run "$IMAGE" --help
check "kubepki init - (the README's way to get a cluster.yaml) prints a spec" \
  bash -c "podman run --rm --network none '$IMAGE' init - | grep -q '^master:'"
set +e; run "$IMAGE" no-such-command >/dev/null 2>&1; rc=$?; set -e
check "exit code 2 for bad usage passes through sh -c/exec (got $rc)" test "$rc" = 2

# modes_ok DIR UID: every *.key is 0600 and owned by UID; every file is owned by UID; nothing group/other-writable
modes_ok() {
  local d=$1 uid=$2 bad
  bad=$(find "$d" -name '*.key' \( ! -perm 0600 -o ! -user "$uid" \) -print; find "$d" ! -user "$uid" -print; find "$d" -perm /022 -print)
  [ -z "$bad" ] || { printf 'unexpected owner/mode: %s\n' $bad >&2; return 1; }
  [ -n "$(find "$d" -name '*.key' -print -quit)" ]
}
snapshot() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 stat -c '%n %a %u %Y' && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# ---- 5a. default CMD into a bind-mounted folder owned by the image user ----
V1=$WORK/vol-default; install -d -m 0700 -o 1000 -g 1000 "$V1"
t0=$SECONDS
run -v "$V1:/pki" "$IMAGE" >"$WORK/gen1.log" 2>&1 || { cat "$WORK/gen1.log"; die "default CMD (generate --out /pki)"; }
GEN_S=$((SECONDS - t0))
check "default CMD: podman run --rm --network none -v DIR:/pki kubepki:test (generate, $GEN_S s)" test -s "$V1/ca.key"
check "verify --out /pki exits 0" logged verify1 run -v "$V1:/pki" "$IMAGE" verify --out /pki
check "keys 0600 and all files owned by uid 1000 in the volume" modes_ok "$V1" 1000
log "volume listing (mode uid:gid path):"
(cd "$V1" && find . -print0 | sort -z | xargs -0 stat -c '    %a %u:%g %n')
before=$(snapshot "$V1"); sleep 1
run -v "$V1:/pki" "$IMAGE" >"$WORK/gen2.log" 2>&1 || { cat "$WORK/gen2.log"; die "second generate"; }
check "second generate changes no file (content, mode, mtime)" test "$before" = "$(snapshot "$V1")"
check "nothing secret printed by generate" bash -c "! grep -q 'PRIVATE KEY' '$WORK/gen1.log' '$WORK/gen2.log'"

# ---- 5b. the documented command: --user, --spec from a read-only mount -----
V2=$WORK/vol-user; install -d -m 0700 -o 4242 -g 4242 "$V2"
cat >"$WORK/cluster.yaml" <<'EOF'
master:
  hostname: k8s-master
  ip: 10.20.30.40
nodes:
  - { name: k8s-node-1, ip: 10.20.30.41 }
EOF
chmod 0644 "$WORK/cluster.yaml"
check "docker run --user 4242:4242 -v DIR:/pki -v cluster.yaml:/cluster.yaml:ro ... generate --spec /cluster.yaml --out /pki" \
  logged gen-user run --user 4242:4242 -v "$V2:/pki" -v "$WORK/cluster.yaml:/cluster.yaml:ro" "$IMAGE" generate --spec /cluster.yaml --out /pki
check "verify --spec /cluster.yaml --out /pki as uid 4242 exits 0" \
  logged verify-user run --user 4242:4242 -v "$V2:/pki" -v "$WORK/cluster.yaml:/cluster.yaml:ro" "$IMAGE" verify --spec /cluster.yaml --out /pki
check "keys 0600 and all files owned by the --user uid 4242" modes_ok "$V2" 4242
check "the spec was used (server.crt has IP 10.20.30.40)" \
  bash -c "openssl x509 -in '$V2/server.crt' -noout -text | grep -q 'IP Address:10.20.30.40'"

# ---- 5b'. a bind-mounted folder the container user cannot write --------------
V3=$WORK/vol-root; install -d -m 0755 -o 0 -g 0 "$V3"
set +e; run -v "$V3:/pki" "$IMAGE" >"$WORK/gen-root.log" 2>&1; rc=$?; set -e
sed 's/^/    | /' "$WORK/gen-root.log"
check "a root-owned volume: exit 1 with the reason, nothing written (got $rc)" \
  bash -c "[ $rc = 1 ] && grep -q 'not writable' '$WORK/gen-root.log' && [ -z \"\$(ls -A '$V3')\" ]"

# ---- 5c. no bind mount: the anonymous /pki volume is writable ---------------
check "default CMD with only the anonymous VOLUME /pki" logged gen-anon run "$IMAGE"

# ---- 5d. kubepki.mk with KUBEPKI = the documented `docker run` line (podman) --
INFRA=$WORK/infra; mkdir -p "$INFRA"; cp "$WORK/cluster.yaml" "$INFRA/cluster.yaml"
cat >"$INFRA/Makefile" <<EOF
SPEC    = cluster.yaml
OUT     = pki
KUBEPKI = podman run --rm --network none --user \$\$(id -u):\$\$(id -g) -v \$(CURDIR):\$(CURDIR) -w \$(CURDIR) $IMAGE
include $ROOT/kubepki.mk
EOF
check "make pki with KUBEPKI = podman run ... -v \$(CURDIR):\$(CURDIR) -w \$(CURDIR) (the README's docker line)" \
  logged make-pki make -C "$INFRA" --no-print-directory pki
check "make pki-verify through the image" logged make-verify make -C "$INFRA" --no-print-directory pki-verify
check "second make pki: make runs nothing" bash -c "make -C '$INFRA' --no-print-directory pki | grep -q \"Nothing to be done for 'pki'\""

log "done in $((SECONDS - T_START)) s. Exercised:"
printf '  - %s\n' "${EXERCISED[@]}"
cat <<EOF
Not exercised: the real $BASE_FULL (the base was a stand-in: Debian bookworm minbase
  + node $NODE_VERSION and npm $NPM_VERSION copied from this machine, plus NODE_EXTRA_CA_CERTS for
  this machine's TLS proxy, which the stand-in's ENV also leaks into the final image);
  Docker Engine / BuildKit (podman $(podman --version | awk '{print $3}') + buildah with runc and cgroupfs ran it);
  rootless podman; pulling or pushing through a registry.
EOF
