//! Cluster operations. Each one is an ordered list of small planners
//! (src/phases/cluster/planners) over a context its planners share, decided once from the
//! inventory and the probed cluster state; [`ALL`] is the one registry the commands use.
//!
//! Adding an operation: a file here with its context and its planner list, registered in
//! [`ALL`], and its CLI entry (src/cli.rs). Planners it needs that do not exist yet go to
//! src/phases/cluster/planners/, one concern per file.

pub mod remove_node;
pub mod reset;
pub mod up;

use crate::inventory::Inventory;
use crate::phases::cluster::{ClusterError, ClusterState};
use crate::plan::Step;
use crate::playbook::Playbooks;

/// What the command line asks of an operation beyond the inventory.
pub struct Request<'a> {
    /// The node `remove-node` removes.
    pub node: Option<&'a str>,
    /// `--force`: past the safety refusals of `remove-node`.
    pub force: bool,
    /// The playbooks of this run (`reset` removes the files the endpoint playbook writes).
    pub books: &'a Playbooks,
}

pub struct Operation {
    /// The command, also the journal's name for the run.
    pub name: &'static str,
    /// Destroys state a later `up` cannot bring back: runs only with `--yes`.
    pub needs_yes: bool,
    /// Decide the context, then run the planners in order.
    pub plan: fn(&Inventory, &ClusterState, &Request) -> Result<Vec<Step>, ClusterError>,
}

/// Every cluster operation.
pub const ALL: &[Operation] = &[up::OPERATION, remove_node::OPERATION, reset::OPERATION];

/// The operation `name` runs.
pub fn get(name: &str) -> Option<&'static Operation> {
    ALL.iter().find(|o| o.name == name)
}
