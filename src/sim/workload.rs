//! Seeded randomness and the task-duration workloads of the simulator.
//!
//! [`Rng`] is splitmix64: tiny, fast, and the same sequence for the same seed on every
//! machine, so a benchmark table can be reproduced exactly. A [`Workload`] is a list of task
//! durations (with a class name each, for mixed workloads), the `task_time` a user would
//! configure (the mean, none, or a misleading half or double of it) and the walltimes it is
//! simulated with; durations are capped so that every task fits the shortest walltime (a task
//! that can never finish would make every policy loop).

/// A splitmix64 generator with the distributions the workloads need.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }

    /// Normal by Box-Muller (one of the pair is used: simpler, still deterministic).
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Lognormal whose logarithm has parameters `mu` and `sigma`.
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        self.normal(mu, sigma).exp()
    }
}

/// How task durations are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    Constant,
    /// Normal with this coefficient of variation.
    Normal {
        cv: f64,
    },
    /// Lognormal with this sigma (of the logarithm).
    Lognormal {
        sigma: f64,
    },
    /// A share `long_share` of tasks takes `long` times the short duration.
    Bimodal {
        long_share: f64,
        long: f64,
    },
}

/// Task durations and the walltimes to simulate them with (seconds).
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub durations: Vec<f64>,
    /// Each task's name (its class, `short-17`), or none: one class.
    pub names: Vec<Option<String>>,
    /// The `task_time` a user configures: the mean unless the case says otherwise.
    pub task_time: Option<f64>,
    pub walltimes: Vec<f64>,
}

impl Workload {
    /// Draws `n` durations of mean `mean` seconds, capped at `cap` seconds (at least 1 s).
    pub fn generate(
        name: &str,
        shape: Shape,
        mean: f64,
        cap: f64,
        n: usize,
        walltimes: &[f64],
        rng: &mut Rng,
    ) -> Workload {
        let short = match shape {
            Shape::Bimodal { long_share, long } => mean / (1.0 - long_share + long_share * long),
            _ => mean,
        };
        let mu = match shape {
            Shape::Lognormal { sigma } => mean.ln() - sigma * sigma / 2.0,
            _ => 0.0,
        };
        let durations: Vec<f64> = (0..n)
            .map(|_| {
                let d = match shape {
                    Shape::Constant => mean,
                    Shape::Normal { cv } => rng.normal(mean, cv * mean),
                    Shape::Lognormal { sigma } => rng.lognormal(mu, sigma),
                    Shape::Bimodal { long_share, long } => {
                        if rng.uniform() < long_share {
                            short * long
                        } else {
                            short
                        }
                    }
                };
                d.clamp(1.0, cap).round()
            })
            .collect();
        let mut w = Workload {
            name: name.to_string(),
            names: vec![None; durations.len()],
            durations,
            task_time: None,
            walltimes: walltimes.to_vec(),
        };
        w.task_time = Some(w.mean());
        w
    }

    /// Classes of tasks shuffled together: each `(name, share, mean)` is a constant duration
    /// with a 10% spread (normal), its tasks named `name-<i>`.
    pub fn mixed(
        name: &str,
        classes: &[(&str, f64, f64)],
        n: usize,
        walltimes: &[f64],
        rng: &mut Rng,
    ) -> Workload {
        let total: f64 = classes.iter().map(|c| c.1).sum();
        let (mut durations, mut names) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let mut pick = rng.uniform() * total;
            let class = classes
                .iter()
                .find(|c| {
                    pick -= c.1;
                    pick < 0.0
                })
                .unwrap_or(&classes[classes.len() - 1]);
            durations.push(rng.normal(class.2, 0.1 * class.2).max(1.0).round());
            names.push(Some(format!("{}-{i}", class.0)));
        }
        let mut w = Workload {
            name: name.to_string(),
            durations,
            names,
            task_time: None,
            walltimes: walltimes.to_vec(),
        };
        w.task_time = Some(w.mean());
        w
    }

    /// The same workload as a user would run it without `task_time`.
    pub fn without_task_time(mut self) -> Workload {
        self.name = format!("{}, no task_time", self.name);
        self.task_time = None;
        self
    }

    /// The same workload with a `task_time` of `factor` times the true mean.
    pub fn misleading(mut self, factor: f64) -> Workload {
        self.name = format!("{}, task_time {factor}x the mean", self.name);
        self.task_time = Some(self.mean() * factor);
        self
    }

    pub fn at(mut self, walltimes: &[f64]) -> Workload {
        self.walltimes = walltimes.to_vec();
        self
    }

    /// The mean duration: what a user would configure as `task_time`.
    pub fn mean(&self) -> f64 {
        self.durations.iter().sum::<f64>() / self.durations.len().max(1) as f64
    }

    pub fn max(&self) -> f64 {
        self.durations.iter().copied().fold(0.0, f64::max)
    }
}

const MIN: f64 = 60.0;
const HOUR: f64 = 3600.0;

/// The suite: the seed scenario, five shapes of mean 30 min on 2 h, 4 h and 8 h with
/// `task_time` = the mean; then what users get wrong: lognormal and bimodal without
/// `task_time`, a mix of three classes without it, and lognormal with a `task_time` of half
/// and of double the truth.
pub fn suite(n: usize, seed: u64) -> Vec<Workload> {
    let mut rng = Rng::new(seed);
    let short = [2.0 * HOUR, 4.0 * HOUR, 8.0 * HOUR];
    let cap = 90.0 * MIN;
    let mean = 30.0 * MIN;
    let seed_walltimes = [5.0 * HOUR, 9.0 * HOUR, 13.0 * HOUR];
    let lognormal = Shape::Lognormal { sigma: 0.5 };
    let bimodal = Shape::Bimodal {
        long_share: 0.25,
        long: 6.0,
    };
    let shapes = [
        ("constant", Shape::Constant),
        ("normal cv 10%", Shape::Normal { cv: 0.1 }),
        ("normal cv 30%", Shape::Normal { cv: 0.3 }),
        ("lognormal sigma 0.5", lognormal),
        ("bimodal 13m/80m", bimodal),
    ];
    let mut out = vec![Workload::generate(
        "seed (4 h tasks)",
        Shape::Constant,
        4.0 * HOUR,
        4.0 * HOUR,
        n,
        &seed_walltimes,
        &mut rng,
    )];
    for (name, shape) in shapes {
        out.push(Workload::generate(
            name, shape, mean, cap, n, &short, &mut rng,
        ));
    }
    for (name, shape) in [
        ("lognormal sigma 0.5", lognormal),
        ("bimodal 13m/80m", bimodal),
    ] {
        let w = Workload::generate(name, shape, mean, cap, n, &short, &mut rng);
        out.push(w.without_task_time());
    }
    let classes = [
        ("short", 0.6, 10.0 * MIN),
        ("mid", 0.3, 40.0 * MIN),
        ("long", 0.1, 80.0 * MIN),
    ];
    out.push(
        Workload::mixed("mixed 10m/40m/80m", &classes, n, &short, &mut rng).without_task_time(),
    );
    for factor in [0.5, 2.0] {
        let w = Workload::generate(
            "lognormal sigma 0.5",
            lognormal,
            mean,
            cap,
            n,
            &[],
            &mut rng,
        );
        out.push(w.misleading(factor).at(&[4.0 * HOUR]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let draw = |seed| {
            let mut r = Rng::new(seed);
            (0..5)
                .map(|_| (r.next_u64(), r.normal(0.0, 1.0).to_bits()))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn distributions_have_their_means() {
        let mut r = Rng::new(1);
        let n = 20_000;
        let exp = (0..n).map(|_| r.exponential(300.0)).sum::<f64>() / n as f64;
        assert!((exp - 300.0).abs() < 10.0, "{exp}");
        let norm = (0..n).map(|_| r.normal(10.0, 2.0)).sum::<f64>() / n as f64;
        assert!((norm - 10.0).abs() < 0.1, "{norm}");
        let w = Workload::generate(
            "l",
            Shape::Lognormal { sigma: 0.5 },
            100.0,
            1e9,
            n,
            &[],
            &mut r,
        );
        assert!((w.mean() - 100.0).abs() < 2.0, "{}", w.mean());
    }

    #[test]
    fn durations_respect_the_cap_and_the_bimodal_mean() {
        let mut r = Rng::new(3);
        let shape = Shape::Bimodal {
            long_share: 0.25,
            long: 6.0,
        };
        let w = Workload::generate("b", shape, 1800.0, 5400.0, 4000, &[], &mut r);
        assert!(w.max() <= 5400.0);
        assert!((w.mean() - 1800.0).abs() < 100.0, "{}", w.mean());
    }
}
