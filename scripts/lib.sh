# Shared by bench.sh and scale.sh (sourced): a private copy of the bundle, and specs of N nodes.

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
