#!/usr/bin/env bash
# Peer for scripts/bench.sh: the default cluster's certificates made with cfssl (Debian's
# golang-cfssl), the way its documentation does it: JSON CSRs, `cfssl gencert -initca` for the CA,
# `cfssl gencert` with a config of signing profiles for every leaf, each piped to `cfssljson -bare`,
# one command after another.
#
#   cfssl.sh OUTDIR
#
# Makes what baseline-seq.sh --with-sa makes for NODES=1, RSA 2048, 5000 days: the CA (CN
# k8s-master), the apiserver serving certificate with master_ssl.cnf's five DNS names and two IPs,
# the clients kube-controller-manager, kube-scheduler, kube-proxy, admin (O=system:masters) and
# the kubelet system:node:node-1 (O=system:nodes), and the service-account key. cfssl cannot write
# a bare key pair: `cfssl genkey` makes the key with a CSR beside it (one signature more), and it
# has no public-key export, so there is no sa.pub (kube-apiserver's --service-account-key-file
# takes the private key as well). cfssl does its crypto in Go: no openssl process runs.
set -euo pipefail

OUT=${1:?usage: cfssl.sh OUTDIR}
for b in cfssl cfssljson; do
  command -v "$b" >/dev/null || { echo "cfssl.sh: $b not found (Debian: apt-get install golang-cfssl)" >&2; exit 2; }
done
mkdir -p "$OUT"
cd "$OUT"

# csr CN [O]: a JSON CSR with an RSA 2048 key
csr() {
  local names=''
  [[ -n ${2:-} ]] && names=", \"names\": [{\"O\": \"$2\"}]"
  printf '{"CN": "%s", "key": {"algo": "rsa", "size": 2048}%s}\n' "$1" "$names"
}

cat >ca-csr.json <<JSON
{"CN": "k8s-master", "key": {"algo": "rsa", "size": 2048}, "ca": {"expiry": "120000h"}}
JSON
cat >config.json <<'JSON'
{
  "signing": {
    "default": {"expiry": "120000h"},
    "profiles": {
      "server": {"expiry": "120000h", "usages": ["digital signature", "key encipherment"]},
      "client": {"expiry": "120000h", "usages": ["digital signature", "key encipherment", "client auth"]}
    }
  }
}
JSON

# CA
cfssl gencert -initca ca-csr.json | cfssljson -bare ca

# leaf NAME PROFILE CN [O] [HOSTNAMES]
leaf() {
  csr "$3" "${4:-}" >"$1-csr.json"
  cfssl gencert -ca ca.pem -ca-key ca-key.pem -config config.json -profile "$2" ${5:+-hostname "$5"} "$1-csr.json" |
    cfssljson -bare "$1"
}

# apiserver serving cert: the SANs of master_ssl.cnf
leaf server server k8s-master '' kubernetes,kubernetes.default,kubernetes.default.svc,kubernetes.default.svc.cluster.local,k8s-master,169.169.0.1,192.168.18.3
leaf kube-controller-manager client system:kube-controller-manager
leaf kube-scheduler client system:kube-scheduler
leaf kube-proxy client system:kube-proxy
leaf admin client admin system:masters
leaf node-1 client system:node:node-1 system:nodes

# service-account key (and a CSR nobody needs: genkey always writes one)
csr service-accounts >sa-csr.json
cfssl genkey sa-csr.json | cfssljson -bare sa
