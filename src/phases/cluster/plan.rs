//! planner (wip)
pub struct ClusterStep;
pub enum ClusterAction {}
pub enum StepKind {}
pub fn plan_cluster() {}
