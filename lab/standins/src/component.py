#!/usr/bin/python3
"""kube-controller-manager / kube-scheduler stand-in: validates its flags and kubeconfig
and serves /healthz, /livez, /readyz over HTTPS like the real components. The work of the
controllers that matters in the lab (CSR signing, bootstrap signer, token cleaner, GC)
is done inside the kube-apiserver stand-in."""

import os
import ssl
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from k8scommon import klog, set_process_args, load_kubeconfig, openssl, StandinError

COMMON = set("""authentication-kubeconfig authorization-kubeconfig bind-address kubeconfig leader-elect secure-port
profiling v vmodule feature-gates tls-cert-file tls-private-key-file tls-min-version tls-cipher-suites
client-ca-file requestheader-client-ca-file leader-elect-lease-duration leader-elect-renew-deadline
leader-elect-retry-period authorization-always-allow-paths logging-format config""".split())
KCM = COMMON | set("""cluster-name cluster-signing-cert-file cluster-signing-key-file controllers root-ca-file
service-account-private-key-file use-service-account-credentials allocate-node-cidrs cluster-cidr
service-cluster-ip-range node-cidr-mask-size node-monitor-grace-period node-monitor-period
terminated-pod-gc-threshold rotate-certificates cluster-signing-duration concurrent-deployment-syncs
horizontal-pod-autoscaler-sync-period configure-cloud-routes cloud-provider flex-volume-plugin-dir""".split())
SCHED = COMMON | set("""percentage-of-nodes-to-score""".split())


def die(msg):
    klog("E", '"command failed" err="%s"', msg.replace('"', '\\"'), file="run.go", line=72)
    sys.exit(1)


def main(argv):
    comp, argv = argv[0], argv[1:]
    set_process_args([comp] + argv, comp)
    known = KCM if comp == "kube-controller-manager" else SCHED
    args = {}
    for a in argv:
        k, eq, v = a.lstrip("-").partition("=")
        if k not in known:
            sys.stderr.write(f"Error: unknown flag: --{k}\n")
            sys.exit(1)
        args[k] = v if eq else "true"
    for f in ("kubeconfig", "authentication-kubeconfig", "authorization-kubeconfig"):
        if args.get(f):
            try:
                load_kubeconfig(args[f])
            except StandinError as e:
                die(f'invalid configuration: stat {args[f]}: no such file or directory' if "no such" in str(e) else str(e))
    for f in ("cluster-signing-cert-file", "cluster-signing-key-file", "root-ca-file", "service-account-private-key-file"):
        if args.get(f) and not os.path.exists(args[f]):
            die(f"open {args[f]}: no such file or directory")
    port = int(args.get("secure-port") or (10257 if comp == "kube-controller-manager" else 10259))
    bind = args.get("bind-address", "0.0.0.0")
    d = tempfile.mkdtemp(prefix=f"{comp}-")
    key, crt = f"{d}/tls.key", f"{d}/tls.crt"
    open(key, "wb").write(openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"))
    open(crt, "wb").write(openssl("req", "-x509", "-new", "-key", key, "-subj", f"/CN=localhost@{os.getpid()}", "-days", "365"))

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] in ("/healthz", "/livez", "/readyz"):
                code, body = 200, b"ok"
            else:
                code, body = 403, b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}'
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    try:
        srv = ThreadingHTTPServer((bind, port), H)
    except OSError as e:
        die(f"failed to create listener: failed to listen on {bind}:{port}: listen tcp {bind}:{port}: bind: {e.strerror.lower()}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    klog("I", "Serving securely on %s:%d", bind, port, file="secure_serving.go", line=213)
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
