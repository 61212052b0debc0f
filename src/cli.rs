//! Command line (clap derive). Kept apart from the validated configuration it leads to.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "otp-provision",
    version,
    about = "Provision highly available Kubernetes clusters on your own servers over SSH",
    after_help = "Exit codes: 0 ok; 1 the run failed; 2 invalid input \
                  (with plan --detailed-exitcode: 0 nothing to do, 2 changes pending, 1 error); \
                  75 a host's lock stayed held by another otp-provision command (retry later)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Inventory file.
    #[arg(
        short,
        long,
        global = true,
        env = "OTP_INVENTORY",
        default_value = "inventory/cluster.toml"
    )]
    pub inventory: PathBuf,
    /// More detail (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the final summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Do not ask for confirmation before changing hosts.
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Only these hosts (comma separated names; may be repeated).
    #[arg(long, global = true, value_delimiter = ',')]
    pub limit: Vec<String>,
    /// Directory whose playbooks/*.toml override the embedded ones.
    #[arg(long, global = true, env = "OTP_PLAYBOOKS")]
    pub playbooks: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the inventory offline (no SSH).
    Check,
    /// Gather and print facts from every host (one round trip per host).
    Facts,
    /// Show what `up` would change, and why, without changing anything.
    Plan {
        /// Exit 0 when nothing is to do, 2 when changes are pending, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Bring the cluster to the state the inventory describes.
    Up,
    /// Drain a node (honouring PodDisruptionBudgets), delete it, remove its etcd member, reset it.
    RemoveNode {
        /// Inventory name of the host to remove.
        name: String,
        /// Allow removing the last control plane or breaking etcd quorum.
        #[arg(long)]
        force: bool,
    },
    /// Tear the whole cluster down (kubeadm reset on every host). Requires --yes.
    Reset,
    /// Write every file otp-provision would put on a node or apply to the cluster, without SSH.
    Render {
        /// Output directory.
        #[arg(long, default_value = "rendered")]
        out: PathBuf,
    },
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Collect journal entries and log files from the hosts, parsed and merged in time order.
    Logs(crate::logs::LogsArgs),
    /// Manage the local container lab.
    Lab {
        #[command(subcommand)]
        cmd: crate::lab::LabCommand,
    },
}
