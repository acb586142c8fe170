//! `hpcluster config show`.
pub fn run(_r: &crate::config::Resolved, _json: bool) -> anyhow::Result<i32> {
    anyhow::bail!("`config show` is being built")
}
