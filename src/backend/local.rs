//! The local backend (being built).
pub fn run_supervisor(_a: &crate::cli::LocalJobArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`local-job` is being built")
}
