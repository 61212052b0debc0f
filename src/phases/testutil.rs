//! Test fixtures shared by the engine's unit tests: a sample HA inventory and facts of fresh
//! and converged hosts, built without any SSH.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::{Mode, ResolvedKind, fact_request, resolve};
use crate::facts::{Address, Facts, FileFact, OsRelease, Package, Service};
use crate::inventory::*;
use crate::playbook::Playbooks;

pub use crate::inventory::testutil::inventory;

pub fn books() -> Playbooks {
    Playbooks::embedded().expect("embedded playbooks load")
}

/// A freshly installed Debian 12 server: swap on, nothing Kubernetes, every requested file,
/// package and service absent, every probe failing.
pub fn fresh(inv: &Inventory, name: &str) -> Facts {
    let h = inv.host(name).unwrap();
    let req = fact_request(inv, h, &books()).unwrap();
    let mut f = Facts {
        hostname: name.into(),
        os: OsRelease {
            id: "debian".into(),
            id_like: String::new(),
            version_id: "12".into(),
            codename: "bookworm".into(),
            pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
        },
        kernel: "6.1.0-25-amd64".into(),
        arch: "x86_64".into(),
        cpus: 2,
        mem_total_kib: 4_000_000,
        swap_active: true,
        swaps: vec!["/swapfile".into()],
        fstab_swap: vec!["/swapfile".into()],
        modules: ["overlay".to_string()].into(),
        modules_loadable: true,
        ..Facts::default()
    };
    f.net.default_interface = Some("ens192".into());
    f.net.addresses.push(Address {
        interface: "ens192".into(),
        cidr: format!("{}/24", h.address),
    });
    f.listening_tcp.insert(22);
    for k in &req.sysctls {
        if k.starts_with("net.bridge.") {
            f.sysctls_missing.insert(k.clone());
        } else {
            f.sysctls.insert(k.clone(), "0".into());
        }
    }
    f.files_missing = req.files.clone();
    for s in &req.services {
        f.services.insert(
            s.clone(),
            Service {
                active: "inactive".into(),
                enabled: "not-found".into(),
                active_since: None,
            },
        );
    }
    for id in req.probes.keys() {
        f.probes.insert(id.clone(), 1);
    }
    f
}

/// The facts `name` reports after a successful run: everything the plan wanted is in place.
pub fn converged(inv: &Inventory, name: &str) -> Facts {
    let h = inv.host(name).unwrap();
    let mut f = fresh(inv, name);
    f.swap_active = false;
    f.swaps.clear();
    f.fstab_swap.clear();
    f.probes.values_mut().for_each(|c| *c = 0);
    let (steps, _) = resolve(inv, h, Some(&f.clone()), &books(), Mode::Full).unwrap();
    let put = |f: &mut Facts, path: &str, content: &[u8], mode: &str, owner: &str| {
        f.files_missing.remove(path);
        f.files.insert(
            path.into(),
            FileFact {
                sha256: hex::encode(Sha256::digest(content)),
                mode: mode.trim_start_matches('0').into(),
                owner: owner.into(),
                mtime: 1_700_000_000,
            },
        );
    };
    for s in steps {
        match s.kind {
            ResolvedKind::File {
                path,
                content,
                mode,
                owner,
                ..
            } => put(&mut f, &path, &content, &mode, &owner),
            ResolvedKind::Sysctl { values, file } => {
                put(
                    &mut f,
                    &file,
                    super::steps::sysctl_content(&values).as_bytes(),
                    "0644",
                    "root:root",
                );
                for (k, v) in values {
                    f.sysctls_missing.remove(&k);
                    f.sysctls.insert(k, v);
                }
            }
            ResolvedKind::Module { names, file } => {
                put(
                    &mut f,
                    &file,
                    super::steps::module_content(&names).as_bytes(),
                    "0644",
                    "root:root",
                );
                f.modules.extend(names);
            }
            ResolvedKind::Package { names, hold } => {
                for (n, v) in names {
                    let version = match v {
                        Some(v) => v.replace('*', "1.1"),
                        None => "1.0-1".into(),
                    };
                    f.packages.insert(
                        n,
                        Package {
                            version,
                            held: hold,
                        },
                    );
                }
            }
            ResolvedKind::Service { name, .. } => {
                f.services.insert(
                    name,
                    Service {
                        active: "active".into(),
                        enabled: "enabled".into(),
                        // Started after the files were written.
                        active_since: Some(1_700_000_100),
                    },
                );
            }
            _ => {}
        }
    }
    f
}

pub fn all(inv: &Inventory, f: fn(&Inventory, &str) -> Facts) -> BTreeMap<String, Facts> {
    inv.hosts
        .iter()
        .map(|h| (h.name.clone(), f(inv, &h.name)))
        .collect()
}

pub fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}
