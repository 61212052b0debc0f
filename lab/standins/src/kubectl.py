#!/usr/bin/python3
"""kubectl stand-in: the subset otp-provision and the lab tests use, with kubectl's
flags, output formats, messages and exit codes; everything else is an error."""

import base64
import copy
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse

from cli import Flag, UsageError, parse_flags
from k8scommon import (APIError, Client, K8S_VERSION, StandinError, human_age, kubeconfig_target, load_kubeconfig,
                       parse_go_duration, parse_rfc3339, yaml_docs, yaml_dump, yaml_dump_ordered)

GLOBAL = [Flag("kubeconfig"), Flag("namespace", "str", "", "n"), Flag("context"), Flag("server", "str", "", "s"),
          Flag("request-timeout", "str", "0"), Flag("v", "int", 0, "v"), Flag("insecure-skip-tls-verify", "bool", False),
          Flag("help", "bool", False, "h")]

from k8s_resources import BUILTIN  # noqa: E402


class KubectlError(Exception):
    pass


class Ctx:
    def __init__(self, gvals):
        self.g = gvals
        path = gvals.get("kubeconfig") or os.environ.get("KUBECONFIG", "").split(":")[0] or os.path.expanduser("~/.kube/config")
        self.kubeconfig_path = path
        self._client = None
        self.namespace_flag = gvals.get("namespace")

    @property
    def client(self):
        if self._client is None:
            if not os.path.exists(self.kubeconfig_path):
                if self.g.get("kubeconfig"):
                    raise KubectlError(f"error: stat {self.kubeconfig_path}: no such file or directory")
                raise KubectlError("The connection to the server localhost:8080 was refused - did you specify the right host or port?")
            cfg = load_kubeconfig(self.kubeconfig_path)
            if self.g.get("context"):
                if self.g["context"] not in [c["name"] for c in cfg.get("contexts") or []]:
                    raise KubectlError(f'error: context "{self.g["context"]}" does not exist')
                cfg["current-context"] = self.g["context"]
            t = kubeconfig_target(cfg, os.path.dirname(self.kubeconfig_path))
            server = self.g.get("server") or t["server"]
            rt = self.g.get("request-timeout") or "0"
            timeout = 30 if rt in ("0", "") else parse_go_duration(rt if not rt.isdigit() else rt + "s")
            self._client = Client(server, t["ca"], t["cert"], t["key"], t["token"],
                                  t["insecure"] or self.g.get("insecure-skip-tls-verify"), timeout)
            self.default_ns = next((c["context"].get("namespace") for c in cfg.get("contexts") or []
                                    if c["name"] == cfg.get("current-context")), None) or "default"
        return self._client

    @property
    def namespace(self):
        _ = self.client
        return self.namespace_flag or self.default_ns

    def call(self, method, path, body=None, ctype="application/json"):
        c = self.client
        try:
            return c.request(method, path, body, ctype)
        except APIError:
            raise
        except (urllib.error.URLError, OSError) as e:
            host = c.server.split("://", 1)[-1]
            reason = getattr(e, "reason", e)
            if isinstance(reason, ConnectionRefusedError):
                raise KubectlError(f"The connection to the server {host} was refused - did you specify the right host or port?")
            raise KubectlError(f'Unable to connect to the server: dial tcp {host}: {getattr(reason, "strerror", None) or reason}')


# ---------------------------------------------------------------- resource mapping

class Mapper:
    def __init__(self, ctx):
        self.ctx = ctx
        self._crds = None

    def crds(self):
        if self._crds is None:
            try:
                self._crds = self.ctx.call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions").get("items") or []
            except APIError:
                self._crds = []
        return self._crds

    def by_name(self, name):
        n = name.lower()
        grp = None
        if "." in n:
            n, grp = n.split(".", 1)
        for g, v, r, k, nsd, aliases in BUILTIN:
            if (n == r or n in aliases or n == k.lower()) and (grp is None or grp == g or grp.startswith(g) and g):
                return g, v, r, k, nsd
        for c in self.crds():
            s = c.get("spec") or {}
            names = s.get("names") or {}
            cands = {names.get("plural"), names.get("singular"), (names.get("kind") or "").lower()} | set(names.get("shortNames") or [])
            if n in cands and (grp is None or grp == s.get("group")):
                ver = next((x["name"] for x in s.get("versions") or [] if x.get("storage")), (s.get("versions") or [{}])[0].get("name"))
                return s["group"], ver, names["plural"], names["kind"], s.get("scope") == "Namespaced"
        raise KubectlError(f'error: the server doesn\'t have a resource type "{name}"')

    def by_kind(self, api_version, kind, src):
        g, _, v = api_version.rpartition("/") if "/" in api_version else ("", "", api_version)
        for bg, bv, r, k, nsd, _ in BUILTIN:
            if k == kind and bg == g and bv == v:
                return g, v, r, k, nsd
        for c in self.crds():
            s = c.get("spec") or {}
            if s.get("group") == g and (s.get("names") or {}).get("kind") == kind and \
                    any(x.get("name") == v and x.get("served", True) for x in s.get("versions") or []):
                return g, v, s["names"]["plural"], kind, s.get("scope") == "Namespaced"
        raise KubectlError(f'resource mapping not found for name: "{src[0]}" namespace: "{src[1]}" from "{src[2]}": '
                           f'no matches for kind "{kind}" in version "{api_version}"\nensure CRDs are installed first')


def base_path(g, v, r, ns, nsd):
    root = f"/api/{v}" if not g else f"/apis/{g}/{v}"
    if nsd and ns:
        return f"{root}/namespaces/{ns}/{r}"
    return f"{root}/{r}"


def short_kind(g, r):
    return f"{singular(r)}.{g}" if g else singular(r)


def singular(r):
    if r.endswith("ies"):
        return r[:-3] + "y"
    if r.endswith("sses") or r.endswith("xes"):
        return r[:-2]
    if r == "endpoints":
        return r
    return r[:-1] if r.endswith("s") else r


def api_error(e):
    st = e.status
    reason = st.get("reason") or {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict"}.get(e.code, "")
    msg = st.get("message", str(e))
    if e.code == 401:
        return "error: You must be logged in to the server (Unauthorized)"
    return f"Error from server ({reason}): {msg}" if reason else f"Error from server: {msg}"


# ---------------------------------------------------------------- jsonpath (kubectl's template subset)

def jp_eval(expr, data):
    """Evaluate a jsonpath expression like .items[*].metadata.name -> list of values."""
    expr = expr.strip()
    if expr.startswith("$"):
        expr = expr[1:]
    cur = [data]
    toks = []
    pos = 0
    while pos < len(expr):
        if expr[pos] == ".":
            j = pos + 1
            key = []
            while j < len(expr) and expr[j] not in ".[":
                if expr[j] == "\\" and j + 1 < len(expr):
                    key.append(expr[j + 1])
                    j += 2
                    continue
                key.append(expr[j])
                j += 1
            toks.append(("key", "".join(key)))
            pos = j
        elif expr[pos] == "[":
            depth, j = 0, pos
            while j < len(expr):
                if expr[j] == "[":
                    depth += 1
                elif expr[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            toks.append(("idx", expr[pos + 1:j]))
            pos = j + 1
        else:
            raise KubectlError(f"error: error parsing jsonpath {expr}, unrecognized character in action: U+{ord(expr[pos]):04X} '{expr[pos]}'")
    for kind, t in toks:
        nxt = []
        for c in cur:
            if kind == "key":
                if t == "":
                    nxt.append(c)
                elif t == "*":
                    nxt.extend(c.values() if isinstance(c, dict) else c if isinstance(c, list) else [])
                elif isinstance(c, dict) and t in c:
                    nxt.append(c[t])
            else:
                if t == "*":
                    nxt.extend(c if isinstance(c, list) else c.values() if isinstance(c, dict) else [])
                elif t.startswith("?(") and t.endswith(")"):
                    m = re.match(r"\?\(@\.([\w.\-\\]+)\s*(==|!=)\s*[\"']?(.*?)[\"']?\)$", t)
                    if not m or not isinstance(c, list):
                        continue
                    path, op, val = m.group(1).replace("\\.", "\x00"), m.group(2), m.group(3)
                    for item in c:
                        v = jp_eval("." + path.replace("\x00", "\\."), item)
                        ok = bool(v) and str(v[0]) == val
                        if (op == "==" and ok) or (op == "!=" and not ok):
                            nxt.append(item)
                elif re.match(r"^-?\d+$", t) and isinstance(c, list):
                    k = int(t)
                    if -len(c) <= k < len(c):
                        nxt.append(c[k])
                elif ":" in t and isinstance(c, list):
                    a, b = t.split(":", 1)
                    nxt.extend(c[int(a) if a else None:int(b) if b else None])
                elif isinstance(c, dict) and t.strip("'\"") in c:
                    nxt.append(c[t.strip("'\"")])
        cur = nxt
    return cur


def jp_str(v):
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def jsonpath(template, data):
    # split into literal text and {actions}
    parts = re.findall(r"\{[^{}]*\}|[^{}]+", template)
    out = []

    def render(parts, scope):
        i = 0
        while i < len(parts):
            p = parts[i]
            if p.startswith("{") and p.endswith("}"):
                inner = p[1:-1].strip()
                if inner.startswith("range "):
                    depth, j = 1, i + 1
                    while j < len(parts):
                        q = parts[j][1:-1].strip() if parts[j].startswith("{") else None
                        if q and q.startswith("range "):
                            depth += 1
                        elif q == "end":
                            depth -= 1
                            if depth == 0:
                                break
                        j += 1
                    for item in jp_eval(inner[6:].strip(), scope):
                        render(parts[i + 1:j], item)
                    i = j + 1
                    continue
                if inner.startswith('"') and inner.endswith('"'):
                    out.append(json.loads(inner, strict=False))
                elif inner == "end":
                    pass
                else:
                    vals = jp_eval(inner if inner.startswith((".", "$", "[")) else "." + inner, scope)
                    out.append(" ".join(jp_str(v) for v in vals))
            else:
                out.append(p)
            i += 1
    render(parts, data)
    return "".join(out)


# ---------------------------------------------------------------- printing

def tabulate(rows):
    if not rows:
        return ""
    w = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        lines.append("".join(str(c).ljust(w[i] + 3) if i < len(r) - 1 else str(c) for i, c in enumerate(r)).rstrip())
    return "\n".join(lines)


def node_row(n, wide):
    st = n.get("status") or {}
    ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
    status = "Ready" if ready and ready.get("status") == "True" else ("NotReady" if ready else "Unknown")
    if (n.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (n["metadata"].get("labels") or {}) if k.startswith("node-role.kubernetes.io/"))
    info = st.get("nodeInfo") or {}
    row = [n["metadata"]["name"], status, ",".join(roles) or "<none>", age(n), info.get("kubeletVersion", "")]
    if wide:
        addrs = {a["type"]: a["address"] for a in st.get("addresses") or []}
        row += [addrs.get("InternalIP", "<none>"), addrs.get("ExternalIP", "<none>"), info.get("osImage", ""),
                info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]
    return row


def age(o):
    ts = (o.get("metadata") or {}).get("creationTimestamp")
    return human_age(parse_rfc3339(ts)) if ts else "<unknown>"


def table(r, items, wide, all_ns, show_labels=False, no_headers=False):
    if r == "nodes":
        hdr = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] + (["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"] if wide else [])
        rows = [node_row(n, wide) for n in items]
    elif r == "pods":
        hdr = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] + (["IP", "NODE", "NOMINATED NODE", "READINESS GATES"] if wide else [])
        rows = []
        for p in items:
            cs = (p.get("status") or {}).get("containerStatuses") or []
            total = len((p.get("spec") or {}).get("containers") or [])
            readyn = sum(1 for c in cs if c.get("ready"))
            phase = (p.get("status") or {}).get("phase", "Pending")
            for c in cs:
                w = (c.get("state") or {}).get("waiting")
                if w:
                    phase = w.get("reason", phase)
            row = [p["metadata"]["name"], f"{readyn}/{total}", phase, str(sum(c.get("restartCount", 0) for c in cs)), age(p)]
            if wide:
                row += [(p.get("status") or {}).get("podIP", "<none>"), (p.get("spec") or {}).get("nodeName", "<none>"), "<none>", "<none>"]
            rows.append(row)
    elif r == "namespaces":
        hdr = ["NAME", "STATUS", "AGE"]
        rows = [[o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"), age(o)] for o in items]
    elif r == "secrets":
        hdr = ["NAME", "TYPE", "DATA", "AGE"]
        rows = [[o["metadata"]["name"], o.get("type", "Opaque"), str(len(o.get("data") or {})), age(o)] for o in items]
    elif r == "configmaps":
        hdr = ["NAME", "DATA", "AGE"]
        rows = [[o["metadata"]["name"], str(len(o.get("data") or {})), age(o)] for o in items]
    elif r == "deployments":
        hdr = ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        rows = [[o["metadata"]["name"], f"{(o.get('status') or {}).get('readyReplicas', 0)}/{(o.get('spec') or {}).get('replicas', 1)}",
                 str((o.get("status") or {}).get("updatedReplicas", 0)), str((o.get("status") or {}).get("availableReplicas", 0)), age(o)] for o in items]
    elif r == "daemonsets":
        hdr = ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"]
        rows = [[o["metadata"]["name"]] + [str((o.get("status") or {}).get(k, 0)) for k in
                ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled", "numberAvailable")]
                + [",".join(f"{k}={v}" for k, v in (((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}).items()) or "<none>", age(o)]
                for o in items]
    elif r == "certificatesigningrequests":
        hdr = ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
        rows = []
        for o in items:
            conds = [c.get("type") for c in (o.get("status") or {}).get("conditions") or []]
            cond = ",".join(conds) or "Pending"
            if "Approved" in conds and (o.get("status") or {}).get("certificate"):
                cond += ",Issued"
            rows.append([o["metadata"]["name"], age(o), (o.get("spec") or {}).get("signerName", ""),
                         (o.get("spec") or {}).get("username", ""), "<none>", cond])
    elif r == "services":
        hdr = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        rows = [[o["metadata"]["name"], (o.get("spec") or {}).get("type", "ClusterIP"), (o.get("spec") or {}).get("clusterIP", "<none>"), "<none>",
                 ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in (o.get("spec") or {}).get("ports") or []) or "<none>", age(o)] for o in items]
    else:
        hdr = ["NAME", "AGE"]
        rows = [[o["metadata"]["name"], age(o)] for o in items]
    if all_ns and r not in ("nodes", "namespaces"):
        hdr = ["NAMESPACE"] + hdr
        rows = [[items[i]["metadata"].get("namespace", "")] + row for i, row in enumerate(rows)]
    if show_labels:
        hdr = hdr + ["LABELS"]
        rows = [row + [",".join(f"{k}={v}" for k, v in sorted((items[i]["metadata"].get("labels") or {}).items())) or "<none>"]
                for i, row in enumerate(rows)]
    return tabulate(([] if no_headers else [hdr]) + rows)


def print_objects(objs, fmt, g, r, single, all_ns=False, show_labels=False, no_headers=False):
    if fmt in ("", "wide"):
        if not objs:
            return False
        print(table(r, objs, fmt == "wide", all_ns, show_labels, no_headers))
        return True
    if fmt == "name":
        for o in objs:
            print(f"{short_kind(g, r)}/{o['metadata']['name']}")
        return True
    data = objs[0] if single else {"apiVersion": "v1", "items": objs, "kind": "List", "metadata": {"resourceVersion": ""}}
    if fmt == "json":
        print(json.dumps(data, indent=4))
    elif fmt == "yaml":
        sys.stdout.write(yaml_dump(data))
    elif fmt.startswith("jsonpath=") or fmt.startswith("jsonpath-as-json="):
        tpl = fmt.split("=", 1)[1]
        sys.stdout.write(jsonpath(tpl, data))
    elif fmt.startswith("custom-columns="):
        cols = [c.split(":", 1) for c in fmt.split("=", 1)[1].split(",")]
        rows = [[c[0] for c in cols]]
        for o in objs:
            rows.append([" ".join(jp_str(v) for v in jp_eval(c[1] if c[1].startswith(".") else "." + c[1], o)) or "<none>" for c in cols])
        print(tabulate(rows))
    else:
        raise KubectlError(f'error: unable to match a printer suitable for the output format "{fmt}", allowed formats are: '
                           "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,"
                           "jsonpath-file,name,template,templatefile,wide,yaml")
    return True


# ---------------------------------------------------------------- commands

def split_targets(args):
    """kubectl get TYPE NAME... | TYPE/NAME... -> [(type, [names])]"""
    if not args:
        return []
    if "/" in args[0]:
        res = []
        for a in args:
            if "/" not in a:
                raise KubectlError("error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'")
            t, n = a.split("/", 1)
            res.append((t, [n]))
        return res
    return [(t, args[1:]) for t in args[0].split(",")]


def cmd_get(ctx, argv):
    v, ch, pos = parse_flags(argv, GLOBAL + [
        Flag("output", "str", "", "o"), Flag("all-namespaces", "bool", False, "A"), Flag("selector", "str", "", "l"),
        Flag("field-selector", "str", ""), Flag("raw", "str", ""), Flag("show-labels", "bool", False),
        Flag("no-headers", "bool", False), Flag("ignore-not-found", "bool", False), Flag("watch", "bool", False, "w"),
        Flag("chunk-size", "int", 500), Flag("sort-by", "str", ""), Flag("show-managed-fields", "bool", False),
        Flag("label-columns", "strs", [], "L"), Flag("filename", "strarr", [], "f")])
    merge_globals(ctx, v, ch)
    if v["raw"]:
        try:
            body = ctx.client.request("GET", v["raw"], raw=True)
        except APIError as e:
            raise KubectlError(api_error(e))
        except (urllib.error.URLError, OSError):
            host = ctx.client.server.split("://", 1)[-1]
            raise KubectlError(f"The connection to the server {host} was refused - did you specify the right host or port?")
        sys.stdout.write(body.decode())
        if not body.endswith(b"\n"):
            sys.stdout.write("\n")
        return 0
    if not pos:
        raise KubectlError("You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete list of supported resources.\n\n"
                           "error: Required resource not specified.\nUse \"kubectl explain <resource>\" for a detailed description of that resource (e.g. kubectl explain pods).\n"
                           "See 'kubectl get -h' for help and examples")
    mapper = Mapper(ctx)
    rc = 0
    printed = False
    fmt = v["output"]
    all_objs = []
    for t, names in split_targets(pos):
        g, ver, r, k, nsd = mapper.by_name(t)
        ns = None if (v["all-namespaces"] and not names) else (ctx.namespace if nsd else None)
        bp = base_path(g, ver, r, ns, nsd)
        if names:
            objs = []
            for n in names:
                try:
                    objs.append(ctx.call("GET", f"{bp}/{n}"))
                except APIError as e:
                    if e.code == 404 and v["ignore-not-found"]:
                        continue
                    sys.stderr.write(api_error(e) + "\n")
                    rc = 1
            single = len(names) == 1 and len(pos) <= 2 and len(split_targets(pos)) == 1
        else:
            q = {}
            if v["selector"]:
                q["labelSelector"] = v["selector"]
            if v["field-selector"]:
                q["fieldSelector"] = v["field-selector"]
            try:
                lst = ctx.call("GET", bp + ("?" + urllib.parse.urlencode(q) if q else ""))
            except APIError as e:
                raise KubectlError(api_error(e))
            objs = lst.get("items") or []
            for o in objs:
                o.setdefault("apiVersion", f"{g}/{ver}" if g else ver)
                o.setdefault("kind", k)
            single = False
        if not v["show-managed-fields"]:
            for o in objs:
                o.get("metadata", {}).pop("managedFields", None)
        if fmt in ("", "wide", "name"):
            if objs:
                if printed and fmt != "name":
                    print()
                print_objects(objs, fmt, g, r, False, v["all-namespaces"], v["show-labels"], v["no-headers"])
                printed = True
            elif not names and fmt != "name":
                if nsd and not v["all-namespaces"]:
                    sys.stderr.write(f"No resources found in {ctx.namespace} namespace.\n")
                else:
                    sys.stderr.write("No resources found\n")
        else:
            all_objs.append((objs, g, r, single))
    if all_objs:
        if len(all_objs) == 1:
            objs, g, r, single = all_objs[0]
            if single and not objs:
                return rc
            print_objects(objs, fmt, g, r, single)
        else:
            objs = [o for x in all_objs for o in x[0]]
            print_objects(objs, fmt, "", "", False)
    return rc


def merge_globals(ctx, v, ch):
    for k in ("kubeconfig", "namespace", "context", "server", "request-timeout"):
        if k in ch:
            ctx.g[k] = v[k]
            if k == "namespace":
                ctx.namespace_flag = v[k]
            if k == "kubeconfig":
                ctx.kubeconfig_path = v[k]
                ctx._client = None


def read_manifests(files, recursive=False):
    docs = []
    for f in files:
        if f == "-":
            text, src = sys.stdin.read(), "STDIN"
            paths = [(text, src)]
        elif os.path.isdir(f):
            paths = []
            for root, _, fs in os.walk(f):
                for x in sorted(fs):
                    if x.endswith((".yaml", ".yml", ".json")):
                        paths.append((open(os.path.join(root, x)).read(), os.path.join(root, x)))
                if not recursive:
                    break
        else:
            try:
                paths = [(open(f).read(), f)]
            except FileNotFoundError:
                raise KubectlError(f'error: the path "{f}" does not exist')
        for text, src in paths:
            try:
                for d in yaml_docs(text):
                    if isinstance(d, dict) and d.get("kind", "").endswith("List") and "items" in d:
                        docs.extend((i, src) for i in d["items"])
                    else:
                        docs.append((d, src))
            except StandinError as e:
                raise KubectlError(f'error: error parsing {src}: {e}')
    for d, src in docs:
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
            missing = "apiVersion" if isinstance(d, dict) and not d.get("apiVersion") else "kind"
            raise KubectlError(f"error: error validating \"{src}\": error validating data: {missing} not set; if you choose "
                               "to ignore these errors, turn validation off with --validate=false")
    return docs


def cmd_apply(ctx, argv):
    v, ch, pos = parse_flags(argv, GLOBAL + [
        Flag("filename", "strarr", [], "f"), Flag("server-side", "bool", False), Flag("field-manager", "str", ""),
        Flag("force-conflicts", "bool", False), Flag("dry-run", "str", "none"), Flag("output", "str", "", "o"),
        Flag("recursive", "bool", False, "R"), Flag("validate", "str", "strict"), Flag("prune", "bool", False),
        Flag("selector", "str", "", "l"), Flag("wait", "bool", False), Flag("overwrite", "bool", True),
        Flag("prune-allowlist", "strarr", []), Flag("all", "bool", False)])
    merge_globals(ctx, v, ch)
    if pos:
        raise KubectlError(f"error: Unexpected args: {pos}\nSee 'kubectl apply -h' for help and examples")
    if not v["filename"]:
        raise KubectlError("error: must specify one of -f and -k\n")
    if v["force-conflicts"] and not v["server-side"]:
        raise KubectlError("error: --force-conflicts only works with --server-side")
    if v["prune"] and not (v["selector"] or v["all"]):
        raise KubectlError("error: all resources selected for prune without explicitly passing --all. To prune all resources, pass the --all flag. If you did not mean to prune all resources, specify a label selector")
    manager = v["field-manager"] or ("kubectl" if v["server-side"] else "kubectl-client-side-apply")
    mapper = Mapper(ctx)
    docs = read_manifests(v["filename"], v["recursive"])
    rc = 0
    applied = set()
    for d, src in docs:
        md = d.get("metadata") or {}
        name = md.get("name")
        if not name:
            raise KubectlError(f'error: error when retrieving current configuration of:\nResource: "{d["kind"]}", Name: "", '
                               f'Namespace: "{ctx.namespace}"\nfrom server for: "{src}": resource name may not be empty')
        g, ver, r, k, nsd = mapper.by_kind(d["apiVersion"], d["kind"], (name, md.get("namespace", ""), src))
        if d["kind"] == "CustomResourceDefinition":
            mapper._crds = None
        ns = (md.get("namespace") or ctx.namespace) if nsd else None
        if nsd and v["namespace"] and md.get("namespace") and md["namespace"] != v["namespace"]:
            raise KubectlError(f'error: the namespace from the provided object "{md["namespace"]}" does not match the namespace '
                               f'"{v["namespace"]}". You must pass \'--namespace={md["namespace"]}\' to perform this operation.')
        if nsd:
            d.setdefault("metadata", {})["namespace"] = ns
        path = f"{base_path(g, ver, r, ns, nsd)}/{name}"
        q = {"fieldManager": manager}
        if v["server-side"]:
            if v["force-conflicts"]:
                q["force"] = "true"
        else:
            q["force"] = "true"
        if v["dry-run"] == "server":
            q["dryRun"] = "All"
        try:
            before = None
            if not v["server-side"]:
                try:
                    before = ctx.call("GET", path)
                except APIError as e:
                    if e.code != 404:
                        raise
            if v["dry-run"] == "client":
                res = d
            else:
                res = ctx.call("PATCH", path + "?" + urllib.parse.urlencode(q), json.dumps(d).encode(),
                               "application/apply-patch+yaml")
            applied.add((g, r, ns, name))
            label = f"{short_kind(g, r)}/{name}"
            suffix = " (dry run)" if v["dry-run"] == "client" else " (server dry run)" if v["dry-run"] == "server" else ""
            if v["output"] == "name":
                print(label)
            elif v["server-side"]:
                print(f"{label} serverside-applied{suffix}")
            elif before is None:
                print(f"{label} created{suffix}")
            elif before.get("metadata", {}).get("resourceVersion") == (res or {}).get("metadata", {}).get("resourceVersion"):
                print(f"{label} unchanged{suffix}")
            else:
                print(f"{label} configured{suffix}")
        except APIError as e:
            rc = 1
            if e.code == 409 and "Apply failed" in e.status.get("message", ""):
                sys.stderr.write(f"error: {e.status['message']}\nPlease review the fields above--they currently have other managers. Here\n"
                                 "are the ways you can resolve this warning:\n* If you intend to manage all of these fields, please re-run the apply\n"
                                 "  command with the `--force-conflicts` flag.\n* If you do not intend to manage all of the fields, please edit your\n"
                                 "  manifest to remove references to the fields that should keep their\n  current managers.\n"
                                 "* You may co-own fields by updating your manifest to match the existing\n  value; in this case, you'll become the manager if the value\n"
                                 "  is already set to the manager's value.\n")
            else:
                sys.stderr.write(f"{api_error(e)}\n" if e.code != 404 else f"Error from server (NotFound): error when creating \"{src}\": {e.status.get('message')}\n")
    if v["prune"] and rc == 0 and v["dry-run"] == "none":
        prune(ctx, mapper, v, applied)
    return rc


# kubectl's default prune allowlist (used when --prune-allowlist is not given)
DEFAULT_PRUNE = [("", "configmaps"), ("", "endpoints"), ("", "namespaces"), ("", "persistentvolumeclaims"),
                 ("", "persistentvolumes"), ("", "pods"), ("", "replicationcontrollers"), ("", "secrets"),
                 ("", "services"), ("batch", "jobs"), ("batch", "cronjobs"), ("networking.k8s.io", "ingresses"),
                 ("apps", "daemonsets"), ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets")]


def prune(ctx, mapper, v, applied):
    kinds = set() if v["prune-allowlist"] else set(k for k in DEFAULT_PRUNE if k[1] != "replicationcontrollers")
    for item in v["prune-allowlist"]:
        gv_, _, kind = item.rpartition("/")
        kinds.add((mapper.by_kind(gv_ if gv_ != "core/v1" else "v1", kind, ("", "", ""))[0],
                   mapper.by_kind(gv_ if gv_ != "core/v1" else "v1", kind, ("", "", ""))[2]))
    nss = {ns for _, _, ns, _ in applied if ns}
    for g, r in kinds:
        gg, ver, rr, k, nsd = mapper.by_name(f"{r}.{g}" if g else r)
        scopes = nss if nsd else {None}
        if r == "namespaces":
            continue  # never prune namespaces holding what was just applied
        for ns in scopes:
            q = urllib.parse.urlencode({"labelSelector": v["selector"]}) if v["selector"] else ""
            lst = ctx.call("GET", base_path(g, ver, r, ns, nsd) + (f"?{q}" if q else ""))
            for o in lst.get("items") or []:
                key = (g, r, ns, o["metadata"]["name"])
                if key not in applied:
                    ctx.call("DELETE", f"{base_path(g, ver, r, ns, nsd)}/{o['metadata']['name']}")
                    print(f"{short_kind(g, r)}/{o['metadata']['name']} pruned")


def cmd_create(ctx, argv):
    i = find_subcommand(argv, {"-n", "--namespace", "--kubeconfig", "--context", "-s", "--server", "-o", "--output",
                               "--request-timeout", "-f", "--filename", "--from-file", "--from-literal", "--type"})
    if i is not None and argv[i] == "secret":
        return cmd_create_secret(ctx, argv[:i] + argv[i + 1:])
    v, ch, pos = parse_flags(argv, GLOBAL + [Flag("filename", "strarr", [], "f"), Flag("dry-run", "str", "none"),
                                              Flag("output", "str", "", "o"), Flag("save-config", "bool", False)])
    merge_globals(ctx, v, ch)
    if pos and pos[0] in ("namespace", "ns") and len(pos) == 2:
        docs = [({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": pos[1]}}, "namespace")]
    elif v["filename"]:
        docs = read_manifests(v["filename"])
    else:
        raise KubectlError("error: must specify one of -f and -k")
    mapper = Mapper(ctx)
    rc = 0
    for d, src in docs:
        md = d.setdefault("metadata", {})
        g, ver, r, k, nsd = mapper.by_kind(d["apiVersion"], d["kind"], (md.get("name", ""), md.get("namespace", ""), src))
        ns = (md.get("namespace") or ctx.namespace) if nsd else None
        try:
            ctx.call("POST", base_path(g, ver, r, ns, nsd), d)
            print(f"{short_kind(g, r)}/{md.get('name')} created")
        except APIError as e:
            sys.stderr.write(f"Error from server ({e.reason}): error when creating \"{src}\": {e.status.get('message')}\n")
            rc = 1
    return rc


def cmd_delete(ctx, argv):
    v, ch, pos = parse_flags(argv, GLOBAL + [
        Flag("filename", "strarr", [], "f"), Flag("selector", "str", "", "l"), Flag("all-namespaces", "bool", False, "A"),
        Flag("ignore-not-found", "bool", False), Flag("wait", "bool", True), Flag("force", "bool", False),
        Flag("grace-period", "int", -1), Flag("timeout", "str", "0s"), Flag("now", "bool", False),
        Flag("all", "bool", False), Flag("cascade", "str", "background"), Flag("output", "str", "", "o"),
        Flag("recursive", "bool", False, "R")])
    merge_globals(ctx, v, ch)
    cascade = v["cascade"]
    if cascade in ("true", "false"):
        sys.stderr.write(f"warning: --cascade={cascade} is deprecated (boolean value) and can be replaced with "
                         f"--cascade={'background' if cascade == 'true' else 'orphan'}.\n")
        cascade = "background" if cascade == "true" else "orphan"
    if cascade not in ("background", "foreground", "orphan"):
        raise KubectlError(f'error: invalid cascade value ({cascade}). Must be "background", "foreground", or "orphan".')
    policy = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}[cascade]
    mapper = Mapper(ctx)
    targets = []
    if v["filename"]:
        for d, src in read_manifests(v["filename"], v["recursive"]):
            md = d.get("metadata") or {}
            g, ver, r, k, nsd = mapper.by_kind(d["apiVersion"], d["kind"], (md.get("name", ""), md.get("namespace", ""), src))
            targets.append((g, ver, r, nsd, (md.get("namespace") or ctx.namespace) if nsd else None, md["name"]))
    else:
        if not pos:
            raise KubectlError("error: You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
        for t, names in split_targets(pos):
            g, ver, r, k, nsd = mapper.by_name(t)
            ns = ctx.namespace if nsd else None
            if names:
                targets += [(g, ver, r, nsd, ns, n) for n in names]
            elif v["selector"] or v["all"]:
                q = "?" + urllib.parse.urlencode({"labelSelector": v["selector"]}) if v["selector"] else ""
                scope_ns = None if v["all-namespaces"] else ns
                for o in ctx.call("GET", base_path(g, ver, r, scope_ns, nsd) + q).get("items") or []:
                    targets.append((g, ver, r, nsd, o["metadata"].get("namespace"), o["metadata"]["name"]))
                if not targets:
                    sys.stderr.write("No resources found\n")
            else:
                raise KubectlError("error: resource(s) were provided, but no name was specified")
    rc = 0
    for g, ver, r, nsd, ns, name in targets:
        try:
            ctx.call("DELETE", f"{base_path(g, ver, r, ns, nsd)}/{name}",
                     {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy})
            print(f"{short_kind(g, r)}/{name} deleted" if v["output"] == "name" else f'{short_kind(g, r)} "{name}" deleted')
        except APIError as e:
            if e.code == 404 and v["ignore-not-found"]:
                continue
            sys.stderr.write(api_error(e) + "\n")
            rc = 1
    return rc


def set_unschedulable(ctx, node, flag, quiet=False):
    try:
        n = ctx.call("GET", f"/api/v1/nodes/{node}")
    except APIError as e:
        raise KubectlError(api_error(e))
    if bool((n.get("spec") or {}).get("unschedulable")) == flag:
        if not quiet:
            print(f"node/{node} already {'cordoned' if flag else 'uncordoned'}")
        return
    patch = {"spec": {"unschedulable": True if flag else None}}
    taints = [t for t in (n.get("spec") or {}).get("taints") or [] if t.get("key") != "node.kubernetes.io/unschedulable"]
    if flag:
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                       "timeAdded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    patch["spec"]["taints"] = taints or None
    ctx.call("PATCH", f"/api/v1/nodes/{node}", patch, "application/strategic-merge-patch+json")
    print(f"node/{node} {'cordoned' if flag else 'uncordoned'}")


def cmd_cordon(ctx, argv, flag):
    v, ch, pos = parse_flags(argv, GLOBAL + [Flag("dry-run", "str", "none"), Flag("selector", "str", "", "l")])
    merge_globals(ctx, v, ch)
    if not pos:
        raise KubectlError(f"error: USAGE: {'cordon' if flag else 'uncordon'} NODE [flags]\nSee 'kubectl {'cordon' if flag else 'uncordon'} -h' for help and examples")
    for n in pos:
        set_unschedulable(ctx, n, flag)
    return 0


def cmd_drain(ctx, argv):
    v, ch, pos = parse_flags(argv, GLOBAL + [
        Flag("ignore-daemonsets", "bool", False), Flag("delete-emptydir-data", "bool", False), Flag("force", "bool", False),
        Flag("timeout", "str", "0s"), Flag("grace-period", "int", -1), Flag("disable-eviction", "bool", False),
        Flag("pod-selector", "str", ""), Flag("selector", "str", "", "l"), Flag("skip-wait-for-delete-timeout", "int", 0),
        Flag("dry-run", "str", "none"), Flag("chunk-size", "int", 500), Flag("delete-local-data", "bool", False)])
    merge_globals(ctx, v, ch)
    if len(pos) != 1:
        raise KubectlError("error: USAGE: drain NODE [flags]\nSee 'kubectl drain -h' for help and examples")
    node = pos[0]
    timeout = parse_go_duration(v["timeout"]) if v["timeout"] else 0
    set_unschedulable(ctx, node, True)
    pods = ctx.call("GET", "/api/v1/pods?" + urllib.parse.urlencode({"fieldSelector": f"spec.nodeName={node}"})).get("items") or []
    ds_pods, errs, evict = [], [], []
    for p in pods:
        md = p["metadata"]
        nm = f"{md.get('namespace')}/{md['name']}"
        if (md.get("annotations") or {}).get("kubernetes.io/config.mirror"):
            continue
        if (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            evict.append(p)
            continue
        owners = md.get("ownerReferences") or []
        if any(o.get("kind") == "DaemonSet" for o in owners):
            if v["ignore-daemonsets"]:
                ds_pods.append(nm)
            else:
                errs.append(("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)", nm))
            continue
        if not owners and not v["force"]:
            errs.append(("cannot delete Pods that declare no controller (use --force to override)", nm))
            continue
        if any("emptyDir" in vol for vol in (p.get("spec") or {}).get("volumes") or []) and not (v["delete-emptydir-data"] or v["delete-local-data"]):
            errs.append(("cannot delete Pods with local storage (use --delete-emptydir-data to override)", nm))
            continue
        evict.append(p)
    if errs:
        by = {}
        for why, nm in errs:
            by.setdefault(why, []).append(nm)
        msg = ", ".join(f"{why}: {', '.join(nms)}" for why, nms in by.items())
        sys.stderr.write(f'error: unable to drain node "{node}" due to error: {msg}, continuing command...\n'
                         f"There are pending nodes to be drained:\n {node}\n{msg}\n")
        return 1
    if ds_pods:
        sys.stderr.write(f"Warning: ignoring DaemonSet-managed Pods: {', '.join(ds_pods)}\n")
    deadline = time.time() + (timeout or 10 ** 9)
    for p in evict:
        md = p["metadata"]
        if not v["disable-eviction"] and blocked_by_pdb(ctx, p):
            while blocked_by_pdb(ctx, p):
                if time.time() > deadline:
                    sys.stderr.write(f'There are pending pods in node "{node}" when an error occurred: error when evicting pods/"{md["name"]}" -n "{md.get("namespace")}": global timeout reached: {v["timeout"]}\n'
                                     f"error: unable to drain node \"{node}\" due to error: error when evicting pods/\"{md['name']}\" -n \"{md.get('namespace')}\": global timeout reached: {v['timeout']}, continuing command...\n"
                                     f"There are pending nodes to be drained:\n {node}\n")
                    return 1
                sys.stderr.write(f'error when evicting pods/"{md["name"]}" -n "{md.get("namespace")}" (will retry after 5s): Cannot evict pod as it would violate the pod\'s disruption budget.\n')
                time.sleep(5)
        print(f"evicting pod {md.get('namespace')}/{md['name']}")
        try:
            ctx.call("DELETE", f"/api/v1/namespaces/{md.get('namespace')}/pods/{md['name']}")
        except APIError as e:
            if e.code != 404:
                raise
        print(f"pod/{md['name']} evicted")
    print(f"node/{node} drained")
    return 0


def blocked_by_pdb(ctx, pod):
    ns = pod["metadata"].get("namespace")
    try:
        pdbs = ctx.call("GET", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets").get("items") or []
    except APIError:
        return False
    labels = pod["metadata"].get("labels") or {}
    for pdb in pdbs:
        sel = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if sel and all(labels.get(k) == val for k, val in sel.items()):
            st = pdb.get("status") or {}
            if st.get("disruptionsAllowed", 0) <= 0:
                return True
    return False


def cmd_wait(ctx, argv):
    v, ch, pos = parse_flags(argv, GLOBAL + [Flag("for", "str", ""), Flag("timeout", "str", "30s"),
                                              Flag("selector", "str", "", "l"), Flag("all", "bool", False),
                                              Flag("all-namespaces", "bool", False, "A")])
    merge_globals(ctx, v, ch)
    if not v["for"]:
        raise KubectlError("error: --for must be set")
    mapper = Mapper(ctx)
    timeout = parse_go_duration(v["timeout"])
    cond = v["for"]
    targets = []
    for t, names in split_targets(pos):
        g, ver, r, k, nsd = mapper.by_name(t)
        ns = ctx.namespace if nsd else None
        if not names:
            q = "?" + urllib.parse.urlencode({"labelSelector": v["selector"]}) if v["selector"] else ""
            names = [o["metadata"]["name"] for o in ctx.call("GET", base_path(g, ver, r, ns, nsd) + q).get("items") or []]
            if not names:
                raise KubectlError("error: no matching resources found")
        targets += [(g, ver, r, nsd, ns, n) for n in names]
    rc = 0
    deadline = time.time() + timeout
    for g, ver, r, nsd, ns, n in targets:
        path = f"{base_path(g, ver, r, ns, nsd)}/{n}"
        while True:
            try:
                o = ctx.call("GET", path)
            except APIError as e:
                if e.code == 404:
                    if cond == "delete":
                        print(f"{short_kind(g, r)}/{n} condition met")
                        break
                    if time.time() > deadline:
                        sys.stderr.write(api_error(e) + "\n")
                        rc = 1
                        break
                    time.sleep(1)
                    continue
                raise
            if cond.startswith("condition="):
                want = cond.split("=", 1)[1]
                ctype, _, val = want.partition("=")
                val = val or "True"
                ok = any(c.get("type", "").lower() == ctype.lower() and str(c.get("status")).lower() == val.lower()
                         for c in (o.get("status") or {}).get("conditions") or [])
            elif cond.startswith("jsonpath="):
                expr = cond.split("=", 1)[1]
                m = re.match(r"^\{?(.*?)\}?(?:=(.*))?$", expr)
                vals = jp_eval(m.group(1) if m.group(1).startswith(".") else "." + m.group(1), o)
                ok = bool(vals) and (m.group(2) is None or jp_str(vals[0]) == m.group(2))
            elif cond == "delete":
                ok = False
            else:
                raise KubectlError(f"error: unrecognized condition: \"{cond}\"")
            if ok:
                print(f"{short_kind(g, r)}/{n} condition met")
                break
            if time.time() > deadline:
                sys.stderr.write(f"error: timed out waiting for the condition on {r}/{n}\n")
                rc = 1
                break
            time.sleep(1)
    return rc


# ---------------------------------------------------------------- shared helpers for create secret / label / patch

def go_json(obj):
    """encoding/json.MarshalIndent(obj, "", "    ") as kubectl's JSON printer writes it: UTF-8, with
    <, >, & and U+2028/U+2029 escaped (Go's HTML-safe default); key order as given."""
    s = json.dumps(obj, indent=4, ensure_ascii=False)
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        s = s.replace(a, b)
    return s


def dry_run_strategy(v):
    d = v.get("dry-run", "none")
    if d == "unchanged":
        sys.stderr.write("W0000 00:00:00.000000       1 helpers.go:704] --dry-run is deprecated and can be replaced with --dry-run=client.\n")
        return "client"
    if d not in ("none", "client", "server"):
        raise KubectlError(f'error: Invalid dry-run value ({d}). Must be "none", "server", or "client".')
    return d


def check_output_format(fmt):
    if fmt in ("", "json", "yaml", "name") or fmt.startswith(("jsonpath=", "jsonpath-as-json=")):
        return
    raise KubectlError(f'error: unable to match a printer suitable for the output format "{fmt}", allowed formats are: '
                       "go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,yaml")


def print_one(obj, fmt, label, operation, count):
    """kubectl's PrintFlags printer for one object: -o json|yaml|name|jsonpath, or `kind/name operation`.
    count: how many objects were printed before (the YAML printer separates documents with ---)."""
    if fmt == "json":
        print(go_json(obj))
    elif fmt == "yaml":
        if count:
            sys.stdout.write("---\n")
        sys.stdout.write(yaml_dump(obj))
    elif fmt == "name":
        print(label)
    elif fmt.startswith(("jsonpath=", "jsonpath-as-json=")):
        sys.stdout.write(jsonpath(fmt.split("=", 1)[1], obj))
    else:
        print(f"{label} {operation}")


def local_label(d):
    """kind[.group]/name of an object read from a file (no REST mapping: kubectl's --local)."""
    api = d.get("apiVersion") or ""
    g = api.rpartition("/")[0] if "/" in api else ""
    k = (d.get("kind") or "").lower()
    return f"{k}.{g}/{(d.get('metadata') or {}).get('name', '')}" if g else f"{k}/{(d.get('metadata') or {}).get('name', '')}"


def find_subcommand(argv, value_flags):
    """Index of the first positional argument of argv (skipping flags and their separate values)."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return i + 1 if i + 1 < len(argv) else None
        if a.startswith("-") and len(a) > 1:
            if "=" not in a and a in value_flags:
                i += 1
            i += 1
            continue
        return i
    return None


# ---------------------------------------------------------------- create secret generic

CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


def config_key_errors(key):
    errs = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not CONFIG_KEY_RE.match(key):
        errs.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def add_secret_key(data, key, raw):
    errs = config_key_errors(key)
    if errs:
        raise KubectlError(f'error: "{key}" is not valid key name for a Secret {";".join(errs)}')
    if key in data:
        raise KubectlError(f"error: cannot add key {key}, another key by that name already exists")
    data[key] = raw


def secret_data(v):
    """kubectl's createSecret: literals first, then files (a directory adds its regular files), then env files."""
    data = {}
    for src in v["from-literal"]:
        if src.startswith("=") or "=" not in src:
            raise KubectlError(f"error: invalid literal source {src}, expected key=value")
        k, val = src.split("=", 1)
        add_secret_key(data, k, val.encode())
    for src in v["from-file"]:
        n = src.count("=")
        if n == 0:
            key, path = os.path.basename(src.rstrip("/")) or "/", src
        elif n == 1 and src.startswith("="):
            raise KubectlError(f"error: key name for file path {src[1:]} missing")
        elif n == 1 and src.endswith("="):
            raise KubectlError(f"error: file path for key name {src[:-1]} missing")
        elif n > 1:
            raise KubectlError("error: key names or file paths cannot contain '='")
        else:
            key, path = src.split("=", 1)
        try:
            st = os.stat(path)
        except OSError as e:
            raise KubectlError(f"error: error reading {path}: {(e.strerror or str(e)).lower()}")
        if os.path.isdir(path):
            if "=" in src:
                raise KubectlError("error: cannot give a key name for a directory path")
            for item in sorted(os.listdir(path)):
                ip = os.path.join(path, item)
                if os.path.isfile(ip) and not os.path.islink(ip):
                    with open(ip, "rb") as fh:
                        add_secret_key(data, item, fh.read())
        else:
            _ = st
            try:
                with open(path, "rb") as fh:
                    add_secret_key(data, key, fh.read())
            except OSError as e:
                raise KubectlError(f"error: open {path}: {(e.strerror or str(e)).lower()}")
    for path in v["from-env-file"]:
        try:
            lines = open(path, "rb").read().decode().splitlines()
        except OSError as e:
            raise KubectlError(f"error: error reading {path}: {(e.strerror or str(e)).lower()}")
        for ln, line in enumerate(lines, 1):
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            k, eq, val = line.partition("=")
            if not re.match(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$", k):
                raise KubectlError(f'error: "{k}" is not a valid key name: a valid environment variable name must consist of '
                                   "alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. "
                                   "'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is "
                                   "'[-._a-zA-Z][-._a-zA-Z0-9]*')")
            if not eq:
                if k not in os.environ:
                    continue
                val = os.environ[k]
            add_secret_key(data, k, val.encode())
    return data


CREATE_SECRET_FLAGS = [Flag("from-file", "strarr", []), Flag("from-literal", "strarr", []), Flag("from-env-file", "strarr", []),
                       Flag("type", "str", ""), Flag("dry-run", "str", "none", noopt="unchanged"), Flag("output", "str", "", "o"),
                       Flag("save-config", "bool", False), Flag("validate", "str", "strict", noopt="strict"),
                       Flag("field-manager", "str", "kubectl-create"), Flag("show-managed-fields", "bool", False),
                       Flag("allow-missing-template-keys", "bool", True), Flag("template", "str", ""),
                       Flag("append-hash", "bool", False)]


def cmd_create_secret(ctx, argv):
    i = find_subcommand(argv, {"-n", "--namespace", "--kubeconfig", "--context", "-s", "--server", "-o", "--output",
                               "--request-timeout", "--from-file", "--from-literal", "--from-env-file", "--type",
                               "--field-manager", "--template"})
    kind = argv[i] if i is not None else None
    rest = argv[:i] + argv[i + 1:] if i is not None else argv
    if kind in ("tls", "docker-registry"):
        raise KubectlError(f"error: kubectl create secret {kind} is not supported by the lab stand-in")
    if kind != "generic":
        if kind is None:
            print("Create a secret with specified type.\n\n Available Commands:\n  docker-registry   Create a secret for use with a Docker registry\n"
                  "  generic           Create a secret from a local file, directory, or literal value\n"
                  "  tls               Create a TLS secret\n\nUsage:\n  kubectl create secret (docker-registry | generic | tls) [options]")
            return 0
        raise KubectlError(f'error: unknown command "{kind}" for "kubectl create secret"')
    try:
        v, ch, pos = parse_flags(rest, GLOBAL + CREATE_SECRET_FLAGS)
    except UsageError as e:
        raise KubectlError(f"error: {e}\nSee 'kubectl create secret generic --help' for usage.")
    merge_globals(ctx, v, ch)
    if len(pos) != 1:
        raise KubectlError(f"error: exactly one NAME is required, got {len(pos)}\nSee 'kubectl create secret generic -h' for help and examples")
    name = pos[0]
    dry = dry_run_strategy(v)
    if v["append-hash"]:
        raise KubectlError("error: --append-hash is not supported by the lab stand-in")
    if v["template"]:
        raise KubectlError("error: --template is not supported by the lab stand-in")
    if v["from-env-file"] and (v["from-file"] or v["from-literal"]):
        raise KubectlError("error: from-env-file cannot be combined with from-file or from-literal")
    fmt = v["output"]
    check_output_format(fmt)
    data = secret_data(v)
    # the typed object, in the field order of corev1.Secret (what kubectl's JSON printer keeps)
    md = {"name": name}
    if ctx.namespace_flag:  # EnforceNamespace: only an explicit -n lands in the object
        md["namespace"] = ctx.namespace_flag
    md["creationTimestamp"] = None
    obj = {"kind": "Secret", "apiVersion": "v1", "metadata": md,
           "data": {k: base64.b64encode(data[k]).decode() for k in sorted(data)}}
    if v["type"]:
        obj["type"] = v["type"]
    if v["save-config"]:
        md["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration":
                             json.dumps(obj, separators=(",", ":"), sort_keys=True) + "\n"}
    if dry == "client":
        print_one(obj, fmt, f"secret/{name}", "created (dry run)", 0)
        return 0
    ns = ctx.namespace
    body = copy.deepcopy(obj)
    body["metadata"].pop("creationTimestamp")
    q = {"fieldManager": v["field-manager"]}
    if dry == "server":
        q["dryRun"] = "All"
    try:
        res = ctx.call("POST", f"/api/v1/namespaces/{ns}/secrets?" + urllib.parse.urlencode(q), body)
    except APIError as e:
        raise KubectlError(f"error: failed to create secret {e.status.get('message', e)}")
    if not v["show-managed-fields"] and isinstance(res, dict):
        res.get("metadata", {}).pop("managedFields", None)
    print_one(res or obj, fmt, f"secret/{name}", "created (server dry run)" if dry == "server" else "created", 0)
    return 0


# ---------------------------------------------------------------- label / annotate

LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
def resources_and_pairs(args, what):
    resources, pairs, seen_pair = [], [], False
    for a in args:
        if "=" in a or a.endswith("-"):
            pairs.append(a)
            seen_pair = True
        elif seen_pair:
            raise KubectlError(f"error: all resources must be specified before {what} changes: {a}")
        else:
            resources.append(a)
    return resources, pairs


def parse_label_pairs(pairs, field):
    new, remove = {}, []
    for spec in pairs:
        if "=" in spec:
            parts = spec.split("=")
            if len(parts) != 2:
                raise KubectlError(f"error: invalid {'label' if field == 'labels' else 'annotation'} spec: {spec}")
            k, val = parts if field == "labels" else spec.split("=", 1)
            if field == "labels":
                if not LABEL_VALUE_RE.match(val) or len(val) > 63:
                    raise KubectlError(f'error: invalid label value: "{spec}": a valid label must be an empty string or consist of '
                                       "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                                       "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                                       "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
            new[k] = val
        elif spec.endswith("-"):
            remove.append(spec[:-1])
        else:
            raise KubectlError(f"error: unknown {'label' if field == 'labels' else 'annotation'} spec: {spec}")
    for r in remove:
        if r in new:
            raise KubectlError(f"error: can not both modify and remove {'a label' if field == 'labels' else 'an annotation'} in the same command")
    return new, remove


def apply_labels(obj, field, new, remove, overwrite):
    md = obj.setdefault("metadata", {})
    cur = md.get(field) or {}
    if not overwrite:
        errs = [f"'{k}' already has a value ({cur[k]}), and --overwrite is false" for k, val in new.items()
                if k in cur and cur[k] != val]
        if errs:
            if field == "labels":
                raise KubectlError("error: " + (errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"))
            raise KubectlError("error: --overwrite is false but found the following declared annotation(s): " + "; ".join(errs))
    res = dict(cur)
    res.update(new)
    for k in remove:
        res.pop(k, None)
    md[field] = res


def cmd_label(ctx, argv, field="labels"):
    verb = "label" if field == "labels" else "annotate"
    v, ch, pos = parse_flags(argv, GLOBAL + [
        Flag("overwrite", "bool", False), Flag("all", "bool", False), Flag("selector", "str", "", "l"),
        Flag("local", "bool", False), Flag("filename", "strarr", [], "f"), Flag("output", "str", "", "o"),
        Flag("dry-run", "str", "none", noopt="unchanged"), Flag("list", "bool", False), Flag("resource-version", "str", ""),
        Flag("field-selector", "str", ""), Flag("all-namespaces", "bool", False, "A"), Flag("recursive", "bool", False, "R"),
        Flag("field-manager", "str", f"kubectl-{verb}"), Flag("show-managed-fields", "bool", False),
        Flag("allow-missing-template-keys", "bool", True), Flag("template", "str", "")])
    merge_globals(ctx, v, ch)
    dry = dry_run_strategy(v)
    fmt = v["output"]
    check_output_format(fmt)
    resources, pairs = resources_and_pairs(pos, "label" if field == "labels" else "annotation")
    new, remove = parse_label_pairs(pairs, field)
    if v["all"] and v["selector"]:
        raise KubectlError("error: cannot set --all and --selector at the same time")
    if v["local"]:
        if dry == "server":
            raise KubectlError("error: cannot specify --local and --dry-run=server - did you mean --dry-run=client?")
        if resources:
            raise KubectlError("error: can only use local files by -f rsrc.yaml or --filename=rsrc.json when --local=true is set")
        if not v["filename"]:
            raise KubectlError("error: one or more files must be specified as -f rsrc.yaml or --filename=rsrc.json")
    elif not resources and not v["filename"]:
        raise KubectlError("error: one or more resources must be specified as <resource> <name> or <resource>/<name>")
    if not new and not remove and not v["list"]:
        raise KubectlError(f"error: at least one {'label' if field == 'labels' else 'annotation'} update is required")
    done_word = "labeled" if field == "labels" else "annotated"
    # (object, label, path or None)
    items = []
    if v["filename"]:
        docs = read_manifests(v["filename"], v["recursive"])
        if ctx.namespace_flag:
            for d, _ in docs:
                ons = (d.get("metadata") or {}).get("namespace")
                if ons and ons != ctx.namespace_flag:
                    raise KubectlError(f'error: the namespace from the provided object "{ons}" does not match the namespace '
                                       f'"{ctx.namespace_flag}". You must pass \'--namespace={ons}\' to perform this operation.')
        if v["local"]:
            items = [(d, local_label(d), None) for d, _ in docs]
        else:
            mapper = Mapper(ctx)
            for d, src in docs:
                md = d.get("metadata") or {}
                g, ver, r, k, nsd = mapper.by_kind(d["apiVersion"], d["kind"], (md.get("name", ""), md.get("namespace", ""), src))
                path = f"{base_path(g, ver, r, (md.get('namespace') or ctx.namespace) if nsd else None, nsd)}/{md.get('name')}"
                items.append((None, f"{short_kind(g, r)}/{md.get('name')}", path))
    if resources:
        mapper = Mapper(ctx)
        for t, names in split_targets(resources):
            g, ver, r, k, nsd = mapper.by_name(t)
            bp = base_path(g, ver, r, None if (v["all-namespaces"] and not names) else (ctx.namespace if nsd else None), nsd)
            if not names:
                if not (v["all"] or v["selector"]):
                    raise KubectlError("error: resource(s) were provided, but no name was specified")
                q = "?" + urllib.parse.urlencode({"labelSelector": v["selector"]}) if v["selector"] else ""
                for o in ctx.call("GET", bp + q).get("items") or []:
                    p = base_path(g, ver, r, o["metadata"].get("namespace"), nsd)
                    items.append((None, f"{short_kind(g, r)}/{o['metadata']['name']}", f"{p}/{o['metadata']['name']}"))
            else:
                items += [(None, f"{short_kind(g, r)}/{n}", f"{bp}/{n}") for n in names]
    if not items:
        raise KubectlError(f"error: no objects passed to {verb}")
    rc = 0
    count = 0
    for obj, label, path in items:
        if path is not None:
            try:
                obj = ctx.call("GET", path)
            except APIError as e:
                sys.stderr.write(api_error(e) + "\n")
                rc = 1
                continue
        if v["list"]:
            for k2, val in sorted(((obj.get("metadata") or {}).get(field) or {}).items()):
                print(f"{k2}={val}")
            continue
        old = json.dumps(obj, sort_keys=True)
        if path is not None:
            for k2 in remove:
                if k2 not in ((obj.get("metadata") or {}).get(field) or {}):
                    print(f'{"label" if field == "labels" else "annotation"} "{k2}" not found.')
        if v["resource-version"]:
            obj.setdefault("metadata", {})["resourceVersion"] = v["resource-version"]
        before = copy.deepcopy(obj)
        apply_labels(obj, field, new, remove, v["overwrite"])
        changed = json.dumps(obj, sort_keys=True) != old
        msg = done_word if changed or field != "labels" else "not labeled"
        if field == "labels" and changed and not v["overwrite"] and len(json.dumps(obj)) < len(json.dumps(before)):
            msg = "unlabeled"
        if path is not None and not v["local"] and dry != "client":
            patch = {"metadata": {field: {**new, **{k2: None for k2 in remove}}}}
            if v["resource-version"]:
                patch["metadata"]["resourceVersion"] = v["resource-version"]
            q = {"fieldManager": v["field-manager"]}
            if dry == "server":
                q["dryRun"] = "All"
            try:
                obj = ctx.call("PATCH", path + "?" + urllib.parse.urlencode(q), patch, "application/merge-patch+json")
            except APIError as e:
                sys.stderr.write(api_error(e) + "\n")
                rc = 1
                continue
        if isinstance(obj, dict) and not v["show-managed-fields"]:
            obj.get("metadata", {}).pop("managedFields", None)
        suffix = " (dry run)" if dry == "client" else " (server dry run)" if dry == "server" else ""
        print_one(obj if fmt != "json" else json.loads(json.dumps(obj, sort_keys=True)), fmt, label, msg + suffix, count)
        count += 1
    return rc


# ---------------------------------------------------------------- patch

PATCH_TYPES = {"json": "application/json-patch+json", "merge": "application/merge-patch+json",
               "strategic": "application/strategic-merge-patch+json"}


def json_patch_apply(doc, ops):
    """RFC 6902 (evanphx/json-patch's error texts), for --local."""
    doc = copy.deepcopy(doc)

    def parts(p):
        if p == "":
            return []
        if not p.startswith("/"):
            raise KubectlError(f"error: add operation does not apply: doc is missing path: \"{p}\": missing value")
        return [x.replace("~1", "/").replace("~0", "~") for x in p[1:].split("/")]

    def parent(p, op):
        ps = parts(p)
        cur = doc
        for x in ps[:-1]:
            if isinstance(cur, dict) and x in cur:
                cur = cur[x]
            elif isinstance(cur, list) and x.isdigit() and int(x) < len(cur):
                cur = cur[int(x)]
            else:
                raise KubectlError(f'error: {op} operation does not apply: doc is missing path: "{p}": missing value')
        return cur, ps[-1]

    for o in ops:
        op, p = o.get("op"), o.get("path", "")
        if op in ("add", "replace", "test"):
            c, k = parent(p, op)
            if op == "test":
                cv = c.get(k) if isinstance(c, dict) else c[int(k)] if k.isdigit() and int(k) < len(c) else None
                if cv != o.get("value"):
                    raise KubectlError(f"error: testing value {p} failed: test failed")
                continue
            if isinstance(c, dict):
                if op == "replace" and k not in c:
                    raise KubectlError(f'error: replace operation does not apply: doc is missing key: {p}: missing value')
                c[k] = o.get("value")
            elif isinstance(c, list):
                idx = len(c) if k == "-" else int(k)
                if op == "add":
                    c.insert(idx, o.get("value"))
                else:
                    c[idx] = o.get("value")
        elif op == "remove":
            c, k = parent(p, op)
            if isinstance(c, dict):
                if k not in c:
                    raise KubectlError(f'error: remove operation does not apply: doc is missing path: "{p}": missing value')
                del c[k]
            else:
                del c[int(k)]
        else:
            raise KubectlError(f"error: Unexpected kind: {op}")
    return doc


def cmd_patch(ctx, argv):
    v, ch, pos = parse_flags(argv, GLOBAL + [
        Flag("patch", "str", "", "p"), Flag("patch-file", "str", ""), Flag("type", "str", "strategic"),
        Flag("dry-run", "str", "none", noopt="unchanged"), Flag("filename", "strarr", [], "f"), Flag("local", "bool", False),
        Flag("output", "str", "", "o"), Flag("field-manager", "str", "kubectl-patch"), Flag("subresource", "str", ""),
        Flag("recursive", "bool", False, "R"), Flag("record", "bool", False), Flag("show-managed-fields", "bool", False),
        Flag("allow-missing-template-keys", "bool", True), Flag("template", "str", "")])
    merge_globals(ctx, v, ch)
    dry = dry_run_strategy(v)
    fmt = v["output"]
    check_output_format(fmt)
    if v["patch"] and v["patch-file"]:
        raise KubectlError("error: cannot specify --patch and --patch-file together")
    if not v["patch"] and not v["patch-file"]:
        raise KubectlError("error: must specify --patch or --patch-file containing the contents of the patch")
    if v["local"] and pos:
        raise KubectlError("error: cannot specify --local and server resources")
    if v["local"] and dry == "server":
        raise KubectlError("error: cannot specify --local and --dry-run=server - did you mean --dry-run=client?")
    if v["type"].lower() not in PATCH_TYPES:
        raise KubectlError(f'error: --type must be one of [json merge strategic], not "{v["type"]}"')
    if v["subresource"] and v["subresource"] not in ("status", "scale"):
        raise KubectlError(f'error: invalid subresource value: "{v["subresource"]}". Must be one of [status scale]')
    ptype = v["type"].lower()
    if v["patch-file"]:
        try:
            raw = open(v["patch-file"]).read()
        except OSError as e:
            raise KubectlError(f"error: unable to read patch file: open {v['patch-file']}: {(e.strerror or str(e)).lower()}")
    else:
        raw = v["patch"]
    try:
        import yaml
        patch = yaml.safe_load(raw)
    except Exception as e:  # noqa: BLE001
        raise KubectlError(f'error: unable to parse "{v["patch"]}": {e}')
    if not v["filename"] and not pos:
        raise KubectlError("error: You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
    items = []  # (object or None, label, path or None)
    if v["filename"]:
        docs = read_manifests(v["filename"], v["recursive"])
        if v["local"]:
            items = [(d, local_label(d), None) for d, _ in docs]
        else:
            mapper = Mapper(ctx)
            for d, src in docs:
                md = d.get("metadata") or {}
                g, ver, r, k, nsd = mapper.by_kind(d["apiVersion"], d["kind"], (md.get("name", ""), md.get("namespace", ""), src))
                p = f"{base_path(g, ver, r, (md.get('namespace') or ctx.namespace) if nsd else None, nsd)}/{md.get('name')}"
                items.append((None, f"{short_kind(g, r)}/{md.get('name')}", p))
    if pos:
        mapper = Mapper(ctx)
        for t, names in split_targets(pos):
            g, ver, r, k, nsd = mapper.by_name(t)
            if not names:
                raise KubectlError("error: resource(s) were provided, but no name was specified")
            bp = base_path(g, ver, r, ctx.namespace if nsd else None, nsd)
            items += [(None, f"{short_kind(g, r)}/{n}", f"{bp}/{n}") for n in names]
    rc = 0
    count = 0
    for obj, label, path in items:
        if path is not None:
            try:
                obj = ctx.call("GET", path)
            except APIError as e:
                sys.stderr.write(api_error(e) + "\n")
                rc = 1
                continue
        if path is not None and dry != "client":
            q = {"fieldManager": v["field-manager"]}
            if dry == "server":
                q["dryRun"] = "All"
            sub = f"/{v['subresource']}" if v["subresource"] else ""
            try:
                res = ctx.call("PATCH", f"{path}{sub}?" + urllib.parse.urlencode(q), json.dumps(patch).encode(), PATCH_TYPES[ptype])
            except APIError as e:
                sys.stderr.write(api_error(e) + "\n")
                rc = 1
                continue
            # status is computed on read for some kinds (workloads), so compare the stored parts
            changed = {k: x for k, x in (res or {}).items() if k != "status"} != {k: x for k, x in obj.items() if k != "status"}
            suffix = " (server dry run)" if dry == "server" else ""
        else:
            if ptype == "json":
                if not isinstance(patch, list):
                    raise KubectlError("error: json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                res = json_patch_apply(obj, patch)
            else:
                res = merge_patch_local(obj, patch)
            changed = res != obj
            suffix = " (dry run)" if dry == "client" else ""
        if isinstance(res, dict) and not v["show-managed-fields"]:
            res.get("metadata", {}).pop("managedFields", None)
        print_one(res if fmt != "json" else json.loads(json.dumps(res, sort_keys=True)), fmt, label,
                  ("patched" if changed else "patched (no change)") + suffix, count)
        count += 1
    if not items:
        raise KubectlError("error: no objects passed to patch")
    return rc


def merge_patch_local(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    res = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, val in patch.items():
        if val is None:
            res.pop(k, None)
        else:
            res[k] = merge_patch_local(res.get(k), val)
    return res



def cmd_certificate(ctx, argv):
    if not argv or argv[0] not in ("approve", "deny"):
        raise KubectlError("error: unknown command \"%s\" for \"kubectl certificate\"" % (argv[0] if argv else ""))
    action = argv[0]
    v, ch, pos = parse_flags(argv[1:], GLOBAL + [Flag("force", "bool", False), Flag("filename", "strarr", [], "f")])
    merge_globals(ctx, v, ch)
    if not pos:
        raise KubectlError("error: one or more CSRs must be specified as <name> or -f <filename>")
    rc = 0
    for n in pos:
        path = f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{n}"
        try:
            csr = ctx.call("GET", path)
        except APIError as e:
            sys.stderr.write(api_error(e) + "\n")
            rc = 1
            continue
        conds = (csr.get("status") or {}).get("conditions") or []
        typ = "Approved" if action == "approve" else "Denied"
        if any(c.get("type") == typ for c in conds) and not v["force"]:
            print(f"certificatesigningrequest.certificates.k8s.io/{n} {typ.lower()}")
            continue
        conds.append({"type": typ, "status": "True", "reason": "KubectlApprove" if typ == "Approved" else "KubectlDeny",
                      "message": f"This CSR was {typ.lower()} by kubectl certificate {action}.",
                      "lastUpdateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        csr.setdefault("status", {})["conditions"] = conds
        ctx.call("PUT", f"{path}/approval", csr)
        print(f"certificatesigningrequest.certificates.k8s.io/{n} {typ.lower()}")
    return rc


def rollout_state(r, o):
    """(done, message) as kubectl's rollout status viewers report them."""
    name = o["metadata"]["name"]
    st = o.get("status") or {}
    spec = o.get("spec") or {}
    gen, obs = o["metadata"].get("generation", 0), st.get("observedGeneration", 0)
    if r == "deployments":
        if gen > obs:
            return False, "Waiting for deployment spec update to be observed..."
        want, upd, avail = spec.get("replicas", 1), st.get("updatedReplicas", 0), st.get("availableReplicas", 0)
        if upd < want:
            return False, f'Waiting for deployment "{name}" rollout to finish: {upd} out of {want} new replicas have been updated...'
        if st.get("replicas", 0) > upd:
            return False, f'Waiting for deployment "{name}" rollout to finish: {st["replicas"] - upd} old replicas are pending termination...'
        if avail < upd:
            return False, f'Waiting for deployment "{name}" rollout to finish: {avail} of {upd} updated replicas are available...'
        return True, f'deployment "{name}" successfully rolled out'
    if r == "daemonsets":
        if gen > obs:
            return False, "Waiting for daemon set spec update to be observed..."
        d, upd, avail = st.get("desiredNumberScheduled", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0)
        if upd < d:
            return False, f'Waiting for daemon set "{name}" rollout to finish: {upd} out of {d} new pods have been updated...'
        if avail < d:
            return False, f'Waiting for daemon set "{name}" rollout to finish: {avail} of {d} updated pods are available...'
        return True, f'daemon set "{name}" successfully rolled out'
    if r == "statefulsets":
        if gen > obs:
            return False, "Waiting for statefulset spec update to be observed..."
        want, ready = spec.get("replicas", 1), st.get("readyReplicas", 0)
        if ready < want:
            return False, f"Waiting for {want - ready} pods to be ready..."
        return True, f"statefulset rolling update complete {want} pods at revision {st.get('updateRevision', '')}..."
    raise KubectlError(f'error: no status viewer has been implemented for {r}')


def cmd_rollout(ctx, argv):
    if not argv or argv[0] != "status":
        raise KubectlError(f'error: unknown command "{argv[0] if argv else ""}" for "kubectl rollout"' if argv and argv[0] not in
                           ("history", "pause", "restart", "resume", "undo") else
                           f"error: kubectl rollout {argv[0] if argv else ''} is not supported by the lab stand-in")
    v, ch, pos = parse_flags(argv[1:], GLOBAL + [Flag("timeout", "str", "0s"), Flag("watch", "bool", True, "w"),
                                                 Flag("revision", "int", 0), Flag("selector", "str", "", "l"),
                                                 Flag("filename", "strarr", [], "f")])
    merge_globals(ctx, v, ch)
    targets = split_targets(pos)
    if not targets or not targets[0][1]:
        raise KubectlError("error: required resource not specified")
    timeout = parse_go_duration(v["timeout"]) if v["timeout"] not in ("0", "0s", "") else 10 ** 9
    mapper = Mapper(ctx)
    for t, names in targets:
        g, ver, r, k, nsd = mapper.by_name(t)
        for n in names:
            path = f"{base_path(g, ver, r, ctx.namespace if nsd else None, nsd)}/{n}"
            deadline = time.time() + timeout
            last = None
            while True:
                try:
                    o = ctx.call("GET", path)
                except APIError as e:
                    raise KubectlError(api_error(e))
                done, msg = rollout_state(r, o)
                if msg != last:
                    print(msg)
                    last = msg
                if done or not v["watch"]:
                    break
                if time.time() > deadline:
                    raise KubectlError("error: timed out waiting for the condition")
                time.sleep(1)
    return 0


def cmd_version(ctx, argv):
    v, ch, pos = parse_flags(argv, GLOBAL + [Flag("client", "bool", False), Flag("output", "str", "", "o")])
    merge_globals(ctx, v, ch)
    mj, mn = K8S_VERSION[1:].split(".")[:2]
    client = {"major": mj, "minor": mn, "gitVersion": K8S_VERSION, "gitCommit": "0" * 40, "gitTreeState": "clean",
              "buildDate": "2025-08-12T18:05:23Z", "goVersion": "go1.24.5", "compiler": "gc", "platform": "linux/amd64"}
    server, err = None, None
    if not v["client"]:
        try:
            server = ctx.call("GET", "/version")
        except (KubectlError, APIError) as e:
            err = e
    if v["output"] in ("json", "yaml"):
        d = {"clientVersion": client, "kustomizeVersion": "v5.6.0"}
        if server:
            d["serverVersion"] = server
        print(json.dumps(d, indent=2) if v["output"] == "json" else yaml_dump_ordered(d).rstrip())
    else:
        print(f"Client Version: {K8S_VERSION}\nKustomize Version: v5.6.0")
        if server:
            print(f"Server Version: {server['gitVersion']}")
    if err:
        raise KubectlError(str(err) if isinstance(err, KubectlError) else api_error(err))
    return 0


def cmd_cluster_info(ctx, argv):
    v, ch, pos = parse_flags(argv, GLOBAL)
    merge_globals(ctx, v, ch)
    ctx.call("GET", "/version")
    s = ctx.client.server
    print(f"\x1b[0;32mKubernetes control plane\x1b[0m is running at \x1b[0;33m{s}\x1b[0m")
    try:
        ctx.call("GET", "/api/v1/namespaces/kube-system/services/kube-dns")
        print(f"\x1b[0;32mCoreDNS\x1b[0m is running at \x1b[0;33m{s}/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy\x1b[0m")
    except APIError:
        pass
    print("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")
    return 0


COMMANDS = {"get": cmd_get, "apply": cmd_apply, "create": cmd_create, "delete": cmd_delete, "drain": cmd_drain,
            "cordon": lambda c, a: cmd_cordon(c, a, True), "uncordon": lambda c, a: cmd_cordon(c, a, False),
            "wait": cmd_wait, "label": cmd_label, "patch": cmd_patch, "annotate": lambda c, a: cmd_label(c, a, "annotations"),
            "version": cmd_version, "certificate": cmd_certificate, "rollout": cmd_rollout, "cluster-info": cmd_cluster_info}


def main(argv):
    sub, pre, rest = None, [], []
    i = 0
    flags_with_values = {"--kubeconfig", "-n", "--namespace", "--context", "-s", "--server", "--request-timeout"}
    while i < len(argv):
        a = argv[i]
        if a.startswith("-"):
            pre.append(a)
            if a in flags_with_values and i + 1 < len(argv):
                pre.append(argv[i + 1])
                i += 1
        else:
            sub, rest = a, argv[i + 1:]
            break
        i += 1
    try:
        g, _, _ = parse_flags(pre, GLOBAL)
    except UsageError as e:
        sys.stderr.write(f"error: {e}\nSee 'kubectl --help' for usage.\n")
        return 1
    if sub is None:
        print("kubectl controls the Kubernetes cluster manager.\n\n Find more information at: https://kubernetes.io/docs/reference/kubectl/")
        return 0
    fn = COMMANDS.get(sub)
    if fn is None:
        sys.stderr.write(f'error: unknown command "{sub}" for "kubectl"\n')
        return 1
    ctx = Ctx(g)
    try:
        return fn(ctx, rest) or 0
    except UsageError as e:
        sys.stderr.write(f"error: {e}\nSee 'kubectl {sub} --help' for usage.\n")
        return 1
    except KubectlError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    except APIError as e:
        sys.stderr.write(api_error(e) + "\n")
        return 1
    except StandinError as e:
        sys.stderr.write(f"error: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
