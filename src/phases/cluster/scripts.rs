//! Shell scripts of the cluster steps, as data. Each runs as root with `sh`; run-time secrets
//! arrive on stdin (one per line, in the order of the step's `stdin` list) and are passed on
//! only through files (mode 0600) or the environment of `awk` — never through argv.

use std::fmt::Write;

use super::render::{
    ADMIN_CONF, CRI_SOCKET, INIT_CONFIG, JOIN_CONFIG, KUBE_VIP_MANIFEST, RUN_DIR, RenderedFile,
    SUPER_ADMIN_CONF, TOKEN_DESCRIPTION,
};
use super::runtime::RuntimeInput;

fn q(s: &str) -> String {
    shell_escape::unix::escape(s.into()).into_owned()
}

const HEAD: &str = "set -eu\numask 077\n";

/// Lines that read `inputs` from stdin into shell variables (failing clearly when one is
/// missing) and export them for `awk`'s ENVIRON.
pub fn read_inputs(inputs: &[RuntimeInput]) -> String {
    let mut s = String::new();
    for i in inputs {
        let v = i.shell_var();
        let _ = writeln!(
            s,
            "IFS= read -r {v} || true\n[ -n \"${v}\" ] || {{ echo 'stdin: {n} missing' >&2; exit 1; }}\nexport {v}",
            n = i.name()
        );
    }
    s
}

/// Write `file` atomically (temp file in the same directory + rename), filling placeholders
/// from the exported variables; refuses to leave a placeholder behind.
pub fn write_file(file: &RenderedFile) -> String {
    let dir = file.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("/");
    let mut delim = String::from("OTP_EOF");
    while file.content.lines().any(|l| l == delim) {
        delim.push('_');
    }
    let mut s = String::new();
    let _ = writeln!(s, "mkdir -p {}", q(dir));
    let _ = writeln!(s, "tmp=$(mktemp {}/.otp.XXXXXX)", q(dir));
    if file.secrets.is_empty() {
        let _ = writeln!(s, "cat > \"$tmp\" <<'{delim}'");
    } else {
        let subs: String = file
            .secrets
            .iter()
            .map(|i| format!("gsub(/{}/, ENVIRON[\"{}\"]); ", i.placeholder(), i.shell_var()))
            .collect();
        let _ = writeln!(s, "awk '{{ {subs}print }}' > \"$tmp\" <<'{delim}'");
    }
    s.push_str(&file.content);
    if !file.content.ends_with('\n') {
        s.push('\n');
    }
    let _ = writeln!(s, "{delim}");
    let _ = writeln!(
        s,
        "if grep -q '@@OTP:' \"$tmp\"; then rm -f \"$tmp\"; echo {} >&2; exit 1; fi",
        q(&format!("{}: a run-time value was not filled in", file.path))
    );
    let _ = writeln!(s, "chmod {} \"$tmp\"", file.mode);
    let _ = writeln!(s, "mv -f \"$tmp\" {}", q(&file.path));
    s
}

/// Runtime inputs the files need, deduplicated, in a stable order.
pub fn inputs_of<'a>(files: impl IntoIterator<Item = &'a RenderedFile>) -> Vec<RuntimeInput> {
    let mut v: Vec<RuntimeInput> = files.into_iter().flat_map(|f| f.secrets.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Write files (no service action).
pub fn write_files(files: &[RenderedFile]) -> (String, Vec<RuntimeInput>) {
    let inputs = inputs_of(files);
    let mut s = String::from(HEAD);
    s.push_str(&read_inputs(&inputs));
    for f in files {
        s.push_str(&write_file(f));
    }
    (s, inputs)
}

const PRINT_CA_HASH: &str = "printf 'sha256:%s\\n' \"$(openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt \
| openssl pkey -pubin -outform der 2>/dev/null | openssl dgst -sha256 -hex | sed 's/^.* //')\"\n";

/// haproxy + keepalived: install when missing, write configs, enable, reload.
pub fn load_balancer(files: &[RenderedFile]) -> String {
    let (mut s, _) = write_files(files);
    s.push_str(
        "if ! command -v haproxy >/dev/null || ! command -v keepalived >/dev/null; then\n  \
           if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy keepalived\n  \
           else dnf install -y haproxy keepalived; fi\n\
         fi\n\
         haproxy -c -f /etc/haproxy/haproxy.cfg >/dev/null\n\
         systemctl enable haproxy keepalived\n\
         systemctl reload-or-restart haproxy\n\
         systemctl restart keepalived\n",
    );
    s
}

/// `kubeadm reset` of a host holding a partial init/join, plus what reset leaves behind
/// that would break the next join (kubeadm.md 4.4).
pub fn reset() -> String {
    format!(
        "{HEAD}kubeadm reset -f --cri-socket {CRI_SOCKET}\nrm -rf /etc/cni/net.d /var/lib/etcd {RUN_DIR}\n"
    )
}

/// `kubeadm init` on the first control plane with certificate upload; prints the CA hash.
pub fn init(config: &RenderedFile) -> (String, Vec<RuntimeInput>) {
    let (mut s, inputs) = write_files(std::slice::from_ref(config));
    let _ = write!(
        s,
        "trap 'rm -f {INIT_CONFIG}' EXIT\nkubeadm init --config {INIT_CONFIG} --upload-certs\n{PRINT_CA_HASH}"
    );
    (s, inputs)
}

/// Point the kube-vip static pod back at admin.conf once init has created its RBAC binding.
pub fn kube_vip_to_admin_conf() -> String {
    format!(
        "{HEAD}sed -i 's#{SUPER_ADMIN_CONF}#{ADMIN_CONF}#' {KUBE_VIP_MANIFEST}\n\
         grep -q 'path: \"{ADMIN_CONF}\"' {KUBE_VIP_MANIFEST}\n"
    )
}

/// Create the run's bootstrap token as the Secret kubeadm would create (token from stdin,
/// never in argv), then print the CA hash for the joins.
pub fn create_token(ttl_secs: u64) -> (String, Vec<RuntimeInput>) {
    let inputs = vec![RuntimeInput::BootstrapToken];
    let mut s = String::from(HEAD);
    s.push_str(&read_inputs(&inputs));
    let _ = write!(
        s,
        "export KUBECONFIG={ADMIN_CONF}\n\
         id=${{OTP_BOOTSTRAP_TOKEN%%.*}}\n\
         exp=$(date -u -d @$(( $(date +%s) + {ttl_secs} )) +%Y-%m-%dT%H:%M:%SZ)\n\
         kubectl -n kube-system delete secret \"bootstrap-token-$id\" --ignore-not-found >/dev/null\n\
         kubectl create -f - >/dev/null <<OTP_EOF\n\
         apiVersion: v1\n\
         kind: Secret\n\
         metadata:\n  name: bootstrap-token-$id\n  namespace: kube-system\n\
         type: bootstrap.kubernetes.io/token\n\
         stringData:\n  \
           description: \"{TOKEN_DESCRIPTION}\"\n  \
           token-id: \"$id\"\n  \
           token-secret: \"${{OTP_BOOTSTRAP_TOKEN#*.}}\"\n  \
           expiration: \"$exp\"\n  \
           usage-bootstrap-authentication: \"true\"\n  \
           usage-bootstrap-signing: \"true\"\n  \
           auth-extra-groups: \"system:bootstrappers:kubeadm:default-node-token\"\n\
         OTP_EOF\n\
         echo \"bootstrap token $id created\"\n\
         {PRINT_CA_HASH}"
    );
    (s, inputs)
}

/// Re-upload the control-plane certificates encrypted with the run's certificate key
/// (the kubeadm-certs Secret expires after two hours).
pub fn upload_certs(config: &RenderedFile) -> (String, Vec<RuntimeInput>) {
    let (mut s, inputs) = write_files(std::slice::from_ref(config));
    let _ = write!(
        s,
        "trap 'rm -f {INIT_CONFIG}' EXIT\n\
         kubeadm init phase upload-certs --upload-certs --config {INIT_CONFIG} >/dev/null\n\
         echo 'control-plane certificates uploaded'\n"
    );
    (s, inputs)
}

/// `kubeadm join`; control planes also wait until they are Ready (the serial-join gate) and
/// then get their kube-vip manifest, which must not exist before admin.conf does.
pub fn join(
    node: &str,
    config: &RenderedFile,
    control_plane: bool,
    kube_vip: Option<&RenderedFile>,
) -> (String, Vec<RuntimeInput>) {
    let (mut s, inputs) = write_files(std::slice::from_ref(config));
    let _ = writeln!(
        s,
        "trap 'rm -f {JOIN_CONFIG}' EXIT\nkubeadm join --config {JOIN_CONFIG}"
    );
    if control_plane {
        let _ = writeln!(
            s,
            "kubectl --kubeconfig {ADMIN_CONF} wait --for=condition=Ready node/{} --timeout=10m",
            q(node)
        );
        if let Some(kv) = kube_vip {
            s.push_str(&write_file(kv));
        }
    }
    (s, inputs)
}

/// Apply the CNI manifest from a control plane.
pub fn apply_manifest(file: &RenderedFile) -> String {
    let (mut s, _) = write_files(std::slice::from_ref(file));
    let _ = writeln!(
        s,
        "kubectl --kubeconfig {ADMIN_CONF} apply -f {}",
        q(&file.path)
    );
    s
}

/// Approve the kubelet serving-certificate CSRs of the given nodes (only those: a CSR naming
/// any other node is left for a human). Waits up to `wait_secs` for CSRs still to appear.
pub fn approve_serving_csrs(nodes: &[&str], wait_secs: u64) -> String {
    let list = nodes.iter().map(|n| q(n)).collect::<Vec<_>>().join(" ");
    format!(
        "{HEAD}export KUBECONFIG={ADMIN_CONF}\n\
         end=$(( $(date +%s) + {wait_secs} ))\n\
         while :; do\n  \
           missing=0\n  \
           for n in {list}; do\n    \
             csrs=$(kubectl get csr -o jsonpath=\"{{range .items[?(@.spec.username=='system:node:$n')]}}{{.metadata.name}} {{.spec.signerName}} {{.status.conditions[*].type}}{{'\\n'}}{{end}}\")\n    \
             pending=$(printf '%s\\n' \"$csrs\" | awk '$2==\"kubernetes.io/kubelet-serving\" && NF==2 {{print $1}}')\n    \
             done_=$(printf '%s\\n' \"$csrs\" | awk '$2==\"kubernetes.io/kubelet-serving\" && $3==\"Approved\" {{print $1}}')\n    \
             for c in $pending; do kubectl certificate approve \"$c\"; done\n    \
             [ -n \"$pending$done_\" ] || missing=1\n  \
           done\n  \
           [ \"$missing\" = 0 ] && break\n  \
           [ \"$(date +%s)\" -ge \"$end\" ] && {{ echo 'some kubelets have not asked for a serving certificate yet' >&2; exit 1; }}\n  \
           sleep 5\n\
         done\n"
    )
}

/// Set inventory labels on a node (`--overwrite`: the inventory is the source of truth).
pub fn label_node(node: &str, labels: &[(String, String)]) -> String {
    let args = labels
        .iter()
        .map(|(k, v)| q(&format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{HEAD}kubectl --kubeconfig {ADMIN_CONF} label node {} {args} --overwrite\n",
        q(node)
    )
}

/// Delete every bootstrap token this tool created (found by description; ids are public).
pub fn delete_run_tokens() -> String {
    format!(
        "{HEAD}export KUBECONFIG={ADMIN_CONF}\n\
         kubectl -n kube-system get secrets --field-selector type=bootstrap.kubernetes.io/token \
-o jsonpath='{{range .items[*]}}{{.metadata.name}}{{\" \"}}{{.data.description}}{{\"\\n\"}}{{end}}' |\n\
         while read -r name desc; do\n  \
           [ -n \"$name\" ] || continue\n  \
           if [ \"$(printf '%s' \"$desc\" | base64 -d 2>/dev/null)\" = {} ]; then kubectl -n kube-system delete secret \"$name\"; fi\n\
         done\n",
        q(TOKEN_DESCRIPTION)
    )
}

/// Remove an etcd member left by a failed control-plane join (id is hex, public).
pub fn remove_etcd_member(id: &str) -> String {
    format!(
        "{HEAD}cid=$(crictl ps -q --name '^etcd$' | head -n1)\n\
         crictl exec \"$cid\" etcdctl --endpoints=https://127.0.0.1:2379 \
--cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
--key=/etc/kubernetes/pki/etcd/healthcheck-client.key member remove {}\n",
        q(id)
    )
}

/// Delete a Node object whose host lost its credentials (it re-joins under the same name).
pub fn delete_node(node: &str) -> String {
    format!(
        "{HEAD}kubectl --kubeconfig {ADMIN_CONF} delete node {} --ignore-not-found\n",
        q(node)
    )
}

/// Print admin.conf for the operator's copy (captured as a secret by the caller).
pub fn read_admin_conf() -> String {
    format!("{HEAD}cat {ADMIN_CONF}\n")
}

/// Print the encryption key already in use, so new control planes get the same one.
pub fn read_encryption_key() -> String {
    format!(
        "{HEAD}sed -n 's/^ *secret: *\"\\{{0,1\\}}\\([^\"]*\\)\"\\{{0,1\\}} *$/\\1/p' {} | head -n1\n",
        q(super::render::ENCRYPTION_CONFIG)
    )
}
