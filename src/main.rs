//! `ce`: see the library crate for everything; this maps its outcome to an exit code.

fn main() -> std::process::ExitCode {
    ce_infra::main()
}
