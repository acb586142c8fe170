#!/usr/bin/env bash
# The fault soak (see scripts/soak.py and docs/reliability.md). `--quick`: CI's seeded run of
# about three minutes; without it, the full soak (about 1,000 faults). Other arguments go to
# soak.py (`--runs`, `--seed`, `--max-faults`, `--keep`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/hpcluster"
if [ "${1:-}" = "--quick" ]; then
    shift
    exec python3 scripts/soak.py --bin "$bin" --runs 24 --seed 7 "$@"
fi
exec python3 scripts/soak.py --bin "$bin" --runs 400 --max-faults 5 "$@"
