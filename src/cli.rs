//! Command line (clap derive). STUB.
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "otp-provision", version, about)]
pub struct Cli {}
