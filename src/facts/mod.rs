//! Facts: one remote script per host per gather, parsed by pure functions.
//! CONTRACT: [`Facts`], [`FactRequest`], [`gather`]. Engine helper owns this folder.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::ssh::{Connection, SshError};

/// What to look at beyond the fixed set (files whose sha256 the planner needs, packages,
/// services and sysctls the playbooks manage). Built by the planner before gathering.
#[derive(Debug, Clone, Default)]
pub struct FactRequest {
    pub files: BTreeSet<String>,
    pub packages: BTreeSet<String>,
    pub services: BTreeSet<String>,
    pub sysctls: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Facts {
    pub hostname: String,
    pub os: OsRelease,
    pub kernel: String,
    pub arch: String,
    pub cpus: u32,
    pub mem_total_kib: u64,
    pub swap_active: bool,
    pub modules: BTreeSet<String>,
    pub sysctls: BTreeMap<String, String>,
    pub packages: BTreeMap<String, Package>,
    pub services: BTreeMap<String, Service>,
    pub files: BTreeMap<String, FileFact>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct OsRelease {
    pub id: String,
    pub id_like: String,
    pub version_id: String,
    pub codename: String,
    pub pretty_name: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Package {
    pub version: String,
    pub held: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Service {
    /// `active`, `inactive`, `failed`, ...
    pub active: String,
    /// `enabled`, `disabled`, `masked`, `not-found`, ...
    pub enabled: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FileFact {
    pub sha256: String,
    /// Octal mode, e.g. `644`.
    pub mode: String,
    pub owner: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("{host}: facts script failed (exit {code:?}): {stderr}")]
    Script {
        host: String,
        code: Option<u32>,
        stderr: String,
    },
    #[error("{host}: cannot parse facts: {reason}")]
    Parse { host: String, reason: String },
}

/// Run the facts script once on `conn` and parse it. STUB.
pub async fn gather(conn: &Connection, req: &FactRequest) -> Result<Facts, FactsError> {
    let _ = req;
    Err(FactsError::Parse {
        host: conn.host().to_string(),
        reason: "facts not implemented yet".into(),
    })
}
