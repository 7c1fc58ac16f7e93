use std::process::ExitCode;

use clap::Parser;

/// A page render allocates and frees many small JSON maps, often on
/// different threads; glibc's malloc spent a quarter of a render there
/// (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    payforms::cli::run(payforms::cli::Cli::parse())
}
