//! Job scripts from Tera templates (placeholder until the template issue lands).

use std::time::Duration;

use crate::backend::BackendKind;

/// The walltime the backend grants for a request: LSF rounds down to minutes.
pub fn granted_walltime(kind: BackendKind, requested: Duration) -> Duration {
    match kind {
        BackendKind::Lsf => crate::duration::granted_lsf(requested),
        _ => requested,
    }
}

/// What a job script is rendered for, besides the configuration.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Unique batch job name (`<cluster name>-<n>`).
    pub job_name: String,
    /// Directory for the batch job's stdout/stderr files.
    pub log_directory: std::path::PathBuf,
    /// The worker command line, one word per element (quoted when rendered).
    pub worker_command: Vec<String>,
    /// Number of array tasks when submitted as an array job.
    pub array: Option<u32>,
}

/// Renders the job script for a configuration (placeholder: shebang, prologue, worker,
/// epilogue; directives come with the template work).
pub fn render_script(config: &crate::config::Config, job: &JobContext) -> anyhow::Result<String> {
    let mut out = format!("{}\n\n", config.shebang);
    for line in &config.job_script_prologue {
        out.push_str(line);
        out.push('\n');
    }
    let words: Vec<String> = job
        .worker_command
        .iter()
        .map(|w| shlex::try_quote(w).map(|q| q.into_owned()))
        .collect::<Result<_, _>>()?;
    out.push_str(&words.join(" "));
    out.push('\n');
    for line in &config.job_script_epilogue {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}
