//! Command implementations: thin glue from the CLI to the engine. Errors become exit codes here.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, Command, Global};
use crate::exit;
use crate::inventory::{self, Inventory, Role};
use crate::report::Reporter;

/// An error that already carries its exit code (invalid input vs. failed run).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> anyhow::Error {
    Exit {
        code: exit::INVALID,
        message: message.into(),
    }
    .into()
}

pub fn run(cli: Cli) -> u8 {
    init_tracing(cli.global.verbose, cli.global.quiet);
    let rep = Reporter::new(cli.global.output, cli.global.quiet, cli.global.verbose);
    match dispatch(cli, &rep) {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .downcast_ref::<Exit>()
                .map(|x| x.code)
                .unwrap_or(exit::FAILED);
            if e.downcast_ref::<Exit>()
                .is_some_and(|x| x.message.is_empty())
            {
                return code;
            }
            if rep.json() {
                rep.json_doc(&serde_json::json!({ "ok": false, "error": format!("{e:#}") }));
            }
            rep.error(format!("{e:#}"));
            code
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "otp_provision=debug,warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("OTP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 1)
        .without_time()
        .try_init();
}

fn dispatch(cli: Cli, rep: &Reporter) -> anyhow::Result<u8> {
    let global = &cli.global;
    match cli.command {
        Command::Check => check(global, rep),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "otp-provision", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Lab { cmd } => {
            crate::lab::run(cmd, rep.json())?;
            Ok(exit::OK)
        }
        Command::Facts => engine::facts(global, rep),
        Command::Plan { detailed_exitcode } => engine::plan(global, rep, detailed_exitcode),
        Command::Up => engine::up(global, rep),
        Command::Render { out } => engine::render(global, rep, &out),
        Command::Logs(args) => {
            let inv = load_inventory(global, rep)?;
            crate::logs::run_blocking(&inv, &global.limit, &args, rep.json(), rep)
        }
    }
}

/// Load and validate the inventory, printing warnings; invalid input maps to exit code 2.
pub fn load_inventory(global: &Global, rep: &Reporter) -> anyhow::Result<Inventory> {
    let loaded = inventory::load(&global.inventory).map_err(|e| invalid(e.to_string()))?;
    for w in &loaded.warnings {
        rep.warn(w.to_string());
    }
    let inv = loaded.inventory;
    for name in &global.limit {
        if inv.host(name).is_none() {
            return Err(invalid(format!(
                "--limit names host {name:?}, which is not in {} (hosts: {})",
                global.inventory.display(),
                inv.hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(inv)
}

fn check(global: &Global, rep: &Reporter) -> anyhow::Result<u8> {
    let loaded = inventory::load(&global.inventory).map_err(|e| invalid(e.to_string()))?;
    for w in &loaded.warnings {
        rep.warn(w.to_string());
    }
    let inv = &loaded.inventory;
    let count = |r: Role| inv.hosts.iter().filter(|h| h.has_role(r)).count();
    if rep.json() {
        rep.json_doc(&serde_json::json!({
            "ok": true,
            "inventory": path_str(&global.inventory),
            "cluster": inv.cluster.name,
            "kubernetes_version": inv.cluster.kubernetes_version,
            "hosts": inv.hosts.len(),
            "control_planes": count(Role::ControlPlane),
            "workers": count(Role::Worker),
            "load_balancers": count(Role::LoadBalancer),
            "warnings": loaded.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        }));
    } else {
        rep.out(format!(
            "{}: ok: cluster {} (Kubernetes {}), {} hosts: {} control planes, {} workers, {} load balancers{}",
            global.inventory.display(),
            inv.cluster.name,
            inv.cluster.kubernetes_version,
            inv.hosts.len(),
            count(Role::ControlPlane),
            count(Role::Worker),
            count(Role::LoadBalancer),
            if loaded.warnings.is_empty() {
                String::new()
            } else {
                format!(", {} warning(s)", loaded.warnings.len())
            }
        ));
    }
    Ok(exit::OK)
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The SSH-driven commands. Filled in as the engine lands.
mod engine {
    use super::*;

    pub fn facts(global: &Global, rep: &Reporter) -> anyhow::Result<u8> {
        let _inv = load_inventory(global, rep)?;
        anyhow::bail!("facts: engine not wired yet")
    }
    pub fn plan(global: &Global, rep: &Reporter, _detailed: bool) -> anyhow::Result<u8> {
        let _inv = load_inventory(global, rep)?;
        anyhow::bail!("plan: engine not wired yet")
    }
    pub fn up(global: &Global, rep: &Reporter) -> anyhow::Result<u8> {
        let _inv = load_inventory(global, rep)?;
        anyhow::bail!("up: engine not wired yet")
    }
    pub fn render(global: &Global, rep: &Reporter, out: &Path) -> anyhow::Result<u8> {
        let _inv = load_inventory(global, rep)?;
        let _ = out;
        anyhow::bail!("render: engine not wired yet")
    }
}
