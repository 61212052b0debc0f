#!/usr/bin/python3
"""crictl stand-in: checks the real containerd socket, reports the kubelet stand-in's
static pods (transient systemd units k8s-pod-*) as containers."""

import glob
import hashlib
import json
import os
import re
import socket
import subprocess
import sys

from cli import Flag, UsageError, parse_flags
from k8scommon import yaml_load

GLOBAL = [Flag("runtime-endpoint", "str", "", "r"), Flag("image-endpoint", "str", "", "i"),
          Flag("timeout", "str", "2s", "t"), Flag("debug", "bool", False, "D"), Flag("config", "str", "/etc/crictl.yaml", "c"),
          Flag("help", "bool", False, "h")]


def endpoint(vals):
    ep = vals.get("runtime-endpoint") or os.environ.get("CONTAINER_RUNTIME_ENDPOINT")
    if not ep and os.path.exists(vals.get("config") or "/etc/crictl.yaml"):
        try:
            cfg = yaml_load(open(vals["config"]).read()) or {}
            ep = cfg.get("runtime-endpoint")
        except Exception:  # noqa: BLE001
            pass
    return ep or "unix:///run/containerd/containerd.sock"


def connect(ep):
    path = ep.replace("unix://", "")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2)
        s.connect(path)
    except OSError as e:
        why = "no such file or directory" if isinstance(e, FileNotFoundError) else "connection refused"
        sys.stderr.write(f'level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint '
                         f'\\"{ep}\\": rpc error: code = Unavailable desc = connection error: desc = \\"transport: '
                         f'Error while dialing: dial unix {path}: connect: {why}\\""\n')
        sys.exit(1)
    finally:
        s.close()


def containerd_version():
    try:
        out = subprocess.run(["containerd", "--version"], capture_output=True, text=True).stdout
        m = re.search(r"\b(v?\d+\.\d+\.\d+)", out)
        return m.group(1).lstrip("v") if m else "unknown"
    except FileNotFoundError:
        return "unknown"


def units():
    r = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "k8s-pod-*"],
                       capture_output=True, text=True)
    res = []
    for line in r.stdout.splitlines():
        f = line.split()
        if not f:
            continue
        name = f[0].removesuffix(".service")
        res.append((name[len("k8s-pod-"):], f[2], f[3]))
    return res


def main(argv):
    sub = None
    for i, a in enumerate(argv):
        if not a.startswith("-"):
            sub, pre, rest = a, argv[:i], argv[i + 1:]
            break
    else:
        pre, rest = argv, []
    vals, _, _ = parse_flags(pre, GLOBAL)
    ep = endpoint(vals)
    if sub is None:
        print("NAME:\n   crictl - client for CRI\n\nUSAGE:\n   crictl [global options] command [command options]")
        return 0
    if sub == "version":
        parse_flags(rest, [])
        connect(ep)
        print(f"Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  {containerd_version()}\nRuntimeApiVersion:  v1")
        return 0
    if sub == "info":
        v, _, _ = parse_flags(rest, [Flag("output", "str", "json", "o"), Flag("quiet", "bool", False, "q")])
        connect(ep)
        net = bool(glob.glob("/etc/cni/net.d/*.conf*"))
        info = {"status": {"conditions": [
            {"type": "RuntimeReady", "status": True, "reason": "", "message": ""},
            {"type": "NetworkReady", "status": net, "reason": "" if net else "NetworkPluginNotReady",
             "message": "" if net else "Network plugin returns error: cni plugin not initialized"}]},
            "cniconfig": {"PluginDirs": ["/opt/cni/bin"], "PluginConfDir": "/etc/cni/net.d"}}
        print(json.dumps(info, indent=2))
        return 0
    if sub in ("ps", "pods"):
        v, _, _ = parse_flags(rest, [Flag("all", "bool", False, "a"), Flag("quiet", "bool", False, "q"),
                                      Flag("name", "str", ""), Flag("state", "str", "", "s"),
                                      Flag("output", "str", "table", "o"), Flag("latest", "bool", False, "l"),
                                      Flag("label", "strarr", [])])
        connect(ep)
        rows = []
        for name, active, sub_state in units():
            running = active == "active"
            if not v["all"] and not running:
                continue
            if v["name"] and not re.search(v["name"], name):
                continue
            cid = hashlib.sha256(name.encode()).hexdigest()
            rows.append((cid, name, "Running" if running else "Exited"))
        if v["quiet"]:
            for r in rows:
                print(r[0][:13])
            return 0
        if sub == "ps":
            print(f"{'CONTAINER':<16}{'IMAGE':<16}{'CREATED':<16}{'STATE':<10}{'NAME':<24}{'ATTEMPT':<8}{'POD ID':<16}POD")
            for cid, name, state in rows:
                print(f"{cid[:13]:<16}{cid[13:26]:<16}{'-':<16}{state:<10}{name:<24}{0:<8}{cid[26:39]:<16}{name}")
        else:
            print(f"{'POD ID':<16}{'CREATED':<16}{'STATE':<10}{'NAME':<32}{'NAMESPACE':<16}{'ATTEMPT':<8}RUNTIME")
            for cid, name, state in rows:
                print(f"{cid[26:39]:<16}{'-':<16}{'Ready' if state == 'Running' else 'NotReady':<10}{name:<32}{'kube-system':<16}{0:<8}(default)")
        return 0
    if sub in ("exec", "logs", "stop", "rm", "inspect"):
        spec = {"exec": [Flag("interactive", "bool", False, "i"), Flag("tty", "bool", False, "t"),
                         Flag("sync", "bool", False, "s"), Flag("timeout", "int", 0)],
                "logs": [Flag("tail", "int", -1), Flag("follow", "bool", False, "f"), Flag("timestamps", "bool", False, "t"),
                         Flag("since", "str", "")],
                "stop": [Flag("timeout", "int", 0, "t")], "rm": [Flag("force", "bool", False, "f"), Flag("all", "bool", False, "a")],
                "inspect": [Flag("output", "str", "json", "o")]}[sub]
        v, _, pos = parse_flags(rest, spec, interspersed=False)
        connect(ep)
        if not pos:
            sys.stderr.write('level=fatal msg="ID cannot be empty"\n')
            return 1
        by_id = {hashlib.sha256(n.encode()).hexdigest(): (n, a) for n, a, _ in units()}

        def find(cid):
            hits = [x for k, x in by_id.items() if k.startswith(cid)]
            if len(hits) != 1:
                sys.stderr.write(f'level=fatal msg="rpc error: code = NotFound desc = an error occurred when try to find container \\"{cid}\\": not found"\n')
                sys.exit(1)
            return hits[0]
        if sub == "exec":
            name, active = find(pos[0])
            if active != "active":
                sys.stderr.write('level=fatal msg="execing command in container: rpc error: code = Unknown desc = container is in CONTAINER_EXITED state"\n')
                return 1
            # static pods of the kubelet stand-in run on the host, so the command runs here
            try:
                return subprocess.run(pos[1:]).returncode
            except FileNotFoundError:
                sys.stderr.write(f'level=fatal msg="execing command in container: OCI runtime exec failed: exec failed: unable to start container process: exec: \\"{pos[1]}\\": executable file not found in $PATH: unknown"\n')
                return 126
        if sub == "logs":
            name, _ = find(pos[0])
            cmd = ["journalctl", "-u", f"k8s-pod-{name}", "-o", "cat", "--no-pager"]
            if v["tail"] >= 0:
                cmd += ["-n", str(v["tail"])]
            if v["follow"]:
                cmd.append("-f")
            return subprocess.run(cmd).returncode
        if sub == "inspect":
            name, active = find(pos[0])
            print(json.dumps({"status": {"id": pos[0], "metadata": {"name": name}, "state": "CONTAINER_RUNNING" if active == "active" else "CONTAINER_EXITED"}}, indent=2))
            return 0
        for cid in pos:
            name, _ = find(cid)
            subprocess.run(["systemctl", "stop", f"k8s-pod-{name}"])
            print(cid)
        return 0
    if sub == "images":
        connect(ep)
        print(f"{'IMAGE':<40}{'TAG':<16}{'IMAGE ID':<16}SIZE")
        return 0
    sys.stderr.write(f'level=fatal msg="No help topic for \'{sub}\'"\n')
    return 3


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as e:
        sys.stderr.write(f'level=fatal msg="{e}"\n')
        sys.exit(1)
