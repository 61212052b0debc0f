#!/usr/bin/python3
"""kube-apiserver stand-in: HTTPS on the advertise address, client-certificate and
bootstrap-token authentication, a small RBAC, objects stored in the real etcd.

Run by the kubelet stand-in from /etc/kubernetes/manifests/kube-apiserver.yaml."""

import copy
import hashlib
import hmac
import json
import os
import re
import secrets
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pki
from k8s_resources import BUILTIN
from k8scommon import (BUILD_DATE, set_process_args, human_age, Etcd, GIT_COMMIT, K8S_VERSION, StandinError, b64, jws_detached, klog, now_utc,
                       openssl, parse_rfc3339, rfc3339, unb64, yaml_docs, yaml_load)

# Flags the stand-in accepts (the real binary has more; an unknown one is a startup error like pflag's).
KNOWN_FLAGS = set("""
advertise-address allow-privileged authorization-mode client-ca-file enable-admission-plugins disable-admission-plugins
enable-bootstrap-token-auth etcd-cafile etcd-certfile etcd-keyfile etcd-servers etcd-prefix kubelet-client-certificate
kubelet-client-key kubelet-preferred-address-types proxy-client-cert-file proxy-client-key-file
requestheader-allowed-names requestheader-client-ca-file requestheader-extra-headers-prefix requestheader-group-headers
requestheader-username-headers secure-port service-account-issuer service-account-key-file
service-account-signing-key-file service-cluster-ip-range tls-cert-file tls-private-key-file bind-address
profiling anonymous-auth audit-policy-file audit-log-path audit-log-maxage audit-log-maxbackup audit-log-maxsize
audit-log-format audit-log-compress audit-log-mode audit-webhook-config-file audit-log-batch-max-size
encryption-provider-config encryption-provider-config-automatic-reload authentication-config authorization-config
oidc-issuer-url oidc-client-id oidc-ca-file oidc-username-claim oidc-username-prefix oidc-groups-claim
oidc-groups-prefix oidc-required-claim oidc-signing-algs feature-gates tls-min-version tls-cipher-suites
kubelet-certificate-authority service-account-lookup request-timeout event-ttl default-not-ready-toleration-seconds
default-unreachable-toleration-seconds max-requests-inflight max-mutating-requests-inflight
service-node-port-range runtime-config v vmodule logging-format admission-control-config-file
strict-transport-security-directives cors-allowed-origins goaway-chance enable-aggregator-routing
endpoint-reconciler-type apiserver-count storage-backend storage-media-type watch-cache
service-account-extend-token-expiration service-account-max-token-expiration api-audiences
kubelet-timeout shutdown-delay-duration shutdown-send-retry-after livez-grace-period
audit-log-batch-buffer-size audit-log-batch-max-wait audit-log-batch-throttle-burst audit-log-batch-throttle-enable
audit-log-batch-throttle-qps audit-log-truncate-enabled audit-log-truncate-max-batch-size audit-log-truncate-max-event-size
audit-log-version audit-policy-file audit-webhook-batch-max-size audit-webhook-mode audit-webhook-version
audit-webhook-initial-backoff permit-port-sharing permit-address-sharing min-request-timeout etcd-compaction-interval
etcd-count-metric-poll-period default-watch-cache-size watch-cache-sizes egress-selector-config-file
tracing-config-file service-account-jwks-uri external-hostname log-flush-frequency contention-profiling
debug-socket-path enable-priority-and-fairness cloud-provider-gce-lb-src-cidrs allow-metric-labels
disabled-metrics show-hidden-metrics-for-version http2-max-streams-per-connection etcd-healthcheck-timeout
etcd-readycheck-timeout lease-reuse-duration-seconds storage-initialization-timeout
""".split())

ADMISSION_PLUGINS = set("""AlwaysAdmit AlwaysDeny AlwaysPullImages CertificateApproval CertificateSigning
CertificateSubjectRestriction ClusterTrustBundleAttest DefaultIngressClass DefaultStorageClass DefaultTolerationSeconds
DenyServiceExternalIPs EventRateLimit ExtendedResourceToleration ImagePolicyWebhook LimitPodHardAntiAffinityTopology
LimitRanger MutatingAdmissionPolicy MutatingAdmissionWebhook NamespaceAutoProvision NamespaceExists NamespaceLifecycle
NodeRestriction OwnerReferencesPermissionEnforcement PersistentVolumeClaimResize PersistentVolumeLabel PodNodeSelector
PodSecurity PodTolerationRestriction Priority ResourceQuota RuntimeClass ServiceAccount StorageObjectInUseProtection
TaintNodesByCondition ValidatingAdmissionPolicy ValidatingAdmissionWebhook""".split())
INT_FLAGS = {"audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize", "secure-port", "max-requests-inflight",
             "max-mutating-requests-inflight", "apiserver-count", "audit-log-batch-max-size"}
BOOL_FLAGS = {"allow-privileged", "enable-bootstrap-token-auth", "profiling", "anonymous-auth", "audit-log-compress",
              "service-account-lookup", "service-account-extend-token-expiration", "enable-aggregator-routing",
              "encryption-provider-config-automatic-reload", "contention-profiling"}


def die(msg):
    klog("E", '"command failed" err="%s"', msg.replace('"', '\\"'), file="run.go", line=72)
    sys.exit(1)


def parse_args(argv):
    a = {}
    for arg in argv:
        if not arg.startswith("--"):
            die(f'unknown command "{arg}" for "kube-apiserver"')
        k, eq, v = arg[2:].partition("=")
        if k not in KNOWN_FLAGS:
            sys.stderr.write(f"Error: unknown flag: --{k}\n")
            sys.exit(1)
        a[k] = v if eq else "true"
        if k in INT_FLAGS and not re.match(r"^-?\d+$", a[k]):
            sys.stderr.write(f'Error: invalid argument "{a[k]}" for "--{k}" flag: strconv.ParseInt: parsing "{a[k]}": invalid syntax\n')
            sys.exit(1)
        if k in BOOL_FLAGS and a[k].lower() not in ("true", "false", "1", "0", "t", "f"):
            sys.stderr.write(f'Error: invalid argument "{a[k]}" for "--{k}" flag: strconv.ParseBool: parsing "{a[k]}": invalid syntax\n')
            sys.exit(1)
    for k in ("enable-admission-plugins", "disable-admission-plugins"):
        for plug in [x for x in a.get(k, "").split(",") if x]:
            if plug not in ADMISSION_PLUGINS:
                die(f"{k} plugin \"{plug}\" is unknown")
    if "EventRateLimit" in a.get("enable-admission-plugins", "").split(",") and not a.get("admission-control-config-file"):
        die("couldn't init admission plugin \"EventRateLimit\": limits: Invalid value: \"null\": must not be empty")
    return a


MOUNTS = json.loads(os.environ["K8S_STANDIN_MOUNTS"]) if os.environ.get("K8S_STANDIN_MOUNTS") else None


def visible(path):
    """Would the file be visible inside the static Pod? Only under one of its volumeMounts."""
    if MOUNTS is None:
        return os.path.exists(path)
    return os.path.exists(path) and any(path == m or path.startswith(m.rstrip("/") + "/") for m in MOUNTS)


def read_visible(path):
    if not visible(path):
        raise FileNotFoundError(path)
    return open(path).read()


def check_file(flag, path, what):
    if not visible(path):
        die(f"{what}: open {path}: no such file or directory")


# ---------------------------------------------------------------- encryption at rest

class Encryption:
    """EncryptionConfiguration (apiserver.config.k8s.io/v1). Non-identity providers are
    emulated with AES-256-CBC through openssl; the stored prefix is the real one."""

    def __init__(self, path):
        self.rules = []
        if not path:
            return
        try:
            text = read_visible(path)
        except OSError:
            die(f"error while parsing file: error reading encryption provider configuration file \"{path}\": "
                f"open {path}: no such file or directory")
        try:
            doc = yaml_load(text)
        except StandinError as e:
            die(f'error while parsing file: {e}')
        if not isinstance(doc, dict) or doc.get("kind") != "EncryptionConfiguration" or \
                doc.get("apiVersion") not in ("apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1"):
            die(f"error while parsing file: error decoding encryption provider configuration file \"{path}\": "
                f"no kind \"{doc.get('kind') if isinstance(doc, dict) else ''}\" is registered for version \"{doc.get('apiVersion') if isinstance(doc, dict) else ''}\"")
        for i, r in enumerate(doc.get("resources") or []):
            provs = []
            for p in r.get("providers") or []:
                if len(p) != 1:
                    die(f"error while parsing file: resources[{i}].providers: Invalid value: ...: more than one provider specified in a single element, should split into different list elements")
                (ptype, pcfg), = p.items()
                if ptype == "identity":
                    provs.append(("identity", None))
                    continue
                if ptype == "kms":
                    provs.append(("kms", None))
                    continue
                if ptype not in ("aescbc", "aesgcm", "secretbox"):
                    die(f"error while parsing file: unknown provider {ptype}")
                keys = []
                for k in (pcfg or {}).get("keys") or []:
                    try:
                        raw = unb64(k["secret"])
                    except Exception:  # noqa: BLE001
                        die(f"error while parsing file: resources[{i}].providers[{len(provs)}].{ptype}.keys[{len(keys)}].secret: Invalid value: \"REDACTED\": secrets must be base64 encoded")
                    if ptype == "aescbc" and len(raw) not in (16, 24, 32):
                        die(f"error while parsing file: resources[{i}].providers[{len(provs)}].aescbc.keys[{len(keys)}].secret: Invalid value: \"REDACTED\": aes-cbc secret must be 16, 24 or 32 bytes long, got {len(raw)}")
                    if ptype == "secretbox" and len(raw) != 32:
                        die("error while parsing file: secretbox secret must be 32 bytes long")
                    keys.append((k["name"], hashlib.sha256(raw).digest()))
                if not keys:
                    die(f"error while parsing file: resources[{i}].providers[{len(provs)}].{ptype}.keys: Required value: keys are required")
                provs.append((ptype, keys))
            self.rules.append(([x.split(".")[0] for x in r.get("resources") or []], provs))

    def providers(self, resource):
        for res, provs in self.rules:
            if resource in res or "*" in res or "*.*" in res:
                return provs
        return [("identity", None)]

    def encrypt(self, resource, data):
        ptype, keys = self.providers(resource)[0]
        if ptype in ("identity", "kms") or not keys:
            return data
        name, key = keys[0]
        iv = secrets.token_bytes(16)
        ct = openssl("enc", "-aes-256-cbc", "-K", key.hex(), "-iv", iv.hex(), input=data)
        return f"k8s:enc:{ptype}:v1:{name}:".encode() + iv + ct

    def decrypt(self, resource, data):
        if not data.startswith(b"k8s:enc:"):
            return data
        m = re.match(rb"k8s:enc:(\w+):v1:([^:]+):", data)
        if not m:
            raise StandinError("no matching prefix found")
        ptype, name = m.group(1).decode(), m.group(2).decode()
        body = data[m.end():]
        for res, provs in self.rules:
            for pt, keys in provs:
                for kn, key in keys or []:
                    if pt == ptype and kn == name:
                        return openssl("enc", "-d", "-aes-256-cbc", "-K", key.hex(), "-iv", body[:16].hex(),
                                       input=body[16:])
        raise StandinError("no matching key was found for the provided AES transformer")


# ---------------------------------------------------------------- label selectors

def parse_selector(sel):
    reqs = []
    if not sel:
        return reqs
    parts = re.findall(r"[^,()]+(?:\([^)]*\))?", sel)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        m = re.match(r"^(\S+)\s+(in|notin)\s+\((.*)\)$", p)
        if m:
            reqs.append((m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]))
        elif "!=" in p:
            k, v = p.split("!=", 1)
            reqs.append((k.strip(), "!=", [v.strip()]))
        elif "==" in p:
            k, v = p.split("==", 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        elif "=" in p:
            k, v = p.split("=", 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        elif p.startswith("!"):
            reqs.append((p[1:].strip(), "!", []))
        else:
            reqs.append((p, "exists", []))
    return reqs


def match_selector(reqs, labels):
    labels = labels or {}
    for k, op, vals in reqs:
        if op == "=" and labels.get(k) != vals[0]:
            return False
        if op == "!=" and labels.get(k) == vals[0]:
            return False
        if op == "in" and labels.get(k) not in vals:
            return False
        if op == "notin" and k in labels and labels[k] in vals:
            return False
        if op == "exists" and k not in labels:
            return False
        if op == "!" and k in labels:
            return False
    return True


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    return "" if cur is None else str(cur)


def match_fields(sel, obj):
    for k, op, vals in parse_selector(sel):
        v = field_value(obj, k)
        if op == "=" and v != vals[0]:
            return False
        if op == "!=" and v == vals[0]:
            return False
    return True


# ---------------------------------------------------------------- server-side apply helpers

META_ID = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
           "selfLink", "deletionTimestamp"}


def leaves(obj, prefix=()):
    out = {}
    for k, v in obj.items():
        if not prefix and k in ("apiVersion", "kind", "status"):
            continue
        if prefix == ("metadata",) and k in META_ID:
            continue
        p = prefix + (k,)
        if isinstance(v, dict) and v:
            out.update(leaves(v, p))
        else:
            out[p] = v
    return out


def get_path(obj, p):
    cur = obj
    for k in p:
        if not isinstance(cur, dict) or k not in cur:
            return None, False
        cur = cur[k]
    return cur, True


def set_path(obj, p, v):
    cur = obj
    for k in p[:-1]:
        if not isinstance(cur.get(k), dict):
            cur[k] = {}
        cur = cur[k]
    cur[p[-1]] = copy.deepcopy(v)


def del_path(obj, p):
    cur = obj
    stack = []
    for k in p[:-1]:
        if not isinstance(cur, dict) or k not in cur:
            return
        stack.append((cur, k))
        cur = cur[k]
    if isinstance(cur, dict):
        cur.pop(p[-1], None)
    for parent, k in reversed(stack):
        if isinstance(parent[k], dict) and not parent[k] and k not in ("metadata", "spec"):
            del parent[k]


def fields_v1(paths):
    root = {}
    for p in paths:
        cur = root
        for k in p:
            cur = cur.setdefault(f"f:{k}", {})
    return root


def paths_from_fields_v1(f, prefix=()):
    out = set()
    for k, v in (f or {}).items():
        if not k.startswith("f:"):
            continue
        p = prefix + (k[2:],)
        if v:
            out |= paths_from_fields_v1(v, p)
        else:
            out.add(p)
    return out


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    res = copy.deepcopy(target)
    for k, v in patch.items():
        if v is None:
            res.pop(k, None)
        else:
            res[k] = merge_patch(res.get(k), v)
    return res


# ---------------------------------------------------------------- store

CLUSTER_SCOPED = {"nodes", "namespaces", "clusterroles", "clusterrolebindings", "customresourcedefinitions",
                  "persistentvolumes", "storageclasses", "priorityclasses", "certificatesigningrequests",
                  "validatingwebhookconfigurations", "mutatingwebhookconfigurations", "apiservices", "ingressclasses",
                  "csidrivers", "csinodes", "runtimeclasses", "volumeattachments", "validatingadmissionpolicies",
                  "validatingadmissionpolicybindings", "flowschemas", "prioritylevelconfigurations"}


class Store:
    def __init__(self, etcd, enc, prefix="/registry"):
        self.etcd = etcd
        self.enc = enc
        self.prefix = prefix.rstrip("/")

    def key(self, group, resource, ns, name=None):
        base = f"{self.prefix}/{resource}" if not group else f"{self.prefix}/{group}/{resource}"
        if ns:
            base += f"/{ns}"
        return f"{base}/{name}" if name is not None else base + "/"

    def _decode(self, resource, raw, rev):
        obj = json.loads(self.enc.decrypt(resource, raw))
        obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
        return obj

    def get(self, group, resource, ns, name):
        raw, rev = self.etcd.get(self.key(group, resource, ns, name))
        if raw is None:
            return None
        return self._decode(resource, raw, rev)

    def list(self, group, resource, ns):
        kvs, rev = self.etcd.list(self.key(group, resource, ns))
        objs = []
        for k, raw, r in kvs:
            rest = k[len(self.key(group, resource, ns)):]
            if not ns and resource not in CLUSTER_SCOPED and rest.count("/") != 1:
                continue
            if (ns or resource in CLUSTER_SCOPED) and "/" in rest:
                continue
            try:
                objs.append(self._decode(resource, raw, r))
            except Exception:  # noqa: BLE001 - skip undecodable entries
                continue
        return objs, rev

    def _enc(self, resource, obj):
        o = copy.deepcopy(obj)
        o["metadata"].pop("resourceVersion", None)
        return self.enc.encrypt(resource, json.dumps(o, sort_keys=True).encode())

    def create(self, group, resource, ns, obj):
        rev = self.etcd.create(self.key(group, resource, ns, obj["metadata"]["name"]), self._enc(resource, obj))
        if rev is None:
            return None
        obj["metadata"]["resourceVersion"] = str(rev)
        return obj

    def update(self, group, resource, ns, obj, expect_rev=None):
        k = self.key(group, resource, ns, obj["metadata"]["name"])
        if expect_rev:
            rev = self.etcd.update_if(k, self._enc(resource, obj), int(expect_rev))
            if rev is None:
                return None
        else:
            rev = self.etcd.put(k, self._enc(resource, obj))
        obj["metadata"]["resourceVersion"] = str(rev)
        return obj

    def delete(self, group, resource, ns, name):
        return self.etcd.delete(self.key(group, resource, ns, name))

    def all_objects(self):
        kvs, _ = self.etcd.list(self.prefix + "/")
        res = []
        for k, raw, r in kvs:
            resource = k[len(self.prefix) + 1:].split("/")[0]
            try:
                res.append((k, self._decode(resource if "." not in resource else k.split("/")[3], raw, r)))
            except Exception:  # noqa: BLE001
                continue
        return res


# ---------------------------------------------------------------- API server

class APIServer:
    def __init__(self, args):
        self.args = args
        self.ca_file = args.get("client-ca-file")
        self.ca_key = os.path.join(os.path.dirname(self.ca_file or "/etc/kubernetes/pki/ca.crt"), "ca.key")
        for f in ("tls-cert-file", "tls-private-key-file", "client-ca-file", "etcd-cafile", "etcd-certfile",
                  "etcd-keyfile", "service-account-key-file"):
            if args.get(f):
                check_file(f, args[f], f"unable to load {f}")
        if args.get("audit-policy-file"):
            p = args["audit-policy-file"]
            try:
                pol = yaml_load(read_visible(p))
            except FileNotFoundError:
                die(f'loading audit policy file: failed to read file path "{p}": open {p}: no such file or directory')
            except StandinError as e:
                die(f'loading audit policy file: failed decoding: {e}')
            if not isinstance(pol, dict) or pol.get("kind") != "Policy" or pol.get("apiVersion") != "audit.k8s.io/v1":
                die(f'loading audit policy file: failed decoding file "{p}": no kind "{(pol or {}).get("kind")}" is registered for version "{(pol or {}).get("apiVersion")}"')
            if not pol.get("rules"):
                die(f'loading audit policy file: loaded illegal policy with 0 rules from file {p}')
        self.audit = None
        if args.get("audit-log-path") and args["audit-log-path"] != "-":
            d = os.path.dirname(args["audit-log-path"])
            if not os.path.isdir(d) or not visible(d):
                die(f"failed to open log file: open {args['audit-log-path']}: no such file or directory")
            self.audit = open(args["audit-log-path"], "a", buffering=1)
            self.audit_lock = threading.Lock()
        ac = None
        if args.get("authentication-config"):
            if any(k.startswith("oidc-") for k in args):
                die("authentication-config file and oidc-* flags are mutually exclusive")
            p = args["authentication-config"]
            try:
                ac = yaml_load(read_visible(p))
            except FileNotFoundError:
                die(f"failed to read authentication-config file: open {p}: no such file or directory")
            if not isinstance(ac, dict) or ac.get("kind") != "AuthenticationConfiguration":
                die(f"failed to load authentication-config file \"{p}\": no kind \"{(ac or {}).get('kind')}\" is registered")
            if ac.get("anonymous") and "anonymous-auth" in args:
                die("--anonymous-auth flag cannot be set when anonymous field is configured in authentication configuration file")
        if args.get("admission-control-config-file"):
            p = args["admission-control-config-file"]
            try:
                adm = yaml_load(read_visible(p))
            except FileNotFoundError:
                die(f"failed to read plugin config: open {p}: no such file or directory")
            except StandinError as e:
                die(f"failed to read plugin config: {e}")
            if not isinstance(adm, dict) or adm.get("kind") != "AdmissionConfiguration" or \
                    adm.get("apiVersion") not in ("apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1alpha1", "apiserver.k8s.io/v1alpha1"):
                die(f'failed to read plugin config: no kind "{(adm or {}).get("kind")}" is registered for version "{(adm or {}).get("apiVersion")}"')
            for pl in adm.get("plugins") or []:
                if pl.get("name") not in ADMISSION_PLUGINS:
                    die(f'admission plugin "{pl.get("name")}" in the admission configuration is unknown')
                if pl.get("path") and not visible(pl["path"]):
                    die(f"couldn't open admission plugin configuration {pl['path']}: open {pl['path']}: no such file or directory")
        self.anonymous = args.get("anonymous-auth", "true") != "false"
        self.anonymous_paths = None  # None: any path (subject to authorization)
        if args.get("authentication-config"):
            anon = (ac or {}).get("anonymous")
            if anon is not None:
                self.anonymous = bool(anon.get("enabled"))
                if anon.get("conditions"):
                    self.anonymous_paths = [c.get("path") for c in anon["conditions"]]
        self.enc = Encryption(args.get("encryption-provider-config"))
        self.etcd = Etcd(args.get("etcd-servers", "http://127.0.0.1:2379"), args.get("etcd-cafile"),
                         args.get("etcd-certfile"), args.get("etcd-keyfile"))
        self.store = Store(self.etcd, self.enc, args.get("etcd-prefix", "/registry"))
        self.bootstrap_auth = args.get("enable-bootstrap-token-auth") == "true"
        self.rbac_cache = (0, [])
        self.ready = False

    # ---------------- bootstrap objects
    def bootstrap(self):
        while True:
            try:
                for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                    if self.store.get("", "namespaces", None, ns) is None:
                        self.store.create("", "namespaces", None, self.new_meta({
                            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}, None))
                for role in ("cluster-admin", "admin", "edit", "view"):
                    g = "rbac.authorization.k8s.io"
                    if self.store.get(g, "clusterroles", None, role) is None:
                        self.store.create(g, "clusterroles", None, self.new_meta({
                            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                            "metadata": {"name": role, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}] if role == "cluster-admin" else []}, None))
                self.ready = True
                klog("I", "stand-in kube-apiserver ready", file="server.go", line=1)
                return
            except Exception as e:  # noqa: BLE001 - etcd not up yet
                klog("W", "waiting for etcd: %s", e, file="storage.go", line=1)
                time.sleep(1)

    def new_meta(self, obj, ns):
        m = obj.setdefault("metadata", {})
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = rfc3339(now_utc())
        if ns:
            m["namespace"] = ns
        if "spec" in obj:
            m["generation"] = 1
        return obj

    # ---------------- background controllers (token cleaner, garbage collector)
    def controllers(self):
        while True:
            time.sleep(3)
            if not self.ready:
                continue
            try:
                self.gc()
            except Exception as e:  # noqa: BLE001
                klog("W", "gc: %s", e, file="garbagecollector.go", line=1)

    def gc(self):
        nss, _ = self.store.list("", "namespaces", None)
        for n in nss:
            if n["metadata"].get("deletionTimestamp"):
                nm = n["metadata"]["name"]
                for k, o in self.store.all_objects():
                    if o["metadata"].get("namespace") == nm:
                        self.etcd.delete(k)
                self.store.delete("", "namespaces", None, nm)
        if time.time() - getattr(self, "_last_full_gc", 0) < 30:
            return
        self._last_full_gc = time.time()
        secs, _ = self.store.list("", "secrets", "kube-system")
        now = now_utc()
        for s in secs:
            if s.get("type") == "bootstrap.kubernetes.io/token":
                exp = (s.get("data") or {}).get("expiration")
                if exp and parse_rfc3339(unb64(exp).decode()) < now:
                    self.store.delete("", "secrets", "kube-system", s["metadata"]["name"])
        uids = set()
        objs = self.store.all_objects()
        for _, o in objs:
            uids.add(o["metadata"].get("uid"))
        for k, o in objs:
            refs = o["metadata"].get("ownerReferences") or []
            if refs and all(r.get("uid") not in uids for r in refs):
                self.etcd.delete(k)

    # ---------------- authn
    def authenticate(self, handler):
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            m = re.match(r"^([a-z0-9]{6})\.([a-z0-9]{16})$", tok)
            if not m or not self.bootstrap_auth:
                return None
            s = self.store.get("", "secrets", "kube-system", f"bootstrap-token-{m.group(1)}")
            if not s or s.get("type") != "bootstrap.kubernetes.io/token":
                return None
            d = {k: unb64(v).decode() for k, v in (s.get("data") or {}).items()}
            if not hmac.compare_digest(d.get("token-secret", ""), m.group(2)):
                return None
            if d.get("usage-bootstrap-authentication") != "true":
                return None
            if d.get("expiration") and parse_rfc3339(d["expiration"]) < now_utc():
                return None
            groups = ["system:bootstrappers"] + [g for g in d.get("auth-extra-groups", "").split(",") if g]
            return {"user": f"system:bootstrap:{m.group(1)}", "groups": groups + ["system:authenticated"]}
        cert = handler.peer_cert
        if cert:
            cn, orgs = None, []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            return {"user": cn, "groups": orgs + ["system:authenticated"]}
        return {"user": "system:anonymous", "groups": ["system:unauthenticated"]}

    # ---------------- authz (a compact stand-in for the RBAC + Node authorizers)
    def cluster_admin_subjects(self):
        t, subs = self.rbac_cache
        if time.time() - t < 2:
            return subs
        subs = []
        crbs, _ = self.store.list("rbac.authorization.k8s.io", "clusterrolebindings", None)
        for b in crbs:
            if (b.get("roleRef") or {}).get("name") == "cluster-admin":
                for s in b.get("subjects") or []:
                    subs.append((s.get("kind"), s.get("name")))
        self.rbac_cache = (time.time(), subs)
        return subs

    def authorize(self, ident, verb, group, resource, ns, name, path):
        u, groups = ident["user"], ident["groups"]
        if "system:masters" in groups:
            return True
        for kind, n in self.cluster_admin_subjects():
            if (kind == "User" and n == u) or (kind == "Group" and n in groups):
                return True
        if resource is None:
            return path in ("/healthz", "/livez", "/readyz", "/version", "/version/") or path.startswith(("/healthz", "/livez", "/readyz")) \
                or ("system:authenticated" in groups and path in ("/api", "/apis", "/openapi/v2"))
        if resource == "configmaps" and ns == "kube-public" and name == "cluster-info" and verb == "get":
            return True
        if u == "system:anonymous":
            return False
        if "system:nodes" in groups and u.startswith("system:node:"):
            node = u[len("system:node:"):]
            if resource == "nodes":
                return verb in ("get", "list", "watch", "create") or name == node
            if resource in ("pods", "events", "leases", "certificatesigningrequests", "configmaps", "services",
                            "endpoints", "endpointslices", "daemonsets", "csinodes", "runtimeclasses"):
                return True
            return verb in ("get", "list", "watch") and resource != "secrets"
        if u in ("system:kube-controller-manager", "system:kube-scheduler"):
            return verb in ("get", "list", "watch") or resource in ("leases", "events")
        if "system:bootstrappers" in groups:
            if resource == "certificatesigningrequests" and verb in ("create", "get", "list", "watch"):
                return True
            if resource == "nodes" and verb == "get":
                return True
            if resource == "configmaps" and ns == "kube-system" and verb == "get" and \
                    name in ("kubeadm-config", "kubelet-config", "kube-proxy"):
                return True
            if resource == "secrets" and ns == "kube-system" and name == "kubeadm-certs" and verb == "get":
                rb = self.store.get("rbac.authorization.k8s.io", "rolebindings", "kube-system", "kubeadm:kubeadm-certs")
                if rb:
                    return any(s.get("kind") == "Group" and s.get("name") in groups for s in rb.get("subjects") or [])
            return False
        return False

    # ---------------- audit
    def audit_event(self, ident, verb, path, code, resource, ns, name):
        if not self.audit:
            return
        ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": str(uuid.uuid4()),
              "stage": "ResponseComplete", "requestURI": path, "verb": verb,
              "user": {"username": ident["user"], "groups": ident["groups"]},
              "objectRef": {"resource": resource, "namespace": ns, "name": name} if resource else None,
              "responseStatus": {"metadata": {}, "code": code},
              "requestReceivedTimestamp": rfc3339(now_utc()), "stageTimestamp": rfc3339(now_utc())}
        with self.audit_lock:
            self.audit.write(json.dumps(ev) + "\n")


def group_of(obj):
    api = obj.get("apiVersion") or ""
    return api.split("/")[0] if "/" in api else ""


def normalize(resource, obj):
    """Secret stringData is write-only: merged into data (base64) like the real API server does."""
    if resource == "secrets" and isinstance(obj, dict) and obj.get("stringData"):
        data = obj.setdefault("data", {}) or {}
        for k, v in obj.pop("stringData").items():
            data[k] = b64(str(v))
        obj["data"] = data
    return obj


def defaults(resource, obj):
    """The API server's defaulting for the fields otp-provision's scripts look at."""
    if resource == "secrets" and not obj.get("type"):
        obj["type"] = "Opaque"
    if resource == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    return obj


class JSONPatchError(Exception):
    pass


def json_patch(doc, ops):
    """RFC 6902 with evanphx/json-patch's error texts."""
    if not isinstance(ops, list):
        raise JSONPatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)

    def split(p):
        if p == "":
            return []
        return [x.replace("~1", "/").replace("~0", "~") for x in p.lstrip("/").split("/")]

    def container(p, op):
        ps = split(p)
        if not ps:
            raise JSONPatchError(f'{op} operation does not apply: doc is missing path: "{p}": missing value')
        cur = doc
        for x in ps[:-1]:
            if isinstance(cur, dict) and x in cur:
                cur = cur[x]
            elif isinstance(cur, list) and x.isdigit() and int(x) < len(cur):
                cur = cur[int(x)]
            else:
                raise JSONPatchError(f'{op} operation does not apply: doc is missing path: "{p}": missing value')
        return cur, ps[-1]

    def get(p, op):
        c, k = container(p, op)
        if isinstance(c, dict) and k in c:
            return c[k]
        if isinstance(c, list) and k.isdigit() and int(k) < len(c):
            return c[int(k)]
        raise JSONPatchError(f'{op} operation does not apply: doc is missing path: "{p}": missing value')

    def add(p, val, op):
        c, k = container(p, op)
        if isinstance(c, dict):
            c[k] = val
        elif isinstance(c, list):
            if k == "-":
                c.append(val)
            elif k.isdigit() and int(k) <= len(c):
                c.insert(int(k), val)
            else:
                raise JSONPatchError(f"{op} operation does not apply: doc is missing path: \"{p}\": missing value")
        else:
            raise JSONPatchError(f'{op} operation does not apply: doc is missing path: "{p}": missing value')

    def remove(p, op):
        get(p, op)
        c, k = container(p, op)
        if isinstance(c, dict):
            del c[k]
        else:
            del c[int(k)]

    for o in ops:
        op, p = o.get("op"), o.get("path", "")
        if op == "add":
            add(p, o.get("value"), op)
        elif op == "remove":
            remove(p, op)
        elif op == "replace":
            get(p, op)
            remove(p, op)
            add(p, o.get("value"), op)
        elif op == "move":
            v = get(o.get("from", ""), op)
            remove(o.get("from", ""), op)
            add(p, v, op)
        elif op == "copy":
            add(p, copy.deepcopy(get(o.get("from", ""), op)), op)
        elif op == "test":
            if get(p, op) != o.get("value"):
                raise JSONPatchError(f"testing value {p} failed: test failed")
        else:
            raise JSONPatchError(f"Unexpected kind: {op}")
    return doc


WORKLOADS = {"deployments", "daemonsets", "statefulsets", "replicasets", "jobs"}


def validate_object(kind, resource, obj):
    """The few schema rules whose absence would let a broken manifest pass silently."""
    name = (obj.get("metadata") or {}).get("name", "")
    errs = []
    grp = (obj.get("apiVersion") or "").split("/")[0] if "/" in (obj.get("apiVersion") or "") else ""
    if resource in WORKLOADS:
        spec = obj.get("spec") or {}
        tspec = ((spec.get("template") or {}).get("spec")) or {}
        if resource != "jobs" and not spec.get("selector"):
            errs.append("spec.selector: Required value")
        if not tspec.get("containers"):
            errs.append("spec.template.spec.containers: Required value")
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if sel and any(labels.get(k) != v for k, v in sel.items()):
            errs.append("spec.template.metadata.labels: Invalid value: %s: `selector` does not match template `labels`" % json.dumps(labels))
    if resource == "pods" and not (obj.get("spec") or {}).get("containers"):
        errs.append("spec.containers: Required value")
    if errs:
        k = f"{kind}.{grp}" if grp else kind
        msg = f'{k} "{name}" is invalid: ' + (errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
        return status(422, "Invalid", msg, {"name": name, "group": grp, "kind": kind})
    return None


STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
               "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def validate_update(kind, resource, cur, new):
    """ValidateStatefulSetUpdate: only some spec fields of a StatefulSet may change."""
    if resource != "statefulsets":
        return None
    a = {k: v for k, v in (cur.get("spec") or {}).items() if k not in STS_MUTABLE}
    b = {k: v for k, v in (new.get("spec") or {}).items() if k not in STS_MUTABLE}
    if a == b:
        return None
    name = (new.get("metadata") or {}).get("name", "")
    return status(422, "Invalid", f'StatefulSet.apps "{name}" is invalid: spec: Forbidden: updates to statefulset spec for fields '
                  "other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
                  "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                  {"name": name, "group": "apps", "kind": kind,
                   "causes": [{"reason": "FieldValueForbidden", "message": "Forbidden: updates to statefulset spec for fields other than "
                               "'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
                               "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden", "field": "spec"}]})


def status(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
         "reason": reason, "code": code}
    if details:
        s["details"] = details
    return code, s


def singular(resource):
    return resource[:-1] if resource.endswith("s") else resource


def forbidden(ident, verb, group, resource, ns, name, path):
    if resource is None:
        return status(403, "Forbidden", f'forbidden: User "{ident["user"]}" cannot {verb} path "{path}"',
                      {})
    scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    what = f'{resource} "{name}" is forbidden' if name else f"{resource} is forbidden"
    if group:
        what = what.replace(resource, f"{resource}.{group}", 1)
    return status(403, "Forbidden", f'{what}: User "{ident["user"]}" cannot {verb} resource "{resource}" in API group '
                  f'"{group}" {scope}', {"name": name, "group": group, "kind": resource} if name else {"group": group, "kind": resource})


def not_found(group, resource, name):
    r = f"{resource}.{group}" if group else resource
    return status(404, "NotFound", f'{r} "{name}" not found', {"name": name, "group": group, "kind": resource})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver"
    api = None  # set at startup

    def log_message(self, fmt, *args):  # quiet; the audit log records requests
        pass

    def setup(self):
        super().setup()
        self.peer_cert = None
        try:
            self.connection.settimeout(30)
            self.connection.do_handshake()
            self.peer_cert = self.connection.getpeercert()
        except (ssl.SSLError, OSError):
            self.peer_cert = None

    def send_json(self, code, obj, ctype="application/json"):
        body = obj if isinstance(obj, bytes) else (json.dumps(obj) if not isinstance(obj, str) else obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        api = self.api
        u = urllib.parse.urlsplit(self.path)
        path = u.path.rstrip("/") or "/"
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        body = self.read_body()
        ident = api.authenticate(self)
        if ident is None:
            code, obj = status(401, "Unauthorized", "Unauthorized")
            return self.send_json(code, obj)
        if ident["user"] == "system:anonymous" and (not api.anonymous or (
                api.anonymous_paths is not None and u.path not in api.anonymous_paths)):
            code, obj = status(401, "Unauthorized", "Unauthorized")
            return self.send_json(code, obj)
        try:
            code, obj = self.route(method, path, q, body, ident)
        except StandinError as e:
            code, obj = status(500, "InternalError", f"Internal error occurred: {e}")
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            code, obj = status(500, "InternalError", f"Internal error occurred: {e}")
        if code is None:
            return
        if isinstance(obj, str):
            self.send_json(code, obj, "text/plain; charset=utf-8")
        else:
            self.send_json(code, obj)

    # ---------------- routing
    def route(self, method, path, q, body, ident):
        api = self.api
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            ok = api.ready
            if ok:
                try:
                    api.etcd.call("/v3/maintenance/status", {})
                except Exception:  # noqa: BLE001
                    ok = path.startswith("/livez")
            if "verbose" in q:
                txt = "[+]ping ok\n[+]log ok\n[%s]etcd %s\n[+]poststarthook/start-apiserver-admission-initializer ok\n" % (
                    "+" if ok else "-", "ok" if ok else "failed: reason withheld")
                txt += f"{path[1:]} check {'passed' if ok else 'failed'}\n"
                return (200 if ok else 500), txt
            return (200, "ok") if ok else (500, "[-]etcd failed: reason withheld\nhealthz check failed\n")
        if path == "/version":
            v = K8S_VERSION
            mj, mn = v[1:].split(".")[:2]
            return 200, {"major": mj, "minor": mn, "emulationMajor": mj, "emulationMinor": mn,
                         "minCompatibilityMajor": mj, "minCompatibilityMinor": str(int(mn) - 1), "gitVersion": v,
                         "gitCommit": GIT_COMMIT, "gitTreeState": "clean", "buildDate": BUILD_DATE,
                         "goVersion": "go1.24.5", "compiler": "gc", "platform": "linux/amd64"}
        if not api.ready:
            return status(503, "ServiceUnavailable", "apiserver not ready")
        if path == "/api":
            if not api.authorize(ident, "get", "", None, None, None, path):
                return forbidden(ident, "get", "", None, None, None, path)
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{api.args.get('advertise-address')}:{api.args.get('secure-port', '6443')}"}]}
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            if not api.authorize(ident, "get", "", None, None, None, "/api"):
                return forbidden(ident, "get", "", None, None, None, path)
            return self.openapi_v3(path)
        if path == "/apis":
            if not api.authorize(ident, "get", "", None, None, None, "/api"):
                return forbidden(ident, "get", "", None, None, None, path)
            return 200, self.discovery_groups()
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            if not api.authorize(ident, "get", "", None, None, None, path):
                return forbidden(ident, "get", "", None, None, None, path)
            return status(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            if not api.authorize(ident, "get", "", None, None, None, "/api"):
                return forbidden(ident, "get", "", None, None, None, path)
            res = self.discovery_resources(group, version)
            if res is None:
                return status(404, "NotFound", "the server could not find the requested resource")
            return 200, res
        ns = name = sub = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, resource = rest[1], rest[2]
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
        else:
            resource = rest[0]
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
        if ns and resource in CLUSTER_SCOPED:
            return status(404, "NotFound", "the server could not find the requested resource")
        verb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}[method]
        if q.get("watch") in ("true", "1"):
            verb = "watch"
        if not api.authorize(ident, verb, group, resource, ns, name, path):
            res = forbidden(ident, verb, group, resource, ns, name, path)
            api.audit_event(ident, verb, self.path, 403, resource, ns, name)
            return res
        r = self.handle_resource(method, group, version, resource, ns, name, sub, q, body, ident)
        if r is None:
            return None, None
        api.audit_event(ident, verb, self.path, r[0], resource, ns, name)
        return r

    VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    def all_types(self):
        types = [(g, v, r, k, nsd, al) for g, v, r, k, nsd, al in BUILTIN]
        try:
            crds, _ = self.api.store.list("apiextensions.k8s.io", "customresourcedefinitions", None)
        except Exception:  # noqa: BLE001
            crds = []
        for c in crds:
            sp = c.get("spec") or {}
            names = sp.get("names") or {}
            for ver in sp.get("versions") or []:
                if ver.get("served", True):
                    types.append((sp.get("group"), ver["name"], names.get("plural"), names.get("kind"),
                                  sp.get("scope") == "Namespaced", list(names.get("shortNames") or [])))
        return types

    def discovery_groups(self):
        groups = {}
        for g, v, r, k, nsd, al in self.all_types():
            if g:
                groups.setdefault(g, [])
                if v not in groups[g]:
                    groups[g].append(v)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}} for g, vs in groups.items()]}

    def discovery_resources(self, group, version):
        res = []
        for g, v, r, k, nsd, al in self.all_types():
            if g == group and v == version:
                e = {"name": r, "singularName": k.lower(), "namespaced": nsd, "kind": k, "verbs": self.VERBS}
                if al:
                    e["shortNames"] = [a for a in al if a != k.lower() and a != r[:-1]]
                res.append(e)
                if r in ("nodes", "pods", "namespaces", "deployments", "daemonsets", "statefulsets"):
                    res.append({"name": f"{r}/status", "singularName": "", "namespaced": nsd, "kind": k,
                                "verbs": ["get", "patch", "update"]})
        if not res:
            return None
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
                "resources": res}

    def openapi_v3(self, path):
        """Just enough OpenAPI v3 for kubectl to see that PATCH supports fieldValidation
        (server-side validation); schemas are not served."""
        types = self.all_types()
        gvs = sorted({(g, v) for g, v, *_ in types})
        if path == "/openapi/v3":
            return 200, {"paths": {(f"apis/{g}/{v}" if g else f"api/{v}"): {
                "serverRelativeURL": f"/openapi/v3/{'apis/' + g if g else 'api'}/{v}?hash=standin{K8S_VERSION}"} for g, v in gvs}}
        rel = path[len("/openapi/v3/"):]
        parts = rel.split("/")
        if parts[0] == "api" and len(parts) == 2:
            g, v = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            g, v = parts[1], parts[2]
        else:
            return status(404, "NotFound", "the server could not find the requested resource")
        params = [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
        paths = {}
        for tg, tv, r, k, nsd, _ in types:
            if (tg, tv) != (g, v):
                continue
            root = f"/apis/{g}/{v}" if g else f"/api/{v}"
            p = f"{root}/namespaces/{{namespace}}/{r}/{{name}}" if nsd else f"{root}/{r}/{{name}}"
            gvk = {"group": g, "version": v, "kind": k}
            paths[p] = {"patch": {"operationId": f"patch{k}", "parameters": params, "x-kubernetes-group-version-kind": gvk,
                                  "x-kubernetes-action": "patch", "responses": {"200": {"description": "OK"}}},
                        "get": {"operationId": f"read{k}", "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get",
                                "responses": {"200": {"description": "OK"}}}}
        if not paths:
            return status(404, "NotFound", "the server could not find the requested resource")
        return 200, {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": K8S_VERSION}, "paths": paths,
                     "components": {"schemas": {}}}

    def as_table(self, resource, objs, rv):
        """meta.k8s.io/v1 Table, what kubectl asks for when printing."""
        def col(name, typ="string", fmt="", prio=0, desc=""):
            return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": prio}
        if resource == "nodes":
            cols = [col("Name", fmt="name"), col("Status"), col("Roles"), col("Age", typ="string"), col("Version"),
                    col("Internal-IP", prio=1), col("External-IP", prio=1), col("OS-Image", prio=1),
                    col("Kernel-Version", prio=1), col("Container-Runtime", prio=1)]
        elif resource == "pods":
            cols = [col("Name", fmt="name"), col("Ready"), col("Status"), col("Restarts", typ="string"), col("Age"),
                    col("IP", prio=1), col("Node", prio=1), col("Nominated Node", prio=1), col("Readiness Gates", prio=1)]
        elif resource == "namespaces":
            cols = [col("Name", fmt="name"), col("Status"), col("Age")]
        else:
            cols = [col("Name", fmt="name"), col("Age")]
        rows = []
        for o in objs:
            md = o.get("metadata") or {}
            age = human_age(parse_rfc3339(md["creationTimestamp"])) if md.get("creationTimestamp") else "<unknown>"
            st = o.get("status") or {}
            if resource == "nodes":
                ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
                s_ = "Ready" if ready and ready.get("status") == "True" else "NotReady"
                if (o.get("spec") or {}).get("unschedulable"):
                    s_ += ",SchedulingDisabled"
                roles = sorted(k.split("/", 1)[1] for k in (md.get("labels") or {}) if k.startswith("node-role.kubernetes.io/"))
                info = st.get("nodeInfo") or {}
                addrs = {a["type"]: a["address"] for a in st.get("addresses") or []}
                cells = [md["name"], s_, ",".join(roles) or "<none>", age, info.get("kubeletVersion", ""),
                         addrs.get("InternalIP", "<none>"), addrs.get("ExternalIP", "<none>"), info.get("osImage", ""),
                         info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]
            elif resource == "pods":
                cs = st.get("containerStatuses") or []
                phase = st.get("phase", "Pending")
                for c in cs:
                    w = (c.get("state") or {}).get("waiting")
                    if w:
                        phase = w.get("reason", phase)
                cells = [md["name"], f"{sum(1 for c in cs if c.get('ready'))}/{len((o.get('spec') or {}).get('containers') or [])}",
                         phase, str(sum(c.get("restartCount", 0) for c in cs)), age, st.get("podIP", "<none>"),
                         (o.get("spec") or {}).get("nodeName", "<none>"), "<none>", "<none>"]
            elif resource == "namespaces":
                cells = [md["name"], st.get("phase", "Active"), age]
            else:
                cells = [md["name"], age]
            pm = {k: v for k, v in md.items() if k != "managedFields"}
            rows.append({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                                    "metadata": pm}})
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(rv)},
                "columnDefinitions": cols, "rows": rows}

    def wants_table(self):
        acc = self.headers.get("Accept") or ""
        first = acc.split(",")[0]
        return "as=Table" in first

    def decorate(self, resource, obj):
        """Read-time behaviour of controllers the stand-in does not run separately."""
        if resource == "nodes":
            for c in (obj.get("status") or {}).get("conditions") or []:
                if c.get("type") == "Ready" and c.get("lastHeartbeatTime"):
                    if (now_utc() - parse_rfc3339(c["lastHeartbeatTime"])).total_seconds() > 40:
                        c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
        if resource == "configmaps" and obj["metadata"].get("namespace") == "kube-public" and obj["metadata"]["name"] == "cluster-info":
            # bootstrapsigner: one JWS per valid signing token
            data = obj.setdefault("data", {})
            for k in [k for k in data if k.startswith("jws-kubeconfig-")]:
                del data[k]
            secs, _ = self.api.store.list("", "secrets", "kube-system")
            for s in secs:
                if s.get("type") != "bootstrap.kubernetes.io/token":
                    continue
                d = {k: unb64(v).decode() for k, v in (s.get("data") or {}).items()}
                if d.get("usage-bootstrap-signing") != "true":
                    continue
                if d.get("expiration") and parse_rfc3339(d["expiration"]) < now_utc():
                    continue
                if "kubeconfig" in data and d.get("token-id") and d.get("token-secret"):
                    data[f"jws-kubeconfig-{d['token-id']}"] = jws_detached(data["kubeconfig"], d["token-id"], d["token-secret"])
        if resource in ("daemonsets", "deployments", "statefulsets", "replicasets") and group_of(obj) == "apps":
            self.workload_status(resource, obj)
        if resource == "poddisruptionbudgets":
            # disruption controller: healthy matching pods against minAvailable / maxUnavailable
            spec = obj.get("spec") or {}
            sel = (spec.get("selector") or {}).get("matchLabels") or {}
            pods, _ = self.api.store.list("", "pods", obj["metadata"].get("namespace"))
            match = [p for p in pods if sel and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())]
            healthy = sum(1 for p in match if any(c.get("type") == "Ready" and c.get("status") == "True"
                                                  for c in (p.get("status") or {}).get("conditions") or []))
            n = len(match)

            def amount(v):
                if isinstance(v, str) and v.endswith("%"):
                    import math
                    return math.ceil(int(v[:-1]) * n / 100)
                return int(v or 0)
            if "minAvailable" in spec:
                desired = amount(spec["minAvailable"])
            elif "maxUnavailable" in spec:
                desired = n - amount(spec["maxUnavailable"])
            else:
                desired = n
            obj["status"] = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": n,
                             "disruptionsAllowed": max(0, healthy - desired), "observedGeneration": obj["metadata"].get("generation", 1)}
        if resource == "secrets" and obj.get("type") == "bootstrap.kubernetes.io/token":
            exp = (obj.get("data") or {}).get("expiration")
            if exp and parse_rfc3339(unb64(exp).decode()) < now_utc():
                return None
        return obj

    def schedulable_nodes(self, podspec, daemonset):
        """Nodes a Pod with this spec could run on (nodeSelector, taints vs tolerations); DaemonSet
        Pods tolerate the node.kubernetes.io/* condition taints like the DaemonSet controller adds."""
        nodes, _ = self.api.store.list("", "nodes", None)
        tols = podspec.get("tolerations") or []

        def tolerated(t):
            for tol in tols:
                if tol.get("effect") and tol["effect"] != t.get("effect"):
                    continue
                if tol.get("operator") == "Exists" and (not tol.get("key") or tol["key"] == t.get("key")):
                    return True
                if tol.get("key") == t.get("key") and (tol.get("value") or "") == (t.get("value") or ""):
                    return True
            return daemonset and t.get("key", "").startswith("node.kubernetes.io/")
        res = []
        for n in nodes:
            n = self.decorate("nodes", n)
            labels = n["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in (podspec.get("nodeSelector") or {}).items()):
                continue
            taints = [t for t in (n.get("spec") or {}).get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
            if not all(tolerated(t) for t in taints):
                continue
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in (n.get("status") or {}).get("conditions") or [])
            res.append((n, ready))
        return res

    def workload_status(self, resource, obj):
        """What the workload controllers and kubelets would report if the images could run: Pods
        are Ready on Ready nodes they can be scheduled on (no Pods are created)."""
        spec = obj.get("spec") or {}
        podspec = ((spec.get("template") or {}).get("spec")) or {}
        gen = obj["metadata"].get("generation", 1)
        nodes = self.schedulable_nodes(podspec, resource == "daemonsets")
        ready_nodes = [n for n, r in nodes if r]
        if resource == "daemonsets":
            d, r = len(nodes), len(ready_nodes)
            st = {"currentNumberScheduled": d, "desiredNumberScheduled": d, "numberMisscheduled": 0, "numberReady": r,
                  "observedGeneration": gen, "updatedNumberScheduled": d, "numberAvailable": r}
            if d - r:
                st["numberUnavailable"] = d - r
        else:
            want = spec.get("replicas", 1)
            r = want if ready_nodes else 0
            st = {"observedGeneration": gen, "replicas": want, "updatedReplicas": want}
            if r:
                st.update(readyReplicas=r, availableReplicas=r)
            if want - r:
                st["unavailableReplicas"] = want - r
            if resource == "deployments":
                now = rfc3339(now_utc())
                st["conditions"] = [
                    {"type": "Available", "status": "True" if r == want else "False",
                     "reason": "MinimumReplicasAvailable" if r == want else "MinimumReplicasUnavailable",
                     "message": "Deployment has minimum availability." if r == want else "Deployment does not have minimum availability.",
                     "lastUpdateTime": now, "lastTransitionTime": now},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                     "message": f'ReplicaSet "{obj["metadata"]["name"]}-standin" has successfully progressed.',
                     "lastUpdateTime": now, "lastTransitionTime": now}]
            if resource == "statefulsets":
                rev = f'{obj["metadata"]["name"]}-{gen}'
                st.update(currentReplicas=want, currentRevision=rev, updateRevision=rev)
        obj["status"] = st

    def owner_gone(self, obj):
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs:
            return False
        for r in refs:
            if r.get("kind") == "Secret" and r.get("apiVersion") == "v1":
                o = self.api.store.get("", "secrets", obj["metadata"].get("namespace"), r["name"])
                if o and o["metadata"].get("uid") == r.get("uid") and self.decorate("secrets", copy.deepcopy(o)) is not None:
                    return False
            else:
                return False
        return True

    def handle_resource(self, method, group, version, resource, ns, name, sub, q, body, ident):
        st = self.api.store
        gv = f"{group}/{version}" if group else version
        if method == "GET" and q.get("watch") in ("true", "1") and not name:
            return self.watch(group, version, resource, ns, q)
        if method == "GET":
            if name:
                obj = st.get(group, resource, ns, name)
                if obj is not None:
                    obj = self.decorate(resource, obj)
                    if obj is not None and self.owner_gone(obj):
                        obj = None
                if obj is None:
                    return not_found(group, resource, name)
                if self.wants_table():
                    return 200, self.as_table(resource, [obj], obj["metadata"].get("resourceVersion", ""))
                return 200, obj
            objs, rev = st.list(group, resource, ns)
            sel = parse_selector(q.get("labelSelector"))
            items = []
            for o in objs:
                o = self.decorate(resource, o)
                if o is None or self.owner_gone(o):
                    continue
                if not match_selector(sel, o["metadata"].get("labels")):
                    continue
                if q.get("fieldSelector") and not match_fields(q["fieldSelector"], o):
                    continue
                items.append(o)
            if self.wants_table():
                return 200, self.as_table(resource, items, rev)
            kind = (items[0]["kind"] if items else self.kind_for(resource)) + "List"
            return 200, {"kind": kind, "apiVersion": gv, "metadata": {"resourceVersion": str(rev)}, "items": items}
        if method == "POST" and name:
            if resource == "pods" and sub == "eviction":
                return self.evict(ns, name)
            return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if method == "POST":
            try:
                obj = json.loads(body)
            except ValueError as e:
                return status(400, "BadRequest", f"the object provided is unrecognized: {e}")
            normalize(resource, obj)
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            if not meta.get("name"):
                return status(422, "Invalid", f'{self.kind_for(resource)} "" is invalid: metadata.name: Required value: name or generateName is required')
            if ns:
                nso = st.get("", "namespaces", None, ns)
                if nso is None:
                    return status(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
                if nso["metadata"].get("deletionTimestamp"):
                    return status(403, "Forbidden", f"{resource} \"{meta['name']}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated")
            if ns and meta.get("namespace") and meta["namespace"] != ns:
                return status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            self.api.new_meta(obj, ns)
            obj.setdefault("apiVersion", gv)
            obj.setdefault("kind", self.kind_for(resource))
            err = validate_object(obj["kind"], resource, obj)
            if err:
                return err
            if resource == "certificatesigningrequests":
                err = self.sign_csr(obj, ident)
                if err:
                    return err
            if resource == "namespaces":
                obj.setdefault("status", {"phase": "Active"})
                obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            self.set_managed(obj, q.get("fieldManager") or self.user_agent_manager(), "Update", None, gv)
            defaults(resource, obj)
            if q.get("dryRun") == "All":
                if st.get(group, resource, ns, meta["name"]) is None:
                    return 201, obj
                res = None
            else:
                res = st.create(group, resource, ns, obj)
            if res is None:
                return status(409, "AlreadyExists", f'{resource if not group else resource + "." + group} "{meta["name"]}" already exists',
                              {"name": meta["name"], "group": group, "kind": resource})
            return 201, res
        if method == "PUT":
            try:
                obj = json.loads(body)
            except ValueError as e:
                return status(400, "BadRequest", f"the object provided is unrecognized: {e}")
            normalize(resource, obj)
            cur = st.get(group, resource, ns, name)
            if cur is None:
                return not_found(group, resource, name)
            want_rv = obj.get("metadata", {}).get("resourceVersion")
            if resource == "certificatesigningrequests" and sub == "approval":
                return self.approve_csr(group, cur, obj, ident)
            if sub == "status":
                new = copy.deepcopy(cur)
                new["status"] = obj.get("status")
            else:
                new = obj
                for k in ("uid", "creationTimestamp", "namespace"):
                    if k in cur["metadata"]:
                        new["metadata"][k] = cur["metadata"][k]
                if "status" in cur and "status" not in new:
                    new["status"] = cur["status"]
                if new.get("spec") != cur.get("spec"):
                    new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
                if not new["metadata"].get("managedFields"):
                    new["metadata"]["managedFields"] = cur["metadata"].get("managedFields")
                err = validate_update(cur.get("kind") or self.kind_for(resource), resource, cur, new)
                if err:
                    return err
            res = st.update(group, resource, ns, new, want_rv)
            if res is None:
                return status(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
                              "modified; please apply your changes to the latest version and try again",
                              {"name": name, "kind": resource})
            return 200, res
        if method == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0]
            cur = st.get(group, resource, ns, name)
            if ctype == "application/apply-patch+yaml":
                return self.apply(group, version, resource, ns, name, cur, q, body)
            if cur is None:
                return not_found(group, resource, name)
            try:
                patch = json.loads(body)
            except ValueError as e:
                return status(400, "BadRequest", f"error decoding patch: {e}")
            if ctype == "application/json-patch+json":
                try:
                    new = json_patch(cur, patch)
                except JSONPatchError as e:  # interpretJSONPatchError: a failed test is 422, the rest 400
                    if "test failed" in str(e):
                        return status(422, "Invalid", "the server rejected our request due to an error in our request")
                    return status(400, "BadRequest", str(e))
            elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                new = merge_patch(cur, patch)  # strategic: lists replaced, like a merge patch
            else:
                return status(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: '
                              'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml')
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                return status(422, "Invalid", "the server rejected our request due to an error in our request")
            new["metadata"]["name"] = name
            new["metadata"]["uid"] = cur["metadata"]["uid"]
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if new == cur:  # no-op: nothing written, same resourceVersion
                return 200, cur
            if new.get("spec") != cur.get("spec"):
                new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
            self.take_over(new, cur, q.get("fieldManager") or self.user_agent_manager(), gv)
            err = validate_update(cur.get("kind") or self.kind_for(resource), resource, cur, new)
            if err:
                return err
            if q.get("dryRun") == "All":
                return 200, new
            res = st.update(group, resource, ns, new, cur["metadata"]["resourceVersion"])
            if res is None:
                return status(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified')
            return 200, res
        if method == "DELETE":
            if not name:
                objs, _ = st.list(group, resource, ns)
                sel = parse_selector(q.get("labelSelector"))
                items = [o for o in objs if match_selector(sel, o["metadata"].get("labels"))]
                for o in items:
                    st.delete(group, resource, ns, o["metadata"]["name"])
                return 200, {"kind": self.kind_for(resource) + "List", "apiVersion": gv, "metadata": {}, "items": items}
            cur = st.get(group, resource, ns, name)
            if cur is None:
                return not_found(group, resource, name)
            try:
                opts = json.loads(body) if body else {}
            except ValueError:
                opts = {}
            policy = (opts or {}).get("propagationPolicy") or q.get("propagationPolicy") or "Background"
            if policy not in ("Background", "Foreground", "Orphan"):
                return status(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}": '
                              'supported values: "Foreground", "Background", "Orphan", "nil"')
            if q.get("dryRun") == "All" or (opts or {}).get("dryRun") == ["All"]:
                return 200, cur
            if resource == "namespaces":
                # namespace deletion is asynchronous: Terminating first, contents removed by the controller loop
                if not cur["metadata"].get("deletionTimestamp"):
                    cur["metadata"]["deletionTimestamp"] = rfc3339(now_utc())
                    cur["status"] = {"phase": "Terminating"}
                    st.update(group, resource, ns, cur)
                    return 200, cur
                if (cur.get("spec") or {}).get("finalizers"):
                    return status(409, "Conflict", f'Operation cannot be fulfilled on namespaces "{name}": The system is ensuring all '
                                  "content is removed from this namespace.  Upon completion, this namespace will automatically be "
                                  "purged by the system.", {"name": name, "kind": "namespaces"})
                return 200, cur
            st.delete(group, resource, ns, name)
            if policy == "Orphan":
                self.orphan(cur["metadata"].get("uid"))
            else:
                self.cascade(cur["metadata"].get("uid"))
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": {"name": name, "group": group, "kind": resource, "uid": cur["metadata"].get("uid")}}
        return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def evict(self, ns, name):
        st = self.api.store
        pod = st.get("", "pods", ns, name)
        if pod is None:
            return not_found("", "pods", name)
        labels = pod["metadata"].get("labels") or {}
        pdbs, _ = st.list("policy", "poddisruptionbudgets", ns)
        for pdb in [self.decorate("poddisruptionbudgets", x) for x in pdbs]:
            sel = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if sel and all(labels.get(k) == v for k, v in sel.items()):
                if (pdb.get("status") or {}).get("disruptionsAllowed", 0) <= 0:
                    return status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                                  {"causes": [{"reason": "DisruptionBudget",
                                               "message": f"The disruption budget {pdb['metadata']['name']} needs 1 healthy pods and has 0 currently"}]})
        st.delete("", "pods", ns, name)
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def watch(self, group, version, resource, ns, q):
        """Chunked JSON watch stream emulated by polling etcd once a second."""
        st = self.api.store
        sel = parse_selector(q.get("labelSelector"))
        timeout = int(q.get("timeoutSeconds") or 1800)
        since = int(q.get("resourceVersion") or 0) if (q.get("resourceVersion") or "0").isdigit() else 0
        if q.get("sendInitialEvents") == "true":
            since = 0
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(typ, obj):
            data = (json.dumps({"type": typ, "object": obj}) + "\n").encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        seen = {}
        deadline = time.time() + timeout
        first = True
        try:
            while time.time() < deadline:
                objs, _ = st.list(group, resource, ns)
                cur = {}
                for o in objs:
                    o = self.decorate(resource, o)
                    if o is None or not match_selector(sel, o["metadata"].get("labels")):
                        continue
                    if q.get("fieldSelector") and not match_fields(q["fieldSelector"], o):
                        continue
                    cur[o["metadata"]["name"]] = o
                for n, o in cur.items():
                    rv = int(o["metadata"]["resourceVersion"])
                    digest = hashlib.sha256(json.dumps(o.get("status"), sort_keys=True).encode()).hexdigest() + str(rv)
                    if n not in seen:
                        if not first or rv > since:
                            emit("ADDED", o)
                    elif seen[n] != digest:
                        emit("MODIFIED", o)
                    seen[n] = digest
                if first and q.get("sendInitialEvents") == "true":
                    _, rev = st.list(group, resource, ns)
                    emit("BOOKMARK", {"kind": self.kind_for(resource), "apiVersion": f"{group}/{version}" if group else version,
                                      "metadata": {"resourceVersion": str(rev),
                                                   "annotations": {"k8s.io/initial-events-end": "true"}}})
                for n in [n for n in seen if n not in cur]:
                    emit("DELETED", {"kind": self.kind_for(resource), "apiVersion": f"{group}/{version}" if group else version,
                                     "metadata": {"name": n, "namespace": ns}})
                    del seen[n]
                first = False
                time.sleep(1)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        self.close_connection = True
        return None

    def user_agent_manager(self):
        ua = self.headers.get("User-Agent") or "unknown"
        return ua.split("/")[0]

    def cascade(self, uid):
        if not uid:
            return
        for k, o in self.api.store.all_objects():
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or []):
                self.api.etcd.delete(k)
                self.cascade(o["metadata"].get("uid"))

    def orphan(self, uid):
        """propagationPolicy Orphan: the garbage collector drops the owner reference from the dependents."""
        if not uid:
            return
        for k, o in self.api.store.all_objects():
            refs = o["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                o["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid] or None
                if o["metadata"]["ownerReferences"] is None:
                    del o["metadata"]["ownerReferences"]
                rel = k[len(self.api.store.prefix) + 1:].split("/")
                self.api.etcd.put(k, self.api.store._enc(rel[1] if "." in rel[0] else rel[0], o))

    def take_over(self, new, cur, manager, gv):
        """An update (PATCH/PUT) owns the leaf fields it changed; other managers lose them."""
        old_leaves, new_leaves = leaves(cur), leaves(new)
        changed = {p for p, v in new_leaves.items() if old_leaves.get(p, object()) != v}
        changed = {p for p in changed if p[:2] != ("metadata", "managedFields") and p[:2] != ("metadata", "resourceVersion")
                   and p[:2] != ("metadata", "generation")}
        mine = set()
        keep = []
        for m in new["metadata"].get("managedFields") or []:
            ps = paths_from_fields_v1(m.get("fieldsV1"))
            if m.get("manager") == manager and m.get("operation") == "Update":
                mine = ps
                continue
            rest = ps - changed
            if rest != ps:
                m = dict(m, fieldsV1=fields_v1(sorted(rest)))
            if rest:
                keep.append(m)
        new["metadata"]["managedFields"] = keep
        if changed or mine:
            self.set_managed(new, manager, "Update", (mine & set(new_leaves)) | changed, gv)

    def delete_namespace_contents(self, ns):
        for k, o in self.api.store.all_objects():
            if o["metadata"].get("namespace") == ns:
                self.api.etcd.delete(k)

    KINDS = {"nodes": "Node", "namespaces": "Namespace", "secrets": "Secret", "configmaps": "ConfigMap", "pods": "Pod",
             "services": "Service", "endpoints": "Endpoints", "serviceaccounts": "ServiceAccount", "events": "Event",
             "deployments": "Deployment", "daemonsets": "DaemonSet", "statefulsets": "StatefulSet",
             "replicasets": "ReplicaSet", "clusterroles": "ClusterRole", "clusterrolebindings": "ClusterRoleBinding",
             "roles": "Role", "rolebindings": "RoleBinding", "certificatesigningrequests": "CertificateSigningRequest",
             "leases": "Lease", "customresourcedefinitions": "CustomResourceDefinition",
             "poddisruptionbudgets": "PodDisruptionBudget", "networkpolicies": "NetworkPolicy",
             "persistentvolumeclaims": "PersistentVolumeClaim", "storageclasses": "StorageClass",
             "ingresses": "Ingress", "jobs": "Job", "cronjobs": "CronJob", "priorityclasses": "PriorityClass"}

    def kind_for(self, resource):
        if resource in self.KINDS:
            return self.KINDS[resource]
        s = singular(resource)
        return s[:1].upper() + s[1:]

    def set_managed(self, obj, manager, op, paths, gv):
        if paths is None:
            paths = set(leaves(obj).keys())
        mf = [m for m in obj["metadata"].get("managedFields") or [] if not (m.get("manager") == manager and m.get("operation") == op)]
        mf.append({"manager": manager, "operation": op, "apiVersion": gv, "time": rfc3339(now_utc()),
                   "fieldsType": "FieldsV1", "fieldsV1": fields_v1(sorted(paths))})
        obj["metadata"]["managedFields"] = mf

    def apply(self, group, version, resource, ns, name, cur, q, body):
        st = self.api.store
        gv = f"{group}/{version}" if group else version
        mgr = q.get("fieldManager")
        if not mgr:
            return status(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
        force = q.get("force") in ("true", "1")
        try:
            docs = yaml_docs(body.decode())
            applied = docs[0]
        except Exception as e:  # noqa: BLE001
            return status(400, "BadRequest", f"error decoding YAML: {e}")
        if applied.get("apiVersion") != gv:
            return status(400, "BadRequest", f"the API version in the data ({applied.get('apiVersion')}) does not match the expected API version ({gv})")
        if not applied.get("kind"):
            return status(400, "BadRequest", "Object 'Kind' is missing")
        normalize(resource, applied)
        am = applied.setdefault("metadata", {})
        if am.get("name") and am["name"] != name:
            return status(400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)" % (am["name"], name))
        am["name"] = name
        new_paths = leaves(applied)
        if cur is None:
            nso = st.get("", "namespaces", None, ns) if ns else None
            if ns and nso is None:
                return status(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
            if nso is not None and nso["metadata"].get("deletionTimestamp"):
                return status(403, "Forbidden", f"{resource} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated")
            obj = copy.deepcopy(applied)
            self.api.new_meta(obj, ns)
            if resource == "namespaces":
                obj.setdefault("status", {"phase": "Active"})
                obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            self.set_managed(obj, mgr, "Apply", set(new_paths), gv)
            defaults(resource, obj)
            err = validate_object(applied["kind"], resource, obj)
            if err:
                return err
            if q.get("dryRun") == "All":
                return 201, obj
            res = st.create(group, resource, ns, obj)
            if res is None:
                return status(409, "Conflict", "object was created concurrently")
            return 201, res
        obj = copy.deepcopy(cur)
        owners = {}
        my_old = set()
        for m in obj["metadata"].get("managedFields") or []:
            ps = paths_from_fields_v1(m.get("fieldsV1"))
            if m.get("manager") == mgr and m.get("operation") == "Apply":
                my_old = ps
                continue
            for p in ps:
                owners.setdefault(p, []).append(m)
        def merged_map(p, v):
            # An empty map in the applied object is merged key by key, as real server-side apply
            # does for granular maps (ConfigMap data, labels): keys other managers own stay.
            cv, exists = get_path(obj, p)
            return v == {} and exists and isinstance(cv, dict)

        conflicts = []
        for p, v in new_paths.items():
            cv, exists = get_path(obj, p)
            if merged_map(p, v):
                continue
            for m in owners.get(p, []):
                if exists and cv != v:
                    conflicts.append((m, p))
        if conflicts and not force:
            by = {}
            for m, p in conflicts:
                by.setdefault((m["manager"], m.get("apiVersion")), []).append(p)
            n = len(conflicts)
            if n == 1:
                (mg, av), ps = next(iter(by.items()))
                msg = f'Apply failed with 1 conflict: conflict with "{mg}" using {av}: .{".".join(ps[0])}'
            else:
                lines = []
                for (mg, av), ps in by.items():
                    lines.append(f'conflicts with "{mg}" using {av}:\n' + "\n".join(f"- .{'.'.join(p)}" for p in ps))
                msg = f"Apply failed with {n} conflicts: " + "\n".join(lines)
            return status(409, "Conflict", msg, {"causes": [{"reason": "FieldManagerConflict", "message": f'conflict with "{m["manager"]}"',
                                                             "field": "." + ".".join(p)} for m, p in conflicts]})
        if force:
            for m in obj["metadata"].get("managedFields") or []:
                if m.get("manager") == mgr and m.get("operation") == "Apply":
                    continue
                ps = paths_from_fields_v1(m.get("fieldsV1")) - set(new_paths)
                m["fieldsV1"] = fields_v1(sorted(ps))
        for p in my_old - set(new_paths):
            if not owners.get(p):
                del_path(obj, p)
        for p, v in new_paths.items():
            if not merged_map(p, v):
                set_path(obj, p, v)
        obj["metadata"]["managedFields"] = [m for m in obj["metadata"].get("managedFields") or [] if m.get("fieldsV1")]
        self.set_managed(obj, mgr, "Apply", set(new_paths), gv)
        if obj.get("spec") != cur.get("spec"):
            obj["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
        if obj == cur:
            return 200, cur
        err = validate_object(applied["kind"], resource, obj) or validate_update(applied["kind"], resource, cur, obj)
        if err:
            return err
        if q.get("dryRun") == "All":
            return 200, obj
        res = st.update(group, resource, ns, obj, cur["metadata"]["resourceVersion"])
        if res is None:
            return status(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified')
        return 200, res

    def approve_csr(self, group, cur, obj, ident):
        """PUT .../certificatesigningrequests/NAME/approval (kubectl certificate approve|deny);
        an approved kubelet-serving request is signed at once (the csrsigning controller's job)."""
        st = self.api.store
        conds = (obj.get("status") or {}).get("conditions") or []
        new = copy.deepcopy(cur)
        new.setdefault("status", {})["conditions"] = conds
        approved = any(c.get("type") == "Approved" and c.get("status", "True") == "True" for c in conds)
        denied = any(c.get("type") == "Denied" and c.get("status", "True") == "True" for c in conds)
        spec = new.get("spec") or {}
        if approved and not denied and not new["status"].get("certificate") and \
                spec.get("signerName") in ("kubernetes.io/kubelet-serving", "kubernetes.io/kube-apiserver-client-kubelet",
                                           "kubernetes.io/kube-apiserver-client"):
            csr_pem = unb64(spec["request"])
            usages = ("server",) if spec["signerName"] == "kubernetes.io/kubelet-serving" else ("client",)
            dns, ips = pki.csr_sans(csr_pem)
            new["status"]["certificate"] = b64(pki.sign(self.api.ca_file, self.api.ca_key, csr_pem, usages, dns, ips, 365))
        res = st.update(group, "certificatesigningrequests", None, new, cur["metadata"]["resourceVersion"])
        if res is None:
            return status(409, "Conflict", f'Operation cannot be fulfilled on certificatesigningrequests.certificates.k8s.io "{cur["metadata"]["name"]}": the object has been modified; please apply your changes to the latest version and try again')
        return 200, res

    def sign_csr(self, obj, ident):
        """csrapprover + csrsigner for kubelet client certificates (kube-controller-manager's job)."""
        spec = obj.get("spec") or {}
        try:
            csr_pem = unb64(spec.get("request", ""))
        except Exception:  # noqa: BLE001
            return status(422, "Invalid", "CertificateSigningRequest is invalid: spec.request: Invalid value: []byte{...}: PEM block type must be CERTIFICATE REQUEST")
        spec["username"] = ident["user"]
        spec["groups"] = ident["groups"]
        signer = spec.get("signerName")
        if signer != "kubernetes.io/kube-apiserver-client-kubelet":
            return None
        try:
            pki.verify_csr(csr_pem)
            cn, orgs = pki.csr_subject(csr_pem)
        except StandinError as e:
            return status(422, "Invalid", f"CertificateSigningRequest is invalid: spec.request: {e}")
        if not cn or not cn.startswith("system:node:") or orgs != ["system:nodes"]:
            obj["status"] = {"conditions": [{"type": "Denied", "status": "True", "reason": "NotKubelet",
                                             "message": "subject is not a kubelet client", "lastUpdateTime": rfc3339(now_utc())}]}
            return None
        ok = "system:bootstrappers" in ident["groups"] or ident["user"] == cn or "system:masters" in ident["groups"]
        if not ok:
            return None
        cert = pki.sign(self.api.ca_file, self.api.ca_key, csr_pem, ("client",), days=365)
        obj["status"] = {"certificate": b64(cert), "conditions": [
            {"type": "Approved", "status": "True", "reason": "AutoApproved",
             "message": "Auto approving kubelet client certificate after SubjectAccessReview.",
             "lastUpdateTime": rfc3339(now_utc()), "lastTransitionTime": rfc3339(now_utc())}]}
        return None


def main(argv):
    set_process_args(["kube-apiserver"] + argv, "kube-apiserver")
    args = parse_args(argv)
    for req in ("tls-cert-file", "tls-private-key-file"):
        if not args.get(req):
            die(f"--{req} is required by the lab stand-in")
    api = APIServer(args)
    Handler.api = api
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args["tls-cert-file"], args["tls-private-key-file"])
    if args.get("client-ca-file"):
        ctx.load_verify_locations(cafile=args["client-ca-file"])
        ctx.verify_mode = ssl.CERT_OPTIONAL
    bind = args.get("bind-address", "0.0.0.0")
    port = int(args.get("secure-port", "6443"))

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128

    try:
        httpd = Server((bind if bind != "::" else "0.0.0.0", port), Handler)
    except OSError as e:
        die(f"failed to create listener: failed to listen on {bind}:{port}: listen tcp {bind}:{port}: bind: {e.strerror.lower()}")
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    klog("I", "Serving securely on %s:%d", bind, port, file="secure_serving.go", line=213)
    threading.Thread(target=api.bootstrap, daemon=True).start()
    threading.Thread(target=api.controllers, daemon=True).start()
    httpd.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
