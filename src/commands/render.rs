//! `hpcluster render`: print one job script.
pub fn run(_config: &crate::config::Config) -> anyhow::Result<i32> {
    anyhow::bail!("`render` is being built")
}
