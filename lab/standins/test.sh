#!/bin/sh
# End-to-end test of the Kubernetes stand-ins: three Debian 12 systemd containers on a
# private Docker network; kubeadm init, a control-plane join and a worker join over the
# network; the strictness cases (wrong token, wrong CA hash, wrong certificate key, unknown
# flag, unknown v1beta4 field, failed preflight) must fail like the real tools; kubectl
# get/apply/prune/drain/delete and kubeadm token/reset must work. Everything it creates is
# removed at the end (set KEEP=1 to keep the containers for debugging).
#
# Usage: lab/standins/test.sh [K8S_VERSION]     (root; Docker; debootstrap if the image is missing)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"
. ./lib-test.sh
K8S=${1:-1.33.4}
CP1=$PREFIX.11
CP2=$PREFIX.12
W1=$PREFIX.21
NODES="cp1 cp2 w1"
DEBS=$(mktemp -d /var/tmp/standins-debs.XXXXXX)

cleanup() {
  if [ "${KEEP:-0}" != 1 ]; then
    for n in $NODES; do docker rm -f -v "otp-standins-$n" >/dev/null 2>&1 || true; done
    docker network rm "$NET" >/dev/null 2>&1 || true
  fi
  rm -rf "$DEBS"
}
trap cleanup EXIT INT TERM

echo "# building packages for $K8S"
./build-debs.sh "$DEBS" "$K8S" >/dev/null
chmod 755 "$DEBS"
build_image
for n in $NODES; do docker rm -f -v "otp-standins-$n" >/dev/null 2>&1 || true; done
docker network rm "$NET" >/dev/null 2>&1 || true
docker network create --subnet "$SUBNET" "$NET" >/dev/null
start_node cp1 11 "$DEBS"
start_node cp2 12 "$DEBS"
start_node w1 21 "$DEBS"
for n in $NODES; do wait_boot "$n"; prepare_node "$n"; done
ok "3 nodes booted, packages installed, kubelet enabled"

expect_fail cp1 "kubelet crashloops before init (config missing)" "failed to load kubelet config file" \
  'sleep 1; systemctl is-active kubelet >/dev/null && exit 0; journalctl -u kubelet --no-pager | tail -3; exit 1'
expect_ok cp1 "kubeadm version -o short" "^v$K8S\$" 'kubeadm version -o short'
expect_ok cp1 "config images list" "registry.k8s.io/kube-apiserver:v$K8S" "kubeadm config images list --kubernetes-version v$K8S"
expect_fail cp1 "unknown kubeadm subcommand" 'unknown command "frobnicate" for "kubeadm"' 'kubeadm frobnicate'

put cp1 /root/init.yaml <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: "abcdef.0123456789abcdef"
  ttl: "2h"
localAPIEndpoint:
  advertiseAddress: "$CP1"
  bindPort: 6443
nodeRegistration:
  name: cp1
  criSocket: unix:///var/run/containerd/containerd.sock
  kubeletExtraArgs:
  - name: node-ip
    value: "$CP1"
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v$K8S
controlPlaneEndpoint: "$CP1:6443"
networking:
  podSubnet: 10.244.0.0/16
apiServer:
  certSANs: ["$CP1", "k8s-api.lab.invalid"]
  extraArgs:
  - {name: profiling, value: "false"}
  - {name: encryption-provider-config, value: /etc/kubernetes/enc/enc.yaml}
  - {name: audit-policy-file, value: /etc/kubernetes/audit/policy.yaml}
  - {name: audit-log-path, value: /var/log/kubernetes/audit/audit.log}
  extraVolumes:
  - {name: enc, hostPath: /etc/kubernetes/enc, mountPath: /etc/kubernetes/enc, readOnly: true, pathType: DirectoryOrCreate}
  - {name: audit, hostPath: /etc/kubernetes/audit, mountPath: /etc/kubernetes/audit, readOnly: true, pathType: DirectoryOrCreate}
  - {name: audit-log, hostPath: /var/log/kubernetes/audit, mountPath: /var/log/kubernetes/audit, pathType: DirectoryOrCreate}
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
readOnlyPort: 0
serverTLSBootstrap: true
EOF

# files the API server flags point at, on every control plane (kubeadm does not distribute them)
ENCKEY=$(head -c 32 /dev/urandom | base64)
for n in cp1 cp2; do
  on $n "mkdir -p /etc/kubernetes/enc /etc/kubernetes/audit && chmod 700 /etc/kubernetes/enc"
  put $n /etc/kubernetes/enc/enc.yaml <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc:
      keys:
      - {name: key1, secret: "$ENCKEY"}
  - identity: {}
EOF
  put $n /etc/kubernetes/audit/policy.yaml <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
EOF
done

# strict config decoding on init
on cp1 'sed "s/^  bindPort: 6443/  bindPort: 6443\n  bindAddress: 0.0.0.0/" /root/init.yaml > /root/init-unknown.yaml
        sed "/name: enc, hostPath/d; s/^kind: InitConfiguration/kind: InitConfiguration\ntimeouts: {controlPlaneComponentHealthCheck: 20s}/" /root/init.yaml > /root/init-nomount.yaml
        sed "s/^kind: InitConfiguration/kind: InitConfiguration\ntimeouts: {controlPlaneComponentHealthCheck: 20s}/" /root/init.yaml > /root/init-fast.yaml'
put cp1 /root/init-map.yaml <<'EOF'
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  extraArgs:
    profiling: "false"
EOF
expect_fail cp1 "init: unknown v1beta4 field" \
  'strict decoding error: unknown field "localAPIEndpoint.bindAddress"' 'kubeadm init --config /root/init-unknown.yaml'
expect_fail cp1 "init: v1beta3-style extraArgs map" \
  'json: cannot unmarshal object into Go struct field APIServer.apiServer.extraArgs of type []v1beta4.Arg' 'kubeadm init --config /root/init-map.yaml'
expect_fail cp1 "init: --config mixed with flags" "can not mix '--config' with arguments [pod-network-cidr]" \
  'kubeadm init --config /root/init.yaml --pod-network-cidr 10.0.0.0/16'
expect_fail cp1 "init: preflight ip_forward" "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]" \
  'sysctl -qw net.ipv4.ip_forward=0; kubeadm init --config /root/init.yaml; rc=$?; sysctl -qw net.ipv4.ip_forward=1; exit $rc'

expect_fail cp1 "init: containerd with its CRI plugin disabled" "unknown service runtime.v1.RuntimeService" \
  'cp /etc/containerd/config.toml /root/ctd.toml; sed -i "s/^disabled_plugins = \\[\\]/disabled_plugins = [\"io.containerd.grpc.v1.cri\"]/" /etc/containerd/config.toml; systemctl restart containerd
   kubeadm init --config /root/init.yaml; rc=$?; cp /root/ctd.toml /etc/containerd/config.toml; systemctl restart containerd; exit $rc'
expect_fail cp1 "init: kubelet and containerd cgroup drivers differ" "error execution phase wait-control-plane" \
  'sed -i "s/SystemdCgroup = true/SystemdCgroup = false/" /etc/containerd/config.toml; systemctl restart containerd
   kubeadm init --config /root/init-fast.yaml; rc=$?; sed -i "s/SystemdCgroup = false/SystemdCgroup = true/" /etc/containerd/config.toml
   systemctl restart containerd; exit $rc'
expect_ok cp1 "the kubelet said why" "cgroup drivers must match" 'journalctl -u kubelet --no-pager | grep -m1 "RunPodSandbox"'
on cp1 'kubeadm reset -f >/dev/null 2>&1'
expect_fail cp1 "init: API server file not mounted into the static pod" "error execution phase wait-control-plane" \
  'kubeadm init --config /root/init-nomount.yaml'
expect_ok cp1 "the API server said why" "encryption provider configuration file.*no such file or directory" \
  'journalctl -u k8s-pod-kube-apiserver --no-pager | grep -m1 "command failed"'
on cp1 'kubeadm reset -f >/dev/null 2>&1'

set +e
INIT_OUT=$(on cp1 'kubeadm init --config /root/init.yaml --upload-certs' 2>&1); rc=$?
set -e
if [ $rc -eq 0 ] && printf '%s' "$INIT_OUT" | grep -q "Your Kubernetes control-plane has initialized successfully!"; then
  ok "kubeadm init"
else
  not_ok "kubeadm init (exit $rc)"; printf '%s\n' "$INIT_OUT" | tail -20; exit 1
fi
HASH=$(printf '%s\n' "$INIT_OUT" | sed -n 's/.*--discovery-token-ca-cert-hash \(sha256:[0-9a-f]*\).*/\1/p' | head -1)
KEY=$(printf '%s\n' "$INIT_OUT" | sed -n 's/.*--certificate-key \([0-9a-f]\{64\}\).*/\1/p' | head -1)
REAL=sha256:$(on cp1 'openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl rsa -pubin -outform der 2>/dev/null | openssl dgst -sha256 -hex | sed "s/^.* //"')
[ "$HASH" = "$REAL" ] && ok "printed CA hash is sha256 of the CA's SubjectPublicKeyInfo" || not_ok "CA hash $HASH != $REAL"
[ -n "$KEY" ] && ok "certificate key printed" || not_ok "no certificate key in init output"
expect_ok cp1 "init wrote kubeconfigs, pki and static pod manifests" "ok" \
  'for f in admin.conf super-admin.conf kubelet.conf controller-manager.conf scheduler.conf pki/ca.crt pki/sa.key pki/etcd/ca.crt manifests/etcd.yaml manifests/kube-apiserver.yaml manifests/kube-controller-manager.yaml manifests/kube-scheduler.yaml; do test -s /etc/kubernetes/$f || { echo missing $f; exit 1; }; done
   grep -q -- "--profiling=false" /etc/kubernetes/manifests/kube-apiserver.yaml && test -s /var/lib/kubelet/config.yaml && echo ok'
expect_fail cp1 "init twice: preflight reports existing state" "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]" \
  'kubeadm init --config /root/init.yaml'

# join strictness, from the worker, over the network
put w1 /root/join-badtoken.yaml <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: $CP1:6443
    token: zzzzzz.0123456789abcdef
    caCertHashes: ["$HASH"]
nodeRegistration:
  name: w1
timeouts:
  discovery: 10s
EOF
on w1 'sed "s/zzzzzz/abcdef/; s/^    token:/    tokn:/" /root/join-badtoken.yaml > /root/join-unknown.yaml'
expect_fail w1 "join: unknown flag" "unknown flag: --frobnicate" \
  "kubeadm join $CP1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash $HASH --frobnicate"
expect_fail w1 "join: unknown v1beta4 field" 'strict decoding error: unknown field "discovery.bootstrapToken.tokn"' \
  'kubeadm join --config /root/join-unknown.yaml'
expect_fail w1 "join: wrong token" 'could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"' \
  'kubeadm join --config /root/join-badtoken.yaml'
expect_fail w1 "join: right token id, wrong secret" "failed to verify JWS signature of received cluster info object" \
  "kubeadm join $CP1:6443 --token abcdef.0123456789abcdex --discovery-token-ca-cert-hash $HASH"
expect_fail w1 "join: wrong CA hash" "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"$HASH\" are pinned" \
  "kubeadm join $CP1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:$(printf '%064d' 0)"
expect_fail w1 "join: no CA hash" "using token-based discovery without caCertHashes can be unsafe" \
  "kubeadm join $CP1:6443 --token abcdef.0123456789abcdef"
expect_fail cp2 "join: control plane with wrong certificate key" "error decoding secret data with provided key: cipher: message authentication failed" \
  "kubeadm join $CP1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash $HASH --control-plane --certificate-key $(printf '%064d' 1)"
on cp2 'rm -rf /etc/kubernetes/pki/*'

# correct joins
expect_ok cp2 "control-plane join (etcd learner, promoted)" "new control plane instance was created" \
  "kubeadm join $CP1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash $HASH --control-plane --certificate-key $KEY --apiserver-advertise-address $CP2"
expect_ok w1 "worker join" "This node has joined the cluster" \
  "kubeadm join $CP1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash $HASH"
ETCDCTL="ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key"
expect_ok cp2 "etcd has 2 voting members" "^2$" "$ETCDCTL member list | grep -c ', false$'"
K="kubectl --kubeconfig /etc/kubernetes/admin.conf"
expect_ok cp1 "kubectl get nodes on cp1 lists all" "cp1.*cp2.*w1" "$K get nodes --no-headers | sort | tr '\n' ' '"
expect_ok cp2 "kubectl get nodes through cp2's own API server lists all" "cp1.*cp2.*w1" "$K -s https://$CP2:6443 get nodes --no-headers | sort | tr '\n' ' '"
expect_ok cp1 "nodes NotReady until a CNI is applied" "NotReady" "$K get node w1 --no-headers"
expect_ok cp1 "kubectl get pods lists static pods of both control planes" "etcd-cp1.*etcd-cp2" "$K -n kube-system get pods -l component=etcd -o name | sort | tr '\n' ' '"

put cp1 /root/addons.yaml <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: lab-cni
  labels: {app.kubernetes.io/managed-by: otp-provision}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: lab-cni
  namespace: lab-cni
  labels: {app.kubernetes.io/managed-by: otp-provision}
spec:
  selector: {matchLabels: {app: lab-cni}}
  template:
    metadata: {labels: {app: lab-cni}}
    spec:
      containers: [{name: install-cni, image: example.invalid/cni:1}]
      volumes: [{name: cni-net-dir, hostPath: {path: /etc/cni/net.d}}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: old-addon
  namespace: lab-cni
  labels: {app.kubernetes.io/managed-by: otp-provision}
data: {a: "1"}
EOF
expect_ok cp1 "kubectl apply --server-side" "configmap/old-addon serverside-applied" \
  "$K apply --server-side --field-manager otp-provision -f /root/addons.yaml"
expect_fail cp1 "server-side apply conflict with another manager" 'Apply failed with 1 conflict: conflict with "otp-provision"' \
  "sed 's/a: \"1\"/a: \"2\"/' /root/addons.yaml | $K apply --server-side --field-manager someone-else -f -"
expect_ok cp1 "apply --prune removes objects no longer in the set" "configmap/old-addon pruned" \
  "awk 'BEGIN{d=0} /^---$/{d++} d<2' /root/addons.yaml | $K apply --server-side --field-manager otp-provision --prune -l app.kubernetes.io/managed-by=otp-provision -f -"
expect_fail cp1 "pruned object is gone" "NotFound" "$K -n lab-cni get configmap old-addon"
expect_fail cp1 "apply of a kind without its CRD" 'no matches for kind "Widget" in version "example.com/v1"' \
  "printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n' | $K apply --server-side -f -"
expect_ok cp1 "all nodes Ready once the CNI DaemonSet exists" "^3$" \
  "for i in \$(seq 1 40); do n=\$($K get nodes --no-headers | grep -c ' Ready '); [ \$n -eq 3 ] && break; sleep 2; done; echo \$n"
expect_ok cp1 "kubectl wait for node Ready" "node/w1 condition met" "$K wait --for=condition=Ready node/w1 --timeout=60s"
expect_ok cp1 "rollout status of the CNI DaemonSet" 'daemon set "lab-cni" successfully rolled out' "$K -n lab-cni rollout status ds/lab-cni --timeout=60s"
expect_ok cp1 "rollout status of CoreDNS" 'deployment "coredns" successfully rolled out' "$K -n kube-system rollout status deployment/coredns --timeout=60s"
expect_ok cp1 "drain a worker" "node/w1 drained" "$K drain w1 --ignore-daemonsets --delete-emptydir-data --timeout=60s"
expect_ok cp1 "drained node is unschedulable" "SchedulingDisabled" "$K get node w1 --no-headers"
expect_ok cp1 "uncordon" "node/w1 uncordoned" "$K uncordon w1"
expect_fail cp1 "kubectl unknown flag" "error: unknown flag: --frobnicate" "$K get nodes --frobnicate"
expect_fail cp1 "kubectl unknown resource type" "the server doesn't have a resource type \"frobs\"" "$K get frobs"
expect_fail cp1 "kubectl get missing object" 'Error from server (NotFound): nodes "nope" not found' "$K get node nope"

ETCD1="ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key"
expect_ok cp1 "secrets are encrypted at rest in etcd" "^k8s:enc:aescbc:v1:key1:" \
  "printf 'apiVersion: v1\\nkind: Secret\\nmetadata: {name: s1, namespace: default}\\nstringData: {pw: hunter2}\\n' | $K apply --server-side -f - >/dev/null && $ETCD1 get /registry/secrets/default/s1 --print-value-only | head -c 40"
expect_ok cp1 "secret reads back decrypted" "^hunter2$" "$K get secret s1 -o jsonpath='{.data.pw}' | base64 -d"
expect_ok cp1 "audit log written" '"kind": "Event"' "tail -1 /var/log/kubernetes/audit/audit.log"

# otp-provision's addon scripts (src/addons/plan.rs apply_script, secrets.rs ensure_script), taken
# from its own snapshot tests so they stay what the product generates
SNAP=$HERE/../../src/addons/snapshots
snap() { sed '1,4d' "$SNAP/otp_provision__addons__tests__$1.snap"; }
# the rendered manifests without their placeholder Secrets (those come from the secrets script)
no_secrets() { awk 'function flush() { if (doc != "" && doc !~ /\nkind: Secret\n/) printf "%s", doc; doc = "" }
                    /^---$/ { flush(); doc = "---\n"; next } { doc = doc $0 "\n" } END { flush() }'; }
SSA="$K apply --server-side --field-manager=otp-provision --force-conflicts"
for a in metrics-server metrics logging; do
  snap "example_$a" | no_secrets | put cp1 "/root/addon-$a.yaml"
  n=$(snap "example_$a" | no_secrets | grep -c '^kind:')
  expect_ok cp1 "addon $a: server-side apply of its $n objects" "^$n\$" "$SSA -f /root/addon-$a.yaml | grep -c ' serverside-applied\$'"
done
expect_ok cp1 "addon kinds stored (APIService, PDB, NetworkPolicy, PVC, StatefulSet)" "^5$" \
  "{ $K get apiservice v1beta1.metrics.k8s.io -o name; $K -n kube-system get pdb metrics-server -o name; $K -n logging get networkpolicy default-deny-ingress -o name; $K -n monitoring get pvc -o name; $K -n logging get sts opensearch -o name; } | wc -l"
{ printf 'set -eu\nexport KUBECONFIG=/etc/kubernetes/admin.conf\n'; snap apply_logging_secrets; } | put cp1 /root/secrets.sh
expect_ok cp1 "secrets script: create secret generic --from-file | label --local -f - | create -f -" "^6$" \
  "sh /root/secrets.sh | grep -c '^created secret'"
expect_ok cp1 "secrets script again: existing secrets kept" "^0$" "sh /root/secrets.sh | grep -c '^created secret' || true"
expect_ok cp1 "created secret: labels, type Opaque, data from the files" "^Opaque otp-provision logging true$" \
  "$K -n logging get secret opensearch-certs -o 'jsonpath={.type} {.metadata.labels.app\\.kubernetes\\.io/managed-by} {.metadata.labels.otp-provision\\.io/addon} ' && $K -n logging get secret opensearch-certs -o 'jsonpath={.data.node\\.crt}' | base64 -d | grep -q 'BEGIN CERTIFICATE' && echo true"
expect_ok cp1 "jsonpath with an escaped dot: the CA is shared by read-back" "^same$" \
  "a=\$($K -n logging get secret opensearch-ca -o 'jsonpath={.data.ca\\.crt}'); b=\$($K -n logging-agents get secret opensearch-fluentbit -o 'jsonpath={.data.ca\\.crt}'); [ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ] && echo same"
expect_ok cp1 "create secret --dry-run=client -o json: kubectl's typed Secret, no server" '"creationTimestamp": null' \
  "printf x > /root/f.txt; $K -n demo create secret generic s --from-file=/root/f.txt --from-literal=k=v --dry-run=client -o json --kubeconfig /nonexistent | tr -d '\\n ' | grep -q '^{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"s\",\"namespace\":\"demo\",\"creationTimestamp\":null},\"data\":{\"f.txt\":\"eA==\",\"k\":\"dg==\"}}\$' && $K -n demo create secret generic s --from-file=/root/f.txt --dry-run=client -o json --kubeconfig /nonexistent"
expect_ok cp1 "label --local -o yaml" "^    otp-provision.io/addon: x$" \
  "$K create secret generic s --from-literal=k=v --dry-run=client -o yaml | $K label --local -f - -o yaml otp-provision.io/addon=x"
expect_ok cp1 "create secret generic (no dry run)" "^secret/s1b created$" "$K create secret generic s1b --from-literal=a=b --type=example.com/x"
expect_fail cp1 "create secret: missing file" "error: error reading /nope: no such file or directory" \
  "$K create secret generic s --from-file=k=/nope --dry-run=client -o json"
expect_fail cp1 "create secret: existing" 'error: failed to create secret secrets "s1b" already exists' "$K create secret generic s1b --from-literal=a=b"
expect_fail cp1 "create secret: unknown flag" "error: unknown flag: --frobnicate" "$K create secret generic s --frobnicate"
expect_fail cp1 "label --local needs -f" "error: one or more files must be specified as -f rsrc.yaml or --filename=rsrc.json" "$K label --local a=b"
expect_fail cp1 "label --local: existing label without --overwrite" "error: 'a' already has a value (b), and --overwrite is false" \
  "$K create secret generic s --from-literal=k=v --dry-run=client -o json | $K label --local -f - -o json a=b | $K label --local -f - -o json a=c"
expect_fail cp1 "label: unknown flag" "error: unknown flag: --frobnicate" "$K label --local -f - --frobnicate a=b </dev/null"

# metrics-server: its TLS secret, then the CA into the APIService (plan.rs)
on cp1 "mkdir -p /root/ms && cd /root/ms && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=ms-ca -days 1 2>/dev/null"
expect_ok cp1 "metrics-server-tls created through the pipeline" "^secret/metrics-server-tls created$" \
  "$K -n kube-system create secret generic metrics-server-tls --from-file=ca.crt=/root/ms/ca.crt --from-file=ca.key=/root/ms/ca.key --dry-run=client -o json | $K label --local -f - -o json app.kubernetes.io/managed-by=otp-provision otp-provision.io/addon=metrics-server | $K create -f -"
PATCH_CA="ca=\$($K -n kube-system get secret metrics-server-tls -o 'jsonpath={.data.ca\\.crt}'); $K patch apiservice v1beta1.metrics.k8s.io --type merge -p \"{\\\"spec\\\":{\\\"caBundle\\\":\\\"\$ca\\\"}}\""
expect_ok cp1 "patch apiservice --type merge" "^apiservice.apiregistration.k8s.io/v1beta1.metrics.k8s.io patched$" "$PATCH_CA"
expect_ok cp1 "the same patch again" "^apiservice.apiregistration.k8s.io/v1beta1.metrics.k8s.io patched \\(no change\\)$" "$PATCH_CA"
expect_ok cp1 "caBundle survives the next server-side apply of the APIService" "^same$" \
  "$SSA -f /root/addon-metrics-server.yaml >/dev/null && [ \"\$($K get apiservice v1beta1.metrics.k8s.io -o 'jsonpath={.spec.caBundle}')\" = \"\$(base64 -w0 /root/ms/ca.crt)\" ] && echo same"
expect_ok cp1 "patch TYPE/NAME --type json, -n, -o name" "^configmap/otp-patch-demo$" \
  "$K -n kube-system create configmap otp-patch-demo >/dev/null 2>&1 || printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: otp-patch-demo, namespace: kube-system}\n' | $K create -f - >/dev/null; $K -n kube-system patch configmap/otp-patch-demo --type json -p '[{\"op\":\"add\",\"path\":\"/data\",\"value\":{\"a\":\"b\"}}]' -o name"
expect_ok cp1 "patch --patch-file (strategic, the default)" "^b c$" \
  "printf 'data:\n  c: d\n' > /root/p.yaml; $K -n kube-system patch configmap otp-patch-demo --patch-file /root/p.yaml >/dev/null; $K -n kube-system get cm otp-patch-demo -o 'jsonpath={.data.a} {.data.c}' | sed 's/ d\$/ c/'"
expect_fail cp1 "patch of a missing object" 'Error from server (NotFound): apiservices.apiregistration.k8s.io "v1beta1.nope.k8s.io" not found' \
  "$K patch apiservice v1beta1.nope.k8s.io --type merge -p '{}'"
expect_fail cp1 "patch --type must be known" 'error: --type must be one of [json merge strategic], not "frob"' "$K patch apiservice x --type frob -p '{}'"
expect_fail cp1 "patch: unknown flag" "error: unknown flag: --frobnicate" "$K patch apiservice x -p '{}' --frobnicate"
expect_ok cp1 "label TYPE NAME; the same again: not labeled" "^node/cp1 labeled node/cp1 not labeled $" \
  "{ $K label node cp1 otp.example/role=x --overwrite; $K label node cp1 otp.example/role=x --overwrite; } | tr '\\n' ' '"
expect_fail cp1 "label without --overwrite" "error: 'otp.example/role' already has a value (x), and --overwrite is false" \
  "$K label node cp1 otp.example/role=y"
expect_ok cp1 "apply --dry-run=server stores nothing" "configmap/dry serverside-applied \\(server dry run\\) .*NotFound" \
  "{ printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: dry, namespace: default}\\n' | $K apply --server-side --dry-run=server -f -; $K get cm dry; } 2>&1 | tr '\\n' ' '"

# StatefulSet re-creation (plan.rs STS_APPLY), then the removal of a whole addon
expect_ok cp1 "delete statefulset --cascade=orphan" '^statefulset.apps "opensearch" deleted$' "$K -n logging delete statefulset opensearch --cascade=orphan"
expect_fail cp1 "delete: bad --cascade" 'error: invalid cascade value (sideways). Must be "background", "foreground", or "orphan".' \
  "$K -n logging delete statefulset opensearch --cascade=sideways"
expect_ok cp1 "StatefulSet applied again" "statefulset.apps/opensearch serverside-applied" "$SSA -f /root/addon-logging.yaml"
snap example_logging | awk 'function flush() { if (doc ~ /\nkind: StatefulSet\n/) printf "%s", doc; doc = "" }
  /^---$/ { flush(); doc = "---\n"; next } { doc = doc $0 "\n" } END { flush() }' | sed 's/storage: 100Gi/storage: 200Gi/' | put cp1 /root/sts-bigger.yaml
expect_fail cp1 "StatefulSet: volumeClaimTemplates cannot be updated" "updates to statefulset spec for fields other than 'replicas'" \
  "$SSA -f /root/sts-bigger.yaml"
{ printf 'set -eu\nexport KUBECONFIG=/etc/kubernetes/admin.conf\n'
  sed -n '/^const STS_APPLY: &str = r#"/,/^"#;/p' "$HERE/../../src/addons/plan.rs" | sed '1s/.*r#"//; $d'
  echo 'sts_apply logging opensearch </root/sts-bigger.yaml'; } | put cp1 /root/sts-apply.sh
expect_ok cp1 "plan.rs sts_apply: re-created with --cascade=orphan" "fields that cannot be updated changed; re-creating it.*serverside-applied" \
  "sh /root/sts-apply.sh | tr '\n' ' '"
snap apply_metrics_changed_and_pruned | put cp1 /root/metrics-changed.sh
expect_ok cp1 "metrics script: apply, prune (delete --ignore-not-found --wait=false -f -), record" "configmap/otp-provision-addons serverside-applied" \
  "sh /root/metrics-changed.sh"
snap apply_logging_removed | put cp1 /root/logging-removed.sh
expect_ok cp1 "logging removal script: delete -f - of minimal objects of every kind" 'namespace "logging-agents" deleted' "sh /root/logging-removed.sh"
expect_ok cp1 "deleting a namespace removes its contents" "^gone$" \
  "for i in \$(seq 1 20); do $K get ns logging >/dev/null 2>&1 || break; sleep 1; done; $K get ns logging >/dev/null 2>&1 || [ -n \"\$($ETCD1 get /registry/configmaps/logging/ --prefix --keys-only)\" ] || echo gone"
expect_ok cp1 "the removal script again: everything already gone" "configmap/otp-provision-addons serverside-applied" "sh /root/logging-removed.sh"

# kubelet serving certificates (serverTLSBootstrap): pending until approved
expect_ok cp1 "kubelet-serving CSRs wait for approval" "kubernetes.io/kubelet-serving.*Pending" \
  "for i in \$(seq 1 20); do $K get csr --no-headers | grep -q 'kubelet-serving.*Pending' && break; sleep 1; done; $K get csr --no-headers"
expect_ok cp1 "kubectl certificate approve" "approved" \
  "$K certificate approve \$($K get csr --no-headers | awk '/kubelet-serving/ && /Pending/ {print \$1}')"
expect_ok w1 "approved serving certificate reaches the kubelet" "kubelet-server-current.pem" \
  "for i in \$(seq 1 30); do test -e /var/lib/kubelet/pki/kubelet-server-current.pem && break; sleep 1; done; ls /var/lib/kubelet/pki"
expect_ok cp1 "certs check-expiration" "apiserver +[A-Z][a-z]{2} [0-9]+, [0-9]{4}.*ca +no" "kubeadm certs check-expiration"

# tokens
expect_ok cp1 "token create --print-join-command" "^kubeadm join $CP1:6443 --token [a-z0-9]{6}\.[a-z0-9]{16} --discovery-token-ca-cert-hash $HASH" \
  "kubeadm token create --ttl 1h --print-join-command"
expect_ok cp1 "token list" "abcdef.0123456789abcdef" "kubeadm token list"
expect_ok cp1 "token delete" 'bootstrap token "abcdef" deleted' "kubeadm token delete abcdef"
expect_fail w1 "deleted token is no longer accepted" "could not find a JWS signature" \
  "kubeadm reset -f >/dev/null 2>&1; sed 's/zzzzzz/abcdef/' /root/join-badtoken.yaml > /root/j.yaml; kubeadm join --config /root/j.yaml"
expect_ok cp1 "upload-certs prints a new key" "^[0-9a-f]{64}$" "kubeadm init phase upload-certs --upload-certs | tail -1"

# removal
expect_ok cp1 "delete node" 'node "w1" deleted' "$K delete node w1"
expect_ok cp2 "reset a control plane removes its etcd member" "Removed etcd member cp2" "kubeadm reset -f"
expect_ok cp1 "etcd back to 1 member" "^1$" "$ETCDCTL member list | wc -l"
expect_ok cp2 "reset left no kubeadm state" "^clean$" \
  "test ! -e /etc/kubernetes/admin.conf && test ! -e /etc/kubernetes/kubelet.conf && test -z \"\$(find /etc/kubernetes/manifests /etc/kubernetes/pki /var/lib/etcd -mindepth 1)\" && ! systemctl is-active --quiet kubelet && echo clean"

echo "# $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
