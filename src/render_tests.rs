use super::*;
use crate::inventory::Role;
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

/// The load-balancer files `up` deploys come from the endpoint playbook (these), not from the
/// cluster renderer. Writes every host's files to `$OTP_RENDER_OUT/playbook-<case>/<host>/<path>`
/// for scripts/validate-manifests (`haproxy -c`, `keepalived -t`, shellcheck on the check script).
#[test]
fn playbook_load_balancer_files_for_the_validators() {
    let mut ha = inventory();
    ha.cluster.endpoint.as_mut().unwrap().interface = Some("ens192".into());
    // haproxy on the control planes: the frontend moves to another port.
    let mut on_cp = ha.clone();
    on_cp
        .hosts
        .retain(|h| !h.roles.contains(&Role::LoadBalancer));
    for h in on_cp.hosts.iter_mut().filter(|h| h.name.starts_with("cp")) {
        h.roles.insert(Role::LoadBalancer);
    }
    on_cp.cluster.endpoint.as_mut().unwrap().port = 8443;
    for (case, inv, lbs) in [
        ("playbook-ha", &ha, ["lb1", "lb2", "-"]),
        ("playbook-lb_on_cp", &on_cp, ["cp1", "cp2", "cp3"]),
    ] {
        let (files, _) = host_files(inv, &books()).unwrap();
        for lb in lbs.iter().filter(|h| **h != "-") {
            let paths: Vec<&str> = files
                .iter()
                .filter(|f| f.host == *lb)
                .map(|f| f.path.as_str())
                .collect();
            for want in [
                "/etc/haproxy/haproxy.cfg",
                "/etc/keepalived/keepalived.conf",
                "/etc/keepalived/check_apiserver.sh",
            ] {
                assert!(paths.contains(&want), "{case} {lb}: {paths:?}");
            }
        }
        if let Ok(dir) = std::env::var("OTP_RENDER_OUT") {
            for f in &files {
                let p = Path::new(&dir)
                    .join(case)
                    .join(&f.host)
                    .join(f.path.trim_start_matches('/'));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, &f.content).unwrap();
            }
        }
    }
}
