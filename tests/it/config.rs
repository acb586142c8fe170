//! Where configuration comes from, through the binary: file lookup order, environment and flag
//! precedence, dask-jobqueue aliases, and `config show` naming the source of every key.

use serde_json::Value;

use crate::harness::Test;

fn show_json(t: &Test, args: &[&str], env: &[(&str, &str)]) -> Value {
    let out = t
        .hpcluster(&["config", "show", "--json"])
        .args(args)
        .envs(env)
        .output();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("config show --json prints JSON")
}

#[test]
fn defaults_when_nothing_is_given() {
    let sandbox = Test::new();
    let v = show_json(&sandbox, &[], &[]);
    assert_eq!(v["walltime"]["value"], "30m");
    assert_eq!(v["walltime"]["source"], "default");
    assert_eq!(v["backend"]["value"], "local");
    assert_eq!(v["buffer"]["value"], "5%");
    assert_eq!(v["memory"]["value"], Value::Null);
}

#[test]
fn flags_override_env_override_file() {
    let sandbox = Test::new()
        .config("walltime = \"5h\"\ncores = 4\nqueue = \"fromfile\"\nmemory = \"4GiB\"\n");
    let env = [("HPCLUSTER_CORES", "8"), ("HPCLUSTER_QUEUE", "fromenv")];
    let v = show_json(&sandbox, &["--queue", "fromflag"], &env);
    let file = sandbox.path().join("hpcluster.toml");
    assert_eq!(v["walltime"]["value"], "5h");
    assert_eq!(v["walltime"]["source"], "file");
    assert_eq!(v["walltime"]["path"], file.display().to_string());
    assert_eq!(v["cores"]["value"], 8);
    assert_eq!(v["cores"]["source"], "env");
    assert_eq!(v["cores"]["var"], "HPCLUSTER_CORES");
    assert_eq!(v["queue"]["value"], "fromflag");
    assert_eq!(v["queue"]["source"], "flag");
    assert_eq!(v["memory"]["value"], "4GiB");
}

#[test]
fn text_output_lists_every_key_with_its_source() {
    let sandbox = Test::new().config("walltime = \"5h\"\n");
    let out = sandbox
        .hpcluster(&["config", "show", "--cores", "2"])
        .env("HPCLUSTER_SLOTS", "2")
        .output();
    let stdout = out.stdout;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let file = sandbox.path().join("hpcluster.toml");
    assert!(stdout.starts_with(&format!("# config file: {}\n", file.display())));
    assert!(
        stdout.contains(&format!(
            "walltime                  \"5h\"  [file ({})]",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("slots                     2  [env (HPCLUSTER_SLOTS)]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cores                     2  [flag]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("queue                     (unset)  [default]"),
        "{stdout}"
    );
    for key in hpcluster::config::keys::KEYS {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{key} "))),
            "{key}"
        );
    }
}

#[test]
fn dask_names_and_aliases_are_accepted() {
    let sandbox = Test::new().config(
        "processes = 3\njob_name = \"dasky\"\nenv_extra = [\"module load x\"]\n\
         header_skip = [\"--mem\"]\njob-extra = [\"--qos=high\"]\n",
    );
    let v = show_json(&sandbox, &[], &[]);
    assert_eq!(v["slots"]["value"], 3);
    assert_eq!(v["name"]["value"], "dasky");
    assert_eq!(v["job_script_prologue"]["value"][0], "module load x");
    assert_eq!(v["job_directives_skip"]["value"][0], "--mem");
    assert_eq!(v["job_extra_directives"]["value"][0], "--qos=high");
}

#[test]
fn env_lists_are_json_arrays_or_one_item() {
    let sandbox = Test::new();
    let env = [
        (
            "HPCLUSTER_JOB_EXTRA_DIRECTIVES",
            r#"["--qos=high", "-C a,b"]"#,
        ),
        ("HPCLUSTER_JOB_SCRIPT_PROLOGUE", "module load a,b"),
    ];
    let v = show_json(&sandbox, &[], &env);
    assert_eq!(
        v["job_extra_directives"]["value"],
        serde_json::json!(["--qos=high", "-C a,b"])
    );
    assert_eq!(
        v["job_script_prologue"]["value"],
        serde_json::json!(["module load a,b"])
    );
}

#[test]
fn config_flag_beats_env_beats_local_file() {
    let sandbox = Test::new().config("name = \"local\"\n");
    let from_env = sandbox.write("env.toml", "name = \"fromenv\"\n");
    let from_flag = sandbox.write("flag.toml", "name = \"fromflag\"\n");
    let env = [("HPCLUSTER_CONFIG", from_env.to_str().unwrap())];
    let v = show_json(&sandbox, &[], &env);
    assert_eq!(v["name"]["value"], "fromenv");
    let v = show_json(&sandbox, &["--config", from_flag.to_str().unwrap()], &env);
    assert_eq!(v["name"]["value"], "fromflag");
    let v = show_json(&sandbox, &[], &[]);
    assert_eq!(v["name"]["value"], "local");
}

#[test]
fn user_config_in_xdg_then_home() {
    let sandbox = Test::new();
    sandbox.write("home/.config/hpcluster/config.toml", "name = \"home\"\n");
    let out = sandbox
        .hpcluster(&["config", "show", "--json"])
        .env("XDG_CONFIG_HOME", "")
        .output();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("\"home\""), "{}", out.stdout);
    sandbox.write("xdg/hpcluster/config.toml", "name = \"xdg\"\n");
    let v = show_json(&sandbox, &[], &[]);
    assert_eq!(v["name"]["value"], "xdg");
    assert!(v["name"]["path"]
        .as_str()
        .unwrap()
        .ends_with("xdg/hpcluster/config.toml"));
}

#[test]
fn unrelated_hpcluster_env_vars_are_ignored() {
    let sandbox = Test::new();
    let v = show_json(&sandbox, &[], &[("HPCLUSTER_TASK_ID", "7")]);
    assert_eq!(v["name"]["value"], "hpcluster");
}

#[test]
fn every_example_config_loads_and_renders() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        seen += 1;
        let out = Test::new().run(&["render", "--config", path.to_str().unwrap()]);
        assert_eq!(out.code, Some(0), "{}: {}", path.display(), out.stderr);
        assert!(
            out.stdout.contains("worker --cluster-dir"),
            "{}: {}",
            path.display(),
            out.stdout
        );
    }
    assert!(seen >= 6, "examples: {seen}");
}

/// Every keyword of dask-jobqueue (the arguments of its `Job` and `JobQueueCluster` classes and
/// the keys of its `jobqueue.yaml`, at commit 0ca86d6) is a key, an alias, or refused naming
/// what to do instead (issue 9).
const DASK_KEYWORDS: &[&str] = &[
    "name",
    "cores",
    "memory",
    "processes",
    "python",
    "job_name",
    "interface",
    "death_timeout",
    "local_directory",
    "shared_temp_directory",
    "extra",
    "worker_extra_args",
    "worker_command",
    "shebang",
    "queue",
    "project",
    "account",
    "walltime",
    "env_extra",
    "job_script_prologue",
    "job_script_epilogue",
    "resource_spec",
    "job_extra",
    "job_extra_directives",
    "job_directives_skip",
    "header_skip",
    "log_directory",
    "job_cpu",
    "job_mem",
    "ncpus",
    "mem",
    "lsf_units",
    "use_stdin",
    "scheduler_options",
    "submit_command_extra",
    "cancel_command_extra",
    "disk",
    "memory_per_core_property_name",
    "nanny",
    "protocol",
    "security",
    "config_name",
    "n_workers",
    "silence_logs",
    "asynchronous",
    "loop",
    "scheduler_cls",
    "dashboard_address",
    "host",
    "job_cls",
];

#[test]
fn every_dask_jobqueue_keyword_maps_or_is_refused_saying_what_to_do() {
    use hpcluster::config::keys::{canonical, dask_only};
    for k in DASK_KEYWORDS {
        let dashed = k.replace('_', "-");
        match (canonical(k), dask_only(k)) {
            (Some(_), None) => {}
            (None, Some(why)) => {
                let out = Test::new()
                    .config(&format!("{dashed} = \"x\"\n"))
                    .run(&["config", "show"]);
                assert_eq!(out.code, Some(1), "{k}: {}", out.all());
                let expected = format!("dask-jobqueue's `{dashed}` has no hpcluster key: {why}");
                assert!(out.stderr.contains(&expected), "{k}: {}", out.stderr);
            }
            other => panic!("`{k}`: {other:?}"),
        }
    }
}

#[test]
fn an_interface_that_does_not_exist_names_those_that_do() {
    let t = Test::new().config("interface = \"nope7\"\n");
    let out = t.run(&["up", "--backend", "local", "--jobs", "1"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(
        out.stderr
            .contains("error: interface `nope7` does not exist on this machine (`"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("its interfaces are `lo`"),
        "{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("set `interface` to one of them, or `host` to an address to listen on"),
        "{}",
        out.all()
    );
    assert!(!t.path().join(".hpcluster").exists(), "nothing created");
}

#[test]
fn the_loopback_interface_is_listened_on_and_advertised() {
    let t = Test::new().cluster("iface").config("interface = \"lo\"\n");
    let up = t.spawn(&["up", "--backend", "local"]);
    let server = crate::harness::wait_for(20, "server.json", || {
        std::fs::read_to_string(t.cluster_dir().join("server.json")).ok()
    });
    let out = up.terminate();
    assert!(
        server.contains("\"address\":\"127.0.0.1:"),
        "{server}\n{}",
        out.all()
    );
}
