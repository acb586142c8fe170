//! The directives the user controls. After rendering, a generated directive line is dropped
//! when it contains a `job_directives_skip` substring (dask-jobqueue's rule), or when one of
//! the user's `job_extra_directives` sets the same thing (`--mem-per-cpu` against the generated
//! `--mem`, SGE `-pe`, `-w e`): the user's line wins, once, and `render -v` notes the line
//! dropped. The user's lines are never dropped. The batch job's name and array are not the
//! user's to set: hpcluster finds its batch jobs by name.

use anyhow::bail;

use super::directive_prefix;
use super::directives::{identity_keys, keys, words};
use crate::config::Config;

/// Refuses `job_extra_directives` that would set the batch job's name or array.
pub fn check_extras(config: &Config) -> anyhow::Result<()> {
    let kind = config.backend;
    let identity = identity_keys(kind);
    let Some(prefix) = directive_prefix(kind) else {
        return Ok(());
    };
    for d in &config.job_extra_directives {
        let Some(w) = words(kind, &format!("{prefix} {d}")) else {
            continue;
        };
        if keys(kind, &w)
            .iter()
            .any(|k| identity.contains(&k.as_str()))
        {
            bail!(
                "invalid `job_extra_directives` entry `{d}`: it sets the batch job's name or \
                 array, which hpcluster sets itself to find its batch jobs by name \
                 (`<name>-<n>`); set `name` instead, or remove it"
            );
        }
    }
    Ok(())
}

/// Drops the generated directive lines the user skips or replaces.
pub fn apply(config: &Config, script: &str) -> String {
    let kind = config.backend;
    let Some(prefix) = directive_prefix(kind) else {
        return script.to_string();
    };
    let extra: Vec<String> = config
        .job_extra_directives
        .iter()
        .map(|d| format!("{prefix} {d}"))
        .collect();
    let extra_keys: Vec<(String, &str)> = config
        .job_extra_directives
        .iter()
        .zip(&extra)
        .flat_map(|(d, line)| {
            let k = words(kind, line).map_or(Vec::new(), |w| keys(kind, &w));
            k.into_iter().map(move |k| (k, d.as_str()))
        })
        .collect();
    // A generated line identical to one of the user's (SGE `-w e`) shows up more often than
    // the user wrote it: the surplus, which comes first, is hpcluster's.
    let mut surplus: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in &extra {
        let written = extra.iter().filter(|x| *x == e).count();
        let rendered = script.lines().filter(|l| l == e).count();
        surplus.insert(e.as_str(), rendered.saturating_sub(written));
    }
    let mut out = String::with_capacity(script.len());
    for line in script.lines() {
        if let Some(n) = surplus.get_mut(line).filter(|n| **n > 0) {
            *n -= 1;
            tracing::debug!("dropped `{line}`: `job_extra_directives` has it too");
            continue;
        }
        let generated = line.starts_with(&format!("{prefix} ")) && !extra.iter().any(|e| e == line);
        if generated {
            if let Some(s) = config
                .job_directives_skip
                .iter()
                .find(|s| line.contains(*s))
            {
                tracing::debug!("dropped `{line}`: `job_directives_skip` has `{s}`");
                continue;
            }
            let own = words(kind, line).map_or(Vec::new(), |w| keys(kind, &w));
            if let Some((_, d)) = extra_keys.iter().find(|(k, _)| own.contains(k)) {
                tracing::debug!("dropped `{line}`: `job_extra_directives` sets it with `{d}`");
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
