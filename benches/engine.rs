//! End-to-end engine benchmarks (run in release: `cargo bench --bench engine`).
//!
//! - `mm1/requests`: customers per second of an M/M/1 queue on one thread
//!   (the same model as `benches/simpy_mm1.py`, for the SimPy comparison).
//! - `campaigns/online-boutique`: campaigns per second of the bundled
//!   12-service scenario with its failure processes, on 1 and 2 threads.
//!   Throughput is reported in campaigns; run-to-run results are identical
//!   whatever the thread count (see `tests/determinism.rs`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use sim_core::CampaignSeed;
use sim_models::campaign::{CampaignMode, run_campaign};
use sim_models::compile::{Empirical, compile};
use sim_models::model::Model;
use sim_models::spec::Scenario;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MM1: &str = r#"
name: mm1
horizon: 200s
resources:
  - { id: server, type: service, concurrency: 1, service_time: { dist: exponential, mean: 1ms }, failure_modes: [] }
handlers:
  - { id: h, runs_on: server, operations: [ { name: op, steps: [] } ] }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 800/s } }
"#;

fn model(yaml: &str) -> Model {
    let s: Scenario = serde_saphyr::from_str(yaml).expect("benchmark scenario parses");
    compile(
        &s,
        &sim_engine::defaults::default_failure_modes(),
        &Empirical::new(),
    )
    .expect("benchmark scenario compiles")
}

fn mm1(c: &mut Criterion) {
    let m = model(MM1);
    let requests = run_campaign(&m, CampaignSeed::derive(1, 0, 0), CampaignMode::Natural)
        .summary
        .requests;
    let mut g = c.benchmark_group("mm1");
    g.throughput(Throughput::Elements(requests));
    g.sample_size(20);
    g.bench_function("requests", |b| {
        b.iter(|| run_campaign(&m, CampaignSeed::derive(1, 0, 0), CampaignMode::Natural))
    });
    g.finish();
}

fn campaigns(c: &mut Criterion) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/online-boutique.yaml"
    ))
    .expect("bundled scenario");
    let m = model(&text);
    let mut g = c.benchmark_group("campaigns/online-boutique");
    g.sample_size(10);
    const N: u64 = 8;
    g.throughput(Throughput::Elements(N));
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        g.bench_function(format!("{threads}-threads"), |b| {
            b.iter(|| {
                pool.install(|| {
                    (0..N)
                        .into_par_iter()
                        .map(|i| {
                            run_campaign(&m, CampaignSeed::derive(7, 0, i), CampaignMode::Natural)
                                .events
                        })
                        .sum::<u64>()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, mm1, campaigns);
criterion_main!(benches);
