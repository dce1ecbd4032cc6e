#!/usr/bin/env bash
# Measures the offline commands against DESIGN.md's targets, on a release build:
#   ce render --all     (3 envs x 5 stacks, files written)  <= 3 ms median wall, <= 8 MiB peak RSS
#   ce --version        (start-up alone)                    <= 1 ms median wall
#   ce validate --all                                       well under 0.5 s
# Wall time by hyperfine (median of many runs, no shell in between), peak RSS and page faults by
# GNU time; how the binary is linked (build.rs links it statically when glibc's static libraries
# are installed) and the relocations applied at start: by the loader (LD_DEBUG=statistics) for
# a dynamic binary, by its own start code for a static one.
# The rows that write start each run without the output directory: the run before's output is
# moved aside (a rename), never deleted while they are measured, and those rows make 40 runs a
# round.
# On ext4 without a journal, creating a file first skips every free inode of its group deleted
# in the last one to six minutes (fs/ext4/ialloc.c, `recently_deleted`), so deleting the output
# before each run made every run slower than the one before it. `cp -r` of the same tree is
# measured the same way. Both are measured in $TMPDIR (by default /tmp) and again on tmpfs
# (/dev/shm) when that is another file system.
# Each row is measured in ROUNDS rounds (default 5) interleaved with the other rows, and its
# figures are over all its runs: 40 a round for the writing rows, 100 for the others.
#        ROUNDS=10 benches/render.sh            more rounds
# Usage: benches/render.sh [extra hyperfine flags; not --runs, --min-runs, --max-runs,
#                          --warmup, --prepare, --export-json or --style, which it sets or
#                          which conflict with what it sets]
#        CE_BIN=path/to/ce benches/render.sh   measures that binary instead of building one
#        TMPDIR=/dev/shm benches/render.sh      writes into that file system only
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v readelf >/dev/null || missing+=(binutils)
if ((${#missing[@]})); then
    printf 'benches/render.sh: missing %s; install with: apt-get install -y %s\n' \
        "${missing[*]}" "${missing[*]}" >&2
    exit 1
fi

rounds=${ROUNDS:-5}
if [[ ! $rounds =~ ^[1-9][0-9]*$ ]]; then
    printf 'benches/render.sh: ROUNDS=%s is not a number of rounds (1 or more)\n' "$rounds" >&2
    exit 1
fi

# shellcheck source=benches/release-bin.sh
source "$repo/benches/release-bin.sh"
release_bin benches/render.sh

work=$(mktemp -d)
shm=
trap 'rm -rf "$work" ${shm:+"$shm"}' EXIT
# hyperfine and the fault count below split commands on whitespace.
for path in "$work" "$bin"; do
    if [[ $path == *[[:space:]\'\"]* ]]; then
        printf 'benches/render.sh: %s has a space or a quote; use a plain path (TMPDIR, CE_BIN)\n' \
            "$path" >&2
        exit 1
    fi
done
out=$work/stacks

envs=$(ls envs/*.toml | wc -l)
"$bin" render --all --out "$out" >/dev/null
files=$(find "$out" -name '*.json' | wc -l)
resources=$(python3 -c 'import json, sys; print(sum(len(json.load(open(f)).get("Resources", {})) for f in sys.argv[1:]))' "$out"/*/*.json 2>/dev/null || echo '?')

# The file system type of a path, and a note when it is ext4 without a journal: jbd2 names
# a journal after the kernel's name of its device (`vda-8`, `dm-0-8`), found from the
# device number (findmnt's SOURCE can be a /dev/mapper link or carry a bind mount's path).
# (-r: no padding; a path under several mounts lists each, the visible one last.)
fs_type() {
    local type
    type=$(findmnt -rn -o FSTYPE -T "$1" 2>/dev/null | tail -n 1) || type=
    printf '%s\n' "${type:-?}"
}
fs_notes=()
check_journal() {
    [[ $(fs_type "$1") == ext4 ]] || return 0
    local number device
    number=$(findmnt -rn -o MAJ:MIN -T "$1" | tail -n 1) || return 0
    device=$(basename "$(readlink -f "/sys/dev/block/$number")")
    local journal
    for journal in /proc/fs/jbd2/"$device"-*; do
        [[ -e $journal ]] && return 0
    done
    fs_notes+=("note: $(findmnt -rn -o TARGET -T "$1" | tail -n 1) is ext4 without a journal ($device): creating a file there
skips every inode of its group deleted in the last 1-6 minutes, so the rows writing there
grow with what was deleted on this machine lately (a build, a test run, this script's own
clean-up): run it when nothing was deleted there for six minutes, with CE_BIN set")
}

# Where the writing rows write: $TMPDIR's file system, and tmpfs beside it.
places=("$work")
if command -v findmnt >/dev/null; then
    check_journal "$work"
    if [[ $(fs_type "$work") != tmpfs && -d /dev/shm && $(fs_type /dev/shm) == tmpfs ]]; then
        shm=$(mktemp -d -p /dev/shm)
        places+=("$shm")
    fi
fi

# name | command (run without a shell) | prepare (before each run)
benches=()
for place in "${places[@]}"; do
    where=$(fs_type "$place")
    mkdir "$place/moved"
    [[ -d $place/stacks ]] || "$bin" render --all --out "$place/stacks" >/dev/null
    cp -r "$place/stacks" "$place/copy"
    aside="mv -T --backup=numbered $place/stacks $place/moved/stacks"
    benches+=(
        "render --all (writes ${files} files, $where)|$bin render --all --out $place/stacks|$aside"
        "cp -r of those files ($where)|cp -r $place/copy $place/stacks|$aside"
    )
done
benches+=(
    "render --all (up to date)|$bin render --all --out $out|"
    "render --all --check|$bin render --all --check --out $out|"
    "validate --all|$bin validate --all|"
    "--version|$bin --version|"
    "/bin/true (process start floor)|/bin/true|"
)

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'measuring %d envs, %d files, %d resources on %s cores (load average %s)...\n' \
    "$envs" "$files" "$resources" "$(nproc)" "$load_before" >&2
# The rows are measured in rounds, one after the other within each round, and each row's
# figures are taken from all its rounds' runs together: this virtual machine's speed changes
# from one minute to the next (the host's other guests), and a row measured in one block would
# carry whatever the machine did during its few seconds.
for ((round = 1; round <= rounds; round++)); do
    for index in "${!benches[@]}"; do
        IFS='|' read -r name cmd prepare <<<"${benches[$index]}"
        # A writing row makes 40 runs a round (and 5 warm-ups): every run leaves a tree that
        # is deleted at the end, 225 with the default five rounds.
        args=(--shell=none --warmup 5 --export-json "$work/t.json" --style none "$@")
        if [[ -n $prepare ]]; then
            args+=(--runs 40 --prepare "$prepare")
        else
            args+=(--runs 100)
        fi
        hyperfine "${args[@]}" "$cmd" >/dev/null 2>"$work/hyperfine.err" || {
            cat "$work/hyperfine.err" >&2
            exit 1
        }
        python3 -c 'import json, sys; print(*json.load(open(sys.argv[1]))["results"][0]["times"], sep="\n")' \
            "$work/t.json" >>"$work/times.$index"
    done
done
rows=()
for index in "${!benches[@]}"; do
    IFS='|' read -r name cmd prepare <<<"${benches[$index]}"
    wall=$(python3 -c 'import statistics as s, sys
t = [float(line) * 1000 for line in open(sys.argv[1])]
print("%.2f ms  (mean %.2f ± %.2f, min %.2f)" % (s.median(t), s.mean(t), s.stdev(t), min(t)))' "$work/times.$index")
    # Peak RSS: the largest of several runs, in MiB.
    peak=0
    faults=0
    for _ in 1 2 3 4 5; do
        if [[ -n $prepare ]]; then $prepare; fi
        stats=$(/usr/bin/time -f '%M %R' $cmd 2>&1 >/dev/null | tail -n 1)
        read -r kib minor <<<"$stats"
        if ((kib > peak)); then peak=$kib; faults=$minor; fi
    done
    rss=$(awk -v k="$peak" 'BEGIN { printf "%.1f MiB", k / 1024 }')
    rows+=("$name|$wall|$rss|$faults")
done

printf '\n%-38s %-44s %-10s %s\n' "command" "wall time: median (mean ± σ, min)" "peak RSS" "page faults"
for row in "${rows[@]}"; do
    IFS='|' read -r name wall rss faults <<<"$row"
    printf '%-38s %-44s %-10s %s\n' "$name" "$wall" "$rss" "$faults"
done
if [[ $(readelf -lW "$bin") == *INTERP* ]]; then
    relocations=$(LD_DEBUG=statistics "$bin" --version 2>&1 >/dev/null |
        awk '/number of relative relocations/ { print $NF; exit }')
    printf '\nstart-up: dynamically linked, %s relative relocations applied by the loader; binary %s\n' \
        "${relocations:-0}" "$(readelf -h "$bin" | awk '/Type:/ { print $2 }')"
else
    # A static-pie relocates itself (R_X86_64_RELATIVE); IRELATIVE is glibc choosing its
    # string functions for the CPU.
    relocations=$(readelf -rW "$bin")
    printf '\nstart-up: statically linked, no dynamic loader; its own start code applies %s relative and %s IRELATIVE relocations; binary %s\n' \
        "$(grep -c '_RELATIVE ' <<<"$relocations" || true)" "$(grep -c IRELATIV <<<"$relocations" || true)" \
        "$(readelf -h "$bin" | awk '/Type:/ { print $2 }')"
fi
printf 'targets: render --all <= 3 ms median wall and <= 8 MiB peak RSS; --version <= 1 ms; validate --all well under 500 ms\n'
printf 'ce %s, %s, %s; load average %s before, %s after (other work on the machine inflates\nmedians and means; min is the least disturbed)\n' \
    "$("$bin" --version | awk '{ print $2 }')" "$(uname -m)" "$(date -u +%F)" \
    "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
for note in "${fs_notes[@]}"; do printf '%s\n' "$note"; done
