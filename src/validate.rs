//! Values that go into a job script, checked so a script is never broken or hijacked.
//!
//! A job script is shell, and its directives (`#SBATCH -p QUEUE`) are read by the batch system
//! up to the end of the line. A newline in a job name starts a new directive
//! (`x\n#SBATCH --uid=0`) or a shell command; `$(...)` in a queue name runs when a template
//! puts it in a command. So every value that lands in a directive unquoted must be one *word*
//! of a small, safe alphabet, and every free-form directive must be one line. The shell lines of
//! `job_script_prologue`/`job_script_epilogue` are the user's own code and only must not hold NUL.

use crate::backend_kind::BackendKind;

/// A value that would break or change the meaning of a job script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{key}` {shown}: {reason}")]
pub struct UnsafeValue {
    pub key: String,
    /// The value, escaped so a newline shows as `\n`.
    pub shown: String,
    pub reason: String,
}

fn unsafe_value(key: &str, value: &str, reason: impl Into<String>) -> UnsafeValue {
    UnsafeValue {
        key: key.to_string(),
        shown: format!("{value:?}"),
        reason: reason.into(),
    }
}

/// Characters a directive word may hold besides ASCII letters and digits.
const WORD_EXTRA: &str = "_.-@:+=,/%";

fn line_problem(value: &str) -> Option<&'static str> {
    if value.contains('\0') {
        Some("it contains a NUL byte")
    } else if value.contains('\n') || value.contains('\r') {
        Some("it contains a line break, which would end the directive and start a new line of the script")
    } else {
        None
    }
}

/// One word that goes unquoted into a directive: a queue, account, project, parallel
/// environment, resource list or path. Letters, digits and `_.-@:+=,/%` only.
pub fn check_word(key: &str, value: &str) -> Result<(), UnsafeValue> {
    if let Some(p) = line_problem(value) {
        return Err(unsafe_value(key, value, p));
    }
    if value.is_empty() {
        return Err(unsafe_value(
            key,
            value,
            "it is empty; remove the key instead",
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !WORD_EXTRA.contains(*c))
    {
        return Err(unsafe_value(
            key,
            value,
            format!(
                "`{c}` is not allowed: it goes unquoted into a job script directive, which \
                 takes letters, digits and `{WORD_EXTRA}` only"
            ),
        ));
    }
    Ok(())
}

/// A batch job name or the cluster name it starts with. Every backend: letters, digits and
/// `_.-`, not starting with `-` or `.`; SGE also rejects a leading digit, so there the name
/// must match `[A-Za-z_][A-Za-z0-9_.-]*`.
pub fn check_job_name(key: &str, value: &str, backend: BackendKind) -> Result<(), UnsafeValue> {
    if let Some(p) = line_problem(value) {
        return Err(unsafe_value(key, value, p));
    }
    let hint = "use letters, digits, `_`, `.` and `-`, like `my-cluster`";
    if value.is_empty() {
        return Err(unsafe_value(key, value, format!("it is empty; {hint}")));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !"_.-".contains(*c))
    {
        return Err(unsafe_value(
            key,
            value,
            format!("`{c}` is not allowed in a job name; {hint}"),
        ));
    }
    let first = value.chars().next().unwrap_or('_');
    if first == '-' || first == '.' {
        return Err(unsafe_value(
            key,
            value,
            format!("a job name cannot start with `{first}`; {hint}"),
        ));
    }
    if backend == BackendKind::Sge && first.is_ascii_digit() {
        return Err(unsafe_value(
            key,
            value,
            "SGE rejects job names that start with a digit: start it with a letter or `_`",
        ));
    }
    Ok(())
}

/// A free-form directive (`job_extra_directives`) or skip pattern: one line, no NUL, and no
/// `#SBATCH`-style prefix of its own (hpcluster adds the backend's prefix).
pub fn check_directive(key: &str, value: &str) -> Result<(), UnsafeValue> {
    if let Some(p) = line_problem(value) {
        return Err(unsafe_value(key, value, p));
    }
    if value.trim().is_empty() {
        return Err(unsafe_value(
            key,
            value,
            "it is empty (as a skip pattern it would drop every directive); remove it",
        ));
    }
    if value.trim_start().starts_with('#') {
        return Err(unsafe_value(
            key,
            value,
            "give the directive without its `#SBATCH`/`#$`/`#PBS`/`#BSUB` prefix: hpcluster adds \
             the backend's prefix, like `--qos=high`",
        ));
    }
    Ok(())
}

/// A shell line of the prologue or epilogue: the user's code, so only NUL is refused.
pub fn check_shell_line(key: &str, value: &str) -> Result<(), UnsafeValue> {
    if value.contains('\0') {
        return Err(unsafe_value(key, value, "it contains a NUL byte"));
    }
    Ok(())
}

/// A one-line value that is not a directive word (e.g. `local_directory`, `interface`).
pub fn check_line(key: &str, value: &str) -> Result<(), UnsafeValue> {
    match line_problem(value) {
        Some(p) => Err(unsafe_value(key, value, p)),
        None => Ok(()),
    }
}

/// A one-line value a job script puts inside double quotes, where the batch job's shell
/// expands `$VAR` and `${VAR}` (e.g. `local_directory = "$TMPDIR"`): a quote, a backslash, a
/// backquote or `$(` would end the quotes or run a command.
pub fn check_double_quoted(key: &str, value: &str) -> Result<(), UnsafeValue> {
    check_line(key, value)?;
    if value.contains(['"', '\\', '`']) || value.contains("$(") {
        return Err(unsafe_value(
            key,
            value,
            "it contains a quote, a backslash, a backquote or `$(`; give a path, where \
             `$VAR` and `${VAR}` are expanded on the compute node",
        ));
    }
    Ok(())
}

/// The shebang: `#!` and an absolute interpreter path, on one line.
pub fn check_shebang(value: &str) -> Result<(), UnsafeValue> {
    check_line("shebang", value)?;
    if shell_of_shebang(value).is_none() {
        return Err(unsafe_value(
            "shebang",
            value,
            "expected `#!` and an absolute interpreter path, like `#!/bin/bash` or \
             `#!/usr/bin/env bash`",
        ));
    }
    Ok(())
}

/// The shell a shebang names, as an absolute path for SGE's `-S`: `#!/bin/bash -l` ->
/// `/bin/bash`; `#!/usr/bin/env bash` -> `/bin/bash` (SGE needs a path, not a name).
pub fn shell_of_shebang(shebang: &str) -> Option<String> {
    let rest = shebang.strip_prefix("#!")?.trim();
    let mut words = rest.split_whitespace();
    let program = words.next()?;
    if !program.starts_with('/') || check_word("shebang", program).is_err() {
        return None;
    }
    if program.ends_with("/env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        if check_word("shebang", name).is_err() || name.contains('/') {
            return None;
        }
        return Some(format!("/bin/{name}"));
    }
    Some(program.to_string())
}

/// What a value becomes in a job script (or on a batch command's line), which decides the rule
/// it is checked by. Every configuration key that reaches a script is listed with one of these
/// in `config::script_values`, and every template value in `docs/templates.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Becomes {
    /// A batch job name, or the cluster name it starts with ([`check_job_name`]).
    JobName,
    /// One unquoted word of a directive: a queue, account, path ([`check_word`]).
    DirectiveWord,
    /// A whole directive line of the user's, without its prefix ([`check_directive`]).
    Directive,
    /// A line of the user's shell code ([`check_shell_line`]).
    ShellLine,
    /// A word hpcluster shell-quotes, like the worker program or the cluster directory: one
    /// line, since a quoted line break still starts a line a batch system reads for directives.
    QuotedWord,
    /// A path inside double quotes where `$VAR` expands ([`check_double_quoted`]).
    DoubleQuoted,
    /// The first line ([`check_shebang`]).
    Shebang,
    /// An argument of a batch command or a file hpcluster reads, never a line of the script:
    /// no NUL.
    Argument,
}

impl Becomes {
    /// Checks `value` of `key` by what it becomes.
    pub fn check(self, key: &str, value: &str, backend: BackendKind) -> Result<(), UnsafeValue> {
        match self {
            Becomes::JobName => check_job_name(key, value, backend),
            Becomes::DirectiveWord => check_word(key, value),
            Becomes::Directive => check_directive(key, value),
            Becomes::ShellLine | Becomes::Argument => check_shell_line(key, value),
            Becomes::QuotedWord => check_line(key, value),
            Becomes::DoubleQuoted => check_double_quoted(key, value),
            Becomes::Shebang => check_shebang(value).map_err(|e| UnsafeValue {
                key: key.to_string(),
                ..e
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_refuse_shell_and_newlines() {
        assert!(check_word("queue", "regular").is_ok());
        assert!(check_word("queue", "gpu,cpu").is_ok());
        assert!(check_word("queue", "workq@server01").is_ok());
        let e = check_word("queue", "$(rm -rf ~)").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid `queue` \"$(rm -rf ~)\": `$` is not allowed"),
            "{e}"
        );
        let e = check_word("account", "a\n#SBATCH --uid=0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line break"), "{e}");
    }

    #[test]
    fn job_names_follow_sge_rules_on_sge() {
        assert!(check_job_name("name", "hpcluster-1", BackendKind::Sge).is_ok());
        assert!(check_job_name("name", "1job", BackendKind::Slurm).is_ok());
        let e = check_job_name("name", "1job", BackendKind::Sge).unwrap_err();
        assert!(e.reason.contains("digit"));
        assert!(check_job_name("name", "my job", BackendKind::Slurm).is_err());
        assert!(check_job_name("name", "x\n#SBATCH --uid=0", BackendKind::Slurm).is_err());
        assert!(check_job_name("name", "-x", BackendKind::Pbs).is_err());
    }

    #[test]
    fn shells_from_shebangs() {
        assert_eq!(
            shell_of_shebang("#!/usr/bin/env bash").as_deref(),
            Some("/bin/bash")
        );
        assert_eq!(
            shell_of_shebang("#!/bin/bash -l").as_deref(),
            Some("/bin/bash")
        );
        assert_eq!(shell_of_shebang("#!/bin/sh").as_deref(), Some("/bin/sh"));
        assert_eq!(shell_of_shebang("bash"), None);
        assert_eq!(shell_of_shebang("#!bash"), None);
    }

    #[test]
    fn directives_are_one_line_without_prefix() {
        assert!(check_directive("job_extra_directives", "--qos=high").is_ok());
        assert!(check_directive("job_extra_directives", "#SBATCH --qos=high").is_err());
        assert!(check_directive("job_extra_directives", "--qos=high\nrm -rf ~").is_err());
        assert!(check_directive("job_directives_skip", " ").is_err());
    }

    /// Issue 13: `worker_program` took a newline, and on SGE the next line became a directive.
    #[test]
    fn a_quoted_word_is_one_line() {
        let program = "/opt/h\n#$ -l h_rt=999:00:00";
        let e = Becomes::QuotedWord
            .check("worker_program", program, BackendKind::Sge)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid `worker_program` \"/opt/h\\n#$ -l h_rt=999:00:00\": it contains a line \
             break, which would end the directive and start a new line of the script"
        );
        assert!(Becomes::QuotedWord
            .check(
                "worker_program",
                "/opt/my tools/hpcluster",
                BackendKind::Sge
            )
            .is_ok());
        let e = Becomes::Shebang
            .check("shebang", "bash", BackendKind::Slurm)
            .unwrap_err();
        assert_eq!(e.key, "shebang");
    }
}
