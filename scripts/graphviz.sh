#!/usr/bin/env bash
# Makes sure Graphviz's `dot` is on PATH, for the tests that render `ce graph --format dot`.
# Idempotent and quick when it is there. As root on Debian/Ubuntu it installs the graphviz
# package with apt-get (serialised with flock, so parallel tests install it once); anywhere
# else it stops and names the command to run. Progress goes to stderr; stdout stays empty.
set -euo pipefail

say() { printf 'graphviz: %s\n' "$*" >&2; }
die() { printf 'graphviz: error: %s\n' "$*" >&2; exit 1; }

if command -v dot >/dev/null; then
    exit 0
fi
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    die "Graphviz's dot is not installed; install it (Debian: sudo apt-get install -y graphviz)"
fi
command -v flock >/dev/null || die "flock not found (Debian: apt-get install util-linux)"
exec 9>"${TMPDIR:-/tmp}/ce-infra-graphviz.lock"
flock 9
if command -v dot >/dev/null; then
    exit 0
fi
say "installing graphviz with apt-get"
export DEBIAN_FRONTEND=noninteractive
{ apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends graphviz ||
    { apt-get -o DPkg::Lock::Timeout=600 update -q &&
        apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends graphviz; }; } >&2 ||
    die "apt-get install graphviz failed (see above)"
command -v dot >/dev/null || die "dot is still missing after installing graphviz"
say "ready: $(dot -V 2>&1)"
