//! `hpcluster submit`.
pub fn run(_c: &crate::config::Config, _a: &crate::cli::SubmitArgs) -> anyhow::Result<i32> {
    anyhow::bail!("`submit` is being built")
}
