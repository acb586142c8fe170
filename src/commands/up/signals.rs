//! Ctrl-C and SIGTERM while `up` runs. The first stops the server: batch-system queries in
//! flight give up at once, no further submission starts, and the server cancels every batch
//! job of the cluster and waits a little for their end. A second one exits at once, after
//! saying which batch jobs may still be queued or running and how to cancel them.

use std::path::{Path, PathBuf};

use tokio::signal::unix::{signal, SignalKind};

use crate::backend::timed::Stop;
use crate::cluster_dir::server_file::ServerFile;
use crate::cluster_dir::{ClusterDir, SubmissionState};

/// Starts listening; the returned future completes at the first signal.
pub fn listen(stop: Stop, dir: PathBuf, name: String) -> impl std::future::Future<Output = ()> {
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let signals =
        signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?)));
    match signals {
        Ok((mut int, mut term)) => {
            tokio::spawn(async move {
                let what = tokio::select! {
                    _ = int.recv() => "interrupted (Ctrl-C)",
                    _ = term.recv() => "terminated (SIGTERM)",
                };
                tracing::info!("{what}: cancelling the batch jobs (a second Ctrl-C exits at once)");
                stop.stop();
                let _ = first_tx.send(());
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                eprintln!("{}", left_behind(&dir, &name));
                ServerFile::remove(&dir);
                std::process::exit(130);
            });
        }
        Err(e) => tracing::warn!("Ctrl-C cannot be caught ({e}): it ends `up` without cancelling"),
    }
    async move {
        if first_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What a second signal leaves behind, from `jobs.json`, and how to clean it up.
pub fn left_behind(dir: &Path, name: &str) -> String {
    let jobs = ClusterDir::open(dir)
        .and_then(|d| d.load_jobs())
        .unwrap_or_default();
    let live: Vec<String> = jobs
        .jobs
        .iter()
        .filter(|j| !j.is_settled())
        .map(|j| j.id.to_string())
        .collect();
    let open: Vec<String> = jobs
        .submissions
        .iter()
        .filter(|s| s.state == SubmissionState::Sent)
        .map(|s| format!("`{}`", s.name))
        .collect();
    if live.is_empty() && open.is_empty() {
        return "interrupted again: exiting at once; no batch job of this cluster is left".into();
    }
    let mut msg = "interrupted again: exiting at once, leaving".to_string();
    if !live.is_empty() {
        msg.push_str(&format!(
            " batch job(s) not known to have ended: {}",
            live.join(" ")
        ));
    }
    if !open.is_empty() {
        if !live.is_empty() {
            msg.push_str(" and");
        }
        msg.push_str(&format!(
            " the batch job(s) submitted as {} may exist",
            open.join(", ")
        ));
    }
    msg.push_str(&format!(
        "; cancel them with `hpcluster down --name {name}` (`hpcluster status --name {name}` shows them)"
    ));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::JobId;
    use crate::backend_kind::BackendKind;
    use crate::cluster_dir::{JobRecord, Jobs, SubmissionRecord};

    #[test]
    fn what_is_left_behind_names_jobs_names_and_the_way_out() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ClusterDir::create(tmp.path()).unwrap();
        assert_eq!(
            left_behind(tmp.path(), "c"),
            "interrupted again: exiting at once; no batch job of this cluster is left"
        );
        let now = std::time::SystemTime::now();
        let jobs = Jobs {
            submissions: vec![SubmissionRecord {
                name: "c-2".into(),
                array: None,
                state: SubmissionState::Sent,
                at: now,
            }],
            jobs: vec![JobRecord::new(JobId::new("4101"), "c-1", now)],
            excluded_nodes: Vec::new(),
        };
        dir.save_jobs(BackendKind::Slurm, &jobs).unwrap();
        assert_eq!(
            left_behind(tmp.path(), "c"),
            "interrupted again: exiting at once, leaving batch job(s) not known to have ended: \
             4101 and the batch job(s) submitted as `c-2` may exist; cancel them with \
             `hpcluster down --name c` (`hpcluster status --name c` shows them)"
        );
    }
}
