use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = otp_provision::cli::Cli::parse();
    ExitCode::from(otp_provision::commands::run(cli))
}
