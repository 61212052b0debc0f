//! Inventory loading: a table of malformed inventories with their exact error positions, and
//! positive tests for merging, defaults, path resolution and warnings.

use std::path::{Path, PathBuf};

use super::*;

const FILE: &str = "/inv/cluster.toml";

fn load_text(text: &str) -> Result<Loaded, InventoryError> {
    load_with_home(Path::new(FILE), text, Some(PathBuf::from("/home/op")))
}

/// The smallest valid inventory: lines 1-7. Cases append from line 8 on, inside cp1's table
/// unless they open a new section.
const MIN: &str = r#"[cluster]
name = "c"
kubernetes_version = "1.33.4"
[[host]]
name = "cp1"
address = "10.0.0.11"
roles = ["control-plane"]
"#;

fn min_plus(extra: &str) -> String {
    format!("{MIN}{extra}")
}

/// Three control planes through a group: lines 1-18 (`[groups.cp]` at 4, hosts at 6, 10, 14).
fn three_cp(cluster_extra: &str) -> String {
    format!(
        r#"[cluster]
name = "c"
kubernetes_version = "1.33.4"
{cluster_extra}[groups.cp]
roles = ["control-plane", "worker"]
[[host]]
name = "cp1"
address = "10.0.0.11"
group = "cp"
[[host]]
name = "cp2"
address = "10.0.0.12"
group = "cp"
[[host]]
name = "cp3"
address = "10.0.0.13"
group = "cp"
"#
    )
}

struct Case {
    name: &'static str,
    text: String,
    /// `line:col` of the expected error.
    at: &'static str,
    /// Fragment of its message.
    message: &'static str,
    /// Fragment of its hint.
    hint: &'static str,
    /// Total number of errors expected (catches cascades of follow-on errors).
    errors: usize,
}

fn case(
    name: &'static str,
    text: impl Into<String>,
    at: &'static str,
    message: &'static str,
    hint: &'static str,
    errors: usize,
) -> Case {
    Case {
        name,
        text: text.into(),
        at,
        message,
        hint,
        errors,
    }
}

fn malformed() -> Vec<Case> {
    vec![
        case(
            "unclosed string",
            "[cluster]\nname = \"c\nkubernetes_version = \"1.33.4\"\n",
            "2:10",
            "invalid basic string",
            "close the string",
            1,
        ),
        case(
            "duplicate key",
            min_plus("name = \"again\"\n"),
            "8:1",
            "duplicate key",
            "only once",
            1,
        ),
        case(
            "value not quoted",
            min_plus("group = cp\n"),
            "8:9",
            "must be quoted",
            "quote strings",
            1,
        ),
        case(
            "missing [cluster]",
            "[[host]]\nname = \"cp1\"\naddress = \"10.0.0.11\"\nroles = [\"control-plane\"]\n",
            "1:1",
            "no [cluster] section",
            "kubernetes_version",
            1,
        ),
        case(
            "[[hosts]] instead of [[host]]",
            min_plus("[[hosts]]\nname = \"w1\"\n"),
            "8:3",
            "unknown key `hosts` in the inventory",
            "[[host]] sections",
            1,
        ),
        case(
            "misspelled cluster key",
            "[cluster]\nname = \"c\"\nkubernetes_versoin = \"1.33.4\"\n[[host]]\nname = \"cp1\"\naddress = \"10.0.0.11\"\nroles = [\"control-plane\"]\n",
            "3:1",
            "unknown key `kubernetes_versoin` in [cluster]",
            "did you mean `kubernetes_version`",
            2, // and: [cluster] has no kubernetes_version
        ),
        case(
            "unknown key inside a host's inline ssh table",
            min_plus("ssh = { usr = \"ops\" }\n"),
            "8:9",
            "unknown key `usr` in the ssh settings of host `cp1`",
            "did you mean `user`",
            1,
        ),
        case(
            "unknown key in [ssh]",
            min_plus("[ssh]\nagnet = true\n"),
            "9:1",
            "unknown key `agnet` in [ssh]",
            "did you mean `agent`",
            1,
        ),
        case(
            "ssh key written on the host",
            min_plus("port = 2222\n"),
            "8:1",
            "unknown key `port` in host `cp1`",
            "ssh = { port = ... }",
            1,
        ),
        case(
            "port as a string",
            min_plus("[ssh]\nport = \"22\"\n"),
            "9:8",
            "`port` in [ssh] must be an integer, found string",
            "without quotes",
            1,
        ),
        case(
            "boolean as a string",
            min_plus("[ssh]\nagent = \"yes\"\n"),
            "9:9",
            "must be a boolean",
            "agent = true",
            1,
        ),
        case(
            "version as a float",
            "[cluster]\nname = \"c\"\nkubernetes_version = 1.33\n[[host]]\nname = \"cp1\"\naddress = \"10.0.0.11\"\nroles = [\"control-plane\"]\n",
            "3:22",
            "must be a string, found float",
            "quote the value",
            1,
        ),
        case(
            "port 0",
            min_plus("ssh = { port = 0 }\n"),
            "8:16",
            "`port` = 0 is out of range",
            "1-65535",
            1,
        ),
        case(
            "duplicate host name",
            min_plus("[[host]]\nname = \"cp1\"\naddress = \"10.0.0.12\"\nroles = [\"worker\"]\n"),
            "9:8",
            "host name `cp1` is used twice",
            "first at line 5",
            1,
        ),
        case(
            "duplicate address and port",
            min_plus("[[host]]\nname = \"w1\"\naddress = \"10.0.0.11\"\nroles = [\"worker\"]\n"),
            "10:11",
            "address 10.0.0.11:22 is already used by host `cp1`",
            "first at line 6",
            1,
        ),
        case(
            "duplicate node_ip",
            min_plus(
                "[[host]]\nname = \"w1\"\naddress = \"10.0.0.12\"\nnode_ip = \"10.0.0.11\"\nroles = [\"worker\"]\n",
            ),
            "11:11",
            "node IP 10.0.0.11 is already used by host `cp1`",
            "own IP",
            1,
        ),
        case(
            "no control plane",
            MIN.replace("control-plane", "worker"),
            "4:1",
            "no host has the control-plane role",
            "roles = [\"control-plane\"]",
            1,
        ),
        case(
            "host without roles",
            MIN.replace("roles = [\"control-plane\"]\n", ""),
            "5:8",
            "host `cp1` has no roles",
            "roles = [\"worker\"]",
            1,
        ),
        case(
            "unknown role",
            MIN.replace("\"control-plane\"", "\"controlplane\""),
            "7:10",
            "unknown role `controlplane`",
            "did you mean `control-plane`",
            1,
        ),
        case(
            "empty roles",
            MIN.replace("[\"control-plane\"]", "[]"),
            "7:9",
            "empty roles list",
            "\"control-plane\"",
            1,
        ),
        case(
            "three control planes without endpoint",
            three_cp(""),
            "1:1",
            "3 control planes need a shared API endpoint",
            "[cluster.endpoint]",
            1,
        ),
        case(
            "kube-vip VIP given as a DNS name",
            three_cp("[cluster.endpoint]\nmode = \"kube-vip\"\naddress = \"api.example.com\"\n"),
            "6:11",
            "the kube-vip VIP must be an IP address",
            "mode = \"external\"",
            1,
        ),
        case(
            "VIP is a host's address",
            three_cp(
                "[cluster.endpoint]\nmode = \"haproxy-keepalived\"\naddress = \"10.0.0.12\"\n",
            ),
            "6:11",
            "the VIP 10.0.0.12 is already host `cp2`'s address",
            "unused IP",
            1,
        ),
        case(
            "unknown endpoint mode",
            three_cp("[cluster.endpoint]\nmode = \"kubevip\"\naddress = \"10.0.0.100\"\n"),
            "5:8",
            "unknown endpoint mode `kubevip`",
            "did you mean `kube-vip`",
            1,
        ),
        case(
            "endpoint without address",
            three_cp("[cluster.endpoint]\nmode = \"kube-vip\"\n"),
            "4:1",
            "[cluster.endpoint] has no `address`",
            "address = \"10.0.0.100\"",
            1,
        ),
        case(
            "endpoint port 0",
            three_cp(
                "[cluster.endpoint]\nmode = \"kube-vip\"\naddress = \"10.0.0.100\"\nport = 0\n",
            ),
            "7:8",
            "`port` = 0 is out of range in [cluster.endpoint]",
            "1-65535",
            1,
        ),
        case(
            "CIDR prefix too long",
            MIN.replace("[[host]]", "pod_subnet = \"10.244.0.0/33\"\n[[host]]"),
            "4:14",
            "is not a CIDR range",
            "10.244.0.0/16",
            1,
        ),
        case(
            "CIDR with host bits",
            MIN.replace("[[host]]", "service_subnet = \"10.96.5.0/12\"\n[[host]]"),
            "4:18",
            "has host bits set",
            "\"10.96.0.0/12\"",
            1,
        ),
        case(
            "pod and service subnets overlap",
            MIN.replace("[[host]]", "pod_subnet = \"10.96.0.0/16\"\n[[host]]"),
            "4:14",
            "pod_subnet 10.96.0.0/16 and service_subnet 10.96.0.0/12 overlap",
            "disjoint",
            1,
        ),
        case(
            "service subnet too large",
            MIN.replace("[[host]]", "service_subnet = \"10.0.0.0/8\"\n[[host]]"),
            "4:18",
            "service_subnet 10.0.0.0/8 is too large",
            "/12",
            // It also overlaps the default pod_subnet and holds 10.0.0.11.
            3,
        ),
        case(
            "pod subnet smaller than one node range",
            MIN.replace("[[host]]", "pod_subnet = \"10.244.0.0/25\"\n[[host]]"),
            "4:14",
            "holds 0 node ranges",
            "larger range",
            1,
        ),
        case(
            "host address inside the pod subnet",
            MIN.replace("10.0.0.11", "10.244.3.4"),
            "6:11",
            "host `cp1`'s IP 10.244.3.4 is inside pod_subnet 10.244.0.0/16",
            "does not overlap",
            1,
        ),
        case(
            "unsupported Kubernetes version",
            MIN.replace("1.33.4", "1.29.3"),
            "3:22",
            "Kubernetes 1.29.3 is not supported",
            "1.31, 1.32",
            1,
        ),
        case(
            "version without patch",
            MIN.replace("1.33.4", "1.33"),
            "3:22",
            "is not a Kubernetes version",
            "\"1.33.4\"",
            1,
        ),
        case(
            "unknown bastion",
            min_plus("ssh = { bastion = \"jmp\" }\n"),
            "8:19",
            "bastion `jmp` is not defined by any [[bastion]]",
            "add a [[bastion]] with name = \"jmp\"",
            1,
        ),
        case(
            "misspelled bastion",
            min_plus(
                "ssh = { bastion = \"jump2\" }\n[[bastion]]\nname = \"jump1\"\naddress = \"203.0.113.10\"\n",
            ),
            "8:19",
            "bastion `jump2` is not defined",
            "did you mean `jump1`",
            1,
        ),
        case(
            "bastion going through a bastion",
            min_plus(
                "ssh = { bastion = \"j1\" }\n[[bastion]]\nname = \"j1\"\naddress = \"203.0.113.10\"\nssh = { bastion = \"j1\" }\n",
            ),
            "12:19",
            "a bastion cannot itself go through a bastion",
            "one hop",
            1,
        ),
        case(
            "[bastion] instead of [[bastion]]",
            min_plus("[bastion]\nname = \"j1\"\naddress = \"203.0.113.10\"\n"),
            "8:1",
            "`bastion` must be an array of tables",
            "[[bastion]] (double brackets)",
            1,
        ),
        case(
            "unknown group",
            min_plus("group = \"workers\"\n"),
            "8:9",
            "group `workers` is not defined in [groups]",
            "define [groups.workers]",
            1,
        ),
        case(
            "taint without effect",
            min_plus("taints = [\"dedicated=db\"]\n"),
            "8:11",
            "taint `dedicated=db` has no effect",
            "key[=value]:Effect",
            1,
        ),
        case(
            "taint with unknown effect",
            min_plus("taints = [\"dedicated=db:NoSchedul\"]\n"),
            "8:11",
            "unknown effect `NoSchedul`",
            "did you mean `NoSchedule`",
            1,
        ),
        case(
            "bad label key",
            min_plus("labels = { \"-rack\" = \"r1\" }\n"),
            "8:12",
            "label key `-rack` is not a valid Kubernetes label key",
            "starting and ending alphanumeric",
            1,
        ),
        case(
            "label value not a string",
            min_plus("labels = { rack = 3 }\n"),
            "8:19",
            "`labels.rack` in host `cp1` must be a string, found integer",
            "rack = \"...\"",
            1,
        ),
        case(
            "sessions_per_host above OpenSSH's MaxSessions",
            min_plus("[run]\nsessions_per_host = 11\n"),
            "9:21",
            "`sessions_per_host` = 11 is out of range in [run]",
            "MaxSessions",
            1,
        ),
        case(
            "mirror without url",
            min_plus("[packages]\nsource = \"mirror\"\n"),
            "9:10",
            "source = \"mirror\" needs a `url`",
            "add url = ",
            1,
        ),
        case(
            "mirror url not http",
            min_plus("[packages]\nsource = \"mirror\"\nurl = \"ftp://mirror.example.com\"\n"),
            "10:7",
            "is not an http(s) URL",
            "https://",
            1,
        ),
        case(
            "mirror key on upstream source",
            min_plus("[packages]\nurl = \"https://mirror.example.com\"\n"),
            "9:1",
            "`url` is only used with source = \"mirror\"",
            "source = \"mirror\"",
            1,
        ),
        case(
            "unknown host_key_policy",
            min_plus("[ssh]\nhost_key_policy = \"accept_new\"\n"),
            "9:19",
            "unknown host_key_policy `accept_new`",
            "did you mean `accept-new`",
            1,
        ),
        case(
            "pinned host key without key data",
            min_plus("ssh = { host_keys = [\"ssh-ed25519\"] }\n"),
            "8:22",
            "is not `<algorithm> <base64>`",
            "ssh-keyscan",
            1,
        ),
        case(
            "pinned host key with bad base64",
            min_plus("ssh = { host_keys = [\"ssh-ed25519 AAAA$$\"] }\n"),
            "8:22",
            "not valid base64",
            "ssh-ed25519 AAAA",
            1,
        ),
        case(
            "no authentication method",
            min_plus("ssh = { agent = false }\n"),
            "8:17",
            "host `cp1` has no SSH authentication method",
            "key_files",
            1,
        ),
        case(
            "invalid cluster name",
            MIN.replace("name = \"c\"", "name = \"Prod_1\""),
            "2:8",
            "cluster name `Prod_1` is not a DNS label",
            "\"prod-1\"",
            1,
        ),
        case(
            "invalid host name",
            MIN.replace("\"cp1\"", "\"CP 1\""),
            "5:8",
            "host name `CP 1` is not a valid Kubernetes node name",
            "\"cp-1\"",
            1,
        ),
        case(
            "mistyped IPv4 address",
            MIN.replace("10.0.0.11", "10.0.0.311"),
            "6:11",
            "`10.0.0.311` is not a valid IPv4 address",
            "0-255",
            1,
        ),
        case(
            "node_ip as a DNS name",
            min_plus("node_ip = \"cp1.internal\"\n"),
            "8:11",
            "node_ip `cp1.internal` is not an IP address",
            "10.0.1.11",
            1,
        ),
        case(
            "host without address",
            MIN.replace("address = \"10.0.0.11\"\n", ""),
            "4:1",
            "host `cp1` has no `address`",
            "address = \"10.0.0.11\"",
            1,
        ),
        case(
            "unknown CNI",
            MIN.replace("[[host]]", "cni = \"calcio\"\n[[host]]"),
            "4:7",
            "unknown cni `calcio`",
            "did you mean `calico`",
            1,
        ),
        case(
            "sudo password given instead of a variable name",
            min_plus("ssh = { sudo = true, sudo_password_env = \"hunter 2\" }\n"),
            "8:42",
            "is not an environment variable name",
            "OTP_SUDO_PASSWORD",
            1,
        ),
        case(
            "~user paths are not expanded",
            min_plus("ssh = { key_files = [\"~bob/.ssh/id\"] }\n"),
            "8:22",
            "only `~` and `~/` are expanded",
            "full path",
            1,
        ),
        case(
            "zero timeout",
            min_plus("[ssh]\ncommand_timeout_secs = 0\n"),
            "9:24",
            "`command_timeout_secs` = 0 is out of range",
            "at least 1",
            1,
        ),
    ]
}

#[test]
fn malformed_inventories_report_exact_positions() {
    let cases = malformed();
    assert!(cases.len() >= 30, "the table must stay large");
    let mut failures = Vec::new();
    for c in &cases {
        let errs = match load_text(&c.text) {
            Ok(_) => {
                failures.push(format!("{}: loaded without errors", c.name));
                continue;
            }
            Err(e) => e.diagnostics,
        };
        let found = errs
            .iter()
            .find(|d| format!("{}:{}", d.line, d.col) == c.at && d.message.contains(c.message));
        match found {
            None => failures.push(format!(
                "{}: expected {} `{}`, got:\n    {}",
                c.name,
                c.at,
                c.message,
                errs.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n    ")
            )),
            Some(d) => {
                let hint = d.hint.as_deref().unwrap_or("");
                if !hint.contains(c.hint) {
                    failures.push(format!("{}: hint `{hint}` lacks `{}`", c.name, c.hint));
                }
                if errs.len() != c.errors {
                    failures.push(format!(
                        "{}: expected {} error(s), got {}:\n    {}",
                        c.name,
                        c.errors,
                        errs.len(),
                        errs.iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("\n    ")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
