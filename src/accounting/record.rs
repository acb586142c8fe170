//! What a run was configured with, kept in `<cluster dir>/run.json` by `up` when it starts,
//! so `report` accounts a run by its own walltime, cores and slots, whatever the configuration
//! says when `report` runs (a run started with `--walltime 5s` is not reported at the default
//! 30 min). Written atomically; a cluster directory without it falls back to the configuration.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::budget::{parse_buffer, Budget, Scale};
use crate::config::Config;

/// The file's name in the cluster directory.
pub const FILE: &str = "run.json";

/// The settings of a run that its ledger and counterfactuals depend on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub cores: u32,
    pub slots: u32,
    /// The walltime the batch system grants, seconds.
    pub walltime: f64,
    /// The buffer as configured (`5%`, `15m`).
    pub buffer: String,
    pub startup: f64,
    pub task_time: Option<f64>,
    pub max_jobs: u32,
    /// `fast` or `frugal`.
    pub scale: String,
}

impl RunRecord {
    pub fn of(config: &Config) -> RunRecord {
        let b = config.budget();
        RunRecord {
            cores: config.cores,
            slots: b.slots,
            walltime: b.walltime.as_secs_f64(),
            buffer: b.buffer_rule.to_string(),
            startup: b.startup.as_secs_f64(),
            task_time: b.task_time.map(|t| t.as_secs_f64()),
            max_jobs: config.max_jobs,
            scale: b.scale.name().to_string(),
        }
    }

    /// The budget the run's batch jobs had (admission defaults for what is not recorded).
    pub fn budget(&self) -> Budget {
        let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
        let buffer = parse_buffer(&self.buffer).unwrap_or_default();
        Budget::new(secs(self.walltime), buffer, secs(self.startup), self.slots)
            .with_task_time(self.task_time.map(secs))
            .with_scale(Scale::parse(&self.scale).unwrap_or_default())
    }

    /// Writes `run.json` into the cluster directory `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        crate::atomic_file::write(&dir.join(FILE), &serde_json::to_vec_pretty(self)?)
    }

    /// Reads `run.json` from the cluster directory `dir`; `None` when absent or unreadable.
    pub fn read(dir: &Path) -> Option<RunRecord> {
        let bytes = std::fs::read(dir.join(FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_record_round_trips_and_gives_back_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            walltime: Duration::from_secs(5),
            cores: 4,
            slots: 2,
            ..Config::default()
        };
        let r = RunRecord::of(&config);
        r.write(dir.path()).unwrap();
        let back = RunRecord::read(dir.path()).unwrap();
        assert_eq!(back, r);
        let b = back.budget();
        assert_eq!(b.walltime, Duration::from_secs(5));
        assert_eq!(b.buffer, Duration::from_millis(250));
        assert_eq!((back.cores, b.slots), (4, 2));
        assert_eq!(RunRecord::read(&dir.path().join("none")), None);
    }
}
