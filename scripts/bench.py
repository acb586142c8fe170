#!/usr/bin/env python3
"""hpcluster's benchmark suite (see docs/benchmarks.md); run through scripts/bench.sh.

Throughput of trivial tasks through `hpcluster up` on the local backend against the spawn limit
(`xargs -P <cores>`) and Dask distributed; controller load with fake SLURM commands that count
their calls; CLI latency of `render` and `plan`. Figures are ratios measured in the same run.
Prints Markdown; asserts no timings.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release", "hpcluster")
CORES = os.cpu_count() or 1


def tasks_file(d, n):
    path = os.path.join(d, f"tasks-{n}.txt")
    with open(path, "w") as f:
        f.write("true\n" * n)
    return path


def run_hpcluster(n, workers, slots):
    """Wall time of `hpcluster up --tasks` for n `true` tasks, and the server's peak RSS (KiB)."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, HPCLUSTER_CLUSTER_ROOT=os.path.join(d, "c"),
                   HPCLUSTER_POLL_INTERVAL="1s", HPCLUSTER_HOST="127.0.0.1")
        cmd = ["/usr/bin/time", "-f", "%M", BIN, "-q", "up", "--backend", "local",
               "--tasks", tasks_file(d, n), "--jobs", str(workers), "--max-jobs", str(workers),
               "--slots", str(slots), "--walltime", "10h", "--task-time", "1s"]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"hpcluster up failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        if f"{n} task(s) done, 0 failed" not in p.stdout:
            sys.exit(f"hpcluster up did not run every task:\n{p.stdout}")
        rss = int(p.stderr.strip().splitlines()[-1])
        return wall, rss


def run_xargs(n):
    with tempfile.TemporaryDirectory() as d:
        f = tasks_file(d, n)
        t0 = time.perf_counter()
        subprocess.run(f"xargs -d '\\n' -P {CORES} -I{{}} sh -c {{}} < {f}", shell=True, check=True)
        return time.perf_counter() - t0


DASK_SCRIPT = r"""
import subprocess, sys, time
from dask.distributed import Client, LocalCluster
n, cores = int(sys.argv[1]), int(sys.argv[2])
def run(cmd):
    return subprocess.run(cmd, shell=True).returncode
if __name__ == "__main__":
    with LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as client:
        client.submit(run, "true").result()
        t0 = time.perf_counter()
        futures = client.map(run, ["true"] * n, pure=False)
        codes = client.gather(futures)
        assert sum(codes) == 0
        print(time.perf_counter() - t0)
"""


def dask_python():
    venv = os.path.join(ROOT, "target", "bench-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "dask[distributed]"], check=True)
    return py


def run_dask(py, n):
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "bench_dask.py")
        with open(script, "w") as f:
            f.write(DASK_SCRIPT)
        p = subprocess.run([py, script, str(n), str(CORES)], capture_output=True, text=True, cwd=d)
        if p.returncode != 0:
            sys.exit(f"dask failed:\n{p.stderr[-2000:]}")
        return float(p.stdout.strip().splitlines()[-1])


def throughput(sizes, runs, with_dask):
    workers, slots = 1, CORES
    py = dask_python() if with_dask else None
    print(f"### Throughput: trivial tasks (`true`), {workers} worker x {slots} slots on {CORES} cores\n")
    print("| tasks | xargs -P%d tasks/s | hpcluster tasks/s | hpcluster / xargs | per-task overhead vs xargs | Dask tasks/s | hpcluster / Dask | server peak RSS |" % CORES)
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        xs, hs, ds, rss = [], [], [], []
        for _ in range(runs):
            xs.append(run_xargs(n))
            w, r = run_hpcluster(n, workers, slots)
            hs.append(w)
            rss.append(r)
            if py:
                ds.append(run_dask(py, n))
        x, h = statistics.median(xs), statistics.median(hs)
        over = (h - x) / n * 1e6 * CORES
        dask_cols = "not run | -"
        if ds:
            dk = statistics.median(ds)
            dask_cols = f"{n / dk:,.0f} | {dk / h:.2f}x"
        print(f"| {n:,} | {n / x:,.0f} | {n / h:,.0f} | {x / h:.2f} | {over:+.0f} µs | {dask_cols} | {max(rss) / 1024:.0f} MiB |")
    print(f"\nMedians of {runs} run(s) each. Overhead is per task per slot: (hpcluster - xargs) wall time x cores / tasks.\n")


def controller_load(seconds, jobs):
    fake = os.path.join(ROOT, "benches", "fake-slurm")
    with tempfile.TemporaryDirectory() as d:
        state = os.path.join(d, "state")
        os.makedirs(state)
        env = dict(os.environ, PATH=fake + os.pathsep + os.environ["PATH"], FAKE_STATE=state,
                   HPCLUSTER_CLUSTER_ROOT=os.path.join(d, "c"), HPCLUSTER_HOST="127.0.0.1")
        p = subprocess.Popen([BIN, "-q", "up", "--backend", "slurm", "--jobs", str(jobs),
                              "--max-jobs", str(jobs), "--walltime", "1h"], cwd=d, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(seconds)
        running = open(os.path.join(state, "calls")).read().splitlines()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
        calls = open(os.path.join(state, "calls")).read().splitlines()
    count = lambda c, lines=calls: sum(1 for line in lines if line.split()[0] == c)
    per_min = count("squeue", running) * 60.0 / seconds
    at_end = count("squeue") - count("squeue", running)
    print(f"### Controller load: {jobs:,} batch jobs tracked for {seconds} s (fake SLURM counting calls)\n")
    print("| sbatch calls for %d workers | squeue calls while running | squeue per minute | scancel calls at the end | squeue calls at the end |" % jobs)
    print("|---:|---:|---:|---:|---:|")
    print(f"| {count('sbatch')} | {count('squeue', running)} | {per_min:.1f} | {count('scancel')} | {at_end} |\n")
    print("One squeue per poll cycle for all batch jobs; the interval starts at `poll_interval` (10 s) and doubles while nothing changes, up to 2 min. "
          "At the end `up` cancels the batch jobs and polls at most 5 times over 15.5 s for their final state (this fake never ends them, the worst case).\n")


def cli_latency(runs):
    def median_ms(args):
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([BIN] + args, check=True, stdout=subprocess.DEVNULL, cwd=tempfile.gettempdir())
            ts.append((time.perf_counter() - t0) * 1000)
        return statistics.median(ts)
    t0 = time.perf_counter()
    for _ in range(runs):
        subprocess.run(["true"], check=True)
    true_ms = (time.perf_counter() - t0) * 1000 / runs
    print(f"### CLI latency (median of {runs} runs, release build)\n")
    print("| command | median | `true` for scale |")
    print("|---|---:|---:|")
    for args in (["render", "--backend", "slurm"], ["plan", "--walltime", "5h", "--task-time", "4h"]):
        print(f"| `hpcluster {' '.join(args)}` | {median_ms(args):.2f} ms | {true_ms:.2f} ms |")
    print()


def main():
    quick = "--quick" in sys.argv
    if quick:
        throughput([1_000], 1, with_dask=False)
        controller_load(15, 1_000)
        cli_latency(10)
    else:
        throughput([10_000], 3, with_dask=True)
        # Dask at 100,000 subprocess tasks would take most of the ten minutes on 2 cores.
        throughput([100_000], 1, with_dask=False)
        controller_load(60, 1_000)
        cli_latency(50)


if __name__ == "__main__":
    main()
