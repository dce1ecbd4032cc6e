//! Links the `ce` binary as a position-dependent executable, for start-up time.
//!
//! A position-independent `ce` carries about 50,000 relative relocations (the AWS SDK's vtables
//! and string tables, mostly) that the dynamic loader applies at every start, writing to and so
//! faulting in every page that holds one, before `main` runs: about as long as `ce render --all`
//! takes for its own work, and a few MiB of resident memory. Linked at a fixed address, the
//! linker resolves them once and the pages stay clean, shared and untouched until used. The
//! code itself is unchanged (rustc still compiles it position-independent), so this changes
//! only the link of the binary: no rebuild of dependencies, and no other target is affected.
//! The cost is that the executable's own image is not randomised by ASLR (the libraries it
//! loads, its heap and stacks still are).

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    // The GNU toolchain on Linux, as the project is built and tested; elsewhere the default link.
    if target_os == "linux" && target_env == "gnu" {
        println!("cargo:rustc-link-arg-bin=ce=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
