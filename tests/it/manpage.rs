//! `hpcluster manpage DIR`, the hidden command that writes the man pages the wheel ships
//! (issue 8, item 6): a page for every command `--help` lists, nested ones included, none for
//! hidden commands, and the command itself stays out of `--help`.

use crate::harness::{Finished, Test as Sandbox};

/// The names under `Commands:` in `hpcluster ARGS --help`, without clap's `help`.
fn listed_commands(sandbox: &Sandbox, args: &[&str]) -> Vec<String> {
    let mut args = args.to_vec();
    args.push("--help");
    let Finished {
        code,
        stdout,
        stderr,
    } = sandbox.run(&args);
    assert_eq!(code, Some(0), "{stderr}");
    stdout
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Runs `hpcluster manpage man1` in `sandbox`; returns the page file names, sorted.
fn write_pages(sandbox: &Sandbox) -> Vec<String> {
    let Finished {
        code,
        stdout,
        stderr,
    } = sandbox.run(&["manpage", "man1"]);
    assert_eq!(code, Some(0), "{stderr}");
    let mut pages: Vec<String> = std::fs::read_dir(sandbox.path().join("man1"))
        .expect("man1 written")
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    assert_eq!(
        stdout.lines().count(),
        pages.len(),
        "one path per page:\n{stdout}"
    );
    pages
}

#[test]
fn every_listed_command_has_a_page_and_hidden_ones_have_none() {
    let sandbox = Sandbox::new();
    let pages = write_pages(&sandbox);
    let top = listed_commands(&sandbox, &[]);
    assert!(top.contains(&"up".to_string()), "{top:?}");
    let mut expected = vec!["hpcluster.1".to_string()];
    for name in &top {
        expected.push(format!("hpcluster-{name}.1"));
        for sub in listed_commands(&sandbox, &[name]) {
            expected.push(format!("hpcluster-{name}-{sub}.1"));
        }
    }
    expected.sort();
    assert!(expected.contains(&"hpcluster-config-show.1".to_string()));
    assert_eq!(pages, expected);
    for hidden in [
        "hpcluster-local-job.1",
        "hpcluster-manpage.1",
        "hpcluster-help.1",
    ] {
        assert!(
            !pages.contains(&hidden.to_string()),
            "{hidden} in {pages:?}"
        );
    }
}

#[test]
fn pages_carry_the_options_and_the_version() {
    let sandbox = Sandbox::new();
    write_pages(&sandbox);
    let read =
        |name: &str| std::fs::read_to_string(sandbox.path().join("man1").join(name)).unwrap();
    let footer = format!("\"hpcluster {}\"", env!("CARGO_PKG_VERSION"));
    let top = read("hpcluster.1");
    assert!(top.contains(".TH hpcluster 1 "), "{top}");
    assert!(top.contains(&footer), "{top}");
    let up = read("hpcluster-up.1");
    assert!(up.contains(".TH hpcluster-up 1 "), "{up}");
    assert!(up.contains(&footer), "{up}");
    assert!(up.contains("\\-\\-task\\-time"), "{up}");
    assert!(
        up.contains("Start the server, submit worker batch jobs and run tasks"),
        "{up}"
    );
}

#[test]
fn manpage_is_hidden_from_help() {
    let sandbox = Sandbox::new();
    for args in [&["--help"][..], &["help"][..]] {
        let Finished {
            code,
            stdout,
            stderr,
        } = sandbox.run(args);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stdout.contains("completions"), "{stdout}");
        assert!(
            !stdout.contains("manpage"),
            "{args:?} lists manpage:\n{stdout}"
        );
    }
}

#[test]
fn a_directory_that_cannot_be_made_is_named() {
    let sandbox = Sandbox::new();
    sandbox.write("taken", "a file, not a directory\n");
    let Finished {
        code,
        stdout,
        stderr,
    } = sandbox.run(&["manpage", "taken/man1"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with("error: failed to create man page directory `taken/man1`: "),
        "{stderr}"
    );
}
