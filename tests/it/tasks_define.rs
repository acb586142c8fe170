//! Issue 10, item 1: tasks defined by `--array` and `--args` templates run the right commands
//! once each (checked by what the tasks write), `--dry-run` shows the first tasks as they will
//! run, a template that cannot be filled is refused word for word, and the commands' help
//! says what `--name` means. Item 8: `up` without tasks says how to submit them.

use std::collections::BTreeMap;

use crate::harness::{assert_each_done_once, summary, wait_for, Test};

/// `--array 1-50`: task N-1 runs with index N, once; the index is `{}`, `{#}` and
/// `HPCLUSTER_TASK_INDEX`; the tasks' IDs and names are as shown.
#[test]
fn an_array_of_50_runs_each_index_once() {
    let c = Test::new().cluster("array").poll("200ms");
    let out_dir = c.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let cmd = format!(
        "echo {{}} {{#}} $HPCLUSTER_TASK_INDEX $HPCLUSTER_TASK_ID $HPCLUSTER_TASK_NAME >> {}/i{{}}",
        out_dir.display()
    );
    let out = c
        .hpcluster(&[
            "up",
            "--backend",
            "local",
            "--walltime",
            "1h",
            "--task-time",
            "1s",
        ])
        .args(&[
            "--slots",
            "4",
            "--array",
            "1-50",
            "--task-name",
            "seed-{}",
            "--",
            &cmd,
        ])
        .output();
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(summary(&out)[..3], [50, 0, 0], "{}", out.all());
    assert_each_done_once(&c.journal(), 50, &out.all());
    let files: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert_eq!(files.len(), 50);
    for n in 1..=50u64 {
        let written = std::fs::read_to_string(out_dir.join(format!("i{n}"))).unwrap();
        let id = n - 1;
        assert_eq!(written, format!("{n} {n} {n} {id} seed-{n}\n"), "index {n}");
    }
}

/// A CSV of 3 columns (one value with a space, one with a quote and a `;`): each row runs
/// once, each value arrives as one argument, by name and by position.
#[test]
fn a_three_column_csv_fills_the_template_once_per_row() {
    let c = Test::new().cluster("csv").poll("200ms");
    let out_dir = c.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let rows = [
        ["0.1", "2", "plain"],
        ["0.2", "4", "two words"],
        ["0.3", "8", "it's; odd"],
        ["0.4", "16", "x"],
    ];
    let mut csv = String::from("alpha,beta,label\n");
    for [a, b, l] in rows {
        let l = if l.contains(' ') || l.contains(';') {
            format!("\"{l}\"")
        } else {
            l.to_string()
        };
        csv.push_str(&format!("{a},{b},{l}\n"));
    }
    let params = c.write("params.csv", &csv);
    let cmd = format!(
        "printf '%s|%s|%s|%s\\n' {{alpha}} {{2}} {{label}} \"$HPCLUSTER_ARG_LABEL\" > {}/row{{#}}",
        out_dir.display()
    );
    let out = c
        .hpcluster(&[
            "up",
            "--backend",
            "local",
            "--walltime",
            "1h",
            "--task-time",
            "1s",
        ])
        .args(&["--args", params.to_str().unwrap(), "--", &cmd])
        .output();
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_each_done_once(&c.journal(), 4, &out.all());
    for (i, [a, b, l]) in rows.iter().enumerate() {
        let written = std::fs::read_to_string(out_dir.join(format!("row{}", i + 1))).unwrap();
        assert_eq!(written, format!("{a}|{b}|{l}|{l}\n"), "row {}", i + 1);
    }
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 4);
}

/// `--dry-run` prints the first ten tasks as they will run, with their IDs, and touches
/// nothing.
#[test]
fn dry_run_lists_the_first_tasks_as_they_will_run() {
    let c = Test::new().cluster("dryarr");
    let out = c.run_ok(&[
        "up",
        "--dry-run",
        "--backend",
        "slurm",
        "--walltime",
        "1h",
        "--array",
        "1-50:7",
        "--task-name",
        "s{}",
        "--",
        "./sim",
        "--seed",
        "{}",
        "--out",
        "a b",
    ]);
    let listed: Vec<&str> = out.lines().filter(|l| l.starts_with("# task ")).collect();
    assert_eq!(
        listed,
        [
            "# task 0 (s1): ./sim --seed 1 --out 'a b'",
            "# task 1 (s8): ./sim --seed 8 --out 'a b'",
            "# task 2 (s15): ./sim --seed 15 --out 'a b'",
            "# task 3 (s22): ./sim --seed 22 --out 'a b'",
            "# task 4 (s29): ./sim --seed 29 --out 'a b'",
            "# task 5 (s36): ./sim --seed 36 --out 'a b'",
            "# task 6 (s43): ./sim --seed 43 --out 'a b'",
            "# task 7 (s50): ./sim --seed 50 --out 'a b'",
        ]
    );
    assert!(
        out.contains("# 8 tasks; the first 8 as they will run:"),
        "{out}"
    );
    assert!(!c.cluster_dir().exists());
}

/// Errors of task definitions, word for word.
#[test]
fn definitions_that_cannot_make_tasks_are_refused_naming_the_fault() {
    let c = Test::new().cluster("baddef");
    c.write("p.csv", "alpha,beta,label\n1,2,3\n");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--args", "p.csv", "--", "echo", "{gamma}"],
            "error: invalid command template for `p.csv` line 2: `{gamma}` has no value: the \
             columns are `{alpha}`, `{beta}`, `{label}`\n",
        ),
        (
            &["--array", "5-1", "--", "echo", "{}"],
            "error: invalid `--array` `5-1`: LAST is smaller than FIRST; expected FIRST-LAST or \
             FIRST-LAST:STEP, like `1-100` or `0-98:2`\n",
        ),
        (
            &["--array", "1-3", "--", "echo", "{name}"],
            "error: invalid command template for `--array` index 1: `{name}` has no value: there \
             are no named columns here (a .csv or .tsv with a header, or a .jsonl, has them); \
             use `{}` or `{#}`\n",
        ),
        (
            &["--args", "missing.txt", "--", "echo", "{}"],
            "error: failed to read arguments file `missing.txt`: No such file or directory (os \
             error 2)\n",
        ),
    ];
    for (args, expected) in cases {
        let out = c
            .hpcluster(&["up", "--dry-run", "--walltime", "1h"])
            .args(args)
            .output();
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.all());
        assert_eq!(out.stderr, expected, "{args:?}");
    }
    let out = c.run(&["up", "--array", "1-3"]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.contains("<COMMAND>"), "{}", out.all());
}

/// `submit --help` names tasks with `--task-name` (`--name` is the cluster).
#[test]
fn submit_help_names_tasks_with_task_name() {
    let help = Test::new().run_ok(&["submit", "--help"]);
    assert!(
        help.contains("hpcluster submit --time 2h --task-name big -- ./train.sh"),
        "{help}"
    );
    assert!(!help.contains("--name big"), "{help}");
    assert!(help.contains("(--name is the cluster)"), "{help}");
}

/// `up` without tasks says how to submit them to it (naming the cluster).
#[test]
fn up_without_tasks_says_how_to_submit_them() {
    let c = Test::new().cluster("opencl").poll("200ms");
    let up = c.spawn(&["up", "--backend", "local", "--walltime", "1m"]);
    wait_for(30, "the server", || {
        c.cluster_dir().join("server.json").exists().then_some(())
    });
    let out = up.terminate();
    let expected = format!(
        "hpcluster: no tasks given: this cluster takes tasks until Ctrl-C; submit them from \
         another terminal with `hpcluster submit --name {n} -- COMMAND`, `hpcluster submit \
         --name {n} --tasks FILE` or `hpcluster submit --name {n} --array 1-10 -- COMMAND {{}}`",
        n = c.name()
    );
    assert!(
        out.stderr.lines().any(|l| l == expected),
        "{expected}\n{}",
        out.all()
    );
}

/// The task's environment names where it came from: `HPCLUSTER_ARG_<COLUMN>` per JSONL key,
/// the row's number as `HPCLUSTER_TASK_INDEX`.
#[test]
fn jsonl_rows_set_one_variable_per_key() {
    let c = Test::new().cluster("jsonl").poll("200ms");
    let out_dir = c.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let params = c.write(
        "p.jsonl",
        "{\"n\": 3, \"tag\": \"a b\"}\n{\"n\": 5, \"tag\": \"c\"}\n",
    );
    let cmd = format!(
        "env | grep '^HPCLUSTER_ARG_\\|^HPCLUSTER_TASK_INDEX' | sort > {}/env{{n}}",
        out_dir.display()
    );
    let out = c
        .hpcluster(&[
            "up",
            "--backend",
            "local",
            "--walltime",
            "1h",
            "--task-time",
            "1s",
        ])
        .args(&["--args", params.to_str().unwrap(), "--", &cmd])
        .output();
    assert_eq!(out.code, Some(0), "{}", out.all());
    let got: BTreeMap<String, String> = ["3", "5"]
        .iter()
        .map(|n| {
            let f = out_dir.join(format!("env{n}"));
            (n.to_string(), std::fs::read_to_string(f).unwrap())
        })
        .collect();
    assert_eq!(
        got["3"],
        "HPCLUSTER_ARG_N=3\nHPCLUSTER_ARG_TAG=a b\nHPCLUSTER_TASK_INDEX=1\n"
    );
    assert_eq!(
        got["5"],
        "HPCLUSTER_ARG_N=5\nHPCLUSTER_ARG_TAG=c\nHPCLUSTER_TASK_INDEX=2\n"
    );
}
