//! The batch systems hpcluster can drive, by name: the one definition every layer shares
//! (configuration, command line, validation, backends), so it lives below all of them.

use serde::{Deserialize, Serialize};

/// A batch system (or the local machine) that runs hpcluster's worker batch jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Slurm,
    Sge,
    Pbs,
    Lsf,
    Local,
}

impl BackendKind {
    pub const ALL: [BackendKind; 5] = [
        BackendKind::Slurm,
        BackendKind::Sge,
        BackendKind::Pbs,
        BackendKind::Lsf,
        BackendKind::Local,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Slurm => "slurm",
            BackendKind::Sge => "sge",
            BackendKind::Pbs => "pbs",
            BackendKind::Lsf => "lsf",
            BackendKind::Local => "local",
        }
    }

    /// Parses a backend name; the error lists the names that exist.
    pub fn parse(s: &str) -> Result<BackendKind, String> {
        BackendKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown backend `{s}`: expected one of slurm, sge, pbs, lsf, local")
            })
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
