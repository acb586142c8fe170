//! The required plan results, through the binary, in text and in `--json`.

mod support;

use support::Sandbox;

fn plan(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    Sandbox::new().run(&all, &[])
}

fn max_tasks_text(args: &[&str]) -> String {
    let (code, stdout, stderr) = plan(args);
    assert_eq!(code, 0, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("max_tasks"))
        .unwrap_or_else(|| panic!("no max_tasks line in {stdout}"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

fn max_tasks_json(args: &[&str]) -> u64 {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, stdout, stderr) = plan(&all);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
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
    let sandbox = Sandbox::new();
    sandbox.config("walltime = \"05:00:00\"\ntask_time = \"60m\"\nbuffer = \"0\"\n");
    let (code, stdout, stderr) = sandbox.run(&["plan", "--json"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["max_tasks"], 5);
}

#[test]
fn three_hours_four_hour_tasks_fails_naming_the_smallest_walltime() {
    for json in [false, true] {
        let mut args = vec!["--walltime", "3h", "--task-time", "4h"];
        if json {
            args.push("--json");
        }
        let (code, stdout, stderr) = plan(&args);
        assert_eq!(code, 1, "json={json}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains("4h13m"), "json={json}: {stderr}");
    }
}
