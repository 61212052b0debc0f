use super::*;
use crate::phases::testutil::{books, inventory};

#[test]
fn renders_every_host_file_with_notes() {
    let inv = inventory();
    let dir = tempfile::tempdir().unwrap();
    let report = render_all(&inv, &books(), dir.path()).unwrap();
    let rel: Vec<String> = report
        .files
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    insta::assert_snapshot!("render_file_list", rel.join("\n"));
    insta::assert_snapshot!("render_notes", report.notes.join("\n"));
    for p in &report.files {
        assert!(p.is_file(), "{}", p.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let check = dir
            .path()
            .join("hosts/lb1/etc/keepalived/check_apiserver.sh");
        assert_eq!(
            std::fs::metadata(check).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
}

#[test]
fn rendered_file_snapshots() {
    let mut inv = inventory();
    // With the interface in the inventory, keepalived needs no facts.
    inv.cluster.endpoint.as_mut().unwrap().interface = Some("ens192".into());
    let (files, notes) = host_files(&inv, &books()).unwrap();
    assert!(notes.iter().all(|n| n.contains("os.codename")), "{notes:?}");
    for f in files.iter().filter(|f| f.host == "cp1" || f.host == "lb1") {
        let name = format!("{}{}", f.host, f.path.replace('/', "_"));
        insta::assert_snapshot!(name, String::from_utf8(f.content.clone()).unwrap());
    }
    // Upstream source: signed repository line.
    inv.packages = crate::inventory::PackageSource::Upstream;
    let (files, _) = host_files(&inv, &books()).unwrap();
    let list = files
        .iter()
        .find(|f| f.host == "w1" && f.path == "/etc/apt/sources.list.d/kubernetes.list")
        .unwrap();
    insta::assert_snapshot!(
        "w1_kubernetes_list_upstream",
        String::from_utf8(list.content.clone()).unwrap()
    );
}

#[test]
fn signed_mirror_sources() {
    let mut inv = inventory();
    inv.packages = crate::inventory::PackageSource::Mirror {
        url: "https://mirror.bank.example/".into(),
        key_url: Some("https://mirror.bank.example/key.asc".into()),
        debian: true,
    };
    let (files, _) = host_files(&inv, &books()).unwrap();
    let get = |path: &str| {
        let f = files
            .iter()
            .find(|f| f.host == "w1" && f.path == path)
            .unwrap();
        String::from_utf8(f.content.clone()).unwrap()
    };
    insta::assert_snapshot!(
        "w1_signed_mirror_sources",
        format!(
            "{}\n{}",
            get("/etc/apt/sources.list"),
            get("/etc/apt/sources.list.d/kubernetes.list")
        )
    );
}

/// With load-balancer hosts, keepalived carries the inventory's VRRP router id (it used to be
/// one hashed from the cluster name: an outage next to another VRRP pair using that id).
#[test]
fn keepalived_takes_the_router_id_from_the_inventory() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let from = "virtual_router_id = 51 ";
    assert!(text.contains(from));
    let loaded = crate::inventory::load_str(&path, &text.replace(from, "virtual_router_id = 77 "));
    let inv = loaded.unwrap().inventory;
    assert_eq!(inv.load_balancers().count(), 2);
    let (files, _) = host_files(&inv, &books()).unwrap();
    for lb in ["lb1", "lb2"] {
        let conf = files
            .iter()
            .find(|f| f.host == lb && f.path == "/etc/keepalived/keepalived.conf")
            .unwrap();
        let conf = String::from_utf8(conf.content.clone()).unwrap();
        assert!(
            conf.contains("\n    virtual_router_id 77\n"),
            "{lb}: {conf}"
        );
    }
}

/// Without load-balancer hosts the control planes run haproxy + keepalived, from the same
/// endpoint playbook, on the endpoint port (kube-apiserver holds 6443 there).
#[test]
fn control_planes_carry_the_endpoint_without_load_balancer_hosts() {
    let mut inv = inventory();
    inv.hosts
        .retain(|h| !h.has_role(crate::inventory::Role::LoadBalancer));
    let ep = inv.cluster.endpoint.as_mut().unwrap();
    ep.port = 8443;
    ep.interface = Some("ens192".into());
    let (files, _) = host_files(&inv, &books()).unwrap();
    let get = |host: &str, path: &str| {
        let f = files
            .iter()
            .find(|f| f.host == host && f.path == path)
            .unwrap_or_else(|| panic!("{host}: no {path}"));
        String::from_utf8(f.content.clone()).unwrap()
    };
    let haproxy = get("cp3", "/etc/haproxy/haproxy.cfg");
    assert!(haproxy.contains("bind *:8443"), "{haproxy}");
    assert!(
        haproxy.contains("server cp1 10.0.0.11:6443 check"),
        "{haproxy}"
    );
    let ka = get("cp3", "/etc/keepalived/keepalived.conf");
    assert!(
        ka.contains("state BACKUP") && ka.contains("priority 98"),
        "{ka}"
    );
    assert!(ka.contains("virtual_router_id 51"), "{ka}");
    assert!(
        ka.contains("unicast_peer {\n        10.0.0.11\n        10.0.0.12\n    }"),
        "{ka}"
    );
    let check = get("cp1", "/etc/keepalived/check_apiserver.sh");
    assert!(check.contains("https://localhost:8443/healthz"), "{check}");
    assert!(
        !files
            .iter()
            .any(|f| f.host.starts_with('w') && f.path.starts_with("/etc/keepalived")),
        "workers carry no endpoint"
    );
}

/// haproxy/keepalived come from the endpoint playbook, not from the cluster renderer: written next
/// to the cluster files of the same cases (`phases::cluster::render` tests, same
/// `$OTP_RENDER_OUT/<case>/<host>/<path>` layout) so scripts/validate-manifests checks every file
/// a node of a case gets. A no-op without `OTP_RENDER_OUT`. Here rather than there because the
/// cluster renderer sits below this module.
#[test]
fn export_endpoint_files_of_the_cluster_cases() {
    use crate::phases::cluster::fixtures;
    let Ok(dir) = std::env::var("OTP_RENDER_OUT") else {
        return;
    };
    let books = Playbooks::embedded().unwrap();
    for (case, inv) in [
        ("ha", fixtures::ha()),
        ("kube_vip", fixtures::kube_vip()),
        ("external", fixtures::external()),
        ("lb_on_cp", fixtures::lb_on_control_planes()),
    ] {
        let (files, _) = host_files(&inv, &books).unwrap();
        for f in files.iter().filter(|f| {
            f.path.starts_with("/etc/haproxy/") || f.path.starts_with("/etc/keepalived/")
        }) {
            let p = Path::new(&dir)
                .join(case)
                .join(&f.host)
                .join(f.path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &f.content).unwrap();
        }
    }
}
