#!/usr/bin/env bash
# Writes ce.order, the symbol-ordering file build.rs hands the linker for the `ce` binary: the
# mangled names of the functions and data the offline commands use, so the linker places them
# together at the start of their sections instead of scattered through the AWS SDK's code.
# Every page fault on the binary maps the 64 KiB around it, so resident memory and start-up
# follow how many such windows the commands touch, not how much code they run.
#
# How: runs the commands below on a release build under callgrind, takes every function it
# saw executed in the binary, and lists them in the order the commands first need them
# (--version before --help before validate before render); then the data symbols those
# functions' code refers to (string tables, vtables), by the same order.
#
# When: after changes to the code the offline commands run, or to dependencies or the
# toolchain (the names carry hashes). A stale file costs only locality: names the linker does
# not find are skipped without a warning, and without the file the link is the default one.
#
# Usage: benches/order-file.sh             builds --release, writes ce.order
#        CE_BIN=path/to/ce benches/order-file.sh   uses that binary (it must be a release build
#                                          of the current code; its own ordering does not matter)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

for tool in valgrind nm objdump python3; do
    command -v "$tool" >/dev/null || {
        printf 'benches/order-file.sh: %s not found (Debian: apt-get install -y valgrind binutils python3)\n' "$tool" >&2
        exit 1
    }
done

# shellcheck source=benches/release-bin.sh
source "$repo/benches/release-bin.sh"
release_bin benches/order-file.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/stacks

# The offline commands in the order the file lists their code; each is profiled separately.
# render --all runs three ways: writing every file, up to date, and --check.
commands=(
    "--version"
    "--help"
    "render --help"
    "validate --all"
    "render --all --out $out"
    "render --all --out $out"
    "render --all --check --out $out"
    "render --env no-such-env"
)
i=0
for cmd in "${commands[@]}"; do
    i=$((i + 1))
    # shellcheck disable=SC2086 # the command's words
    valgrind --tool=callgrind --demangle=no --compress-strings=no --dump-instr=no \
        --callgrind-out-file="$work/cg.$(printf %02d $i)" -q "$bin" $cmd >/dev/null 2>&1 || true
    [[ -s $work/cg.$(printf %02d $i) ]] || {
        printf 'benches/order-file.sh: callgrind produced nothing for `ce %s`\n' "$cmd" >&2
        exit 1
    }
done

nm --defined-only --print-size "$bin" >"$work/nm"

python3 - "$bin" "$work" >"$work/ce.order" <<'EOF'
import bisect, glob, os, re, subprocess, sys

binary, work = sys.argv[1], sys.argv[2]

# The binary's own symbols: code (t/T/w/W) and data (d/D/r/R/b/B), with their extents.
code, data = set(), []
for line in open(os.path.join(work, "nm")):
    parts = line.split()
    if len(parts) != 4:
        continue
    addr, size, kind, name = int(parts[0], 16), int(parts[1], 16), parts[2], parts[3]
    if kind in "tTwW":
        code.add(name)
    elif kind in "dDrRbBvV" and size:
        data.append((addr, addr + size, name))
data.sort()

# Functions executed: the C runtime's entry point (callgrind reports it as "(below main)"), then
# per command those it ran that no earlier command did, sorted by name so that the file depends
# only on what runs, not on how the profiled binary was laid out.
order, seen = ["_start"], {"_start"}
for path in sorted(glob.glob(os.path.join(work, "cg.*"))):
    ran = set()
    for line in open(path):
        if line.startswith(("fn=", "cfn=")):
            name = line.split("=", 1)[1].strip()
            if name.startswith("("):
                name = name.split(")", 1)[1].strip()
            name = name.split("'", 1)[0]  # callgrind's recursion marks: f'2
            if name in code and name not in seen:
                ran.add(name)
    seen |= ran
    order.extend(sorted(ran))

# Data those functions' code refers to: RIP-relative operands (objdump shows their targets
# resolved) that fall inside a named data symbol.
starts = [start for start, _, _ in data]
func_re = re.compile(r"^[0-9a-f]+ <(.+)>:$")
ref_re = re.compile(r"#\s*([0-9a-f]+)\s*<")
wanted, current, refs = set(order), None, {}
disasm = subprocess.Popen(["objdump", "-d", "--no-show-raw-insn", binary],
                          stdout=subprocess.PIPE, text=True)
for line in disasm.stdout:
    m = func_re.match(line)
    if m:
        current = m.group(1) if m.group(1) in wanted else None
        continue
    if current is None:
        continue
    for m in ref_re.finditer(line):
        addr = int(m.group(1), 16)
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < data[i][1]:
            refs.setdefault(current, []).append(data[i][2])
data_order, data_seen = [], set()
for name in order:
    for d in refs.get(name, ()):
        if d not in data_seen:
            data_seen.add(d)
            data_order.append(d)

for name in order + data_order:
    print(name)
print(f"{len(order)} functions, {len(data_order)} data symbols", file=sys.stderr)
EOF
mv "$work/ce.order" "$repo/ce.order"
printf 'wrote ce.order (%s names); rebuild to relink ce with it\n' "$(wc -l <"$repo/ce.order")" >&2
