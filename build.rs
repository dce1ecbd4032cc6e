//! Compiles the user-data header template, and links the `ce` binary for start-up time and
//! resident memory: position-dependent, with the offline commands' code laid out together, and
//! its unwinder and (when glibc's static archives are installed) its C library linked in. The
//! link is set up only on GNU/Linux and, for the unwinder and the C library, only when building
//! for the host (their archives are asked of the host's C compiler).
//!
//! **The user-data header.** `templates/user-data.sh.hbs` is fixed when `ce` is built, yet
//! compiling it with handlebars (a pest parser, about 1,400 instructions per byte of template)
//! was a tenth of every `ce render`. handlebars compiles it here instead, and the result is
//! written to `OUT_DIR/user_data_header.rs` as its pieces in order: text as handlebars would
//! write it (standalone lines and whitespace control already applied), and the names of the
//! values between. `src/architecture/user_data.rs` fills the names in, strictly: a name with no
//! value fails the render, as in handlebars' strict mode. Only plain `{{name}}` expressions (and
//! comments) are accepted; a helper, block or partial fails the build with the line it is on,
//! since only handlebars itself can render those. A test holds the result to handlebars' own
//! rendering of the template for every env.
//!
//! **Position-dependent.** A position-independent `ce` carries about 50,000 relative
//! relocations (the AWS SDK's vtables and string tables, mostly) that the dynamic loader
//! applies at every start, writing to and so faulting in every page that holds one, before
//! `main` runs: about as long as `ce render --all` takes for its own work, and a few MiB of
//! resident memory. Linked at a fixed address, the linker resolves them once and the pages stay
//! clean, shared and untouched until used. The code itself is unchanged (rustc still compiles
//! it position-independent), so this changes only the link of the binary: no rebuild of
//! dependencies, and no other target is affected. The cost is that the executable's own image
//! is not randomised by ASLR (its heap and stacks still are, and in a dynamic build the
//! libraries it loads).
//!
//! **Symbol order.** The code `render`, `validate`, `--version` and `--help` run is a few
//! hundred KiB spread through 20 MB of (mostly AWS SDK) code, and every page fault on the
//! binary maps the 64 KiB around it, so those commands' resident memory and page faults follow
//! how scattered their code is rather than how much of it runs. `ce.order`, written by
//! `benches/order-file.sh`, lists the functions (and the data they refer to) those commands use,
//! in the order they first need them; the linker places those sections first (rustc emits one
//! section per function). Names it does not find, from a file older than the code, are skipped
//! without a warning: a stale file costs locality, never the build. Without the file the link
//! is the default one.
//!
//! **Unwinder linked in.** Rust's standard library unwinds panics through libgcc's unwinder,
//! which it links as the shared `libgcc_s`: one more library for the loader to find, map and
//! relocate at every start, and an initialiser that probes the CPU (`cpuid`, which traps to the
//! hypervisor on a virtual machine). `ce` links the same unwinder from GCC's static
//! `libgcc_eh.a` instead (whole, so its definitions take precedence), and the linker, which only
//! records libraries that are used, then drops `libgcc_s`. Panics, backtraces and unwinding
//! behave as before. (When the C library is linked in too, below, the unwinder comes in the
//! same way as the C library, from the archive, and is not forced in whole.)
//!
//! **C library linked in.** Even with no relocation to apply, a dynamically linked `ce` starts
//! by running the loader (mapping `libc` and `libm`, looking up the symbols `ce` imports), and
//! every call into glibc (`malloc`, `free`, `memcpy`: thousands in a render) goes through the
//! PLT: measured on a release build, at best, `ce --version` 0.80 → 0.55 ms and `render --all`
//! up to date 2.2 → 1.85 ms when glibc is linked in. `-C target-feature=+crt-static` is how
//! Rust asks for that, but it is a compiler flag for every crate, which cargo cannot set for one
//! binary, and with it proc-macro crates fail to build unless `--target` is given. What the
//! flag changes for `ce` is the link: rustc passes `-static-pie` (or `-static`), and the
//! standard library's link attributes name the static archives instead of the shared
//! libraries. `ce` gets that link from the linker's side: `-static` (with `-no-pie`, as above),
//! and a directory searched first in which each library the standard library names (`-lgcc_s
//! -lutil -lrt -lpthread -lm -ldl -lc`) is a linker script naming the static archive, the way
//! glibc's own `libc.so` is a script naming `libc.so.6`. A library without such a script (a
//! dependency's own `#[link]`) would still be found as a shared object and linked into a
//! program with no loader to load it, which crashes at once: `CE_LINKED` tells the tests which
//! link was chosen, and `tests/cli.rs` checks that a static `ce` needs no shared library and
//! starts. Linked when the C compiler has glibc's static archives (`libc6-dev` on Debian and
//! Ubuntu, which any link there needs; `glibc-static` on Fedora), with a warning when it has
//! not; `CE_LINK=dynamic` keeps the shared library, and `CE_LINK=static` fails the build when
//! the archives are missing. What it costs: glibc's fixes reach `ce` when it is rebuilt, not
//! when the system's glibc is updated; glibc in a static program still loads, for name services
//! other than `files` and `dns` (`/etc/nsswitch.conf`'s `mdns`, `systemd`, `sss`…), that
//! service's shared library, which must then come from the glibc version `ce` was linked with;
//! and glibc's code, like `ce`'s, is not placed at a random address, so all of the program's
//! code (system call wrappers included) sits at addresses known in advance: where that matters
//! more than start-up time, build with `CE_LINK=dynamic`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    compile_user_data_header();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=ce.order");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=CE_LINK");
    let linked = match link() {
        Linked::Static => "static",
        Linked::Dynamic => "dynamic",
    };
    // For `tests/cli.rs`, which checks the binary against it.
    println!("cargo:rustc-env=CE_LINKED={linked}");
}

/// How `ce` links the C library.
#[derive(Clone, Copy, PartialEq)]
enum Linked {
    Static,
    Dynamic,
}

/// Sets up the link of the `ce` binary (see the module documentation); returns how it links
/// the C library.
fn link() -> Linked {
    let choice = match std::env::var_os("CE_LINK") {
        None => None,
        Some(value) if value == "static" => Some(Linked::Static),
        Some(value) if value == "dynamic" => Some(Linked::Dynamic),
        Some(value) => panic!("CE_LINK={value:?}: use static or dynamic, or leave it unset"),
    };
    // Built with `-C target-feature=+crt-static` (which needs `--target`; musl targets have it
    // by default), rustc links the C library and the unwinder statically itself, and chooses
    // static-pie unless the relocation model is static: adding `-no-pie` to a static-pie link
    // makes a binary that crashes at once.
    let crt_static = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .unwrap_or_default()
        .split(',')
        .any(|f| f == "crt-static");
    let crt_linked = if crt_static {
        Linked::Static
    } else {
        Linked::Dynamic
    };
    // The GNU toolchain on Linux, as the project is built and tested; elsewhere the default link.
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if crt_static && choice == Some(Linked::Dynamic) {
        println!(
            "cargo:warning=CE_LINK=dynamic is ignored: this build is `+crt-static`, which links \
             the C library statically"
        );
    }
    if target_os != "linux" || target_env != "gnu" {
        if choice == Some(Linked::Static) && !crt_static {
            panic!(
                "CE_LINK=static links glibc's archives, on GNU/Linux only; for this target, \
                 build with `-C target-feature=+crt-static` where it supports that"
            );
        }
        return crt_linked;
    }
    if !crt_static {
        println!("cargo:rustc-link-arg-bin=ce=-no-pie");
    }
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let order = Path::new(&manifest_dir).join("ce.order");
    // In a debug build the names (their hashes) do not match and the file changes nothing.
    // The linker reads a copy in OUT_DIR: cargo keeps this script's output for every checkout
    // that shares the target directory, so a path into the checkout it ran in would name a
    // file another checkout may have deleted.
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if order.is_file() && links_with_lld() {
        let copy = out_dir.join("ce.order");
        std::fs::copy(&order, &copy).expect("copying ce.order into OUT_DIR");
        println!(
            "cargo:rustc-link-arg-bin=ce=-Wl,--symbol-ordering-file={}",
            copy.display()
        );
        println!("cargo:rustc-link-arg-bin=ce=-Wl,--no-warn-symbol-ordering");
    }
    if crt_static {
        return crt_linked;
    }
    // The archives are asked of `$CC` or `cc`, which is the host's compiler: when building for
    // another target, its files are not that target's, and the default link is kept.
    let target = std::env::var("TARGET").unwrap_or_default();
    if std::env::var("HOST").ok().as_deref() != Some(target.as_str()) {
        if choice == Some(Linked::Static) {
            panic!(
                "CE_LINK=static takes glibc's archives from the host's C compiler, so it is for \
                 builds for the host only (this one is for {target}); for another target, \
                 build with `--target {target}` and `-C target-feature=+crt-static`"
            );
        }
        return Linked::Dynamic;
    }
    let libgcc_eh = c_compiler_file("libgcc_eh.a");
    let static_libs = match choice {
        Some(Linked::Dynamic) => None,
        _ => match libgcc_eh
            .clone()
            .and_then(|libgcc_eh| static_c_library(&out_dir.join("static-libs"), libgcc_eh))
        {
            Ok(dir) => Some(dir),
            Err(reason) if choice == Some(Linked::Static) => panic!("CE_LINK=static: {reason}"),
            Err(reason) => {
                println!(
                    "cargo:warning=ce is linked against the shared C library, which costs \
                     it about a quarter of a millisecond at every start: {reason}. Once that \
                     is fixed, `cargo clean -p ce-infra` links it statically; CE_LINK=dynamic \
                     chooses this link and silences this warning."
                );
                None
            }
        },
    };
    if let Some(dir) = static_libs {
        println!("cargo:rustc-link-arg-bin=ce=-static");
        println!("cargo:rustc-link-arg-bin=ce=-L{}", dir.display());
        return Linked::Static;
    }
    if let Ok(libgcc_eh) = libgcc_eh {
        println!(
            "cargo:rustc-link-arg-bin=ce=-Wl,--push-state,--whole-archive,{},--pop-state",
            libgcc_eh.display()
        );
    }
    Linked::Dynamic
}

/// The libraries the standard library asks the linker for by name, as shared libraries
/// (`-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc`, after `-Bdynamic`), and the static archives
/// that take their place: the directory returned holds, under each of those names, a linker
/// script naming the archives, the way glibc's own `libc.so` is a script naming `libc.so.6`.
/// Searched before the system's directories, it links the archives
/// `-C target-feature=+crt-static` would (the standard library's link attributes name them
/// under that feature), for this binary only and without rebuilding anything. Err says why
/// not (the first archive the C compiler does not have, or could not be asked for).
fn static_c_library(dir: &Path, libgcc_eh: PathBuf) -> Result<PathBuf, String> {
    let libgcc = c_compiler_file("libgcc.a")?;
    let libc = c_compiler_file("libc.a")?;
    // libc and libgcc refer to each other (and to the unwinder, for thread cancellation), so
    // they are searched as a group until nothing new is found.
    let mut scripts = vec![
        ("c", vec![libc, libgcc.clone(), libgcc_eh.clone()]),
        ("gcc_s", vec![libgcc_eh, libgcc]),
    ];
    // Since glibc 2.34 these are empty archives kept for old link lines; before, they held
    // their functions.
    for name in ["m", "util", "rt", "pthread", "dl"] {
        scripts.push((name, vec![c_compiler_file(&format!("lib{name}.a"))?]));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for (name, archives) in scripts {
        let mut list = Vec::new();
        for archive in archives {
            let path = archive.display().to_string();
            if path.contains('"') {
                return Err(format!("{path} has a quote in its name"));
            }
            // A new compiler or C library rewrites the scripts.
            println!("cargo:rerun-if-changed={path}");
            list.push(format!("\"{path}\""));
        }
        let script = format!("GROUP ( {} )\n", list.join(" "));
        let path = dir.join(format!("lib{name}.so"));
        std::fs::write(&path, script).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(dir.to_owned())
}

/// Compiles `templates/user-data.sh.hbs` into `OUT_DIR/user_data_header.rs`: a Rust array of
/// `Piece::Text(..)` and `Piece::Value(..)` (see the module documentation).
fn compile_user_data_header() {
    use handlebars::template::{Parameter, Template, TemplateElement};
    use handlebars::{Path as ValuePath, PathSeg};

    const SOURCE: &str = "templates/user-data.sh.hbs";
    println!("cargo:rerun-if-changed={SOURCE}");
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(Path::new(&manifest_dir).join(SOURCE))
        .unwrap_or_else(|e| panic!("reading {SOURCE}: {e}"));
    let template = Template::compile_with_name(&text, SOURCE.to_owned())
        .unwrap_or_else(|e| panic!("{SOURCE} does not compile: {e}"));
    let mut pieces = String::from("&[\n");
    for (n, element) in template.elements.iter().enumerate() {
        let line = template.mapping.get(n).map_or(0, |m| m.0);
        let name = match element {
            TemplateElement::RawString(text) => {
                pieces.push_str(&format!("    Piece::Text({text:?}),\n"));
                continue;
            }
            TemplateElement::Comment(_) => continue,
            TemplateElement::Expression(expr) | TemplateElement::HtmlExpression(expr)
                if !expr.block && expr.params.is_empty() && expr.hash.is_empty() =>
            {
                match &expr.name {
                    Parameter::Name(name) => Some(name.clone()),
                    Parameter::Path(ValuePath::Relative((segments, _))) => match &segments[..] {
                        [PathSeg::Named(name)] => Some(name.clone()),
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(name) = name else {
            panic!(
                "{SOURCE}:{line}: only plain {{{{name}}}} expressions can be compiled when ce is \
                 built (found {element:?})"
            );
        };
        // A name that is also a helper's (`len`, `lookup`…) would call the helper in
        // handlebars: ask handlebars what `{{name}}` renders to with the name given a value.
        let mut probe = handlebars::Handlebars::new();
        probe.register_escape_fn(handlebars::no_escape);
        let value = std::collections::BTreeMap::from([(name.clone(), "\u{1}value")]);
        let rendered = probe.render_template(&format!("{{{{{name}}}}}"), &value);
        if rendered.as_deref().ok() != Some("\u{1}value") {
            panic!(
                "{SOURCE}:{line}: {{{{{name}}}}} is not a plain value to handlebars (a helper has \
                 that name); rename the value"
            );
        }
        pieces.push_str(&format!("    Piece::Value({name:?}),\n"));
    }
    pieces.push_str("]\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("user_data_header.rs"), pieces)
        .expect("writing user_data_header.rs into OUT_DIR");
}

/// A file of the C compiler that drives the link (`libgcc_eh.a`, `libc.a`…), as it finds it;
/// Err says why there is none.
fn c_compiler_file(name: &str) -> Result<PathBuf, String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let output = Command::new(&cc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .map_err(|e| format!("could not run the C compiler `{cc}` to find {name}: {e}"))?;
    // An unknown file is echoed back as its bare name.
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if output.status.success() && path.is_absolute() && path.is_file() {
        return Ok(path);
    }
    let install = if name.starts_with("libgcc") {
        "GCC's own libraries, which come with GCC: libgcc-<version>-dev on Debian and Ubuntu"
    } else {
        "glibc's static libraries: libc6-dev on Debian and Ubuntu, glibc-static on Fedora"
    };
    Err(format!("the C compiler `{cc}` has no {name} ({install})"))
}

/// Whether rustc links with LLD: its default on x86_64 GNU/Linux since Rust 1.90, unless the
/// flags choose another linker. The ordering option is LLD's; GNU ld would reject it.
fn links_with_lld() -> bool {
    if std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return false;
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if [
        "linker-features",
        "link-self-contained",
        "linker-flavor",
        "fuse-ld",
    ]
    .iter()
    .any(|f| flags.contains(f))
    {
        return flags.contains("fuse-ld=lld") || flags.contains("linker-features=+lld");
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // "rustc 1.95.0 (...)": the minor version.
    version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|minor| minor.parse::<u32>().ok())
        .is_some_and(|minor| minor >= 90)
}
