//! The `inlet` binary: the built-in services and the whole CLI.

fn main() -> std::process::ExitCode {
    inlet::App::new().main()
}
