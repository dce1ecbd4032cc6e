#!/usr/bin/env bash
# Creates or updates <repo>/.venv with the pinned Python tools of scripts/python-requirements.txt
# (cfn-lint, moto[server], checkov). Idempotent: when the venv already matches the requirements
# file it returns in milliseconds. Safe to run from several processes at once (tests run in parallel):
# installs are serialised with flock, and each waiter re-checks after getting the lock.
#
# Environment:
#   CE_VENV       venv directory (default: <repo>/.venv)
#   PYTHON        interpreter that creates the venv (default: python3)
#   PIP_CACHE_DIR pip's download cache, as pip reads it (CI keeps it outside the clone)
# Progress goes to stderr; stdout stays empty.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${CE_VENV:-$repo/.venv}
requirements=$repo/scripts/python-requirements.txt
stamp=$venv/.ce-requirements.stamp
python=${PYTHON:-python3}

say() { printf 'python-tools: %s\n' "$*" >&2; }
die() { printf 'python-tools: error: %s\n' "$*" >&2; exit 1; }

[[ -r $requirements ]] || die "cannot read $requirements"

# What the venv must have been built from: the requirements and the interpreter's version.
wanted_stamp() {
    local digest
    digest=$(sha256sum "$requirements" | cut -d' ' -f1)
    printf '%s %s\n' "$digest" "$("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo none)"
}

up_to_date() {
    [[ -x $venv/bin/python && -x $venv/bin/cfn-lint && -x $venv/bin/moto_server && -x $venv/bin/checkov && -f $stamp ]] &&
        [[ $(cat "$stamp") == "$(wanted_stamp)" ]]
}

# Fast path, no lock: nothing to do.
if up_to_date; then
    exit 0
fi

command -v flock >/dev/null || die "flock not found (Debian: apt-get install util-linux)"
command -v sha256sum >/dev/null || die "sha256sum not found (Debian: apt-get install coreutils)"

# The lock lives outside the venv so that recreating the venv cannot delete it under a waiter.
lock=${TMPDIR:-/tmp}/ce-infra-venv.$(printf '%s' "$venv" | sha256sum | cut -c1-16).lock
exec 9>"$lock"
if ! flock -n 9; then
    say "another process is installing into $venv; waiting"
    flock 9
fi

# Someone else may have finished the job while we waited.
if up_to_date; then
    exit 0
fi

command -v "$python" >/dev/null ||
    die "$python not found; install Python 3.9 or newer (Debian: apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
    die "$python is $("$python" --version 2>&1); cfn-lint and moto need Python 3.9 or newer"
"$python" -c 'import venv, ensurepip' 2>/dev/null ||
    die "$python cannot create virtual environments (module venv/ensurepip missing; Debian: apt-get install python3-venv)"

if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    # A venv whose interpreter is gone (Python upgraded or removed) cannot be repaired in place.
    if [[ -e $venv ]]; then
        say "recreating $venv (its interpreter no longer runs)"
    else
        say "creating $venv"
    fi
    "$python" -m venv --clear "$venv" >&2 || die "'$python -m venv $venv' failed"
fi
"$venv/bin/python" -m pip --version >/dev/null 2>&1 ||
    die "pip is missing from $venv (Debian: apt-get install python3-pip python3-venv; then delete $venv)"

say "installing $(grep -cvE '^\s*(#|$)' "$requirements") pinned packages from $requirements (from PyPI, this takes a minute the first time)"
rm -f "$stamp"
"$venv/bin/python" -m pip install \
    --disable-pip-version-check --no-input --require-virtualenv --quiet \
    --requirement "$requirements" >&2 ||
    die "pip install failed (see above); is PyPI reachable?"

for tool in cfn-lint moto_server checkov; do
    [[ -x $venv/bin/$tool ]] || die "$venv/bin/$tool missing after install"
done
wanted_stamp >"$stamp"
say "ready: $("$venv/bin/cfn-lint" --version 2>&1), moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)'), checkov $("$venv/bin/checkov" --version 2>&1)"
