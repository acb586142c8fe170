# One batch job of the fakes' execution mode (FAKE_EXECUTE=1, see fake-lib.sh), run with bash
# in a session of its own, as slurmstepd would run it. Not a command: no execute bit.
#
# `run ID SCRIPT NAME LIMIT [ARRAY_JOB TASK]`: the job's leader. Writes EXEC/ID.pid (its pid,
# also the session's ID), waits FAKE_PENDING_SECS, runs `bash SCRIPT` with a SLURM job's
# environment and its stdout and stderr where the script's `#SBATCH -o/-e` say (`%A %a %j %J %x`
# filled in; default `slurm-%j.out`), writes EXEC/ID.start and, once the script ended,
# EXEC/ID.exit (its status) and EXEC/ID.end; past LIMIT seconds it marks EXEC/ID.timeout and
# ends the job as `kill` does. When the script ends, whatever it left in the session is killed
# (as SLURM's cgroup does) and counted in EXEC/ID.swept. SIGTERM does not end the leader.
# `kill ID`: SIGTERM to every process of the job's session but its leader, SIGKILL to those
# left after FAKE_KILL_WAIT (2 s), until none is left.
set -u
EXEC="$FAKE_STATE/exec"
HERE=$(dirname "${BASH_SOURCE[0]}")

# session SID: fills PIDS with the processes of session SID, but SID itself and this shell.
session() {
    local f p rest
    PIDS=()
    for f in /proc/[0-9]*/stat; do
        p=${f#/proc/}; p=${p%/stat}
        [ "$p" = "$1" ] || [ "$p" = "$BASHPID" ] && continue
        { read -r rest < "$f"; } 2> /dev/null || continue
        rest=${rest##*) }
        # shellcheck disable=SC2086
        set -- "$1" $rest
        [ "$5" = "$1" ] && [ "$2" != Z ] && PIDS+=("$p")
    done
    return 0
}

# sweep SID SIG: sends SIG to the session's processes until none is left; prints how many
# it signalled.
sweep() {
    local n=0 i
    for i in $(seq 100); do
        session "$1"
        [ "${#PIDS[@]}" -eq 0 ] && break
        n=$((n + ${#PIDS[@]}))
        kill "-$2" "${PIDS[@]}" 2>/dev/null
        sleep 0.05
    done
    echo "$n"
}

# out_path PATTERN: an `#SBATCH -o` pattern with SLURM's fields filled in.
out_path() {
    local p=$1
    p=${p//%A/${ARRAY_JOB:-$ID}}; p=${p//%a/${TASK:-4294967294}}
    p=${p//%j/$ID}; p=${p//%J/$ID}; p=${p//%x/$NAME}
    echo "$p"
}

cancelled() {
    grep -qxF "$1" "$FAKE_STATE/cancelled" 2>/dev/null
}

run() {
    ID=$1 SCRIPT=$2 NAME=$3 LIMIT=$4 ARRAY_JOB=${5:-} TASK=${6:-}
    echo $$ > "$EXEC/$ID.pid"
    echo "$LIMIT" > "$EXEC/$ID.limit"
    trap ':' TERM INT HUP
    sleep "${FAKE_PENDING_SECS:-0}"
    if cancelled "$ID"; then
        date +%s > "$EXEC/$ID.end"
        exit 0
    fi
    local out err start child code
    out=$(sed -nE 's/^#SBATCH (-o |--output=|--output )//p' "$SCRIPT" | tail -n 1)
    err=$(sed -nE 's/^#SBATCH (-e |--error=|--error )//p' "$SCRIPT" | tail -n 1)
    if [ -z "$out" ]; then
        if [ -n "$TASK" ]; then out="slurm-%A_%a.out"; else out="slurm-%j.out"; fi
    fi
    out=$(out_path "$out")
    err=$(out_path "${err:-$out}")
    start=$(date +%s)
    echo "$start" > "$EXEC/$ID.start"
    (
        export SLURM_JOB_ID="$ID" SLURM_JOB_NAME="$NAME" SLURM_SUBMIT_DIR="$PWD" \
            SLURM_JOB_NODELIST=localhost SLURMD_NODENAME=localhost SLURM_CPUS_ON_NODE=1
        if [ -n "$TASK" ]; then
            export SLURM_ARRAY_JOB_ID="$ARRAY_JOB" SLURM_ARRAY_TASK_ID="$TASK"
        fi
        trap - TERM INT HUP
        exec bash "$SCRIPT" < /dev/null > "$out" 2> "$err"
    ) &
    child=$!
    while kill -0 "$child" 2>/dev/null; do
        if [ "$LIMIT" -gt 0 ] && [ "$(date +%s)" -ge $((start + LIMIT)) ] \
            && [ ! -e "$EXEC/$ID.timeout" ]; then
            date +%s > "$EXEC/$ID.timeout"
            setsid bash "$HERE/fake-job.sh" kill "$ID" < /dev/null >> "$EXEC/$ID.kill" 2>&1 &
        fi
        sleep 0.2
    done
    code=0
    wait "$child" || code=$?
    echo "$code" > "$EXEC/$ID.exit"
    sweep $$ KILL > "$EXEC/$ID.swept"
    date +%s > "$EXEC/$ID.end"
}

stop() {
    local id=$1 pid i
    pid=$(cat "$EXEC/$id.pid" 2>/dev/null) || return 0
    session "$pid"
    [ "${#PIDS[@]}" -gt 0 ] && kill -TERM "${PIDS[@]}" 2>/dev/null
    for i in $(seq $(( ${FAKE_KILL_WAIT:-2} * 10 ))); do
        session "$pid"
        [ "${#PIDS[@]}" -eq 0 ] && return 0
        sleep 0.1
    done
    echo "$(date +%s) SIGKILL to $(sweep "$pid" KILL) process(es) of $id"
}

case "$1" in
    run) shift; run "$@" ;;
    kill) stop "$2" ;;
    *) echo "fake-job.sh: expected run or kill, got $1" >&2; exit 2 ;;
esac
