//! The library behind the `nexus` command: building apps, encoding call arguments, local state files.
//! Kept as a library so that cross-part tests drive exactly what the command does.

pub mod app_build;
pub mod args;
pub mod keys;
pub mod network;
pub mod receipt_file;
pub mod scaffold;
pub mod state_file;
