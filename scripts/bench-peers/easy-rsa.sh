#!/usr/bin/env bash
# Peer for scripts/bench.sh: the default cluster's certificates made with easy-rsa (Debian's
# easy-rsa, /usr/share/easy-rsa/easyrsa), in batch mode: init-pki, build-ca nopass,
# build-server-full / build-client-full ... nopass, one command after another. easy-rsa runs
# `openssl` from PATH (EASYRSA_OPENSSL is cleared here, so PATH decides, as for the reference
# scripts).
#
#   easy-rsa.sh OUTDIR
#
# Makes what baseline-seq.sh --with-sa makes for NODES=1, RSA 2048, 5000 days: the CA (CN
# k8s-master), the apiserver serving certificate with master_ssl.cnf's five DNS names and two IPs
# (--subject-alt-name), the clients kube-controller-manager, kube-scheduler, kube-proxy, admin
# (O=system:masters) and the kubelet system:node:node-1 (O=system:nodes), and the service-account
# key. easy-rsa 3.1 has no command for a bare key pair: `gen-req sa nopass` makes the key with a
# CSR beside it, and there is no public-key export, so there is no sa.pub (kube-apiserver's
# --service-account-key-file takes the private key as well). EASYRSA is the easyrsa script
# (default: /usr/share/easy-rsa/easyrsa).
set -euo pipefail

OUT=${1:?usage: easy-rsa.sh OUTDIR}
EASYRSA_BIN=${EASYRSA:-/usr/share/easy-rsa/easyrsa}
[[ -x $EASYRSA_BIN ]] || { echo "easy-rsa.sh: $EASYRSA_BIN not found (Debian: apt-get install easy-rsa)" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$OUT"

unset EASYRSA_OPENSSL EASYRSA_VARS_FILE
export EASYRSA_BATCH=1 EASYRSA_PKI=$OUT/pki EASYRSA_ALGO=rsa EASYRSA_KEY_SIZE=2048 \
  EASYRSA_CA_EXPIRE=5000 EASYRSA_CERT_EXPIRE=5000
# subjects of CN (and O) only: easy-rsa's org mode would add its placeholder C, ST, L, email, OU
export EASYRSA_REQ_COUNTRY='' EASYRSA_REQ_PROVINCE='' EASYRSA_REQ_CITY='' EASYRSA_REQ_EMAIL='' EASYRSA_REQ_OU=''

ersa() { "$EASYRSA_BIN" "$@"; }

ersa init-pki
# the CA's CN only: build-*-full refuses a commonName set from outside
EASYRSA_REQ_CN=k8s-master ersa build-ca nopass
ersa --subject-alt-name='DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:k8s-master,IP:169.169.0.1,IP:192.168.18.3' \
  build-server-full k8s-master nopass
ersa build-client-full system:kube-controller-manager nopass
ersa build-client-full system:kube-scheduler nopass
ersa build-client-full system:kube-proxy nopass
ersa --dn-mode=org --req-org=system:masters build-client-full admin nopass
ersa --dn-mode=org --req-org=system:nodes build-client-full system:node:node-1 nopass

# service-account key (and a CSR nobody needs: gen-req always writes one)
ersa gen-req sa nopass
