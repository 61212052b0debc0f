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

/// MIN plus a valid `[cluster.oidc]` at lines 8-10; `extra` starts at line 11.
fn with_oidc(extra: &str) -> String {
    min_plus(&format!(
        "[cluster.oidc]\nissuer_url = \"https://idp.example.com\"\naudiences = [\"k8s\"]\n{extra}"
    ))
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
            "no hosts at all",
            "[cluster]\nname = \"c\"\nkubernetes_version = \"1.33.4\"\n",
            "1:1",
            "no [[host]] sections",
            "one [[host]] per server",
            1,
        ),
        case(
            "empty host array",
            "host = []\n[cluster]\nname = \"c\"\nkubernetes_version = \"1.33.4\"\n",
            "1:1",
            "no [[host]] sections",
            "one [[host]] per server",
            1,
        ),
        case(
            "[host] instead of [[host]]",
            "[cluster]\nname = \"c\"\nkubernetes_version = \"1.33.4\"\n[host]\nname = \"cp1\"\n",
            "4:1",
            "`host` must be an array of tables",
            "[[host]] (double brackets)",
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
            1, // not also "[cluster] has no kubernetes_version"
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
            "two nodes behind one address without node_ip",
            min_plus(
                "[[host]]\nname = \"w1\"\naddress = \"10.0.0.11\"\nroles = [\"worker\"]\nssh = { port = 2222 }\n",
            ),
            "10:11",
            "node IP 10.0.0.11 is already used by host `cp1`",
            "set node_ip",
            1,
        ),
        case(
            // Loopback is no exception: test rigs give each host its own node_ip.
            "two sshd on loopback without node_ip",
            min_plus(
                "ssh = { port = 2201 }\n[[host]]\nname = \"w1\"\naddress = \"127.0.0.1\"\nroles = [\"worker\"]\nssh = { port = 2202 }\n",
            )
            .replace("10.0.0.11", "127.0.0.1"),
            "11:11",
            "node IP 127.0.0.1 is already used by host `cp1`",
            "every node needs its own IP: set node_ip (first at line 6)",
            1,
        ),
        case(
            "undefined group that would have given the roles",
            MIN.replace("roles = [\"control-plane\"]", "group = \"cp\""),
            "7:9",
            "group `cp` is not defined in [groups]",
            "define [groups.cp]",
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
            "misspelled endpoint address",
            three_cp("[cluster.endpoint]\nmode = \"kube-vip\"\nadress = \"10.0.0.100\"\n"),
            "6:1",
            "unknown key `adress` in [cluster.endpoint]",
            "did you mean `address`",
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
            "IPv6 pod subnet too large for /64 node ranges",
            MIN.replace(
                "[[host]]",
                "pod_subnet = \"fd00:10::/32\"\nservice_subnet = \"fd00:20::/112\"\n[[host]]",
            )
            .replace("10.0.0.11", "fd00:1::11"),
            "4:14",
            "IPv6 pod_subnet fd00:10::/32 must be a /48 to /64",
            "/56",
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
            "lock wait of zero",
            min_plus("[run]\nlock_wait_secs = 0\n"),
            "9:18",
            "`lock_wait_secs` = 0 is out of range in [run]",
            "default 600",
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
        case(
            "registry mirror with a scheme",
            min_plus("[cluster.images]\nregistry_mirror = \"https://reg.example/k8s/\"\n"),
            "9:19",
            "registry_mirror `https://reg.example/k8s/` has a URL scheme",
            "\"reg.example/k8s\"",
            1,
        ),
        case(
            "registry mirror with an uppercase path",
            min_plus("[cluster.images]\nregistry_mirror = \"reg.example:5000/K8s\"\n"),
            "9:19",
            "has an invalid path `K8s`",
            "lowercase",
            1,
        ),
        case(
            "image tag without the v",
            min_plus("[cluster.images]\nkube_vip = \"0.9.2\"\n"),
            "9:12",
            "kube_vip: image tag `0.9.2` lacks the leading `v`",
            "\"v0.9.2\"",
            1,
        ),
        case(
            "full image reference instead of a tag",
            min_plus("[cluster.images]\ncalico = \"docker.io/calico/node:v3.30.7\"\n"),
            "9:10",
            "calico: `docker.io/calico/node:v3.30.7` is not an image tag",
            "registry_mirror",
            1,
        ),
        case(
            "misspelled image key",
            min_plus("[cluster.images]\nflannel_cni_plugins = \"v1.7.1-flannel1\"\n"),
            "9:1",
            "unknown key `flannel_cni_plugins` in [cluster.images]",
            "did you mean `flannel_cni_plugin`",
            1,
        ),
        case(
            "[images] at the top level",
            min_plus("[images]\ncalico = \"v3.30.7\"\n"),
            "8:2",
            "unknown key `images` in the inventory",
            "[cluster.images]",
            1,
        ),
        case(
            "virtual_router_id above 255",
            min_plus("[cluster.load_balancer]\nvirtual_router_id = 256\n"),
            "9:21",
            "`virtual_router_id` = 256 is out of range in [cluster.load_balancer]",
            "1-255",
            1,
        ),
        case(
            "virtual_router_id written in [cluster]",
            MIN.replace("[[host]]", "virtual_router_id = 7\n[[host]]"),
            "4:1",
            "unknown key `virtual_router_id` in [cluster]",
            "belongs in [cluster.load_balancer]",
            1,
        ),
        case(
            "encryption provider without a KMS-free key",
            min_plus("[cluster.security]\nencryption_provider = \"aesgcm\"\n"),
            "9:23",
            "unknown encryption_provider `aesgcm`",
            "200k writes",
            1,
        ),
        case(
            "audit log age zero",
            min_plus("[cluster.security]\naudit_log_max_age = 0\n"),
            "9:21",
            "`audit_log_max_age` = 0 is out of range in [cluster.security]",
            "positive",
            1,
        ),
        case(
            "audit log size as a string",
            min_plus("[cluster.security]\naudit_log_max_size = \"100M\"\n"),
            "9:22",
            "`audit_log_max_size` in [cluster.security] must be an integer, found string",
            "without quotes",
            1,
        ),
        case(
            "misspelled PSA level",
            min_plus("[cluster.security]\npsa_enforce = \"basline\"\n"),
            "9:15",
            "unknown psa_enforce `basline`",
            "did you mean `baseline`",
            1,
        ),
        case(
            "PSA exempt namespace that is not a DNS label",
            min_plus(
                "[cluster.security]\npsa_exempt_namespaces = [\"kube-system\", \"Kube_Public\"]\n",
            ),
            "9:41",
            "`Kube_Public` is not a namespace name",
            "\"kube-public\"",
            1,
        ),
        case(
            "PSA exempt namespace listed twice",
            min_plus(
                "[cluster.security]\npsa_exempt_namespaces = [\"kube-system\", \"kube-system\"]\n",
            ),
            "9:41",
            "namespace `kube-system` is listed twice",
            "first at line 9",
            1,
        ),
        case(
            "protect_kernel_defaults as a string",
            min_plus("[cluster.security]\nkubelet_protect_kernel_defaults = \"yes\"\n"),
            "9:35",
            "must be a boolean, found string",
            "kubelet_protect_kernel_defaults = true",
            1,
        ),
        case(
            "pod_pids_limit zero",
            min_plus("[cluster.security]\npod_pids_limit = 0\n"),
            "9:18",
            "`pod_pids_limit` = 0 would stop every pod",
            "-1 for no limit",
            1,
        ),
        case(
            "pod_pids_limit below -1",
            min_plus("[cluster.security]\npod_pids_limit = -5\n"),
            "9:18",
            "`pod_pids_limit` = -5 is out of range",
            "-1 for no limit",
            1,
        ),
        case(
            "audit key written in [cluster]",
            MIN.replace("[[host]]", "audit_log_max_age = 30\n[[host]]"),
            "4:1",
            "unknown key `audit_log_max_age` in [cluster]",
            "belongs in [cluster.security]",
            1,
        ),
        case(
            "OIDC issuer over plain http",
            min_plus(
                "[cluster.oidc]\nissuer_url = \"http://idp.example.com\"\naudiences = [\"k8s\"]\n",
            ),
            "9:14",
            "issuer_url `http://idp.example.com` does not use https",
            "\"https://idp.example.com\"",
            1,
        ),
        case(
            "OIDC without issuer",
            min_plus("[cluster.oidc]\naudiences = [\"k8s\"]\n"),
            "8:1",
            "[cluster.oidc] has no `issuer_url`",
            "issuer_url = \"https://",
            1,
        ),
        case(
            "OIDC with an empty audience list",
            min_plus("[cluster.oidc]\nissuer_url = \"https://idp.example.com\"\naudiences = []\n"),
            "10:13",
            "`audiences` in [cluster.oidc] is empty",
            "client id",
            1,
        ),
        case(
            "OIDC audience listed twice",
            min_plus(
                "[cluster.oidc]\nissuer_url = \"https://idp.example.com\"\naudiences = [\"k8s\", \"k8s\"]\n",
            ),
            "10:21",
            "audience `k8s` is listed twice",
            "first at line 10",
            1,
        ),
        case(
            "OIDC ca_file that does not exist",
            with_oidc("ca_file = \"pki/idp-ca.pem\"\n"),
            "11:11",
            "cannot read ca_file `/inv/pki/idp-ca.pem`",
            "PEM file of the CA",
            1,
        ),
        case(
            "OIDC client_id instead of audiences",
            with_oidc("client_id = \"k8s\"\n"),
            "11:1",
            "unknown key `client_id` in [cluster.oidc]",
            "audiences = [",
            1,
        ),
        case(
            "OIDC require_mfa as a string",
            with_oidc("require_mfa = \"yes\"\n"),
            "11:15",
            "`require_mfa` in [cluster.oidc] must be a boolean",
            "require_mfa = true",
            1,
        ),
        case(
            "OIDC mfa_expression with an unclosed bracket",
            with_oidc("mfa_expression = \"has(claims.acr\"\n"),
            "11:18",
            "mfa_expression: CEL expression `has(claims.acr` has an unclosed `(`",
            "balance",
            1,
        ),
        case(
            "OIDC username prefix in the system namespace",
            with_oidc("username_prefix = \"system:\"\n"),
            "11:19",
            "username_prefix `system:` starts with the reserved `system:`",
            "\"oidc:\"",
            1,
        ),
        case(
            "OIDC claim rule without message",
            with_oidc(
                "[[cluster.oidc.claim_rules]]\nexpression = \"claims.email_verified == true\"\n",
            ),
            "11:1",
            "[[cluster.oidc.claim_rules]] #1 has no `message`",
            "message = ",
            1,
        ),
        case(
            "OIDC claim rule that never looks at claims",
            with_oidc("claim_rules = [{ expression = \"true\", message = \"m\" }]\n"),
            "11:31",
            "expression: CEL expression `true` does not look at `claims`",
            "claims.amr",
            1,
        ),
        case(
            "OIDC claim rules as a single table",
            with_oidc("[cluster.oidc.claim_rules]\nexpression = \"claims.x == 'y'\"\n"),
            "11:1",
            "`claim_rules` must be an array of tables",
            "double brackets",
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

fn ok(text: &str) -> Loaded {
    match load_text(text) {
        Ok(l) => l,
        Err(e) => panic!("expected a valid inventory, got:\n{e}"),
    }
}

fn warning_messages(l: &Loaded) -> Vec<String> {
    l.warnings.iter().map(|w| w.to_string()).collect()
}

#[test]
fn example_inventory_is_valid_and_complete() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // An operator's home with a known_hosts file, as `check` would see it.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/known_hosts"), "").unwrap();
    let loaded = load_with_home(&path, &text, Some(home.path().to_path_buf()))
        .unwrap_or_else(|e| panic!("example.toml must load:\n{e}"));
    assert!(
        loaded.warnings.is_empty(),
        "example.toml must load without warnings: {:?}",
        warning_messages(&loaded)
    );
    let inv = loaded.inventory;
    assert_eq!(inv.cluster.name, "otp-prod");
    assert_eq!(inv.cluster.minor(), "v1.33");
    assert_eq!(inv.control_planes().count(), 3);
    assert_eq!(inv.workers().count(), 3);
    assert_eq!(inv.load_balancers().count(), 2);
    let ep = inv
        .cluster
        .endpoint
        .as_ref()
        .expect("HA example has an endpoint");
    assert_eq!(ep.mode, EndpointMode::HaproxyKeepalived);
    assert_eq!((ep.address.as_str(), ep.port), ("10.0.0.100", 6443));
    assert!(matches!(inv.packages, PackageSource::Upstream));
    // The example spells out the defaults the cluster phases were written for.
    assert_eq!(inv.cluster.images, ImageSettings::default());
    assert_eq!(inv.cluster.load_balancer, LoadBalancerSettings::default());
    assert_eq!(inv.cluster.security, SecuritySettings::default());
    let oidc = inv.cluster.oidc.as_ref().expect("the example shows OIDC");
    assert_eq!(
        oidc,
        &OidcSettings::new("https://idp.example.com/realms/k8s", "kubernetes-prod")
    );
    assert!(oidc.require_mfa);
    let jump = inv.bastion("jump1").unwrap();
    assert_eq!(jump.ssh.user, "jump");
    assert_eq!(
        jump.ssh.bastion, None,
        "a bastion never inherits [ssh] bastion"
    );
    for h in &inv.hosts {
        assert_eq!(h.ssh.bastion.as_deref(), Some("jump1"), "{}", h.name);
    }
    let lb2 = inv.host("lb2").unwrap();
    assert_eq!(
        (lb2.ssh.user.as_str(), lb2.ssh.port, lb2.ssh.sudo),
        ("ops", 2222, true)
    );
    assert_eq!(
        lb2.ssh.sudo_password_env.as_deref(),
        Some("OTP_SUDO_PASSWORD")
    );
    let w3 = inv.host("worker3").unwrap();
    assert_eq!(w3.labels.len(), 2);
    assert_eq!(w3.taints, ["dedicated=storage:NoSchedule"]);
    assert_eq!(
        inv.run.state_dir,
        path.parent().unwrap().join(".otp-provision")
    );
}

#[test]
fn defaults_fill_everything_left_out() {
    let inv = ok(MIN).inventory;
    assert_eq!(inv.source, PathBuf::from(FILE));
    assert_eq!(inv.cluster.pod_subnet.to_string(), "10.244.0.0/16");
    assert_eq!(inv.cluster.service_subnet.to_string(), "10.96.0.0/12");
    assert_eq!(inv.cluster.dns_domain, "cluster.local");
    assert_eq!(inv.cluster.cni, Cni::Calico);
    assert!(inv.cluster.endpoint.is_none());
    assert!(matches!(inv.packages, PackageSource::Upstream));
    assert_eq!(inv.run.parallel_hosts, 256);
    assert_eq!(inv.run.sessions_per_host, 8);
    assert_eq!(inv.run.lock_wait_secs, 600);
    assert_eq!(inv.run.state_dir, PathBuf::from("/inv/.otp-provision"));
    assert_eq!(inv.addons, super::addons::Addons::default());
    let s = &inv.hosts[0].ssh;
    assert_eq!((s.user.as_str(), s.port), ("root", 22));
    assert!(s.key_files.is_empty() && s.agent);
    assert!(!s.password && !s.keyboard_interactive && !s.sudo);
    assert_eq!(s.known_hosts, [PathBuf::from("/home/op/.ssh/known_hosts")]);
    assert_eq!(s.host_key_policy, HostKeyPolicy::Strict);
    assert!(s.host_keys.is_empty() && s.certificate.is_none() && s.askpass.is_none());
    assert_eq!((s.connect_timeout_secs, s.command_timeout_secs), (10, 900));
    assert_eq!(inv.hosts[0].node_ip(), "10.0.0.11");
}

#[test]
fn merge_order_is_defaults_then_ssh_then_group_then_host() {
    let text = r#"
[cluster]
name = "c"
kubernetes_version = "v1.34.1"

[ssh]
user = "admin"
port = 2200
sudo = true
connect_timeout_secs = 5
key_files = ["keys/top"]

[groups.w]
roles = ["worker"]
labels = { zone = "a", rack = "r1" }
taints = ["gpu=yes:NoSchedule"]
ssh = { port = 2300, key_files = ["keys/group"] }

[[host]]
name = "cp1"
address = "10.0.0.11"
roles = ["control-plane"]

[[host]]
name = "w1"
address = "10.0.0.21"
group = "w"

[[host]]
name = "w2"
address = "10.0.0.22"
group = "w"
roles = ["worker", "load-balancer"]
labels = { rack = "r2" }
taints = []
ssh = { port = 2400, user = "ops" }
"#;
    let loaded = ok(text);
    let inv = &loaded.inventory;
    assert_eq!(
        inv.cluster.kubernetes_version, "1.34.1",
        "leading v stripped"
    );

    let cp1 = inv.host("cp1").unwrap();
    assert_eq!((cp1.ssh.user.as_str(), cp1.ssh.port), ("admin", 2200));
    assert_eq!(cp1.ssh.key_files, [PathBuf::from("/inv/keys/top")]);
    assert!(cp1.ssh.sudo && cp1.ssh.agent);
    assert_eq!(cp1.ssh.connect_timeout_secs, 5);
    assert_eq!(cp1.ssh.command_timeout_secs, 900);

    let w1 = inv.host("w1").unwrap();
    assert_eq!((w1.ssh.user.as_str(), w1.ssh.port), ("admin", 2300));
    assert_eq!(
        w1.ssh.key_files,
        [PathBuf::from("/inv/keys/group")],
        "lists replace"
    );
    assert_eq!(w1.roles.iter().copied().collect::<Vec<_>>(), [Role::Worker]);
    assert_eq!(w1.labels["zone"], "a");
    assert_eq!(w1.taints, ["gpu=yes:NoSchedule"]);

    let w2 = inv.host("w2").unwrap();
    assert_eq!((w2.ssh.user.as_str(), w2.ssh.port), ("ops", 2400));
    assert_eq!(w2.ssh.key_files, [PathBuf::from("/inv/keys/group")]);
    assert!(
        w2.ssh.sudo,
        "sudo from [ssh] survives the host's own ssh table"
    );
    assert!(w2.has_role(Role::LoadBalancer) && w2.has_role(Role::Worker));
    assert_eq!(
        w2.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        ["rack=r2", "zone=a"],
        "labels merge per key, the host's win"
    );
    assert!(
        w2.taints.is_empty(),
        "an explicit empty list replaces the group's taints"
    );
}

#[test]
fn paths_expand_home_and_resolve_against_the_inventory_directory() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::create_dir_all(dir.path().join("site/keys")).unwrap();
    for f in [
        home.join(".ssh/id_ed25519"),
        home.join(".ssh/id_ed25519-cert.pub"),
        home.join(".ssh/site_known_hosts"),
        dir.path().join("site/keys/deploy"),
        dir.path().join("site/askpass.sh"),
    ] {
        std::fs::write(f, "x").unwrap();
    }
    let inv_path = dir.path().join("site/cluster.toml");
    let text = min_plus(
        r#"ssh = { key_files = ["~/.ssh/id_ed25519", "keys/deploy", "/abs/key"], certificate = "~/.ssh/id_ed25519-cert.pub", askpass = "./askpass.sh", known_hosts = ["~/.ssh/site_known_hosts"] }
[[host]]
name = "w1"
address = "10.0.0.21"
roles = ["worker"]
ssh = { askpass = "otp-askpass" }
[run]
state_dir = "../state"
"#,
    );
    let loaded = load_with_home(&inv_path, &text, Some(home.clone())).unwrap();
    let cp1 = loaded.inventory.host("cp1").unwrap();
    let site = dir.path().join("site");
    assert_eq!(
        cp1.ssh.key_files,
        [
            home.join(".ssh/id_ed25519"),
            site.join("keys/deploy"),
            PathBuf::from("/abs/key")
        ]
    );
    assert_eq!(
        cp1.ssh.certificate,
        Some(home.join(".ssh/id_ed25519-cert.pub"))
    );
    assert_eq!(cp1.ssh.askpass, Some(site.join("./askpass.sh")));
    assert_eq!(cp1.ssh.known_hosts, [home.join(".ssh/site_known_hosts")]);
    let w1 = loaded.inventory.host("w1").unwrap();
    assert_eq!(
        w1.ssh.askpass,
        Some(PathBuf::from("otp-askpass")),
        "bare names use PATH"
    );
    assert_eq!(loaded.inventory.run.state_dir, site.join("../state"));
    // Only /abs/key is missing.
    let w = warning_messages(&loaded);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains(":8:58: key file `/abs/key` does not exist"),
        "{w:?}"
    );
}

#[test]
fn missing_home_is_an_error_only_where_tilde_is_used() {
    let text = min_plus("ssh = { key_files = [\"~/.ssh/id\"] }\n");
    let e = load_with_home(Path::new(FILE), &text, None).unwrap_err();
    assert_eq!(e.diagnostics.len(), 1);
    assert!(
        e.diagnostics[0]
            .to_string()
            .contains(":8:22: cannot expand `~`")
    );
    // Without ~, HOME is not needed; the default known_hosts is then simply absent.
    let l = load_with_home(Path::new(FILE), MIN, None).unwrap();
    assert!(l.inventory.hosts[0].ssh.known_hosts.is_empty());
}

#[test]
fn warnings_do_not_block_loading() {
    let text = r#"[cluster]
name = "c"
kubernetes_version = "1.33.4"
[cluster.endpoint]
mode = "haproxy-keepalived"
address = "10.0.0.100"
[ssh]
user = "ops"
[groups.unused]
roles = ["worker"]
[[bastion]]
name = "j1"
address = "203.0.113.10"
[[host]]
name = "cp1"
address = "10.0.0.11"
roles = ["control-plane"]
ssh = { sudo = true, host_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEwTHt3E6WrMbWk0tdXGz+7aOt4AFLIUAlzYOsKEcj8H"], host_key_policy = "accept-new" }
[[host]]
name = "cp2"
address = "10.0.0.12"
roles = ["control-plane"]
[[host]]
name = "lb1"
address = "10.0.0.5"
roles = ["load-balancer"]
labels = { a = "b" }
ssh = { sudo = true }
"#;
    let loaded = ok(text);
    let w = warning_messages(&loaded);
    let expect = [
        ":1:1: no host has the worker role",
        ":8:8: user `ops` is not root and sudo is off",
        ":9:9: group `unused` is not used by any host",
        ":12:8: bastion `j1` is not used by any host",
        ":18:138: host_key_policy = \"accept-new\" has no effect next to pinned host_keys",
        ":20:8: 2 control planes: stacked etcd tolerates 0 failed member(s), no more than 1 would",
        ":26:9: a single load-balancer host is a single point of failure",
        ":27:10: host `lb1` is not a Kubernetes node: its labels are ignored",
    ];
    assert_eq!(w.len(), expect.len(), "{w:#?}");
    for (got, want) in w.iter().zip(expect) {
        assert!(got.contains(want), "{got} lacks {want}");
    }
    assert_eq!(loaded.inventory.control_planes().count(), 2);
}

#[test]
fn all_errors_are_collected_in_file_order() {
    let text = r#"[cluster]
name = "c"
kubernetes_version = "1.33.4"
cni = "weave"
[ssh]
usr = "x"
port = 0
[[host]]
name = "cp1"
address = "10.0.0.11"
roles = ["control-plane", "wroker"]
taints = ["bad"]
"#;
    let e = load_text(text).unwrap_err();
    let got: Vec<String> = e
        .diagnostics
        .iter()
        .map(|d| format!("{}:{}", d.line, d.col))
        .collect();
    assert_eq!(got, ["4:7", "6:1", "7:8", "11:27", "12:11"], "{e}");
}

#[test]
fn diagnostics_display_as_file_line_col_message_hint() {
    let e = load_text(&min_plus("ssh = { prot = 22 }\n")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/inv/cluster.toml:8:9: unknown key `prot` in the ssh settings of host `cp1` (did you mean `port`? valid: `agent`, `askpass`, `bastion`, `certificate`, `command_timeout_secs`, `connect_timeout_secs`, `host_key_policy`, `host_keys`, `key_files`, `keyboard_interactive`, `known_hosts`, `password`, `port`, `sudo`, `sudo_password_env`, `user`)"
    );
}

#[test]
fn a_problem_inherited_by_many_hosts_is_reported_once() {
    let text = min_plus(
        "[ssh]\nbastion = \"nowhere\"\n[[host]]\nname = \"w1\"\naddress = \"10.0.0.21\"\nroles = [\"worker\"]\n",
    );
    let e = load_text(&text).unwrap_err();
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert_eq!((e.diagnostics[0].line, e.diagnostics[0].col), (9, 11));
}

#[test]
fn mirror_sources_and_addons_are_kept() {
    let text = min_plus(
        r#"[packages]
source = "mirror"
url = "https://mirror.example.com/k8s/"
key_url = "https://mirror.example.com/k8s/Release.key"
debian = true
[addons]
metrics_server = { enabled = true, replicas = 3 }
"#,
    );
    let inv = ok(&text).inventory;
    match &inv.packages {
        PackageSource::Mirror {
            url,
            key_url,
            debian,
        } => {
            assert_eq!(url, "https://mirror.example.com/k8s");
            assert_eq!(
                key_url.as_deref(),
                Some("https://mirror.example.com/k8s/Release.key")
            );
            assert!(*debian);
        }
        other => panic!("expected a mirror, got {other:?}"),
    }
    assert_eq!(
        inv.addons.metrics_server.as_ref().map(|m| m.replicas),
        Some(3)
    );
}

#[test]
fn same_address_on_different_ports_and_external_dns_endpoints_are_fine() {
    let text = three_cp(
        "[cluster.endpoint]\nmode = \"external\"\naddress = \"api.example.com\"\nport = 443\n",
    )
    .replace(
        "10.0.0.12",
        "10.0.0.11\"\nnode_ip = \"10.0.1.12\"\nssh = { port = 2222 }\n#\"",
    );
    let inv = ok(&text).inventory;
    let cp2 = inv.host("cp2").unwrap();
    assert_eq!((cp2.address.as_str(), cp2.ssh.port), ("10.0.0.11", 2222));
    assert_eq!(cp2.node_ip(), "10.0.1.12");
    let ep = inv.cluster.endpoint.unwrap();
    assert_eq!(
        (ep.mode, ep.address.as_str(), ep.port),
        (EndpointMode::External, "api.example.com", 443)
    );
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cluster.toml");
    std::fs::write(&p, MIN).unwrap();
    let inv = load(&p).unwrap().inventory;
    assert_eq!(inv.source, p);
    assert_eq!(inv.base_dir(), dir.path());
    let missing = dir.path().join("nope.toml");
    let e = load(&missing).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:1:1: cannot read inventory", missing.display()))
    );
}

#[test]
fn syntax_errors_are_all_reported_alone() {
    let e =
        load_text("[cluster]\nname = \"c\nkubernetes_version = 1.2.3.4\nfoo = [1,\n").unwrap_err();
    assert!(e.diagnostics.len() >= 2, "{e}");
    assert!(e.diagnostics.iter().all(|d| d.hint.is_some()));
    assert!(
        !e.to_string().contains("no [[host]]"),
        "no semantic errors on a broken file: {e}"
    );
}

#[test]
fn every_shipped_inventory_loads_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory");
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/known_hosts"), "").unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        match load_with_home(&path, &text, Some(home.path().to_path_buf())) {
            Ok(l) => assert!(
                l.warnings.is_empty(),
                "{}: {:?}",
                path.display(),
                warning_messages(&l)
            ),
            Err(e) => panic!("{} must load:\n{e}", path.display()),
        }
        n += 1;
    }
    assert!(n >= 2, "example.toml and single-node.toml at least");
}

#[test]
fn ipv6_clusters_and_loopback_test_rigs_with_node_ips_load() {
    let v6 = MIN
        .replace(
            "[[host]]",
            "pod_subnet = \"fd00:10:244::/56\"\nservice_subnet = \"fd00:10:96::/112\"\n[[host]]",
        )
        .replace("10.0.0.11", "fd00:1::11");
    let inv = ok(&v6).inventory;
    assert_eq!(inv.hosts[0].node_ip(), "fd00:1::11");
    // Integration tests run several sshd on 127.0.0.1, told apart by port, each host with a
    // node_ip of its own (the duplicate node-IP check has no loopback exception).
    let rig = min_plus(
        "node_ip = \"192.0.2.1\"\nssh = { port = 2201 }\n[[host]]\nname = \"w1\"\naddress = \"127.0.0.1\"\nnode_ip = \"192.0.2.2\"\nroles = [\"worker\"]\nssh = { port = 2202 }\n",
    )
    .replace("10.0.0.11", "127.0.0.1");
    let inv = ok(&rig).inventory;
    assert_eq!(
        inv.hosts.iter().map(|h| h.ssh.port).collect::<Vec<_>>(),
        [2201, 2202]
    );
    assert_eq!(
        inv.hosts.iter().map(|h| h.node_ip()).collect::<Vec<_>>(),
        ["192.0.2.1", "192.0.2.2"]
    );
}

#[test]
fn cluster_settings_default_to_what_the_cluster_phases_expect() {
    let c = ok(MIN).inventory.cluster;
    assert_eq!(c.images, ImageSettings::default());
    assert_eq!(c.images.registry_mirror, None);
    assert_eq!(c.images.kube_vip, "v0.9.2");
    assert_eq!(c.load_balancer.virtual_router_id, 51);
    assert_eq!(c.security, SecuritySettings::default());
    assert_eq!(c.security.encryption_provider, EncryptionProvider::Aescbc);
    assert_eq!(c.security.psa_exempt_namespaces, ["kube-system"]);
    assert!(c.oidc.is_none());
    // An empty table changes nothing either; [cluster.oidc] needs issuer and audiences.
    let c = ok(&min_plus(
        "[cluster.images]\n[cluster.security]\n[cluster.oidc]\nissuer_url = \"https://idp.example.com\"\naudiences = [\"k8s\"]\n",
    ))
    .inventory
    .cluster;
    assert_eq!(c.images, ImageSettings::default());
    assert_eq!(c.security, SecuritySettings::default());
    assert_eq!(
        c.oidc,
        Some(OidcSettings::new("https://idp.example.com", "k8s"))
    );
}

#[test]
fn cluster_settings_are_read_from_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pki")).unwrap();
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
    std::fs::write(dir.path().join("pki/idp-ca.pem"), pem).unwrap();
    let text = three_cp(
        r#"[cluster.endpoint]
mode = "haproxy-keepalived"
address = "10.0.0.100"
[cluster.images]
registry_mirror = "registry.bank.example:5000/k8s/"
kube_vip = "v0.9.3"
calico = "v3.30.8"
flannel = "v0.27.3"
flannel_cni_plugin = "v1.7.2-flannel1"
[cluster.load_balancer]
virtual_router_id = 77
[cluster.security]
encryption_provider = "secretbox"
audit_log_max_age = 90
audit_log_max_backup = 20
audit_log_max_size = 200
psa_enforce = "restricted"
psa_audit = "restricted"
psa_warn = "baseline"
psa_exempt_namespaces = ["kube-system", "calico-system"]
kubelet_protect_kernel_defaults = true
pod_pids_limit = 8192
[cluster.oidc]
issuer_url = "https://idp.bank.example/realms/k8s"
audiences = ["kubernetes-prod", "kubectl"]
ca_file = "pki/idp-ca.pem"
username_claim = "preferred_username"
username_prefix = ""
groups_claim = "roles"
groups_prefix = "idp:"
require_mfa = true
mfa_expression = "claims.acr == 'gold'"
[[cluster.oidc.claim_rules]]
expression = "claims.email_verified == true"
message = "verify your e-mail"
[[cluster.oidc.claim_rules]]
expression = "claims.department == 'ops'"
message = "only operations staff"
"#,
    );
    let loaded = load_with_home(
        &dir.path().join("cluster.toml"),
        &text,
        Some(PathBuf::from("/home/op")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded.warnings.is_empty(),
        "{:?}",
        warning_messages(&loaded)
    );
    let c = loaded.inventory.cluster;
    assert_eq!(
        c.images,
        ImageSettings {
            registry_mirror: Some("registry.bank.example:5000/k8s".into()),
            kube_vip: "v0.9.3".into(),
            calico: "v3.30.8".into(),
            flannel: "v0.27.3".into(),
            flannel_cni_plugin: "v1.7.2-flannel1".into(),
        }
    );
    assert_eq!(c.load_balancer.virtual_router_id, 77);
    assert_eq!(
        c.security,
        SecuritySettings {
            encryption_provider: EncryptionProvider::Secretbox,
            audit_log_max_age: 90,
            audit_log_max_backup: 20,
            audit_log_max_size: 200,
            psa_enforce: PsaLevel::Restricted,
            psa_audit: PsaLevel::Restricted,
            psa_warn: PsaLevel::Baseline,
            psa_exempt_namespaces: vec!["kube-system".into(), "calico-system".into()],
            kubelet_protect_kernel_defaults: true,
            pod_pids_limit: 8192,
        }
    );
    let o = c.oidc.expect("oidc set");
    assert_eq!(o.issuer_url, "https://idp.bank.example/realms/k8s");
    assert_eq!(o.audiences, ["kubernetes-prod", "kubectl"]);
    assert_eq!(o.certificate_authority.as_deref(), Some(pem));
    assert_eq!(
        (o.username_claim.as_str(), o.username_prefix.as_str()),
        ("preferred_username", "")
    );
    assert_eq!(
        (o.groups_claim.as_deref(), o.groups_prefix.as_str()),
        (Some("roles"), "idp:")
    );
    assert!(o.require_mfa);
    assert_eq!(o.mfa_expression, "claims.acr == 'gold'");
    assert_eq!(
        o.claim_rules,
        [
            OidcClaimRule {
                expression: "claims.email_verified == true".into(),
                message: "verify your e-mail".into(),
            },
            OidcClaimRule {
                expression: "claims.department == 'ops'".into(),
                message: "only operations staff".into(),
            },
        ],
        "rules in file order"
    );
}

#[test]
fn oidc_options_turned_off() {
    let c = ok(&with_oidc(
        "require_mfa = false\ngroups_claim = \"\"\nclaim_rules = [{ expression = \"claims.x == 'y'\", message = \"m\" }]\n",
    ))
    .inventory
    .cluster;
    let o = c.oidc.unwrap();
    assert_eq!(o.claim_rules.len(), 1, "inline rules are read too");
    assert!(!o.require_mfa);
    assert_eq!(o.groups_claim, None, "an empty groups_claim maps no groups");
    assert_eq!(o.mfa_expression, OidcSettings::DEFAULT_MFA_EXPRESSION);
}

#[test]
fn ca_file_without_a_certificate_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let e = load_with_home(
        &dir.path().join("cluster.toml"),
        &with_oidc("ca_file = \"ca.pem\"\n"),
        None,
    )
    .unwrap_err();
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.col), (11, 11));
    assert!(d.message.contains("holds no PEM certificate"), "{e}");
}

#[test]
fn weaker_than_cis_security_settings_warn_at_their_values() {
    let text = min_plus(
        r#"[cluster.security]
audit_log_max_age = 7
audit_log_max_backup = 3
audit_log_max_size = 50
kubelet_protect_kernel_defaults = false
pod_pids_limit = -1
psa_exempt_namespaces = ["monitoring"]
[cluster.oidc]
issuer_url = "https://idp.example.com"
audiences = ["k8s"]
require_mfa = false
mfa_expression = "claims.acr == 'gold'"
"#,
    )
    .replace("[\"control-plane\"]", "[\"control-plane\", \"worker\"]");
    let loaded = ok(&text);
    let w = warning_messages(&loaded);
    let expect = [
        ":9:21: `audit_log_max_age` = 7 is below the CIS benchmark minimum of 30 days",
        ":10:24: `audit_log_max_backup` = 3 is below the CIS benchmark minimum of 10 files",
        ":11:22: `audit_log_max_size` = 50 is below the CIS benchmark minimum of 100 MB",
        ":12:35: kubelet_protect_kernel_defaults = false departs from the CIS benchmark",
        ":13:18: pod_pids_limit = -1 leaves pods without a PID limit",
        ":14:25: kube-system is not exempt: psa_enforce = \"baseline\" rejects",
        ":19:18: mfa_expression is unused with require_mfa = false",
    ];
    assert_eq!(w.len(), expect.len(), "{w:#?}");
    for (got, want) in w.iter().zip(expect) {
        assert!(got.contains(want), "{got} lacks {want}");
    }
    let s = loaded.inventory.cluster.security;
    assert_eq!(
        (
            s.audit_log_max_age,
            s.audit_log_max_backup,
            s.audit_log_max_size
        ),
        (7, 3, 50)
    );
    assert_eq!(s.pod_pids_limit, -1);
    assert_eq!(s.psa_exempt_namespaces, ["monitoring"]);
    // With enforce = privileged nothing needs exempting.
    let quiet =
        min_plus("[cluster.security]\npsa_enforce = \"privileged\"\npsa_exempt_namespaces = []\n")
            .replace("[\"control-plane\"]", "[\"control-plane\", \"worker\"]");
    assert!(ok(&quiet).warnings.is_empty());
}

#[test]
fn load_balancer_settings_outside_haproxy_keepalived_warn() {
    let text = three_cp(
        "[cluster.endpoint]\nmode = \"kube-vip\"\naddress = \"10.0.0.100\"\n[cluster.load_balancer]\nvirtual_router_id = 9\n",
    );
    let loaded = ok(&text);
    let w = warning_messages(&loaded);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains(":7:10: [cluster.load_balancer] is unused with endpoint mode \"kube-vip\""),
        "{w:?}"
    );
    assert_eq!(loaded.inventory.cluster.load_balancer.virtual_router_id, 9);
}

#[test]
fn example_commented_cluster_options_are_valid_when_uncommented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/example.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("# registry_mirror = ", "registry_mirror = ")
        .replace("# mfa_expression = ", "mfa_expression = ")
        .replace(
            "# [[cluster.oidc.claim_rules]]",
            "[[cluster.oidc.claim_rules]]",
        )
        .replace("# expression = ", "expression = ")
        .replace("# message = ", "message = ");
    let c = ok(&text).inventory.cluster;
    assert_eq!(
        c.images.registry_mirror.as_deref(),
        Some("registry.bank.example/k8s")
    );
    let o = c.oidc.unwrap();
    assert_eq!(o.mfa_expression, "claims.acr == 'gold'");
    assert_eq!(o.claim_rules.len(), 1);
}
