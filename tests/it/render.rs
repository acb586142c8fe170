//! Rendered job scripts for every backend over several configurations (insta snapshots), the
//! dask-jobqueue SLURMCluster equivalence, directive skipping and array jobs.

use hpcluster::backend_kind::BackendKind;
use hpcluster::config::Config;
use hpcluster::template::{render_script, JobContext};

use crate::harness::{Test, FIXED};

const BATCH: [&str; 4] = ["slurm", "sge", "pbs", "lsf"];

fn render(config: &str, backend: &str) -> String {
    let out =
        Test::new()
            .config(&format!("{FIXED}{config}"))
            .run(&["render", "--backend", backend]);
    assert_eq!(
        out.code,
        Some(0),
        "render --backend {backend} failed: {}",
        out.stderr
    );
    out.stdout
}

fn snapshot_all(case: &str, config: &str) {
    for backend in BATCH {
        let script = render(config, backend);
        insta::assert_snapshot!(format!("{backend}_{case}"), script);
    }
}

#[test]
fn defaults() {
    snapshot_all("defaults", "");
    insta::assert_snapshot!("local_defaults", render("", "local"));
}

#[test]
fn queue_charge_extra_directives_prologue() {
    let common = r#"
queue = "regular"
walltime = "5h"
task_time = "4h"
job_script_prologue = ["module load python/3.11", "source $HOME/venv/bin/activate"]
job_script_epilogue = ["echo done"]
"#;
    for backend in BATCH {
        let (charge, extra) = match backend {
            "slurm" => ("account = \"myaccount\"", "--exclusive"),
            "pbs" => ("account = \"myaccount\"", "-l place=excl"),
            "sge" => ("project = \"myproject\"", "-l exclusive=true"),
            _ => ("project = \"myproject\"", "-x"),
        };
        let config = format!("{common}{charge}\njob_extra_directives = [\"{extra}\"]\n");
        let script = render(&config, backend);
        assert!(script.contains(&format!("{extra}\n")), "{script}");
        insta::assert_snapshot!(format!("{backend}_queue_charge_extra_prologue"), script);
    }
}

#[test]
fn several_slots() {
    snapshot_all(
        "several_slots",
        "cores = 8\nslots = 4\nmemory = \"16GiB\"\nwalltime = \"1-12:00:00\"\ntask_time = \"50m\"\n",
    );
}

#[test]
fn odd_memory_sizes() {
    snapshot_all(
        "odd_memory",
        "cores = 3\nmemory = \"1500MB\"\nwalltime = \"90m30s\"\nname = \"odd.mem_1\"\n",
    );
    let small = render("memory = 5000\nlsf_units = \"kb\"\n", "lsf");
    assert!(small.contains("#BSUB -M 5\n"), "{small}");
    let small = render("memory = 5000\n", "slurm");
    assert!(small.contains("#SBATCH --mem=5K\n"), "{small}");
}

/// dask-jobqueue 0.9.0: SLURMCluster(cores=24, memory="100GB", queue="regular",
/// account="myaccount", walltime="02:00:00", job_extra_directives=["--qos=high"]).
#[test]
fn dask_slurm_cluster_equivalence() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/dask-slurm.toml"
    ))
    .unwrap();
    let out = Test::new()
        .config(&format!("{example}{FIXED}"))
        .run(&["render"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let script = out.stdout;
    let directives: Vec<&str> = script
        .lines()
        .filter(|l| l.starts_with("#SBATCH"))
        .collect();
    let logs = "/scratch/me/.hpcluster/hpcluster/logs/hpcluster-1";
    assert_eq!(
        directives,
        [
            "#SBATCH -J hpcluster-1".to_string(),
            format!("#SBATCH -e {logs}-%J.err"),
            format!("#SBATCH -o {logs}-%J.out"),
            "#SBATCH -p regular".to_string(),
            "#SBATCH -A myaccount".to_string(),
            "#SBATCH -n 1".to_string(),
            "#SBATCH --cpus-per-task=24".to_string(),
            "#SBATCH --mem=94G".to_string(),
            "#SBATCH -t 02:00:00".to_string(),
            "#SBATCH --qos=high".to_string(),
        ]
    );
    assert!(script.starts_with("#!/usr/bin/env bash\n\n#SBATCH -J"));
}

#[test]
fn skip_drops_generated_lines_but_keeps_extra_directives() {
    let script = render(
        "memory = \"4GB\"\njob_directives_skip = [\"--mem\"]\njob_extra_directives = [\"--mem-per-cpu=2G\"]\n",
        "slurm",
    );
    assert!(!script.contains("--mem=4G"), "{script}");
    assert!(script.contains("#SBATCH --mem-per-cpu=2G\n"), "{script}");
    assert!(script.contains("#SBATCH -t 00:30:00\n"), "{script}");
}

#[test]
fn resource_spec_replaces_the_generated_resource_line() {
    let config = "cores = 4\nmemory = \"8GB\"\nresource_spec = \"mem_free=8G,h_vmem=8G\"\n";
    let sge = render(config, "sge");
    assert!(sge.contains("#$ -l mem_free=8G,h_vmem=8G\n"), "{sge}");
    assert!(!sge.contains("h_vmem=1908M"), "{sge}");
    assert!(sge.contains("#$ -pe smp 4\n"), "{sge}");
    let pbs = render("resource_spec = \"select=2:ncpus=8\"\n", "pbs");
    assert!(pbs.contains("#PBS -l select=2:ncpus=8\n"), "{pbs}");
    assert!(!pbs.contains("ncpus=1"), "{pbs}");
}

#[test]
fn sge_shell_comes_from_the_shebang() {
    let script = render("shebang = \"#!/bin/zsh -l\"\n", "sge");
    assert!(script.starts_with("#!/bin/zsh -l\n"), "{script}");
    assert!(script.contains("#$ -S /bin/zsh\n"), "{script}");
}

#[test]
fn user_template_overrides_the_builtin_one() {
    let sandbox = Test::new();
    let tpl = sandbox.write(
        "my.sh.tera",
        "{{ shebang }}\n#MY {{ job_name }} {{ walltime }}\n{{ worker_command }}\n",
    );
    let sandbox = sandbox.config(&format!(
        "{FIXED}backend = \"pbs\"\ntemplate = \"{}\"\n",
        tpl.display()
    ));
    let out = sandbox.run(&["render"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let script = out.stdout;
    assert!(script.contains("#MY hpcluster-1 00:30:00\n"), "{script}");
    assert!(!script.contains("#PBS"), "{script}");
}

fn array_script(backend: BackendKind) -> String {
    let config = Config {
        backend,
        name: "arr".to_string(),
        ..Config::default()
    };
    let job = JobContext {
        job_name: "arr-1".to_string(),
        log_directory: "/logs".into(),
        worker_command: vec![
            "hpcluster".into(),
            "worker".into(),
            "--x".into(),
            "a b".into(),
        ],
        array: Some(7),
    };
    render_script(&config, &job).unwrap()
}

#[test]
fn array_directives_per_backend() {
    let slurm = array_script(BackendKind::Slurm);
    assert!(slurm.contains("#SBATCH --array=1-7\n"), "{slurm}");
    assert!(
        slurm.contains("#SBATCH -o /logs/arr-1-%A_%a.out\n"),
        "{slurm}"
    );
    assert!(slurm.contains("hpcluster worker --x 'a b'\n"), "{slurm}");
    assert!(array_script(BackendKind::Sge).contains("#$ -t 1-7\n"));
    assert!(array_script(BackendKind::Pbs).contains("#PBS -J 1-7\n"));
    let lsf = array_script(BackendKind::Lsf);
    assert!(lsf.contains("#BSUB -J \"arr-1[1-7]\"\n"), "{lsf}");
    assert!(lsf.contains("#BSUB -o /logs/arr-1-%J_%I.out\n"), "{lsf}");
}

#[test]
fn lsf_walltime_is_rounded_down_to_minutes() {
    let script = render("walltime = \"1h30m59s\"\ntask_time = \"1h\"\n", "lsf");
    assert!(script.contains("#BSUB -W 01:30\n"), "{script}");
    assert!(script.contains("--walltime 1h30m"), "{script}");
}

#[test]
fn local_directory_is_exported_for_the_compute_node_shell_to_expand() {
    for backend in ["slurm", "sge", "pbs", "lsf", "local"] {
        let script = render("local_directory = \"$TMPDIR/hp\"\n", backend);
        let export = "export HPCLUSTER_LOCAL_DIRECTORY=\"$TMPDIR/hp\"\n";
        assert!(script.contains(export), "{backend}: {script}");
        let worker = script.lines().position(|l| l.contains(" worker ")).unwrap();
        let line = script
            .lines()
            .position(|l| l.starts_with("export HPCLUSTER_LOCAL"))
            .unwrap();
        assert!(
            line < worker,
            "{backend}: exported after the worker starts\n{script}"
        );
    }
    assert!(!render("", "slurm").contains("HPCLUSTER_LOCAL_DIRECTORY"));
}

/// Issue 9: a two-field walltime is read as the backend's own submit command reads it (LSF's
/// `bsub -W` takes `05:00` as 5 hours, the others as 5 minutes), never `-W 00:05`.
#[test]
fn two_field_walltimes_mean_what_each_backend_reads() {
    let cases = [
        ("slurm", "#SBATCH -t 00:05:00\n", "--walltime 5m"),
        ("sge", "#$ -l h_rt=00:05:00\n", "--walltime 5m"),
        ("pbs", "#PBS -l walltime=00:05:00\n", "--walltime 5m"),
        ("lsf", "#BSUB -W 05:00\n", "--walltime 5h"),
        ("local", "#!/usr/bin/env bash\n", "--walltime 5m"),
    ];
    for (backend, directive, worker) in cases {
        let script = render("walltime = \"05:00\"\n", backend);
        assert!(script.contains(directive), "{backend}: {script}");
        assert!(script.contains(worker), "{backend}: {script}");
        assert!(!script.contains("-W 00:05"), "{backend}: {script}");
    }
    let t = Test::new().config(&format!("{FIXED}backend = \"lsf\"\nwalltime = \"05:00\"\n"));
    let out = t.run(&["render"]);
    assert!(
        out.stderr.contains(
            "walltime `05:00` read as 5h: LSF's `bsub -W` takes a bare number as minutes and A:B \
             as hours:minutes; write \"5h\" to mean it on every backend"
        ),
        "{}",
        out.all()
    );
    let show = t.run_ok(&["config", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(v["walltime"]["value"], "5h");
    assert!(v["walltime"]["read_as"]
        .as_str()
        .unwrap()
        .starts_with("`05:00` read as 5h"));
    // A flag that changes the backend changes the reading of the file's walltime.
    let slurm = t.run_ok(&["render", "--backend", "slurm"]);
    assert!(slurm.contains("#SBATCH -t 00:05:00\n"), "{slurm}");
}

/// Issue 9: a `job_extra_directives` line that sets what hpcluster would set replaces the
/// generated line (no duplicate directives), and `render -v` says which line was dropped.
#[test]
fn the_users_directive_replaces_the_generated_one() {
    // dask-jobqueue's SGE test (test_sge.py, test_job_script) gives `-w e`, which hpcluster
    // also generates.
    let sge = render(
        "cores = 8\njob_extra_directives = [\"-w e\", \"-m e\", \"-pe mpi 8\"]\n",
        "sge",
    );
    assert_eq!(sge.matches("-w e").count(), 1, "{sge}");
    assert!(
        sge.contains("#$ -pe mpi 8\n") && !sge.contains("-pe smp"),
        "{sge}"
    );
    let out = Test::new()
        .config(&format!(
            "{FIXED}memory = \"4GB\"\njob_extra_directives = [\"--mem-per-cpu=2G\", \"-p gpu\"]\n\
             queue = \"regular\"\n"
        ))
        .run(&["render", "--backend", "slurm", "-v"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        !out.stdout.contains("--mem=4G") && !out.stdout.contains("-p regular"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("#SBATCH --mem-per-cpu=2G\n#SBATCH -p gpu\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(
            "dropped `#SBATCH --mem=4G`: `job_extra_directives` sets it with `--mem-per-cpu=2G`"
        ),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("dropped `#SBATCH -p regular`: `job_extra_directives` sets it with `-p gpu`"),
        "{}",
        out.all()
    );
}

/// Issue 9: `job_directives_skip` drops any directive hpcluster emits: SGE's `-cwd` and `-j y`
/// are directives of the script now, not `qsub` arguments, and LSF's command line has no `-o`.
#[test]
fn skipped_directives_are_gone_from_the_script_and_the_command_line() {
    let t = Test::new().config(&format!(
        "{FIXED}job_directives_skip = [\"-cwd\", \"-j y\"]\n"
    ));
    let out = t
        .hpcluster(&["up", "--dry-run", "--backend", "sge", "--jobs", "1"])
        .env("PATH", t.path())
        .ok();
    assert!(!out.contains("-cwd") && !out.contains("-j y"), "{out}");
    assert!(out.contains("# submit (in "), "{out}");
    assert!(out.contains(": qsub -terse -N hpcluster-1 /"), "{out}");
    let lsf = Test::new()
        .config(FIXED)
        .hpcluster(&["up", "--dry-run", "--backend", "lsf", "--jobs", "1"])
        .ok();
    assert!(lsf.contains(": bsub -J hpcluster-1 < /"), "{lsf}");
}

/// Issue 11: with `checkpoint_signal` set, each script asks its batch system for SIGUSR1
/// `checkpoint_lead` before the end where it can (SLURM `--signal=B:USR1@<s>`, SGE's soft
/// walltime `s_rt`, LSF `-wa USR1` and `-wt <min>`; PBS has none) and runs the worker in the
/// background, passing SIGUSR1 on to it; without it the scripts are as before.
#[test]
fn the_batch_systems_warning_comes_checkpoint_lead_before_the_end() {
    let config = "walltime = \"2h\"\ncheckpoint_signal = \"USR2\"\ncheckpoint_lead = \"90s\"\n";
    snapshot_all("checkpoint_warning", config);
    let wants: [(&str, &[&str]); 4] = [
        ("slurm", &["#SBATCH --signal=B:USR1@90\n"]),
        ("lsf", &["#BSUB -wa USR1\n#BSUB -wt 2\n"]),
        ("sge", &["#$ -l h_rt=02:00:00\n#$ -l s_rt=01:58:30\n"]),
        ("pbs", &[]),
    ];
    for (backend, lines) in wants {
        let script = render(config, backend);
        for line in lines {
            assert!(script.contains(line), "{backend}: {script}");
        }
        assert!(
            script.contains("trap 'kill -USR1 \"$hpcluster_worker\" 2>/dev/null' USR1\n")
                && script.contains(" --backend ")
                && script.contains(" &\nhpcluster_worker=$!\n"),
            "{backend}: the worker runs in the background: {script}"
        );
        let plain = render("walltime = \"2h\"\n", backend);
        assert!(!plain.contains("USR1"), "{backend}: {plain}");
        assert!(!plain.contains("hpcluster_worker"), "{backend}: {plain}");
    }
    let local = render(config, "local");
    assert!(local.contains("hpcluster_worker=$!"), "{local}");
    assert!(
        !local.contains("--signal=") && !local.contains("-wa USR1"),
        "{local}"
    );
}

/// The warning's directives are generated lines like any other: skipped by
/// `job_directives_skip`, replaced by a `job_extra_directives` line setting the same option.
#[test]
fn the_warning_directives_can_be_skipped_or_replaced() {
    let ck = "checkpoint_signal = \"USR1\"\ncheckpoint_lead = \"5m\"\n";
    let skipped = render(
        &format!("{ck}job_directives_skip = [\"--signal\"]\n"),
        "slurm",
    );
    assert!(!skipped.contains("--signal"), "{skipped}");
    let replaced = render(
        &format!("{ck}job_extra_directives = [\"--signal=B:USR1@600\"]\n"),
        "slurm",
    );
    assert!(
        replaced.contains("#SBATCH --signal=B:USR1@600\n"),
        "{replaced}"
    );
    assert!(!replaced.contains("@300"), "{replaced}");
    let sge = render(
        &format!("{ck}job_extra_directives = [\"-l s_rt=0:0:10\"]\n"),
        "sge",
    );
    assert!(sge.contains("#$ -l s_rt=0:0:10\n"), "{sge}");
    assert_eq!(sge.matches("s_rt").count(), 1, "{sge}");
    let sge = render(&format!("{ck}job_directives_skip = [\"s_rt\"]\n"), "sge");
    assert!(!sge.contains("s_rt") && sge.contains("h_rt"), "{sge}");
    let lsf = render(&format!("{ck}job_directives_skip = [\"-wt\"]\n"), "lsf");
    assert!(lsf.contains("#BSUB -wa USR1\n"), "{lsf}");
    assert!(!lsf.contains("-wt"), "{lsf}");
    // Seconds that do not make a whole minute round up: LSF warns at least the lead ahead.
    let lsf = render(
        "checkpoint_signal = \"USR1\"\ncheckpoint_lead = \"61s\"\n",
        "lsf",
    );
    assert!(lsf.contains("#BSUB -wt 2\n"), "{lsf}");
}
