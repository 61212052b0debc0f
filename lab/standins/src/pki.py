"""Certificates and keys through the openssl CLI, laid out like kubeadm's PKI."""

import os
import secrets
import tempfile

from k8scommon import StandinError, openssl, run, write_file


def gen_key(path, alg="RSA-2048"):
    if alg.startswith("ECDSA"):
        curve = "prime256v1" if alg == "ECDSA-P256" else "secp384r1"
        pem = openssl("ecparam", "-name", curve, "-genkey", "-noout")
    else:
        bits = alg.split("-")[1]
        pem = openssl("genrsa", "-traditional", bits)
    write_file(path, pem, 0o600)
    return pem


def _subj(cn, orgs=()):
    return "".join(f"/O={o}" for o in orgs) + f"/CN={cn}"


def make_ca(crt, key, cn, alg, days):
    gen_key(key, alg)
    pem = openssl("req", "-x509", "-new", "-key", key, "-subj", _subj(cn), "-days", str(days), "-sha256",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
                  "-addext", "subjectKeyIdentifier=hash")
    write_file(crt, pem, 0o644)
    return pem


def sign(ca_crt, ca_key, csr_pem, usages, dns=(), ips=(), days=365):
    """Sign a CSR. usages: subset of {'server','client'}."""
    eku = ",".join({"server": "serverAuth", "client": "clientAuth"}[u] for u in usages)
    ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           f"extendedKeyUsage={eku}", "authorityKeyIdentifier=keyid"]
    sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
    if sans:
        ext.append("subjectAltName=" + ",".join(sans))
    with tempfile.TemporaryDirectory(prefix="pki-") as d:
        extf = os.path.join(d, "ext.cnf")
        csrf = os.path.join(d, "req.csr")
        with open(extf, "w") as f:
            f.write("\n".join(ext) + "\n")
        with open(csrf, "wb") as f:
            f.write(csr_pem if isinstance(csr_pem, bytes) else csr_pem.encode())
        serial = "0x" + secrets.token_hex(8)
        return openssl("x509", "-req", "-in", csrf, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial", serial,
                       "-days", str(days), "-sha256", "-extfile", extf)


def make_csr(key_path, cn, orgs=(), dns=(), ips=()):
    args = ["req", "-new", "-key", key_path, "-subj", _subj(cn, orgs)]
    sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
    if sans:
        args += ["-addext", "subjectAltName=" + ",".join(sans)]
    return openssl(*args)


def csr_sans(csr_pem):
    out = openssl("req", "-noout", "-text", input=csr_pem).decode()
    import re
    m = re.search(r"Subject Alternative Name:\s*\n\s*(.*)", out)
    dns, ips = [], []
    if m:
        for part in m.group(1).split(","):
            part = part.strip()
            if part.startswith("DNS:"):
                dns.append(part[4:])
            elif part.startswith("IP Address:"):
                ips.append(part[11:])
    return dns, ips


def make_cert(ca_crt, ca_key, crt, key, cn, orgs=(), usages=("server",), dns=(), ips=(), alg="RSA-2048",
              days=365):
    keypem = gen_key(key, alg)
    csr = make_csr(key, cn, orgs)
    pem = sign(ca_crt, ca_key, csr, usages, dns, ips, days)
    write_file(crt, pem, 0o644)
    return pem, keypem


def make_sa(key, pub):
    keypem = gen_key(key, "RSA-2048")
    pubpem = openssl("pkey", "-in", key, "-pubout")
    write_file(pub, pubpem, 0o644)
    return keypem


def client_cert_pem(ca_crt, ca_key, cn, orgs, alg="RSA-2048", days=365):
    """(cert_pem, key_pem) for a kubeconfig user, never written to disk except transiently."""
    with tempfile.TemporaryDirectory(prefix="pki-") as d:
        k = os.path.join(d, "k.pem")
        c = os.path.join(d, "c.pem")
        cert, key = make_cert(ca_crt, ca_key, c, k, cn, orgs, ("client",), alg=alg, days=days)
        return cert, key


def csr_subject(csr_pem):
    """-> (cn, [orgs]) from a PEM CSR."""
    out = openssl("req", "-noout", "-subject", "-nameopt", "sep_multiline,sname", input=csr_pem).decode()
    cn, orgs = None, []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("CN="):
            cn = line[3:]
        elif line.startswith("O="):
            orgs.append(line[2:])
    return cn, orgs


def verify_csr(csr_pem):
    p = run(["openssl", "req", "-noout", "-verify"], input=csr_pem, check=False)
    if p.returncode != 0:
        raise StandinError("invalid CSR signature")


def cert_subject(cert_pem):
    out = openssl("x509", "-noout", "-subject", "-nameopt", "sep_multiline,sname", input=cert_pem).decode()
    cn, orgs = None, []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("CN="):
            cn = line[3:]
        elif line.startswith("O="):
            orgs.append(line[2:])
    return cn, orgs
