#!/usr/bin/env bash
# The project's one test command: starts the local SLURM and SGE when running as root and they
# are absent or down (installing them only if their binaries are missing), then runs every test.
# Real-scheduler tests skip with a reason when no scheduler answers, unless CI=true.
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
cargo test --all-targets "$@"
