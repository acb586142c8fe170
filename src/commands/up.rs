//! `hpcluster up`.
pub fn run(_r: crate::config::Resolved, _args: &crate::cli::UpArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`up` is being built")
}
