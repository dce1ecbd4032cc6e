#!/usr/bin/env bash
# Measures `ce diff` against DESIGN.md's target, on a release build and a sandbox of its own:
#   ce diff of an unchanged env: about one round trip, <= 1.5x a single GetTemplate call.
# The yardstick is examples/get_template.rs: one GetTemplate as a whole process, with the same
# SDK configuration ce uses, so both sides pay process start and SDK setup alike.
# The sandbox gets the staging env with its certificates set to one moto's ACM holds for the
# env's domain (moto's load balancer insists on that; `ce --local` finds the same one, so every
# path renders the same templates); "many changes" diffs a modified copy against it, touching all
# five stacks (a replaced bucket, a dropped zone, imported exports that change, in-place updates).
# Everything is measured twice: against the sandbox directly, where moto (Python) answers the
# calls one after another, and through benches/latency_proxy.py, which adds RTT_MS (default
# 50) of round-trip latency as a stand-in for the network to AWS, where the calls overlap.
# Wall time and CPU (user + system) by hyperfine, peak RSS by GNU time.
# Usage: [RUNS=30] [RTT_MS=50] benches/diff.sh [extra hyperfine flags, e.g. --warmup 10]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    printf 'benches/diff.sh: missing %s; install with: apt-get install -y %s\n' \
        "${missing[*]}" "${missing[*]}" >&2
    exit 1
fi

printf 'python tools...\n' >&2
bash scripts/python-tools.sh >&2
python=$repo/.venv/bin/python

printf 'building --release...\n' >&2
cargo build --release --quiet --bin ce --example get_template
target=${CARGO_TARGET_DIR:-$repo/target}/release
bin=$target/ce
get_template=$target/examples/get_template

work=$(mktemp -d)
export CE_STATE_DIR=$work/state CE_SANDBOX_VENV=$repo/.venv
unset CE_ENV CE_ENVS_DIR CE_LOCAL
trap '"$bin" sandbox stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

"$bin" sandbox start >/dev/null
endpoint=$("$bin" sandbox status --format json | "$python" -c 'import json, sys; print(json.load(sys.stdin)["endpoint"])')

# The deployed env: staging, with certificates moto holds.
certificate=$("$python" - "$endpoint" <<'EOF'
import boto3, sys
acm = boto3.client("acm", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
print(acm.request_certificate(DomainName="staging.godbolt.org")["CertificateArn"])
EOF
)
mkdir -p "$work/same" "$work/many"
sed "s|^certificate_arn = .*|certificate_arn = \"$certificate\"\nalb_certificate_arn = \"$certificate\"|" \
    envs/staging.toml >"$work/same/staging.toml"
# The same env with changes in every stack.
sed -e 's/^instance_type = "m5.large"/instance_type = "m5.xlarge"/' \
    -e 's/^max_size = 4/max_size = 6/' \
    -e 's/^efs_transition_to_ia_days = 14/efs_transition_to_ia_days = 30/' \
    -e 's/^logs = "compiler-explorer-staging-logs"/logs = "compiler-explorer-staging-logs-2"/' \
    -e 's/^price_class = "PriceClass_100"/price_class = "PriceClass_200"/' \
    -e 's/^high_5xx_percent = 5.0/high_5xx_percent = 2.0/' \
    -e 's/^\[domain\]/[[network.zones]]\nname = "us-east-1d"\ncidr = "172.29.3.0\/24"\n\n[domain]/' \
    "$work/same/staging.toml" >"$work/many/staging.toml"

"$bin" --envs-dir "$work/same" render --out "$work/stacks" >/dev/null
"$python" - "$endpoint" "$work/stacks/staging" <<'EOF'
import boto3, sys
cfn = boto3.client("cloudformation", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
for stack in ["network", "storage", "compute", "edge", "monitoring"]:
    with open(f"{sys.argv[2]}/{stack}.json") as f:
        cfn.create_stack(StackName=f"ce-staging-{stack}", TemplateBody=f.read())
    cfn.get_waiter("stack_create_complete").wait(StackName=f"ce-staging-{stack}",
                                                 WaiterConfig={"Delay": 1})
EOF

check() { # expected exit code, then the command
    local want=$1 got=0
    shift
    "$@" >/dev/null 2>&1 || got=$?
    if ((got != want)); then
        printf 'benches/diff.sh: %s exited %d, expected %d\n' "$*" "$got" "$want" >&2
        exit 1
    fi
}
check 0 "$bin" --local --envs-dir "$work/same" diff
check 3 "$bin" --local --envs-dir "$work/many" diff
changed=$("$bin" --local --envs-dir "$work/many" --format json diff 2>/dev/null |
    "$python" -c 'import json, sys; print(sum(len(s["resources"]) for s in json.load(sys.stdin)["stacks"]))' || true)

# The same sandbox behind a simulated network: RTT_MS of round-trip latency. The unchanged env
# is diffed as against AWS: AWS_ENDPOINT_URL and the SDK's standard chain. The changed env needs
# ListImports, which moto lacks, so ce reaches the proxy with --local, through a second state
# directory whose record names moto's process and the proxy's port; that costs one more round
# trip (the liveness check of --local) and moto's ListImports fallback one more than ListImports.
rtt_ms=${RTT_MS:-50}
proxy_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$python" benches/latency_proxy.py "$proxy_port" "${endpoint##*:}" "$((rtt_ms / 2))" &
proxy_pid=$!
trap 'kill "$proxy_pid" 2>/dev/null; "$bin" sandbox stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
slow=http://127.0.0.1:$proxy_port
mkdir -p "$work/slow"
"$python" -c 'import json, sys; r = json.load(open(sys.argv[1])); r["port"] = int(sys.argv[2]); print(json.dumps(r))' \
    "$CE_STATE_DIR/sandbox.json" "$proxy_port" >"$work/slow/sandbox.json"
sleep 0.5
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_PROFILE AWS_SESSION_TOKEN
check 0 env AWS_ENDPOINT_URL="$slow" "$bin" --envs-dir "$work/same" diff
check 3 env CE_STATE_DIR="$work/slow" "$bin" --local --envs-dir "$work/many" diff

# group | name | command (run without a shell; exit codes 2 and 3 are the diff's answer)
benches=(
    "sandbox|GetTemplate, one call|$get_template $endpoint ce-staging-compute"
    "sandbox|ce diff, no changes|$bin --local --envs-dir $work/same diff"
    "sandbox|ce diff --stack compute, no changes|$bin --local --envs-dir $work/same diff --stack compute"
    "sandbox|ce diff, many changes ($changed resources)|$bin --local --envs-dir $work/many diff"
    "+${rtt_ms} ms RTT|GetTemplate, one call|$get_template $slow ce-staging-compute"
    "+${rtt_ms} ms RTT|ce diff, no changes|env AWS_ENDPOINT_URL=$slow $bin --envs-dir $work/same diff"
    "+${rtt_ms} ms RTT|ce diff --stack compute, no changes|env AWS_ENDPOINT_URL=$slow $bin --envs-dir $work/same diff --stack compute"
    "+${rtt_ms} ms RTT|ce diff, many changes ($changed resources)|env CE_STATE_DIR=$work/slow $bin --local --envs-dir $work/many diff"
)

printf 'measuring against moto at %s on %s cores...\n' "$endpoint" "$(nproc)" >&2
rows=()
for bench in "${benches[@]}"; do
    IFS='|' read -r group name cmd <<<"$bench"
    args=(--shell=none --ignore-failure --warmup 5 --min-runs "${RUNS:-30}" --export-csv "$work/t.csv" --style none "$@")
    hyperfine "${args[@]}" "$cmd" >/dev/null 2>"$work/hyperfine.err" || {
        cat "$work/hyperfine.err" >&2
        exit 1
    }
    # CSV: command,mean,stddev,median,user,system,min,max (seconds).
    mean=$(awk -F, 'NR == 2 { print $2 * 1000 }' "$work/t.csv")
    wall=$(awk -F, 'NR == 2 { printf "%.1f ± %.1f ms (min %.1f)", $2 * 1000, $3 * 1000, $7 * 1000 }' "$work/t.csv")
    cpu=$(awk -F, 'NR == 2 { printf "%.1f ms", ($5 + $6) * 1000 }' "$work/t.csv")
    peak=0
    for _ in 1 2 3; do
        # The diff's exit code (2, 3) is its answer, not a failure.
        kib=$(/usr/bin/time -v $cmd 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { print $2 }') || true
        if ((kib > peak)); then peak=$kib; fi
    done
    rss=$(awk -v k="$peak" 'BEGIN { printf "%.1f MiB", k / 1024 }')
    if [[ $name == GetTemplate* ]]; then base=$mean; fi
    ratio=$(awk -v m="$mean" -v b="$base" 'BEGIN { printf "%.2f", m / b }')
    rows+=("$group|$name|$wall|$cpu|$rss|$ratio")
done

printf '\n%-12s %-42s %-30s %-9s %-9s %s\n' "endpoint" "command" "wall (mean ± σ)" "CPU" "peak RSS" "x GetTemplate"
for row in "${rows[@]}"; do
    IFS='|' read -r group name wall cpu rss ratio <<<"$row"
    printf '%-12s %-42s %-30s %-9s %-9s %s\n' "$group" "$name" "$wall" "$cpu" "$rss" "$ratio"
done
printf '\ntarget: ce diff of an unchanged env <= 1.5x one GetTemplate call\n'
printf 'ce %s, moto %s, %s, %s\n' "$("$bin" --version | awk '{ print $2 }')" \
    "$("$python" -c 'import moto; print(moto.__version__)')" "$(uname -m)" "$(date -u +%F)"
