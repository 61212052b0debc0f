#!/usr/bin/python3
"""kube-vip stand-in (control-plane VIP, ARP mode with leader election), run by the kubelet
stand-in for a static Pod whose image is kube-vip. Configuration comes from the same
environment variables as the real image; the leader holds the Lease (plndr-cp-lock) through
the local API server with the mounted kubeconfig, adds the VIP to the interface and
announces it with a gratuitous ARP; followers remove it. A kubeconfig without rights on
leases (admin.conf before kubeadm's RBAC binding exists) fails exactly there."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

from k8scommon import (APIError, Client, hostname, klog, kubeconfig_target, load_kubeconfig, now_utc, parse_rfc3339,
                       rfc3339, set_process_args, StandinError)


def host_path(path):
    """Translate a path inside the Pod to the host through its volumes."""
    vols = json.loads(os.environ.get("K8S_STANDIN_VOLUMES") or "{}")
    best = None
    for mount, hp in vols.items():
        if path == mount or path.startswith(mount.rstrip("/") + "/"):
            if best is None or len(mount) > len(best[0]):
                best = (mount, hp)
    if best is None:
        return None
    return best[1] + path[len(best[0]):]


def has_addr(iface, vip):
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", iface], capture_output=True, text=True).stdout
    return f" {vip}/" in out


def garp(iface, ip):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        s.bind((iface, 0))
        mac = s.getsockname()[4]
        ipb = socket.inet_aton(ip)
        pkt = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ipb + b"\x00" * 6 + ipb
        s.send(pkt)
    finally:
        s.close()


def main(argv):
    set_process_args(["/kube-vip"] + argv, "kube-vip")
    if not argv or argv[0] != "manager":
        sys.stderr.write(f'Error: unknown command "{argv[0] if argv else ""}" for "kube-vip"\n')
        sys.exit(1)
    env = os.environ
    vip = env.get("address") or env.get("vip_address")
    iface = env.get("vip_interface")
    port = env.get("port", "6443")
    cidr = env.get("vip_subnet") or env.get("vip_cidr") or "32"
    node = env.get("vip_nodename") or hostname()
    lease = env.get("vip_leasename", "plndr-cp-lock")
    ns = env.get("cp_namespace", "kube-system")
    dur = int(env.get("vip_leaseduration", "15"))
    renew_deadline = int(env.get("vip_renewdeadline", "10"))
    retry = int(env.get("vip_retryperiod", "2"))
    if not vip:
        klog("F", "no address is specified for kube-vip to expose services on", file="manager.go", line=1)
        sys.exit(1)
    if not iface:
        klog("F", "no interface is specified for kube-vip to bind to", file="manager.go", line=1)
        sys.exit(1)
    if env.get("cp_enable") != "true":
        klog("I", "control plane mode disabled; nothing to do", file="manager.go", line=1)
        while True:
            time.sleep(3600)
    kpath = env.get("k8s_config_file") or "/etc/kubernetes/admin.conf"
    hp = host_path(kpath)
    if hp is None or not os.path.isfile(hp):
        what = "is a directory" if hp and os.path.isdir(hp) else "no such file or directory"
        klog("F", 'unable to create kubernetes client: error loading config file "%s": read %s: %s', kpath, kpath, what,
             file="manager.go", line=1)
        sys.exit(1)
    try:
        t = kubeconfig_target(load_kubeconfig(hp))
    except StandinError as e:
        klog("F", "unable to create kubernetes client: %s", e, file="manager.go", line=1)
        sys.exit(1)
    # like the real kube-vip: talk to the local API server ("kubernetes" -> 127.0.0.1 via hostAliases)
    c = Client(f"https://127.0.0.1:{port}", t["ca"], t["cert"], t["key"], t["token"], t["insecure"], timeout=5)
    c.ctx.check_hostname = False
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{lease}"
    klog("I", 'Starting kube-vip.io [v0.8.9-standin]', file="main.go", line=1)
    klog("I", 'beginning services leadership, namespace [%s], lock name [%s], id [%s]', ns, lease, node,
         file="manager.go", line=1)

    def stop(*_):
        if has_addr(iface, vip):
            subprocess.run(["ip", "addr", "del", f"{vip}/{cidr}", "dev", iface], capture_output=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)

    leader = False
    last_ok = 0.0
    while True:
        now = now_utc()
        try:
            try:
                l = c.get(path)
            except APIError as e:
                if e.code != 404:
                    raise
                c.post(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": lease, "namespace": ns},
                    "spec": {"holderIdentity": node, "leaseDurationSeconds": dur, "acquireTime": rfc3339(now),
                             "renewTime": rfc3339(now), "leaseTransitions": 0}})
                last_ok = time.time()
                if not leader:
                    klog("I", 'successfully acquired lease %s/%s', ns, lease, file="leaderelection.go", line=258)
                leader = True
            else:
                spec = l.get("spec") or {}
                holder = spec.get("holderIdentity")
                renewed = parse_rfc3339(spec["renewTime"]) if spec.get("renewTime") else now
                expired = (now - renewed).total_seconds() > spec.get("leaseDurationSeconds", dur)
                if holder == node or expired or not holder:
                    if holder != node:
                        spec["leaseTransitions"] = spec.get("leaseTransitions", 0) + 1
                        spec["acquireTime"] = rfc3339(now)
                    spec.update(holderIdentity=node, renewTime=rfc3339(now), leaseDurationSeconds=dur)
                    l["spec"] = spec
                    try:
                        c.put(path, l)
                        last_ok = time.time()
                        if not leader:
                            klog("I", 'successfully acquired lease %s/%s', ns, lease, file="leaderelection.go", line=258)
                        leader = True
                    except APIError as e:
                        if e.code != 409:
                            raise
                        leader = False
                else:
                    if leader:
                        klog("I", 'new leader elected: %s', holder, file="manager.go", line=1)
                    leader = False
        except APIError as e:
            klog("E", 'error retrieving resource lock %s/%s: %s', ns, lease, e, file="leaderelection.go", line=332)
            if leader and time.time() - last_ok > renew_deadline:
                klog("I", "failed to renew lease %s/%s: timed out waiting for the condition", ns, lease,
                     file="leaderelection.go", line=293)
                leader = False
        except Exception as e:  # noqa: BLE001 - API server not up yet
            klog("E", 'error retrieving resource lock %s/%s: Get "https://kubernetes:%s%s": %s', ns, lease, port, path, e,
                 file="leaderelection.go", line=332)
            if leader and time.time() - last_ok > renew_deadline:
                leader = False
        present = has_addr(iface, vip)
        if leader and not present:
            r = subprocess.run(["ip", "addr", "add", f"{vip}/{cidr}", "dev", iface], capture_output=True, text=True)
            if r.returncode == 0:
                klog("I", "Gratuitous Arp broadcast will repeat every 3 seconds for [%s/%s]", vip, iface, file="arp.go", line=1)
            else:
                klog("E", "could not add VIP %s to %s: %s", vip, iface, r.stderr.strip(), file="manager.go", line=1)
        elif not leader and present:
            subprocess.run(["ip", "addr", "del", f"{vip}/{cidr}", "dev", iface], capture_output=True)
            klog("I", "Removed VIP %s from %s", vip, iface, file="manager.go", line=1)
        if leader:
            try:
                garp(iface, vip)
            except OSError as e:
                klog("E", "gratuitous ARP for %s on %s failed: %s", vip, iface, e, file="arp.go", line=1)
        time.sleep(retry)


if __name__ == "__main__":
    main(sys.argv[1:])
