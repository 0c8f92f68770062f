//! Kernel throughput: events delivered per second of wall-clock time.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p sim-core --bench kernel -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! - `ring/tokens=K`: K tokens circulate around a ring of 1,000 actors; each
//!   delivery forwards the token to the next actor after a pseudo-random
//!   delay drawn from the receiving actor's own stream. About K events are
//!   pending at any time, so K sets the heap depth.
//! - `timers/churn`: request-timeout style churn: every delivery cancels the
//!   actor's previous timer and arms a new one far in the future (100 times
//!   the tick), so most of what is queued is cancelled timers, until the
//!   kernel sweeps them out.
//! - `baseline/bare_heap/pending=K`: a bare `BinaryHeap<(time, seq, payload)>`
//!   loop with K pending events, as a reference point for the machine.
//!
//! Each iteration delivers a fixed batch of events from a simulation kept in
//! steady state (built once, outside the measurement), and criterion reports
//! events/s through `Throughput::Elements`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_core::Rng;
use sim_core::{
    Actor, ActorId, CampaignSeed, Context, RunOutcome, SimDuration, SimTime, Simulation, TimerKey,
};

/// Events delivered per measured iteration.
const BATCH: u64 = 200_000;
const RING: u32 = 1_000;

/// Delay in 1..=1024 ns from the top bits of one 64-bit draw.
#[inline]
fn small_delay(x: u64) -> SimDuration {
    SimDuration(1 + (x >> 54))
}

struct RingNode {
    next: ActorId,
}

impl Actor for RingNode {
    type Msg = u32;
    #[inline]
    fn handle(&mut self, hops: u32, ctx: &mut Context<'_, u32>) {
        let d = small_delay(ctx.rng().next_u64());
        ctx.send(self.next, d, hops.wrapping_add(1));
    }
}

fn ring(tokens: u32) -> Simulation<RingNode> {
    let mut sim = Simulation::new(CampaignSeed::derive(7, 0, 0));
    for i in 0..RING {
        sim.add_actor(
            RingNode {
                next: ActorId((i + 1) % RING),
            },
            u64::from(i),
        );
    }
    for k in 0..tokens {
        // Spread the tokens evenly over the ring.
        let at = ActorId(k * RING / tokens);
        sim.schedule(SimTime(u64::from(k)), at, 0);
    }
    sim
}

/// Delivers exactly `BATCH` more events.
#[inline]
fn run_batch<A: Actor>(sim: &mut Simulation<A>) {
    sim.set_event_limit(sim.delivered() + BATCH);
    let out = sim.run();
    debug_assert_eq!(out, RunOutcome::EventLimit);
    black_box(out);
}

fn bench_ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    g.throughput(Throughput::Elements(BATCH));
    for tokens in [2u32, 100, 1_000] {
        let mut sim = ring(tokens);
        g.bench_function(BenchmarkId::new("tokens", tokens), |b| {
            b.iter(|| run_batch(&mut sim))
        });
        assert_eq!(sim.pending(), tokens as usize, "tokens are conserved");
    }
    g.finish();
}

/// Ticks at a random interval; each tick cancels the previous timeout and arms a new one.
struct Churner {
    timeout: SimDuration,
    timer: Option<TimerKey>,
    fired: u64,
}

enum ChurnMsg {
    Tick,
    Timeout,
}

impl Actor for Churner {
    type Msg = ChurnMsg;
    #[inline]
    fn handle(&mut self, msg: ChurnMsg, ctx: &mut Context<'_, ChurnMsg>) {
        match msg {
            ChurnMsg::Tick => {
                if let Some(k) = self.timer.take() {
                    ctx.cancel(k);
                }
                self.timer = Some(ctx.set_timer(self.timeout, ChurnMsg::Timeout));
                let d = small_delay(ctx.rng().next_u64());
                ctx.send_self(d, ChurnMsg::Tick);
            }
            ChurnMsg::Timeout => {
                self.fired += 1;
                self.timer = None;
            }
        }
    }
}

fn bench_timers(c: &mut Criterion) {
    let mut g = c.benchmark_group("timers");
    g.throughput(Throughput::Elements(BATCH));
    // 100 actors ticking every ~512 ns with a 50 µs timeout: 100 live ticks
    // and 100 live timers; without sweeping, ~10,000 cancelled timers would
    // sit in the queue at steady state.
    let mut sim = Simulation::new(CampaignSeed::derive(11, 0, 0));
    for i in 0..100u64 {
        let id = sim.add_actor(
            Churner {
                timeout: SimDuration(50_000),
                timer: None,
                fired: 0,
            },
            i,
        );
        sim.schedule(SimTime(i), id, ChurnMsg::Tick);
    }
    g.bench_function("churn", |b| b.iter(|| run_batch(&mut sim)));
    let fired: u64 = sim.actors().iter().map(|a| a.fired).sum();
    assert_eq!(fired, 0, "every timeout is cancelled before it fires");
    g.finish();
}

fn bench_bare_heap(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    g.throughput(Throughput::Elements(BATCH));
    for pending in [2u64, 100, 1_000] {
        let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::new();
        let mut seq = 0u64;
        for k in 0..pending {
            heap.push(Reverse((k, seq, k as u32)));
            seq += 1;
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        g.bench_function(BenchmarkId::new("bare_heap/pending", pending), |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    let Reverse((t, _, p)) = heap.pop().expect("never empty");
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    heap.push(Reverse((t + small_delay(x).0, seq, p.wrapping_add(1))));
                    seq += 1;
                }
            })
        });
        black_box(heap.len());
    }
    g.finish();
}

criterion_group!(benches, bench_ring, bench_timers, bench_bare_heap);
criterion_main!(benches);
