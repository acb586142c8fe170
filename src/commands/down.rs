//! `hpcluster down`.
pub fn run(_c: &crate::config::Config) -> anyhow::Result<i32> {
    anyhow::bail!("`down` is being built")
}
