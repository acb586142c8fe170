#!/usr/bin/env bash
# The benchmark suite (see docs/benchmarks.md). Full: about six minutes on 2 cores, writes
# docs/benchmarks.md and docs/efficiency.svg. `--quick`: CI's smoke test at small sizes, writes
# target/bench-quick/; it fails only if something does not run, a simulated run stalls, or
# hpcluster kills a task in the simulator that fits its task_time. Neither asserts timings.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""; out=docs; parts=target/bench-parts
if [ "${1:-}" = "--quick" ]; then quick="--quick"; out=target/bench-quick; parts=$out; fi
mkdir -p "$out" "$parts"
cargo build --release --quiet
cargo bench --quiet --bench simulate -- $quick --out "$parts" > "$parts/sim.log"
cargo bench --quiet --bench server_scale -- $quick > "$parts/server-scale.md"
python3 scripts/bench.py $quick > "$parts/process.md"
[ "$out" = "$parts" ] || cp "$parts/efficiency.svg" "$out/efficiency.svg"
{
    echo "# Benchmarks"
    echo
    echo "Produced by \`bash scripts/bench.sh\` on $(date -u +%Y-%m-%d): $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB,"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(rustc --version)."
    echo "Figures are ratios measured in the same run; absolute times depend on the machine."
    echo "\`bash scripts/bench.sh --quick\` runs the same at small sizes (CI's smoke test)."
    echo
    echo "- Allocation efficiency: \`cargo bench --bench simulate\`, a seeded discrete-event"
    echo "  simulation that drives the server's own scheduling core against simulated batch jobs."
    echo "- Throughput, controller load, CLI latency: \`scripts/bench.py\`, real processes."
    echo "- Scale of the server: \`cargo bench --bench server_scale\`, in process."
    echo
    echo "## Allocation efficiency (simulator)"
    echo
    sed -e '1{/^# /d}' -e 's/^## /### /' "$parts/benchmarks-sim.md"
    echo
    echo "## Throughput, controller load and CLI latency"
    echo
    cat "$parts/process.md"
    echo "## Scale of the server (in process)"
    echo
    echo "Peak memory with queued tasks (a tasks file parsed, every task journaled and queued in the"
    echo "real core), and the latency of one dispatch (a slot's ask plus the report of its task)."
    echo
    cat "$parts/server-scale.md"
} > "$out/benchmarks.md"
echo "bench.sh: wrote $out/benchmarks.md"
