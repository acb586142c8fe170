"""The fake SLURM's side of the fault soak (`scripts/soak.py --backend fake-slurm`).

`up --backend slurm` runs against the fakes of tests/fake-bin in their execution mode
(FAKE_EXECUTE=1: every batch job the fake `sbatch` creates runs its script for real, in a
session of its own, as slurmstepd would), with the scheduler faults issue 11 lists drawn from
the run's seed (FAKE_CHAOS with FAKE_CHAOS_FAULTS, see tests/fake-bin/fake-lib.sh). This module
gives the run its environment, cancels a batch job as a user would (the fake `scancel`, which
ends the job's session: SIGTERM, SIGKILL 2 s later), and reads the fake's own record after the
run: the faults it injected, the batch jobs it created (a name created twice is a duplicate
submission) and those whose session still lives.
"""
import collections
import os
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE_BIN = os.path.join(ROOT, "tests", "fake-bin")

# Each scheduler call's chance of a fault, in percent (FAKE_CHAOS_FAULTS): a transient `sbatch`
# failure (30 %, issue 11), an `sbatch` that creates its batch job and then fails as timed out
# or hangs past `submit_timeout`, a status `squeue` that fails or hangs past `status_timeout`,
# and the same for the lookup by name that follows a submit whose answer was lost.
CHAOS = ("sbatch:transient=30 sbatch:created-then-transient=5 sbatch:hang-after-create=3 "
         "squeue:fail=10 squeue:hang=3 squeue-lookup:lookup-fail=10 squeue-lookup:hang=3")


def session_alive(pid):
    """Whether `pid` lives and leads its session (a fake batch job's leader; a reused pid
    does not lead one)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z" and fields[3] == str(pid)


def session_members(sid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[3] == str(sid):
                    out.append(int(p))
        except (OSError, IndexError):
            pass
    return out


class FakeSlurm:
    def __init__(self, run_dir, seed):
        self.state = os.path.join(run_dir, "fake")
        self.exec = os.path.join(self.state, "exec")
        os.makedirs(self.state)
        self.seed = seed

    def env(self, base):
        """`up`'s environment: the fakes first on PATH, their faults, and time limits that
        make a hang cost 2 s (a hung fake answers nothing for 5 s)."""
        return dict(base, PATH=f"{FAKE_BIN}:{base.get('PATH', '/usr/bin:/bin')}",
                    FAKE_STATE=self.state, FAKE_EXECUTE="1", FAKE_CHAOS=str(self.seed),
                    FAKE_CHAOS_FAULTS=CHAOS, FAKE_HANG_SECS="5",
                    HPCLUSTER_SUBMIT_TIMEOUT="2s", HPCLUSTER_STATUS_TIMEOUT="2s",
                    HPCLUSTER_CANCEL_TIMEOUT="2s", HPCLUSTER_RETRY_BACKOFF_MS="200")

    @staticmethod
    def quiet(env):
        """The environment of the soak's own commands (a user's `scancel`, `down`): no fault."""
        return {k: v for k, v in env.items() if k not in ("FAKE_CHAOS", "FAKE_CHAOS_FAULTS")}

    def leaders(self):
        """Batch job ID -> the pid of its leader (its session), for every job that started."""
        out = {}
        if os.path.isdir(self.exec):
            for f in os.listdir(self.exec):
                if f.endswith(".pid"):
                    try:
                        with open(os.path.join(self.exec, f)) as fh:
                            out[f[:-4]] = int(fh.read().strip())
                    except (OSError, ValueError):
                        pass
        return out

    def live(self):
        """The batch jobs whose session still lives."""
        return sorted(j for j, pid in self.leaders().items() if session_alive(pid))

    def cancel_one(self, rng, env, cwd):
        """`scancel` of a live batch job drawn by `rng`, as a user would; its ID, or None."""
        jobs = self.live()
        if not jobs:
            return None
        job = rng.choice(jobs)
        subprocess.run(["scancel", job], cwd=cwd, env=self.quiet(env), timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return job

    def wait_none_live(self, secs):
        """Waits up to `secs` for every batch job to end; the ones still live."""
        deadline = time.monotonic() + secs
        while self.live() and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.live()

    def kill_all(self):
        """Ends what is left of every batch job (SIGKILL to its whole session)."""
        for pid in self.leaders().values():
            if session_alive(pid):
                for p in session_members(pid):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass

    def names(self):
        """Name -> how many submissions the fake created under it."""
        n = collections.Counter()
        try:
            with open(os.path.join(self.state, "jobs")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3:
                        n[parts[1]] += 1
        except OSError:
            pass
        return n

    def duplicates(self):
        return sorted(name for name, n in self.names().items() if n > 1)

    def faults(self):
        """`command fault` -> how often the fake injected it."""
        n = collections.Counter()
        try:
            with open(os.path.join(self.state, "faults")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3:
                        n[f"{parts[0]} {parts[2]}"] += 1
        except OSError:
            pass
        return n
