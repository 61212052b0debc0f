#!/usr/bin/python3
"""kubeadm stand-in for the otp-provision test lab (see k8scommon.py)."""

import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time

import kubeadm_config as kc
import pki
from cli import Flag, UsageError, parse_flags
from k8scommon import (APIError, BUILD_DATE, cri_error, COREDNS_TAG, Client, ETCD_IMAGE_TAG, Etcd, GIT_COMMIT, K8S_VERSION,
                       PAUSE_TAG, StandinError, TOKEN_RE, b64, ca_hash_from_pem, format_go_duration, hostname,
                       jws_detached, kubeconfig, kubeconfig_target, load_kubeconfig, now_utc, openssl,
                       parse_go_duration, parse_rfc3339, port_in_use, primary_ip, random_token, rfc3339,
                       unb64, url_error_text, wait_until, write_file, yaml_dump, yaml_dump_ordered, yaml_load)

KDIR = "/etc/kubernetes"
MANIFESTS = f"{KDIR}/manifests"
KUBELET_DIR = "/var/lib/kubelet"
DEFAULT_CRI = "unix:///var/run/containerd/containerd.sock"
BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token"
CP_LABELS = ["node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers"]
CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher"


class PhaseError(Exception):
    def __init__(self, phase, msg):
        self.phase, self.msg = phase, msg
        super().__init__(msg)


def out(s=""):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def warn(msg, file="", line=0):
    from k8scommon import klog
    klog("W", msg, file=file or "kubeadm.go", line=line or 1)


def version_tuple(v):
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", v or "")
    if not m:
        raise StandinError(f'couldn\'t parse Kubernetes version "{v}"')
    return tuple(int(x) for x in m.groups())


def minor():
    return version_tuple(K8S_VERSION)[1]


# ---------------------------------------------------------------- global flags

GLOBAL_FLAGS = [Flag("v", "int", 0, "v"), Flag("rootfs", "str"), Flag("add-dir-header", "bool", False),
                Flag("log-file", "str"), Flag("log-file-max-size", "int", 1800), Flag("one-output", "bool", False),
                Flag("skip-headers", "bool", False), Flag("skip-log-headers", "bool", False),
                Flag("help", "bool", False, "h")]


def require_root():
    if os.geteuid() != 0:
        raise StandinError("user is not running as root")


# ---------------------------------------------------------------- defaults

def default_init(init, cluster, flags=None):
    """Apply kubeadm's static + dynamic defaults (in place)."""
    init.setdefault("apiVersion", "kubeadm.k8s.io/v1beta4")
    init.setdefault("kind", "InitConfiguration")
    if init.get("bootstrapTokens") is None:
        init["bootstrapTokens"] = [{}]
    for bt in init["bootstrapTokens"]:
        if not bt.get("token"):
            bt["token"] = random_token()
        if bt.get("ttl") is None and bt.get("expires") is None:
            bt["ttl"] = "24h0m0s"
        bt.setdefault("usages", ["signing", "authentication"])
        bt.setdefault("groups", [BOOTSTRAP_GROUP])
    nr = init.setdefault("nodeRegistration", {})
    nr.setdefault("name", hostname())
    nr.setdefault("criSocket", DEFAULT_CRI)
    nr.setdefault("imagePullPolicy", "IfNotPresent")
    if "taints" not in nr or nr["taints"] is None:
        nr["taints"] = [dict(CP_TAINT)]
    ep = init.setdefault("localAPIEndpoint", {})
    if not ep.get("advertiseAddress"):
        ep["advertiseAddress"] = primary_ip()
    ep.setdefault("bindPort", 6443)
    t = init.setdefault("timeouts", {})
    for k, v in (("controlPlaneComponentHealthCheck", "4m0s"), ("kubeletHealthCheck", "4m0s"),
                 ("kubernetesAPICall", "1m0s"), ("etcdAPICall", "2m0s"), ("tlsBootstrap", "5m0s"),
                 ("discovery", "5m0s"), ("upgradeManifests", "5m0s")):
        t.setdefault(k, v)
    default_cluster(cluster)


def default_cluster(cluster):
    cluster.setdefault("apiVersion", "kubeadm.k8s.io/v1beta4")
    cluster.setdefault("kind", "ClusterConfiguration")
    cluster.setdefault("kubernetesVersion", K8S_VERSION)
    cluster.setdefault("certificatesDir", "/etc/kubernetes/pki")
    cluster.setdefault("imageRepository", "registry.k8s.io")
    cluster.setdefault("clusterName", "kubernetes")
    cluster.setdefault("encryptionAlgorithm", "RSA-2048")
    cluster.setdefault("certificateValidityPeriod", "8760h0m0s")
    cluster.setdefault("caCertificateValidityPeriod", "87600h0m0s")
    net = cluster.setdefault("networking", {})
    net.setdefault("serviceSubnet", "10.96.0.0/12")
    net.setdefault("dnsDomain", "cluster.local")
    etcd = cluster.setdefault("etcd", {})
    if not etcd.get("external"):
        etcd.setdefault("local", {}).setdefault("dataDir", "/var/lib/etcd")
    for c in ("apiServer", "controllerManager", "scheduler", "dns", "proxy"):
        if cluster.get(c) is None:
            cluster[c] = {}


def check_version(cluster):
    want = cluster.get("kubernetesVersion") or K8S_VERSION
    if want in ("stable", "stable-1", "latest"):
        raise StandinError(f'unable to get URL "https://dl.k8s.io/release/{want}.txt": Get '
                           f'"https://dl.k8s.io/release/{want}.txt": dial tcp: lookup dl.k8s.io: no such host')
    v = version_tuple(want)
    k = version_tuple(K8S_VERSION)
    if v[:2] < (k[0], k[1] - 1):
        raise StandinError(f"this version of kubeadm only supports deploying clusters with the control plane "
                           f"version >= {k[0]}.{k[1] - 1}.0. Current version: {want}")
    if v[:2] > k[:2]:
        raise StandinError(f"the specified version to deploy ({want}) is greater than the kubeadm version "
                           f"(v{k[0]}.{k[1]}) by more than one minor version" if v[1] > k[1] + 1 else
                           f"this version of kubeadm only supports deploying clusters with the control plane "
                           f"version <= v{k[0]}.{k[1]}.x. Current version: {want}")
    if not want.startswith("v"):
        cluster["kubernetesVersion"] = "v" + want


# ---------------------------------------------------------------- preflight

class Preflight:
    def __init__(self, ignore):
        self.ignore = {i.lower() for i in (ignore or [])}
        self.errors, self.warnings = [], []

    def fail(self, name, msg):
        if "all" in self.ignore or name.lower() in self.ignore:
            self.warnings.append(f"\t[WARNING {name}]: {msg}")
        else:
            self.errors.append(f"\t[ERROR {name}]: {msg}")

    def warn(self, name, msg):
        self.warnings.append(f"\t[WARNING {name}]: {msg}")

    def finish(self):
        for w in self.warnings:
            sys.stderr.write(w + "\n")
        if self.errors:
            raise PhaseError("preflight", "[preflight] Some fatal errors occurred:\n" + "\n".join(self.errors) +
                             "\n[preflight] If you know what you are doing, you can make a check non-fatal with "
                             "`--ignore-preflight-errors=...`")


def path_label(p):
    # kubeadm names file checks after the path with '/' -> '-': FileAvailable--etc-kubernetes-kubelet.conf
    return p.rstrip("/").replace("/", "-")


def common_checks(pf, cri_socket, fail_swap_on=True):
    if os.geteuid() != 0:
        pf.fail("IsPrivilegedUser", "user is not running as root")
    try:
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            if f.read().strip() != "1":
                pf.fail("FileContent--proc-sys-net-ipv4-ip_forward",
                        "/proc/sys/net/ipv4/ip_forward contents are not set to 1")
    except FileNotFoundError:
        pf.fail("FileContent--proc-sys-net-ipv4-ip_forward", "/proc/sys/net/ipv4/ip_forward does not exist")
    try:
        with open("/proc/swaps") as f:
            swaps = f.read().strip().splitlines()[1:]
    except FileNotFoundError:
        swaps = []
    if swaps:
        if fail_swap_on:
            pf.fail("Swap", "running with swap on is not supported. Please disable swap")
        else:
            pf.warn("Swap", "swap is supported for cgroup v2 only. The kubelet must be properly configured to use "
                    "swap. Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, "
                    "or disable swap on the node")
    err = cri_error(cri_socket)
    if err:
        pf.fail("CRI", "could not connect to the container runtime: failed to create new CRI runtime service: " + err)
    for b in ("crictl", "conntrack", "ip", "iptables", "mount", "nsenter", "ethtool", "tc", "touch"):
        if not shutil.which(b):
            if b in ("crictl", "conntrack", "ip", "iptables", "mount", "nsenter"):
                pf.fail(f"FileExisting-{b}", f"{b} not found in system path")
            else:
                pf.warn(f"FileExisting-{b}", f"{b} not found in system path")
    if subprocess.run(["systemctl", "is-enabled", "--quiet", "kubelet.service"]).returncode != 0:
        pf.warn("Service-Kubelet", "kubelet service is not enabled, please run 'systemctl enable kubelet.service'")


def control_plane_checks(pf, bind_port, data_dir):
    if (os.cpu_count() or 1) < 2:
        pf.fail("NumCPU", f"the number of available CPUs {os.cpu_count()} is less than the required 2")
    for p in (bind_port, 10259, 10257):
        if port_in_use(p):
            pf.fail(f"Port-{p}", f"Port {p} is in use")
    for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        p = f"{MANIFESTS}/{c}.yaml"
        if os.path.exists(p):
            pf.fail(f"FileAvailable-{path_label(p)}", f"{p} already exists")
    if data_dir:
        for p in (2379, 2380):
            if port_in_use(p):
                pf.fail(f"Port-{p}", f"Port {p} is in use")
        if os.path.isdir(data_dir) and os.listdir(data_dir):
            pf.fail(f"DirAvailable-{path_label(data_dir)}", f"{data_dir} is not empty")


def node_checks(pf, ca_path):
    if port_in_use(10250):
        pf.fail("Port-10250", "Port 10250 is in use")
    for p in (f"{KDIR}/kubelet.conf", f"{KDIR}/bootstrap-kubelet.conf"):
        if os.path.exists(p):
            pf.fail(f"FileAvailable-{path_label(p)}", f"{p} already exists")
    if ca_path and os.path.exists(ca_path):
        pf.fail(f"FileAvailable-{path_label(ca_path)}", f"{ca_path} already exists")


# ---------------------------------------------------------------- PKI phases

def cert_days(cluster, ca=False):
    key = "caCertificateValidityPeriod" if ca else "certificateValidityPeriod"
    return max(1, int(parse_go_duration(cluster[key]) // 86400))


def service_ip(cluster):
    import ipaddress
    net = ipaddress.ip_network(cluster["networking"]["serviceSubnet"].split(",")[0], strict=False)
    return str(net.network_address + 1)


def gen_ca_set(cluster, out_fn=out):
    d = cluster["certificatesDir"]
    alg = cluster["encryptionAlgorithm"]
    days = cert_days(cluster, True)
    os.makedirs(f"{d}/etcd", exist_ok=True)
    for name, cn, crt in (("ca", "kubernetes", "ca"), ("front-proxy-ca", "front-proxy-ca", "front-proxy-ca"),
                          ("etcd/ca", "etcd-ca", "etcd/ca")):
        if os.path.exists(f"{d}/{crt}.crt") and os.path.exists(f"{d}/{crt}.key"):
            out_fn(f'[certs] Using the existing "{name}" certificate and key')
            continue
        out_fn(f'[certs] Generating "{name}" certificate and key')
        pki.make_ca(f"{d}/{crt}.crt", f"{d}/{crt}.key", cn, alg, days)


def gen_leaf_set(cluster, node_name, adv, is_init=True):
    d = cluster["certificatesDir"]
    alg = cluster["encryptionAlgorithm"]
    days = cert_days(cluster)
    dom = cluster["networking"]["dnsDomain"]
    api_dns = [node_name, "kubernetes", "kubernetes.default", "kubernetes.default.svc", f"kubernetes.default.svc.{dom}"]
    api_ips = [service_ip(cluster), adv]
    cpe = cluster.get("controlPlaneEndpoint")
    if cpe:
        host, _ = kc.split_hostport(cpe)
        (api_ips if kc._is_ip(host) else api_dns).append(host)
    for s in (cluster.get("apiServer") or {}).get("certSANs") or []:
        (api_ips if kc._is_ip(s) else api_dns).append(s)
    api_dns = list(dict.fromkeys(api_dns))
    api_ips = list(dict.fromkeys(api_ips))

    def leaf(name, ca, cn, orgs, usages, dns=(), ips=()):
        out(f'[certs] Generating "{name}" certificate and key')
        pki.make_cert(f"{d}/{ca}.crt", f"{d}/{ca}.key", f"{d}/{name}.crt", f"{d}/{name}.key", cn, orgs, usages,
                      dns, ips, alg, days)

    leaf("apiserver", "ca", "kube-apiserver", (), ("server",), api_dns, api_ips)
    out(f"[certs] apiserver serving cert is signed for DNS names [{' '.join(api_dns)}] and IPs [{' '.join(api_ips)}]")
    leaf("apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",), ("client",))
    leaf("front-proxy-client", "front-proxy-ca", "front-proxy-client", (), ("client",))
    local = (cluster.get("etcd") or {}).get("local")
    if local is not None:
        edns = list(dict.fromkeys([node_name, "localhost"] + [s for s in local.get("serverCertSANs") or [] if not kc._is_ip(s)]))
        eips = list(dict.fromkeys([adv, "127.0.0.1", "::1"] + [s for s in local.get("serverCertSANs") or [] if kc._is_ip(s)]))
        leaf("etcd/server", "etcd/ca", node_name, (), ("server", "client"), edns, eips)
        out(f"[certs] etcd/server serving cert is signed for DNS names [{' '.join(edns)}] and IPs [{' '.join(eips)}]")
        pdns = list(dict.fromkeys([node_name, "localhost"] + [s for s in local.get("peerCertSANs") or [] if not kc._is_ip(s)]))
        pips = list(dict.fromkeys([adv, "127.0.0.1", "::1"] + [s for s in local.get("peerCertSANs") or [] if kc._is_ip(s)]))
        leaf("etcd/peer", "etcd/ca", node_name, (), ("server", "client"), pdns, pips)
        out(f"[certs] etcd/peer serving cert is signed for DNS names [{' '.join(pdns)}] and IPs [{' '.join(pips)}]")
        leaf("etcd/healthcheck-client", "etcd/ca", "kube-etcd-healthcheck-client", (), ("client",))
        leaf("apiserver-etcd-client", "etcd/ca", "kube-apiserver-etcd-client", (), ("client",))
    if os.path.exists(f"{d}/sa.key") and os.path.exists(f"{d}/sa.pub"):
        out('[certs] Using the existing "sa" key')
    else:
        out('[certs] Generating "sa" key and public key')
        pki.make_sa(f"{d}/sa.key", f"{d}/sa.pub")


def endpoint_url(cluster, init_ep):
    cpe = cluster.get("controlPlaneEndpoint")
    if cpe:
        host, port = kc.split_hostport(cpe)
        if port is None:
            port = init_ep["bindPort"]
        h = f"[{host}]" if ":" in host else host
        return f"https://{h}:{port}"
    a = init_ep["advertiseAddress"]
    return f"https://{a}:{init_ep['bindPort']}"


def write_kubeconfig_file(name, cluster, server, cn, orgs):
    d = cluster["certificatesDir"]
    ca = open(f"{d}/ca.crt", "rb").read()
    cert, key = pki.client_cert_pem(f"{d}/ca.crt", f"{d}/ca.key", cn, orgs, cluster["encryptionAlgorithm"],
                                    cert_days(cluster))
    cfg = kubeconfig(server, cluster["clusterName"], cn, ca, cert, key)
    write_file(f"{KDIR}/{name}", yaml_dump(cfg), 0o600)
    out(f'[kubeconfig] Writing "{name}" kubeconfig file')


# ---------------------------------------------------------------- manifests

def args_with_extra(defaults, extra):
    """kubeadm: extraArgs override defaults with the same name; repeated extra names all kept."""
    names = {a["name"] for a in extra or []}
    merged = [(k, v) for k, v in defaults if k not in names]
    merged += [(a["name"], a.get("value", "")) for a in extra or []]
    merged.sort(key=lambda kv: kv[0])
    return [f"--{k}={v}" for k, v in merged]


def host_volume(name, path, ptype="DirectoryOrCreate", ro=False, mount=None):
    vol = {"hostPath": {"path": path, "type": ptype}, "name": name}
    m = {"mountPath": mount or path, "name": name}
    if ro:
        m["readOnly"] = True
    return vol, m


def static_pod(name, image, command, volumes, annotations, probe_port, probe_path, probe_host, scheme="HTTPS",
               env=None, priority=True, requests=None):
    vols = [v for v, _ in volumes]
    mounts = [m for _, m in volumes]
    c = {
        "command": command,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": {"failureThreshold": 8, "httpGet": {"host": probe_host, "path": probe_path,
                                                             "port": probe_port, "scheme": scheme},
                          "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 15},
        "name": name,
        "resources": {"requests": requests or {"cpu": "250m"}},
        "startupProbe": {"failureThreshold": 24, "httpGet": {"host": probe_host, "path": probe_path,
                                                             "port": probe_port, "scheme": scheme},
                         "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 15},
        "volumeMounts": mounts,
    }
    if env:
        c["env"] = env
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"creationTimestamp": None, "labels": {"component": name, "tier": "control-plane"},
                     "name": name, "namespace": "kube-system"},
        "spec": {"containers": [c], "hostNetwork": True, "priority": 2000001000,
                 "priorityClassName": "system-node-critical", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                 "volumes": vols},
        "status": {},
    }
    if annotations:
        pod["metadata"]["annotations"] = annotations
    return pod


def extra_volumes(comp):
    res = []
    for v in comp.get("extraVolumes") or []:
        vol = {"hostPath": {"path": v["hostPath"]}, "name": v["name"]}
        if v.get("pathType"):
            vol["hostPath"]["type"] = v["pathType"]
        m = {"mountPath": v["mountPath"], "name": v["name"]}
        if v.get("readOnly"):
            m["readOnly"] = True
        res.append((vol, m))
    return res


def ca_cert_volumes(d):
    vols = [host_volume("ca-certs", "/etc/ssl/certs", ro=True), host_volume("k8s-certs", d, ro=True)]
    vols.append(host_volume("etc-ca-certificates", "/etc/ca-certificates", ro=True))
    vols.append(host_volume("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates", ro=True))
    vols.append(host_volume("usr-share-ca-certificates", "/usr/share/ca-certificates", ro=True))
    return vols


def image(cluster, comp):
    return f"{cluster['imageRepository']}/{comp}:{cluster['kubernetesVersion']}"


def write_manifest(name, pod):
    os.makedirs(MANIFESTS, exist_ok=True)
    write_file(f"{MANIFESTS}/{name}.yaml", yaml_dump(pod), 0o600)


def control_plane_manifests(cluster, adv, port):
    d = cluster["certificatesDir"]
    out(f'[control-plane] Using manifest folder "{MANIFESTS}"')
    etcd = cluster.get("etcd") or {}
    if etcd.get("external"):
        ex = etcd["external"]
        etcd_args = [("etcd-servers", ",".join(ex["endpoints"])), ("etcd-cafile", ex.get("caFile", "")),
                     ("etcd-certfile", ex.get("certFile", "")), ("etcd-keyfile", ex.get("keyFile", ""))]
    else:
        etcd_args = [("etcd-servers", "https://127.0.0.1:2379"), ("etcd-cafile", f"{d}/etcd/ca.crt"),
                     ("etcd-certfile", f"{d}/apiserver-etcd-client.crt"),
                     ("etcd-keyfile", f"{d}/apiserver-etcd-client.key")]
    dom = cluster["networking"]["dnsDomain"]
    api = cluster.get("apiServer") or {}
    api_defaults = [
        ("advertise-address", adv), ("allow-privileged", "true"), ("authorization-mode", "Node,RBAC"),
        ("client-ca-file", f"{d}/ca.crt"), ("enable-admission-plugins", "NodeRestriction"),
        ("enable-bootstrap-token-auth", "true"),
        ("kubelet-client-certificate", f"{d}/apiserver-kubelet-client.crt"),
        ("kubelet-client-key", f"{d}/apiserver-kubelet-client.key"),
        ("kubelet-preferred-address-types", "InternalIP,ExternalIP,Hostname"),
        ("proxy-client-cert-file", f"{d}/front-proxy-client.crt"),
        ("proxy-client-key-file", f"{d}/front-proxy-client.key"),
        ("requestheader-allowed-names", "front-proxy-client"),
        ("requestheader-client-ca-file", f"{d}/front-proxy-ca.crt"),
        ("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
        ("requestheader-group-headers", "X-Remote-Group"), ("requestheader-username-headers", "X-Remote-User"),
        ("secure-port", str(port)), ("service-account-issuer", f"https://kubernetes.default.svc.{dom}"),
        ("service-account-key-file", f"{d}/sa.pub"), ("service-account-signing-key-file", f"{d}/sa.key"),
        ("service-cluster-ip-range", cluster["networking"]["serviceSubnet"]),
        ("tls-cert-file", f"{d}/apiserver.crt"), ("tls-private-key-file", f"{d}/apiserver.key"),
    ] + etcd_args
    pod = static_pod("kube-apiserver", image(cluster, "kube-apiserver"),
                     ["kube-apiserver"] + args_with_extra(api_defaults, api.get("extraArgs")),
                     ca_cert_volumes(d) + extra_volumes(api),
                     {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": f"{adv}:{port}"},
                     port, "/livez", adv, env=api.get("extraEnvs"))
    pod["spec"]["containers"][0]["readinessProbe"] = {"failureThreshold": 3, "httpGet": {
        "host": adv, "path": "/readyz", "port": port, "scheme": "HTTPS"}, "periodSeconds": 1, "timeoutSeconds": 15}
    out('[control-plane] Creating static Pod manifest for "kube-apiserver"')
    write_manifest("kube-apiserver", pod)

    cm = cluster.get("controllerManager") or {}
    cm_defaults = [
        ("authentication-kubeconfig", f"{KDIR}/controller-manager.conf"),
        ("authorization-kubeconfig", f"{KDIR}/controller-manager.conf"), ("bind-address", "127.0.0.1"),
        ("client-ca-file", f"{d}/ca.crt"), ("cluster-name", cluster["clusterName"]),
        ("cluster-signing-cert-file", f"{d}/ca.crt"), ("cluster-signing-key-file", f"{d}/ca.key"),
        ("controllers", "*,bootstrapsigner,tokencleaner"), ("kubeconfig", f"{KDIR}/controller-manager.conf"),
        ("leader-elect", "true"), ("requestheader-client-ca-file", f"{d}/front-proxy-ca.crt"),
        ("root-ca-file", f"{d}/ca.crt"), ("service-account-private-key-file", f"{d}/sa.key"),
        ("use-service-account-credentials", "true"),
    ]
    pod_subnet = cluster["networking"].get("podSubnet")
    if pod_subnet:
        cm_defaults += [("allocate-node-cidrs", "true"), ("cluster-cidr", pod_subnet),
                        ("service-cluster-ip-range", cluster["networking"]["serviceSubnet"])]
    vols = ca_cert_volumes(d) + [host_volume("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec"),
                                 host_volume("kubeconfig", f"{KDIR}/controller-manager.conf", "FileOrCreate", True)]
    pod = static_pod("kube-controller-manager", image(cluster, "kube-controller-manager"),
                     ["kube-controller-manager"] + args_with_extra(cm_defaults, cm.get("extraArgs")),
                     vols + extra_volumes(cm), None, 10257, "/healthz", "127.0.0.1", env=cm.get("extraEnvs"),
                     requests={"cpu": "200m"})
    out('[control-plane] Creating static Pod manifest for "kube-controller-manager"')
    write_manifest("kube-controller-manager", pod)

    sc = cluster.get("scheduler") or {}
    sc_defaults = [("authentication-kubeconfig", f"{KDIR}/scheduler.conf"),
                   ("authorization-kubeconfig", f"{KDIR}/scheduler.conf"), ("bind-address", "127.0.0.1"),
                   ("kubeconfig", f"{KDIR}/scheduler.conf"), ("leader-elect", "true")]
    pod = static_pod("kube-scheduler", image(cluster, "kube-scheduler"),
                     ["kube-scheduler"] + args_with_extra(sc_defaults, sc.get("extraArgs")),
                     [host_volume("kubeconfig", f"{KDIR}/scheduler.conf", "FileOrCreate", True)] + extra_volumes(sc),
                     None, 10259, "/livez", "127.0.0.1", env=sc.get("extraEnvs"), requests={"cpu": "100m"})
    pod["spec"]["containers"][0]["readinessProbe"] = {"failureThreshold": 3, "httpGet": {
        "host": "127.0.0.1", "path": "/readyz", "port": 10259, "scheme": "HTTPS"}, "periodSeconds": 1,
        "timeoutSeconds": 15}
    out('[control-plane] Creating static Pod manifest for "kube-scheduler"')
    write_manifest("kube-scheduler", pod)


def etcd_manifest(cluster, name, adv, initial_cluster, state="new"):
    d = cluster["certificatesDir"]
    local = cluster["etcd"]["local"]
    data_dir = local["dataDir"]
    defaults = [
        ("advertise-client-urls", f"https://{adv}:2379"), ("cert-file", f"{d}/etcd/server.crt"),
        ("client-cert-auth", "true"), ("data-dir", data_dir),
        ("experimental-initial-corrupt-check", "true"), ("experimental-watch-progress-notify-interval", "5s"),
        ("initial-advertise-peer-urls", f"https://{adv}:2380"), ("initial-cluster", initial_cluster),
        ("key-file", f"{d}/etcd/server.key"), ("listen-client-urls", f"https://127.0.0.1:2379,https://{adv}:2379"),
        ("listen-metrics-urls", "http://127.0.0.1:2381"), ("listen-peer-urls", f"https://{adv}:2380"),
        ("name", name), ("peer-cert-file", f"{d}/etcd/peer.crt"), ("peer-client-cert-auth", "true"),
        ("peer-key-file", f"{d}/etcd/peer.key"), ("peer-trusted-ca-file", f"{d}/etcd/ca.crt"),
        ("snapshot-count", "10000"), ("trusted-ca-file", f"{d}/etcd/ca.crt"),
    ]
    if state == "existing":
        defaults.append(("initial-cluster-state", "existing"))
    img = f"{local.get('imageRepository') or cluster['imageRepository']}/etcd:{local.get('imageTag') or ETCD_IMAGE_TAG}"
    pod = static_pod("etcd", img, ["etcd"] + args_with_extra(defaults, local.get("extraArgs")),
                     [host_volume("etcd-data", data_dir), host_volume("etcd-certs", f"{d}/etcd")],
                     {"kubeadm.kubernetes.io/etcd.advertise-client-urls": f"https://{adv}:2379"},
                     2381, "/livez", "127.0.0.1", scheme="HTTP", env=local.get("extraEnvs"),
                     requests={"cpu": "100m", "memory": "100Mi"})
    c = pod["spec"]["containers"][0]
    c["livenessProbe"]["httpGet"]["path"] = "/livez"
    c["startupProbe"]["httpGet"]["path"] = "/readyz"
    c["readinessProbe"] = {"failureThreshold": 3, "httpGet": {"host": "127.0.0.1", "path": "/readyz", "port": 2381,
                                                              "scheme": "HTTP"}, "periodSeconds": 1, "timeoutSeconds": 15}
    write_manifest("etcd", pod)


# ---------------------------------------------------------------- kubelet config

def kubelet_config(kubelet_doc, cluster):
    k = copy.deepcopy(kubelet_doc) if kubelet_doc else {}
    k["apiVersion"] = "kubelet.config.k8s.io/v1beta1"
    k["kind"] = "KubeletConfiguration"
    authn = k.setdefault("authentication", {})
    authn.setdefault("anonymous", {}).setdefault("enabled", False)
    authn.setdefault("webhook", {}).setdefault("cacheTTL", "0s")
    authn["webhook"].setdefault("enabled", True)
    authn.setdefault("x509", {}).setdefault("clientCAFile", f"{cluster['certificatesDir']}/ca.crt")
    authz = k.setdefault("authorization", {})
    authz.setdefault("mode", "Webhook")
    authz.setdefault("webhook", {}).setdefault("cacheAuthorizedTTL", "0s")
    authz["webhook"].setdefault("cacheUnauthorizedTTL", "0s")
    k.setdefault("cgroupDriver", "systemd")
    if not k.get("clusterDNS"):
        import ipaddress
        net = ipaddress.ip_network(cluster["networking"]["serviceSubnet"].split(",")[0], strict=False)
        k["clusterDNS"] = [str(net.network_address + 10)]
    k.setdefault("clusterDomain", cluster["networking"]["dnsDomain"])
    k.setdefault("containerRuntimeEndpoint", "")
    k.setdefault("cpuManagerReconcilePeriod", "0s")
    k.setdefault("crashLoopBackOff", {})
    k.setdefault("evictionPressureTransitionPeriod", "0s")
    k.setdefault("fileCheckFrequency", "0s")
    k.setdefault("healthzBindAddress", "127.0.0.1")
    k.setdefault("healthzPort", 10248)
    k.setdefault("httpCheckFrequency", "0s")
    k.setdefault("imageMaximumGCAge", "0s")
    k.setdefault("imageMinimumGCAge", "0s")
    k.setdefault("logging", {"flushFrequency": 0, "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}}, "verbosity": 0})
    k.setdefault("memorySwap", {})
    k.setdefault("nodeStatusReportFrequency", "0s")
    k.setdefault("nodeStatusUpdateFrequency", "0s")
    k.setdefault("rotateCertificates", True)
    k.setdefault("runtimeRequestTimeout", "0s")
    k.setdefault("shutdownGracePeriod", "0s")
    k.setdefault("shutdownGracePeriodCriticalPods", "0s")
    k.setdefault("staticPodPath", MANIFESTS)
    k.setdefault("streamingConnectionIdleTimeout", "0s")
    k.setdefault("syncFrequency", "0s")
    k.setdefault("volumeStatsAggPeriod", "0s")
    return k


def write_kubelet_files(kcfg, node_reg, node_name, default_node_ip=None):
    out(f'[kubelet-start] Writing kubelet environment file with flags to file "{KUBELET_DIR}/kubeadm-flags.env"')
    flags = [f"--container-runtime-endpoint={node_reg.get('criSocket') or DEFAULT_CRI}",
             f"--pod-infra-container-image=registry.k8s.io/pause:{PAUSE_TAG}"]
    if node_name != hostname():
        flags.append(f"--hostname-override={node_name}")
    names = {a["name"] for a in node_reg.get("kubeletExtraArgs") or []}
    flags = [f for f in flags if f.split("=", 1)[0][2:] not in names]
    flags += [f"--{a['name']}={a.get('value', '')}" for a in node_reg.get("kubeletExtraArgs") or []]
    os.makedirs(KUBELET_DIR, exist_ok=True)
    write_file(f"{KUBELET_DIR}/kubeadm-flags.env", f'KUBELET_KUBEADM_ARGS="{" ".join(flags)}"\n', 0o644)
    out(f'[kubelet-start] Writing kubelet configuration to file "{KUBELET_DIR}/config.yaml"')
    write_file(f"{KUBELET_DIR}/config.yaml", yaml_dump(kcfg), 0o644)


def start_kubelet():
    out("[kubelet-start] Starting the kubelet")
    subprocess.run(["systemctl", "restart", "kubelet"], check=False)


def wait_kubelet(timeout_s):
    out(f"[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to "
        f"{format_go_duration(timeout_s)}")
    import urllib.request
    t0 = time.time()

    def ok():
        with urllib.request.urlopen("http://127.0.0.1:10248/healthz", timeout=2) as r:
            return r.read().strip() == b"ok"
    try:
        wait_until(ok, timeout_s, 0.5)
    except Exception:
        pass
    if not _healthy_kubelet():
        raise PhaseError("wait-control-plane",
                         "The HTTP call equal to 'curl -sSL http://127.0.0.1:10248/healthz' returned error: Get "
                         "\"http://127.0.0.1:10248/healthz\": context deadline exceeded\n\n"
                         "Unfortunately, an error has occurred, likely caused by:\n"
                         "\t- The kubelet is not running\n"
                         "\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)\n\n"
                         "If you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:\n"
                         "\t- 'systemctl status kubelet'\n\t- 'journalctl -xeu kubelet'")
    out(f"[kubelet-check] The kubelet is healthy after {time.time() - t0:.9f}s")


def _healthy_kubelet():
    import urllib.request
    try:
        with urllib.request.urlopen("http://127.0.0.1:10248/healthz", timeout=2) as r:
            return r.read().strip() == b"ok"
    except Exception:
        return False


# ---------------------------------------------------------------- API helpers

def admin_client(path=f"{KDIR}/admin.conf", timeout=10):
    return Client.from_kubeconfig(path, timeout)


def create_or_update(c, path, obj):
    name = obj["metadata"]["name"]
    try:
        return c.post(path, obj)
    except APIError as e:
        if e.code != 409:
            raise
    cur = c.get(f"{path}/{name}")
    obj = copy.deepcopy(obj)
    obj["metadata"]["resourceVersion"] = cur["metadata"].get("resourceVersion")
    return c.put(f"{path}/{name}", obj)


def token_secret(tok, description=None, ttl=None, expires=None, usages=None, groups=None):
    m = TOKEN_RE.match(tok)
    tid, tsec = m.group(1), m.group(2)
    data = {"token-id": tid, "token-secret": tsec}
    if description:
        data["description"] = description
    if expires:
        data["expiration"] = expires
    elif ttl is not None and parse_go_duration(ttl) > 0:
        data["expiration"] = rfc3339(now_utc() + __import__("datetime").timedelta(seconds=parse_go_duration(ttl)))
    for u in usages if usages is not None else ["signing", "authentication"]:
        data[f"usage-bootstrap-{u}"] = "true"
    if groups:
        data["auth-extra-groups"] = ",".join(groups)
    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{tid}", "namespace": "kube-system"},
            "data": {k: b64(v) for k, v in data.items()}}


def create_tokens(c, tokens):
    for bt in tokens:
        sec = token_secret(bt["token"], bt.get("description"), bt.get("ttl"), bt.get("expires"), bt.get("usages"),
                           bt.get("groups"))
        try:
            c.post("/api/v1/namespaces/kube-system/secrets", sec)
        except APIError as e:
            if e.code != 409:
                raise
            cur = c.get(f"/api/v1/namespaces/kube-system/secrets/{sec['metadata']['name']}")
            sec["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            c.put(f"/api/v1/namespaces/kube-system/secrets/{sec['metadata']['name']}", sec)


# certificate key encryption (kubeadm: AES-GCM; here AES-256-CBC + HMAC-SHA256 through openssl,
# same contract: a wrong key fails authentication, the key never leaves the node)

def encrypt_bytes(data, keyhex):
    key = bytes.fromhex(keyhex)
    iv = secrets.token_bytes(16)
    ct = openssl("enc", "-aes-256-cbc", "-K", key.hex(), "-iv", iv.hex(), input=data)
    mac = hmac.new(hashlib.sha256(b"mac" + key).digest(), iv + ct, hashlib.sha256).digest()
    return iv + ct + mac


def decrypt_bytes(blob, keyhex):
    key = bytes.fromhex(keyhex)
    iv, ct, mac = blob[:16], blob[16:-32], blob[-32:]
    want = hmac.new(hashlib.sha256(b"mac" + key).digest(), iv + ct, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, want):
        raise StandinError("cipher: message authentication failed")
    return openssl("enc", "-d", "-aes-256-cbc", "-K", key.hex(), "-iv", iv.hex(), input=ct)


CERTS_TO_TRANSFER = ["ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key",
                     "etcd/ca.crt", "etcd/ca.key"]


def upload_certs(c, cluster, keyhex):
    out('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    tok = random_token()
    create_tokens(c, [{"token": tok, "description": "Proxy for managing TTL for the kubeadm-certs secret",
                       "ttl": "2h0m0s", "usages": [], "groups": []}])
    tid = tok.split(".")[0]
    owner = c.get(f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{tid}")
    data = {}
    d = cluster["certificatesDir"]
    for name in CERTS_TO_TRANSFER:
        p = f"{d}/{name}"
        if os.path.exists(p):
            data[name.replace("/", "-")] = b64(encrypt_bytes(open(p, "rb").read(), keyhex))
    sec = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "kubeadm-certs", "namespace": "kube-system",
                        "ownerReferences": [{"apiVersion": "v1", "kind": "Secret", "controller": True,
                                             "blockOwnerDeletion": True, "name": owner["metadata"]["name"],
                                             "uid": owner["metadata"]["uid"]}]},
           "data": data}
    create_or_update(c, "/api/v1/namespaces/kube-system/secrets", sec)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "kubeadm:kubeadm-certs", "namespace": "kube-system"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["kubeadm-certs"], "verbs": ["get"]}]}
    create_or_update(c, "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles", role)
    rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": {"name": "kubeadm:kubeadm-certs", "namespace": "kube-system"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kubeadm:kubeadm-certs"},
          "subjects": [{"kind": "Group", "name": "system:bootstrappers:kubeadm:default-node-token"}]}
    create_or_update(c, "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings", rb)


def download_certs(c, cluster, keyhex):
    out('[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    try:
        key = bytes.fromhex(keyhex)
        if len(key) != 32:
            raise ValueError
    except ValueError:
        raise PhaseError("control-plane-prepare/download-certs",
                         "error downloading certs: error decoding certificate key: encoding/hex: invalid byte")
    try:
        sec = c.get("/api/v1/namespaces/kube-system/secrets/kubeadm-certs")
    except APIError as e:
        if e.code == 404:
            raise PhaseError("control-plane-prepare/download-certs",
                             'error downloading certs: error downloading the secret: Secret "kubeadm-certs" was not '
                             'found in the "kube-system" Namespace. This Secret might have expired. Please, run '
                             '`kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one')
        raise PhaseError("control-plane-prepare/download-certs", f"error downloading certs: error downloading the secret: {e}")
    files = {}
    try:
        for k, v in (sec.get("data") or {}).items():
            files[k] = decrypt_bytes(unb64(v), keyhex)
    except StandinError as e:
        raise PhaseError("control-plane-prepare/download-certs",
                         f"error downloading certs: error decoding secret data with provided key: {e}")
    d = cluster["certificatesDir"]
    for name in CERTS_TO_TRANSFER:
        sk = name.replace("/", "-")
        if sk not in files:
            raise PhaseError("control-plane-prepare/download-certs",
                             f"error downloading certs: the Secret does not include the required certificate or key - name: {name}, path: {d}/{name}")
        write_file(f"{d}/{name}", files[sk], 0o600 if name.endswith(".key") else 0o644)
    out(f'[download-certs] Saving the certificates to the folder: "{d}"')


# ---------------------------------------------------------------- CLI: version / images / certs

def cmd_version(argv):
    vals, _, pos = parse_flags(argv, GLOBAL_FLAGS + [Flag("output", "str", "", "o")])
    if pos:
        raise UsageError(f'unknown command "{pos[0]}" for "kubeadm version"')
    v = K8S_VERSION
    info = {"major": str(version_tuple(v)[0]), "minor": str(version_tuple(v)[1]), "emulationMajor": "1",
            "emulationMinor": str(version_tuple(v)[1]), "minCompatibilityMajor": "1",
            "minCompatibilityMinor": str(version_tuple(v)[1] - 1), "gitVersion": v, "gitCommit": GIT_COMMIT,
            "gitTreeState": "clean", "buildDate": BUILD_DATE, "goVersion": "go1.24.5", "compiler": "gc",
            "platform": "linux/amd64"}
    o = vals["output"]
    if o == "":
        fields = ", ".join(f'{k[0].upper() + k[1:]}:"{val}"' for k, val in info.items())
        out(f"kubeadm version: &version.Info{{{fields}}}")
    elif o == "short":
        out(v)
    elif o == "json":
        out(json.dumps({"clientVersion": info}, indent=2))
    elif o == "yaml":
        out(yaml_dump_ordered({"clientVersion": info}).rstrip())
    else:
        raise StandinError(f'invalid output format: {o}')


def images_for(cluster):
    repo = cluster.get("imageRepository") or "registry.k8s.io"
    v = cluster.get("kubernetesVersion") or K8S_VERSION
    imgs = [f"{repo}/kube-apiserver:{v}", f"{repo}/kube-controller-manager:{v}", f"{repo}/kube-scheduler:{v}",
            f"{repo}/kube-proxy:{v}", f"{repo}/coredns/coredns:{COREDNS_TAG}", f"{repo}/pause:{PAUSE_TAG}",
            f"{repo}/etcd:{ETCD_IMAGE_TAG}"]
    return imgs


def cmd_config(argv):
    if not argv:
        raise UsageError("missing subcommand; \"config\" is not meant to be run on its own")
    sub, rest = argv[0], argv[1:]
    if sub == "images" and rest and rest[0] == "list":
        vals, ch, pos = parse_flags(rest[1:], GLOBAL_FLAGS + [
            Flag("kubernetes-version", "str", "stable-1"), Flag("config", "str"), Flag("output", "str", "text", "o"),
            Flag("image-repository", "str", "registry.k8s.io"), Flag("feature-gates", "str"),
            Flag("allow-missing-template-keys", "bool", True), Flag("show-managed-fields", "bool", False)])
        if pos:
            raise UsageError(f'unknown command "{pos[0]}" for "kubeadm config images list"')
        cluster = {}
        if vals["config"]:
            bad = [f for f in ch if f not in ("config", "v", "output", "allow-missing-template-keys", "show-managed-fields")]
            if bad:
                raise StandinError(f"can not mix '--config' with arguments {sorted(bad)}")
            docs = kc.load_documents(vals["config"])
            cluster = docs.get("ClusterConfiguration", {})
        else:
            cluster["kubernetesVersion"] = vals["kubernetes-version"]
            cluster["imageRepository"] = vals["image-repository"]
        if cluster.get("kubernetesVersion", "stable-1") in ("stable-1", "stable", "latest"):
            if "kubernetes-version" not in ch and not vals["config"]:
                warn('could not fetch a Kubernetes version from the internet: unable to get URL '
                     '"https://dl.k8s.io/release/stable-1.txt": Get "https://dl.k8s.io/release/stable-1.txt": dial tcp: '
                     'lookup dl.k8s.io: no such host', "version.go", 104)
                warn(f"falling back to the local client version: {K8S_VERSION}", "version.go", 105)
                cluster["kubernetesVersion"] = K8S_VERSION
        default_cluster(cluster)
        check_version(cluster)
        imgs = images_for(cluster)
        if vals["output"] in ("text", ""):
            for i in imgs:
                out(i)
        elif vals["output"] == "json":
            out(json.dumps({"kind": "Images", "apiVersion": "output.kubeadm.k8s.io/v1alpha3", "images": imgs}, indent=4))
        elif vals["output"] == "yaml":
            out(yaml_dump_ordered({"apiVersion": "output.kubeadm.k8s.io/v1alpha3", "images": imgs, "kind": "Images"}).rstrip())
        else:
            raise StandinError(f'unable to match a printer suitable for the output format "{vals["output"]}", '
                               'allowed formats are: json,text,yaml')
        return
    if sub == "validate":
        vals, ch, pos = parse_flags(rest, GLOBAL_FLAGS + [Flag("config", "str"), Flag("allow-experimental-api", "bool", False)])
        if pos:
            raise UsageError(f'unknown command "{pos[0]}" for "kubeadm config validate"')
        if not vals["config"]:
            raise StandinError("the --config flag is mandatory")
        docs = kc.load_documents(vals["config"])
        if "JoinConfiguration" in docs:
            kc.validate_join(docs["JoinConfiguration"])
        if "InitConfiguration" in docs or "ClusterConfiguration" in docs:
            i = copy.deepcopy(docs.get("InitConfiguration", {}))
            c = copy.deepcopy(docs.get("ClusterConfiguration", {}))
            kc.validate_init(i, c)
            default_cluster(c)
            check_version(c)
        out("ok")
        return
    raise UsageError(f'unknown command "{sub}" for "kubeadm config"')


def cmd_certs(argv):
    if not argv:
        raise UsageError('missing subcommand; "certs" is not meant to be run on its own')
    if argv[0] == "certificate-key":
        _, _, pos = parse_flags(argv[1:], GLOBAL_FLAGS)
        if pos:
            raise UsageError(f'unknown command "{pos[0]}" for "kubeadm certs certificate-key"')
        out(secrets.token_hex(32))
        return
    if argv[0] == "check-expiration":
        vals, _, pos = parse_flags(argv[1:], GLOBAL_FLAGS + [Flag("cert-dir", "str", "/etc/kubernetes/pki"), Flag("config"),
                                                               Flag("kubeconfig", "str", f"{KDIR}/admin.conf"),
                                                               Flag("output", "str", "", "o"),
                                                               Flag("allow-missing-template-keys", "bool", True),
                                                               Flag("show-managed-fields", "bool", False)])
        return certs_check_expiration(vals)
    raise UsageError(f'unknown command "{argv[0]}" for "kubeadm certs"')


def _cert_end(pem):
    import datetime
    end = openssl("x509", "-noout", "-enddate", input=pem).decode().strip().split("=", 1)[1]
    return datetime.datetime.strptime(end, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=datetime.timezone.utc)


def _residual(end):
    left = (end - now_utc()).total_seconds()
    if left <= 0:
        return "<invalid>"
    days = int(left // 86400)
    if days >= 365:
        return f"{days // 365}y"
    if days >= 1:
        return f"{days}d"
    return f"{int(left // 3600)}h"


def certs_check_expiration(vals):
    d = vals["cert-dir"]
    out('[check-expiration] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
    out("[check-expiration] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to re-upload it.\n")
    rows = []
    for name, path, ca, kind in (
            ("admin.conf", f"{KDIR}/admin.conf", "ca", "kubeconfig"),
            ("apiserver", f"{d}/apiserver.crt", "ca", "cert"),
            ("apiserver-etcd-client", f"{d}/apiserver-etcd-client.crt", "etcd-ca", "cert"),
            ("apiserver-kubelet-client", f"{d}/apiserver-kubelet-client.crt", "ca", "cert"),
            ("controller-manager.conf", f"{KDIR}/controller-manager.conf", "ca", "kubeconfig"),
            ("etcd-healthcheck-client", f"{d}/etcd/healthcheck-client.crt", "etcd-ca", "cert"),
            ("etcd-peer", f"{d}/etcd/peer.crt", "etcd-ca", "cert"),
            ("etcd-server", f"{d}/etcd/server.crt", "etcd-ca", "cert"),
            ("front-proxy-client", f"{d}/front-proxy-client.crt", "front-proxy-ca", "cert"),
            ("scheduler.conf", f"{KDIR}/scheduler.conf", "ca", "kubeconfig"),
            ("super-admin.conf", f"{KDIR}/super-admin.conf", "ca", "kubeconfig")):
        if not os.path.exists(path):
            continue
        if kind == "kubeconfig":
            pem = kubeconfig_target(load_kubeconfig(path))["cert"]
            if not pem:
                continue
        else:
            pem = open(path, "rb").read()
        end = _cert_end(pem)
        rows.append((name, end, ca))
    out(f"{'CERTIFICATE':<27}{'EXPIRES':<25}{'RESIDUAL TIME':<16}{'CERTIFICATE AUTHORITY':<24}EXTERNALLY MANAGED")
    for name, end, ca in rows:
        out(f"{name:<27}{end.strftime('%b %d, %Y %H:%M UTC'):<25}{_residual(end):<16}{ca:<24}no")
    out("")
    out(f"{'CERTIFICATE AUTHORITY':<24}{'EXPIRES':<25}{'RESIDUAL TIME':<16}EXTERNALLY MANAGED")
    for name, path in (("ca", f"{d}/ca.crt"), ("etcd-ca", f"{d}/etcd/ca.crt"), ("front-proxy-ca", f"{d}/front-proxy-ca.crt")):
        if os.path.exists(path):
            end = _cert_end(open(path, "rb").read())
            out(f"{name:<24}{end.strftime('%b %d, %Y %H:%M UTC'):<25}{_residual(end):<16}no")


# ---------------------------------------------------------------- init

INIT_FLAGS = GLOBAL_FLAGS + [
    Flag("apiserver-advertise-address"), Flag("apiserver-bind-port", "int", 6443),
    Flag("apiserver-cert-extra-sans", "strs", []), Flag("cert-dir", "str", "/etc/kubernetes/pki"),
    Flag("certificate-key"), Flag("config"), Flag("control-plane-endpoint"), Flag("cri-socket"),
    Flag("dry-run", "bool", False), Flag("feature-gates"), Flag("ignore-preflight-errors", "strs", []),
    Flag("image-repository", "str", "registry.k8s.io"), Flag("kubernetes-version", "str", "stable-1"),
    Flag("node-name"), Flag("patches"), Flag("pod-network-cidr"), Flag("service-cidr", "str", "10.96.0.0/12"),
    Flag("service-dns-domain", "str", "cluster.local"), Flag("skip-certificate-key-print", "bool", False),
    Flag("skip-phases", "strs", []), Flag("skip-token-print", "bool", False), Flag("token"),
    Flag("token-ttl", "str", "24h0m0s"), Flag("upload-certs", "bool", False),
]

MIX_ALLOWED = {"config", "ignore-preflight-errors", "dry-run", "kubeconfig", "node-name", "kubeconfig-dir",
               "upload-certs", "print-manifest", "allow-missing-template-keys", "output", "show-managed-fields",
               "print-join-command", "rootfs", "v", "log-file", "yes"}


def check_mixed(changed):
    if "config" not in changed:
        return
    bad = [f for f in sorted(changed) if f not in MIX_ALLOWED and not f.startswith("skip-")]
    if bad:
        raise StandinError(f"can not mix '--config' with arguments [{' '.join(bad)}]")


INIT_PHASES = ["preflight", "certs", "kubeconfig", "etcd", "control-plane", "kubelet-start", "wait-control-plane",
               "upload-config", "upload-certs", "mark-control-plane", "bootstrap-token", "kubelet-finalize", "show-join-command",
               "addon"]


def load_init_config(vals, changed):
    check_mixed(changed)
    docs = {}
    if vals["config"]:
        docs = kc.load_documents(vals["config"])
        for k in docs:
            if k in ("JoinConfiguration", "ResetConfiguration", "UpgradeConfiguration"):
                warn(f'[config] WARNING: Ignored configuration document with GroupVersionKind '
                     f'kubeadm.k8s.io/v1beta4, Kind={k}', "initconfiguration.go", 306)
    init = copy.deepcopy(docs.get("InitConfiguration", {}))
    cluster = copy.deepcopy(docs.get("ClusterConfiguration", {}))
    if not vals["config"]:
        ep = init.setdefault("localAPIEndpoint", {})
        if vals["apiserver-advertise-address"]:
            ep["advertiseAddress"] = vals["apiserver-advertise-address"]
        ep["bindPort"] = vals["apiserver-bind-port"]
        if vals["apiserver-cert-extra-sans"]:
            cluster.setdefault("apiServer", {})["certSANs"] = vals["apiserver-cert-extra-sans"]
        cluster["certificatesDir"] = vals["cert-dir"]
        if vals["control-plane-endpoint"]:
            cluster["controlPlaneEndpoint"] = vals["control-plane-endpoint"]
        if vals["cri-socket"]:
            init.setdefault("nodeRegistration", {})["criSocket"] = vals["cri-socket"]
        cluster["imageRepository"] = vals["image-repository"]
        if "kubernetes-version" in changed:
            cluster["kubernetesVersion"] = vals["kubernetes-version"]
        if vals["node-name"]:
            init.setdefault("nodeRegistration", {})["name"] = vals["node-name"]
        net = cluster.setdefault("networking", {})
        if vals["pod-network-cidr"]:
            net["podSubnet"] = vals["pod-network-cidr"]
        net["serviceSubnet"] = vals["service-cidr"]
        net["dnsDomain"] = vals["service-dns-domain"]
        if vals["token"]:
            init["bootstrapTokens"] = [{"token": vals["token"], "ttl": vals["token-ttl"]}]
        elif "token-ttl" in changed:
            init["bootstrapTokens"] = [{"ttl": vals["token-ttl"]}]
        if vals["certificate-key"]:
            init["certificateKey"] = vals["certificate-key"]
        if vals["ignore-preflight-errors"]:
            init.setdefault("nodeRegistration", {})["ignorePreflightErrors"] = vals["ignore-preflight-errors"]
    elif vals.get("node-name"):
        init.setdefault("nodeRegistration", {})["name"] = vals["node-name"]
    kc.validate_init(init, cluster)
    if (init.get("patches") or {}).get("directory") or vals.get("patches"):
        raise StandinError("patches (InitConfiguration.patches / --patches) are not supported by the lab stand-in")
    default_init(init, cluster)
    if "kubernetesVersion" not in (docs.get("ClusterConfiguration") or {}) and "kubernetes-version" not in changed:
        cluster["kubernetesVersion"] = K8S_VERSION
    check_version(cluster)
    remember_secrets(init.get("certificateKey"), *[bt.get("token") for bt in init.get("bootstrapTokens") or []])
    skip = list(vals.get("skip-phases") or []) or list(init.get("skipPhases") or [])
    for s in skip:
        base = s.split("/")[0]
        if base not in INIT_PHASES:
            raise StandinError(f'invalid phase name: {s}')
    return init, cluster, docs, skip


# Lab only: every bootstrap token and certificate key this stand-in is handed is appended here
# (root-only), so that the lab e2e can search otp-provision's output and journals for them.
SECRETS_SEEN = "/var/lib/otp-lab/secrets-seen"


def remember_secrets(*values):
    values = [v for v in values if v]
    if not values:
        return
    os.makedirs(os.path.dirname(SECRETS_SEEN), mode=0o700, exist_ok=True)
    fd = os.open(SECRETS_SEEN, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        f.write("".join(v + "\n" for v in values))


def skipped(skip, phase):
    return phase in skip or phase.split("/")[0] in skip


def cmd_init(argv):
    if argv and argv[0] == "phase":
        return cmd_init_phase(argv[1:])
    vals, changed, pos = parse_flags(argv, INIT_FLAGS)
    if pos:
        raise UsageError(f'unknown command "{pos[0]}" for "kubeadm init"')
    init, cluster, docs, skip = load_init_config(vals, changed)
    nr = init["nodeRegistration"]
    node = nr["name"]
    adv = init["localAPIEndpoint"]["advertiseAddress"]
    port = init["localAPIEndpoint"]["bindPort"]
    ignore = list(vals["ignore-preflight-errors"]) + list(nr.get("ignorePreflightErrors") or [])
    kdoc = docs.get("KubeletConfiguration") or {}
    out(f"[init] Using Kubernetes version: {cluster['kubernetesVersion']}")

    if not skipped(skip, "preflight"):
        out("[preflight] Running pre-flight checks")
        pf = Preflight(ignore)
        common_checks(pf, nr["criSocket"], kdoc.get("failSwapOn", True))
        local = (cluster.get("etcd") or {}).get("local")
        control_plane_checks(pf, port, local["dataDir"] if local else None)
        if port_in_use(10250):
            pf.fail("Port-10250", "Port 10250 is in use")
        pf.finish()
        out("[preflight] Pulling images required for setting up a Kubernetes cluster")
        out("[preflight] This might take a minute or two, depending on the speed of your internet connection")
        out("[preflight] You can also perform this action beforehand using 'kubeadm config images pull'")
    d = cluster["certificatesDir"]
    if not skipped(skip, "certs"):
        out(f'[certs] Using certificateDir folder "{d}"')
        gen_ca_set(cluster)
        gen_leaf_set(cluster, node, adv)
    server = endpoint_url(cluster, init["localAPIEndpoint"])
    local_server = f"https://{adv}:{port}" if ":" not in adv else f"https://[{adv}]:{port}"
    if not skipped(skip, "kubeconfig"):
        out(f'[kubeconfig] Using kubeconfig folder "{KDIR}"')
        write_kubeconfig_file("admin.conf", cluster, server, "kubernetes-admin", ["kubeadm:cluster-admins"])
        write_kubeconfig_file("super-admin.conf", cluster, server, "kubernetes-super-admin", ["system:masters"])
        write_kubeconfig_file("kubelet.conf", cluster, server, f"system:node:{node}", ["system:nodes"])
        write_kubeconfig_file("controller-manager.conf", cluster, local_server, "system:kube-controller-manager", [])
        write_kubeconfig_file("scheduler.conf", cluster, local_server, "system:kube-scheduler", [])
    if not skipped(skip, "etcd") and (cluster.get("etcd") or {}).get("local") is not None:
        out(f'[etcd] Creating static Pod manifest for local etcd in "{MANIFESTS}"')
        etcd_manifest(cluster, node, adv, f"{node}=https://{adv}:2380")
    if not skipped(skip, "control-plane"):
        control_plane_manifests(cluster, adv, port)
    kcfg = kubelet_config(kdoc, cluster)
    if not skipped(skip, "kubelet-start"):
        write_kubelet_files(kcfg, nr, node)
        start_kubelet()
    t = init["timeouts"]
    if not skipped(skip, "wait-control-plane"):
        out(f'[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory "{MANIFESTS}"')
        wait_kubelet(parse_go_duration(t["kubeletHealthCheck"]))
        wait_control_plane(local_server, parse_go_duration(t["controlPlaneComponentHealthCheck"]))

    c = ensure_admin_rbac(parse_go_duration(t["kubernetesAPICall"]))
    if not skipped(skip, "upload-config"):
        out('[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace')
        stored = copy.deepcopy(cluster)
        create_or_update(c, "/api/v1/namespaces/kube-system/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
            "data": {"ClusterConfiguration": yaml_dump(stored)}})
        out('[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the kubelets in the cluster')
        create_or_update(c, "/api/v1/namespaces/kube-system/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubelet-config", "namespace": "kube-system"},
            "data": {"kubelet": yaml_dump(kcfg)}})
        if docs.get("KubeProxyConfiguration"):
            pass
    cert_key = init.get("certificateKey") or ""
    if vals["upload-certs"] and not skipped(skip, "upload-certs"):
        if not cert_key:
            cert_key = secrets.token_hex(32)
        upload_certs(c, cluster, cert_key)
        out("[upload-certs] Using certificate key:")
        out(cert_key)
    elif not skipped(skip, "upload-certs"):
        out("[upload-certs] Skipping phase. Please see --upload-certs")
    if not skipped(skip, "mark-control-plane"):
        mark_control_plane(c, node, nr.get("taints") or [], parse_go_duration(t["kubernetesAPICall"]) + 60)
    tokens = init.get("bootstrapTokens") or []
    if not skipped(skip, "bootstrap-token"):
        for bt in tokens:
            out(f"[bootstrap-token] Using token: {bt['token']}")
        out("[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles")
        out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to get nodes")
        out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to get long term certificate credentials")
        out("[bootstrap-token] Configured RBAC rules to allow the csrapprover controller automatically approve CSRs from a Node Bootstrap Token")
        out("[bootstrap-token] Configured RBAC rules to allow certificate rotation for all node client certificates in the cluster")
        create_tokens(c, tokens)
        out('[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace')
        ca = open(f"{d}/ca.crt", "rb").read()
        ci = kubeconfig(server, "", "", ca)
        ci = {"apiVersion": "v1", "kind": "Config", "clusters": [{"cluster": ci["clusters"][0]["cluster"], "name": ""}],
              "contexts": None, "current-context": "", "preferences": {}, "users": None}
        create_or_update(c, "/api/v1/namespaces/kube-public/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": "kube-public"},
            "data": {"kubeconfig": yaml_dump(ci)}})
    if not skipped(skip, "kubelet-finalize"):
        out(f'[kubelet-finalize] Updating "{KDIR}/kubelet.conf" to point to a rotatable kubelet client certificate and key')
        kubelet_finalize()
    if not skipped(skip, "addon"):
        apply_addons(c, cluster, docs, skip)
    ca_hash = ca_hash_from_pem(open(f"{d}/ca.crt", "rb").read())
    print_init_success(cluster, server, tokens, ca_hash, cert_key if vals["upload-certs"] else "",
                       vals["skip-token-print"], vals["skip-certificate-key-print"])


def wait_control_plane(local_server, timeout_s):
    out(f"[control-plane-check] Waiting for healthy control plane components. This can take up to {format_go_duration(timeout_s)}")
    checks = [("kube-apiserver", f"{local_server}/livez"), ("kube-controller-manager", "https://127.0.0.1:10257/healthz"),
              ("kube-scheduler", "https://127.0.0.1:10259/livez")]
    for n, u in checks:
        out(f"[control-plane-check] Checking {n} at {u}")
    import ssl
    import urllib.request
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t0 = time.time()
    pending = dict(checks)
    last = {}
    while pending and time.time() - t0 < timeout_s:
        for n, u in list(pending.items()):
            try:
                with urllib.request.urlopen(u, context=ctx, timeout=3) as r:
                    if r.status == 200:
                        out(f"[control-plane-check] {n} is healthy after {time.time() - t0:.9f}s")
                        del pending[n]
            except Exception as e:  # noqa: BLE001
                last[n] = e
        time.sleep(0.5)
    if pending:
        msgs = [f'{n} check failed at {u}: Get "{u}": {last.get(n, "context deadline exceeded")}' for n, u in pending.items()]
        raise PhaseError("wait-control-plane", "failed while waiting for the control plane to start: [" + ", ".join(msgs) + "]\n"
                         "A control plane component may have crashed or exited when started by the container runtime.\n"
                         "To troubleshoot, list all containers using your preferred container runtimes CLI.\n"
                         "Here is one example how you may list all running Kubernetes containers by using crictl:\n"
                         "\t- 'crictl --runtime-endpoint unix:///var/run/containerd/containerd.sock ps -a | grep kube | grep -v pause'\n"
                         "\tOnce you have found the failing container, you can inspect its logs with:\n"
                         "\t- 'crictl --runtime-endpoint unix:///var/run/containerd/containerd.sock logs CONTAINERID'")


def ensure_admin_rbac(timeout_s):
    """kubeadm >= 1.29: admin.conf's group needs the kubeadm:cluster-admins binding, created with super-admin.conf."""
    import urllib.error
    c = admin_client()
    deadline = time.time() + timeout_s
    while True:
        try:
            c.get("/api/v1/namespaces/kube-system")
            return c
        except APIError as e:
            if e.code == 403:
                break
            err = api_err_text(e)
        except (urllib.error.URLError, OSError) as e:
            err = url_error_text(e, c.server + "/api/v1/namespaces/kube-system?timeout=10s")
        if time.time() > deadline:
            raise PhaseError("upload-config/kubeadm", f"could not bootstrap the admin user in file admin.conf: {err}")
        time.sleep(1)
    sc = admin_client(f"{KDIR}/super-admin.conf")
    crb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": "kubeadm:cluster-admins"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
           "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "kubeadm:cluster-admins"}]}
    try:
        create_or_update(sc, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", crb)
    except (urllib.error.URLError, OSError) as e:
        raise PhaseError("upload-config/kubeadm", "could not bootstrap the admin user in file admin.conf: unable to create "
                         f"ClusterRoleBinding: {url_error_text(e, sc.server)}")
    wait_until(lambda: c.get("/api/v1/namespaces/kube-system"), timeout_s, 0.5)
    return c


def mark_control_plane(c, node, taints, timeout_s):
    out(f"[mark-control-plane] Marking the node {node} as control-plane by adding the labels: [{' '.join(CP_LABELS)}]")
    if taints:
        ts = ",".join(f"{t['key']}{'=' + t['value'] if t.get('value') else ''}:{t['effect']}" for t in taints)
        out(f"[mark-control-plane] Marking the node {node} as control-plane by adding the taints [{ts}]")

    def patch():
        n = c.get(f"/api/v1/nodes/{node}")
        labels = n["metadata"].setdefault("labels", {})
        for l in CP_LABELS:
            labels[l] = ""
        cur = n["spec"].get("taints") or []
        for t in taints:
            if not any(x.get("key") == t["key"] and x.get("effect") == t["effect"] for x in cur):
                cur.append({k: v for k, v in t.items() if v is not None})
        n["spec"]["taints"] = cur
        c.put(f"/api/v1/nodes/{node}", n)
        return True
    try:
        wait_until(patch, timeout_s, 1)
    except Exception as e:
        raise PhaseError("mark-control-plane", f"error patching Node \"{node}\": {e}")


def kubelet_finalize():
    """Move kubelet.conf's embedded client cert to /var/lib/kubelet/pki like kubeadm does."""
    p = f"{KDIR}/kubelet.conf"
    cfg = load_kubeconfig(p)
    u = cfg["users"][0]["user"]
    if "client-certificate-data" not in u:
        return
    pem = unb64(u.pop("client-certificate-data")) + unb64(u.pop("client-key-data"))
    ts = time.strftime("%Y-%m-%d-%H-%M-%S")
    os.makedirs(f"{KUBELET_DIR}/pki", exist_ok=True)
    write_file(f"{KUBELET_DIR}/pki/kubelet-client-{ts}.pem", pem, 0o600)
    cur = f"{KUBELET_DIR}/pki/kubelet-client-current.pem"
    if os.path.lexists(cur):
        os.unlink(cur)
    os.symlink(f"{KUBELET_DIR}/pki/kubelet-client-{ts}.pem", cur)
    u["client-certificate"] = cur
    u["client-key"] = cur
    cfg["users"][0]["name"] = "default-auth"
    cfg["contexts"][0]["context"]["user"] = "default-auth"
    cfg["contexts"][0]["name"] = "default-auth@" + cfg["clusters"][0]["name"]
    cfg["current-context"] = cfg["contexts"][0]["name"]
    write_file(p, yaml_dump(cfg), 0o600)


def apply_addons(c, cluster, docs, skip):
    dns = cluster.get("dns") or {}
    if not dns.get("disabled") and not skipped(skip, "addon/coredns"):
        import ipaddress
        net = ipaddress.ip_network(cluster["networking"]["serviceSubnet"].split(",")[0], strict=False)
        repo = dns.get("imageRepository") or cluster["imageRepository"] + "/coredns"
        objs = [
            ("/api/v1/namespaces/kube-system/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "coredns", "namespace": "kube-system"},
             "data": {"Corefile": ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n"
                      f"    kubernetes {cluster['networking']['dnsDomain']} in-addr.arpa ip6.arpa {{\n"
                      "       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n"
                      "    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n"
                      "    cache 30 {\n       disable success cluster.local\n       disable denial cluster.local\n    }\n"
                      "    loop\n    reload\n    loadbalance\n}\n"}}),
            ("/apis/apps/v1/namespaces/kube-system/deployments", {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
             "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                      "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                                   "spec": {"containers": [{"name": "coredns", "image": f"{repo}:{dns.get('imageTag') or COREDNS_TAG}",
                                                            "args": ["-conf", "/etc/coredns/Corefile"]}],
                                            "nodeSelector": {"kubernetes.io/os": "linux"},
                                            "priorityClassName": "system-cluster-critical",
                                            "serviceAccountName": "coredns",
                                            "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                                            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]}}}}),
            ("/api/v1/namespaces/kube-system/services", {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
             "spec": {"clusterIP": str(net.network_address + 10), "selector": {"k8s-app": "kube-dns"},
                      "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}),
        ]
        for p, o in objs:
            create_or_update(c, p, o)
        out("[addons] Applied essential addon: CoreDNS")
    proxy = cluster.get("proxy") or {}
    if not proxy.get("disabled") and not skipped(skip, "addon/kube-proxy"):
        pcfg = copy.deepcopy(docs.get("KubeProxyConfiguration") or {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                                                                     "kind": "KubeProxyConfiguration"})
        if cluster["networking"].get("podSubnet"):
            pcfg.setdefault("clusterCIDR", cluster["networking"]["podSubnet"])
        objs = [
            ("/api/v1/namespaces/kube-system/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
             "data": {"config.conf": yaml_dump(pcfg)}}),
            ("/apis/apps/v1/namespaces/kube-system/daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet",
             "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
             "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                      "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                                   "spec": {"hostNetwork": True, "containers": [{"name": "kube-proxy",
                                            "image": image(cluster, "kube-proxy")}],
                                            "nodeSelector": {"kubernetes.io/os": "linux"},
                                            "priorityClassName": "system-node-critical",
                                            "serviceAccountName": "kube-proxy",
                                            "tolerations": [{"operator": "Exists"}]}}}}),
        ]
        for p, o in objs:
            create_or_update(c, p, o)
        out("[addons] Applied essential addon: kube-proxy")


def print_init_success(cluster, server, tokens, ca_hash, cert_key, skip_token_print, skip_key_print):
    ep = server.replace("https://", "")
    tok = "<value withheld>" if skip_token_print or not tokens else tokens[0]["token"]
    key = "<value withheld>" if skip_key_print else cert_key
    out("\nYour Kubernetes control-plane has initialized successfully!\n")
    out("To start using your cluster, you need to run the following as a regular user:\n")
    out("  mkdir -p $HOME/.kube")
    out("  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config")
    out("  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n")
    out("Alternatively, if you are the root user, you can run:\n")
    out("  export KUBECONFIG=/etc/kubernetes/admin.conf\n")
    out("You should now deploy a pod network to the cluster.")
    out('Run "kubectl apply -f [podnetwork].yaml" with one of the options listed at:')
    out("  https://kubernetes.io/docs/concepts/cluster-administration/addons/\n")
    if cluster.get("controlPlaneEndpoint"):
        if cert_key:
            out("You can now join any number of control-plane nodes running the following command on each as root:\n")
        else:
            out("You can now join any number of control-plane nodes by copying certificate authorities")
            out("and service account keys on each node and then running the following as root:\n")
        line = f"  kubeadm join {ep} --token {tok} \\\n\t--discovery-token-ca-cert-hash {ca_hash} \\\n\t--control-plane"
        if cert_key:
            line += f" --certificate-key {key}"
        out(line + "\n")
        if cert_key:
            out("Please note that the certificate-key gives access to cluster sensitive data, keep it secret!")
            out("As a safeguard, uploaded-certs will be deleted in two hours; If necessary, you can use")
            out('"kubeadm init phase upload-certs --upload-certs" to reload certs afterward.\n')
    out("Then you can join any number of worker nodes by running the following on each as root:\n")
    out(f"kubeadm join {ep} --token {tok} \\\n\t--discovery-token-ca-cert-hash {ca_hash} ")


def cmd_init_phase(argv):
    if not argv:
        raise UsageError('missing subcommand; "phase" is not meant to be run on its own')
    ph, rest = argv[0], argv[1:]
    if ph == "upload-certs":
        vals, ch, pos = parse_flags(rest, GLOBAL_FLAGS + [
            Flag("certificate-key"), Flag("config"), Flag("dry-run", "bool", False),
            Flag("kubeconfig", "str", f"{KDIR}/admin.conf"), Flag("skip-certificate-key-print", "bool", False),
            Flag("upload-certs", "bool", False)])
        if pos:
            raise UsageError(f'unknown command "{pos[0]}" for "kubeadm init phase upload-certs"')
        if "config" in ch and "certificate-key" in ch:
            raise StandinError("can not mix '--config' with arguments [certificate-key]")
        if not vals["upload-certs"]:
            out("[upload-certs] Skipping phase. Please see --upload-certs")
            return
        c = admin_client(vals["kubeconfig"])
        cluster = fetch_cluster_config(c)
        key = vals["certificate-key"]
        if vals["config"]:
            docs = kc.load_documents(vals["config"])
            key = (docs.get("InitConfiguration") or {}).get("certificateKey") or key
        remember_secrets(key)
        if key and not re.match(r"^[0-9a-f]{64}$", key):
            raise StandinError("error decoding certificate key: encoding/hex: invalid byte" if not re.match(r"^[0-9a-fA-F]*$", key)
                               else "certificateKey: Invalid value: \"...\": certificate key must be a hex encoded string of 32 bytes")
        if not key:
            key = secrets.token_hex(32)
        require_root()
        upload_certs(c, cluster, key)
        out("[upload-certs] Using certificate key:")
        out("<value withheld>" if vals["skip-certificate-key-print"] else key)
        return
    if ph == "preflight":
        vals, ch, pos = parse_flags(rest, GLOBAL_FLAGS + [Flag("config"), Flag("cri-socket"), Flag("dry-run", "bool", False),
                                                          Flag("ignore-preflight-errors", "strs", []),
                                                          Flag("image-repository", "str", "registry.k8s.io"),
                                                          Flag("kubernetes-version", "str", "stable-1")])
        full = {f.name: f.default for f in INIT_FLAGS}
        full.update(vals)
        init, cluster, docs, _ = load_init_config(full, ch)
        out("[preflight] Running pre-flight checks")
        pf = Preflight(vals["ignore-preflight-errors"] + list(init["nodeRegistration"].get("ignorePreflightErrors") or []))
        common_checks(pf, init["nodeRegistration"]["criSocket"], (docs.get("KubeletConfiguration") or {}).get("failSwapOn", True))
        local = (cluster.get("etcd") or {}).get("local")
        control_plane_checks(pf, init["localAPIEndpoint"]["bindPort"], local["dataDir"] if local else None)
        pf.finish()
        return
    raise UsageError(f'unknown command "{ph}" for "kubeadm init phase"')


def fetch_cluster_config(c):
    cm = c.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    cluster = yaml_load(cm["data"]["ClusterConfiguration"])
    default_cluster(cluster)
    return cluster


# ---------------------------------------------------------------- join

JOIN_FLAGS = GLOBAL_FLAGS + [
    Flag("apiserver-advertise-address"), Flag("apiserver-bind-port", "int", 6443), Flag("certificate-key"),
    Flag("config"), Flag("control-plane", "bool", False), Flag("cri-socket"),
    Flag("discovery-file"), Flag("discovery-token"), Flag("discovery-token-ca-cert-hash", "strs", []),
    Flag("discovery-token-unsafe-skip-ca-verification", "bool", False), Flag("dry-run", "bool", False),
    Flag("ignore-preflight-errors", "strs", []), Flag("node-name"), Flag("patches"), Flag("skip-phases", "strs", []),
    Flag("tls-bootstrap-token"), Flag("token"),
]


def load_join_config(vals, changed, pos):
    check_mixed(changed)
    if vals["config"]:
        docs = kc.load_documents(vals["config"])
        for k in docs:
            if k not in ("JoinConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"):
                warn(f"[config] WARNING: Ignored configuration document with GroupVersionKind kubeadm.k8s.io/v1beta4, Kind={k}",
                     "joinconfiguration.go", 100)
        if "JoinConfiguration" not in docs:
            raise StandinError("no JoinConfiguration kind was found in the YAML file")
        j = copy.deepcopy(docs["JoinConfiguration"])
    else:
        if len(pos) > 1:
            raise StandinError(f"[discovery: Invalid value: \"{pos}\": the apiServerEndpoint must be a single endpoint]")
        j = {"discovery": {}}
        tok = vals["discovery-token"] or vals["token"]
        if vals["discovery-file"]:
            j["discovery"]["file"] = {"kubeConfigPath": vals["discovery-file"]}
        else:
            j["discovery"]["bootstrapToken"] = {"token": tok, "caCertHashes": vals["discovery-token-ca-cert-hash"],
                                                "unsafeSkipCAVerification": vals["discovery-token-unsafe-skip-ca-verification"]}
            if pos:
                j["discovery"]["bootstrapToken"]["apiServerEndpoint"] = pos[0]
        if vals["tls-bootstrap-token"] or vals["token"]:
            j["discovery"]["tlsBootstrapToken"] = vals["tls-bootstrap-token"] or vals["token"]
        nr = j.setdefault("nodeRegistration", {})
        if vals["node-name"]:
            nr["name"] = vals["node-name"]
        if vals["cri-socket"]:
            nr["criSocket"] = vals["cri-socket"]
        if vals["ignore-preflight-errors"]:
            nr["ignorePreflightErrors"] = vals["ignore-preflight-errors"]
        if vals["control-plane"]:
            cp = j.setdefault("controlPlane", {})
            ep = cp.setdefault("localAPIEndpoint", {})
            if vals["apiserver-advertise-address"]:
                ep["advertiseAddress"] = vals["apiserver-advertise-address"]
            ep["bindPort"] = vals["apiserver-bind-port"]
            if vals["certificate-key"]:
                cp["certificateKey"] = vals["certificate-key"]
        docs = {}
    if vals.get("node-name") and vals["config"]:
        j.setdefault("nodeRegistration", {})["name"] = vals["node-name"]
    kc.validate_join(j)
    if (j.get("patches") or {}).get("directory") or vals.get("patches"):
        raise StandinError("patches (JoinConfiguration.patches / --patches) are not supported by the lab stand-in")
    nr = j.setdefault("nodeRegistration", {})
    nr.setdefault("name", hostname())
    nr.setdefault("criSocket", DEFAULT_CRI)
    disc = j.get("discovery") or {}
    remember_secrets((disc.get("bootstrapToken") or {}).get("token"), disc.get("tlsBootstrapToken"),
                     (j.get("controlPlane") or {}).get("certificateKey"))
    j.setdefault("caCertPath", "/etc/kubernetes/pki/ca.crt")
    t = j.setdefault("timeouts", {})
    for k, v in (("controlPlaneComponentHealthCheck", "4m0s"), ("kubeletHealthCheck", "4m0s"),
                 ("kubernetesAPICall", "1m0s"), ("etcdAPICall", "2m0s"), ("tlsBootstrap", "5m0s"),
                 ("discovery", "5m0s")):
        t.setdefault(k, v)
    if j.get("controlPlane") is not None:
        ep = j["controlPlane"].setdefault("localAPIEndpoint", {})
        if not ep.get("advertiseAddress"):
            ep["advertiseAddress"] = primary_ip()
        ep.setdefault("bindPort", 6443)
    return j, docs


def discover(j):
    """Token-based discovery exactly like kubeadm's discovery/token package."""
    bt = j["discovery"]["bootstrapToken"]
    tok = bt["token"]
    tid, tsec = TOKEN_RE.match(tok).groups()
    pins = bt.get("caCertHashes") or []
    endpoint = bt["apiServerEndpoint"]
    timeout = parse_go_duration(j["timeouts"]["discovery"])
    server = f"https://{endpoint}"

    def get_cluster_info(client):
        deadline = time.time() + timeout
        err = None
        while True:
            try:
                cm = client.get("/api/v1/namespaces/kube-public/configmaps/cluster-info")
                if f"jws-kubeconfig-{tid}" in (cm.get("data") or {}):
                    return cm
                err = StandinError(f'could not find a JWS signature in the cluster-info ConfigMap for token ID "{tid}"')
            except APIError as e:
                err = StandinError(str(e))
            except Exception as e:  # noqa: BLE001 - connection errors are retried like client-go
                err = StandinError(url_error_text(e, server + "/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s"))
            if time.time() + 5 > deadline:
                raise PhaseError("preflight", f"couldn't validate the identity of the API Server: {err}")
            time.sleep(5)

    insecure = Client(server, insecure=True, timeout=10)
    cm = get_cluster_info(insecure)
    kcfg_str = cm["data"].get("kubeconfig")
    if not kcfg_str:
        raise PhaseError("preflight", "couldn't validate the identity of the API Server: there is no kubeconfig key in "
                         "the cluster-info ConfigMap. This API Server isn't set up for token bootstrapping, can't connect")
    if not hmac.compare_digest(jws_detached(kcfg_str, tid, tsec), cm["data"][f"jws-kubeconfig-{tid}"]):
        raise PhaseError("preflight", "couldn't validate the identity of the API Server: failed to verify JWS signature "
                         "of received cluster info object, can't trust this API Server")
    icfg = yaml_load(kcfg_str)
    clusters = icfg.get("clusters") or []
    if len(clusters) != 1:
        raise PhaseError("preflight", f"couldn't validate the identity of the API Server: expected the kubeconfig file "
                         f"in the cluster-info ConfigMap to have a single cluster, but it had {len(clusters)}")
    ca = unb64(clusters[0]["cluster"]["certificate-authority-data"])
    if pins:
        got = ca_hash_from_pem(ca)
        if got not in pins:
            raise PhaseError("preflight", f'couldn\'t validate the identity of the API Server: cluster CA found in '
                             f'cluster-info ConfigMap is invalid: none of the public keys "{got}" are pinned')
        secure = Client(server, ca=ca, timeout=10)
        try:
            cm2 = get_cluster_info(secure)
        except PhaseError:
            raise
        if cm2["data"]["kubeconfig"] != kcfg_str:
            raise PhaseError("preflight", "couldn't validate the identity of the API Server: the second kubeconfig from "
                             "the cluster-info ConfigMap (using validated TLS) was different from the first")
    cluster_server = clusters[0]["cluster"]["server"]
    return ca, server, cluster_server


def cmd_join(argv):
    vals, changed, pos = parse_flags(argv, JOIN_FLAGS)
    j, docs = load_join_config(vals, changed, pos)
    if j["discovery"].get("file"):
        raise StandinError("file-based discovery is not supported by this lab stand-in")
    nr = j["nodeRegistration"]
    node = nr["name"]
    is_cp = j.get("controlPlane") is not None
    ignore = list(nr.get("ignorePreflightErrors") or [])
    t = j["timeouts"]

    out("[preflight] Running pre-flight checks")
    pf = Preflight(ignore)
    common_checks(pf, nr["criSocket"], True)
    node_checks(pf, j["caCertPath"])
    pf.finish()
    # like kubeadm: discovery talks to the given endpoint, everything after it to the server named in cluster-info
    ca, _, server = discover(j)
    tls_token = j["discovery"].get("tlsBootstrapToken") or j["discovery"]["bootstrapToken"]["token"]
    bc = Client(server, ca=ca, token=tls_token, timeout=10)
    out('[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
    out("[preflight] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to re-upload it.")
    try:
        cm = bc.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
        kcm = bc.get("/api/v1/namespaces/kube-system/configmaps/kubelet-config")
    except APIError as e:
        raise PhaseError("preflight", f'unable to fetch the kubeadm-config ConfigMap: {api_err_text(e)}')
    except OSError as e:
        raise PhaseError("preflight", "unable to fetch the kubeadm-config ConfigMap: failed to get config map: " +
                         url_error_text(e, f"{server}/api/v1/namespaces/kube-system/configmaps/kubeadm-config?timeout=10s"))
    cluster = yaml_load(cm["data"]["ClusterConfiguration"])
    default_cluster(cluster)
    kcfg = yaml_load(kcm["data"]["kubelet"])
    try:
        n = bc.get(f"/api/v1/nodes/{node}")
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in (n.get("status") or {}).get("conditions") or [])
        if ready:
            raise PhaseError("kubelet-start", f'a Node with name "{node}" and status "Ready" already exists in the '
                             f'cluster. You must delete the existing Node or change the name of this new joining Node')
    except APIError as e:
        if e.code not in (404, 403):
            raise
    d = cluster["certificatesDir"]
    ep = None
    if is_cp:
        if not cluster.get("controlPlaneEndpoint"):
            raise PhaseError("preflight", "\nOne or more conditions for hosting a new control plane instance is not satisfied.\n\n"
                             "unable to add a new control plane instance to a cluster that doesn't have a stable "
                             "controlPlaneEndpoint address\n\nPlease ensure that:\n* The cluster has a stable "
                             "controlPlaneEndpoint address.\n* The certificates that must be shared among control plane "
                             "instances are provided.\n")
        ep = j["controlPlane"]["localAPIEndpoint"]
        out("[preflight] Running pre-flight checks before initializing the new control plane instance")
        pf = Preflight(ignore)
        local = (cluster.get("etcd") or {}).get("local")
        control_plane_checks(pf, ep["bindPort"], local["dataDir"] if local else None)
        pf.finish()
        out("[preflight] Pulling images required for setting up a Kubernetes cluster")
        out("[preflight] This might take a minute or two, depending on the speed of your internet connection")
        out("[preflight] You can also perform this action beforehand using 'kubeadm config images pull'")
        key = j["controlPlane"].get("certificateKey")
        if not key:
            raise PhaseError("control-plane-prepare/download-certs", "")
        os.makedirs(f"{d}/etcd", exist_ok=True)
        download_certs(bc, cluster, key)
        out(f'[certs] Using certificateDir folder "{d}"')
        gen_leaf_set(cluster, node, ep["advertiseAddress"], is_init=False)
        out(f'[certs] Valid certificates and keys now exist in "{d}"')
        out("[kubeconfig] Generating kubeconfig files")
        out(f'[kubeconfig] Using kubeconfig folder "{KDIR}"')
        adv = ep["advertiseAddress"]
        local_server = f"https://{adv}:{ep['bindPort']}"
        cps = endpoint_url(cluster, ep)
        write_kubeconfig_file("admin.conf", cluster, cps, "kubernetes-admin", ["kubeadm:cluster-admins"])
        write_kubeconfig_file("controller-manager.conf", cluster, local_server, "system:kube-controller-manager", [])
        write_kubeconfig_file("scheduler.conf", cluster, local_server, "system:kube-scheduler", [])
        control_plane_manifests(cluster, adv, ep["bindPort"])
        if local is not None:
            out("[check-etcd] Checking that the etcd cluster is healthy")
            etcd_client, etcd_eps = cluster_etcd(cluster)
            try:
                wait_until(lambda: etcd_client.members(), parse_go_duration(t["etcdAPICall"]), 2)
            except Exception as e:
                raise PhaseError("check-etcd", f"etcd cluster is not healthy: {e}")
    else:
        os.makedirs(d, exist_ok=True)
    # kubelet-start: bootstrap kubeconfig + ca
    write_file(j["caCertPath"], ca, 0o644)
    bk = kubeconfig(server, "kubernetes", "tls-bootstrap-token-user", ca, token=tls_token)
    write_file(f"{KDIR}/bootstrap-kubelet.conf", yaml_dump(bk), 0o600)
    kcfg = kubelet_config(dict(kcfg or {}, **(docs.get("KubeletConfiguration") or {})), cluster)
    write_kubelet_files(kcfg, nr, node)
    start_kubelet()
    wait_kubelet(parse_go_duration(t["kubeletHealthCheck"]))
    out("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
    try:
        wait_until(lambda: os.path.exists(f"{KDIR}/kubelet.conf"), parse_go_duration(t["tlsBootstrap"]), 0.5)
    except Exception:
        pass
    if not os.path.exists(f"{KDIR}/kubelet.conf"):
        raise PhaseError("kubelet-start", "timed out waiting for the condition")
    try:
        os.unlink(f"{KDIR}/bootstrap-kubelet.conf")
    except FileNotFoundError:
        pass
    if is_cp:
        local = (cluster.get("etcd") or {}).get("local")
        if local is not None:
            join_etcd(cluster, node, ep["advertiseAddress"], parse_go_duration(t["etcdAPICall"]))
        ac = admin_client()
        mark_control_plane(ac, node, nr.get("taints") if "taints" in nr and nr["taints"] is not None else [dict(CP_TAINT)],
                           parse_go_duration(t["kubernetesAPICall"]) + 60)
        out("[control-plane-join] Waiting for control plane components to be healthy...")
        wait_control_plane_quiet(f"https://{ep['advertiseAddress']}:{ep['bindPort']}",
                                 parse_go_duration(t["controlPlaneComponentHealthCheck"]))
        out("\nThis node has joined the cluster and a new control plane instance was created:\n")
        out("* Certificate signing request was sent to apiserver and approval was received.")
        out("* The Kubelet was informed of the new secure connection details.")
        out("* Control plane label and taint were applied to the new node.")
        out("* The Kubernetes control plane instances scaled up.")
        if local is not None:
            out("* A new etcd member was added to the local/stacked etcd cluster.")
        out("\nTo start administering your cluster from this node, you need to run the following as a regular user:\n")
        out("\tmkdir -p $HOME/.kube")
        out("\tsudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config")
        out("\tsudo chown $(id -u):$(id -g) $HOME/.kube/config\n")
        out("Run 'kubectl get nodes' to see this node join the cluster.\n")
    else:
        out("\nThis node has joined the cluster:")
        out("* Certificate signing request was sent to apiserver and a response was received.")
        out("* The Kubelet was informed of the new secure connection details.\n")
        out("Run 'kubectl get nodes' on the control-plane to see this node join the cluster.\n")


def wait_control_plane_quiet(local_server, timeout_s):
    import ssl
    import urllib.request
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def ok():
        for u in (f"{local_server}/livez", "https://127.0.0.1:10257/healthz", "https://127.0.0.1:10259/livez"):
            with urllib.request.urlopen(u, context=ctx, timeout=3) as r:
                if r.status != 200:
                    return False
        return True
    try:
        wait_until(ok, timeout_s, 1)
    except Exception as e:
        raise PhaseError("control-plane-join/wait-control-plane", f"error waiting for control plane components: {e}")


def api_err_text(e):
    return e.status.get("message", str(e))


def cluster_etcd(cluster):
    """etcd client for the existing members, found like kubeadm does: from the etcd static Pods' annotations."""
    d = cluster["certificatesDir"]
    c = admin_client()
    pods = c.get("/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd%2Ctier%3Dcontrol-plane")
    eps = []
    for p in pods.get("items") or []:
        u = ((p.get("metadata") or {}).get("annotations") or {}).get("kubeadm.kubernetes.io/etcd.advertise-client-urls")
        if u:
            eps.append(u)
    if not eps:
        raise PhaseError("check-etcd", "could not retrieve the list of etcd endpoints: etcd endpoints not found in the "
                         "static Pod annotations")
    os.makedirs(f"{d}/etcd", exist_ok=True)
    return Etcd(eps, f"{d}/etcd/ca.crt", f"{d}/apiserver-etcd-client.crt", f"{d}/apiserver-etcd-client.key"), eps


def join_etcd(cluster, node, adv, timeout_s):
    ec, eps = cluster_etcd(cluster)
    peer = f"https://{adv}:2380"
    members = ec.members()
    existing = [m for m in members if peer in (m.get("peerURLs") or [])]
    if existing:
        mid = existing[0]["ID"]
    else:
        try:
            r = ec.member_add([peer], learner=True)
        except StandinError as e:
            raise PhaseError("control-plane-join/etcd", f"error creating local etcd static pod manifest file: {e}")
        mid = r["member"]["ID"]
        members = r.get("members") or ec.members()
    out("[etcd] Announced new etcd member joining to the existing etcd cluster")
    initial = []
    for m in members:
        name = m.get("name") or (node if m.get("ID") == mid else "")
        for u in m.get("peerURLs") or []:
            if name:
                initial.append(f"{name}={u}")
    if f"{node}={peer}" not in initial:
        initial.append(f"{node}={peer}")
    out('[etcd] Creating static Pod manifest for "etcd"')
    etcd_manifest(cluster, node, adv, ",".join(initial), "existing")
    out(f"[etcd] Waiting for the new etcd member to join the cluster. This can take up to {format_go_duration(max(40, timeout_s))}")
    deadline = time.time() + max(40, timeout_s)
    last = None
    while time.time() < deadline:
        try:
            ec.member_promote(mid)
            break
        except StandinError as e:
            last = e
            if "not a learner" in str(e):
                break
            time.sleep(2)
    else:
        raise PhaseError("control-plane-join/etcd", f"error creating local etcd static pod manifest file: "
                         f"timeout waiting for etcd cluster to be available: {last}")


# ---------------------------------------------------------------- token

TOKEN_CREATE_FLAGS = GLOBAL_FLAGS + [
    Flag("certificate-key"), Flag("config"), Flag("description"), Flag("dry-run", "bool", False),
    Flag("groups", "strs", [BOOTSTRAP_GROUP]), Flag("kubeconfig", "str", f"{KDIR}/admin.conf"),
    Flag("print-join-command", "bool", False), Flag("ttl", "str", "24h0m0s"),
    Flag("usages", "strs", ["signing", "authentication"])]


def kubeconfig_client(path):
    try:
        return admin_client(path)
    except StandinError as e:
        raise StandinError(f"failed to load admin kubeconfig: open {path}: no such file or directory"
                           if "no such file" in str(e) else str(e))


def cmd_token(argv):
    if not argv:
        raise UsageError('missing subcommand; "token" is not meant to be run on its own')
    sub, rest = argv[0], argv[1:]
    if sub == "generate":
        _, _, pos = parse_flags(rest, GLOBAL_FLAGS)
        out(random_token())
        return
    if sub == "create":
        vals, ch, pos = parse_flags(rest, TOKEN_CREATE_FLAGS)
        if len(pos) > 1:
            raise StandinError("the token create command accepts at most one argument")
        tok = pos[0] if pos else random_token()
        remember_secrets(tok)
        if not TOKEN_RE.match(tok):
            raise StandinError(f'the bootstrap token "{tok}" was not of the form "\\A([a-z0-9]{{6}})\\.([a-z0-9]{{16}})\\z"')
        ttl = vals["ttl"]
        parse_go_duration(ttl)
        for u in vals["usages"]:
            if u not in ("signing", "authentication"):
                raise StandinError(f"invalid bootstrap token usage string: {u}, valid options: [signing authentication]")
        for g in vals["groups"]:
            if not re.match(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$", g):
                raise StandinError(f'bootstrap group "{g}" is invalid (must match \\Asystem:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]\\z)')
        c = kubeconfig_client(vals["kubeconfig"])
        try:
            create_tokens(c, [{"token": tok, "ttl": ttl, "description": vals["description"], "usages": vals["usages"],
                               "groups": vals["groups"]}])
        except APIError as e:
            raise StandinError(f"failed to create or update bootstrap token with name bootstrap-token-{tok[:6]}: {api_err_text(e)}")
        except Exception as e:  # noqa: BLE001
            raise StandinError(url_error_text(e, Client.from_kubeconfig(vals["kubeconfig"]).server))
        if vals["print-join-command"]:
            t = kubeconfig_target(load_kubeconfig(vals["kubeconfig"]))
            ep = t["server"].replace("https://", "")
            ca_hash = ca_hash_from_pem(t["ca"])
            line = f"kubeadm join {ep} --token {tok} --discovery-token-ca-cert-hash {ca_hash} "
            if vals["certificate-key"]:
                line += f"--control-plane --certificate-key {vals['certificate-key']}"
            out(line)
        else:
            out(tok)
        return
    if sub == "list":
        vals, ch, pos = parse_flags(rest, GLOBAL_FLAGS + [
            Flag("kubeconfig", "str", f"{KDIR}/admin.conf"), Flag("dry-run", "bool", False),
            Flag("output", "str", "text", "o"), Flag("allow-missing-template-keys", "bool", True),
            Flag("show-managed-fields", "bool", False)])
        c = kubeconfig_client(vals["kubeconfig"])
        secs = c.get("/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken")
        rows = []
        for s in secs.get("items") or []:
            if s.get("type") != "bootstrap.kubernetes.io/token":
                continue
            dd = {k: unb64(v).decode() for k, v in (s.get("data") or {}).items()}
            if "token-id" not in dd:
                continue
            rows.append(dd)
        fmt = vals["output"]
        if fmt == "text":
            out(f"{'TOKEN':<26}{'TTL':<12}{'EXPIRES':<23}{'USAGES':<25}{'DESCRIPTION':<59}EXTRA GROUPS")
        for dd in rows:
            tok = f"{dd['token-id']}.{dd['token-secret']}"
            exp = dd.get("expiration")
            usages = sorted(k[len("usage-bootstrap-"):] for k, v in dd.items() if k.startswith("usage-bootstrap-") and v == "true")
            groups = [g for g in (dd.get("auth-extra-groups") or "").split(",") if g]
            if fmt == "text":
                if exp:
                    left = (parse_rfc3339(exp) - now_utc()).total_seconds()
                    if left < 0:
                        continue
                    ttl = f"{int(left // 3600)}h" if left >= 3600 else f"{int(left // 60)}m"
                else:
                    ttl = "<forever>"
                out(f"{tok:<26}{ttl:<12}{(exp or '<never>'):<23}{','.join(usages) or '<none>':<25}"
                    f"{dd.get('description') or '<none>':<59}{','.join(groups) or '<none>'}")
            elif fmt in ("json", "yaml"):
                o = {"kind": "BootstrapToken", "apiVersion": "output.kubeadm.k8s.io/v1alpha3", "token": tok}
                if dd.get("description"):
                    o["description"] = dd["description"]
                if exp:
                    o["expires"] = exp
                o["usages"] = usages
                o["groups"] = groups
                out(json.dumps(o, indent=4) if fmt == "json" else yaml_dump_ordered(o).rstrip())
            else:
                raise StandinError(f'unable to match a printer suitable for the output format "{fmt}", allowed formats are: json,jsonpath,jsonpath-as-json,jsonpath-file,text,yaml')
        return
    if sub == "delete":
        vals, ch, pos = parse_flags(rest, GLOBAL_FLAGS + [Flag("kubeconfig", "str", f"{KDIR}/admin.conf"),
                                                          Flag("dry-run", "bool", False)])
        if not pos:
            raise StandinError("missing argument; 'token delete' is missing token of form \"\\A([a-z0-9]{6})\\z\" or \"\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z\"")
        c = kubeconfig_client(vals["kubeconfig"])
        for t in pos:
            m = re.match(r"^([a-z0-9]{6})(\.[a-z0-9]{16})?$", t)
            if not m:
                raise StandinError('given token didn\'t match pattern "\\A([a-z0-9]{6})\\z" or "\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z"')
            tid = m.group(1)
            try:
                c.delete(f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{tid}")
            except APIError as e:
                raise StandinError(f'failed to delete bootstrap token "{tid}": {api_err_text(e)}')
            out(f'bootstrap token "{tid}" deleted')
        return
    raise UsageError(f'unknown command "{sub}" for "kubeadm token"')


# ---------------------------------------------------------------- reset

def cmd_reset(argv):
    vals, ch, pos = parse_flags(argv, GLOBAL_FLAGS + [
        Flag("cert-dir", "str", "/etc/kubernetes/pki"), Flag("cleanup-tmp-dir", "bool", False), Flag("config"),
        Flag("cri-socket"), Flag("dry-run", "bool", False), Flag("force", "bool", False, "f"),
        Flag("ignore-preflight-errors", "strs", []), Flag("kubeconfig", "str", f"{KDIR}/admin.conf"),
        Flag("skip-phases", "strs", [])])
    if pos:
        raise UsageError(f'unknown command "{pos[0]}" for "kubeadm reset"')
    check_mixed(ch)
    rcfg = {}
    if vals["config"]:
        docs = kc.load_documents(vals["config"])
        rcfg = docs.get("ResetConfiguration") or {}
    force = vals["force"] or rcfg.get("force")
    cert_dir = rcfg.get("certificatesDir") or vals["cert-dir"]
    skip = vals["skip-phases"] or rcfg.get("skipPhases") or []
    cleanup_tmp = vals["cleanup-tmp-dir"] or rcfg.get("cleanupTmpDir")
    if os.path.exists(vals["kubeconfig"]):
        out("[reset] Reading configuration from the \"kubeadm-config\" ConfigMap in namespace \"kube-system\"...")
        out("[reset] Use 'kubeadm init phase upload-config kubeadm --config your-config-file' to re-upload it.")
        try:
            fetch_cluster_config(admin_client(vals["kubeconfig"], timeout=5))
        except Exception as e:  # noqa: BLE001
            warn(f"[reset] Unable to fetch the kubeadm-config ConfigMap from cluster: failed to get config map: {e}",
                 "reset.go", 124)
    else:
        warn(f"[reset] The kubeconfig file {vals['kubeconfig']} does not exist. Skipping the retrieval of kubeadm configuration from the cluster",
             "reset.go", 138)
    if not force:
        sys.stdout.write("W... [reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' will be reverted.\n"
                         "[reset] Are you sure you want to proceed? [y/N]: ")
        sys.stdout.flush()
        ans = sys.stdin.readline().strip().lower()
        if ans not in ("y", "yes"):
            raise StandinError("aborted reset operation")
    if "preflight" not in skip:
        out("[preflight] Running pre-flight checks")
        pf = Preflight(vals["ignore-preflight-errors"])
        if os.geteuid() != 0:
            pf.fail("IsPrivilegedUser", "user is not running as root")
        pf.finish()
    etcd_manifest_path = f"{MANIFESTS}/etcd.yaml"
    data_dir = None
    if os.path.exists(etcd_manifest_path):
        try:
            pod = yaml_load(open(etcd_manifest_path).read())
            for a in pod["spec"]["containers"][0]["command"]:
                if a.startswith("--data-dir="):
                    data_dir = a.split("=", 1)[1]
        except Exception:  # noqa: BLE001
            data_dir = "/var/lib/etcd"
        if "remove-etcd-member" not in skip:
            remove_local_etcd_member(cert_dir, pod)
    if "cleanup-node" not in skip:
        # stop the kubelet and its static Pods before any data goes, so nothing restarts on a half-deleted dir
        subprocess.run(["systemctl", "stop", "kubelet"], check=False)
        subprocess.run("systemctl stop 'k8s-pod-*' 2>/dev/null; systemctl reset-failed 'k8s-pod-*' 2>/dev/null",
                       shell=True, check=False)
        if data_dir:
            # the directory itself stays, like kubeadm's cleanDir
            for e in os.listdir(data_dir) if os.path.isdir(data_dir) else []:
                p = os.path.join(data_dir, e)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)
            out(f"[reset] Deleted contents of the etcd data directory: {data_dir}")
        out("[reset] Stopping the kubelet service")
        out(f'[reset] Unmounting mounted directories in "{KUBELET_DIR}"')
        dirs = [MANIFESTS, KUBELET_DIR, cert_dir]
        if cleanup_tmp:
            dirs.append(f"{KDIR}/tmp")
        for dd in dirs:
            if os.path.isdir(dd):
                for e in os.listdir(dd):
                    p = os.path.join(dd, e)
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        os.unlink(p)
        out(f"[reset] Deleting contents of directories: [{' '.join(dirs)}]")
        files = [f"{KDIR}/{f}" for f in ("admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf",
                                         "controller-manager.conf", "scheduler.conf")]
        for f in files:
            try:
                os.unlink(f)
            except FileNotFoundError:
                pass
        out(f"[reset] Deleting files: [{' '.join(files)}]")
    out("\nThe reset process does not perform cleanup of CNI plugin configuration,\nnetwork filtering rules and kubeconfig files.\n")
    out("For information on how to perform this cleanup manually, please see:\n    https://k8s.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/\n")


def remove_local_etcd_member(cert_dir, pod):
    args = {}
    for a in pod["spec"]["containers"][0]["command"][1:]:
        k, _, v = a.lstrip("-").partition("=")
        args[k] = v
    name = args.get("name")
    peer = args.get("initial-advertise-peer-urls")
    client_url = args.get("advertise-client-urls")
    try:
        ec = Etcd([client_url, "https://127.0.0.1:2379"], f"{cert_dir}/etcd/ca.crt", f"{cert_dir}/apiserver-etcd-client.crt",
                  f"{cert_dir}/apiserver-etcd-client.key", timeout=5)
        members = ec.members()
        me = [m for m in members if m.get("name") == name or peer in (m.get("peerURLs") or [])]
        others = [m for m in members if m not in me]
        if me and others:
            # remove through another member so the request does not depend on the leaving one
            ep = None
            for m in others:
                if m.get("clientURLs"):
                    ep = m["clientURLs"][0]
                    break
            ec.member_remove(me[0]["ID"], ep)
            out(f"[reset] Removed etcd member {name} ({int(me[0]['ID']):x}) from the etcd cluster")
        elif me:
            warn("[reset] The etcd member is the last member of the cluster; not removing it", "removeetcdmember.go", 73)
    except Exception as e:  # noqa: BLE001
        warn(f"[reset] Failed to remove etcd member: {e}\n.Please manually remove this etcd member using etcdctl",
             "removeetcdmember.go", 80)


# ---------------------------------------------------------------- main

COMMANDS = {"version": cmd_version, "init": cmd_init, "join": cmd_join, "token": cmd_token, "reset": cmd_reset,
            "config": cmd_config, "certs": cmd_certs}


def main(argv):
    # root-level flags may precede the subcommand
    rest = list(argv)
    sub = None
    for i, a in enumerate(rest):
        if not a.startswith("-"):
            sub = a
            pre = rest[:i]
            rest = rest[i + 1:]
            break
    else:
        pre = rest
        rest = []
    try:
        vals, _, _ = parse_flags(pre, GLOBAL_FLAGS)
        if sub is None:
            out("\n    ┌──────────────────────────────────────────────────────────┐\n    │ KUBEADM                                                  │\n"
                "    │ Easily bootstrap a secure Kubernetes cluster             │\n    └──────────────────────────────────────────────────────────┘\n"
                "\nUsage:\n  kubeadm [command]\n\nAvailable Commands:\n  certs       Commands related to handling kubernetes certificates\n"
                "  completion  Output shell completion code for the specified shell (bash or zsh)\n  config      Manage configuration for a kubeadm cluster persisted in a ConfigMap in the cluster\n"
                "  help        Help about any command\n  init        Run this command in order to set up the Kubernetes control plane\n"
                "  join        Run this on any machine you wish to join an existing cluster\n  kubeconfig  Kubeconfig file utilities\n"
                "  reset       Performs a best effort revert of changes made to this host by 'kubeadm init' or 'kubeadm join'\n"
                "  token       Manage bootstrap tokens\n  upgrade     Upgrade your cluster smoothly to a newer version with this command\n"
                "  version     Print the version of kubeadm\n")
            return 0
        fn = COMMANDS.get(sub)
        if fn is None:
            raise UsageError(f'unknown command "{sub}" for "kubeadm"')
        fn(rest)
        return 0
    except UsageError as e:
        sys.stderr.write(f"{e}\n{STACK_HINT}\n")
        return 1
    except PhaseError as e:
        sys.stderr.write(f"error execution phase {e.phase}: {e.msg}\n{STACK_HINT}\n")
        return 1
    except (StandinError, APIError) as e:
        sys.stderr.write(f"{e}\n{STACK_HINT}\n")
        return 1
    except OSError as e:  # includes urllib's URLError: an unreachable endpoint mid-phase
        sys.stderr.write(f"{url_error_text(e, 'https://' + str(getattr(e, 'filename', '') or 'endpoint'))}\n{STACK_HINT}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
