//! Bad input through the binary: every case exits with status 1 and names what is wrong, what
//! was expected and how to fix it. Values that would break or hijack a job script are refused
//! before any script exists.

use crate::harness::Test;

/// Runs `hpcluster ARGS` in a sandbox with `config` as `./hpcluster.toml` (unless empty) and
/// `env`; asserts exit status 1, an `error: ` line and every expected fragment on stderr.
fn fails(config: &str, env: &[(&str, &str)], args: &[&str], expected: &[&str]) {
    let mut t = Test::new();
    if !config.is_empty() {
        t = t.config(config);
    }
    let out = t.hpcluster(args).envs(env).output();
    let (stdout, stderr) = (out.stdout, out.stderr);
    assert_eq!(
        out.code,
        Some(1),
        "exit status of {args:?}; stderr: {stderr}"
    );
    assert!(stdout.is_empty(), "nothing on stdout, got: {stdout}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    for fragment in expected {
        assert!(
            stderr.contains(fragment),
            "missing {fragment:?} in: {stderr}"
        );
    }
}

macro_rules! bad_input {
    ($($name:ident: $config:expr, $env:expr, $args:expr => $($expected:expr),+;)+) => {
        $(
            #[test]
            fn $name() {
                fails($config, $env, $args, &[$($expected),+]);
            }
        )+
    };
}

const RENDER: &[&str] = &["render", "--backend", "slurm"];
const SHOW: &[&str] = &["config", "show"];

bad_input! {
    unknown_key_suggests_the_right_one:
        "backend = \"slurm\"\nwaltime = \"5h\"\n", &[], SHOW
        => "unknown key `waltime` on line 2 of config", "did you mean `walltime`?";
    unknown_dask_only_key_says_what_to_do_instead:
        "death_timeout = 60\n", &[], SHOW
        => "unknown key `death_timeout` on line 1 of config",
           "dask-jobqueue's `death_timeout` has no hpcluster key: a worker whose server is gone \
            keeps its tasks running and tries to reconnect for 5 minutes: remove it";
    dask_job_cpu_names_cores:
        "job_cpu = 16\n", &[], SHOW
        => "dask-jobqueue's `job_cpu` has no hpcluster key: set `cores`: it is the CPU request \
            hpcluster writes into the job script (`--cpus-per-task`), where dask's `cores` only \
            sizes the worker's threads";
    dask_job_mem_names_memory:
        "job-mem = \"100G\"\n", &[], SHOW
        => "unknown key `job-mem` on line 1",
           "dask-jobqueue's `job-mem` has no hpcluster key: set `memory`: it is the memory \
            request hpcluster writes into the job script (`--mem`)";
    dask_python_names_worker_program:
        "python = \"/opt/conda/bin/python\"\n", &[], SHOW
        => "dask-jobqueue's `python` has no hpcluster key: batch jobs run the hpcluster program, \
            not Python: set `worker_program`";
    dask_scheduler_options_names_host_and_port:
        "[scheduler_options]\nport = 8786\n", &[], SHOW
        => "dask-jobqueue's `scheduler_options` has no hpcluster key: set `host` (or \
            `interface`) and `port`";
    interface_given_an_address_names_host:
        "interface = \"0.0.0.0\"\n", &[], SHOW
        => "invalid `interface` on line 1 of config",
           "`0.0.0.0` is an address, but `interface` names a network interface like \"ib0\" or \
            \"eth0\" (as in dask-jobqueue); set `host = \"0.0.0.0\"` to listen on an address";
    zero_status_timeout:
        "status_timeout = \"0s\"\n", &[], SHOW
        => "`status_timeout` must be greater than zero, like \"60s\" (set by config";
    walltime_under_a_minute_as_sge_reads_it:
        "", &[], &["render", "--backend", "sge", "--walltime", "45"]
        => "error: `walltime` 45s is under one minute (`45` read as 45s: SGE's `-l h_rt` takes a \
            bare number as seconds and A:B as minutes:seconds; write \"45s\" to mean it on every \
            backend): a batch job needs one minute at least (SLURM's least time limit; LSF counts \
            whole minutes); give a walltime like \"1h\" or \"01:00:00\"";
    walltime_lsf_cannot_grant:
        "", &[], &["plan", "--backend", "lsf", "--walltime", "59s", "--task-time", "10s"]
        => "`walltime` 59s is under one minute";
    walltime_second_field_out_of_range:
        "", &[], &["plan", "--backend", "lsf", "--walltime", "5:75", "--task-time", "1h"]
        => "invalid `--walltime`: invalid duration `5:75`: the second field must be under 60";
    extra_directive_naming_the_job:
        "job_extra_directives = [\"-J other\"]\n", &[], RENDER
        => "invalid `job_extra_directives` entry `-J other`: it sets the batch job's name or \
            array, which hpcluster sets itself to find its batch jobs by name (`<name>-<n>`); set \
            `name` instead, or remove it";
    dask_yaml_sections_are_not_nested:
        "[jobqueue.slurm]\ncores = 4\n", &[], SHOW
        => "unknown key `jobqueue` on line 1", "one flat table of keys", "without a `[section]`";
    wrong_type_names_key_line_and_expected:
        "backend = \"slurm\"\n\nwalltime = 5\n", &[], SHOW
        => "invalid `walltime` on line 3 of config",
           "expected a duration string like \"5h\" or \"04:00:00\", found an integer (5)";
    wrong_type_for_a_count:
        "cores = \"many\"\n", &[], RENDER
        => "invalid `cores` on line 1", "expected a whole number from 1 to 4294967295";
    wrong_type_for_a_list:
        "name = \"a\"\njob_extra_directives = \"--qos=high\"\n", &[], RENDER
        => "invalid `job_extra_directives` on line 2",
           "expected an array of strings like [\"--qos=high\"], found a string";
    toml_syntax_error:
        "walltime = \"5h\n", &[], SHOW
        => "failed to parse config", "as TOML", "line 1";
    alias_and_key_both_set:
        "slots = 2\nprocesses = 4\n", &[], SHOW
        => "`processes` on line 2", "sets `slots` again", "keep one of them";
    bad_duration_flag_lists_accepted_forms:
        "", &[], &["plan", "--walltime", "5x", "--task-time", "1h"]
        => "invalid `--walltime`: invalid duration `5x`", "expected one of 5h, 90m, 4h30m";
    bad_duration_in_env_names_the_variable:
        "", &[("HPCLUSTER_TASK_TIME", "soon")], &["plan", "--walltime", "5h"]
        => "invalid `task_time` in environment variable `HPCLUSTER_TASK_TIME`",
           "invalid duration `soon`";
    zero_walltime:
        "walltime = \"0s\"\n", &[], SHOW
        => "`walltime` must be greater than zero", "set by config";
    bad_buffer:
        "", &[], &["plan", "--walltime", "5h", "--task-time", "1h", "--buffer", "150%"]
        => "invalid `--buffer`", "a percentage must be a number from 0 to 99";
    bad_memory_unit_lists_accepted_forms:
        "", &[], &["render", "--backend", "slurm", "--memory", "10XB"]
        => "invalid `--memory`: invalid memory `10XB`: `XB` is not a unit",
           "expected a size like 100GB";
    bad_memory_in_file:
        "memory = \"lots\"\n", &[], RENDER
        => "invalid `memory` on line 1", "invalid memory `lots`: it does not start with a number";
    negative_memory_bytes:
        "memory = -5\n", &[], RENDER
        => "invalid `memory` on line 1", "positive number of bytes, found -5";
    bad_backend_name:
        "backend = \"slurmm\"\n", &[], SHOW
        => "invalid `backend` on line 1", "unknown backend `slurmm`: expected one of slurm, sge, pbs, lsf, local";
    negative_cores:
        "", &[], &["render", "--backend", "slurm", "--cores=-1"]
        => "invalid `--cores`: expected a whole number from 1 to 4294967295, found -1";
    zero_slots_by_dask_alias_in_env:
        "", &[("HPCLUSTER_PROCESSES", "0")], SHOW
        => "invalid `slots` in environment variable `HPCLUSTER_PROCESSES`", "found 0";
    newline_in_name:
        "name = \"a\\nb\"\n", &[], RENDER
        => "invalid `name` \"a\\nb\": it contains a line break";
    directive_smuggled_in_job_name:
        "name = \"x\\n#SBATCH --uid=0\"\n", &[], RENDER
        => "invalid `name` \"x\\n#SBATCH --uid=0\"", "line break", "set by config";
    command_substitution_in_queue:
        "", &[], &["render", "--backend", "slurm", "--queue", "$(rm -rf ~)"]
        => "invalid `queue` \"$(rm -rf ~)\": `$` is not allowed",
           "letters, digits and `_.-@:+=,/%` only", "set by flag `--queue`";
    backticks_in_account:
        "account = \"`whoami`\"\n", &[], RENDER
        => "invalid `account` \"`whoami`\": ``` is not allowed";
    semicolon_in_project_from_env:
        "", &[("HPCLUSTER_PROJECT", "p;reboot")], &["render", "--backend", "lsf"]
        => "invalid `project` \"p;reboot\": `;` is not allowed",
           "set by environment variable `HPCLUSTER_PROJECT`";
    space_in_log_directory:
        "log_directory = \"/my logs\"\n", &[], RENDER
        => "invalid `log_directory` \"/my logs\": ` ` is not allowed";
    newline_in_extra_directive:
        "job_extra_directives = [\"--qos=high\\nrm -rf ~\"]\n", &[], RENDER
        => "invalid `job_extra_directives`", "line break";
    extra_directive_with_its_own_prefix:
        "job_extra_directives = [\"#SBATCH --qos=high\"]\n", &[], RENDER
        => "give the directive without its `#SBATCH`", "like `--qos=high`";
    sge_job_name_with_leading_digit:
        "backend = \"sge\"\nname = \"1job\"\n", &[], &["render"]
        => "invalid `name` \"1job\"", "SGE rejects job names that start with a digit";
    account_on_sge:
        "backend = \"sge\"\naccount = \"acct\"\n", &[], &["render"]
        => "`account` is not used by the sge backend, which charges a `project`",
           "rename `account` to `project`";
    project_on_slurm:
        "", &[], &["render", "--backend", "slurm", "--project", "p1"]
        => "`project` is not used by the slurm backend, which charges an `account`",
           "set by flag `--project`";
    bad_shebang:
        "shebang = \"bash\"\n", &[], RENDER
        => "invalid `shebang`", "expected `#!` and an absolute interpreter path";
    local_directory_that_would_run_a_command:
        "local_directory = \"/scratch/$(whoami)\"\n", &[], RENDER
        => "invalid `local_directory`", "`$VAR` and `${VAR}` are expanded on the compute node";
    local_directory_with_a_quote:
        "local_directory = '/tmp/a\"b'\n", &[], RENDER
        => "invalid `local_directory`", "a quote, a backslash";
    bad_lsf_units:
        "lsf_units = \"bogus\"\n", &[], &["render", "--backend", "lsf"]
        => "invalid `lsf_units` `bogus`", "kb, mb, gb, tb, pb or eb";
    bad_json_list_in_env:
        "", &[("HPCLUSTER_JOB_EXTRA_DIRECTIVES", "[\"--qos=high\",")], SHOW
        => "invalid `job_extra_directives` in environment variable `HPCLUSTER_JOB_EXTRA_DIRECTIVES`",
           "expected a JSON array of strings";
    missing_config_flag_file:
        "", &[], &["config", "show", "--config", "nope.toml"]
        => "nope.toml` (given by --config) does not exist", "check the path";
    missing_config_env_file:
        "", &[("HPCLUSTER_CONFIG", "/nonexistent/h.toml")], SHOW
        => "config `/nonexistent/h.toml` (given by HPCLUSTER_CONFIG) does not exist";
    task_longer_than_walltime_names_the_smallest_walltime:
        "", &[], &["plan", "--walltime", "3h", "--task-time", "4h"]
        => "a task of 4h does not fit in a walltime of 3h", "smallest walltime that fits one task is 4h13m";
    task_longer_than_walltime_in_json_mode:
        "", &[], &["plan", "--walltime", "3h", "--task-time", "4h", "--json"]
        => "smallest walltime that fits one task is 4h13m";
}

/// A plan without a task time says how to give one.
#[test]
fn plan_without_task_time() {
    fails(
        "",
        &[],
        &["plan", "--walltime", "5h"],
        &["`task_time` is not set", "--task-time 4h"],
    );
}

/// A value that is not UTF-8, as a login node's environment may hold.
fn not_utf8(prefix: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.push(0xff);
    std::ffi::OsString::from_vec(bytes)
}

/// Issue 13: any variable that is not UTF-8 crashed every command (`std::env::vars` panics).
#[test]
fn an_unrelated_variable_that_is_not_utf8_is_ignored() {
    let t = Test::new().env("FOO", not_utf8("x"));
    let out = t.run(&["plan", "--walltime", "5h", "--task-time", "4h"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.contains("max_tasks         1 per worker slot"));
}

#[test]
fn one_of_ours_that_is_not_utf8_is_an_error_naming_it() {
    let t = Test::new().env("HPCLUSTER_QUEUE", not_utf8("long"));
    let out = t.run(&["render", "--backend", "slurm"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(
        out.stderr,
        "error: environment variable `HPCLUSTER_QUEUE` is not valid UTF-8 (\"long\u{fffd}\"): \
         hpcluster reads it as text; set it to a UTF-8 value or unset it\n"
    );
}

/// Issue 13: a task `time` of 1e20 crashed `up` (a `Duration` overflow).
#[test]
fn a_task_time_too_large_for_any_clock_is_refused_naming_the_task() {
    for (file, text) in [
        ("t.jsonl", "{\"cmd\":\"a\",\"time\":1e20}\n"),
        ("t.toml", "[[task]]\ncmd = \"a\"\ntime = 1e20\n"),
    ] {
        let t = Test::new();
        t.write(file, text);
        let out = t.run(&["up", "--walltime", "1h", "--tasks", file]);
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert!(
            out.stderr.contains(
                "`time` 100000000000000000000 must be a positive number of seconds up to \
                 315360000 (ten years), or a duration like \"2h\""
            ),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(file), "{}", out.stderr);
    }
}

// Issue 13: `--walltime -1h` said "unexpected argument '-1' found"; a negative duration is now
// refused for what it means.
bad_input! {
    negative_walltime_flag_is_refused_by_meaning:
        "", &[], &["plan", "--walltime", "-1h", "--task-time", "1h"]
        => "error: invalid `--walltime`: invalid duration `-1h`: a duration cannot be negative";
    negative_task_time_flag_is_refused_by_meaning:
        "", &[], &["plan", "--walltime", "5h", "--task-time", "-2m"]
        => "error: invalid `--task-time`: invalid duration `-2m`: a duration cannot be negative";
    negative_buffer_flag_is_refused_by_meaning:
        "", &[], &["plan", "--walltime", "5h", "--task-time", "1h", "--buffer", "-5m"]
        => "invalid `--buffer`", "a duration cannot be negative";
}

mod injection;
mod table;

/// Issue 13 acceptance: every row of the table (config keys, flags, tasks files) through the
/// binary; at least 100 of them.
#[test]
fn every_bad_input_of_the_table_is_refused_naming_it() {
    let tables = [
        table::NEWLINE_IN_ENV,
        table::NUL_IN_FILE,
        table::VALUES,
        table::FLAGS,
        table::TASKS,
    ];
    let cases: Vec<table::Case> = tables.iter().flat_map(|t| t.iter().copied()).collect();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    table::check_all(&cases);
}

/// Issue 13: a command too long for `/bin/sh -c` (E2BIG on every node) made by `--args` from a
/// row of 140,000 bytes is refused when the tasks are made, naming the row's task, as a tasks
/// file's is (before: it failed on the compute node with "exit status 127").
#[test]
fn a_command_too_long_for_the_system_made_by_args_is_refused_naming_it() {
    let t = Test::new();
    t.write("rows.txt", &format!("{}\n", "x".repeat(140_000)));
    for args in [
        &["submit", "--args", "rows.txt", "--", "echo", "{}"][..],
        &["up", "--dry-run", "--args", "rows.txt", "--", "echo", "{}"][..],
    ] {
        let out = t.run(args);
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.all());
        assert_eq!(
            out.stderr,
            "error: invalid task at task 1 of `--args rows.txt`: `cmd` is 140005 bytes, more \
             than the 131071 the system passes as one argument (`/bin/sh -c` would fail with \
             E2BIG): put the command in a script file and give `sh that-script.sh` as the \
             command\n"
        );
    }
}
