//! `patchwarden`: server and admin CLI in one binary.

#![forbid(unsafe_code)]

/// mimalloc, not glibc's allocator: a report allocates and frees its ~100 KB body, its
/// parsed lines and findings on every worker thread, and glibc's bins spent about a
/// tenth of the server's time there (ARCHITECTURE.md, "Dependencies").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    patchwarden_server::cli::main()
}
