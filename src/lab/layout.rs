//! Where every lab node lives: names, roles and fixed addresses. Pure, so it is unit-tested.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

use crate::inventory::model::Role;

use super::LabError;

/// Fixed host numbers inside the lab /24. The VIP sits below every node so growing a role
/// never moves it.
const REPO_HOST: u8 = 2;
const VIP_HOST: u8 = 3;
const LB_FIRST: u8 = 4;
const LB_MAX: usize = 6;
const CP_FIRST: u8 = 10;
const CP_MAX: usize = 20;
const WORKER_FIRST: u8 = 30;
const WORKER_MAX: usize = 224;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Hostname and inventory name: cp1.., w1.., lb1..
    pub name: String,
    pub role: Role,
    pub address: Ipv4Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub repo: Ipv4Addr,
    /// Reserved for the cluster endpoint (keepalived); no container gets it.
    pub vip: Ipv4Addr,
    pub nodes: Vec<NodeSpec>,
}

fn host(subnet: Ipv4Net, n: u8) -> Ipv4Addr {
    let base = u32::from(subnet.network());
    Ipv4Addr::from(base + u32::from(n))
}

/// Lay out `cps` control planes, `workers` workers and `lbs` load balancers in `subnet` (a /24).
pub fn plan(subnet: Ipv4Net, cps: usize, workers: usize, lbs: usize) -> Result<Layout, LabError> {
    if subnet.prefix_len() != 24 {
        return Err(LabError::Invalid(format!(
            "lab subnet {subnet} must be a /24 (addresses are fixed per role)"
        )));
    }
    for (what, n, max) in [
        ("--control-planes", cps, CP_MAX),
        ("--workers", workers, WORKER_MAX),
        ("--load-balancers", lbs, LB_MAX),
    ] {
        if n > max {
            return Err(LabError::Invalid(format!(
                "{what} {n} is more than the lab supports ({max})"
            )));
        }
    }
    if cps == 0 {
        return Err(LabError::Invalid(
            "--control-planes must be at least 1".into(),
        ));
    }
    let mut nodes = Vec::with_capacity(cps + workers + lbs);
    let mut add = |prefix: &str, role: Role, first: u8, count: usize| {
        for i in 0..count {
            nodes.push(NodeSpec {
                name: format!("{prefix}{}", i + 1),
                role,
                // Bounded by the *_MAX checks above, so this stays inside the /24.
                address: host(subnet, first + i as u8),
            });
        }
    };
    add("cp", Role::ControlPlane, CP_FIRST, cps);
    add("w", Role::Worker, WORKER_FIRST, workers);
    add("lb", Role::LoadBalancer, LB_FIRST, lbs);
    Ok(Layout {
        subnet,
        gateway: host(subnet, 1),
        repo: host(subnet, REPO_HOST),
        vip: host(subnet, VIP_HOST),
        nodes,
    })
}

/// A /24 for lab `name` that overlaps none of `taken` (Docker networks and host routes).
/// Starts at a place derived from the name so two labs on one machine rarely probe the same
/// candidates, and is stable for a name as long as nothing else claims it.
pub fn pick_subnet(name: &str, taken: &[IpNet]) -> Option<Ipv4Net> {
    // 172.30.0.0/16 sits inside Docker's default pools but far from the 172.17/172.18 it hands
    // out first, and away from the 10.x pod/service ranges the lab inventory uses.
    let start = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 250;
    (0..250u32).find_map(|i| {
        let third = ((start + i) % 250 + 1) as u8;
        let candidate = Ipv4Net::new(Ipv4Addr::new(172, 30, third, 0), 24).ok()?;
        let c = IpNet::V4(candidate);
        let clash = taken
            .iter()
            .any(|t| t.contains(&c.network()) || c.contains(&t.network()));
        (!clash).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn default_lab_addresses() {
        let l = plan(net("172.30.7.0/24"), 3, 2, 1).unwrap();
        let got: Vec<_> = l
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.role, n.address.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("cp1", Role::ControlPlane, "172.30.7.10".to_string()),
                ("cp2", Role::ControlPlane, "172.30.7.11".to_string()),
                ("cp3", Role::ControlPlane, "172.30.7.12".to_string()),
                ("w1", Role::Worker, "172.30.7.30".to_string()),
                ("w2", Role::Worker, "172.30.7.31".to_string()),
                ("lb1", Role::LoadBalancer, "172.30.7.4".to_string()),
            ]
        );
        assert_eq!(l.gateway.to_string(), "172.30.7.1");
        assert_eq!(l.repo.to_string(), "172.30.7.2");
        assert_eq!(l.vip.to_string(), "172.30.7.3");
    }

    #[test]
    fn limits_and_bad_input() {
        let cases: &[(&str, usize, usize, usize, bool)] = &[
            ("172.30.7.0/24", 3, 47, 0, true),
            ("172.30.7.0/24", 20, 224, 6, true),
            ("172.30.7.0/24", 21, 0, 0, false),
            ("172.30.7.0/24", 1, 225, 0, false),
            ("172.30.7.0/24", 1, 0, 7, false),
            ("172.30.7.0/24", 0, 1, 1, false),
            ("172.30.0.0/16", 1, 1, 1, false),
        ];
        for &(subnet, c, w, l, ok) in cases {
            assert_eq!(
                plan(net(subnet), c, w, l).is_ok(),
                ok,
                "{subnet} {c} {w} {l}"
            );
        }
    }

    #[test]
    fn every_address_unique_at_maximum() {
        let l = plan(net("172.30.9.0/24"), 20, 224, 6).unwrap();
        let mut all: Vec<_> = l.nodes.iter().map(|n| n.address).collect();
        all.extend([l.gateway, l.repo, l.vip]);
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(all.iter().all(|a| l.subnet.contains(a)));
        assert!(!all.contains(&l.subnet.broadcast()));
    }

    #[test]
    fn subnet_avoids_taken_ranges() {
        let first = pick_subnet("otp-lab", &[]).unwrap();
        assert_eq!(pick_subnet("otp-lab", &[]), Some(first), "stable per name");
        let taken = vec![IpNet::V4(first)];
        let second = pick_subnet("otp-lab", &taken).unwrap();
        assert_ne!(first, second);
        // A wide route covering all of 172.30/16 leaves nothing.
        let wide: IpNet = "172.16.0.0/12".parse().unwrap();
        assert_eq!(pick_subnet("otp-lab", &[wide]), None);
        // A narrow host route inside a candidate also rules it out.
        let narrow = IpNet::V4(Ipv4Net::new(first.network(), 32).unwrap());
        assert_ne!(pick_subnet("otp-lab", &[narrow]), Some(first));
    }
}
