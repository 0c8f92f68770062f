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
//! - `mm1/customers`: an M/M/1 queue written directly on the kernel (a
//!   source and a server actor, four events per customer: arrival, hand-off
//!   to the server, end of service, hand-off back), throughput in customers.
//!   The floor under `preflight`'s own M/M/1 benchmark, which runs the same
//!   four events through the full domain model.
//! - `baseline/bare_heap/pending=K`: a bare `BinaryHeap<(time, seq, payload)>`
//!   loop with K pending events, as a reference point for the machine.
//!
//! Each iteration delivers a fixed batch of events from a simulation kept in
//! steady state (built once, outside the measurement), and criterion reports
//! events/s through `Throughput::Elements`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_core::Rng;
use rand_distr::{Distribution, Exp1};
use sim_core::{
    Actor, ActorId, CampaignSeed, Context, LatencyHistogram, RunOutcome, SimDuration, SimTime,
    Simulation, TimerKey,
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

enum Mm1Msg {
    Arrive,
    Acquire(SimTime),
    Done,
    Granted(SimTime),
}

enum Mm1 {
    Source {
        server: ActorId,
        latency: LatencyHistogram,
        served: u64,
    },
    Server {
        source: ActorId,
        busy: bool,
        queue: VecDeque<SimTime>,
        current: SimTime,
    },
}

/// An exponential draw with the given mean, in seconds.
fn exp_secs(ctx: &mut Context<'_, Mm1Msg>, mean: f64) -> SimDuration {
    let e: f64 = Exp1.sample(ctx.rng());
    SimDuration::from_secs_f64(e * mean)
}

impl Actor for Mm1 {
    type Msg = Mm1Msg;
    fn handle(&mut self, msg: Mm1Msg, ctx: &mut Context<'_, Mm1Msg>) {
        match (self, msg) {
            (Mm1::Source { server, .. }, Mm1Msg::Arrive) => {
                let gap = exp_secs(ctx, 1.0 / 800.0);
                ctx.send_self(gap, Mm1Msg::Arrive);
                let now = ctx.now();
                ctx.send(*server, SimDuration::ZERO, Mm1Msg::Acquire(now));
            }
            (
                Mm1::Source {
                    latency, served, ..
                },
                Mm1Msg::Granted(arrived),
            ) => {
                *served += 1;
                latency.record(ctx.now().saturating_since(arrived));
            }
            (
                Mm1::Server {
                    busy,
                    queue,
                    current,
                    ..
                },
                Mm1Msg::Acquire(arrived),
            ) => {
                if *busy {
                    queue.push_back(arrived);
                } else {
                    *busy = true;
                    *current = arrived;
                    let service = exp_secs(ctx, 0.001);
                    ctx.send_self(service, Mm1Msg::Done);
                }
            }
            (
                Mm1::Server {
                    source,
                    busy,
                    queue,
                    current,
                },
                Mm1Msg::Done,
            ) => {
                ctx.send(*source, SimDuration::ZERO, Mm1Msg::Granted(*current));
                if let Some(next) = queue.pop_front() {
                    *current = next;
                    let service = exp_secs(ctx, 0.001);
                    ctx.send_self(service, Mm1Msg::Done);
                } else {
                    *busy = false;
                }
            }
            _ => unreachable!("M/M/1 message sent to the wrong actor"),
        }
    }
}

/// Customers served by one M/M/1 run of `secs` simulated seconds.
fn mm1_run(secs: f64) -> u64 {
    let mut sim = Simulation::new(CampaignSeed::derive(1, 0, 0));
    let source = sim.add_actor(
        Mm1::Source {
            server: ActorId(1),
            latency: LatencyHistogram::new(),
            served: 0,
        },
        1,
    );
    sim.add_actor(
        Mm1::Server {
            source,
            busy: false,
            queue: VecDeque::new(),
            current: SimTime::ZERO,
        },
        2,
    );
    sim.schedule(SimTime::ZERO, source, Mm1Msg::Arrive);
    sim.run_until(SimTime::from_secs_f64(secs));
    match sim.actor(source) {
        Mm1::Source { served, .. } => *served,
        Mm1::Server { .. } => unreachable!(),
    }
}

fn bench_mm1(c: &mut Criterion) {
    let customers = mm1_run(200.0);
    let mut g = c.benchmark_group("mm1");
    g.throughput(Throughput::Elements(customers));
    g.sample_size(20);
    g.bench_function("customers", |b| b.iter(|| black_box(mm1_run(200.0))));
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

criterion_group!(
    benches,
    bench_ring,
    bench_timers,
    bench_mm1,
    bench_bare_heap
);
criterion_main!(benches);
