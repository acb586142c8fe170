//! Issue 13 acceptance: injection attempts against every batch system's directives. Each value
//! either is refused (exit 1, naming the key, no script printed) or is rendered into a script
//! with exactly the directive lines of a clean render: no value adds a `#SBATCH`, `#$`, `#PBS`
//! or `#BSUB` line, anywhere in the script, that the batch system would read.

use crate::harness::{Test, FIXED};

const BACKENDS: &[(&str, &str)] = &[
    ("slurm", "#SBATCH"),
    ("sge", "#$"),
    ("pbs", "#PBS"),
    ("lsf", "#BSUB"),
];

/// (variable, value with `{p}` for the backend's prefix, refused?).
const ATTEMPTS: &[(&str, &str, bool)] = &[
    ("HPCLUSTER_WORKER_PROGRAM", "/opt/h\n{p} -q stolen", true),
    ("HPCLUSTER_WORKER_PROGRAM", "/opt/h\r\n{p} -q stolen", true),
    (
        "HPCLUSTER_WORKER_PROGRAM",
        "/opt/my tools/it's hpcluster",
        false,
    ),
    ("HPCLUSTER_CLUSTER_ROOT", "/scratch\n{p} -q stolen", true),
    ("HPCLUSTER_NAME", "c\n{p} -q stolen", true),
    ("HPCLUSTER_QUEUE", "q\n{p} -q stolen", true),
    ("HPCLUSTER_QUEUE", "q {p} -q stolen", true),
    ("HPCLUSTER_LOG_DIRECTORY", "/l\n{p} -q stolen", true),
    ("HPCLUSTER_LOCAL_DIRECTORY", "/s\n{p} -q stolen", true),
    ("HPCLUSTER_LOCAL_DIRECTORY", "$TMPDIR/my scratch", false),
    ("HPCLUSTER_SHEBANG", "#!/bin/bash\n{p} -q stolen", true),
    (
        "HPCLUSTER_JOB_EXTRA_DIRECTIVES",
        "-l x\n{p} -q stolen",
        true,
    ),
    ("HPCLUSTER_JOB_EXTRA_DIRECTIVES", "{p} -q stolen", true),
    ("HPCLUSTER_RESOURCE_SPEC", "mem=1G\n{p} -q stolen", true),
    (
        "HPCLUSTER_JOB_SCRIPT_PROLOGUE",
        "echo '{p} -q stolen'",
        false,
    ),
    ("HPCLUSTER_HOST", "0.0.0.0\n{p} -q stolen", true),
];

fn directive_lines(script: &str, prefix: &str) -> usize {
    script.lines().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn no_value_adds_a_directive_line_on_any_batch_system() {
    let t = Test::new().config(FIXED);
    let mut checked = 0;
    for (backend, prefix) in BACKENDS {
        let clean = t.run_ok(&["render", "--backend", backend]);
        let expected = directive_lines(&clean, prefix);
        assert!(expected > 3, "{clean}");
        for (var, value, refused) in ATTEMPTS {
            let value = value.replace("{p}", prefix);
            let out = t
                .hpcluster(&["render", "--backend", backend])
                .env(var, &value)
                .output();
            let key = var.trim_start_matches("HPCLUSTER_").to_ascii_lowercase();
            let seen = format!("{backend} {var}={value:?}: {}", out.all());
            assert!(!out.stderr.contains("panicked"), "{seen}");
            if *refused {
                assert_eq!(out.code, Some(1), "{seen}");
                assert!(out.stdout.is_empty(), "{seen}");
                assert!(out.stderr.contains(&format!("`{key}`")), "{seen}");
            } else {
                assert_eq!(out.code, Some(0), "{seen}");
                assert_eq!(directive_lines(&out.stdout, prefix), expected, "{seen}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, BACKENDS.len() * ATTEMPTS.len());
}
