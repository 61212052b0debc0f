//! Pinned addon images: one table, overridable per image (`[addons.images]`) and rewritable to an
//! internal registry mirror (`[addons] registry_mirror`) for air-gapped sites.

use crate::inventory::addons::Addons;

/// The table lives with the inventory, which validates `[addons.images]` keys against it.
pub use crate::inventory::addons::PINNED_IMAGES as PINNED;

/// The reference to deploy for `key`: the inventory's override, else the pinned default with its
/// registry replaced by the mirror (path below the registry kept). The mirror is
/// `[addons] registry_mirror`, else `[cluster.images] registry_mirror` (`cluster_mirror`), so an
/// air-gapped site names its registry once.
pub fn resolve(addons: &Addons, cluster_mirror: Option<&str>, key: &str) -> Option<String> {
    if let Some(o) = addons.images.get(key) {
        return Some(o.clone());
    }
    let pinned = PINNED.iter().find(|(k, _)| *k == key)?.1;
    Some(match addons.registry_mirror.as_deref().or(cluster_mirror) {
        Some(m) => format!("{}/{}", m.trim_end_matches('/'), strip_registry(pinned)),
        None => pinned.to_string(),
    })
}

/// `quay.io/prometheus/prometheus:v1` -> `prometheus/prometheus:v1`. The first path component is
/// a registry when it has a `.` or `:` or is `localhost` (Docker's rule); `docker.io` library
/// images keep their `library/` path so mirrors laid out like Docker Hub find them.
fn strip_registry(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            if first == "docker.io" && !rest.contains('/') {
                format!("library/{rest}")
            } else {
                rest.to_string()
            }
        }
        _ if !reference.contains('/') => format!("library/{reference}"),
        _ => reference.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_and_overrides() {
        let mut a = Addons::default();
        assert_eq!(
            resolve(&a, None, "prometheus").unwrap(),
            "quay.io/prometheus/prometheus:v3.5.0"
        );
        assert_eq!(
            resolve(&a, Some("cluster.mirror/k8s"), "prometheus").unwrap(),
            "cluster.mirror/k8s/prometheus/prometheus:v3.5.0"
        );
        a.registry_mirror = Some("reg.bank.example/mirror".into());
        let cases = [
            (
                "prometheus",
                "reg.bank.example/mirror/prometheus/prometheus:v3.5.0",
            ),
            (
                "opensearch",
                "reg.bank.example/mirror/opensearchproject/opensearch:3.1.0",
            ),
            (
                "kube-state-metrics",
                "reg.bank.example/mirror/kube-state-metrics/kube-state-metrics:v2.16.0",
            ),
        ];
        for (k, want) in cases {
            // The addons mirror wins over the cluster's.
            assert_eq!(resolve(&a, Some("cluster.mirror"), k).unwrap(), want, "{k}");
        }
        a.images
            .insert("prometheus".into(), "other.example/p:v9".into());
        assert_eq!(
            resolve(&a, None, "prometheus").unwrap(),
            "other.example/p:v9"
        );
        assert_eq!(resolve(&a, None, "nope"), None);
        assert_eq!(strip_registry("docker.io/nginx:1"), "library/nginx:1");
        assert_eq!(strip_registry("busybox:1"), "library/busybox:1");
        assert_eq!(strip_registry("localhost/a/b:1"), "a/b:1");
    }
}
