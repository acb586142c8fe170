#!/usr/bin/env bash
# The fault soak (see scripts/soak.py and docs/reliability.md). `--quick`: CI's seeded runs,
# 24 runs two at a time on the local backend, then 24 on the fake SLURM, about six minutes;
# without it, the full soak: 250 runs of 3 to 7 faults each (about 1,000 faults), 3 at a time,
# about 25 minutes on 2 cores. `--backend local|fake-slurm`: that backend only (fake-slurm: the
# fake SLURM of tests/fake-bin, its batch jobs run for real and its scheduler faults on; local
# by default). Other arguments go to soak.py (`--runs`, `--seed`, `--min-faults`,
# `--max-faults`, `--faults`, `--parallel`, `--keep`) and win over the defaults above.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
backend=""
args=()
for a in "$@"; do
    case "$a" in
        --quick) quick=1 ;;
        --backend|--backend=*) backend=1; args+=("$a") ;;
        *) args+=("$a") ;;
    esac
done
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/hpcluster"
soak() {
    python3 scripts/soak.py --bin "$bin" "$@" ${args[@]+"${args[@]}"}
}
if [ -n "$quick" ]; then
    soak --runs 24 --seed 7 --parallel 2
    if [ -z "$backend" ]; then
        soak --runs 24 --seed 7 --parallel 2 --backend fake-slurm
    fi
    exit 0
fi
soak --runs 250 --min-faults 3 --max-faults 7 --parallel 3
