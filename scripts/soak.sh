#!/usr/bin/env bash
# The fault soak (see scripts/soak.py and docs/reliability.md). `--quick`: CI's seeded run, 24
# runs two at a time, about three minutes; without it, the full soak: 250 runs of 2 to 6
# faults each (about 1,000 faults), 3 at a time, about 40 minutes on 2 cores.
# `--backend fake-slurm`: the same on the fake SLURM of tests/fake-bin, its batch jobs run for
# real and its scheduler faults on (`--backend local` by default). Other arguments go to
# soak.py (`--runs`, `--seed`, `--min-faults`, `--max-faults`, `--faults`, `--parallel`,
# `--keep`), and win over the defaults above.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
args=()
for a in "$@"; do
    if [ "$a" = --quick ]; then quick=1; else args+=("$a"); fi
done
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/hpcluster"
if [ -n "$quick" ]; then
    exec python3 scripts/soak.py --bin "$bin" --runs 24 --seed 7 --parallel 2 ${args[@]+"${args[@]}"}
fi
exec python3 scripts/soak.py --bin "$bin" --runs 250 --min-faults 2 --max-faults 6 --parallel 3 \
    ${args[@]+"${args[@]}"}
