//! Planners: small pure functions, each turning a decided context into the steps of one concern
//! (tokens, joins, CNI, ...). A cluster operation is an ordered list of them
//! (src/operations); a planner never decides what another one needs, the context does that
//! once ([`super::context`]).

pub mod cleanup;
pub mod cni;
pub mod csr;
pub mod delete_node;
pub mod drain;
pub mod encryption_key;
pub mod etcd_member;
pub mod init;
pub mod join_credentials;
pub mod joins;
pub mod kube_vip;
pub mod kubeconfig;
pub mod labels;
pub mod load_balancers;
pub mod reset_partial;
pub mod restarts;
pub mod security_files;
pub mod stale_objects;
pub mod teardown;
pub mod tokens;

use super::ClusterError;
use crate::inventory::Host;
use crate::plan::{Action, Step, StepKind};
use crate::runtime::{Capture, RuntimeInput};

/// One planner of an operation whose context is `C`.
pub type Planner<C> = fn(&C, &mut Steps) -> Result<(), ClusterError>;

pub use super::waves::*;

/// The steps an operation's planners emit, in order; ids get the operation's prefix.
#[derive(Debug)]
pub struct Steps {
    prefix: &'static str,
    list: Vec<Step>,
}

impl Steps {
    pub fn new(prefix: &'static str) -> Self {
        Steps {
            prefix,
            list: Vec::new(),
        }
    }

    // One argument per field of the step: call sites read like the step they create.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        wave: u32,
        host: &str,
        kind: StepKind,
        id: &str,
        title: String,
        reason: String,
        action: Action,
    ) {
        self.list.push(Step {
            // Every planned cluster step changes something: planners emit only what is to do.
            phase: "cluster".into(),
            change: true,
            id: format!("{}{id}", self.prefix),
            host: host.to_string(),
            kind,
            title,
            reason,
            wave,
            action,
        });
    }

    pub fn into_vec(self) -> Vec<Step> {
        self.list
    }
}

/// Run `planners` in order over `ctx`; the steps keep the order they were emitted in.
pub fn run<C>(
    ctx: &C,
    prefix: &'static str,
    planners: &[(&str, Planner<C>)],
) -> Result<Vec<Step>, ClusterError> {
    let mut steps = Steps::new(prefix);
    for (_, planner) in planners {
        planner(ctx, &mut steps)?;
    }
    Ok(steps.into_vec())
}

pub fn script(script: String, stdin: Vec<RuntimeInput>, capture: Option<Capture>) -> Action {
    Action::Script {
        script,
        stdin,
        capture,
    }
}

pub fn names(hosts: &[&Host]) -> String {
    hosts
        .iter()
        .map(|h| h.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
