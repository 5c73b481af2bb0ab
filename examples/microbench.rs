//! Micro-benchmark: one firm against one typical policy through the library
//! (`Engine::evaluate_policy`), reported as the median of many samples.
//!
//! ```text
//! cargo run --release --example microbench
//! ```

use std::hint::black_box;
use std::time::Instant;

use mianshen::{Date, Engine};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let engine = Engine::load(&dir).unwrap_or_else(|d| {
        eprint!("{}", mianshen::render_human(&d));
        std::process::exit(1)
    });
    let Some(as_of) = Date::parse_iso("2024-12-31") else {
        return;
    };
    let firm = engine
        .firm(&[
            ("uscc", "91420102MA4K2L3R0G"),
            ("region", "420102"),
            ("size", "小型"),
            ("employees", "25"),
            ("insured_months", "24"),
            ("layoff_rate", "3%"),
            ("ui_premium_paid", "10万"),
            ("serious_dishonesty", "否"),
        ])
        .unwrap_or_else(|e| {
            eprintln!("{e:?}");
            std::process::exit(1)
        });
    for policy in ["wengang_2024", "yanfa_2024", "xingji_2024"] {
        let d = match engine.evaluate_policy(&firm, policy, as_of) {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1)
            }
        };
        const PER_SAMPLE: u32 = 2_000;
        let mut samples = Vec::with_capacity(301);
        for _ in 0..20 {
            let _ = black_box(engine.evaluate_policy(black_box(&firm), policy, as_of));
        }
        for _ in 0..301 {
            let t = Instant::now();
            for _ in 0..PER_SAMPLE {
                let _ =
                    black_box(engine.evaluate_policy(black_box(&firm), black_box(policy), as_of));
            }
            samples.push(t.elapsed().as_nanos() as f64 / PER_SAMPLE as f64);
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
        println!(
            "{policy:<14} {:<10} median {:>6.0} ns   p10 {:>6.0} ns   p90 {:>6.0} ns   ({} samples of {PER_SAMPLE})",
            d.outcome.as_str(),
            at(0.5),
            at(0.1),
            at(0.9),
            samples.len()
        );
    }
}
