# Sourced by the benches: sets `bin` to the `ce` binary to measure, `$CE_BIN` when given, else
# a release build made now. `$1` names the calling script in errors.
# shellcheck shell=bash
release_bin() {
    if [[ -n ${CE_BIN:-} ]]; then
        bin=$CE_BIN
    else
        printf 'building --release...\n' >&2
        cargo build --release --quiet --bin ce
        bin=${CARGO_TARGET_DIR:-$repo/target}/release/ce
    fi
    [[ -x $bin ]] || { printf '%s: no binary at %s\n' "$1" "$bin" >&2; exit 1; }
}
