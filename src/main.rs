//! The `inlet` binary: the built-in services and the whole CLI.

/// mimalloc rather than glibc's allocator: a request allocates a few dozen small blocks
/// (headers, strings, futures) and frees them on another path, which glibc's allocator
/// handles at several times the cost (ARCHITECTURE.md, "mimalloc in the binaries").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    inlet::App::new().main()
}
