#!/usr/bin/env bash
# The fault soak (see scripts/soak.py and docs/reliability.md). `--quick`: CI's seeded run, 24
# runs two at a time, about three minutes; without it, the full soak: 250 runs of 2 to 6
# faults each (about 1,000 faults), 3 at a time, about 40 minutes on 2 cores. Other arguments go to soak.py
# (`--runs`, `--seed`, `--min-faults`, `--max-faults`, `--faults`, `--parallel`, `--keep`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/hpcluster"
if [ "${1:-}" = "--quick" ]; then
    shift
    exec python3 scripts/soak.py --bin "$bin" --runs 24 --seed 7 --parallel 2 "$@"
fi
exec python3 scripts/soak.py --bin "$bin" --runs 250 --min-faults 2 --max-faults 6 --parallel 3 "$@"
