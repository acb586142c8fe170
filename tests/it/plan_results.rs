//! The required plan results, through the binary, in text and in `--json`.

use crate::harness::{Finished, Test};

fn plan(args: &[&str]) -> Finished {
    Test::new().hpcluster(&["plan"]).args(args).output()
}

fn max_tasks_text(args: &[&str]) -> String {
    let out = plan(args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("max_tasks"))
        .unwrap_or_else(|| panic!("no max_tasks line in {}", out.stdout));
    line.split_whitespace().nth(1).unwrap().to_string()
}

fn max_tasks_json(args: &[&str]) -> u64 {
    let mut all = args.to_vec();
    all.push("--json");
    let out = plan(&all);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v["max_tasks"].as_u64().unwrap()
}

#[test]
fn five_hours_four_hour_tasks_fits_one() {
    let args = ["--walltime", "5h", "--task-time", "4h"];
    assert_eq!(max_tasks_text(&args), "1");
    assert_eq!(max_tasks_json(&args), 1);
}

#[test]
fn five_hours_one_hour_tasks_fits_four_with_the_default_buffer() {
    let args = ["--walltime", "5h", "--task-time", "1h"];
    assert_eq!(max_tasks_text(&args), "4");
    assert_eq!(max_tasks_json(&args), 4);
}

#[test]
fn five_hours_one_hour_tasks_fits_five_without_buffer() {
    let args = ["--walltime", "5h", "--task-time", "1h", "--buffer", "0"];
    assert_eq!(max_tasks_text(&args), "5");
    assert_eq!(max_tasks_json(&args), 5);
}

#[test]
fn plan_reads_the_config_file() {
    let t = Test::new().config("walltime = \"05:00:00\"\ntask_time = \"60m\"\nbuffer = \"0\"\n");
    let out = t.run(&["plan", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["max_tasks"], 5);
}

#[test]
fn three_hours_four_hour_tasks_fails_naming_the_smallest_walltime() {
    for json in [false, true] {
        let mut args = vec!["--walltime", "3h", "--task-time", "4h"];
        if json {
            args.push("--json");
        }
        let out = plan(&args);
        assert_eq!(out.code, Some(1), "json={json}");
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        assert!(out.stderr.contains("4h13m"), "json={json}: {}", out.stderr);
    }
}
