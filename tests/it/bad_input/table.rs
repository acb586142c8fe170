//! Issue 13 acceptance: over 100 bad inputs through the binary, one row each: configuration keys
//! (in the file and the environment), flags and tasks files (plain, `.jsonl`, `.toml`) given to
//! `render`, `config show`, `plan`, `up --dry-run` and `submit`. Every row exits with the status
//! it names (1, or 2 for what clap refuses), says `error:`, names the thing (every expected
//! fragment is on stderr), prints nothing on stdout and never panics.

use crate::harness::Test;

/// One bad input: what is run, in which sandbox, and what it must answer.
#[derive(Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub args: &'static [&'static str],
    pub env: &'static [(&'static str, &'static str)],
    /// Files written into the sandbox first (`hpcluster.toml` is the config).
    pub files: &'static [(&'static str, &'static str)],
    pub exit: i32,
    pub words: &'static [&'static str],
}

/// Runs one case; returns what is wrong with its answer, if anything.
pub fn check(case: &Case) -> Option<String> {
    let t = Test::new();
    for (file, text) in case.files {
        t.write(file, text);
    }
    let out = t.hpcluster(case.args).envs(case.env).output();
    let mut wrong = Vec::new();
    if out.code != Some(case.exit) {
        wrong.push(format!("exit {:?}, expected {}", out.code, case.exit));
    }
    if out.stderr.contains("panicked") {
        wrong.push("it panicked".to_string());
    }
    if !out.stdout.is_empty() {
        wrong.push("something on stdout".to_string());
    }
    if !out.stderr.contains("error: ") {
        wrong.push("no `error: ` on stderr".to_string());
    }
    for w in case.words {
        if !out.stderr.contains(w) {
            wrong.push(format!("missing {w:?}"));
        }
    }
    (!wrong.is_empty()).then(|| format!("{}: {}\n{}", case.name, wrong.join("; "), out.all()))
}

/// Runs every case, a few at a time, and fails once with every wrong answer.
pub fn check_all(cases: &[Case]) {
    let failures: Vec<String> = std::thread::scope(|s| {
        cases
            .chunks(cases.len().div_ceil(6).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().filter_map(check).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|h| h.join().expect("a checking thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

const RENDER: &[&str] = &["render", "--backend", "slurm"];
const RENDER_SGE: &[&str] = &["render", "--backend", "sge"];
const SHOW: &[&str] = &["config", "show"];
/// `up --dry-run` of the tasks file `t.<ext>`.
macro_rules! dry {
    ($file:expr) => {
        &[
            "up",
            "--dry-run",
            "--backend",
            "slurm",
            "--walltime",
            "1h",
            "--task-time",
            "1m",
            "--tasks",
            $file,
        ]
    };
}
const PLAN: &[&str] = &["plan", "--walltime", "1h", "--task-time", "1m"];

macro_rules! case {
    ($name:ident, $args:expr, env $env:expr, files $files:expr, $exit:expr => $($w:expr),+) => {
        Case {
            name: stringify!($name),
            args: $args,
            env: $env,
            files: $files,
            exit: $exit,
            words: &[$($w),+],
        }
    };
}

/// A line break in every key whose text reaches a job script, from the environment.
pub const NEWLINE_IN_ENV: &[Case] = &[
    case!(name_nl, RENDER, env &[("HPCLUSTER_NAME", "a\nb")], files &[], 1 => "invalid `name` \"a\\nb\"", "line break", "`HPCLUSTER_NAME`"),
    case!(queue_nl, RENDER, env &[("HPCLUSTER_QUEUE", "q\n#SBATCH --uid=0")], files &[], 1 => "invalid `queue`", "line break"),
    case!(account_nl, RENDER, env &[("HPCLUSTER_ACCOUNT", "a\n#SBATCH -A x")], files &[], 1 => "invalid `account`", "line break"),
    case!(project_nl, RENDER_SGE, env &[("HPCLUSTER_PROJECT", "p\n#$ -P x")], files &[], 1 => "invalid `project`", "line break"),
    case!(resource_spec_nl, RENDER_SGE, env &[("HPCLUSTER_RESOURCE_SPEC", "h_vmem=1G\n#$ -l h_rt=99:00:00")], files &[], 1 => "invalid `resource_spec`", "line break"),
    case!(pe_nl, RENDER_SGE, env &[("HPCLUSTER_SGE_PARALLEL_ENVIRONMENT", "smp\n#$ -q x")], files &[], 1 => "invalid `sge_parallel_environment`", "line break"),
    case!(mem_res_nl, RENDER_SGE, env &[("HPCLUSTER_SGE_MEMORY_RESOURCE", "h_vmem\n#$ -q x")], files &[], 1 => "invalid `sge_memory_resource`", "line break"),
    case!(log_dir_nl, RENDER, env &[("HPCLUSTER_LOG_DIRECTORY", "/l\n#SBATCH --uid=0")], files &[], 1 => "invalid `log_directory`", "line break"),
    case!(cluster_root_nl, RENDER, env &[("HPCLUSTER_CLUSTER_ROOT", "/r\n#SBATCH --uid=0")], files &[], 1 => "invalid `cluster_root`", "line break"),
    case!(interface_nl, RENDER, env &[("HPCLUSTER_INTERFACE", "ib0\nx")], files &[], 1 => "invalid `interface`", "line break"),
    case!(host_nl, RENDER, env &[("HPCLUSTER_HOST", "0.0.0.0\nx")], files &[], 1 => "invalid `host`", "line break"),
    case!(extra_nl, RENDER, env &[("HPCLUSTER_JOB_EXTRA_DIRECTIVES", "--qos=a\n#SBATCH --uid=0")], files &[], 1 => "invalid `job_extra_directives`", "line break"),
    case!(skip_nl, RENDER, env &[("HPCLUSTER_JOB_DIRECTIVES_SKIP", "--mem\nx")], files &[], 1 => "invalid `job_directives_skip`", "line break"),
    case!(local_dir_nl, RENDER, env &[("HPCLUSTER_LOCAL_DIRECTORY", "/s\n#SBATCH --uid=0")], files &[], 1 => "invalid `local_directory`", "line break"),
    case!(shebang_nl, RENDER, env &[("HPCLUSTER_SHEBANG", "#!/bin/bash\n#SBATCH --uid=0")], files &[], 1 => "invalid `shebang`", "line break"),
    case!(worker_program_nl_sge, RENDER_SGE, env &[("HPCLUSTER_WORKER_PROGRAM", "/opt/h\n#$ -l h_rt=999:00:00")], files &[], 1 => "error: invalid `worker_program` \"/opt/h\\n#$ -l h_rt=999:00:00\": it contains a line break", "(set by environment variable `HPCLUSTER_WORKER_PROGRAM`)"),
    case!(worker_program_nl_slurm, RENDER, env &[("HPCLUSTER_WORKER_PROGRAM", "/opt/h\n#SBATCH -t 99:00:00")], files &[], 1 => "invalid `worker_program`", "line break"),
    case!(worker_program_cr, &["render", "--backend", "pbs"], env &[("HPCLUSTER_WORKER_PROGRAM", "/opt/h\r#PBS -q x")], files &[], 1 => "invalid `worker_program`", "line break"),
    case!(worker_program_nl_lsf, &["render", "--backend", "lsf"], env &[("HPCLUSTER_WORKER_PROGRAM", "/opt/h\n#BSUB -q x")], files &[], 1 => "invalid `worker_program`"),
    case!(worker_program_nl_show, SHOW, env &[("HPCLUSTER_WORKER_PROGRAM", "/opt/h\nx")], files &[], 1 => "invalid `worker_program`"),
    case!(worker_program_nl_plan, PLAN, env &[("HPCLUSTER_WORKER_PROGRAM", "/opt/h\nx")], files &[], 1 => "invalid `worker_program`"),
    case!(name_nl_show, SHOW, env &[("HPCLUSTER_NAME", "a\nb")], files &[], 1 => "invalid `name`"),
    case!(queue_nl_dry, &["up", "--dry-run", "--backend", "slurm"], env &[("HPCLUSTER_QUEUE", "q\nx")], files &[], 1 => "invalid `queue`"),
    case!(submit_nl, &["submit", "--", "echo"], env &[("HPCLUSTER_CLUSTER_ROOT", "/r\nx")], files &[], 1 => "invalid `cluster_root`"),
];

/// A NUL byte (which no environment variable can hold) in every key that takes text, from the
/// config file.
pub const NUL_IN_FILE: &[Case] = &[
    case!(name_nul, SHOW, env &[], files &[("hpcluster.toml", "name = \"a\\u0000b\"\n")], 1 => "invalid `name`", "NUL"),
    case!(queue_nul, SHOW, env &[], files &[("hpcluster.toml", "queue = \"a\\u0000\"\n")], 1 => "invalid `queue`", "NUL"),
    case!(account_nul, SHOW, env &[], files &[("hpcluster.toml", "account = \"a\\u0000\"\n")], 1 => "invalid `account`", "NUL"),
    case!(project_nul, SHOW, env &[], files &[("hpcluster.toml", "project = \"a\\u0000\"\n")], 1 => "invalid `project`", "NUL"),
    case!(resource_spec_nul, SHOW, env &[], files &[("hpcluster.toml", "resource_spec = \"a\\u0000\"\n")], 1 => "invalid `resource_spec`", "NUL"),
    case!(pe_nul, SHOW, env &[], files &[("hpcluster.toml", "sge_parallel_environment = \"a\\u0000\"\n")], 1 => "invalid `sge_parallel_environment`", "NUL"),
    case!(mem_res_nul, SHOW, env &[], files &[("hpcluster.toml", "sge_memory_resource = \"a\\u0000\"\n")], 1 => "invalid `sge_memory_resource`", "NUL"),
    case!(log_dir_nul, SHOW, env &[], files &[("hpcluster.toml", "log_directory = \"/a\\u0000\"\n")], 1 => "invalid `log_directory`", "NUL"),
    case!(cluster_root_nul, SHOW, env &[], files &[("hpcluster.toml", "cluster_root = \"/a\\u0000\"\n")], 1 => "invalid `cluster_root`", "NUL"),
    case!(interface_nul, SHOW, env &[], files &[("hpcluster.toml", "interface = \"ib\\u0000\"\n")], 1 => "invalid `interface`", "NUL"),
    case!(host_nul, SHOW, env &[], files &[("hpcluster.toml", "host = \"h\\u0000\"\n")], 1 => "invalid `host`", "NUL"),
    case!(extra_nul, SHOW, env &[], files &[("hpcluster.toml", "job_extra_directives = [\"--a\\u0000\"]\n")], 1 => "invalid `job_extra_directives`", "NUL"),
    case!(skip_nul, SHOW, env &[], files &[("hpcluster.toml", "job_directives_skip = [\"a\\u0000\"]\n")], 1 => "invalid `job_directives_skip`", "NUL"),
    case!(prologue_nul, SHOW, env &[], files &[("hpcluster.toml", "job_script_prologue = [\"ok\", \"a\\u0000\"]\n")], 1 => "invalid `job_script_prologue`", "NUL"),
    case!(epilogue_nul, SHOW, env &[], files &[("hpcluster.toml", "job_script_epilogue = [\"a\\u0000\"]\n")], 1 => "invalid `job_script_epilogue`", "NUL"),
    case!(local_dir_nul, SHOW, env &[], files &[("hpcluster.toml", "local_directory = \"/a\\u0000\"\n")], 1 => "invalid `local_directory`", "NUL"),
    case!(shebang_nul, SHOW, env &[], files &[("hpcluster.toml", "shebang = \"#!/bin/bash\\u0000\"\n")], 1 => "invalid `shebang`", "NUL"),
    case!(worker_program_nul, SHOW, env &[], files &[("hpcluster.toml", "worker_program = \"/a\\u0000\"\n")], 1 => "invalid `worker_program`", "NUL"),
    case!(template_nul, SHOW, env &[], files &[("hpcluster.toml", "template = \"/a\\u0000\"\n")], 1 => "invalid `template`", "NUL"),
    case!(submit_extra_nul, SHOW, env &[], files &[("hpcluster.toml", "submit_command_extra = [\"-x\\u0000\"]\n")], 1 => "invalid `submit_command_extra`", "NUL"),
    case!(cancel_extra_nul, SHOW, env &[], files &[("hpcluster.toml", "cancel_command_extra = [\"-x\\u0000\"]\n")], 1 => "invalid `cancel_command_extra`", "NUL"),
];

/// Shell in a directive word, values out of range, and names nothing knows.
pub const VALUES: &[Case] = &[
    case!(queue_subst, RENDER, env &[("HPCLUSTER_QUEUE", "$(reboot)")], files &[], 1 => "invalid `queue`", "`$` is not allowed"),
    case!(account_pipe, RENDER, env &[("HPCLUSTER_ACCOUNT", "a|b")], files &[], 1 => "invalid `account`", "`|` is not allowed"),
    case!(resource_spec_space, RENDER_SGE, env &[("HPCLUSTER_RESOURCE_SPEC", "h_vmem=1G -q x")], files &[], 1 => "invalid `resource_spec`", "` ` is not allowed"),
    case!(host_semicolon, RENDER, env &[("HPCLUSTER_HOST", "0.0.0.0;x")], files &[], 1 => "invalid `host`", "`;` is not allowed"),
    case!(interface_quote, RENDER, env &[("HPCLUSTER_INTERFACE", "ib0'")], files &[], 1 => "invalid `interface`", "is not allowed"),
    case!(log_dir_backtick, RENDER, env &[("HPCLUSTER_LOG_DIRECTORY", "/l/`id`")], files &[], 1 => "invalid `log_directory`", "is not allowed"),
    case!(cluster_root_space, RENDER, env &[("HPCLUSTER_CLUSTER_ROOT", "/my root")], files &[], 1 => "invalid `cluster_root`", "` ` is not allowed"),
    case!(name_slash, RENDER, env &[("HPCLUSTER_NAME", "a/b")], files &[], 1 => "invalid `name`", "`/` is not allowed in a job name"),
    case!(name_dash, RENDER, env &[("HPCLUSTER_NAME", "-x")], files &[], 1 => "invalid `name`", "cannot start with `-`"),
    case!(name_empty_file, RENDER, env &[], files &[("hpcluster.toml", "name = \"\"\n")], 1 => "invalid `name`", "empty"),
    case!(queue_empty_file, RENDER, env &[], files &[("hpcluster.toml", "queue = \"\"\n")], 1 => "invalid `queue`", "empty"),
    case!(local_dir_backslash, RENDER, env &[("HPCLUSTER_LOCAL_DIRECTORY", "/a\\b")], files &[], 1 => "invalid `local_directory`", "backslash"),
    case!(shebang_relative, RENDER, env &[("HPCLUSTER_SHEBANG", "#!bash")], files &[], 1 => "invalid `shebang`", "absolute interpreter path"),
    case!(extra_prefixed_sge, RENDER_SGE, env &[("HPCLUSTER_JOB_EXTRA_DIRECTIVES", "#$ -l h_rt=9:00:00")], files &[], 1 => "invalid `job_extra_directives`", "without its `#SBATCH`"),
    case!(extra_empty, RENDER, env &[("HPCLUSTER_JOB_EXTRA_DIRECTIVES", "[\" \"]")], files &[], 1 => "invalid `job_extra_directives`", "empty"),
    case!(cores_zero, RENDER, env &[("HPCLUSTER_CORES", "0")], files &[], 1 => "invalid `cores`", "found 0"),
    case!(cores_word, RENDER, env &[("HPCLUSTER_CORES", "many")], files &[], 1 => "invalid `cores`", "found `many`"),
    case!(cores_huge, RENDER, env &[("HPCLUSTER_CORES", "99999999999")], files &[], 1 => "invalid `cores`", "4294967295"),
    case!(slots_negative_file, SHOW, env &[], files &[("hpcluster.toml", "slots = -2\n")], 1 => "invalid `slots`", "found -2"),
    case!(max_jobs_zero, SHOW, env &[("HPCLUSTER_MAX_JOBS", "0")], files &[], 1 => "invalid `max_jobs`", "found 0"),
    case!(max_array_zero, SHOW, env &[("HPCLUSTER_MAX_ARRAY_SIZE", "0")], files &[], 1 => "invalid `max_array_size`", "found 0"),
    case!(port_too_big, SHOW, env &[("HPCLUSTER_PORT", "70000")], files &[], 1 => "invalid `port`", "found 70000"),
    case!(port_float_file, SHOW, env &[], files &[("hpcluster.toml", "port = 1.5\n")], 1 => "invalid `port`", "found a float"),
    case!(retries_negative, SHOW, env &[("HPCLUSTER_RETRIES", "-1")], files &[], 1 => "invalid `retries`", "found -1"),
    case!(max_tasks_zero, SHOW, env &[("HPCLUSTER_MAX_TASKS", "0")], files &[], 1 => "invalid `max_tasks`", "found 0"),
    case!(memory_zero_file, SHOW, env &[], files &[("hpcluster.toml", "memory = 0\n")], 1 => "invalid `memory`", "found 0"),
    case!(memory_garbage, SHOW, env &[("HPCLUSTER_MEMORY", "GB")], files &[], 1 => "invalid `memory`"),
    case!(walltime_word, SHOW, env &[("HPCLUSTER_WALLTIME", "soon")], files &[], 1 => "invalid `walltime`", "invalid duration `soon`"),
    case!(walltime_hms_minutes, SHOW, env &[("HPCLUSTER_WALLTIME", "1:99:00")], files &[], 1 => "invalid `walltime`", "a clock field is out of range"),
    case!(task_time_zero, SHOW, env &[("HPCLUSTER_TASK_TIME", "0s")], files &[], 1 => "`task_time` must be greater than zero"),
    case!(startup_word, SHOW, env &[("HPCLUSTER_STARTUP", "x")], files &[], 1 => "invalid `startup`"),
    case!(poll_negative, SHOW, env &[("HPCLUSTER_POLL_INTERVAL", "-1s")], files &[], 1 => "invalid `poll_interval`", "cannot be negative"),
    case!(submit_timeout_zero, SHOW, env &[("HPCLUSTER_SUBMIT_TIMEOUT", "0s")], files &[], 1 => "`submit_timeout` must be greater than zero"),
    case!(cancel_timeout_word, SHOW, env &[("HPCLUSTER_CANCEL_TIMEOUT", "never")], files &[], 1 => "invalid `cancel_timeout`"),
    case!(buffer_percent_too_big, SHOW, env &[("HPCLUSTER_BUFFER", "100%")], files &[], 1 => "invalid `buffer`"),
    case!(buffer_word, SHOW, env &[("HPCLUSTER_BUFFER", "lots")], files &[], 1 => "invalid `buffer`"),
    case!(backend_unknown_env, SHOW, env &[("HPCLUSTER_BACKEND", "condor")], files &[], 1 => "invalid `backend`", "unknown backend `condor`"),
    case!(lsf_units_unknown, &["render", "--backend", "lsf"], env &[("HPCLUSTER_LSF_UNITS", "zb")], files &[], 1 => "invalid `lsf_units` `zb`"),
    case!(cluster_access_unknown, SHOW, env &[("HPCLUSTER_CLUSTER_ACCESS", "public")], files &[], 1 => "invalid `cluster_access` in environment variable `HPCLUSTER_CLUSTER_ACCESS`: unknown access `public`: expected `private`"),
    case!(cluster_access_bool_file, SHOW, env &[], files &[("hpcluster.toml", "cluster_access = true\n")], 1 => "invalid `cluster_access` on line 1", "found a boolean"),
    case!(list_key_given_a_number, SHOW, env &[], files &[("hpcluster.toml", "job_script_prologue = 5\n")], 1 => "invalid `job_script_prologue`", "found an integer"),
    case!(unknown_key_file, SHOW, env &[], files &[("hpcluster.toml", "wall_time = \"1h\"\n")], 1 => "unknown key `wall_time`"),
    case!(config_not_toml, SHOW, env &[], files &[("hpcluster.toml", "= = =\n")], 1 => "failed to parse config"),
    case!(config_not_utf8_name, SHOW, env &[("HPCLUSTER_CONFIG", "/nonexistent/c.toml")], files &[], 1 => "does not exist"),
    case!(checkpoint_lead_as_long_as_walltime, RENDER, env &[("HPCLUSTER_CHECKPOINT_SIGNAL", "USR1"), ("HPCLUSTER_CHECKPOINT_LEAD", "1h"), ("HPCLUSTER_WALLTIME", "1h")], files &[], 1 => "`checkpoint_lead` (1h) must be shorter than the walltime (1h)", "lower `checkpoint_lead`", "(set by environment variable `HPCLUSTER_CHECKPOINT_LEAD`)"),
    case!(checkpoint_default_lead_over_walltime_file, SHOW, env &[], files &[("hpcluster.toml", "walltime = \"30s\"\ncheckpoint_signal = \"USR2\"\n")], 1 => "`checkpoint_lead` (1m) must be shorter than the walltime (30s)", "raise `walltime`"),
    case!(checkpoint_lead_over_slurm_signal, RENDER, env &[("HPCLUSTER_CHECKPOINT_SIGNAL", "USR1"), ("HPCLUSTER_CHECKPOINT_LEAD", "19h"), ("HPCLUSTER_WALLTIME", "2-00:00:00")], files &[], 1 => "longer than SLURM's `--signal` takes (65535 s, 18h12m15s)", "lower `checkpoint_lead` to at most that"),
    case!(max_checkpoints_zero, SHOW, env &[("HPCLUSTER_MAX_CHECKPOINTS", "0")], files &[], 1 => "invalid `max_checkpoints`", "found 0"),
    case!(max_checkpoints_word_file, SHOW, env &[], files &[("hpcluster.toml", "max_checkpoints = \"many\"\n")], 1 => "invalid `max_checkpoints` on line 1"),
    case!(checkpoint_lead_zero, SHOW, env &[("HPCLUSTER_CHECKPOINT_LEAD", "0s")], files &[], 1 => "`checkpoint_lead` must be greater than zero"),
];

/// Flags: clap's own refusals (exit 2) and values refused by what they mean (exit 1).
pub const FLAGS: &[Case] = &[
    case!(unknown_flag, &["render", "--walltimes", "1h"], env &[], files &[], 2 => "--walltimes"),
    case!(unknown_command, &["launch"], env &[], files &[], 2 => "launch"),
    case!(flag_without_value, &["plan", "--walltime"], env &[], files &[], 2 => "--walltime"),
    case!(jobs_not_a_number, &["up", "--dry-run", "--jobs", "x"], env &[], files &[], 2 => "--jobs"),
    case!(jobs_negative, &["up", "--dry-run", "--jobs=-1"], env &[], files &[], 2 => "--jobs"),
    case!(walltime_flag_word, &["plan", "--walltime", "x", "--task-time", "1h"], env &[], files &[], 1 => "invalid `--walltime`"),
    case!(task_time_flag_negative_eq, &["plan", "--walltime=1h", "--task-time=-5m"], env &[], files &[], 1 => "invalid `--task-time`", "cannot be negative"),
    case!(memory_flag_negative, &["render", "--backend", "slurm", "--memory=-1GB"], env &[], files &[], 1 => "invalid `--memory`"),
    case!(cores_flag_zero, &["render", "--backend", "slurm", "--cores", "0"], env &[], files &[], 1 => "invalid `--cores`"),
    case!(backend_flag_unknown, &["render", "--backend", "condor"], env &[], files &[], 2 => "condor"),
    case!(queue_flag_injection, &["render", "--backend", "pbs", "--queue", "q\n#PBS -l walltime=999:00:00"], env &[], files &[], 1 => "invalid `queue`", "set by flag `--queue`"),
    case!(submit_time_word, &["submit", "--time", "x", "--", "echo"], env &[], files &[], 1 => "invalid `--time`"),
    case!(submit_nothing, &["submit"], env &[], files &[], 1 => "nothing to submit"),
    case!(submit_no_cluster, &["submit", "--", "echo"], env &[], files &[], 1 => "no cluster `hpcluster` here"),
    case!(plan_task_time_missing, &["plan", "--walltime", "1h"], env &[], files &[], 1 => "`task_time` is not set"),
    case!(plan_walltime_too_short, &["plan", "--walltime", "1h", "--task-time", "2h"], env &[], files &[], 1 => "does not fit in a walltime of 1h"),
];

/// Tasks files in the three forms, read by `up --dry-run` and `plan --tasks`.
pub const TASKS: &[Case] = &[
    case!(tasks_missing, &["up", "--dry-run", "--tasks", "none.txt"], env &[], files &[], 1 => "failed to read tasks file `none.txt`"),
    case!(txt_nul, dry!("t.txt"), env &[], files &[("t.txt", "echo a\0b\n")], 1 => "`t.txt` line 1", "NUL"),
    case!(txt_only_comments, &["submit", "--tasks", "t.txt"], env &[], files &[("t.txt", "# nothing\n\n")], 1 => "the tasks file has no tasks"),
    case!(jsonl_not_json, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{cmd: a}\n")], 1 => "invalid tasks file `t.jsonl` line 1"),
    case!(jsonl_no_cmd, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"time\": 5}\n")], 1 => "`t.jsonl` line 1", "cmd"),
    case!(jsonl_empty_cmd, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \" \"}\n")], 1 => "`t.jsonl` line 1", "`cmd` is empty"),
    case!(jsonl_cmd_nul, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\\u0000\"}\n")], 1 => "`t.jsonl` line 1", "`cmd` contains a NUL byte"),
    case!(jsonl_time_negative, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"time\": -5}\n")], 1 => "`t.jsonl` line 1", "`time` -5"),
    case!(jsonl_time_zero, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"time\": 0}\n")], 1 => "`time` 0"),
    case!(jsonl_time_word, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"time\": \"later\"}\n")], 1 => "`t.jsonl` line 1", "`time`", "invalid duration `later`"),
    case!(jsonl_time_huge, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"time\": 1e300}\n")], 1 => "ten years"),
    case!(jsonl_env_equals, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\"}\n{\"cmd\": \"b\", \"env\": {\"A=B\": \"1\"}}\n")], 1 => "error: invalid task at `t.jsonl` line 2: `env` name \"A=B\" is not a variable name: it must be non-empty and hold no `=` and no NUL byte"),
    case!(jsonl_env_empty_name, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"env\": {\"\": \"1\"}}\n")], 1 => "`env` name \"\" is not a variable name"),
    case!(jsonl_env_nul_name, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"env\": {\"A\\u0000\": \"1\"}}\n")], 1 => "`env` name \"A\\0\" is not a variable name"),
    case!(jsonl_env_nul_value, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"env\": {\"A\": \"x\\u0000\"}}\n")], 1 => "`env` value of `A` contains a NUL byte"),
    case!(jsonl_env_not_text, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"env\": {\"A\": 1}}\n")], 1 => "`t.jsonl` line 1"),
    case!(jsonl_cwd_empty, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"cwd\": \"\"}\n")], 1 => "`cwd` is empty"),
    case!(jsonl_cwd_nul, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"cwd\": \"/a\\u0000\"}\n")], 1 => "`cwd` \"/a\\0\" contains a NUL byte"),
    case!(jsonl_retries_negative, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"retries\": -1}\n")], 1 => "`t.jsonl` line 1"),
    case!(jsonl_unknown_field, dry!("t.jsonl"), env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"tme\": 5}\n")], 1 => "`t.jsonl` line 1", "tme"),
    case!(toml_syntax, dry!("t.toml"), env &[], files &[("t.toml", "[[task]\ncmd = \"a\"\n")], 1 => "invalid tasks file `t.toml`"),
    case!(toml_no_cmd, dry!("t.toml"), env &[], files &[("t.toml", "[[task]]\ntime = \"1h\"\n")], 1 => "invalid tasks file `t.toml`", "cmd"),
    case!(toml_env_equals, dry!("t.toml"), env &[], files &[("t.toml", "[[task]]\ncmd = \"a\"\n[[task]]\ncmd = \"b\"\nenv = { \"X=1\" = \"2\" }\n")], 1 => "invalid task at `t.toml` task 2: `env` name \"X=1\""),
    case!(toml_time_zero, dry!("t.toml"), env &[], files &[("t.toml", "[[task]]\ncmd = \"a\"\ntime = 0\n")], 1 => "`t.toml` task 1", "`time` 0"),
    case!(toml_cwd_empty, dry!("t.toml"), env &[], files &[("t.toml", "[[task]]\ncmd = \"a\"\ncwd = \"\"\n")], 1 => "`t.toml` task 1", "`cwd` is empty"),
    case!(toml_cmd_nul, dry!("t.toml"), env &[], files &[("t.toml", "[[task]]\ncmd = \"a\\u0000\"\n")], 1 => "`t.toml` task 1", "NUL"),
    case!(toml_time_negative_text, dry!("t.toml"), env &[], files &[("t.toml", "[[task]]\ncmd = \"a\"\ntime = \"-1h\"\n")], 1 => "`t.toml` task 1", "cannot be negative"),
    case!(plan_tasks_never_fit, &["plan", "--walltime", "1h", "--task-time", "1m", "--tasks", "t.jsonl"], env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"time\": \"2h\"}\n")], 1 => "1 task(s) of `t.jsonl` can never start", "task 1 `a`: time 2h, fits a walltime of 2h7m"),
    case!(plan_tasks_bad_file, &["plan", "--walltime", "1h", "--task-time", "1m", "--tasks", "t.toml"], env &[], files &[("t.toml", "[[task]]\n")], 1 => "invalid tasks file `t.toml`"),
    case!(submit_tasks_bad_env, &["submit", "--tasks", "t.jsonl"], env &[], files &[("t.jsonl", "{\"cmd\": \"a\", \"env\": {\"=\": \"1\"}}\n")], 1 => "`env` name \"=\""),
];
