//! Generates the gRPC code from `nexus.proto` with a vendored protoc, so a fresh machine needs nothing
//! installed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; the variable is read by tonic-prost-build below.
    unsafe { std::env::set_var("PROTOC", protoc) };
    println!("cargo:rerun-if-changed=nexus.proto");
    tonic_prost_build::configure().compile_protos(&["nexus.proto"], &["."])?;
    Ok(())
}
