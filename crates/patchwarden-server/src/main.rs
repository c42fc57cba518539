//! `patchwarden`: server and admin CLI in one binary.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    patchwarden_server::cli::main()
}
