//! Service-path repair benchmark (run in release: `cargo bench --bench paths`).
//!
//! What a path campaign does to the placement code, on the model of
//! `scenarios/media-paths.yaml`: the three paths are placed at set-up, then
//! nodes with a failure process (`edge-a`, `edge-b`, `cdn`) fail and recover
//! in a pseudo-random order drawn from a fixed seed, mostly one at a time as
//! with rare failures (a second node fails before the first recovers one
//! time in four). When a node fails, every
//! path that uses it is released and re-placed without it; when it recovers,
//! every path is released and re-placed in file order (it may move back to
//! its better placement, and a path that was down comes back). Each
//! re-placement is one *repair*.
//!
//! The same workload (the same failure sequences, hence the same repairs)
//! runs twice:
//!
//! - `paths/repairs/cached`: through one `PathCache` kept across all the
//!   repairs and campaigns of the workload (it starts empty, so the misses
//!   of the first failures are in the time);
//! - `paths/repairs/fresh`: `solve` from scratch at every repair.
//!
//! Throughput is in repairs (set-up placements included). The setup checks
//! that both give the same placements (the cache is a memo) and prints the
//! workload's size and the cache's hit rate. Figures: `docs/performance.md`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sim_core::{CampaignSeed, stream_key};
use sim_models::paths::{
    CapacityLedger, DEFAULT_K, Exclusions, PathCache, PathModel, Placement, PlacementError, solve,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Failure sequences ("campaigns") per workload.
const CAMPAIGNS: u64 = 20;
/// Failures and recoveries per campaign.
const EVENTS: usize = 25;
/// Master seed of the failure sequences.
const SEED: u64 = 7;

fn media_model() -> PathModel {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/media-paths.yaml");
    let loaded = sim_engine::scenario::load(std::path::Path::new(file))
        .unwrap_or_else(|e| panic!("{file} loads: {e}"));
    let empirical = loaded
        .empirical
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    PathModel::compile(&loaded.scenario, &empirical).expect("media-paths compiles")
}

/// What a workload did: repairs made and a fingerprint of every outcome, so
/// that the cached and fresh runs can be compared.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    repairs: u64,
    placed: u64,
    failed: u64,
    fingerprint: u64,
}

impl Tally {
    fn record(&mut self, r: &Result<Placement, PlacementError>) {
        self.repairs += 1;
        let mut h = self.fingerprint.rotate_left(7) ^ self.repairs;
        match r {
            Ok(p) => {
                self.placed += 1;
                h ^= sim_core::splitmix64(p.rank as u64);
                for &n in &p.nodes {
                    h = sim_core::splitmix64(h ^ n as u64);
                }
                h ^= p.delay.to_bits();
            }
            Err(_) => {
                self.failed += 1;
                h = sim_core::splitmix64(h ^ 0xdead);
            }
        }
        self.fingerprint = h;
    }
}

/// Runs the workload; `place` re-places one path on the ledger (taking its
/// CPU on success) with the given nodes down.
fn workload(
    model: &PathModel,
    place: &mut dyn FnMut(
        usize,
        &mut CapacityLedger,
        &Exclusions,
    ) -> Result<Placement, PlacementError>,
) -> Tally {
    let failable: Vec<usize> = (0..model.nodes.len())
        .filter(|&n| model.nodes[n].failure.is_some())
        .collect();
    let n_paths = model.paths.len();
    let mut tally = Tally::default();
    for c in 0..CAMPAIGNS {
        let mut rng = CampaignSeed::derive(SEED, 0, c).stream(stream_key("bench/path-failures"));
        let mut ledger = CapacityLedger::new(model);
        let mut down = Exclusions::none();
        let mut placed: Vec<Option<Placement>> = Vec::with_capacity(n_paths);
        for p in 0..n_paths {
            let r = place(p, &mut ledger, &down);
            tally.record(&r);
            placed.push(r.ok());
        }
        for _ in 0..EVENTS {
            let draw = rand::Rng::next_u64(&mut rng);
            let up: Vec<usize> = failable
                .iter()
                .copied()
                .filter(|n| !down.nodes.contains(n))
                .collect();
            // Nothing down: a node fails. One node down: it recovers, or (one
            // time in four) a second node fails before it does. More down: one
            // of them recovers.
            let fail = !up.is_empty()
                && (down.nodes.is_empty() || (down.nodes.len() == 1 && draw.is_multiple_of(4)));
            if fail {
                let node = up[((draw >> 8) % up.len() as u64) as usize];
                down.nodes.insert(node);
                // The paths that use the node are re-placed without it.
                for (p, slot) in placed.iter_mut().enumerate() {
                    if let Some(old) = slot.take_if(|pl| pl.uses_node(node)) {
                        ledger.release(&old);
                        let r = place(p, &mut ledger, &down);
                        tally.record(&r);
                        *slot = r.ok();
                    }
                }
            } else {
                let downs: Vec<usize> = down.nodes.iter().copied().collect();
                let node = downs[((draw >> 8) % downs.len() as u64) as usize];
                down.nodes.remove(&node);
                // Every path is re-placed, in file order: it may move back,
                // and a path that was down comes back.
                for (p, slot) in placed.iter_mut().enumerate() {
                    if let Some(old) = slot.take() {
                        ledger.release(&old);
                    }
                    let r = place(p, &mut ledger, &down);
                    tally.record(&r);
                    *slot = r.ok();
                }
            }
        }
    }
    tally
}

fn cached(model: &PathModel, cache: &mut PathCache) -> Tally {
    workload(model, &mut |p, ledger, down| {
        cache.place_and_allocate(model, p, DEFAULT_K, ledger, down)
    })
}

fn fresh(model: &PathModel) -> Tally {
    workload(model, &mut |p, ledger, down| {
        let pl = solve(model, p, DEFAULT_K, ledger, down).placement?;
        ledger
            .allocate(&pl)
            .map_err(|e| PlacementError::NoCapacity {
                rank: pl.rank,
                detail: e.to_string(),
            })?;
        Ok(pl)
    })
}

fn repairs(c: &mut Criterion) {
    let model = media_model();
    assert!(
        model.paths.iter().all(|p| p.cache_paths),
        "media-paths.yaml sets cache_paths on every path"
    );
    let mut cache = PathCache::new();
    let with = cached(&model, &mut cache);
    let without = fresh(&model);
    assert_eq!(with, without, "the cache changed a placement");
    let s = cache.stats();
    let lookups = s.placement_hits + s.placement_misses;
    println!(
        "paths/repairs: {} campaigns × {} failures/recoveries = {} repairs ({} placed, {} left down); \
         cache: {} placements kept, placement hits {}/{} = {:.1}%, composition hits {}/{}",
        CAMPAIGNS,
        EVENTS,
        with.repairs,
        with.placed,
        with.failed,
        cache.len(),
        s.placement_hits,
        lookups,
        100.0 * s.placement_hits as f64 / lookups.max(1) as f64,
        s.logical_hits,
        s.logical_hits + s.logical_misses,
    );

    let mut g = c.benchmark_group("paths/repairs");
    g.throughput(Throughput::Elements(with.repairs));
    g.sample_size(20);
    g.bench_function("cached", |b| {
        b.iter(|| {
            let mut cache = PathCache::new();
            cached(&model, &mut cache)
        })
    });
    g.bench_function("fresh", |b| b.iter(|| fresh(&model)));
    g.finish();
}

criterion_group!(benches, repairs);
criterion_main!(benches);
