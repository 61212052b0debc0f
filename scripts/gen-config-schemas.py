#!/usr/bin/env python3
"""Generate scripts/config-schemas.json: the JSON field names of the config kinds
kubernetes-validate has no schema for (kubelet, kube-proxy, API server config files, audit
policy, PSA), read from the Go API types, plus kubeadm v1beta4 and EventRateLimit from the
field lists in ../shared/reference/kubeadm.md (section 2.2) and the plugin's types.

Usage: scripts/gen-config-schemas.py GO_SOURCES... > scripts/config-schemas.json
  each GO_SOURCE is  apiVersion=types.go[,more.go]  (the files of one package)

Developer tool: run it when moving to a new Kubernetes minor, then record the repositories and
commits read under the "_source" key of the JSON and commit it. scripts/check-config-fields.py uses the JSON in CI.
"""
import json
import re
import sys

FIELD = re.compile(r'^\s*(?:(\w+)\s+)?([\*\[\]\w\.]+(?:\[[\w\.]+\][\*\w\.]+)?)\s+`json:"([^"]*)"')
STRUCT = re.compile(r'^type (\w+) struct \{')
EMBEDDED = re.compile(r'^\s*\*?([\w\.]+)\s*(//.*)?$')


def parse_go(text):
    """struct name -> list of (json name or None for inline, go type)"""
    structs, cur = {}, None
    for line in text.splitlines():
        m = STRUCT.match(line)
        if m:
            cur = m.group(1)
            structs[cur] = []
            continue
        if cur is None:
            continue
        if line.startswith('}'):
            cur = None
            continue
        if line.strip().startswith('//'):
            continue
        e = EMBEDDED.match(line)
        if e:  # embedded without a tag: inlined by encoding/json
            structs[cur].append((None, e.group(1)))
            continue
        f = FIELD.match(line)
        if not f:
            continue
        name, gotype, tag = f.group(1), f.group(2), f.group(3)
        jname = tag.split(',')[0]
        if jname == '-':
            continue
        # encoding/json inlines an embedded struct unless its tag names it.
        inline = ',inline' in tag or (name is None and jname == '')
        structs[cur].append((None if inline else jname, gotype))
    return structs


def base_type(gotype):
    t = gotype
    while True:
        if t.startswith('*'):
            t = t[1:]
        elif t.startswith('[]'):
            t = t[2:]
        elif t.startswith('map['):
            t = t[t.index(']') + 1:]
        else:
            return t


def tree(structs, name, seen=()):
    """Field tree: {jsonName: subtree or None (any value)}."""
    out = {}
    for jname, gotype in structs.get(name, []):
        b = base_type(gotype)
        if jname is None:  # inline
            if b.endswith('TypeMeta'):
                out['apiVersion'] = None
                out['kind'] = None
            elif b in structs and b not in seen:
                out.update(tree(structs, b, seen + (b,)))
            continue
        is_map = 'map[' in gotype
        if b in structs and b not in seen and not is_map:
            out[jname] = tree(structs, b, seen + (b,))
        else:
            out[jname] = None
    return out


# Kinds whose top-level struct is read from the Go sources.
GO_KINDS = {
    'kubelet.config.k8s.io/v1beta1': ['KubeletConfiguration'],
    'kubeproxy.config.k8s.io/v1alpha1': ['KubeProxyConfiguration'],
    'apiserver.config.k8s.io/v1': ['AdmissionConfiguration', 'EncryptionConfiguration',
                                   'AuthenticationConfiguration'],
    'apiserver.config.k8s.io/v1beta1': ['AuthenticationConfiguration'],
    'audit.k8s.io/v1': ['Policy'],
    'pod-security.admission.config.k8s.io/v1': ['PodSecurityConfiguration'],
}

# kubeadm.k8s.io/v1beta4, transcribed from kubeadm.md section 2.2 (exact tags of
# cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go @ 1329935739c3).
ARGS = {'name': None, 'value': None}
IMAGE = {'imageRepository': None, 'imageTag': None}
APIEP = {'advertiseAddress': None, 'bindPort': None}
TIMEOUTS = {k: None for k in ['controlPlaneComponentHealthCheck', 'kubeletHealthCheck',
                              'kubernetesAPICall', 'etcdAPICall', 'tlsBootstrap', 'discovery',
                              'upgradeManifests']}
NODEREG = {'name': None, 'criSocket': None, 'taints': None, 'kubeletExtraArgs': ARGS,
           'ignorePreflightErrors': None, 'imagePullPolicy': None, 'imagePullSerial': None}
VOLUME = {'name': None, 'hostPath': None, 'mountPath': None, 'readOnly': None, 'pathType': None}
COMPONENT = {'extraArgs': ARGS, 'extraVolumes': VOLUME, 'extraEnvs': None}
TYPEMETA = {'apiVersion': None, 'kind': None}
KUBEADM = {
    'InitConfiguration': dict(TYPEMETA, bootstrapTokens={
        'token': None, 'description': None, 'ttl': None, 'expires': None, 'usages': None,
        'groups': None}, dryRun=None, nodeRegistration=NODEREG, localAPIEndpoint=APIEP,
        certificateKey=None, skipPhases=None, patches={'directory': None}, timeouts=TIMEOUTS),
    'ClusterConfiguration': dict(
        TYPEMETA,
        etcd={'local': dict(IMAGE, dataDir=None, extraArgs=ARGS, extraEnvs=None,
                            serverCertSANs=None, peerCertSANs=None),
              'external': {'endpoints': None, 'caFile': None, 'certFile': None, 'keyFile': None}},
        networking={'serviceSubnet': None, 'podSubnet': None, 'dnsDomain': None},
        kubernetesVersion=None, controlPlaneEndpoint=None,
        apiServer=dict(COMPONENT, certSANs=None), controllerManager=COMPONENT,
        scheduler=COMPONENT, dns=dict(IMAGE, disabled=None), proxy={'disabled': None},
        certificatesDir=None, imageRepository=None, featureGates=None, clusterName=None,
        encryptionAlgorithm=None, certificateValidityPeriod=None,
        caCertificateValidityPeriod=None),
    'JoinConfiguration': dict(
        TYPEMETA, dryRun=None, nodeRegistration=NODEREG, caCertPath=None,
        discovery={'bootstrapToken': {'token': None, 'apiServerEndpoint': None,
                                      'caCertHashes': None, 'unsafeSkipCAVerification': None},
                   'file': {'kubeConfigPath': None}, 'tlsBootstrapToken': None},
        controlPlane={'localAPIEndpoint': APIEP, 'certificateKey': None},
        skipPhases=None, patches={'directory': None}, timeouts=TIMEOUTS),
}
# eventratelimit.admission.k8s.io/v1alpha1 (plugin/pkg/admission/eventratelimit/apis).
EVENTRATELIMIT = {'Configuration': dict(TYPEMETA, limits={
    'type': None, 'qps': None, 'burst': None, 'cacheSize': None})}


def main():
    schemas = {'kubeadm.k8s.io/v1beta4': KUBEADM,
               'eventratelimit.admission.k8s.io/v1alpha1': EVENTRATELIMIT}
    for arg in sys.argv[1:]:
        api_version, paths = arg.split('=', 1)
        path = paths
        structs = parse_go('\n'.join(open(p).read() for p in paths.split(',')))
        for kind in GO_KINDS[api_version]:
            if kind not in structs:
                sys.exit(f'{path}: no struct {kind}')
            schemas.setdefault(api_version, {})[kind] = tree(structs, kind)
    json.dump(schemas, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == '__main__':
    main()
