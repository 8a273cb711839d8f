//! Configuration: one TOML file, validated as a whole.
pub mod expand;
