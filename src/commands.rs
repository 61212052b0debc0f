//! Command implementations: thin glue from the CLI to the engine. STUB.
use crate::cli::Cli;

pub fn run(cli: Cli) -> u8 {
    let _ = cli;
    0
}
