//! Issue 9: every directory a job script names for its batch job's output exists before the
//! script is submitted (a batch system does not create it: SLURM fails the batch job at launch,
//! `JobLaunchFailure`, with no output to read): `log_directory`, relative or absolute, the
//! cluster directory's `logs`, and any directory a template of the user's puts in a directive.
//! `render` and `up --dry-run` say which `up` would create; one that cannot be created stops
//! `up` before anything is submitted. The fake `sbatch` records any output directory missing
//! when it is called (`missing_dirs`), as a real slurmd would find it at launch.

use crate::harness::Test;

fn fake(prefix: &str) -> Test {
    Test::new()
        .cluster(prefix)
        .fakes()
        .poll("200ms")
        .env("FAKE_RUNNING_POLLS", "1000000")
}

#[test]
fn relative_and_absolute_log_directories_are_created_before_submitting() {
    for (i, written) in ["rel/logs", "ABS/deep/logs"].iter().enumerate() {
        let t = fake(&format!("dirs{i}"));
        let written = written.replace("ABS", t.path().to_str().unwrap());
        let t = t.env("HPCLUSTER_LOG_DIRECTORY", &written);
        let dir = t.path().join(&written);
        assert!(!dir.exists());
        let out = t.up_until(&["--backend", "slurm", "--jobs", "1"], 1, "running");
        assert!(dir.is_dir(), "{}: {}", dir.display(), out.all());
        assert_eq!(t.fake_file("missing_dirs"), "", "{}", out.all());
        let script =
            std::fs::read_to_string(t.cluster_dir().join(format!("scripts/{}-1.sh", t.name())))
                .unwrap();
        assert!(
            script.contains(&format!(
                "#SBATCH -e {}/{}-1-%J.err\n",
                dir.display(),
                t.name()
            )),
            "{script}"
        );
    }
}

#[test]
fn render_and_dry_run_say_which_directories_up_creates() {
    let t = Test::new().env("HPCLUSTER_LOG_DIRECTORY", "rel/logs");
    let dir = t.path().join("rel/logs");
    let out = t.run(&["render", "--backend", "slurm"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stderr.contains(&format!(
            "`up` creates `{}` before submitting: the script writes its batch job's output there",
            dir.display()
        )),
        "{}",
        out.all()
    );
    let dry = t
        .hpcluster(&["up", "--dry-run", "--backend", "slurm", "--jobs", "1"])
        .env("PATH", t.path())
        .ok();
    assert!(
        dry.contains(&format!(
            "# up creates first (the script writes output there): {}\n",
            dir.display()
        )),
        "{dry}"
    );
    assert!(!dir.exists(), "a dry run creates nothing");
}

#[test]
fn a_directory_a_template_names_is_created_too() {
    let t = fake("tpldir");
    let tpl = t.write(
        "my.sh.tera",
        "{{ shebang }}\n#SBATCH -J {{ job_name }}\n#SBATCH --output=tpl/out/%j.out\n\
         {{ worker_command }}\n",
    );
    let t = t.env("HPCLUSTER_TEMPLATE", tpl.to_str().unwrap());
    let out = t.up_until(&["--backend", "slurm", "--jobs", "1"], 1, "running");
    // Relative to where the submit command runs: the cluster directory's `logs`.
    let dir = t.cluster_dir().join("logs/tpl/out");
    assert!(dir.is_dir(), "{}", out.all());
    assert_eq!(t.fake_file("missing_dirs"), "", "{}", out.all());
}

#[test]
fn a_file_in_the_way_stops_up_before_anything_is_submitted() {
    let t = fake("inway").env("HPCLUSTER_LOG_DIRECTORY", "afile");
    t.write("afile", "not a directory\n");
    let out = t.run(&["up", "--backend", "slurm", "--jobs", "1"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr.contains(&format!(
            "error: `{}` is not a directory, but a job script writes its batch job's output into \
             it: move the file away, or set `log_directory` elsewhere",
            t.path().join("afile").display()
        )),
        "{}",
        out.all()
    );
    assert_eq!(t.calls_of("sbatch"), Vec::<String>::new());
    assert!(t.jobs_json()["submissions"]
        .as_array()
        .is_none_or(|s| s.is_empty()));
}
