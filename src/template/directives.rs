//! A rendered job script read back the way its batch system reads it: its directive lines, the
//! settings each one makes (so a user's `job_extra_directives` line can replace the one
//! hpcluster generates for the same setting), and where the batch job writes its output (so
//! `up` can create those directories before submitting, and show what a batch job wrote when
//! it fails). Pure functions of the script's text.

use std::path::{Path, PathBuf};

use crate::backend_kind::BackendKind;

/// The words of a directive line after its prefix (`#SBATCH --mem=4G` -> `["--mem=4G"]`), or
/// `None` for any other line.
pub fn words(kind: BackendKind, line: &str) -> Option<Vec<String>> {
    let prefix = super::directive_prefix(kind)?;
    let rest = line.strip_prefix(prefix)?.strip_prefix(' ')?;
    Some(shlex::split(rest).unwrap_or_else(|| rest.split_whitespace().map(String::from).collect()))
}

/// Every directive of a script, as words.
fn all(kind: BackendKind, script: &str) -> Vec<Vec<String>> {
    script.lines().filter_map(|l| words(kind, l)).collect()
}

/// An option and its value, as the batch system's parser takes them: `--output=X`,
/// `--output X`, `-o X`, and SLURM's glued `-oX`.
fn options(kind: BackendKind, words: &[String]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let next = words.get(i + 1).filter(|n| !n.starts_with('-')).cloned();
        if let Some((name, value)) = w.strip_prefix("--").and_then(|l| l.split_once('=')) {
            out.push((format!("--{name}"), Some(value.to_string())));
        } else if w.starts_with('-')
            && kind == BackendKind::Slurm
            && !w.starts_with("--")
            && w.len() > 2
        {
            out.push((w[..2].to_string(), Some(w[2..].to_string())));
        } else if w.starts_with('-') {
            if next.is_some() {
                i += 1;
            }
            out.push((w.clone(), next));
        }
        i += 1;
    }
    out
}

/// Which stream an output directive names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// The output settings of a script: where stdout and stderr go (as written), the working
/// directory relative paths start from, and whether stderr is merged into stdout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    pub paths: Vec<(Stream, String)>,
    pub chdir: Option<String>,
    pub joined: bool,
}

/// Reads the output settings of a script's directives.
pub fn outputs(kind: BackendKind, script: &str) -> Outputs {
    let (out, err, chdir): (&[&str], &[&str], &[&str]) = match kind {
        BackendKind::Slurm => (&["-o", "--output"], &["-e", "--error"], &["-D", "--chdir"]),
        BackendKind::Sge => (&["-o"], &["-e"], &["-wd"]),
        BackendKind::Pbs => (&["-o"], &["-e"], &[]),
        BackendKind::Lsf => (&["-o", "-oo"], &["-e", "-eo"], &["-cwd"]),
        BackendKind::Local => (&[], &[], &[]),
    };
    let mut o = Outputs::default();
    for d in all(kind, script) {
        for (name, value) in options(kind, &d) {
            let n = name.as_str();
            match value {
                Some(v) if out.contains(&n) => o.paths.push((Stream::Out, v)),
                Some(v) if err.contains(&n) => o.paths.push((Stream::Err, v)),
                Some(v) if chdir.contains(&n) => o.chdir = Some(v),
                Some(v) if n == "-j" => o.joined = matches!(v.as_str(), "y" | "yes" | "oe"),
                _ => {}
            }
        }
    }
    o
}

/// `host:/path` (SGE, PBS) without its host.
fn without_host(kind: BackendKind, path: &str) -> &str {
    match (kind, path.split_once(':')) {
        (BackendKind::Sge | BackendKind::Pbs, Some((host, rest)))
            if !host.contains('/') && rest.starts_with('/') =>
        {
            rest
        }
        _ => path,
    }
}

/// Whether a path names a directory, into which the batch system writes files of its own
/// naming: SGE, PBS and LSF take a path ending in `/` that way.
fn names_directory(kind: BackendKind, path: &str) -> bool {
    kind != BackendKind::Slurm && path.ends_with('/')
}

/// The directories the batch system writes a batch job's output into, which must exist before
/// it starts (relative paths are taken from the working directory, else `workdir`, where the
/// submit command runs). A directory whose name the batch system fills in (`%u`, `$HOME`) is
/// left out: it cannot be known here.
pub fn output_dirs(kind: BackendKind, script: &str, workdir: &Path) -> Vec<PathBuf> {
    let o = outputs(kind, script);
    let base = match &o.chdir {
        Some(d) if !d.contains(['%', '$']) => workdir.join(d),
        Some(_) => return Vec::new(),
        None => workdir.to_path_buf(),
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (_, path) in &o.paths {
        let path = without_host(kind, path);
        let dir = if names_directory(kind, path) {
            Some(Path::new(path))
        } else {
            Path::new(path).parent()
        };
        let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) else {
            continue;
        };
        if dir.to_string_lossy().contains(['%', '$']) {
            continue;
        }
        let dir = base.join(dir);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// The parts of a batch job ID the batch systems fill into output file names: the job
/// number and the array task, if any (`4101_3`, `4101.3`, `4101[3].server`, `4101[3]`).
fn id_parts(kind: BackendKind, id: &str) -> (String, Option<String>) {
    let split = match kind {
        BackendKind::Slurm => id
            .split_once('_')
            .map(|(j, t)| (j.to_string(), t.to_string())),
        BackendKind::Sge => id
            .split_once('.')
            .map(|(j, t)| (j.to_string(), t.to_string())),
        BackendKind::Pbs | BackendKind::Lsf => id.split_once('[').and_then(|(j, rest)| {
            let (t, _) = rest.split_once(']')?;
            Some((j.to_string(), t.to_string()))
        }),
        BackendKind::Local => None,
    };
    match split {
        Some((j, t)) => (j, Some(t)),
        None => (id.split('.').next().unwrap_or(id).to_string(), None),
    }
}

/// A path with the batch system's placeholders filled in, or `None` when one cannot be.
fn fill(
    kind: BackendKind,
    path: &str,
    job_name: &str,
    job: &str,
    task: Option<&str>,
) -> Option<String> {
    let mut out = String::new();
    match kind {
        BackendKind::Slurm | BackendKind::Lsf => {
            let mut chars = path.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    out.push(c);
                    continue;
                }
                let with = match (kind, chars.next()?) {
                    (_, '%') => "%".to_string(),
                    (BackendKind::Slurm, 'A') => job.to_string(),
                    (BackendKind::Slurm, 'a') => task?.to_string(),
                    (BackendKind::Slurm, 'j' | 'J') if task.is_none() => job.to_string(),
                    (BackendKind::Slurm, 'x') => job_name.to_string(),
                    (BackendKind::Lsf, 'J') => job.to_string(),
                    (BackendKind::Lsf, 'I') => task.unwrap_or("0").to_string(),
                    _ => return None,
                };
                out.push_str(&with);
            }
        }
        _ => {
            out = path
                .replace("$JOB_ID", job)
                .replace("$JOB_NAME", job_name)
                .replace("$TASK_ID", task.unwrap_or("undefined"));
            if out.contains('$') {
                return None;
            }
        }
    }
    Some(out)
}

/// The files a batch job's stderr and stdout went to, stderr first, as its script's directives
/// name them (`workdir`: where its submit command ran). The local backend writes one file.
pub fn output_files(
    kind: BackendKind,
    script: &str,
    workdir: &Path,
    job_name: &str,
    id: &str,
) -> Vec<PathBuf> {
    if kind == BackendKind::Local {
        return vec![workdir.join(format!("{job_name}.{id}.out"))];
    }
    let o = outputs(kind, script);
    let (job, task) = id_parts(kind, id);
    let base = o
        .chdir
        .as_deref()
        .map_or(workdir.to_path_buf(), |d| workdir.join(d));
    let mut files = Vec::new();
    let streams = [(Stream::Err, 'e'), (Stream::Out, 'o')];
    for (stream, letter) in streams {
        if o.joined && stream == Stream::Err {
            continue;
        }
        for (s, path) in o.paths.iter().filter(|(s, _)| *s == stream) {
            let _ = s;
            let path = without_host(kind, path);
            let file = if names_directory(kind, path) {
                let task = task.as_ref().map_or(String::new(), |t| format!(".{t}"));
                Some(format!("{path}{job_name}.{letter}{job}{task}"))
            } else {
                fill(kind, path, job_name, &job, task.as_deref())
            };
            if let Some(f) = file {
                let f = base.join(f);
                if !files.contains(&f) {
                    files.push(f);
                }
            }
        }
    }
    files
}

/// The settings a directive makes, as keys two directives setting the same thing share:
/// SLURM `-p x` and `--partition=y` both set `partition`, `--mem` and `--mem-per-cpu` both set
/// `mem` (sbatch takes one of them); SGE `-l h_vmem=4G,h_rt=1:00:00` sets `-l h_vmem` and
/// `-l h_rt`; PBS `-l select=...` sets `-l select`; LSF `-R "span[hosts=1]"` sets `-R span`.
pub fn keys(kind: BackendKind, words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in options(kind, words) {
        match (kind, name.as_str()) {
            (BackendKind::Slurm, n) => out.push(slurm_key(n).to_string()),
            (BackendKind::Sge | BackendKind::Pbs, "-l") => {
                let v = value.unwrap_or_default();
                for resource in v.split(',').filter(|r| !r.is_empty()) {
                    let rname = resource.split(['=', ':']).next().unwrap_or(resource);
                    out.push(format!("-l {rname}"));
                }
            }
            (BackendKind::Lsf, "-R") => {
                let v = value.unwrap_or_default();
                let sections: Vec<&str> = v
                    .split(']')
                    .filter_map(|p| p.split_once('[').map(|(k, _)| k.trim()))
                    .filter(|k| !k.is_empty())
                    .collect();
                if sections.is_empty() {
                    out.push("-R select".to_string());
                }
                out.extend(sections.iter().map(|k| format!("-R {k}")));
            }
            (_, n) => out.push(n.to_string()),
        }
    }
    out
}

/// One name for each SLURM option, short or long (`-p`, `--partition`: `partition`).
fn slurm_key(name: &str) -> &str {
    const SAME: &[(&[&str], &str)] = &[
        (&["-J", "--job-name"], "job-name"),
        (&["-p", "--partition"], "partition"),
        (&["-A", "--account"], "account"),
        (&["-n", "--ntasks"], "ntasks"),
        (&["-N", "--nodes"], "nodes"),
        (&["-c", "--cpus-per-task"], "cpus-per-task"),
        (&["--mem", "--mem-per-cpu", "--mem-per-gpu"], "mem"),
        (&["-t", "--time"], "time"),
        (&["-o", "--output"], "output"),
        (&["-e", "--error"], "error"),
        (&["-a", "--array"], "array"),
        (&["-q", "--qos"], "qos"),
        (&["-C", "--constraint"], "constraint"),
        (&["-D", "--chdir"], "chdir"),
    ];
    SAME.iter()
        .find(|(names, _)| names.contains(&name))
        .map_or(name.trim_start_matches('-'), |(_, key)| key)
}

/// The keys of the settings that make a batch job's identity, which hpcluster sets itself and
/// finds its batch jobs by: its name and its array.
pub fn identity_keys(kind: BackendKind) -> &'static [&'static str] {
    match kind {
        BackendKind::Slurm => &["job-name", "array"],
        BackendKind::Sge => &["-N", "-t"],
        BackendKind::Pbs => &["-N", "-J"],
        BackendKind::Lsf => &["-J"],
        BackendKind::Local => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLURM: &str = "#!/bin/bash\n#SBATCH -J c-1\n#SBATCH -e logs/c-1-%J.err\n\
                         #SBATCH --output=/abs/out/c-1-%J.out\n#SBATCH -t 01:00:00\necho -o x\n";

    #[test]
    fn slurm_outputs_give_their_directories_and_files() {
        let w = Path::new("/work/c/logs");
        assert_eq!(
            output_dirs(BackendKind::Slurm, SLURM, w),
            [
                PathBuf::from("/work/c/logs/logs"),
                PathBuf::from("/abs/out")
            ]
        );
        assert_eq!(
            output_files(BackendKind::Slurm, SLURM, w, "c-1", "4101"),
            [
                PathBuf::from("/work/c/logs/logs/c-1-4101.err"),
                PathBuf::from("/abs/out/c-1-4101.out")
            ]
        );
        let array = "#SBATCH -e /l/a-%A_%a.err\n#SBATCH -o /l/%u/a.out\n";
        assert_eq!(
            output_files(BackendKind::Slurm, array, w, "a", "8_3"),
            [PathBuf::from("/l/a-8_3.err")]
        );
        assert_eq!(
            output_dirs(BackendKind::Slurm, array, w),
            [PathBuf::from("/l")]
        );
    }

    #[test]
    fn sge_and_pbs_directories_get_files_of_their_naming() {
        let sge = "#$ -N c-2\n#$ -e /l/\n#$ -o /l/\n#$ -cwd\n#$ -j y\n";
        assert_eq!(
            output_dirs(BackendKind::Sge, sge, Path::new("/w")),
            [PathBuf::from("/l/")]
        );
        assert_eq!(
            output_files(BackendKind::Sge, sge, Path::new("/w"), "c-2", "27.3"),
            [PathBuf::from("/l/c-2.o27.3")]
        );
        let pbs = "#PBS -e host1:/l/\n#PBS -o /l/\n";
        assert_eq!(
            output_files(
                BackendKind::Pbs,
                pbs,
                Path::new("/w"),
                "c-3",
                "4101.server01"
            ),
            [PathBuf::from("/l/c-3.e4101"), PathBuf::from("/l/c-3.o4101")]
        );
    }

    #[test]
    fn lsf_placeholders_and_working_directory() {
        let lsf = "#BSUB -cwd /run\n#BSUB -eo err/%J_%I.err\n#BSUB -o /o/%J.out\n";
        assert_eq!(
            output_dirs(BackendKind::Lsf, lsf, Path::new("/w")),
            [PathBuf::from("/run/err"), PathBuf::from("/o")]
        );
        assert_eq!(
            output_files(BackendKind::Lsf, lsf, Path::new("/w"), "c-1", "4102[3]"),
            [
                PathBuf::from("/run/err/4102_3.err"),
                PathBuf::from("/o/4102.out")
            ]
        );
    }

    fn k(kind: BackendKind, line: &str) -> Vec<String> {
        keys(kind, &words(kind, line).unwrap())
    }

    #[test]
    fn two_directives_that_set_the_same_thing_share_a_key() {
        assert_eq!(k(BackendKind::Slurm, "#SBATCH --mem-per-cpu=2G"), ["mem"]);
        assert_eq!(k(BackendKind::Slurm, "#SBATCH --mem=94G"), ["mem"]);
        assert_eq!(k(BackendKind::Slurm, "#SBATCH -p regular"), ["partition"]);
        assert_eq!(
            k(BackendKind::Slurm, "#SBATCH --partition=gpu"),
            ["partition"]
        );
        assert_eq!(k(BackendKind::Slurm, "#SBATCH --exclusive"), ["exclusive"]);
        assert_eq!(
            k(BackendKind::Sge, "#$ -l h_vmem=12G,mem_req=12G"),
            ["-l h_vmem", "-l mem_req"]
        );
        assert_eq!(k(BackendKind::Sge, "#$ -pe smp 4"), ["-pe"]);
        assert_eq!(k(BackendKind::Sge, "#$ -w e"), ["-w"]);
        assert_eq!(
            k(BackendKind::Pbs, "#PBS -l select=1:ncpus=24:mem=100GB"),
            ["-l select"]
        );
        assert_eq!(
            k(BackendKind::Pbs, "#PBS -l walltime=01:00:00"),
            ["-l walltime"]
        );
        assert_eq!(
            k(BackendKind::Lsf, "#BSUB -R \"span[hosts=1]\""),
            ["-R span"]
        );
        assert_eq!(
            k(BackendKind::Lsf, "#BSUB -R rusage[mem=16GB]"),
            ["-R rusage"]
        );
        assert_eq!(k(BackendKind::Lsf, "#BSUB -M 16000"), ["-M"]);
    }

    #[test]
    fn only_directive_lines_count() {
        assert_eq!(
            words(BackendKind::Slurm, "#SBATCH --qos=high"),
            Some(vec!["--qos=high".into()])
        );
        assert_eq!(words(BackendKind::Slurm, "echo #SBATCH -o x"), None);
        assert_eq!(
            words(BackendKind::Lsf, "#BSUB -R \"span[hosts=1]\""),
            Some(vec!["-R".into(), "span[hosts=1]".into()])
        );
        assert!(output_dirs(BackendKind::Local, "#!/bin/sh\n", Path::new("/w")).is_empty());
    }
}
