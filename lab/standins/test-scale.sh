#!/bin/sh
# Parallel worker joins against one control plane: N workers join at once (as otp-provision
# joins workers), all must become Ready. Prints timings and memory per node.
# Usage: lab/standins/test-scale.sh [WORKERS] [K8S_VERSION]   (root; Docker; KEEP=1 keeps containers)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
STANDINS_NET=otp-standins-scale STANDINS_SUBNET=172.31.79.0/24 STANDINS_PREFIX=172.31.79
. ./lib-test.sh
N=${1:-8}
K8S=${2:-1.33.4}
NODES="s-cp1"
i=1; while [ $i -le "$N" ]; do NODES="$NODES s-w$i"; i=$((i + 1)); done
DEBS=$(mktemp -d /var/tmp/standins-debs.XXXXXX)
cleanup() {
  if [ "${KEEP:-0}" != 1 ]; then
    for n in $NODES; do docker rm -f -v "otp-standins-$n" >/dev/null 2>&1 || true; done
    docker network rm "$NET" >/dev/null 2>&1 || true
  fi
  rm -rf "$DEBS"
}
trap cleanup EXIT INT TERM
./build-debs.sh "$DEBS" "$K8S" >/dev/null
chmod 755 "$DEBS"
build_image
for n in $NODES; do docker rm -f -v "otp-standins-$n" >/dev/null 2>&1 || true; done
docker network rm "$NET" >/dev/null 2>&1 || true
docker network create --subnet "$SUBNET" "$NET" >/dev/null
t0=$(date +%s)
start_node s-cp1 10 "$DEBS"
i=1; while [ $i -le "$N" ]; do start_node "s-w$i" $((100 + i)) "$DEBS"; i=$((i + 1)); done
for n in $NODES; do wait_boot "$n"; prepare_node "$n"; done
t1=$(date +%s); echo "# $((N + 1)) nodes booted and prepared in $((t1 - t0)) s"
OUT=$(on s-cp1 "kubeadm init --control-plane-endpoint $PREFIX.10:6443 --apiserver-advertise-address $PREFIX.10 --token abcdef.0123456789abcdef --upload-certs" 2>&1) || { echo "$OUT" | tail; exit 1; }
HASH=$(printf '%s\n' "$OUT" | sed -n 's/.*--discovery-token-ca-cert-hash \(sha256:[0-9a-f]*\).*/\1/p' | head -1)
t2=$(date +%s); echo "# init in $((t2 - t1)) s"
pids=""
for n in $NODES; do
  [ "$n" = s-cp1 ] && continue
  ( on "$n" "kubeadm join $PREFIX.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash $HASH" >/tmp/standins-scale-$n.log 2>&1 \
      && echo ok >> /tmp/standins-scale-$n.log || echo FAILED >> /tmp/standins-scale-$n.log ) &
  pids="$pids $!"
done
for p in $pids; do wait "$p"; done
t3=$(date +%s); echo "# $N parallel worker joins in $((t3 - t2)) s"
failed=$(grep -l FAILED /tmp/standins-scale-s-w*.log 2>/dev/null | wc -l)
[ "$failed" -eq 0 ] && ok "all $N joins succeeded" || { not_ok "$failed joins failed"; tail -3 $(grep -l FAILED /tmp/standins-scale-s-w*.log) ; }
rm -f /tmp/standins-scale-s-w*.log
printf 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: cni, namespace: kube-system}\nspec:\n  selector: {matchLabels: {app: cni}}\n  template:\n    metadata: {labels: {app: cni}}\n    spec:\n      containers: [{name: c, image: example.invalid/cni:1}]\n      volumes: [{name: n, hostPath: {path: /etc/cni/net.d}}]\n' \
  | docker exec -i otp-standins-s-cp1 kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side -f - >/dev/null
expect_ok s-cp1 "all $((N + 1)) nodes Ready" "^$((N + 1))\$" \
  "for i in \$(seq 1 60); do c=\$(kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers | grep -c ' Ready '); [ \$c -eq $((N + 1)) ] && break; sleep 2; done; echo \$c"
t4=$(date +%s); echo "# Ready after $((t4 - t3)) s"
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' | grep "otp-standins-s-" | sort | awk '{print "# mem", $0}' | head -3
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' | grep "otp-standins-s-w" | awk '{v=$2; u=v; sub(/[0-9.]+/,"",u); sub(/[A-Za-z]+$/,"",v); if (u=="GiB") v*=1024; s+=v; n++} END {if (n) printf "# mean worker memory %.0f MiB over %d workers\n", s/n, n}'
echo "# $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
