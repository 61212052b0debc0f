//! The one integration-test binary: every test runs the real `otp-provision` binary or talks to
//! real servers (OpenSSH on loopback, lab containers).

mod cli;
mod cluster;
mod engine;
mod lab;
mod logs;
mod ssh;
mod support;
