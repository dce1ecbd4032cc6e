#!/usr/bin/env bash
# Measures the offline commands against DESIGN.md's targets, on a release build:
#   ce render --all     (3 envs x 5 stacks, files written)  <= 6 ms wall, <= 10 MiB peak RSS
#   ce validate --all                                       well under 0.5 s
# Wall time by hyperfine (mean of many runs, no shell in between), peak RSS by GNU time.
# Usage: benches/render.sh [extra hyperfine flags, e.g. --runs 500]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    printf 'benches/render.sh: missing %s; install with: apt-get install -y %s\n' \
        "${missing[*]}" "${missing[*]}" >&2
    exit 1
fi

printf 'building --release...\n' >&2
cargo build --release --quiet --bin ce
bin=${CARGO_TARGET_DIR:-$repo/target}/release/ce
[[ -x $bin ]] || { printf 'benches/render.sh: no binary at %s\n' "$bin" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/stacks

envs=$(ls envs/*.toml | wc -l)
"$bin" render --all --out "$out" >/dev/null
files=$(find "$out" -name '*.json' | wc -l)
resources=$(python3 -c 'import json, sys; print(sum(len(json.load(open(f)).get("Resources", {})) for f in sys.argv[1:]))' "$out"/*/*.json 2>/dev/null || echo '?')

# name | command (run without a shell) | prepare (before each run)
benches=(
    "render --all (writes ${files} files)|$bin render --all --out $out|rm -rf $out"
    "render --all (up to date)|$bin render --all --out $out|"
    "render --all --check|$bin render --all --check --out $out|"
    "validate --all|$bin validate --all|"
)

printf 'measuring %d envs, %d files, %d resources on %s cores...\n' \
    "$envs" "$files" "$resources" "$(nproc)" >&2
rows=()
for bench in "${benches[@]}"; do
    IFS='|' read -r name cmd prepare <<<"$bench"
    args=(--shell=none --warmup 20 --min-runs 200 --export-csv "$work/t.csv" --style none "$@")
    if [[ -n $prepare ]]; then args+=(--prepare "$prepare"); fi
    hyperfine "${args[@]}" "$cmd" >/dev/null 2>"$work/hyperfine.err" || {
        cat "$work/hyperfine.err" >&2
        exit 1
    }
    # CSV: command,mean,stddev,median,user,system,min,max (seconds).
    wall=$(awk -F, 'NR == 2 { printf "%.2f ± %.2f ms  (min %.2f)", $2 * 1000, $3 * 1000, $7 * 1000 }' "$work/t.csv")
    # Peak RSS: the largest of several runs, in MiB.
    peak=0
    for _ in 1 2 3 4 5; do
        if [[ -n $prepare ]]; then $prepare; fi
        kib=$(/usr/bin/time -v $cmd 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { print $2 }')
        if ((kib > peak)); then peak=$kib; fi
    done
    rss=$(awk -v k="$peak" 'BEGIN { printf "%.1f MiB", k / 1024 }')
    rows+=("$name|$wall|$rss")
done

printf '\n%-32s %-32s %s\n' "command" "wall time (mean ± σ)" "peak RSS"
for row in "${rows[@]}"; do
    IFS='|' read -r name wall rss <<<"$row"
    printf '%-32s %-32s %s\n' "$name" "$wall" "$rss"
done
printf '\ntargets: render --all <= 6 ms wall and <= 10 MiB peak RSS; validate --all well under 500 ms\n'
printf 'ce %s, %s, %s\n' "$("$bin" --version | awk '{ print $2 }')" "$(uname -m)" "$(date -u +%F)"
