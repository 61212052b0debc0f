//! Fixtures shared by integration tests.

pub mod lab;
pub mod sshd;
