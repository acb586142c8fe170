//! Issue 9: the backend pages show what `render` prints. Each `docs/backend-<b>.md` shows
//! `examples/<b>.toml` under "Example configuration" and, under "The job script", the script
//! `render` prints for it with the two lines of [`FIXED`] added (so paths are the same on every
//! machine). This test renders it and compares, so the pages cannot drift from the code;
//! `HPCLUSTER_UPDATE_DOCS=1` rewrites the blocks instead (then review the diff).

use crate::harness::{Test, FIXED};

const BACKENDS: [&str; 5] = ["slurm", "sge", "pbs", "lsf", "local"];

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The byte range of the first ```` ```lang ```` block after `heading`, its content only.
fn block(page: &str, heading: &str, lang: &str) -> std::ops::Range<usize> {
    let at = page
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}`"));
    let open = format!("```{lang}\n");
    let start = at
        + page[at..]
            .find(&open)
            .unwrap_or_else(|| panic!("no {open}"))
        + open.len();
    let end = start + page[start..].find("```\n").unwrap();
    start..end
}

#[test]
fn every_backend_page_shows_its_example_and_the_script_render_prints() {
    let update = std::env::var_os("HPCLUSTER_UPDATE_DOCS").is_some();
    for b in BACKENDS {
        let path = root().join(format!("docs/backend-{b}.md"));
        let mut page = std::fs::read_to_string(&path).unwrap();
        let example = std::fs::read_to_string(root().join(format!("examples/{b}.toml"))).unwrap();
        let config = block(&page, "## Example configuration", "toml");
        if update {
            page.replace_range(config.clone(), &example);
        } else {
            assert_eq!(&page[config], example, "{b}: the example in the page");
        }
        let out = Test::new()
            .config(&format!("{example}{FIXED}"))
            .run(&["render", "--backend", b]);
        assert_eq!(out.code, Some(0), "{b}: {}", out.all());
        let script = block(&page, "## The job script", "bash");
        if update {
            page.replace_range(script, &out.stdout);
            std::fs::write(&path, &page).unwrap();
        } else {
            assert_eq!(
                &page[script], out.stdout,
                "{b}: docs/backend-{b}.md shows another script than `render` prints; run \
                 HPCLUSTER_UPDATE_DOCS=1 cargo test --test it docs_scripts and review the diff"
            );
        }
    }
}
