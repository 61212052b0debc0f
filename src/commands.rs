//! Command implementations: thin glue from the CLI to the engine. STUB.
use crate::cli::{Cli, Command, OutputFormat};

pub fn run(cli: Cli) -> u8 {
    match cli.command {
        // Wired by the lab helper so `otp-provision lab ...` works before the rest lands.
        Command::Lab { cmd } => match crate::lab::run(cmd, cli.global.output == OutputFormat::Json)
        {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        },
        _ => 0,
    }
}
