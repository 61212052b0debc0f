#!/bin/sh
# kube-vip control-plane VIP with the stand-ins: the >= 1.29 super-admin.conf procedure,
# the failure without it, a second control plane joining through the VIP, and failover.
# Usage: lab/standins/test-kube-vip.sh [K8S_VERSION]   (root; Docker; KEEP=1 keeps containers)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
STANDINS_NET=otp-standins-vip STANDINS_SUBNET=172.31.78.0/24 STANDINS_PREFIX=172.31.78
. ./lib-test.sh
K8S=${1:-1.33.4}
CP1=$PREFIX.11
CP2=$PREFIX.12
VIP=$PREFIX.100
NODES="vip1 vip2 vip3"
CP3=$PREFIX.13
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
start_node vip1 11 "$DEBS"
start_node vip2 12 "$DEBS"
start_node vip3 13 "$DEBS"
for n in $NODES; do wait_boot "$n"; prepare_node "$n"; done

manifest() {  # manifest KUBECONFIG_ON_HOST
cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: kube-vip
  namespace: kube-system
spec:
  containers:
  - args: [manager]
    env:
    - {name: vip_arp, value: "true"}
    - {name: port, value: "6443"}
    - name: vip_nodename
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - {name: vip_interface, value: eth0}
    - {name: vip_subnet, value: "32"}
    - {name: cp_enable, value: "true"}
    - {name: cp_namespace, value: kube-system}
    - {name: vip_leaderelection, value: "true"}
    - {name: vip_leasename, value: plndr-cp-lock}
    - {name: vip_leaseduration, value: "5"}
    - {name: vip_renewdeadline, value: "3"}
    - {name: vip_retryperiod, value: "1"}
    - {name: address, value: "$VIP"}
    image: ghcr.io/kube-vip/kube-vip:v0.8.9
    name: kube-vip
    securityContext: {capabilities: {add: [NET_ADMIN, NET_RAW]}}
    volumeMounts:
    - {mountPath: /etc/kubernetes/admin.conf, name: kubeconfig}
  hostAliases:
  - {hostnames: [kubernetes], ip: 127.0.0.1}
  hostNetwork: true
  volumes:
  - hostPath: {path: $1}
    name: kubeconfig
EOF
}
put vip1 /root/init.yaml <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: {advertiseAddress: "$CP1", bindPort: 6443}
nodeRegistration: {name: vip1}
timeouts: {kubernetesAPICall: 20s}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
controlPlaneEndpoint: "$VIP:6443"
EOF

# 1) without the super-admin.conf switch, kube-vip cannot take its lease and init fails
manifest /etc/kubernetes/admin.conf | put vip1 /etc/kubernetes/manifests/kube-vip.yaml
expect_fail vip1 "init with kube-vip on admin.conf fails (no RBAC yet, no VIP)" "error execution phase" \
  'kubeadm init --config /root/init.yaml --upload-certs'
expect_ok vip1 "kube-vip logged the forbidden lease" 'cannot get resource \\"leases\\"|cannot get resource "leases"' \
  'journalctl -u k8s-pod-kube-vip --no-pager | grep -m1 forbidden'
on vip1 'kubeadm reset -f >/dev/null 2>&1'

# 2) the documented procedure: super-admin.conf during init, admin.conf afterwards
manifest /etc/kubernetes/super-admin.conf | put vip1 /etc/kubernetes/manifests/kube-vip.yaml
set +e
OUT=$(on vip1 'kubeadm init --config /root/init.yaml --upload-certs' 2>&1); rc=$?
set -e
[ $rc -eq 0 ] && ok "init through the VIP with kube-vip on super-admin.conf" || { not_ok "init (exit $rc)"; printf '%s\n' "$OUT" | tail -15; exit 1; }
HASH=$(printf '%s\n' "$OUT" | sed -n 's/.*--discovery-token-ca-cert-hash \(sha256:[0-9a-f]*\).*/\1/p' | head -1)
KEY=$(printf '%s\n' "$OUT" | sed -n 's/.*--certificate-key \([0-9a-f]\{64\}\).*/\1/p' | head -1)
TOKEN=$(printf '%s\n' "$OUT" | sed -n 's/.*--token \([a-z0-9.]*\).*/\1/p' | head -1)
on vip1 "sed -i 's#path: /etc/kubernetes/super-admin.conf#path: /etc/kubernetes/admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml"
expect_ok vip1 "VIP held by vip1" "$VIP/32" 'sleep 3; ip -o -4 addr show dev eth0'
for k in 2 3; do
  expect_ok vip$k "control-plane join of vip$k through the VIP" "new control plane instance was created" \
    "kubeadm join $VIP:6443 --token $TOKEN --discovery-token-ca-cert-hash $HASH --control-plane --certificate-key $KEY --apiserver-advertise-address $PREFIX.1$k"
  manifest /etc/kubernetes/admin.conf | put vip$k /etc/kubernetes/manifests/kube-vip.yaml
done
expect_ok vip2 "all nodes through the VIP" "vip1.*vip2.*vip3" \
  "sleep 5; kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers | tr '\n' ' '"
docker stop -t 5 otp-standins-vip1 >/dev/null
sleep 10
holder=""
for k in 2 3; do on vip$k "ip -o -4 addr show dev eth0" | grep -q " $VIP/" && holder=vip$k; done
[ -n "$holder" ] && ok "VIP failed over to $holder after vip1 stopped" || not_ok "no control plane holds the VIP after vip1 stopped"
expect_ok vip2 "API answers through the VIP after failover" "vip1.*vip2.*vip3" \
  "for i in \$(seq 1 20); do kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --no-headers 2>/dev/null | tr '\n' ' ' | grep vip3 && break; sleep 1; done"
echo "# $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
