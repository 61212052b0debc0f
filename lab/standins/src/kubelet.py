#!/usr/bin/python3
"""kubelet stand-in: crashloops until kubeadm writes its config, runs static Pods as
transient systemd units (so they outlive kubelet restarts, like containers), does the
TLS bootstrap, registers the Node and keeps its status fresh."""

import glob
import hashlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import kubeadm_config as kc
import pki
from k8scommon import (APIError, set_process_args, cri_error, containerd_systemd_cgroup, Client, K8S_VERSION, StandinError, b64, hostname, klog, kubeconfig,
                       kubeconfig_target, load_kubeconfig, now_utc, openssl, primary_ip, rfc3339, unb64, write_file,
                       yaml_dump, yaml_load)

LIB = os.path.dirname(os.path.abspath(__file__))
RUN_DIR = "/run/kubelet-standin"
UNIT_PREFIX = "k8s-pod-"

KNOWN_FLAGS = set("""bootstrap-kubeconfig kubeconfig config container-runtime-endpoint pod-infra-container-image
hostname-override node-ip node-labels register-with-taints cgroup-driver v vmodule cert-dir root-dir
provider-id cloud-provider runtime-request-timeout image-service-endpoint resolv-conf max-pods fail-swap-on
rotate-certificates rotate-server-certificates feature-gates kube-reserved system-reserved eviction-hard
protect-kernel-defaults read-only-port anonymous-auth authorization-mode client-ca-file tls-cipher-suites
tls-min-version event-qps streaming-connection-idle-timeout make-iptables-util-chains pod-manifest-path
healthz-port healthz-bind-address address port register-node log-file logtostderr""".split())


def die(msg):
    klog("E", '"command failed" err="%s"', msg.replace('"', '\\"'), file="run.go", line=72)
    sys.exit(1)


def parse_flags(argv):
    a = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            die(f'unknown command "{arg}" for "kubelet"')
        k, eq, v = arg.lstrip("-").partition("=")
        if k not in KNOWN_FLAGS:
            die(f"failed to parse kubelet flag: unknown flag: --{k}")
        if not eq:
            if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                v = argv[i + 1]
                i += 1
            else:
                v = "true"
        a[k] = v
        i += 1
    return a


def systemctl(*args):
    return subprocess.run(["systemctl", *args], capture_output=True, text=True)


class Kubelet:
    def __init__(self, flags):
        self.flags = flags
        cfg_path = flags.get("config")
        if not cfg_path:
            die("the kubelet stand-in requires --config")
        try:
            text = open(cfg_path).read()
        except FileNotFoundError:
            die(f'failed to load kubelet config file, path: {cfg_path}, error: failed to load Kubelet config file '
                f'{cfg_path}, error failed to read kubelet config file "{cfg_path}", error: open {cfg_path}: no such file or directory')
        try:
            doc = yaml_load(text)
            kc.strict_decode(doc)
            kc.validate_kubelet_config(doc)
        except StandinError as e:
            die(f"failed to load kubelet config file, path: {cfg_path}, error: {e}")
        self.cfg = doc
        swaps = open("/proc/swaps").read().strip().splitlines()[1:] if os.path.exists("/proc/swaps") else []
        if swaps and doc.get("failSwapOn", True) and flags.get("fail-swap-on", "true") != "false":
            die('failed to run Kubelet: running with swap on is not supported, please disable swap or set --fail-swap-on flag to false')
        if doc.get("protectKernelDefaults") or flags.get("protect-kernel-defaults") == "true":
            errs = []
            for key, want in (("vm/overcommit_memory", 1), ("vm/panic_on_oom", 0), ("kernel/panic", 10),
                              ("kernel/panic_on_oops", 1), ("kernel/keys/root_maxkeys", 1000000),
                              ("kernel/keys/root_maxbytes", 25000000)):
                try:
                    got = int(open(f"/proc/sys/{key}").read().strip())
                except (OSError, ValueError):
                    continue
                if got != want:
                    errs.append(f"invalid kernel flag: {key}, expected value: {want}, actual value: {got}")
            if errs:
                klog("E", '"Failed to start ContainerManager" err="[%s]"', ", ".join(errs), file="kubelet.go", line=1712)
                sys.exit(1)
        ep = flags.get("container-runtime-endpoint") or doc.get("containerRuntimeEndpoint") or "unix:///run/containerd/containerd.sock"
        err = cri_error(ep)
        if err:
            die(f"failed to run Kubelet: {err}")
        self.check_cgroup_driver()
        self.node = (flags.get("hostname-override") or hostname()).lower()
        self.node_ip = flags.get("node-ip") or primary_ip()
        self.manifests = doc.get("staticPodPath") or "/etc/kubernetes/manifests"
        self.client = None
        self.registered = False
        self.deleted = False
        self.last_mirror = {}
        self.started = {}
        self.lock = threading.Lock()

    def check_cgroup_driver(self):
        """The kubelet's and containerd's cgroup drivers must match (containerd 1.6 cannot report its
        driver to the kubelet); with a mismatch no Pod sandbox can be created."""
        driver = self.cfg.get("cgroupDriver") or "cgroupfs"
        have = containerd_systemd_cgroup()
        old = getattr(self, "cgroup_mismatch", None)
        self.cgroup_mismatch = None
        if have is not None and have != (driver == "systemd"):
            self.cgroup_mismatch = (
                "failed to create containerd task: failed to create shim task: OCI runtime create failed: kubelet "
                f'cgroup driver "{driver}" does not match containerd runc SystemdCgroup={str(have).lower()}: '
                "the container runtime and kubelet cgroup drivers must match")
            if not old:
                klog("E", '"RunPodSandbox from runtime service failed" err="%s"', self.cgroup_mismatch, file="log.go", line=32)
        self._cgroup_checked = time.time()

    # ---------------- http endpoints
    def serve_healthz(self):
        port = int(self.cfg.get("healthzPort", 10248))
        addr = self.cfg.get("healthzBindAddress", "127.0.0.1")

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        try:
            srv = HTTPServer((addr, port), H)
        except OSError as e:
            die(f"failed to listen on {addr}:{port}: {e}")
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def serve_kubelet_api(self):
        d = "/var/lib/kubelet/pki"
        os.makedirs(d, exist_ok=True)
        crt, key = f"{d}/kubelet.crt", f"{d}/kubelet.key"
        if os.path.exists(f"{d}/kubelet-server-current.pem"):
            crt = key = f"{d}/kubelet-server-current.pem"
        elif not os.path.exists(crt):
            pki.gen_key(key, "RSA-2048")
            pem = openssl("req", "-x509", "-new", "-key", key, "-subj", f"/CN={self.node}-ca@{int(time.time())}",
                          "-days", "365", "-addext", f"subjectAltName=DNS:{self.node},IP:{self.node_ip}")
            write_file(crt, pem, 0o644)

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"Unauthorized"
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        port = int(self.cfg.get("port", 10250))
        try:
            srv = HTTPServer(("0.0.0.0", port), H)
        except OSError as e:
            die(f"failed to listen on 0.0.0.0:{port}: {e}")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    # ---------------- API client / TLS bootstrap
    def ensure_client(self):
        kcfg = self.flags.get("kubeconfig", "/etc/kubernetes/kubelet.conf")
        if os.path.exists(kcfg):
            if self.client is None:
                self.client = Client.from_kubeconfig(kcfg, timeout=10)
            return True
        bcfg = self.flags.get("bootstrap-kubeconfig")
        if not bcfg or not os.path.exists(bcfg):
            return False
        try:
            self.tls_bootstrap(bcfg, kcfg)
        except (APIError, StandinError, OSError, urllib.error.URLError) as e:
            klog("E", '"Unhandled Error" err="failed to run Kubelet: unable to load bootstrap kubeconfig: %s"', e,
                 file="bootstrap.go", line=265)
            return False
        self.client = Client.from_kubeconfig(kcfg, timeout=10)
        return True

    def tls_bootstrap(self, bcfg, kcfg):
        t = kubeconfig_target(load_kubeconfig(bcfg))
        bc = Client(t["server"], t["ca"], token=t["token"], timeout=10)
        d = "/var/lib/kubelet/pki"
        os.makedirs(d, exist_ok=True)
        keyp = f"{d}/kubelet-client.key.tmp"
        pki.gen_key(keyp, "ECDSA-P256")
        csr = pki.make_csr(keyp, f"system:node:{self.node}", ["system:nodes"])
        obj = bc.post("/apis/certificates.k8s.io/v1/certificatesigningrequests", {
            "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "csr-"},
            "spec": {"request": b64(csr), "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "usages": ["digital signature", "client auth"]}})
        name = obj["metadata"]["name"]
        deadline = time.time() + 300
        while not (obj.get("status") or {}).get("certificate"):
            if time.time() > deadline:
                raise StandinError(f"timed out waiting for CSR {name}")
            time.sleep(2)
            obj = bc.get(f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")
        cert = unb64(obj["status"]["certificate"])
        ts = time.strftime("%Y-%m-%d-%H-%M-%S")
        pem_path = f"{d}/kubelet-client-{ts}.pem"
        write_file(pem_path, cert + open(keyp, "rb").read(), 0o600)
        os.unlink(keyp)
        cur = f"{d}/kubelet-client-current.pem"
        if os.path.lexists(cur):
            os.unlink(cur)
        os.symlink(pem_path, cur)
        cfg = kubeconfig(t["server"], "default-cluster", "default-auth", t["ca"], cert_file=cur, key_file=cur)
        cfg["contexts"][0]["name"] = "default-context"
        cfg["contexts"][0]["context"]["namespace"] = "default"
        cfg["current-context"] = "default-context"
        write_file(kcfg, yaml_dump(cfg), 0o600)
        klog("I", "Certificate signing request %s approved, waiting to be issued", name, file="csr.go", line=261)

    def serving_bootstrap(self):
        """serverTLSBootstrap: request a kubelet-serving certificate; it stays pending until approved."""
        if not self.cfg.get("serverTLSBootstrap"):
            return
        d = "/var/lib/kubelet/pki"
        cur = f"{d}/kubelet-server-current.pem"
        if os.path.exists(cur):
            return
        name = getattr(self, "_serving_csr", None)
        if name is None:
            keyp = f"{d}/kubelet-server.key.tmp"
            if not os.path.exists(keyp):
                pki.gen_key(keyp, "ECDSA-P256")
            csr = pki.make_csr(keyp, f"system:node:{self.node}", ["system:nodes"], [self.node], [self.node_ip])
            obj = self.client.post("/apis/certificates.k8s.io/v1/certificatesigningrequests", {
                "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"generateName": "csr-"},
                "spec": {"request": b64(csr), "signerName": "kubernetes.io/kubelet-serving",
                         "usages": ["digital signature", "server auth"]}})
            self._serving_csr = obj["metadata"]["name"]
            klog("I", 'Certificate signing request %s is pending approval', self._serving_csr, file="csr.go", line=261)
            return
        obj = self.client.get(f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")
        cert = (obj.get("status") or {}).get("certificate")
        if not cert:
            return
        keyp = f"{d}/kubelet-server.key.tmp"
        ts = time.strftime("%Y-%m-%d-%H-%M-%S")
        pem = f"{d}/kubelet-server-{ts}.pem"
        write_file(pem, unb64(cert) + open(keyp, "rb").read(), 0o600)
        os.unlink(keyp)
        os.symlink(pem, cur)
        klog("I", "Rotating certificates", file="certificate_manager.go", line=1)

    # ---------------- node status
    def cni_ready(self):
        if glob.glob("/etc/cni/net.d/*.conf") + glob.glob("/etc/cni/net.d/*.conflist"):
            return True
        # Emulates a CNI DaemonSet's install-cni container on this node: a DaemonSet that mounts
        # /etc/cni/net.d from the host would have written a network config here.
        try:
            dss = self.client.get("/apis/apps/v1/daemonsets")
        except Exception:  # noqa: BLE001
            return False
        for ds in dss.get("items") or []:
            vols = ((((ds.get("spec") or {}).get("template") or {}).get("spec")) or {}).get("volumes") or []
            if any(((v.get("hostPath") or {}).get("path") or "").rstrip("/") == "/etc/cni/net.d" for v in vols):
                name = ds["metadata"]["name"]
                os.makedirs("/etc/cni/net.d", exist_ok=True)
                write_file(f"/etc/cni/net.d/10-{name}.conflist", json.dumps({
                    "cniVersion": "0.3.1", "name": name, "plugins": [{"type": "loopback"}]}, indent=2) + "\n", 0o644)
                return True
        return False

    def node_object(self, ready, existing=None):
        now = rfc3339(now_utc())
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux"}
        for kv in (self.flags.get("node-labels") or "").split(","):
            if "=" in kv:
                k, v = kv.split("=", 1)
                labels[k] = v
        os_image = "Debian GNU/Linux 12 (bookworm)"
        try:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', open("/etc/os-release").read(), re.M)
            os_image = m.group(1) if m else os_image
        except OSError:
            pass
        rt = "containerd://1.6.20"
        cond_ready = {"type": "Ready", "status": "True" if ready else "False", "lastHeartbeatTime": now,
                      "lastTransitionTime": now,
                      "reason": "KubeletReady" if ready else "KubeletNotReady",
                      "message": "kubelet is posting ready status" if ready else
                      "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                      "message:Network plugin returns error: cni plugin not initialized"}
        conds = [{"type": t, "status": "False", "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": r, "message": m}
                 for t, r, m in (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                                 ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                                 ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))] + [cond_ready]
        if existing:
            for c in conds:
                for o in (existing.get("status") or {}).get("conditions") or []:
                    if o.get("type") == c["type"] and o.get("status") == c["status"]:
                        c["lastTransitionTime"] = o.get("lastTransitionTime", now)
        status = {"addresses": [{"type": "InternalIP", "address": self.node_ip}, {"type": "Hostname", "address": self.node}],
                  "allocatable": {"cpu": str(os.cpu_count()), "ephemeral-storage": "95000000000", "memory": "16000000Ki", "pods": "110"},
                  "capacity": {"cpu": str(os.cpu_count()), "ephemeral-storage": "100000000Ki", "memory": "16400000Ki", "pods": "110"},
                  "conditions": conds, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                  "nodeInfo": {"architecture": "amd64", "bootID": open("/proc/sys/kernel/random/boot_id").read().strip(),
                               "containerRuntimeVersion": rt, "kernelVersion": os.uname().release,
                               "kubeProxyVersion": "", "kubeletVersion": K8S_VERSION,
                               "machineID": (open("/etc/machine-id").read().strip() if os.path.exists("/etc/machine-id") else ""),
                               "operatingSystem": "linux", "osImage": os_image, "systemUUID": ""}}
        if existing:
            existing["status"] = status
            return existing
        taints = []
        for t in (self.flags.get("register-with-taints") or "").split(","):
            m = re.match(r"^([^=:]+)(?:=([^:]*))?:(\w+)$", t)
            if m:
                tt = {"key": m.group(1), "effect": m.group(3)}
                if m.group(2):
                    tt["value"] = m.group(2)
                taints.append(tt)
        if not ready:
            taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
        spec = {"taints": taints} if taints else {}
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node, "labels": labels,
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                             "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": spec, "status": status}

    def sync_node(self):
        if self.deleted:
            return
        ready = self.cni_ready()
        if not self.registered:
            try:
                self.client.post("/api/v1/nodes", self.node_object(ready))
                klog("I", 'Successfully registered node node="%s"', self.node, file="kubelet_node_status.go", line=78)
                self.registered = True
            except APIError as e:
                if e.code == 409:
                    self.registered = True
                else:
                    klog("E", '"Unable to register node with API server" err="%s" node="%s"', e, self.node,
                         file="kubelet_node_status.go", line=98)
                    return
        try:
            cur = self.client.get(f"/api/v1/nodes/{self.node}")
        except APIError as e:
            if e.code == 404:
                klog("E", '"Error updating node status, will retry" err="error getting node \\"%s\\": nodes \\"%s\\" not found"',
                     self.node, self.node, file="kubelet_node_status.go", line=535)
                return
            raise
        new = self.node_object(ready, cur)
        taints = [t for t in (new.get("spec") or {}).get("taints") or [] if t.get("key") != "node.kubernetes.io/not-ready"]
        if not ready:
            taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
        new.setdefault("spec", {})["taints"] = taints or None
        if not taints:
            new["spec"].pop("taints")
        self.client.put(f"/api/v1/nodes/{self.node}", new)

    # ---------------- static pods
    def load_manifests(self):
        pods = {}
        for p in sorted(glob.glob(os.path.join(self.manifests, "*"))):
            if os.path.basename(p).startswith(".") or not os.path.isfile(p):
                continue
            try:
                raw = open(p, "rb").read()
                pod = yaml_load(raw.decode())
            except Exception as e:  # noqa: BLE001
                klog("E", '"Could not process manifest file" err="%s" file="%s"', e, p, file="file_linux.go", line=84)
                continue
            if not isinstance(pod, dict) or pod.get("kind") != "Pod":
                continue
            name = (pod.get("metadata") or {}).get("name")
            if not name:
                continue
            pods[name] = (pod, hashlib.sha256(raw).hexdigest()[:16], p)
        return pods

    def command_for(self, pod):
        c = (pod["spec"].get("containers") or [{}])[0]
        cmd = list(c.get("command") or []) + list(c.get("args") or [])
        img = c.get("image") or ""
        if "/kube-vip:" in img or img.startswith("kube-vip:"):
            return ["/usr/bin/python3", f"{LIB}/kube_vip.py"] + cmd, None
        if not cmd:
            return None, f'Failed to pull image "{c.get("image")}": no container registry is reachable from the lab'
        exe = cmd[0]
        if exe == "etcd":
            return ["/usr/bin/etcd"] + cmd[1:], None
        if exe == "kube-apiserver":
            return ["/usr/bin/python3", f"{LIB}/kube_apiserver.py"] + cmd[1:], None
        if exe in ("kube-controller-manager", "kube-scheduler"):
            return ["/usr/bin/python3", f"{LIB}/component.py", exe] + cmd[1:], None
        return None, f'Failed to pull image "{c.get("image")}": no container registry is reachable from the lab'

    def prepare_volumes(self, pod):
        for v in pod["spec"].get("volumes") or []:
            hp = v.get("hostPath")
            if not hp:
                continue
            path, typ = hp.get("path"), hp.get("type", "")
            if typ == "DirectoryOrCreate":
                os.makedirs(path, exist_ok=True)
            elif typ == "FileOrCreate" and not os.path.exists(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "a").close()
            elif typ == "Directory" and not os.path.isdir(path):
                return f'MountVolume.SetUp failed for volume "{v["name"]}" : hostPath type check failed: {path} is not a directory'
            elif typ == "File" and not os.path.isfile(path):
                return f'MountVolume.SetUp failed for volume "{v["name"]}" : hostPath type check failed: {path} is not a file'
            elif typ == "" and not os.path.exists(path):
                os.makedirs(path, exist_ok=True)
        return None

    def unit_state(self, unit):
        return systemctl("is-active", unit).stdout.strip()

    def sync_pods(self):
        os.makedirs(RUN_DIR, exist_ok=True)
        pods = self.load_manifests()
        statuses = {}
        for name, (pod, h, path) in pods.items():
            unit = f"{UNIT_PREFIX}{name}"
            hf = f"{RUN_DIR}/{unit}.hash"
            cur_hash = open(hf).read().strip() if os.path.exists(hf) else ""
            state = self.unit_state(unit)
            cmd, err = self.command_for(pod)
            if self.cgroup_mismatch:
                statuses[name] = ("Pending", "CreateContainerError", self.cgroup_mismatch)
                continue
            if err:
                statuses[name] = ("Pending", "ErrImagePull", err)
                continue
            if state == "active" and cur_hash == h:
                statuses[name] = ("Running", None, None)
                continue
            last = self.started.get(unit, 0)
            if state == "active" and cur_hash != h:
                systemctl("stop", unit)
            elif state != "active" and time.time() - last < 10:
                statuses[name] = ("Running" if state == "activating" else "Pending", "CrashLoopBackOff",
                                  f"back-off restarting failed container {pod['spec']['containers'][0]['name']}")
                continue
            verr = self.prepare_volumes(pod)
            if verr:
                statuses[name] = ("Pending", "ContainerCreating", verr)
                continue
            systemctl("reset-failed", unit)
            c = pod["spec"]["containers"][0]
            mounts = [m["mountPath"] for m in c.get("volumeMounts") or []]
            vol_paths = {v["name"]: (v.get("hostPath") or {}).get("path") for v in pod["spec"].get("volumes") or []}
            vols = {m["mountPath"]: vol_paths.get(m["name"]) for m in c.get("volumeMounts") or [] if vol_paths.get(m["name"])}
            env = [f"--setenv=K8S_STANDIN_MOUNTS={json.dumps(mounts)}", f"--setenv=K8S_STANDIN_VOLUMES={json.dumps(vols)}"]
            fields = {"spec.nodeName": self.node, "metadata.name": f"{name}-{self.node}",
                      "metadata.namespace": (pod.get("metadata") or {}).get("namespace", "kube-system"),
                      "status.hostIP": self.node_ip, "status.podIP": self.node_ip}
            for e in c.get("env") or []:
                if "value" in e:
                    env.append(f"--setenv={e['name']}={e['value']}")
                elif ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") in fields:
                    env.append(f"--setenv={e['name']}={fields[e['valueFrom']['fieldRef']['fieldPath']]}")
            r = subprocess.run(["systemd-run", f"--unit={unit}", f"--description=static pod {name} (kubelet stand-in)",
                                "--property=KillMode=mixed", "--collect", *env, "--", *cmd], capture_output=True, text=True)
            if r.returncode != 0:
                klog("E", '"Error syncing pod" err="%s" pod="kube-system/%s-%s"', r.stderr.strip(), name, self.node,
                     file="pod_workers.go", line=1301)
            write_file(hf, h, 0o644)
            self.started[unit] = time.time()
            statuses[name] = ("Running", None, None)
        # stop units whose manifest disappeared (checked every 10 s: cheap on nodes without static pods)
        if time.time() - getattr(self, "_last_gc", 0) < 10:
            return pods, statuses
        self._last_gc = time.time()
        r = systemctl("list-units", "--all", "--plain", "--no-legend", f"{UNIT_PREFIX}*")
        for line in r.stdout.splitlines():
            unit = line.split()[0].removesuffix(".service") if line.split() else ""
            if unit.startswith(UNIT_PREFIX) and unit[len(UNIT_PREFIX):] not in pods:
                systemctl("stop", unit)
                systemctl("reset-failed", unit)
                try:
                    os.unlink(f"{RUN_DIR}/{unit}.hash")
                except FileNotFoundError:
                    pass
        return pods, statuses

    def sync_mirror_pods(self, pods, statuses):
        now = rfc3339(now_utc())
        for name, (pod, h, path) in pods.items():
            mname = f"{name}-{self.node}"
            phase, reason, msg = statuses.get(name, ("Pending", None, None))
            key = (h, phase, reason)
            if self.last_mirror.get(mname) == key:
                continue
            meta = dict(pod.get("metadata") or {})
            meta.pop("creationTimestamp", None)
            ann = dict(meta.get("annotations") or {})
            ann.update({"kubernetes.io/config.hash": h, "kubernetes.io/config.mirror": h,
                        "kubernetes.io/config.source": "file", "kubernetes.io/config.seen": now})
            c = pod["spec"]["containers"][0]
            cs = {"name": c["name"], "image": c.get("image"), "ready": phase == "Running", "restartCount": 0,
                  "started": phase == "Running", "state": {"running": {"startedAt": now}} if phase == "Running" and not reason
                  else {"waiting": {"reason": reason or "ContainerCreating", "message": msg or ""}}}
            obj = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": mname, "namespace": meta.get("namespace", "kube-system"),
                                "labels": meta.get("labels") or {}, "annotations": ann},
                   "spec": dict(pod["spec"], nodeName=self.node),
                   "status": {"phase": phase, "hostIP": self.node_ip, "podIP": self.node_ip,
                              "conditions": [{"type": "Ready", "status": "True" if phase == "Running" and not reason else "False"}],
                              "containerStatuses": [cs]}}
            if self.node_uid:
                obj["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.node,
                                                       "uid": self.node_uid, "controller": True}]
            ns = obj["metadata"]["namespace"]
            try:
                try:
                    cur = self.client.get(f"/api/v1/namespaces/{ns}/pods/{mname}")
                    obj["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
                    self.client.put(f"/api/v1/namespaces/{ns}/pods/{mname}", obj)
                except APIError as e:
                    if e.code != 404:
                        raise
                    self.client.post(f"/api/v1/namespaces/{ns}/pods", obj)
                self.last_mirror[mname] = key
            except Exception as e:  # noqa: BLE001
                klog("E", '"Failed creating a mirror pod" err="%s" pod="%s/%s"', e, ns, mname, file="kubelet.go", line=1936)
        for mname in list(self.last_mirror):
            if mname[: -len(self.node) - 1] not in pods:
                try:
                    self.client.delete(f"/api/v1/namespaces/kube-system/pods/{mname}")
                except Exception:  # noqa: BLE001
                    pass
                del self.last_mirror[mname]

    node_uid = None

    def run(self):
        self.serve_healthz()
        self.serve_kubelet_api()
        klog("I", "Kubelet version kubeletVersion=\"%s\"", K8S_VERSION, file="server.go", line=530)
        last_node = 0
        while True:
            if time.time() - self._cgroup_checked > 30:
                self.check_cgroup_driver()
            try:
                pods, statuses = self.sync_pods()
            except Exception as e:  # noqa: BLE001
                klog("E", "static pod sync failed: %s", e, file="kubelet.go", line=1)
                pods, statuses = {}, {}
            try:
                if self.ensure_client():
                    if time.time() - last_node >= 10:
                        self.sync_node()
                        last_node = time.time()
                        if self.node_uid is None:
                            try:
                                self.node_uid = self.client.get(f"/api/v1/nodes/{self.node}")["metadata"]["uid"]
                            except Exception:  # noqa: BLE001
                                pass
                    if self.registered:
                        self.sync_mirror_pods(pods, statuses)
                        try:
                            self.serving_bootstrap()
                        except Exception as e:  # noqa: BLE001
                            klog("E", '"Failed while requesting a signed certificate from the control plane" err="%s"', e,
                                 file="certificate_manager.go", line=1)
            except Exception as e:  # noqa: BLE001
                klog("E", '"Unhandled Error" err="%s"', e, file="kubelet.go", line=2)
                last_node = time.time() - 8
            time.sleep(2)


def main(argv):
    set_process_args(["/usr/bin/kubelet"] + argv, "kubelet")
    flags = parse_flags(argv)
    if flags.get("version"):
        print(f"Kubernetes {K8S_VERSION}")
        return
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    k = Kubelet(flags)
    k.run()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("--version", "version"):
        print(f"Kubernetes {K8S_VERSION}")
        sys.exit(0)
    main(sys.argv[1:])
