# Shared by the fake batch commands: replay recorded outputs, log argv, inject failures.
# FAKE_STATE (required): directory for the log (`calls`), job list (`jobs`: `ID NAME TASKS`),
#   cancelled IDs (`cancelled`), counters, the most jobs live at once (`max_live`), and the
#   faults injected (`faults`, one `CMD CALL FAULT` line each).
# FAKE_TRANSIENT_<cmd>=N: the first N calls of <cmd> fail with a transient error.
# FAKE_CREATE_THEN_TIMEOUT=1: the first submit creates the job, then reports a timeout.
# FAKE_PERMANENT_<cmd>=1: <cmd> fails with a permanent error.
# FAKE_<FAULT>_<cmd>_AT=N: call N of <cmd> (counted from 1) meets FAULT: FAIL (a permanent
#   error, nothing created), GARBLE (creates the job, answers something unreadable), SILENT
#   (creates the job, answers nothing, exit 0).
# FAKE_SLOW_<cmd>=SECS: <cmd> takes SECS to answer (after creating the job, for a submit).
# FAKE_HANG_<cmd>=1: a status call of <cmd> does not answer (for FAKE_HANG_SECS, 30 s). FAKE_FAIL_LOOKUP=1: every lookup
#   by name fails.
# FAKE_CHAOS=SEED: each call meets a fault drawn from SEED, the command and its call number
#   (the same seed replays the same faults); see `chaos` below.
# FAKE_RUNNING_POLLS=N: jobs are RUNNING for the first N status calls (default 1), then DONE.
# FAKE_GRID_ENGINE=1: qsub, qstat and qdel are Grid Engine's (grid-engine/*), not PBS's.
set -euo pipefail
CMD=$(basename "$0")
: "${FAKE_STATE:?FAKE_STATE must name the state directory of the fakes}"
touch "$FAKE_STATE/jobs"
echo "$CMD $*" >> "$FAKE_STATE/calls"

# count_unlocked NAME: increments and prints a counter (the caller holds the lock).
count_unlocked() {
    local f="$FAKE_STATE/count.$1" n=0
    [ -f "$f" ] && n=$(cat "$f")
    n=$((n + 1)); echo "$n" > "$f"; echo "$n"
}

# count NAME: increments and prints a counter, under the fakes' lock (`up` and `down` may
# call fakes at the same time).
count() {
    ( flock 9; count_unlocked "$1" ) 9>"$FAKE_STATE/.lock"
}

# This call's number among the calls of this command.
CALL=$(count "call.$CMD")

# at FAULT: this call is the one FAKE_<FAULT>_<cmd>_AT names.
at() {
    local var="FAKE_${1}_${CMD}_AT"
    [ "${!var:-0}" = "$CALL" ]
}

# fault NAME: records that this call meets fault NAME.
fault() {
    echo "$CMD $CALL $1" >> "$FAKE_STATE/faults"
}

# chaos: a number from 0 to 99 for this call, from FAKE_CHAOS (100 when chaos is off).
chaos() {
    if [ -z "${FAKE_CHAOS:-}" ]; then echo 100; return; fi
    local h
    h=$(printf '%s-%s-%s' "$FAKE_CHAOS" "$CMD" "$CALL" | cksum | cut -d' ' -f1)
    echo $((h % 100))
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

# hang: no answer for FAKE_HANG_SECS (30 s), far beyond the tests' time limits (the caller
# kills this command's process group).
hang() {
    fault hang
    sleep "${FAKE_HANG_SECS:-30}"
    exit 1
}

# live_count: jobs created and not cancelled, one per array task (SLURM's spelling).
live_count() {
    local n nm tasks id live=0
    while read -r n nm tasks; do
        if [ "$tasks" -gt 0 ]; then ids=$(seq -f "${n}_%g" "$tasks"); else ids=$n; fi
        for id in $ids; do
            grep -qxF "$id" "$FAKE_STATE/cancelled" 2>/dev/null || live=$((live + 1))
        done
    done < "$FAKE_STATE/jobs"
    echo "$live"
}

# new_job NAME TASKS: records a job and prints its number; keeps the most jobs ever live.
new_job() {
    (
        flock 9
        local n=$((4100 + $(count_unlocked jobid))) live max=0
        echo "$n $1 $2" >> "$FAKE_STATE/jobs"
        live=$(live_count)
        [ -f "$FAKE_STATE/max_live" ] && max=$(cat "$FAKE_STATE/max_live")
        if [ "$live" -gt "$max" ]; then echo "$live" > "$FAKE_STATE/max_live"; fi
        echo "$n"
    ) 9>"$FAKE_STATE/.lock"
}

# cancel ID: records a cancelled job.
cancel() {
    ( flock 9; echo "$1" >> "$FAKE_STATE/cancelled" ) 9>"$FAKE_STATE/.lock"
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
