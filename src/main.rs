use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    payforms::cli::run(payforms::cli::Cli::parse())
}
