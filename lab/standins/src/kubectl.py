#!/usr/bin/python3
"""kubectl stand-in: the subset otp-provision and the lab tests use, with kubectl's
flags, output formats, messages and exit codes; everything else is an error."""

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
            ctx.call("DELETE", f"{base_path(g, ver, r, ns, nsd)}/{name}")
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


def cmd_label(ctx, argv, field="labels"):
    v, ch, pos = parse_flags(argv, GLOBAL + [Flag("overwrite", "bool", False), Flag("all", "bool", False),
                                              Flag("selector", "str", "", "l")])
    merge_globals(ctx, v, ch)
    if len(pos) < 2:
        raise KubectlError("error: one or more resources must be specified as <resource> <name> or <resource>/<name>")
    if "/" in pos[0]:
        t, n = pos[0].split("/", 1)
        kvs = pos[1:]
    else:
        t, n, kvs = pos[0], pos[1], pos[2:]
    g, ver, r, k, nsd = Mapper(ctx).by_name(t)
    path = f"{base_path(g, ver, r, ctx.namespace if nsd else None, nsd)}/{n}"
    try:
        o = ctx.call("GET", path)
    except APIError as e:
        raise KubectlError(api_error(e))
    cur = o["metadata"].get(field) or {}
    patch = {}
    for kv in kvs:
        if kv.endswith("-"):
            patch[kv[:-1]] = None
        else:
            key, _, val = kv.partition("=")
            if key in cur and cur[key] != val and not v["overwrite"]:
                raise KubectlError(f"error: '{key}' already has a value ({cur[key]}), and --overwrite is false")
            patch[key] = val
    ctx.call("PATCH", path, {"metadata": {field: patch}}, "application/merge-patch+json")
    print(f"{short_kind(g, r)}/{n} {'labeled' if field == 'labels' else 'annotated'}")
    return 0


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
            "wait": cmd_wait, "label": cmd_label, "annotate": lambda c, a: cmd_label(c, a, "annotations"),
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
