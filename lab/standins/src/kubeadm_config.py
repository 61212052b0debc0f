"""Strict decoding + validation of kubeadm.k8s.io/v1beta4 configuration documents
and the component configs kubeadm accepts next to them.

Field lists follow cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go; error texts
follow apimachinery's strict JSON decoder and kubeadm's validation package.
"""

import ipaddress
import re

from k8scommon import StandinError, parse_go_duration, yaml_docs

KUBEADM_GROUP = "kubeadm.k8s.io"

# Leaf type tags: str, bool, int, dur, any, [X] list of X, {"map": X} map[string]X.
ARG = {"__go__": "Arg", "name": "str", "value": "str"}
ENVVAR = {"__go__": "EnvVar", "name": "str", "value": "str", "valueFrom": "any"}
HOSTPATHMOUNT = {"__go__": "HostPathMount", "name": "str", "hostPath": "str", "mountPath": "str",
                 "readOnly": "bool", "pathType": "str"}
CPCOMP = {"__go__": "ControlPlaneComponent", "extraArgs": [ARG], "extraVolumes": [HOSTPATHMOUNT],
          "extraEnvs": [ENVVAR]}
APISERVER = dict(CPCOMP, __go__="APIServer", certSANs=["str"])
TAINT = {"__go__": "Taint", "key": "str", "value": "str", "effect": "str", "timeAdded": "str"}
NODEREG = {"__go__": "NodeRegistrationOptions", "name": "str", "criSocket": "str", "taints": [TAINT],
           "kubeletExtraArgs": [ARG], "ignorePreflightErrors": ["str"], "imagePullPolicy": "str",
           "imagePullSerial": "bool"}
APIENDPOINT = {"__go__": "APIEndpoint", "advertiseAddress": "str", "bindPort": "int"}
BOOTSTRAPTOKEN = {"__go__": "BootstrapToken", "token": "str", "description": "str", "ttl": "dur",
                  "expires": "str", "usages": ["str"], "groups": ["str"]}
PATCHES = {"__go__": "Patches", "directory": "str"}
TIMEOUTS = {"__go__": "Timeouts", "controlPlaneComponentHealthCheck": "dur", "kubeletHealthCheck": "dur",
            "kubernetesAPICall": "dur", "etcdAPICall": "dur", "tlsBootstrap": "dur", "discovery": "dur",
            "upgradeManifests": "dur"}
LOCALETCD = {"__go__": "LocalEtcd", "imageRepository": "str", "imageTag": "str", "dataDir": "str",
             "extraArgs": [ARG], "extraEnvs": [ENVVAR], "serverCertSANs": ["str"], "peerCertSANs": ["str"]}
EXTERNALETCD = {"__go__": "ExternalEtcd", "endpoints": ["str"], "caFile": "str", "certFile": "str",
                "keyFile": "str"}
ETCD = {"__go__": "Etcd", "local": LOCALETCD, "external": EXTERNALETCD}
NETWORKING = {"__go__": "Networking", "serviceSubnet": "str", "podSubnet": "str", "dnsDomain": "str"}
DNS = {"__go__": "DNS", "imageRepository": "str", "imageTag": "str", "disabled": "bool"}
PROXY = {"__go__": "Proxy", "disabled": "bool"}

TYPEMETA = {"apiVersion": "str", "kind": "str"}

INIT = dict(TYPEMETA, __go__="InitConfiguration", bootstrapTokens=[BOOTSTRAPTOKEN], dryRun="bool",
            nodeRegistration=NODEREG, localAPIEndpoint=APIENDPOINT, certificateKey="str",
            skipPhases=["str"], patches=PATCHES, timeouts=TIMEOUTS)
CLUSTER = dict(TYPEMETA, __go__="ClusterConfiguration", etcd=ETCD, networking=NETWORKING,
               kubernetesVersion="str", controlPlaneEndpoint="str", apiServer=APISERVER,
               controllerManager=CPCOMP, scheduler=CPCOMP, dns=DNS, proxy=PROXY, certificatesDir="str",
               imageRepository="str", featureGates={"map": "bool"}, clusterName="str",
               encryptionAlgorithm="str", certificateValidityPeriod="dur",
               caCertificateValidityPeriod="dur")
BTDISCOVERY = {"__go__": "BootstrapTokenDiscovery", "token": "str", "apiServerEndpoint": "str",
               "caCertHashes": ["str"], "unsafeSkipCAVerification": "bool"}
FILEDISCOVERY = {"__go__": "FileDiscovery", "kubeConfigPath": "str"}
DISCOVERY = {"__go__": "Discovery", "bootstrapToken": BTDISCOVERY, "file": FILEDISCOVERY,
             "tlsBootstrapToken": "str"}
JOINCP = {"__go__": "JoinControlPlane", "localAPIEndpoint": APIENDPOINT, "certificateKey": "str"}
JOIN = dict(TYPEMETA, __go__="JoinConfiguration", dryRun="bool", nodeRegistration=NODEREG,
            caCertPath="str", discovery=DISCOVERY, controlPlane=JOINCP, skipPhases=["str"],
            patches=PATCHES, timeouts=TIMEOUTS)
RESET = dict(TYPEMETA, __go__="ResetConfiguration", cleanupTmpDir="bool", certificatesDir="str",
             criSocket="str", dryRun="bool", force="bool", ignorePreflightErrors=["str"],
             skipPhases=["str"], unmountFlags=["str"], timeouts=TIMEOUTS)
UPGRADE = dict(TYPEMETA, __go__="UpgradeConfiguration", apply="any", diff="any", node="any", plan="any",
               timeouts=TIMEOUTS)

_KUBELET_FIELDS = """enableServer staticPodPath podLogsDir syncFrequency fileCheckFrequency httpCheckFrequency
staticPodURL staticPodURLHeader address port readOnlyPort tlsCertFile tlsPrivateKeyFile tlsCipherSuites
tlsMinVersion rotateCertificates serverTLSBootstrap authentication authorization registryPullQPS registryBurst
imagePullCredentialsVerificationPolicy preloadedImagesVerificationAllowlist eventRecordQPS eventBurst
enableDebuggingHandlers enableContentionProfiling healthzPort healthzBindAddress oomScoreAdj clusterDomain
clusterDNS streamingConnectionIdleTimeout nodeStatusUpdateFrequency nodeStatusReportFrequency
nodeLeaseDurationSeconds imageMinimumGCAge imageMaximumGCAge imageGCHighThresholdPercent
imageGCLowThresholdPercent volumeStatsAggPeriod kubeletCgroups systemCgroups cgroupRoot cgroupsPerQOS
cgroupDriver cpuManagerPolicy singleProcessOOMKill cpuManagerPolicyOptions cpuManagerReconcilePeriod
memoryManagerPolicy topologyManagerPolicy topologyManagerScope topologyManagerPolicyOptions qosReserved
runtimeRequestTimeout hairpinMode maxPods podCIDR podPidsLimit resolvConf runOnce cpuCFSQuota
cpuCFSQuotaPeriod nodeStatusMaxImages maxOpenFiles contentType kubeAPIQPS kubeAPIBurst serializeImagePulls
maxParallelImagePulls evictionHard evictionSoft evictionSoftGracePeriod evictionPressureTransitionPeriod
evictionMaxPodGracePeriod evictionMinimumReclaim mergeDefaultEvictionSettings podsPerCore
enableControllerAttachDetach protectKernelDefaults makeIPTablesUtilChains iptablesMasqueradeBit
iptablesDropBit featureGates failSwapOn memorySwap containerLogMaxSize containerLogMaxFiles
containerLogMaxWorkers containerLogMonitorInterval configMapAndSecretChangeDetectionStrategy systemReserved
kubeReserved reservedSystemCPUs showHiddenMetricsForVersion systemReservedCgroup kubeReservedCgroup
enforceNodeAllocatable allowedUnsafeSysctls volumePluginDir providerID kernelMemcgNotification logging
enableSystemLogHandler enableSystemLogQuery shutdownGracePeriod shutdownGracePeriodCriticalPods
shutdownGracePeriodByPodPriority crashLoopBackOff reservedMemory enableProfilingHandler
enableDebugFlagsHandler seccompDefault memoryThrottlingFactor registerWithTaints registerNode tracing
localStorageCapacityIsolation containerRuntimeEndpoint imageServiceEndpoint failCgroupV1 userNamespaces""".split()
KUBELET_AUTHN = {"__go__": "KubeletAuthentication",
                 "x509": {"__go__": "KubeletX509Authentication", "clientCAFile": "str"},
                 "webhook": {"__go__": "KubeletWebhookAuthentication", "enabled": "bool", "cacheTTL": "dur"},
                 "anonymous": {"__go__": "KubeletAnonymousAuthentication", "enabled": "bool"}}
KUBELET_AUTHZ = {"__go__": "KubeletAuthorization", "mode": "str",
                 "webhook": {"__go__": "KubeletWebhookAuthorization", "cacheAuthorizedTTL": "dur",
                             "cacheUnauthorizedTTL": "dur"}}
KUBELET = dict(TYPEMETA, __go__="KubeletConfiguration", **{f: "any" for f in _KUBELET_FIELDS})
KUBELET.update(authentication=KUBELET_AUTHN, authorization=KUBELET_AUTHZ, failSwapOn="bool",
               readOnlyPort="int", cgroupDriver="str", rotateCertificates="bool", serverTLSBootstrap="bool",
               protectKernelDefaults="bool", featureGates={"map": "bool"}, healthzPort="int",
               healthzBindAddress="str", staticPodPath="str", clusterDNS=["str"], clusterDomain="str",
               tlsCipherSuites=["str"], tlsMinVersion="str", seccompDefault="bool", maxPods="int")

_PROXY_FIELDS = """featureGates clientConnection hostnameOverride bindAddress healthzBindAddress metricsBindAddress
bindAddressHardFail enableProfiling showHiddenMetricsForVersion mode iptables ipvs nftables winkernel
detectLocalMode detectLocal clusterCIDR nodePortAddresses oomScoreAdj conntrack configSyncPeriod portRange
logging linux windows""".split()
KUBEPROXY = dict(TYPEMETA, __go__="KubeProxyConfiguration", **{f: "any" for f in _PROXY_FIELDS})
KUBEPROXY.update(mode="str", clusterCIDR="str", bindAddress="str", metricsBindAddress="str")

SCHEMAS = {
    ("kubeadm.k8s.io", "v1beta4", "InitConfiguration"): INIT,
    ("kubeadm.k8s.io", "v1beta4", "ClusterConfiguration"): CLUSTER,
    ("kubeadm.k8s.io", "v1beta4", "JoinConfiguration"): JOIN,
    ("kubeadm.k8s.io", "v1beta4", "ResetConfiguration"): RESET,
    ("kubeadm.k8s.io", "v1beta4", "UpgradeConfiguration"): UPGRADE,
    ("kubelet.config.k8s.io", "v1beta1", "KubeletConfiguration"): KUBELET,
    ("kubeproxy.config.k8s.io", "v1alpha1", "KubeProxyConfiguration"): KUBEPROXY,
}
OLD_KUBEADM = {"v1alpha1": "v1.10", "v1alpha2": "v1.12", "v1alpha3": "v1.14", "v1beta1": "v1.16",
               "v1beta2": "v1.22", "v1beta3": "v1.34"}

GO_TYPES = {"str": "string", "bool": "bool", "int": "int32", "dur": "v1.Duration"}


def gvk_repr(group, version, kind):
    return f'schema.GroupVersionKind{{Group:"{group}", Version:"{version}", Kind:"{kind}"}}'


def _go_type(spec):
    if isinstance(spec, list):
        inner = spec[0]
        return "[]" + (f"v1beta4.{inner['__go__']}" if isinstance(inner, dict) else GO_TYPES.get(inner, inner))
    if isinstance(spec, dict):
        if "map" in spec:
            return "map[string]" + GO_TYPES.get(spec["map"], "string")
        return f"v1beta4.{spec['__go__']}"
    return GO_TYPES.get(spec, spec)


def _json_kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _check(value, spec, path, parent_go, unknown, type_errs):
    if value is None or spec == "any":
        return
    if isinstance(spec, dict) and "map" in spec:
        if not isinstance(value, dict):
            type_errs.append((value, spec, path, parent_go))
            return
        for k, v in value.items():
            _check(v, spec["map"], f"{path}.{k}", parent_go, unknown, type_errs)
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            type_errs.append((value, spec, path, parent_go))
            return
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if k not in spec or k == "__go__":
                unknown.append(sub)
                continue
            _check(v, spec[k], sub, spec["__go__"], unknown, type_errs)
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            type_errs.append((value, spec, path, parent_go))
            return
        for i, v in enumerate(value):
            _check(v, spec[0], f"{path}[{i}]", parent_go, unknown, type_errs)
        return
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "dur": isinstance(value, str),
    }[spec]
    if not ok:
        type_errs.append((value, spec, path, parent_go))


def strict_decode(doc):
    """Returns (group, version, kind). Raises StandinError in kubeadm's words."""
    if not isinstance(doc, dict):
        raise StandinError("couldn't interpret GroupVersionKind; unmarshal error: json: cannot unmarshal string into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }")
    api = doc.get("apiVersion") or ""
    kind = doc.get("kind") or ""
    group, _, version = api.rpartition("/") if "/" in api else ("", "", api)
    if not group or not version or not kind:
        raise StandinError(
            f"invalid configuration for GroupVersionKind {{Group:\"{group}\" Version:\"{version}\" Kind:\"{kind}\"}}: "
            "kind and apiVersion is mandatory information that must be specified")
    if group == KUBEADM_GROUP and version in OLD_KUBEADM and version != "v1beta3":
        raise StandinError(
            f'your configuration file uses an old API spec: "{api}". Please use kubeadm {OLD_KUBEADM[version]} '
            "instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will "
            "write the new, similar spec using a newer API version.")
    schema = SCHEMAS.get((group, version, kind))
    if schema is None:
        raise StandinError(f"unknown configuration {gvk_repr(group, version, kind)}")
    unknown, type_errs = [], []
    _check(doc, schema, "", schema["__go__"], unknown, type_errs)
    prefix = f"error unmarshaling configuration {gvk_repr(group, version, kind)}: "
    if type_errs:
        value, spec, path, parent_go = type_errs[0]
        raise StandinError(prefix + f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                           f"{parent_go}.{path} of type {_go_type(spec)}")
    if unknown:
        raise StandinError(prefix + "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
    return group, version, kind


def load_documents(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        raise StandinError(f"unable to read config from \"{path}\" : open {path}: no such file or directory")
    try:
        docs = yaml_docs(text)
    except StandinError as e:
        raise StandinError(f"error converting YAML to JSON: {e}" if "YAML" not in str(e) else str(e))
    out = {}
    seen = set()
    for d in docs:
        g, v, k = strict_decode(d)
        if k in seen:
            raise StandinError(f'invalid configuration: kind "{k}" is specified twice in YAML file')
        seen.add(k)
        out[k] = d
    return out


# ---------------------------------------------------------------- validation

class FieldErrors:
    def __init__(self):
        self.errs = []

    def invalid(self, path, value, detail):
        v = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else value
        self.errs.append(f"{path}: Invalid value: {v}: {detail}")

    def required(self, path, detail=""):
        self.errs.append(f"{path}: Required value" + (f": {detail}" if detail else ""))

    def unsupported(self, path, value, allowed):
        self.errs.append(f'{path}: Unsupported value: "{value}": supported values: ' +
                         ", ".join(f'"{a}"' for a in allowed))

    def raise_if_any(self):
        if not self.errs:
            return
        if len(self.errs) == 1:
            raise StandinError(self.errs[0])
        raise StandinError("[" + ", ".join(self.errs) + "]")


_DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def _is_ip(s):
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def validate_node_registration(e, nr, path):
    name = nr.get("name")
    if name is not None and (not _DNS1123_SUB.match(name) or len(name) > 253):
        e.invalid(f"{path}.name", name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                  "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                  "'example.com', regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    cri = nr.get("criSocket")
    if cri is not None and not cri.startswith("unix://") and not cri.startswith("/"):
        e.invalid(f"{path}.criSocket", cri, "path is not absolute")
    for i, a in enumerate(nr.get("kubeletExtraArgs") or []):
        if not a.get("name"):
            e.required(f"{path}.kubeletExtraArgs[{i}].name")
    for i, t in enumerate(nr.get("taints") or []):
        if t.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            e.unsupported(f"{path}.taints[{i}].effect", t.get("effect", ""),
                          ["NoExecute", "NoSchedule", "PreferNoSchedule"])
    ipp = nr.get("imagePullPolicy")
    if ipp is not None and ipp not in ("Always", "IfNotPresent", "Never"):
        e.unsupported(f"{path}.imagePullPolicy", ipp, ["Always", "IfNotPresent", "Never"])


def validate_endpoint(e, ep, path):
    addr = ep.get("advertiseAddress")
    if addr is not None and addr != "" and not _is_ip(addr):
        e.invalid(f"{path}.advertiseAddress", addr,
                  f'couldn\'t use "{addr}" as "apiserver-advertise-address", must be ipv4 or ipv6 address')
    port = ep.get("bindPort")
    if port is not None and not (0 < port < 65536):
        e.invalid(f"{path}.bindPort", port, "port number is not valid")


def validate_args(e, args, path):
    for i, a in enumerate(args or []):
        if not a.get("name"):
            e.required(f"{path}[{i}].name")


def validate_init(init, cluster):
    e = FieldErrors()
    for i, bt in enumerate(init.get("bootstrapTokens") or []):
        tok = bt.get("token")
        if tok is not None and not TOKEN_RE.match(tok):
            e.invalid(f"bootstrapTokens[{i}].token", tok, "the bootstrap token is invalid")
        if bt.get("ttl") is not None and bt.get("expires") is not None:
            e.invalid(f"bootstrapTokens[{i}].ttl", bt.get("ttl"), "ttl and expires are mutually exclusive")
        for u in bt.get("usages") or []:
            if u not in ("signing", "authentication"):
                e.invalid(f"bootstrapTokens[{i}].usages", u, "invalid bootstrap token usage string: " + u +
                          ", valid options: [signing authentication]")
        for g in bt.get("groups") or []:
            if not re.match(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$", g):
                e.invalid(f"bootstrapTokens[{i}].groups", g,
                          'bootstrap group "' + g + '" is invalid (must match ^\\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\z)')
    validate_node_registration(e, init.get("nodeRegistration") or {}, "nodeRegistration")
    validate_endpoint(e, init.get("localAPIEndpoint") or {}, "localAPIEndpoint")
    ck = init.get("certificateKey")
    if ck and not re.match(r"^[0-9a-f]{64}$", ck):
        e.invalid("certificateKey", ck, "certificate key must be a hex encoded string of 32 bytes")
    validate_cluster(e, cluster)
    e.raise_if_any()


def validate_cluster(e, c):
    net = c.get("networking") or {}
    for f in ("serviceSubnet", "podSubnet"):
        v = net.get(f)
        if v:
            for part in v.split(","):
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                    if "/" not in part:
                        raise ValueError
                except ValueError:
                    e.invalid(f"networking.{f}", v, "couldn't parse subnet")
    dd = net.get("dnsDomain")
    if dd is not None and not _DNS1123_SUB.match(dd):
        e.invalid("networking.dnsDomain", dd, "a lowercase RFC 1123 subdomain must consist of lower case "
                  "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
    cpe = c.get("controlPlaneEndpoint")
    if cpe:
        host, port = split_hostport(cpe)
        if port is not None and not (0 < port < 65536):
            e.invalid("controlPlaneEndpoint", cpe, "port must be a valid number between 1 and 65535, inclusive")
        if not _is_ip(host) and not _DNS1123_SUB.match(host):
            e.invalid("controlPlaneEndpoint", cpe, "the controlPlaneEndpoint must be a valid IP address or DNS name")
    for comp in ("apiServer", "controllerManager", "scheduler"):
        validate_args(e, (c.get(comp) or {}).get("extraArgs"), f"{comp}.extraArgs")
        for i, v in enumerate((c.get(comp) or {}).get("extraVolumes") or []):
            for req in ("name", "hostPath", "mountPath"):
                if not v.get(req):
                    e.required(f"{comp}.extraVolumes[{i}].{req}")
    for i, s in enumerate((c.get("apiServer") or {}).get("certSANs") or []):
        if not _is_ip(s) and not re.match(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", s):
            e.invalid(f"apiServer.certSANs[{i}]", s, "altname is not a valid IP address, DNS label or a DNS label with subdomain wildcards")
    etcd = c.get("etcd") or {}
    if etcd.get("local") and etcd.get("external"):
        e.invalid("etcd", "", "local and external are mutually exclusive")
    if etcd.get("local"):
        validate_args(e, etcd["local"].get("extraArgs"), "etcd.local.extraArgs")
    cd = c.get("certificatesDir")
    if cd is not None and not cd.startswith("/"):
        e.invalid("certificatesDir", cd, "path is not absolute")
    alg = c.get("encryptionAlgorithm")
    if alg is not None and alg not in ("RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256", "ECDSA-P384"):
        e.unsupported("encryptionAlgorithm", alg, ["ECDSA-P256", "ECDSA-P384", "RSA-2048", "RSA-3072", "RSA-4096"])
    for k in (c.get("featureGates") or {}):
        if k not in ("EtcdLearnerMode", "ControlPlaneKubeletLocalMode", "WaitForAllControlPlaneComponents",
                     "NodeLocalCRISocket", "PublicKeysECDSA", "RootlessControlPlane"):
            e.errs.append(f'featureGates: Invalid value: map[string]bool{{"{k}":{str(c["featureGates"][k]).lower()}}}: '
                          f'{k} is not a valid feature name.')
    for f in ("certificateValidityPeriod", "caCertificateValidityPeriod"):
        if c.get(f) is not None:
            try:
                parse_go_duration(c[f])
            except StandinError as ex:
                e.invalid(f, c[f], str(ex))


def validate_join(j):
    e = FieldErrors()
    validate_node_registration(e, j.get("nodeRegistration") or {}, "nodeRegistration")
    d = j.get("discovery")
    if not d or (not d.get("bootstrapToken") and not d.get("file")):
        e.invalid("discovery", "", "bootstrapToken or file must be set")
    elif d.get("bootstrapToken") and d.get("file"):
        e.invalid("discovery", "", "bootstrapToken and file cannot both be set")
    else:
        bt = d.get("bootstrapToken")
        tls_tok = d.get("tlsBootstrapToken") or (bt or {}).get("token")
        if bt:
            tok = bt.get("token")
            if not tok:
                e.invalid("discovery.bootstrapToken.token", "", "the bootstrap token is invalid")
            elif not TOKEN_RE.match(tok):
                e.invalid("discovery.bootstrapToken.token", tok, "the bootstrap token is invalid")
            hashes = bt.get("caCertHashes") or []
            if not hashes and not bt.get("unsafeSkipCAVerification"):
                e.invalid("discovery.bootstrapToken.caCertHashes", "",
                          "using token-based discovery without caCertHashes can be unsafe. Set "
                          "unsafeSkipCAVerification as true in your kubeadm config file or pass "
                          "--discovery-token-unsafe-skip-ca-verification flag to continue")
            for h in hashes:
                if not HASH_RE.match(h):
                    e.invalid("discovery.bootstrapToken.caCertHashes", h,
                              f'invalid hash "{h}", expected a "sha256:" prefix followed by 64 hex characters')
            ep = bt.get("apiServerEndpoint")
            if not ep:
                e.invalid("discovery.bootstrapToken.apiServerEndpoint", "", "the apiServerEndpoint is required")
            else:
                host, port = split_hostport(ep)
                if port is None:
                    e.invalid("discovery.bootstrapToken.apiServerEndpoint", ep,
                              f"address {ep}: missing port in address")
        if tls_tok is not None and not TOKEN_RE.match(tls_tok or ""):
            e.invalid("discovery.tlsBootstrapToken", tls_tok or "", "the bootstrap token is invalid")
    cp = j.get("controlPlane")
    if cp:
        validate_endpoint(e, cp.get("localAPIEndpoint") or {}, "controlPlane.localAPIEndpoint")
        ck = cp.get("certificateKey")
        if ck and not re.match(r"^[0-9a-f]{64}$", ck):
            e.invalid("controlPlane.certificateKey", ck, "certificate key must be a hex encoded string of 32 bytes")
    e.raise_if_any()


def split_hostport(s):
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif s.count(":") == 1:
        host, port = s.split(":")
    else:
        host, port = s, None
    if port is not None:
        try:
            port = int(port)
        except ValueError:
            port = -1
    return host, port


KUBELET_CGROUP_DRIVERS = ("systemd", "cgroupfs")


def validate_kubelet_config(k):
    e = FieldErrors()
    cd = k.get("cgroupDriver")
    if cd is not None and cd not in KUBELET_CGROUP_DRIVERS:
        e.invalid("cgroupDriver", cd, "")
    e.raise_if_any()
