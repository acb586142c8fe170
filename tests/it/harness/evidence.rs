//! What a run left, read the way a user could: the cluster directory (`jobs.json`,
//! `journal.jsonl`, task outputs, local batch jobs' pids), `status --json`, the summary line,
//! and the fakes' argv log.

use std::collections::HashMap;

use serde_json::Value;

use super::{wait_for, Finished, Test};

impl Test {
    /// `jobs.json` as the server records it (Null while it does not exist). Read directly:
    /// `status` would run a status command of its own when no server answers.
    pub fn jobs_json(&self) -> Value {
        std::fs::read(self.cluster_dir().join("jobs.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }

    fn recorded(&self, field: impl Fn(&Value) -> &Value) -> Vec<String> {
        self.jobs_json()["jobs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|j| field(j).as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The recorded states of the cluster's batch jobs, in submission order.
    pub fn recorded_states(&self) -> Vec<String> {
        self.recorded(|j| &j["state"])
    }

    /// The recorded IDs of the cluster's batch jobs, in submission order.
    pub fn recorded_ids(&self) -> Vec<String> {
        self.recorded(|j| &j["id"]["id"])
    }

    /// Waits until the cluster records `n` batch jobs, all in state `state`.
    pub fn wait_states(&self, n: usize, state: &str, secs: u64) {
        wait_for(secs, &format!("{n} batch job(s) {state}"), || {
            let st = self.recorded_states();
            (st.len() == n && st.iter().all(|s| s == state)).then_some(())
        });
    }

    /// Batch job id -> (started, ended) in Unix seconds, from `jobs.json`.
    pub fn job_times(&self) -> HashMap<String, (Option<f64>, Option<f64>)> {
        let secs = |v: &Value| {
            v["secs_since_epoch"]
                .as_f64()
                .map(|s| s + v["nanos_since_epoch"].as_f64().unwrap_or(0.0) / 1e9)
        };
        self.jobs_json()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                (
                    j["id"]["id"].as_str().unwrap().to_string(),
                    (secs(&j["started"]), secs(&j["ended"])),
                )
            })
            .collect()
    }

    /// `hpcluster status --json`: (id, state) of every batch job; empty if `status` fails.
    pub fn job_states(&self) -> Vec<(String, String)> {
        let out = self.run(&["status", "--json"]);
        if out.code != Some(0) {
            return Vec::new();
        }
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                (
                    j["id"].as_str().unwrap().to_string(),
                    j["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// The entries of `journal.jsonl`.
    pub fn journal(&self) -> Vec<Value> {
        std::fs::read_to_string(self.cluster_dir().join("journal.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// What task `id` printed on stdout (`tasks/NNN/ID.out`).
    pub fn task_output(&self, id: u64) -> String {
        let file = format!("tasks/{:03}/{id}.out", id / 1000);
        std::fs::read_to_string(self.cluster_dir().join(&file))
            .unwrap_or_else(|e| panic!("failed to read {file}: {e}"))
    }

    /// The pid of the supervisor of local batch job `local-N`.
    pub fn local_job_pid(&self, n: u32) -> i32 {
        let file = self.cluster_dir().join(format!("local/local-{n}/pid"));
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("failed to read {}: {e}", file.display()))
            .trim()
            .parse()
            .unwrap()
    }

    /// Pids of this cluster's workers.
    pub fn worker_pids(&self) -> Vec<i32> {
        let pattern = format!(
            "hpcluster worker --cluster-dir {}",
            self.cluster_dir().display()
        );
        let out = std::process::Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// The fake commands' argv log, one call per line.
    pub fn calls(&self) -> Vec<String> {
        self.fake_file("calls").lines().map(String::from).collect()
    }

    /// The calls of one fake command.
    pub fn calls_of(&self, program: &str) -> Vec<String> {
        let prefix = format!("{program} ");
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with(&prefix))
            .collect()
    }

    /// A file the fakes keep (`jobs`, `bsub-stdin`, ...); empty if absent.
    pub fn fake_file(&self, name: &str) -> String {
        std::fs::read_to_string(self.fake_state().join(name)).unwrap_or_default()
    }

    /// Every batch job the fake batch system created, one per array task in SLURM's spelling
    /// (`4101`, `4102_1`), with its name.
    pub fn fake_jobs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for line in self.fake_file("jobs").lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (n, name, tasks) = (f[0], f.get(1).copied().unwrap_or(""), f[f.len() - 1]);
            match tasks.parse::<u32>().unwrap_or(0) {
                0 => out.push((n.to_string(), name.to_string())),
                t => out.extend((1..=t).map(|i| (format!("{n}_{i}"), name.to_string()))),
            }
        }
        out
    }

    /// The fake batch system's live jobs: created and not cancelled (the tests that read it
    /// keep jobs running until they are cancelled).
    pub fn fake_live(&self) -> Vec<String> {
        let cancelled = self.fake_file("cancelled");
        let cancelled: Vec<&str> = cancelled.lines().collect();
        self.fake_jobs()
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| !cancelled.contains(&id.as_str()))
            .collect()
    }

    /// The most jobs the fake batch system ever held live at once.
    pub fn fake_max_live(&self) -> u32 {
        self.fake_file("max_live").trim().parse().unwrap_or(0)
    }

    /// Names under which the fake batch system created more than one submission.
    pub fn fake_duplicates(&self) -> Vec<String> {
        let mut seen = std::collections::HashMap::<String, u32>::new();
        for line in self.fake_file("jobs").lines() {
            if let Some(name) = line.split_whitespace().nth(1) {
                *seen.entry(name.to_string()).or_default() += 1;
            }
        }
        let mut dup: Vec<String> = seen
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, _)| k)
            .collect();
        dup.sort();
        dup
    }
}

/// The journal entries of one kind (`added`, `started`, `ended`).
pub fn ev<'a>(journal: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    journal.iter().filter(move |e| e["ev"] == kind)
}

/// `ended` entries of task `id` with outcome `outcome`.
pub fn ends(journal: &[Value], id: u64, outcome: &str) -> usize {
    ev(journal, "ended")
        .filter(|e| e["id"] == id && e["outcome"] == outcome)
        .count()
}

/// Every task 0..n ended `done` exactly once, and was added exactly once.
pub fn assert_each_done_once(journal: &[Value], n: u64, out: &str) {
    assert_eq!(ev(journal, "added").count() as u64, n, "{out}");
    for id in 0..n {
        assert_eq!(
            ends(journal, id, "done"),
            1,
            "task {id}: {journal:#?}\n{out}"
        );
    }
}

/// The summary line's numbers: (done, failed, not run, retried, killed by the walltime, jobs).
pub fn summary(out: &Finished) -> [u64; 6] {
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(" task(s) done, "))
        .unwrap_or_else(|| panic!("no summary line:\n{}", out.all()));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter(|w| !w.is_empty() && !w.contains('.'))
        .map(|w| w.parse().unwrap())
        .collect();
    [nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]]
}
