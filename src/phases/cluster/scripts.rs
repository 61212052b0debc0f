//! Shell scripts of the cluster steps, as data. Each runs as root with `sh`; run-time secrets
//! arrive on stdin (one per line, in the order of the step's `stdin` list) and are passed on
//! only through files (mode 0600) or the environment of `awk` — never through argv.

use std::fmt::Write;

use super::render::{
    ADMIN_CONF, CRI_SOCKET, INIT_CONFIG, JOIN_CONFIG, KUBE_VIP_MANIFEST, RUN_DIR, RenderedFile,
    SUPER_ADMIN_CONF, TOKEN_DESCRIPTION,
};
use crate::runtime::RuntimeInput;
use crate::shell::q;

const HEAD: &str = "set -eu\numask 077\n";

/// Lines that read `inputs` from stdin into shell variables (failing clearly when one is
/// missing). They are not exported: only the `awk` that fills a file gets them, through its
/// own environment, so kubeadm and kubectl never inherit them.
pub fn read_inputs(inputs: &[RuntimeInput]) -> String {
    let mut s = String::new();
    for i in inputs {
        let v = i.shell_var();
        let _ = writeln!(
            s,
            "IFS= read -r {v} || true\n[ -n \"${v}\" ] || {{ echo 'stdin: {n} missing' >&2; exit 1; }}",
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
            .map(|i| {
                format!(
                    "gsub(/{}/, ENVIRON[\"{}\"]); ",
                    i.placeholder(),
                    i.shell_var()
                )
            })
            .collect();
        let env: String = file
            .secrets
            .iter()
            .map(|i| format!("{v}=\"${v}\" ", v = i.shell_var()))
            .collect();
        let _ = writeln!(s, "{env}awk '{{ {subs}print }}' > \"$tmp\" <<'{delim}'");
    }
    s.push_str(&file.content);
    if !file.content.ends_with('\n') {
        s.push('\n');
    }
    let _ = writeln!(s, "{delim}");
    let _ = writeln!(
        s,
        "if grep -q '@@OTP:' \"$tmp\"; then rm -f \"$tmp\"; echo {} >&2; exit 1; fi",
        q(&format!(
            "{}: a run-time value was not filled in",
            file.path
        ))
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

/// `kubeadm reset` of a host holding a partial init/join, plus what reset leaves behind
/// that would break the next join (kubeadm.md 4.4).
pub fn reset() -> String {
    format!(
        "{HEAD}kubeadm reset -f --cri-socket {CRI_SOCKET}\nrm -rf /etc/cni/net.d /var/lib/etcd {RUN_DIR}\n"
    )
}

/// A step around one transient kubeadm config: the trap that removes it (and any temp file)
/// is set before it is written; the command's output is shown only after every run-time value
/// in it was replaced by `[redacted]` (kubeadm prints join commands with token and key).
fn with_transient_config(
    config: &RenderedFile,
    command: &str,
    after: &str,
) -> (String, Vec<RuntimeInput>) {
    let inputs = inputs_of(std::slice::from_ref(config));
    let mut s = String::from(HEAD);
    s.push_str(&read_inputs(&inputs));
    let dir = config.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("/");
    let _ = writeln!(
        s,
        "log=$(mktemp)\ntrap 'rm -f {} \"$log\" {}/.otp.*' EXIT",
        q(&config.path),
        q(dir)
    );
    s.push_str(&write_file(config));
    // Literal replacement (index/substr): secrets are not regular expressions.
    let redact: String = inputs
        .iter()
        .filter(|i| i.is_secret())
        .map(|i| format!("$0 = lit($0, ENVIRON[\"{}\"]); ", i.shell_var()))
        .collect();
    let env: String = inputs
        .iter()
        .filter(|i| i.is_secret())
        .map(|i| format!("{v}=\"${v}\" ", v = i.shell_var()))
        .collect();
    let _ = write!(
        s,
        "rc=0\n{command} >\"$log\" 2>&1 || rc=$?\n\
         {env}awk 'function lit(s, t,   i, o) {{ o = \"\"; while (t != \"\" && (i = index(s, t)) > 0) {{ o = o substr(s, 1, i - 1) \"[redacted]\"; s = substr(s, i + length(t)) }} return o s }} {{ {redact}print }}' \"$log\" >&2\n\
         [ \"$rc\" -eq 0 ] || exit \"$rc\"\n{after}"
    );
    (s, inputs)
}

/// `kubeadm init` on the first control plane with certificate upload; prints the CA hash.
pub fn init(config: &RenderedFile) -> (String, Vec<RuntimeInput>) {
    with_transient_config(
        config,
        &format!(
            "kubeadm init --config {INIT_CONFIG} --upload-certs --skip-token-print --skip-certificate-key-print"
        ),
        PRINT_CA_HASH,
    )
}

/// Restart the local kube-apiserver container (the kubelet starts it again with the new
/// files) and wait until it is ready, at most five minutes.
pub fn restart_apiserver(node_ip: &str) -> String {
    let server = if node_ip.contains(':') {
        format!("https://[{node_ip}]:6443")
    } else {
        format!("https://{node_ip}:6443")
    };
    format!(
        "cid=$(crictl ps -q --name '^kube-apiserver$' | head -n1)\n\
         if [ -n \"$cid\" ]; then crictl stop \"$cid\" >/dev/null; fi\n\
         sleep 5\n\
         i=0\n\
         until kubectl --kubeconfig {ADMIN_CONF} --server {} get --raw=/readyz >/dev/null 2>&1; do\n  \
           i=$((i + 1))\n  \
           if [ \"$i\" -ge 60 ]; then echo 'kube-apiserver not ready 5 minutes after its restart' >&2; exit 1; fi\n  \
           sleep 5\n\
         done\n",
        q(&server)
    )
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

/// Re-run kubeadm's addon phase (CoreDNS, kube-proxy) after an init interrupted at its end.
pub fn init_addons(config: &RenderedFile) -> (String, Vec<RuntimeInput>) {
    with_transient_config(
        config,
        &format!("kubeadm init phase addon all --config {INIT_CONFIG}"),
        "echo 'kubeadm addons installed'\n",
    )
}

/// Re-upload the control-plane certificates encrypted with the run's certificate key
/// (the kubeadm-certs Secret expires after two hours).
pub fn upload_certs(config: &RenderedFile) -> (String, Vec<RuntimeInput>) {
    with_transient_config(
        config,
        &format!(
            "kubeadm init phase upload-certs --upload-certs --skip-certificate-key-print --config {INIT_CONFIG}"
        ),
        "echo 'control-plane certificates uploaded'\n",
    )
}

/// `kubeadm join`; control planes also wait until they are Ready (the serial-join gate) and
/// then get their kube-vip manifest, which must not exist before admin.conf does.
pub fn join(
    node: &str,
    config: &RenderedFile,
    control_plane: bool,
    kube_vip: Option<&RenderedFile>,
) -> (String, Vec<RuntimeInput>) {
    let mut after = String::new();
    if control_plane {
        let _ = writeln!(
            after,
            "kubectl --kubeconfig {ADMIN_CONF} wait --for=condition=Ready node/{} --timeout=10m",
            q(node)
        );
        if let Some(kv) = kube_vip {
            after.push_str(&write_file(kv));
        }
    }
    with_transient_config(
        config,
        &format!("kubeadm join --config {JOIN_CONFIG}"),
        &after,
    )
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
           csrs=$(kubectl get csr -o jsonpath='{{range .items[*]}}{{.metadata.name}}{{\" \"}}{{.spec.signerName}}{{\" \"}}{{.spec.username}}{{\" \"}}{{.status.conditions[*].type}}{{\"\\n\"}}{{end}}')\n  \
           missing=\n  \
           for n in {list}; do\n    \
             sel='$2==\"kubernetes.io/kubelet-serving\" && $3==u'\n    \
             pending=$(printf '%s\\n' \"$csrs\" | awk -v u=\"system:node:$n\" \"$sel && NF==3 {{print \\$1}}\")\n    \
             approved=$(printf '%s\\n' \"$csrs\" | awk -v u=\"system:node:$n\" \"$sel && \\$4==\\\"Approved\\\" {{print \\$1}}\")\n    \
             for c in $pending; do kubectl certificate approve \"$c\"; done\n    \
             [ -n \"$pending$approved\" ] || missing=\"$missing $n\"\n  \
           done\n  \
           [ -z \"$missing\" ] && break\n  \
           if [ \"$(date +%s)\" -ge \"$end\" ]; then echo \"no serving-certificate request yet from:$missing\" >&2; exit 1; fi\n  \
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
         list=$(kubectl -n kube-system get secrets --field-selector type=bootstrap.kubernetes.io/token \
-o jsonpath='{{range .items[*]}}{{.metadata.name}}{{\" \"}}{{.data.description}}{{\"\\n\"}}{{end}}')\n\
         printf '%s\\n' \"$list\" | while read -r name desc; do\n  \
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::cluster::fixtures;
    use crate::phases::cluster::render::{self, ENCRYPTION_CONFIG, RenderOptions, security_files};
    use crate::runtime::{Capture, RuntimeValues};
    use std::io::Write as _;
    use std::path::Path;
    use std::process::{Command, Stdio};

    const TOKEN: &str = "abcdef.0123456789abcdef";
    const CERT_KEY: &str = "0f0e0d0c0b0a09080706050403020100ffeeddccbbaa99887766554433221100";
    const ENC_KEY: &str = "c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcyEhISE=";

    /// A sandbox: absolute node paths are moved under a temp dir and kubeadm/kubectl/crictl/
    /// openssl are fakes that log their argv (and stdin, for kubectl) so tests can check
    /// where secrets went.
    struct Sandbox {
        dir: tempfile::TempDir,
    }

    impl Sandbox {
        fn new(kubectl_stdout: &str) -> Sandbox {
            let dir = tempfile::tempdir().unwrap();
            let bin = dir.path().join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let log = dir.path().join("argv.log");
            let fake = |name: &str, body: &str| {
                let p = bin.join(name);
                std::fs::write(
                    &p,
                    format!(
                        "#!/bin/sh\necho \"{name} $*\" >> '{}'\n{body}",
                        log.display()
                    ),
                )
                .unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            };
            let root = dir.path().display().to_string();
            // kubeadm: keep a copy of the config it was given (what the node would see).
            // kubeadm: keep a copy of the config it was given (what the node would see) and
            // print the token like `kubeadm init` prints its join command.
            fake(
                "kubeadm",
                &format!(
                    "for a in \"$@\"; do case $prev in --config) cp \"$a\" '{root}/seen-config';; esac; prev=$a; done\n\
                     [ -f '{root}/seen-config' ] && sed -n 's/.*token: \\(.*\\)/kubeadm join --token \\1/p' '{root}/seen-config'\n\
                     env > '{root}/kubeadm.env'\n"
                ),
            );
            std::fs::write(dir.path().join("kubectl.out"), kubectl_stdout).unwrap();
            fake(
                "kubectl",
                &format!(
                    "case \"$*\" in 'create -f -') cat >> '{root}/kubectl.stdin';; *'get csr'*|*'get secrets'*) cat '{root}/kubectl.out';; esac\n"
                ),
            );
            fake(
                "openssl",
                "case $1 in dgst) echo \"SHA2-256(stdin)= $(printf 'a%.0s' $(seq 64))\";; *) cat >/dev/null 2>&1 || true;; esac\n",
            );
            Sandbox { dir }
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn localise(&self, script: &str) -> String {
            let r = self.root().display().to_string();
            script
                .replace("/run/otp-provision", &format!("{r}/run/otp-provision"))
                .replace("/etc/kubernetes", &format!("{r}/etc/kubernetes"))
        }

        fn run(&self, script: &str, stdin: &str) -> (i32, String, String) {
            let script = self.localise(script);
            let root = self.root().display().to_string();
            // Tests run as whatever user builds the crate, maybe root: never touch the real /.
            for line in script
                .lines()
                .filter(|l| l.starts_with("mv -f ") || l.starts_with("mkdir -p "))
            {
                assert!(line.contains(&root), "sandbox escape: {line}");
            }
            let path = format!(
                "{}:{}",
                self.root().join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("PATH", path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }

        fn read(&self, rel: &str) -> String {
            std::fs::read_to_string(self.root().join(rel)).unwrap_or_default()
        }
    }

    #[test]
    fn every_generated_script_is_valid_sh() {
        let inv = fixtures::kube_vip();
        let cp2 = inv.host("cp-2").unwrap();
        let join_cfg = render::join_config(&inv, cp2).unwrap();
        let kv = render::kube_vip_manifest(&inv, cp2, &RenderOptions::default(), false).unwrap();
        let init_cfg = render::init_config(&inv, inv.host("cp-1").unwrap()).unwrap();
        let cni = render::render_cluster_files(&inv).unwrap().remove(0);
        let scripts = [
            init(&init_cfg).0,
            join("cp-2", &join_cfg, true, Some(&kv)).0,
            create_token(3600).0,
            upload_certs(&init_cfg).0,
            init_addons(&init_cfg).0,
            reset(),
            kube_vip_to_admin_conf(),
            restart_apiserver("10.0.0.11"),
            apply_manifest(&cni),
            approve_serving_csrs(&["cp-1", "w-1"], 60),
            label_node("w-1", &[("zone".into(), "a b".into())]),
            delete_run_tokens(),
            remove_etcd_member("8e9e05c52164694d"),
            delete_node("w-1"),
            read_admin_conf(),
            read_encryption_key(),
            crate::phases::cluster::state::host_probe_script(&["/etc/a"], Some("10.0.0.100")),
            crate::phases::cluster::state::api_probe_script(),
            crate::phases::cluster::planners::teardown::teardown_script(),
        ];
        if let Ok(dir) = std::env::var("OTP_SCRIPTS_OUT") {
            std::fs::create_dir_all(&dir).unwrap();
            for (i, s) in scripts.iter().enumerate() {
                std::fs::write(format!("{dir}/script-{i:02}.sh"), s).unwrap();
            }
        }
        for s in &scripts {
            let out = Command::new("sh")
                .arg("-n")
                .arg("-c")
                .arg(s)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "sh -n failed: {}\n{s}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn file_with_a_secret_is_filled_on_the_node_and_the_key_round_trips() {
        let inv = fixtures::ha();
        let files: Vec<RenderedFile> = security_files(&inv, inv.host("cp-1").unwrap())
            .unwrap()
            .into_iter()
            .filter(|f| f.path == ENCRYPTION_CONFIG)
            .collect();
        let (script, inputs) = write_files(&files);
        assert_eq!(inputs, vec![RuntimeInput::EncryptionKey]);
        assert!(!script.contains(ENC_KEY));
        let sb = Sandbox::new("");
        let (code, _, err) = sb.run(&script, &format!("{ENC_KEY}\n"));
        assert_eq!(code, 0, "{err}");
        let written = sb.read("etc/kubernetes/enc/encryption-config.yaml");
        assert!(written.contains(&format!("secret: \"{ENC_KEY}\"")));
        assert!(!written.contains("@@OTP:"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sb.root().join("etc/kubernetes/enc/encryption-config.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // The key can be read back for the next control plane.
        let (code, out, _) = sb.run(&read_encryption_key(), "");
        assert_eq!(code, 0);
        let mut rv = RuntimeValues::default();
        rv.record(Capture::EncryptionKey, &out).unwrap();
        assert_eq!(rv.encryption_key.unwrap().expose(), ENC_KEY);
    }

    /// The planner compares the node's sha256 with the rendered one: a written file must hash
    /// exactly like its rendering, or the second `up` would rewrite it forever.
    #[test]
    fn written_files_hash_like_their_rendering() {
        use sha2::Digest;
        let inv = fixtures::lb_on_control_planes();
        let cp1 = inv.host("cp-1").unwrap();
        let mut files = security_files(&inv, cp1).unwrap();
        files.retain(|f| f.secrets.is_empty());
        let sb = Sandbox::new("");
        let localised: Vec<RenderedFile> = files
            .iter()
            .map(|f| RenderedFile {
                path: format!("/etc/kubernetes/t/{}", f.path.replace('/', "_")),
                ..f.clone()
            })
            .collect();
        let (script, _) = write_files(&localised);
        let (code, _, err) = sb.run(&script, "");
        assert_eq!(code, 0, "{err}");
        for (f, l) in files.iter().zip(&localised) {
            let on_disk = std::fs::read(sb.root().join(l.path.trim_start_matches('/'))).unwrap();
            assert_eq!(
                hex::encode(sha2::Sha256::digest(&on_disk)),
                f.sha256(),
                "{}",
                f.path
            );
        }
    }

    #[test]
    fn missing_stdin_fails_before_writing() {
        let inv = fixtures::ha();
        let files = security_files(&inv, inv.host("cp-1").unwrap()).unwrap();
        let (script, _) = write_files(&files);
        let sb = Sandbox::new("");
        let (code, _, err) = sb.run(&script, "");
        assert_ne!(code, 0);
        assert!(err.contains("stdin: encryption-key missing"), "{err}");
        assert!(!sb.root().join("etc/kubernetes/audit/policy.yaml").exists());
    }

    #[test]
    fn join_passes_secrets_by_file_only_and_removes_the_file() {
        let inv = fixtures::ha();
        let cp2 = inv.host("cp-2").unwrap();
        let cfg = render::join_config(&inv, cp2).unwrap();
        let (script, inputs) = join("cp-2", &cfg, true, None);
        let hash = format!("sha256:{}", "b".repeat(64));
        let rv = RuntimeValues {
            bootstrap_token: Some(crate::secret::Secret::new(TOKEN)),
            certificate_key: Some(crate::secret::Secret::new(CERT_KEY)),
            ca_cert_hash: Some(hash.clone()),
            ..Default::default()
        };
        let stdin = rv.stdin_for(&inputs).unwrap();
        let sb = Sandbox::new("");
        let (code, _, err) = sb.run(&script, stdin.expose());
        assert_eq!(code, 0, "{err}");
        let seen = sb.read("seen-config");
        assert!(seen.contains(&format!("token: \"{TOKEN}\"")));
        assert!(seen.contains(&format!("certificateKey: \"{CERT_KEY}\"")));
        assert!(seen.contains(&format!("- \"{hash}\"")));
        let argv = sb.read("argv.log");
        assert!(argv.contains("kubeadm join --config"), "{argv}");
        assert!(argv.contains("kubectl --kubeconfig"), "{argv}");
        assert!(!argv.contains(TOKEN) && !argv.contains(CERT_KEY), "{argv}");
        assert!(
            !sb.root()
                .join("run/otp-provision/kubeadm-join.yaml")
                .exists()
        );
    }

    #[test]
    fn token_is_created_from_stdin_and_the_ca_hash_printed() {
        let (script, inputs) = create_token(3600);
        assert_eq!(inputs, vec![RuntimeInput::BootstrapToken]);
        let sb = Sandbox::new("");
        let (code, out, err) = sb.run(&script, &format!("{TOKEN}\n"));
        assert_eq!(code, 0, "{err}");
        let body = sb.read("kubectl.stdin");
        assert!(body.contains("name: bootstrap-token-abcdef"), "{body}");
        assert!(
            body.contains("token-secret: \"0123456789abcdef\""),
            "{body}"
        );
        assert!(body.contains(&format!("description: \"{TOKEN_DESCRIPTION}\"")));
        assert!(!sb.read("argv.log").contains("0123456789abcdef"));
        let mut rv = RuntimeValues::default();
        rv.record(Capture::CaCertHash, &out).unwrap();
        assert_eq!(rv.ca_cert_hash, Some(format!("sha256:{}", "a".repeat(64))));
    }

    #[test]
    fn only_inventory_nodes_serving_csrs_are_approved() {
        let csrs = "csr-1 kubernetes.io/kubelet-serving system:node:w-1 \n\
                    csr-2 kubernetes.io/kubelet-serving system:node:intruder \n\
                    csr-3 kubernetes.io/kube-apiserver-client-kubelet system:node:w-1 \n\
                    csr-4 kubernetes.io/kubelet-serving system:node:cp-1 Approved\n";
        let sb = Sandbox::new(csrs);
        let (code, _, err) = sb.run(&approve_serving_csrs(&["cp-1", "w-1"], 0), "");
        assert_eq!(code, 0, "{err}");
        let argv = sb.read("argv.log");
        assert!(argv.contains("kubectl certificate approve csr-1"), "{argv}");
        assert!(
            !argv.contains("csr-2") && !argv.contains("csr-3") && !argv.contains("approve csr-4"),
            "{argv}"
        );
        // A node that never asked makes the step fail after the wait, naming it.
        let sb = Sandbox::new(csrs);
        let (code, _, err) = sb.run(&approve_serving_csrs(&["w-9"], 0), "");
        assert_ne!(code, 0);
        assert!(
            err.contains("no serving-certificate request yet from: w-9"),
            "{err}"
        );
    }

    #[test]
    fn cleanup_deletes_only_this_tools_tokens() {
        use base64::Engine;
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let list = format!(
            "bootstrap-token-abcdef {}\nbootstrap-token-zzzzzz {}\nbootstrap-token-nodesc \n",
            b(TOKEN_DESCRIPTION),
            b("made by a human")
        );
        let sb = Sandbox::new(&list);
        let (code, _, err) = sb.run(&delete_run_tokens(), "");
        assert_eq!(code, 0, "{err}");
        let argv = sb.read("argv.log");
        assert!(
            argv.contains("delete secret bootstrap-token-abcdef"),
            "{argv}"
        );
        assert!(
            !argv.contains("delete secret bootstrap-token-zzzzzz"),
            "{argv}"
        );
        assert!(
            !argv.contains("delete secret bootstrap-token-nodesc"),
            "{argv}"
        );
    }

    #[test]
    fn heredoc_delimiter_never_collides_with_content() {
        let f = RenderedFile {
            path: "/etc/kubernetes/x".into(),
            content: "a\nOTP_EOF\nb\n".into(),
            mode: "0644".into(),
            secrets: vec![],
            transient: false,
        };
        let s = write_file(&f);
        assert!(s.contains("<<'OTP_EOF_'"));
        let sb = Sandbox::new("");
        let (code, _, err) = sb.run(&s, "");
        assert_eq!(code, 0, "{err}");
        assert_eq!(sb.read("etc/kubernetes/x"), f.content);
    }
}
