# Shared by the fake batch commands: replay recorded outputs, log argv, inject failures.
# FAKE_STATE (required): directory for the log (`calls`), job list (`jobs`), counters.
# FAKE_TRANSIENT_<cmd>=N: the first N calls of <cmd> fail with a transient error.
# FAKE_CREATE_THEN_TIMEOUT=1: the first submit creates the job, then reports a timeout.
# FAKE_PERMANENT_<cmd>=1: <cmd> fails with a permanent error.
# FAKE_RUNNING_POLLS=N: jobs are RUNNING for the first N status calls (default 1), then DONE.
# FAKE_GRID_ENGINE=1: qsub, qstat and qdel are Grid Engine's (grid-engine/*), not PBS's.
set -euo pipefail
CMD=$(basename "$0")
: "${FAKE_STATE:?FAKE_STATE must name the state directory of the fakes}"
touch "$FAKE_STATE/jobs"
echo "$CMD $*" >> "$FAKE_STATE/calls"

# count NAME: increments and prints a counter.
count() {
    local f="$FAKE_STATE/count.$1" n=0
    [ -f "$f" ] && n=$(cat "$f")
    n=$((n + 1)); echo "$n" > "$f"; echo "$n"
}

# transient MESSAGE: fail with MESSAGE for the first FAKE_TRANSIENT_<cmd> calls.
transient() {
    local var="FAKE_TRANSIENT_${CMD}" limit
    limit=${!var:-0}
    if [ "$(count "transient.$CMD")" -le "$limit" ]; then
        echo "$1" >&2
        exit 1
    fi
}

# new_job NAME TASKS: records a job and prints its number.
new_job() {
    local n=$((4100 + $(count jobid)))
    echo "$n $1 $2" >> "$FAKE_STATE/jobs"
    echo "$n"
}

# poll_state ID: RUNNING for the first FAKE_RUNNING_POLLS status calls (default 1), DONE
# afterwards, CANCELLED once cancelled.
poll_state() {
    if grep -qxF "$1" "$FAKE_STATE/cancelled" 2>/dev/null; then echo CANCELLED
    elif [ "$POLL" -le "${FAKE_RUNNING_POLLS:-1}" ]; then echo RUNNING
    else echo DONE; fi
}

# array_size ARGS...: N from `1-N` in the value after FLAG ($1), or 0.
array_size() {
    local flag=$1; shift
    while [ $# -gt 0 ]; do
        case "$1" in
            "$flag") echo "${2#1-}"; return ;;
            "$flag"=*) local v=${1#*=}; echo "${v#1-}"; return ;;
        esac
        shift
    done
    echo 0
}
