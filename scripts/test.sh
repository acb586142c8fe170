#!/usr/bin/env bash
# The project's one test command: starts the local SLURM and SGE when running as root and they
# are absent or down (installing them only if their binaries are missing), installs GNU parallel
# (which checks `up --joblog`) as root when it is missing, then runs every test. Real-scheduler
# and GNU parallel tests skip with a reason when absent, unless CI=true.
# With CI=true (as root) both testbeds start clean: jobs left by a killed earlier run are
# deleted, so they can neither hold the node's CPUs nor keep the smoke job pending.
set -euo pipefail
cd "$(dirname "$0")/.."

ensure() { # ensure NAME CLIENT PROBE...
    local name=$1 client=$2; shift 2
    if [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ]; then
        command -v "$client" >/dev/null || "scripts/local-$name.sh" install
        SLURM_LOCAL_CLEAN=1 SGE_LOCAL_CLEAN=1 "scripts/local-$name.sh" start
        return
    fi
    if "$@" >/dev/null 2>&1; then return; fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: $name is not running and this is not root: its tests will be skipped" >&2
        return
    fi
    command -v "$client" >/dev/null || "scripts/local-$name.sh" install
    "scripts/local-$name.sh" start
}

ensure slurm sbatch sinfo -h
ensure sge qsub qstat -u '*'
# GNU parallel reads the joblog of `up --joblog` in tests/it/joblog.rs.
if ! command -v parallel >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    { apt-get install -y -qq --no-install-recommends parallel \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends parallel; }; } >/dev/null \
        || echo "test.sh: installing GNU parallel failed: its test will be skipped (fails under CI=true)" >&2
fi
cargo test --all-targets "$@"
