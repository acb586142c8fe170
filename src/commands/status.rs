//! `hpcluster status`.
pub fn run(_c: &crate::config::Config, _json: bool) -> anyhow::Result<i32> {
    anyhow::bail!("`status` is being built")
}
