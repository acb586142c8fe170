#!/usr/bin/env bash
# The benchmark suite (see docs/benchmarks.md). Full: about ten minutes on 2 cores, writes
# docs/benchmarks.md. `--quick`: CI's smoke test at small sizes, writes target/bench-quick/;
# it fails only if something does not run or hpcluster kills a task where the oracle kills none.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""; out=docs
if [ "${1:-}" = "--quick" ]; then quick="--quick"; out=target/bench-quick; fi
mkdir -p "$out"
cargo build --release --quiet
cargo bench --quiet --bench simulate -- $quick --out "$out" > "$out/sim.log"
cargo bench --quiet --bench server_scale -- $quick > "$out/server-scale.md"
python3 scripts/bench.py $quick > "$out/process.md"
{
    echo "# Benchmarks"
    echo
    echo "Produced by \`bash scripts/bench.sh\` on $(date -u +%Y-%m-%d): $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB,"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(rustc --version)."
    echo "Figures are ratios measured in the same run; absolute times depend on the machine."
    echo
    echo "## Allocation efficiency (simulator)"
    echo
    sed '1{/^# /d}' "$out/benchmarks-sim.md"
    echo
    echo "## Throughput, controller load and CLI latency"
    echo
    cat "$out/process.md"
    echo "## Scale of the server (in process)"
    echo
    cat "$out/server-scale.md"
} > "$out/benchmarks.md"
echo "bench.sh: wrote $out/benchmarks.md"
