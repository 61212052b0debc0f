//! `otp-provision lab`: a multi-node lab of systemd containers that behave like fresh Debian 12
//! servers, with its own package repository, an inventory and a known_hosts file holding the
//! nodes' real host keys.
//!
//! Everything the lab creates carries the label `otp-lab=1` and `otp-lab.name=<name>`, which is
//! what `lab down` removes; the node image and the package cache are kept.

pub mod docker;
pub mod image;
pub mod inventory;
pub mod layout;
pub mod repo;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::inventory::model::Role;

use docker::docker;
use layout::{Layout, NodeSpec};

/// Label on everything the lab creates.
pub const LABEL: &str = "otp-lab";
/// Label holding the lab's name, so two labs (a developer's and the tests') stay apart.
pub const NAME_LABEL: &str = "otp-lab.name";
/// Port the repository container serves on.
pub const REPO_PORT: u16 = 8080;

#[derive(Debug, Clone, Args)]
pub struct LabOpts {
    /// Lab name: prefixes container names, names the network; labs with different names coexist.
    #[arg(long, env = "OTP_LAB_NAME", default_value = "otp-lab")]
    pub name: String,
    /// Where inventory.toml, known_hosts and state/ (SSH key, repository files) go.
    #[arg(long, env = "OTP_LAB_DIR", default_value = "lab")]
    pub dir: PathBuf,
    /// Cache for the node root file system and downloaded packages (kept by `lab down`).
    #[arg(long, env = "OTP_LAB_CACHE", default_value = "lab/cache")]
    pub cache: PathBuf,
    /// Directory holding the Kubernetes stand-ins (build-debs.sh, DEPENDS).
    #[arg(long, env = "OTP_LAB_STANDINS", default_value = "lab/standins")]
    pub standins: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Create the lab nodes, the package repository, the inventory and known_hosts.
    Up {
        #[arg(long, default_value_t = 3)]
        control_planes: usize,
        #[arg(long, default_value_t = 2)]
        workers: usize,
        #[arg(long, default_value_t = 1)]
        load_balancers: usize,
        /// Kubernetes version written to the inventory; its minor names the stand-in repository.
        #[arg(long, default_value = "1.33.4")]
        kubernetes_version: String,
        /// Lab network (a /24); picked automatically from 172.30.0.0/16 when unset.
        #[arg(long)]
        subnet: Option<Ipv4Net>,
        #[command(flatten)]
        opts: LabOpts,
    },
    /// List nodes, addresses and state.
    Status {
        #[command(flatten)]
        opts: LabOpts,
    },
    /// Remove everything the lab created, and nothing else (the image cache is kept).
    Down {
        #[command(flatten)]
        opts: LabOpts,
    },
    /// Stop a node (like powering it off).
    Stop {
        node: String,
        #[command(flatten)]
        opts: LabOpts,
    },
    /// Start a stopped node and wait for its sshd.
    Start {
        node: String,
        #[command(flatten)]
        opts: LabOpts,
    },
    /// Cut a node off the lab network (it keeps running).
    Cut {
        node: String,
        #[command(flatten)]
        opts: LabOpts,
    },
    /// Reconnect a cut node with its old address.
    Heal {
        node: String,
        #[command(flatten)]
        opts: LabOpts,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("docker is not usable: {0} (install docker.io and start dockerd)")]
    DockerMissing(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{step}: {detail}")]
    Step { step: String, detail: String },
    #[error("node {node}: {step}: {detail}")]
    Node {
        node: String,
        step: String,
        detail: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> LabError {
    LabError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Run a lab command. `json` selects machine-readable output for `status`.
pub fn run(cmd: LabCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        LabCommand::Up {
            control_planes,
            workers,
            load_balancers,
            kubernetes_version,
            subnet,
            opts,
        } => {
            let report = up(
                &opts,
                &UpParams {
                    control_planes,
                    workers,
                    load_balancers,
                    kubernetes_version,
                    subnet,
                },
            )
            .map_err(|e| {
                // A half-built lab stays for inspection; say how to remove it.
                // Invalid input (including "already up") created nothing.
                let left = !matches!(e, LabError::Invalid(_))
                    && containers(&opts.name).is_ok_and(|c| !c.is_empty());
                if left {
                    anyhow::anyhow!(
                        "{e}\n(the partly created lab is left for inspection; remove it with \
                         `otp-provision lab down --name {}`)",
                        opts.name
                    )
                } else {
                    e.into()
                }
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
        }
        LabCommand::Status { opts } => {
            let nodes = status(&opts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&nodes)?);
            } else if nodes.is_empty() {
                println!("lab {} is not up", opts.name);
            } else {
                print!("{}", status_table(&nodes));
            }
        }
        LabCommand::Down { opts } => {
            let removed = down(&opts)?;
            println!(
                "lab {}: removed {} containers and {} network(s); kept the node image {} and the cache in {}",
                opts.name,
                removed.containers,
                removed.networks,
                image::image_tag(),
                opts.cache.display()
            );
        }
        LabCommand::Stop { node, opts } => {
            stop(&opts, &node)?;
            println!("{node}: stopped");
        }
        LabCommand::Start { node, opts } => {
            start(&opts, &node)?;
            println!("{node}: running, sshd answers");
        }
        LabCommand::Cut { node, opts } => {
            cut(&opts, &node)?;
            println!("{node}: cut off the lab network");
        }
        LabCommand::Heal { node, opts } => {
            heal(&opts, &node)?;
            println!("{node}: back on the lab network");
        }
    }
    Ok(())
}

pub struct UpParams {
    pub control_planes: usize,
    pub workers: usize,
    pub load_balancers: usize,
    pub kubernetes_version: String,
    pub subnet: Option<Ipv4Net>,
}

#[derive(Debug, Serialize)]
pub struct UpReport {
    pub name: String,
    pub image: String,
    pub subnet: String,
    pub vip: String,
    pub repo_url: String,
    pub inventory: PathBuf,
    pub known_hosts: PathBuf,
    pub nodes: Vec<NodeStatus>,
    /// False when lab/standins/build-debs.sh was missing and the Kubernetes repository is empty.
    pub kubernetes_packages: bool,
    pub seconds: f64,
}

impl UpReport {
    fn text(&self) -> String {
        let mut s = format!(
            "lab {}: {} nodes and the repository up in {:.0} s (image {}, network {}, VIP {}, repository {})\n",
            self.name,
            self.nodes.iter().filter(|n| n.role != "repository").count(),
            self.seconds,
            self.image,
            self.subnet,
            self.vip,
            self.repo_url
        );
        s.push_str(&status_table(&self.nodes));
        s.push_str(&format!(
            "inventory:   {}\nknown_hosts: {}\n",
            self.inventory.display(),
            self.known_hosts.display()
        ));
        if !self.kubernetes_packages {
            s.push_str(
                "warning: no Kubernetes stand-in packages (lab/standins/build-debs.sh missing); \
                 the Kubernetes repository is empty\n",
            );
        }
        s
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeStatus {
    pub node: String,
    pub role: String,
    pub address: String,
    /// Docker's state (running, exited, ...) or `cut` when running but off the lab network.
    pub state: String,
    pub container: String,
}

fn validate_name(name: &str) -> Result<(), LabError> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(LabError::Invalid(format!(
            "lab name {name:?}: use lowercase letters, digits and '-', starting with a letter, at most 40"
        )))
    }
}

fn container_name(lab: &str, node: &str) -> String {
    format!("{lab}-{node}")
}

fn absolute(p: &Path) -> Result<PathBuf, LabError> {
    std::path::absolute(p).map_err(|e| io_err(p, e))
}

/// Subnets already in use: Docker networks and host routes.
fn taken_subnets() -> Result<Vec<IpNet>, LabError> {
    let mut taken = Vec::new();
    let ids = docker("listing Docker networks", &["network", "ls", "-q"])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec![
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
        ];
        args.extend(ids);
        let out = docker("listing Docker networks", &args)?;
        taken.extend(
            out.split_whitespace()
                .filter_map(|s| s.parse::<IpNet>().ok()),
        );
    }
    if let Ok(out) = Command::new("ip").args(["-4", "route", "show"]).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        taken.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter_map(|s| {
                    s.parse::<IpNet>()
                        .ok()
                        .or_else(|| s.parse::<Ipv4Addr>().ok().map(|a| IpNet::V4(a.into())))
                }),
        );
    }
    Ok(taken)
}

/// Capabilities Docker's `ALL` would ask for that this machine's bounding set lacks; asking for
/// them makes runc fail ("unable to apply caps"), which is why `--privileged` cannot be used on
/// sandboxed hosts.
pub fn missing_caps(cap_bnd: u64) -> Vec<&'static str> {
    // Docker 20.10's ALL stops at AUDIT_READ (37); order is the kernel's bit order.
    const NAMES: [&str; 38] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| cap_bnd & (1u64 << bit) == 0)
        .map(|(_, n)| *n)
        .collect()
}

fn host_cap_bnd() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

/// `docker run` flags under which systemd boots as PID 1 on cgroup v1 and v2 hosts.
fn systemd_run_flags() -> Vec<String> {
    let mut f: Vec<String> = [
        "--cap-add=ALL",
        "--security-opt=seccomp=unconfined",
        "--security-opt=apparmor=unconfined",
        // Writable /proc/sys: node preparation sets sysctls (ip_forward, bridge-nf-call).
        "--security-opt=systempaths=unconfined",
        "--cgroupns=private",
        // systemd's orderly shutdown signal.
        "--stop-signal=SIGRTMIN+3",
        "--tmpfs=/run",
        "--tmpfs=/run/lock",
        "--tmpfs=/tmp",
        // containerd's overlayfs snapshotter cannot stack on Docker's fuse-overlayfs root; an
        // anonymous volume lives on the host file system (removed with `rm -v`).
        "--volume=/var/lib/containerd",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Like kind: nodes load kernel modules (overlay, br_netfilter) through the host's tree.
    // Hosts with every module built in (this project's VMs) have none; modprobe then fails
    // in the nodes exactly as on such a server, while /proc/sys/net/bridge still exists.
    if Path::new("/lib/modules").is_dir() {
        f.push("--volume=/lib/modules:/lib/modules:ro".into());
    }
    f.extend(
        missing_caps(host_cap_bnd())
            .into_iter()
            .map(|c| format!("--cap-drop={c}")),
    );
    f
}

/// Host-wide kernel limits a lab of `nodes` systemd containers needs; returns (sysctl, minimum).
/// Every node's systemd, journald, logind and dbus hold inotify instances and watches, and the
/// containers share the host's per-user counts (no user namespace), so Debian's default of 128
/// instances stops a lab of about 20 nodes: systemd then fails with "Failed to create inotify
/// object: Too many open files" and the container exits with 255.
pub fn host_limits(nodes: usize) -> [(&'static str, u64); 2] {
    let n = nodes as u64;
    [
        ("fs/inotify/max_user_instances", 1024 + 32 * n),
        ("fs/inotify/max_user_watches", 524_288.max(8192 * n)),
    ]
}

fn raise_host_limits(nodes: usize) -> Result<(), LabError> {
    for (key, min) in host_limits(nodes) {
        let path = Path::new("/proc/sys").join(key);
        let current: u64 = std::fs::read_to_string(&path)
            .map_err(|e| io_err(&path, e))?
            .trim()
            .parse()
            .unwrap_or(0);
        if current < min {
            std::fs::write(&path, min.to_string()).map_err(|e| LabError::Step {
                step: format!("raising {} from {current} to {min}", key.replace('/', ".")),
                detail: format!("{e} (run as root, or set it with sysctl first)"),
            })?;
            eprintln!(
                "lab: raised {} from {current} to {min} for {nodes} nodes",
                key.replace('/', ".")
            );
        }
    }
    Ok(())
}

fn labels(lab: &str) -> Vec<String> {
    vec![
        format!("--label={LABEL}=1"),
        format!("--label={NAME_LABEL}={lab}"),
    ]
}

/// Run `f` over `items` on up to `threads` threads; results in item order.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<R, LabError> + Sync,
) -> Vec<Result<R, LabError>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, LabError>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every item processed"))
        .collect()
}

fn first_error<R>(results: Vec<Result<R, LabError>>) -> Result<Vec<R>, LabError> {
    results.into_iter().collect()
}

fn ensure_ssh_key(state: &Path, lab: &str) -> Result<String, LabError> {
    let key = state.join("id_ed25519");
    let public = state.join("id_ed25519.pub");
    if !key.exists() || !public.exists() {
        image::ensure_tool("ssh-keygen", "openssh-client")?;
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(&public);
        image::run_logged(
            &format!("creating the lab SSH key {}", key.display()),
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C"])
                .arg(format!("otp-provision-lab-{lab}"))
                .arg("-f")
                .arg(&key),
            None,
        )?;
    }
    std::fs::read_to_string(&public).map_err(|e| io_err(&public, e))
}

/// `1.33.4` -> `v1.33`, the pkgs.k8s.io path component.
fn minor_of(version: &str) -> Result<String, LabError> {
    let parts: Vec<&str> = version.trim_start_matches('v').split('.').collect();
    match parts[..] {
        [a, b, c]
            if [a, b, c]
                .iter()
                .all(|x| !x.is_empty() && x.bytes().all(|d| d.is_ascii_digit())) =>
        {
            Ok(format!("v{a}.{b}"))
        }
        _ => Err(LabError::Invalid(format!(
            "--kubernetes-version {version}: expected MAJOR.MINOR.PATCH like 1.33.4"
        ))),
    }
}

fn lock_file(path: &Path) -> Result<std::fs::File, LabError> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.lock().map_err(|e| io_err(path, e))?;
    Ok(f)
}

pub fn up(opts: &LabOpts, p: &UpParams) -> Result<UpReport, LabError> {
    let started = Instant::now();
    validate_name(&opts.name)?;
    docker::check_available()?;
    if !containers(&opts.name)?.is_empty() {
        return Err(LabError::Invalid(format!(
            "lab {} is already up (see `otp-provision lab status --name {}`); run `lab down` first",
            opts.name, opts.name
        )));
    }
    let minor = minor_of(&p.kubernetes_version)?;
    // Check the counts before minutes of image building, with a stand-in subnet.
    layout::plan(
        p.subnet
            .unwrap_or(Ipv4Net::new(Ipv4Addr::new(172, 30, 0, 0), 24).expect("valid /24")),
        p.control_planes,
        p.workers,
        p.load_balancers,
    )?;
    let dir = absolute(&opts.dir)?;
    let cache = absolute(&opts.cache)?;
    let state = dir.join("state");
    for d in [&dir, &cache, &state] {
        std::fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }

    // Labs started at once (parallel tests) share the cache: one builds, the others wait.
    let cache_lock = lock_file(&cache.join(".lock"))?;
    let image = image::ensure_image(&cache)?;
    let packages = repo::wanted_packages(&opts.standins)?;
    let debian = repo::ensure_debian_archive(&cache, &packages)?;
    let kube_root = state.join("repo-kubernetes");
    let kube = repo::build_kubernetes(
        &opts.standins,
        &kube_root,
        &minor,
        &p.kubernetes_version,
        &cache,
    )?;
    drop(cache_lock);
    let authorized_key = ensure_ssh_key(&state, &opts.name)?;

    // Held from choosing a free subnet until the network claiming it exists.
    let net_lock = lock_file(&cache.join(".network.lock"))?;
    let subnet = match p.subnet {
        Some(s) => s,
        None => layout::pick_subnet(&opts.name, &taken_subnets()?).ok_or_else(|| {
            LabError::Invalid("no free /24 left in 172.30.0.0/16; pass --subnet".into())
        })?,
    };
    let layout = layout::plan(subnet, p.control_planes, p.workers, p.load_balancers)?;

    let mut net_args = vec![
        "network".to_string(),
        "create".into(),
        // No route out: nodes get packages only from the lab repository, as in an air-gapped site.
        "--internal".into(),
        format!("--subnet={}", layout.subnet),
        format!("--gateway={}", layout.gateway),
    ];
    net_args.extend(labels(&opts.name));
    net_args.push(opts.name.clone());
    docker(
        &format!("creating the lab network {}", opts.name),
        &net_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;

    drop(net_lock);
    start_repo(opts, &layout, &image, &debian, &kube_root)?;

    raise_host_limits(layout.nodes.len())?;
    let flags = systemd_run_flags();
    let threads = 8;
    first_error(parallel(&layout.nodes, threads, |n| {
        create_node(opts, n, &image, &flags)
    }))?;
    let keys = first_error(parallel(&layout.nodes, threads, |n| {
        wait_node(opts, n, &authorized_key, Duration::from_secs(600))
    }))?;
    wait_repo(&layout)?;

    let mut known = String::new();
    for (n, k) in layout.nodes.iter().zip(&keys) {
        for line in inventory::known_hosts_lines(&n.address.to_string(), k) {
            known.push_str(&line);
            known.push('\n');
        }
    }
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, known).map_err(|e| io_err(&known_hosts, e))?;
    let repo_url = format!("http://{}:{REPO_PORT}", layout.repo);
    let inv = inventory::render(
        &layout,
        &inventory::InventoryParams {
            cluster_name: &opts.name,
            kubernetes_version: &p.kubernetes_version,
            repo_url: &repo_url,
        },
    );
    let inventory_path = dir.join("inventory.toml");
    std::fs::write(&inventory_path, inv).map_err(|e| io_err(&inventory_path, e))?;

    Ok(UpReport {
        name: opts.name.clone(),
        image,
        subnet: layout.subnet.to_string(),
        vip: layout.vip.to_string(),
        repo_url,
        inventory: inventory_path,
        known_hosts,
        nodes: status(opts)?,
        kubernetes_packages: matches!(kube, repo::KubernetesRepo::Built { .. }),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn start_repo(
    opts: &LabOpts,
    layout: &Layout,
    image: &str,
    debian: &Path,
    kube_root: &Path,
) -> Result<(), LabError> {
    let name = container_name(&opts.name, "repo");
    // The node image has no HTTP server; the repository installs python3 from the very archive
    // it serves (read-only mount, file: source), then serves it. No network access needed.
    let script = format!(
        "set -e; rm -f /etc/apt/sources.list.d/*; \
         echo 'deb [trusted=yes] file:/srv/repo/debian ./' > /etc/apt/sources.list; \
         apt-get -qq update; \
         DEBIAN_FRONTEND=noninteractive apt-get -qq -y --no-install-recommends install python3 >/dev/null; \
         exec python3 -m http.server --directory /srv/repo {REPO_PORT}"
    );
    let mut args: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        format!("--name={name}"),
        "--hostname=repo".into(),
        format!("--network={}", opts.name),
        format!("--ip={}", layout.repo),
        "--network-alias=repo".into(),
        "--label=otp-lab.node=repo".into(),
        "--label=otp-lab.role=repository".into(),
        format!("--label=otp-lab.address={}", layout.repo),
        format!("--volume={}:/srv/repo/debian:ro", debian.display()),
        format!("--volume={}:/srv/repo/kubernetes:ro", kube_root.display()),
    ];
    args.extend(labels(&opts.name));
    args.extend([image.to_string(), "/bin/sh".into(), "-c".into(), script]);
    docker(
        "starting the lab package repository",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    Ok(())
}

/// Wait until the repository answers HTTP from the host (a TCP connect alone proves nothing on
/// hosts whose network stack accepts every connection).
fn wait_repo(layout: &Layout) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let addr = SocketAddr::from((layout.repo, REPO_PORT));
    let mut last = String::new();
    while Instant::now() < deadline {
        match http_get_status(addr, "/debian/Release") {
            Ok(200) => return Ok(()),
            Ok(code) => last = format!("HTTP {code}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(LabError::Step {
        step: "waiting for the lab package repository".into(),
        detail: format!("http://{addr}/debian/Release did not answer 200 in 180 s (last: {last})"),
    })
}

fn http_get_status(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", addr.ip())?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))
}

fn create_node(
    opts: &LabOpts,
    n: &NodeSpec,
    image: &str,
    flags: &[String],
) -> Result<(), LabError> {
    let mut args: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        format!("--name={}", container_name(&opts.name, &n.name)),
        format!("--hostname={}", n.name),
        format!("--network={}", opts.name),
        format!("--ip={}", n.address),
        format!("--network-alias={}", n.name),
        format!("--label=otp-lab.node={}", n.name),
        format!("--label=otp-lab.role={}", n.role.as_str()),
        format!("--label=otp-lab.address={}", n.address),
    ];
    args.extend(labels(&opts.name));
    args.extend(flags.iter().cloned());
    args.push(image.to_string());
    docker(
        &format!("node {}: creating the container", n.name),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    Ok(())
}

/// Wait for the node to finish booting with sshd up, install the lab key and return its host
/// public keys, read from the node's file system (not from the network: no trust on first use).
fn wait_node(
    opts: &LabOpts,
    n: &NodeSpec,
    authorized_key: &str,
    timeout: Duration,
) -> Result<String, LabError> {
    let c = container_name(&opts.name, &n.name);
    let node_err = |step: &str, detail: String| LabError::Node {
        node: n.name.clone(),
        step: step.to_string(),
        detail,
    };
    let deadline = Instant::now() + timeout;
    // `is-system-running --wait` blocks until boot is over; it fails while dbus is not up yet,
    // hence the loop.
    let probe = "timeout 120 systemctl is-system-running --wait >/dev/null 2>&1; \
                 systemctl is-active --quiet ssh && cat /etc/ssh/ssh_host_*_key.pub";
    let keys = loop {
        match docker("waiting for sshd", &["exec", &c, "sh", "-c", probe]) {
            Ok(k) if k.contains("ssh-ed25519") => break k,
            Ok(_) | Err(_) if Instant::now() < deadline => {
                // A container whose init died never gets better: say why now, not at the timeout.
                let running = docker(
                    "inspecting the container",
                    &[
                        "inspect",
                        "-f",
                        "{{.State.Running}} {{.State.ExitCode}}",
                        &c,
                    ],
                )?;
                if !running.starts_with("true") {
                    let logs = std::process::Command::new("docker")
                        .args(["logs", "--tail", "20", &c])
                        .output()
                        .map(|o| {
                            let mut t = String::from_utf8_lossy(&o.stdout).into_owned();
                            t.push_str(&String::from_utf8_lossy(&o.stderr));
                            t
                        })
                        .unwrap_or_default();
                    return Err(node_err(
                        "booting",
                        format!(
                            "container {c} exited (code {}) before sshd started:\n{}",
                            running.split_whitespace().nth(1).unwrap_or("?"),
                            logs.trim()
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_secs(1))
            }
            Ok(k) => {
                return Err(node_err(
                    "waiting for sshd",
                    format!("no host keys after {timeout:?}: {k:?}"),
                ));
            }
            Err(e) => return Err(node_err("waiting for sshd", e.to_string())),
        }
    };
    docker::docker_stdin(
        &format!("node {}: installing the lab SSH key", n.name),
        &[
            "exec",
            "-i",
            &c,
            "sh",
            "-c",
            "umask 077 && cat > /home/otp/.ssh/authorized_keys && chown otp:otp /home/otp/.ssh/authorized_keys",
        ],
        authorized_key.as_bytes(),
    )?;
    let addr = SocketAddr::from((n.address, 22));
    let mut last = String::new();
    while Instant::now() < deadline {
        match ssh_banner(addr) {
            Ok(b) if b.starts_with("SSH-2.0-") => return Ok(keys),
            Ok(b) => last = format!("unexpected banner {b:?}"),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(node_err(
        "reaching sshd from the host",
        format!("{addr}: {last}"),
    ))
}

fn ssh_banner(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).trim().to_string())
}

/// Containers of lab `lab`, as docker reports them.
fn containers(lab: &str) -> Result<Vec<NodeStatus>, LabError> {
    let out = docker(
        "listing lab containers",
        &[
            "ps",
            "-a",
            "--filter",
            &format!("label={NAME_LABEL}={lab}"),
            "--format",
            "{{.Label \"otp-lab.node\"}}|{{.Label \"otp-lab.role\"}}|{{.Label \"otp-lab.address\"}}|{{.State}}|{{.Networks}}|{{.Names}}",
        ],
    )?;
    let mut nodes: Vec<NodeStatus> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let [node, role, address, state, networks, name] = f[..] else {
                return None;
            };
            let attached = networks.split(',').any(|n| n == lab);
            Some(NodeStatus {
                node: node.to_string(),
                role: role.to_string(),
                address: address.to_string(),
                state: if state == "running" && !attached {
                    "cut".to_string()
                } else {
                    state.to_string()
                },
                container: name.to_string(),
            })
        })
        .collect();
    nodes.sort_by_key(|n| sort_key(&n.role, &n.node));
    Ok(nodes)
}

fn sort_key(role: &str, node: &str) -> (u8, String, u32) {
    let rank = match role {
        "control-plane" => 0,
        "worker" => 1,
        "load-balancer" => 2,
        _ => 3,
    };
    let digits = node.trim_start_matches(|c: char| !c.is_ascii_digit());
    let prefix = node[..node.len() - digits.len()].to_string();
    (rank, prefix, digits.parse().unwrap_or(0))
}

pub fn status(opts: &LabOpts) -> Result<Vec<NodeStatus>, LabError> {
    validate_name(&opts.name)?;
    docker::check_available()?;
    containers(&opts.name)
}

fn status_table(nodes: &[NodeStatus]) -> String {
    let w = nodes.iter().map(|n| n.node.len()).max().unwrap_or(4).max(4);
    let mut s = format!("{:<w$}  {:<13}  {:<15}  STATE\n", "NODE", "ROLE", "ADDRESS");
    for n in nodes {
        s.push_str(&format!(
            "{:<w$}  {:<13}  {:<15}  {}\n",
            n.node, n.role, n.address, n.state
        ));
    }
    s
}

#[derive(Debug, Default)]
pub struct Removed {
    pub containers: usize,
    pub networks: usize,
}

pub fn down(opts: &LabOpts) -> Result<Removed, LabError> {
    validate_name(&opts.name)?;
    docker::check_available()?;
    let filter = format!("label={NAME_LABEL}={}", opts.name);
    let ids = docker(
        "listing lab containers",
        &["ps", "-aq", "--filter", &filter],
    )?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let mut removed = Removed::default();
    // docker rm handles a batch per call; chunks keep the command line and one failure small.
    for chunk in ids.chunks(25) {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(chunk);
        docker("removing lab containers", &args)?;
        removed.containers += chunk.len();
    }
    let nets = docker(
        "listing lab networks",
        &["network", "ls", "-q", "--filter", &filter],
    )?;
    for net in nets.split_whitespace() {
        docker("removing the lab network", &["network", "rm", net])?;
        removed.networks += 1;
    }
    let dir = absolute(&opts.dir)?;
    for f in ["inventory.toml", "known_hosts"] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
        }
    }
    image::remove_tree(&dir.join("state").join("repo-kubernetes"))?;
    Ok(removed)
}

fn find_node(opts: &LabOpts, node: &str) -> Result<NodeStatus, LabError> {
    validate_name(&opts.name)?;
    docker::check_available()?;
    containers(&opts.name)?
        .into_iter()
        .find(|n| n.node == node && n.role != "repository")
        .ok_or_else(|| LabError::Invalid(format!("lab {} has no node {node}", opts.name)))
}

pub fn stop(opts: &LabOpts, node: &str) -> Result<(), LabError> {
    let n = find_node(opts, node)?;
    docker(
        &format!("node {node}: stopping"),
        &["stop", "--time", "20", &n.container],
    )?;
    Ok(())
}

pub fn start(opts: &LabOpts, node: &str) -> Result<(), LabError> {
    let n = find_node(opts, node)?;
    docker(&format!("node {node}: starting"), &["start", &n.container])?;
    let spec = NodeSpec {
        name: n.node.clone(),
        role: match n.role.as_str() {
            "control-plane" => Role::ControlPlane,
            "load-balancer" => Role::LoadBalancer,
            _ => Role::Worker,
        },
        address: n.address.parse().map_err(|_| {
            LabError::Invalid(format!("node {node}: bad address label {:?}", n.address))
        })?,
    };
    let state = absolute(&opts.dir)?.join("state");
    let key = ensure_ssh_key(&state, &opts.name)?;
    wait_node(opts, &spec, &key, Duration::from_secs(300))?;
    Ok(())
}

pub fn cut(opts: &LabOpts, node: &str) -> Result<(), LabError> {
    let n = find_node(opts, node)?;
    docker(
        &format!("node {node}: disconnecting from the lab network"),
        &["network", "disconnect", &opts.name, &n.container],
    )?;
    Ok(())
}

pub fn heal(opts: &LabOpts, node: &str) -> Result<(), LabError> {
    let n = find_node(opts, node)?;
    docker(
        &format!("node {node}: reconnecting to the lab network"),
        &[
            "network",
            "connect",
            &format!("--ip={}", n.address),
            &format!("--alias={node}"),
            &opts.name,
            &n.container,
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_missing_from_bounding_set() {
        let cases: &[(u64, &[&str])] = &[
            (u64::MAX, &[]),
            // This project's sandboxed machines: everything but CAP_SYS_RESOURCE.
            (0x1fffeffffff, &["SYS_RESOURCE"]),
            (0x3ffeffffff & !1, &["CHOWN", "SYS_RESOURCE"]),
        ];
        for (mask, want) in cases {
            assert_eq!(missing_caps(*mask), *want, "{mask:#x}");
        }
    }

    #[test]
    fn kubernetes_minor() {
        for (v, want) in [
            ("1.33.4", Some("v1.33")),
            ("v1.34.0", Some("v1.34")),
            ("1.33", None),
            ("1.x.4", None),
            ("", None),
        ] {
            assert_eq!(minor_of(v).ok().as_deref(), want, "{v:?}");
        }
    }

    #[test]
    fn names() {
        for (name, ok) in [
            ("otp-lab", true),
            ("t1", true),
            ("", false),
            ("1lab", false),
            ("Lab", false),
            ("a b", false),
            ("a/b", false),
        ] {
            assert_eq!(validate_name(name).is_ok(), ok, "{name:?}");
        }
    }

    #[test]
    fn node_order() {
        let mut v = [
            ("worker", "w10"),
            ("repository", "repo"),
            ("worker", "w2"),
            ("load-balancer", "lb1"),
            ("control-plane", "cp1"),
        ];
        v.sort_by_key(|(r, n)| sort_key(r, n));
        let names: Vec<_> = v.iter().map(|(_, n)| *n).collect();
        assert_eq!(names, ["cp1", "w2", "w10", "lb1", "repo"]);
    }

    #[test]
    fn table() {
        let t = status_table(&[NodeStatus {
            node: "cp1".into(),
            role: "control-plane".into(),
            address: "172.30.7.10".into(),
            state: "running".into(),
            container: "otp-lab-cp1".into(),
        }]);
        insta::assert_snapshot!(t);
    }
}
