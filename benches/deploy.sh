#!/usr/bin/env bash
# Times a full sandbox bootstrap of the staging env (all five stacks created from an empty
# account through change sets) on a release build, against DESIGN.md's target:
#   deploy: the tool's own time (everything but waiting on CloudFormation) < 10% of the wall time.
# `ce deploy --format json` reports its own clock: total, time with an AWS call / poll delay /
# prompt outstanding ("waiting"), and the rest ("tool"). GNU time gives the process's wall time,
# its CPU time (user + system: a second, independent measure of the tool's own work, which also
# covers the pre-flight read that the clock counts as waiting as a whole) and peak RSS. The first bootstrap meets a cold moto (it imports each service's code on
# first use); the next RUNS each start from an empty account again (moto reset).
# Usage: benches/deploy.sh [RUNS, default 5]
set -euo pipefail

runs=${1:-5}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

[[ -x /usr/bin/time ]] || {
    echo 'benches/deploy.sh: missing GNU time; install with: apt-get install -y time' >&2
    exit 1
}

printf 'python tools...\n' >&2
bash scripts/python-tools.sh >&2
python=$repo/.venv/bin/python

printf 'building --release...\n' >&2
cargo build --release --quiet --bin ce
bin=${CARGO_TARGET_DIR:-$repo/target}/release/ce

work=$(mktemp -d)
export CE_STATE_DIR=$work/state CE_SANDBOX_VENV=$repo/.venv
unset CE_ENV CE_ENVS_DIR CE_LOCAL
trap '"$bin" sandbox stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

"$bin" sandbox start >/dev/null
endpoint=$("$bin" sandbox status --format json | "$python" -c 'import json, sys; print(json.load(sys.stdin)["endpoint"])')

# An empty account with a load-balancer certificate moto holds (its load balancer insists), and
# the staging env pointed at that certificate.
fresh_account() {
    "$python" - "$endpoint" <<'EOF'
import boto3, sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/moto-api/reset", method="POST"))
acm = boto3.client("acm", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
print(acm.request_certificate(DomainName="staging.godbolt.org")["CertificateArn"])
EOF
}

mkdir -p "$work/envs"
printf '%-6s %8s %9s %10s %8s %7s %7s %7s %8s\n' \
    run wall_ms total_ms waiting_ms tool_ms tool_% cpu_ms cpu_% rss_MiB
for run in $(seq 0 "$runs"); do
    certificate=$(fresh_account)
    sed "s|^certificate_arn = .*|&\nalb_certificate_arn = \"$certificate\"|" envs/staging.toml \
        >"$work/envs/staging.toml"
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
        "$bin" --local --envs-dir "$work/envs" --env staging --format json deploy --yes \
        >"$work/out.json" 2>"$work/err.txt" || {
        cat "$work/err.txt" >&2
        exit 1
    }
    read -r wall user sys rss <"$work/time"
    label=$([[ $run == 0 ]] && echo cold || echo "$run")
    "$python" - "$work/out.json" "$wall" "$user" "$sys" "$rss" "$label" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["result"] == "deployed", doc["result"]
assert all(s["outcome"] == "created" for s in doc["stacks"]), doc["stacks"]
t = doc["timing"]
wall = float(sys.argv[2]) * 1000
cpu = (float(sys.argv[3]) + float(sys.argv[4])) * 1000
print(f'{sys.argv[6]:<6} {wall:8.0f} {t["total_ms"]:9d} {t["waiting_ms"]:10d} {t["tool_ms"]:8d} '
      f'{100 * t["tool_ms"] / t["total_ms"]:7.1f} {cpu:7.0f} {100 * cpu / wall:7.1f} '
      f'{int(sys.argv[5]) / 1024:8.1f}')
EOF
done
