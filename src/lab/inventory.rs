//! The inventory and known_hosts files `lab up` writes: the same format an operator writes for
//! real servers, so the product cannot tell it runs in a lab.

use std::fmt::Write as _;

use crate::inventory::model::Role;

use super::layout::Layout;

pub struct InventoryParams<'a> {
    pub cluster_name: &'a str,
    pub kubernetes_version: &'a str,
    pub repo_url: &'a str,
}

fn quote(s: &str) -> String {
    // Every value written here is a name, an address or a URL we built; escaping keeps the file
    // valid TOML even so.
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Render the inventory. Paths are relative to the inventory's own directory.
pub fn render(layout: &Layout, p: &InventoryParams<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by `otp-provision lab up`; rewritten on every run.\n"
    );
    let _ = writeln!(s, "[cluster]");
    let _ = writeln!(s, "name = {}", quote(p.cluster_name));
    let _ = writeln!(s, "kubernetes_version = {}", quote(p.kubernetes_version));
    let _ = writeln!(s, "pod_subnet = \"10.244.0.0/16\"");
    let _ = writeln!(s, "service_subnet = \"10.96.0.0/12\"");
    // Without a load balancer there is nothing to carry a VIP; the first control plane's
    // address is then the endpoint (kubeadm's default).
    if layout.nodes.iter().any(|n| n.role == Role::LoadBalancer) {
        let _ = writeln!(s, "\n[cluster.endpoint]");
        let _ = writeln!(s, "mode = \"haproxy-keepalived\"");
        let _ = writeln!(s, "address = {}", quote(&layout.vip.to_string()));
        let _ = writeln!(s, "port = 6443");
    }
    // Lab nodes are containers sharing the host's kernel: kernel.panic, vm.overcommit_memory
    // and friends are not namespaced, so node preparation must not set them there (it would
    // change the host). Real servers keep the hardened default.
    let _ = writeln!(s, "\n[cluster.security]");
    let _ = writeln!(
        s,
        "# lab only: containers share the host kernel; see lab/README.md\nkubelet_protect_kernel_defaults = false"
    );
    let _ = writeln!(s, "\n[packages]");
    let _ = writeln!(s, "source = \"mirror\"");
    let _ = writeln!(s, "url = {}", quote(p.repo_url));
    let _ = writeln!(s, "debian = true");
    let _ = writeln!(s, "\n[ssh]");
    let _ = writeln!(s, "user = \"otp\"");
    let _ = writeln!(s, "key_files = [\"state/id_ed25519\"]");
    let _ = writeln!(s, "agent = false");
    let _ = writeln!(s, "sudo = true");
    let _ = writeln!(s, "known_hosts = [\"known_hosts\"]");
    let _ = writeln!(s, "host_key_policy = \"strict\"");
    for n in &layout.nodes {
        let _ = writeln!(s, "\n[[host]]");
        let _ = writeln!(s, "name = {}", quote(&n.name));
        let _ = writeln!(s, "address = {}", quote(&n.address.to_string()));
        let _ = writeln!(s, "roles = [{}]", quote(n.role.as_str()));
    }
    s
}

/// known_hosts lines for one node: `ADDRESS KEYTYPE BASE64`, comments dropped.
/// `pubkeys` is the content of the node's /etc/ssh/ssh_host_*_key.pub files.
pub fn known_hosts_lines(address: &str, pubkeys: &str) -> Vec<String> {
    pubkeys
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (kind, key) = (f.next()?, f.next()?);
            (kind.starts_with("ssh-") || kind.starts_with("ecdsa-"))
                .then(|| format!("{address} {kind} {key}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::layout::plan;
    use super::*;

    #[test]
    fn inventory_default_lab() {
        let l = plan("172.30.7.0/24".parse().unwrap(), 3, 2, 1).unwrap();
        let text = render(
            &l,
            &InventoryParams {
                cluster_name: "otp-lab",
                kubernetes_version: "1.33.4",
                repo_url: "http://172.30.7.2:8080",
            },
        );
        insta::assert_snapshot!(text);
        // The file must be valid TOML with the keys the loader reads.
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(v["host"].as_array().unwrap().len(), 6);
        assert_eq!(
            v["cluster"]["endpoint"]["address"].as_str(),
            Some("172.30.7.3")
        );
    }

    #[test]
    fn no_endpoint_without_load_balancer() {
        let l = plan("172.30.7.0/24".parse().unwrap(), 1, 1, 0).unwrap();
        let text = render(
            &l,
            &InventoryParams {
                cluster_name: "t",
                kubernetes_version: "1.33.4",
                repo_url: "http://172.30.7.2:8080",
            },
        );
        let v: toml::Table = toml::from_str(&text).unwrap();
        assert!(v["cluster"].get("endpoint").is_none());
    }

    #[test]
    fn known_hosts_from_pub_files() {
        let cases = [
            (
                "ssh-ed25519 AAAAC3Nz root@cp1\necdsa-sha2-nistp256 AAAAE2 root@cp1\n",
                vec![
                    "10.0.0.1 ssh-ed25519 AAAAC3Nz",
                    "10.0.0.1 ecdsa-sha2-nistp256 AAAAE2",
                ],
            ),
            (
                "ssh-rsa AAAAB3\n\ngarbage\n",
                vec!["10.0.0.1 ssh-rsa AAAAB3"],
            ),
            ("", vec![]),
        ];
        for (input, want) in cases {
            assert_eq!(known_hosts_lines("10.0.0.1", input), want, "{input:?}");
        }
    }
}
