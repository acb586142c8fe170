//! The simulator's output: a Markdown table (headline and full) and a hand-written SVG plot of
//! efficiency per workload and walltime, one bar per policy.

use std::fmt::Write;

use super::policy::Policy;
use super::Row;

/// `5 h`, `1.5 h`.
pub fn hours(secs: f64) -> String {
    let h = secs / 3600.0;
    if (h - h.round()).abs() < 1e-9 {
        format!("{h:.0} h")
    } else {
        format!("{h:.1} h")
    }
}

/// (workload, walltime) pairs in the order of the rows.
fn cases(rows: &[Row]) -> Vec<(&str, f64)> {
    let mut out: Vec<(&str, f64)> = Vec::new();
    for r in rows {
        if !out.iter().any(|&(w, t)| w == r.workload && t == r.walltime) {
            out.push((&r.workload, r.walltime));
        }
    }
    out
}

fn find<'a>(rows: &'a [Row], w: &str, t: f64, p: Policy) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.workload == w && r.walltime == t && r.policy == p)
}

/// Efficiency relative to the oracle, one row per (workload, walltime), one column per policy.
pub fn headline(rows: &[Row]) -> String {
    let mut s = String::from("| workload | walltime |");
    for p in Policy::ALL {
        write!(s, " {} |", p.name()).expect("write to a String");
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---:|".repeat(Policy::ALL.len()));
    s.push('\n');
    for (w, t) in cases(rows) {
        write!(s, "| {w} | {} |", hours(t)).expect("write to a String");
        for p in Policy::ALL {
            let v = find(rows, w, t, p).map_or(0.0, |r| r.vs_oracle);
            let mark = if p == Policy::Hpcluster && v < 0.95 {
                " **<0.95**"
            } else {
                ""
            };
            write!(s, " {v:.3}{mark} |").expect("write to a String");
        }
        s.push('\n');
    }
    s
}

/// hpcluster against the oracle: efficiency, batch jobs, makespan, tasks killed.
pub fn against_oracle(rows: &[Row]) -> String {
    let mut s = String::from(
        "| workload | walltime | useful/consumed | vs oracle | tasks killed | batch jobs | \
         packed at this walltime | oracle (its walltime) | makespan (oracle) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (w, t) in cases(rows) {
        let (Some(h), Some(o)) = (
            find(rows, w, t, Policy::Hpcluster),
            find(rows, w, t, Policy::Oracle),
        ) else {
            continue;
        };
        let (m, om) = (&h.metrics, &o.metrics);
        let share = 100.0 * m.killed as f64 / m.done.max(1) as f64;
        writeln!(
            s,
            "| {w} | {} | {:.3} | {:.3} | {} ({share:.2}%) | {} | {} | {} ({}) | {} ({}) |",
            hours(t),
            m.efficiency(),
            h.vs_oracle,
            m.killed,
            m.jobs,
            h.packed_here,
            om.jobs,
            hours(o.asked),
            hours(m.makespan),
            hours(om.makespan),
        )
        .expect("write to a String");
    }
    s
}

/// The options of hpcluster side by side: default (fast, best fit), FIFO, frugal.
pub fn options(rows: &[Row]) -> String {
    let mut s = String::from(
        "| workload | walltime | option | walltime used | useful/consumed | batch jobs | \
         makespan | tasks killed |\n|---|---|---|---:|---:|---:|---:|---:|\n",
    );
    for (w, t) in cases(rows) {
        for p in [
            Policy::Hpcluster,
            Policy::HpclusterFifo,
            Policy::HpclusterFrugal,
        ] {
            let Some(r) = find(rows, w, t, p) else {
                continue;
            };
            let m = &r.metrics;
            writeln!(
                s,
                "| {w} | {} | {} | {:.3} | {:.3} | {} | {} | {} |",
                hours(t),
                p.name(),
                m.walltime_used(),
                m.efficiency(),
                m.jobs,
                hours(m.makespan),
                m.killed
            )
            .expect("write to a String");
        }
    }
    s
}

/// Every metric of every run.
pub fn full_table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| workload | walltime | policy | efficiency | vs oracle | core-h lost to kills \
         | tasks killed | batch jobs | cancelled | makespan |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let m = &r.metrics;
        writeln!(
            s,
            "| {} | {} | {} | {:.3} | {:.3} | {:.1} | {} | {} | {} | {} |",
            r.workload,
            hours(r.walltime),
            r.policy.name(),
            m.efficiency(),
            r.vs_oracle,
            m.lost / 3600.0,
            m.killed,
            m.jobs,
            m.cancelled,
            hours(m.makespan)
        )
        .expect("write to a String");
    }
    s
}

/// The whole Markdown page.
pub fn markdown(rows: &[Row], command: &str, tasks: usize, max_jobs: u32) -> String {
    format!(
        "# Simulated allocation efficiency\n\n\
         Produced by `{command}` (deterministic: same seed, same figures). {tasks} tasks per \
         workload, at most {max_jobs} batch jobs at once, 1 slot per worker, startup 60 s, \
         queue wait exponential with a mean of 2 min plus 2.5 min per hour of walltime asked \
         (a backfill scheduler finds room sooner for short batch jobs), idle slots retire \
         after 5 min. Efficiency = useful core-hours / consumed core-hours (a batch job \
         consumes from its start until its worker exits or the walltime kills it; queue wait \
         is not charged). hpcluster is the server's own scheduling core with the default 5% \
         buffer and 1% overrun risk, given the workload's `task_time`: the mean, none (it \
         learns from the first finished task), or a misleading half or double of the mean. \
         The other policies need a number from the user: they get `task_time`, or the true \
         mean where the workload gives none (their best case). Durations of the 30-min \
         workloads are capped at 90 min; the mixed workload is 60% tasks of 10 min, 30% of \
         40 min and 10% of 80 min (10% spread), named by class.\n\n\
         The oracle knows every duration: it packs them into batch jobs by first-fit \
         decreasing for walltimes from half to double the one asked, and takes the walltime \
         that consumes the fewest core-hours; each of its batch jobs runs exactly its tasks. \
         No online policy reaches it.\n\n\
         ## Efficiency relative to the oracle\n\n{}\n\
         ## hpcluster against the oracle\n\n\
         hpcluster as configured by default (`scale = \"fast\"`, best fit): tasks killed (as a \
         share of the tasks run), its batch jobs beside the oracle's packing at the same \
         walltime and at the oracle's own, and its makespan beside the oracle's.\n\n{}\n\
         ## Options: best fit or FIFO, fast or frugal\n\n\
         Walltime used = useful core-hours / the walltime the started batch jobs asked for: \
         how much of each batch job went to tasks (the rest was returned by retiring early, or \
         lost). FIFO gives a slot only the oldest task of the default queue (or a task with its \
         own time that fits); best fit gives it, at the tail of its batch job, the pending \
         class that fits best. Frugal packs the pending tasks into the fewest batch jobs \
         instead of one slot per task.\n\n{}\n\
         Notes on the model. The retire after N policy starts one task past N in {race:.0}% of \
         workers (the WorkerPlugin counts at completion). The timer lifetime retires at \
         walltime minus the buffer, staggered by up to half the buffer either way. Without \
         `task_time`, hpcluster starts the first tasks on nothing and learns from the first \
         that finishes (twice its time, narrowing as more finish) and from the oldest task \
         still running; its kills come from that start.\n\n\
         ## All metrics\n\n{}\n![efficiency](efficiency.svg)\n",
        headline(rows),
        against_oracle(rows),
        options(rows),
        full_table(rows),
        race = super::baselines::RACE * 100.0
    )
}

const COLORS: [&str; 7] = [
    "#d62728", "#ff7f0e", "#9467bd", "#1f77b4", "#17becf", "#8c564b", "#2ca02c",
];

/// Grouped bars: one group per (workload, walltime), one bar per policy, efficiency 0..1.
pub fn svg(rows: &[Row]) -> String {
    let groups = cases(rows);
    let (bar, gap, left, top, plot_h) = (9.0, 14.0, 50.0, 40.0, 300.0);
    let group_w = bar * Policy::ALL.len() as f64 + gap;
    let width = left + group_w * groups.len() as f64 + 20.0;
    let height = top + plot_h + 300.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"14\">Efficiency (useful / consumed core-hours) \
         per workload and walltime</text>\n"
    );
    for i in 0..=10 {
        let v = i as f64 / 10.0;
        let y = top + plot_h * (1.0 - v);
        writeln!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.1}</text>",
            width - 20.0,
            left - 4.0,
            y + 4.0
        )
        .expect("write to a String");
    }
    for (g, (w, t)) in groups.iter().enumerate() {
        let x0 = left + gap / 2.0 + g as f64 * group_w;
        for (i, p) in Policy::ALL.iter().enumerate() {
            let e = find(rows, w, *t, *p).map_or(0.0, |r| r.metrics.efficiency());
            let h = plot_h * e.clamp(0.0, 1.0);
            writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar}\" height=\"{h:.1}\" fill=\"{}\">\
                 <title>{w}, {}, {}: {e:.3}</title></rect>",
                x0 + i as f64 * bar,
                top + plot_h - h,
                COLORS[i],
                hours(*t),
                p.name()
            )
            .expect("write to a String");
        }
        let (lx, ly) = (x0 + bar * 3.5, top + plot_h + 10.0);
        writeln!(
            s,
            "<text transform=\"translate({lx:.1},{ly:.1}) rotate(45)\">{w}, {}</text>",
            hours(*t)
        )
        .expect("write to a String");
    }
    for (i, p) in Policy::ALL.iter().enumerate() {
        let x = left + i as f64 * 120.0;
        let y = height - 15.0;
        writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 9.0,
            COLORS[i],
            x + 14.0,
            p.name()
        )
        .expect("write to a String");
    }
    s.push_str("</svg>\n");
    s
}
