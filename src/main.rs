//! The `hpcluster` binary: parse arguments, run, turn the result into an exit status.

fn main() {
    std::process::exit(hpcluster::run::main());
}
