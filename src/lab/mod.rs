//! `otp-provision lab`: a multi-node lab of systemd containers. STUB (lab helper).

use clap::Subcommand;

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
    },
    /// List nodes, addresses and state.
    Status,
    /// Remove everything the lab created, and nothing else.
    Down,
}

/// Run a lab command. `json` selects machine-readable output for `status`.
pub fn run(cmd: LabCommand, json: bool) -> anyhow::Result<()> {
    let _ = (cmd, json);
    anyhow::bail!("lab not implemented yet")
}
