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
#   (the same seed replays the same faults); see `chaos` and `chaos_pick` below.
# FAKE_CHAOS_FAULTS='SITE:FAULT=PERCENT ...': with FAKE_CHAOS, only these faults, at these
#   rates (sites: sbatch, squeue, squeue-lookup, scancel; e.g. `sbatch:transient=30
#   squeue:hang=3`); unset: each command's own table.
# FAKE_EXECUTE=1: a created batch job runs its script for real (fake-job.sh): sbatch starts it
#   detached in a session of its own with a SLURM job's environment, squeue shows it PENDING
#   then RUNNING while it lives (COMPLETING once cancelled) and no more once it ended, sacct
#   gives its final state, scancel and the `-t` limit end its session (SIGTERM, then SIGKILL
#   after FAKE_KILL_WAIT, 2 s). Its files are in FAKE_STATE/exec/. FAKE_PENDING_SECS (0): how
#   long a job waits before it starts. SLURM only.
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

# chaos_pick SITE TABLE: the fault this call meets at SITE, or nothing. TABLE lists
# `FAULT=PERCENT` in order, each taking the next PERCENT of the call's roll (`chaos`);
# FAKE_CHAOS_FAULTS, when set, replaces the table of every site with the entries it gives the
# site (none: the site meets no fault).
chaos_pick() {
    local site=$1 table=$2 roll from=0 entry pct
    roll=$(chaos)
    if [ -n "${FAKE_CHAOS_FAULTS:-}" ]; then
        table=""
        for entry in $FAKE_CHAOS_FAULTS; do
            [ "${entry%%:*}" = "$site" ] && table="$table ${entry#*:}"
        done
    fi
    for entry in $table; do
        pct=${entry#*=}
        if [ "$roll" -lt $((from + pct)) ]; then echo "${entry%%=*}"; return; fi
        from=$((from + pct))
    done
    return 0
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
    fault "${1:-hang}"
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

# --- FAKE_EXECUTE=1: batch jobs that run (SLURM's commands) ---

EXEC="$FAKE_STATE/exec"

# slurm_secs LIMIT: seconds of a SLURM time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM,
# D-HH:MM:SS); 0 for none.
slurm_secs() {
    local t=$1 d=0 a b c
    case "$t" in ""|UNLIMITED|unlimited|infinite) echo 0; return ;; esac
    if [[ "$t" == *-* ]]; then
        d=${t%%-*}; t=${t#*-}
        IFS=: read -r a b c <<< "$t"
        echo $((10#$d * 86400 + 10#${a:-0} * 3600 + 10#${b:-0} * 60 + 10#${c:-0}))
        return
    fi
    IFS=: read -r a b c <<< "$t"
    if [ -n "$c" ]; then echo $((10#$a * 3600 + 10#$b * 60 + 10#$c))
    elif [ -n "$b" ]; then echo $((10#$a * 60 + 10#$b))
    else echo $((10#$a * 60)); fi
}

# time_limit SCRIPT ARGS...: the job's time limit in seconds, from `-t`/`--time` on the
# command line, else the script's `#SBATCH` line; 0 for none.
time_limit() {
    local script=$1 t="" prev=""; shift
    t=$(sed -nE 's/^#SBATCH (-t |--time=|--time )//p' "$script" 2>/dev/null | tail -n 1)
    for a in "$@"; do
        case "$a" in --time=*) t=${a#--time=} ;; esac
        case "$prev" in -t|--time) t=$a ;; esac
        prev=$a
    done
    slurm_secs "$t"
}

# execute ID TASKS NAME SCRIPT ARGS...: starts job ID (or each task ID_i of an array of TASKS)
# in a session of its own, its stdio away from sbatch's (the caller reads sbatch's output).
execute() {
    local id=$1 tasks=$2 name=$3 script=$4 limit i job=()
    shift 4
    mkdir -p "$EXEC"
    limit=$(time_limit "$script" "$@")
    # A background command of a shell without job control ignores SIGINT and SIGQUIT, and so
    # would the job: give them back their default.
    env --default-signal=INT true 2> /dev/null && job=(env --default-signal=INT,QUIT)
    job+=(bash "$(dirname "${BASH_SOURCE[0]}")/fake-job.sh" run)
    if [ "$tasks" -gt 0 ]; then
        for i in $(seq "$tasks"); do
            setsid "${job[@]}" "${id}_$i" "$script" "$name" "$limit" "$id" "$i" \
                < /dev/null > "$EXEC/${id}_$i.log" 2>&1 &
        done
    else
        setsid "${job[@]}" "$id" "$script" "$name" "$limit" < /dev/null > "$EXEC/$id.log" 2>&1 &
    fi
}

# job_alive ID: the session of job ID still runs (its leader, fake-job.sh, lives).
job_alive() {
    local pid rest
    pid=$(cat "$EXEC/$1.pid" 2>/dev/null) || return 1
    { read -r rest < "/proc/$pid/stat"; } 2> /dev/null || return 1
    rest=${rest##*) }
    # shellcheck disable=SC2086
    set -- $rest
    # A leader is the session it leads (a reused pid is not).
    [ "$4" = "$pid" ] && [ "$1" != Z ]
}

# iso SECS: a Unix time in SLURM's format.
iso() {
    date -d "@$1" +%Y-%m-%dT%H:%M:%S
}

# exec_state ID: `STATE|START|END` of job ID, as squeue would show it (nothing once it ended)
# or, with `final`, as sacct would (nothing while it lives).
exec_state() {
    local id=$1 want=${2:-live} start limit end code s
    grep -q "^${id%%_*} " "$FAKE_STATE/jobs" || return 0
    start=$(cat "$EXEC/$id.start" 2>/dev/null || true)
    if job_alive "$id" || { [ ! -e "$EXEC/$id.end" ] && [ ! -e "$EXEC/$id.pid" ]; }; then
        [ "$want" = live ] || return 0
        if grep -qxF "$id" "$FAKE_STATE/cancelled" 2>/dev/null; then
            echo "COMPLETING|$(iso "${start:-$(date +%s)}")|$(iso "$(date +%s)")"
        elif [ -n "$start" ]; then
            limit=$(cat "$EXEC/$id.limit" 2>/dev/null || echo 0)
            [ "$limit" -gt 0 ] || limit=31536000
            echo "RUNNING|$(iso "$start")|$(iso $((start + limit)))"
        else
            echo "PENDING|N/A|N/A"
        fi
        return 0
    fi
    [ "$want" = final ] || return 0
    end=$(cat "$EXEC/$id.end" 2>/dev/null || date +%s)
    code=$(cat "$EXEC/$id.exit" 2>/dev/null || echo 1)
    if grep -qxF "$id" "$FAKE_STATE/cancelled" 2>/dev/null; then s=CANCELLED
    elif [ -e "$EXEC/$id.timeout" ]; then s=TIMEOUT
    elif [ "$code" = 0 ]; then s=COMPLETED
    else s=FAILED; fi
    echo "$s|$(iso "${start:-$end}")|$(iso "$end")"
}

# stop_job ID: ends job ID's session as SLURM does (SIGTERM, SIGKILL after FAKE_KILL_WAIT),
# from a process of its own, so the caller answers at once.
stop_job() {
    [ -d "$EXEC" ] || return 0
    setsid bash "$(dirname "${BASH_SOURCE[0]}")/fake-job.sh" kill "$1" < /dev/null \
        >> "$EXEC/$1.kill" 2>&1 &
}
