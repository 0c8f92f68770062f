//! Property tests of the kernel's guarantees: causality, reproducibility,
//! tie order, timers, and conservation of messages.
//!
//! Every model here is bounded (hop budgets or event limits), so each case
//! runs a few thousand events at most and the whole file stays fast in the
//! dev profile. A failing case prints its inputs, seed included: that is the
//! whole reproduction.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::RngExt;
use sim_core::{
    Actor, ActorId, CampaignSeed, Context, RunOutcome, SimDuration, SimTime, Simulation, TimerKey,
    TraceEntry,
};

/// `cases` per property unless `PROPTEST_CASES` asks for more (soak runs).
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Delays with many exact ties: zero is common, and the rest are small.
fn tie_prone_delay(ctx: &mut Context<'_, Gossip>, max_delay: u64) -> SimDuration {
    let r = ctx.rng();
    if r.random_bool(0.3) {
        SimDuration::ZERO
    } else {
        SimDuration(r.random_range(0..=max_delay))
    }
}

// ---------------------------------------------------------------------------
// A random gossip model: every delivery fans out to random actors.
// ---------------------------------------------------------------------------

/// A globally unique message label: (sending actor, its send counter), or
/// (`u32::MAX`, k) for the k-th message scheduled from outside.
type Tag = (u32, u32);

/// A message as scheduled: its tag and due time.
type Scheduled = (Tag, SimTime);

/// A message that knows when it was sent and when it is due.
#[derive(Debug, Clone, Copy)]
struct Gossip {
    sent_at: SimTime,
    due: SimTime,
    tag: Tag,
    /// Remaining hops: a message with no hops left is absorbed.
    hops: u32,
}

/// What one actor saw and did, for checking after the run.
#[derive(Default, Clone)]
struct Node {
    n_actors: u32,
    min_fanout: u32,
    max_fanout: u32,
    max_delay: u64,
    /// Delays are multiples of this many nanoseconds (0 counts as 1): large
    /// units spread events over many of the kernel's time buckets, and past
    /// the span it keeps out of the heap.
    unit: u64,
    /// Messages this actor sent (all deliveries, all fan-outs).
    sent: u64,
    /// Deliveries that arrived before they were sent or not at their due time.
    early: u64,
    late_or_early_vs_due: u64,
    /// Deliveries in order: (now, tag).
    received: Vec<(SimTime, Tag)>,
    /// For each delivery, in order, the messages it sent: (tag, due).
    sends_per_delivery: Vec<Vec<Scheduled>>,
    /// Every value this actor drew from its stream, in order.
    draws: Vec<u64>,
}

impl Actor for Node {
    type Msg = Gossip;
    fn handle(&mut self, msg: Gossip, ctx: &mut Context<'_, Gossip>) {
        let now = ctx.now();
        if now < msg.sent_at {
            self.early += 1;
        }
        if now != msg.due {
            self.late_or_early_vs_due += 1;
        }
        self.received.push((now, msg.tag));
        let mut sends = Vec::new();
        if msg.hops > 0 {
            let fanout = ctx.rng().random_range(self.min_fanout..=self.max_fanout);
            self.draws.push(u64::from(fanout));
            for _ in 0..fanout {
                let to = ctx.rng().random_range(0..self.n_actors);
                let delay = SimDuration(tie_prone_delay(ctx, self.max_delay).0 * self.unit.max(1));
                self.draws.push(u64::from(to));
                self.draws.push(delay.0);
                let tag = (ctx.me().0, u32::try_from(self.sent).expect("few sends"));
                let due = now + delay;
                ctx.send(
                    ActorId(to),
                    delay,
                    Gossip {
                        sent_at: now,
                        due,
                        tag,
                        hops: msg.hops - 1,
                    },
                );
                self.sent += 1;
                sends.push((tag, due));
            }
        }
        self.sends_per_delivery.push(sends);
    }
}

#[derive(Debug, Clone)]
struct GossipParams {
    seed: u64,
    n_actors: u32,
    min_fanout: u32,
    max_fanout: u32,
    max_delay: u64,
    unit: u64,
    hops: u32,
    /// Initial messages: (destination, time).
    initial: Vec<(u32, u64)>,
}

fn gossip_params() -> impl Strategy<Value = GossipParams> {
    (
        any::<u64>(),
        1u32..8,
        0u32..2,
        1u32..3,
        prop_oneof![Just(0u64), 1u64..4, 1u64..1_000],
        1u32..12,
    )
        .prop_flat_map(
            |(seed, n_actors, min_fanout, extra_fanout, max_delay, hops)| {
                prop::collection::vec((0..n_actors, 0u64..50), 1..6).prop_map(move |initial| {
                    GossipParams {
                        seed,
                        n_actors,
                        min_fanout,
                        max_fanout: min_fanout + extra_fanout,
                        max_delay,
                        unit: 1,
                        hops,
                        initial,
                    }
                })
            },
        )
}

/// Builds the gossip model; returns it with the tags and due times of the
/// initial messages, in scheduling order.
fn gossip(p: &GossipParams) -> (Simulation<Node>, Vec<Scheduled>) {
    let mut sim = Simulation::new(CampaignSeed::derive(p.seed, 0, 0));
    for i in 0..p.n_actors {
        sim.add_actor(
            Node {
                n_actors: p.n_actors,
                min_fanout: p.min_fanout,
                max_fanout: p.max_fanout,
                max_delay: p.max_delay,
                unit: p.unit,
                ..Node::default()
            },
            sim_core::stream_key(&format!("node-{i}")),
        );
    }
    let mut initial = Vec::new();
    for (k, &(dst, at)) in p.initial.iter().enumerate() {
        let tag = (u32::MAX, k as u32);
        let at = SimTime(at);
        sim.schedule(
            at,
            ActorId(dst),
            Gossip {
                sent_at: SimTime::ZERO,
                due: at,
                tag,
                hops: p.hops,
            },
        );
        initial.push((tag, at));
    }
    sim.enable_trace();
    (sim, initial)
}

/// Runs the gossip model and checks that deliveries follow `(due time,
/// scheduling order)`. The expected order is rebuilt without looking at
/// sequence numbers: replay the handlers in the order they ran, list every
/// message in the order it was scheduled (the initial messages, then, for
/// each delivery, the messages its handler sent), and sort that list by due
/// time with a *stable* sort.
fn check_scheduling_order(p: &GossipParams) -> Result<(), TestCaseError> {
    let (mut sim, initial) = gossip(p);
    sim.set_event_limit(20_000);
    prop_assert_eq!(sim.run(), RunOutcome::Drained);
    let trace = sim.trace().expect("tracing is on").to_vec();
    prop_assert!(trace_times_non_decreasing(&trace));
    prop_assert!(ties_in_seq_order(&trace));
    let mut scheduled = initial;
    let mut next_delivery = vec![0usize; p.n_actors as usize];
    let mut delivered_tags = Vec::new();
    for e in &trace {
        let actor = sim.actor(e.dst);
        let k = next_delivery[e.dst.index()];
        next_delivery[e.dst.index()] += 1;
        let (at, tag) = actor.received[k];
        prop_assert_eq!(at, e.time);
        delivered_tags.push(tag);
        scheduled.extend_from_slice(&actor.sends_per_delivery[k]);
    }
    scheduled.sort_by_key(|&(_, due)| due); // stable: keeps scheduling order among ties
    let expected: Vec<Tag> = scheduled.iter().map(|&(tag, _)| tag).collect();
    prop_assert_eq!(delivered_tags, expected);
    Ok(())
}

fn total_sent(sim: &Simulation<Node>) -> u64 {
    sim.actors().iter().map(|a| a.sent).sum()
}

fn trace_times_non_decreasing(trace: &[TraceEntry]) -> bool {
    trace.windows(2).all(|w| w[0].time <= w[1].time)
}

/// Among deliveries at the same instant, sequence numbers strictly increase.
fn ties_in_seq_order(trace: &[TraceEntry]) -> bool {
    trace
        .windows(2)
        .all(|w| w[0].time < w[1].time || w[0].seq < w[1].seq)
}

proptest! {
    #![proptest_config(config(256))]

    /// (a) No message is delivered before it was sent, every message arrives
    /// exactly at `sent + delay`, and delivery times never go backwards, also
    /// when the run is cut into `run_until` slices.
    #[test]
    fn no_event_is_delivered_before_it_was_sent(
        p in gossip_params(),
        slices in prop::collection::vec(0u64..200, 0..4),
    ) {
        let (mut sim, initial) = gossip(&p);
        sim.set_event_limit(5_000);
        let mut end = 0;
        for s in slices {
            end += s;
            let out = sim.run_until(SimTime(end));
            prop_assert!(matches!(out, RunOutcome::ReachedTime | RunOutcome::EventLimit));
            prop_assert!(sim.now() >= SimTime(end) || out == RunOutcome::EventLimit);
        }
        let out = sim.run();
        prop_assert!(matches!(out, RunOutcome::Drained | RunOutcome::EventLimit), "{out:?}");

        let trace = sim.trace().expect("tracing is on");
        prop_assert!(trace_times_non_decreasing(trace));
        for a in sim.actors() {
            prop_assert_eq!(a.early, 0, "a message arrived before it was sent");
            prop_assert_eq!(a.late_or_early_vs_due, 0, "a message missed its due time");
            prop_assert!(a.received.windows(2).all(|w| w[0].0 <= w[1].0));
        }
        // Conservation: everything sent is either delivered or still queued.
        let sent = total_sent(&sim) + initial.len() as u64;
        prop_assert_eq!(sent, sim.delivered() + sim.pending() as u64);
        prop_assert_eq!(sim.delivered(), trace.len() as u64);
    }

    /// (c) Ties follow scheduling order ([`check_scheduling_order`]).
    #[test]
    fn ties_are_delivered_in_scheduling_order(p in gossip_params()) {
        // Ties are the point: only tiny delays. At most 3^7 descendants per
        // initial message, so the run drains well within the event limit.
        let p = GossipParams { max_delay: p.max_delay.min(2), hops: p.hops.min(7), ..p };
        check_scheduling_order(&p)?;
    }

    /// (c) The same across time scales: delays are 0–3 units of 1 ms, one
    /// kernel time bucket (2^24 ns), 1 s or 30 s, so events land in the
    /// current bucket, in later ones, and beyond the span the kernel keeps
    /// out of its heap (about 68.7 s), with exact ties still common.
    #[test]
    fn ties_are_delivered_in_scheduling_order_across_time_scales(
        p in gossip_params(),
        unit in prop_oneof![Just(1_000_000u64), Just(1u64 << 24), Just(1_000_000_000), Just(30_000_000_000)],
    ) {
        let p = GossipParams { max_delay: 3, unit, hops: p.hops.min(7), ..p };
        check_scheduling_order(&p)?;
    }

    /// (b) The same seed gives the same trace and the same draws; a different
    /// seed gives a different trace (the model's delays come from `ctx.rng()`).
    #[test]
    fn same_seed_same_trace_different_seed_different_trace(
        p in gossip_params(),
        other_seed in any::<u64>(),
    ) {
        prop_assume!(other_seed != p.seed);
        // Every delivery sends at least one message (for six hops) with a delay
        // drawn in [0, 1e9], so two seeds cannot give the same trace by chance.
        let p = GossipParams {
            n_actors: p.n_actors.max(2),
            min_fanout: 1,
            max_fanout: 2,
            max_delay: 1_000_000_000,
            hops: 6,
            ..p
        };
        let run = |p: &GossipParams| {
            let (mut sim, _) = gossip(p);
            sim.set_event_limit(2_000);
            sim.run();
            let trace = sim.trace().expect("tracing is on").to_vec();
            let draws: Vec<Vec<u64>> = sim.actors().iter().map(|a| a.draws.clone()).collect();
            (trace, draws)
        };
        let (t1, d1) = run(&p);
        let (t2, d2) = run(&p);
        prop_assert_eq!(&t1, &t2);
        prop_assert_eq!(&d1, &d2);

        let (t3, d3) = run(&GossipParams { seed: other_seed, ..p.clone() });
        prop_assert_ne!(&d1, &d3, "a different seed must give different draws");
        prop_assert_ne!(&t1, &t3, "a different seed must give a different trace");
    }
}

/// (b) Streams are keyed by name, not position: adding an actor that never
/// receives anything leaves every other actor's draws and the trace unchanged.
#[test]
fn adding_an_idle_actor_does_not_shift_other_streams() {
    let p = GossipParams {
        seed: 2024,
        n_actors: 4,
        min_fanout: 0,
        max_fanout: 2,
        max_delay: 1_000,
        unit: 1,
        hops: 5,
        initial: vec![(0, 0), (3, 7)],
    };
    let (mut a, _) = gossip(&p);
    a.run();
    let (mut b, _) = gossip(&p);
    b.add_actor(Node::default(), sim_core::stream_key("idle"));
    b.run();
    assert_eq!(a.trace(), b.trace());
    for (x, y) in a.actors().iter().zip(b.actors()) {
        assert_eq!(x.draws, y.draws);
    }
}

/// Same seed twice, byte for byte: a regression guard on a pinned scenario.
#[test]
fn same_seed_twice_gives_identical_traces() {
    let p = GossipParams {
        seed: 42,
        n_actors: 5,
        min_fanout: 1,
        max_fanout: 3,
        max_delay: 100,
        unit: 1,
        hops: 6,
        initial: vec![(0, 0), (1, 0), (2, 0)],
    };
    let runs: Vec<Vec<TraceEntry>> = (0..2)
        .map(|_| {
            let (mut sim, _) = gossip(&p);
            sim.set_event_limit(10_000);
            sim.run();
            sim.trace().expect("tracing is on").to_vec()
        })
        .collect();
    assert!(runs[0].len() > 10, "the scenario should do some work");
    assert_eq!(runs[0], runs[1]);
}

// ---------------------------------------------------------------------------
// Invariant: messages sent = delivered + pending, whatever stops the run.
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    /// TigerBeetle-style accounting after a bounded run: stopped by the event
    /// limit, by the end time, or drained, nothing is lost or duplicated.
    #[test]
    fn sent_equals_delivered_plus_pending(
        p in gossip_params(),
        limit in 1u64..3_000,
        end in 0u64..2_000,
    ) {
        let (mut sim, initial) = gossip(&p);
        sim.set_event_limit(limit);
        let out = sim.run_until(SimTime(end));
        prop_assert!(sim.delivered() <= limit);
        let sent = total_sent(&sim) + initial.len() as u64;
        prop_assert_eq!(sent, sim.delivered() + sim.pending() as u64, "after {:?}", out);
        // Every delivered message is accounted for by a receiver.
        let received: u64 = sim.actors().iter().map(|a| a.received.len() as u64).sum();
        prop_assert_eq!(received, sim.delivered());
        match out {
            RunOutcome::ReachedTime => prop_assert_eq!(sim.now(), SimTime(end)),
            RunOutcome::EventLimit => prop_assert_eq!(sim.delivered(), limit),
            RunOutcome::Drained | RunOutcome::Stopped => prop_assert!(false, "unexpected {:?}", out),
        }
    }
}

// ---------------------------------------------------------------------------
// (d) Timers: random set/cancel scripts.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Op {
    /// Arm a timer `delay` ns from now.
    Set(u64),
    /// Cancel the `k`-th timer ever set (modulo how many exist).
    Cancel(usize),
    /// Arm a timer and cancel it within the same handler.
    SetThenCancel(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..40).prop_map(Op::Set),
        3 => any::<usize>().prop_map(Op::Cancel),
        1 => (0u64..40).prop_map(Op::SetThenCancel),
    ]
}

#[derive(Clone)]
enum TimerMsg {
    /// Perform step `i` of the script.
    Step(usize),
    /// Timer number `id` fired.
    Fired(usize),
}

/// Runs a script of steps; each step is some ops followed by a gap before the
/// next step. Keeps its own oracle of which timers are live.
#[derive(Clone)]
struct Driver {
    script: Vec<(Vec<Op>, u64)>,
    keys: Vec<TimerKey>,
    /// Per timer: when it is due.
    due: Vec<SimTime>,
    /// Per timer: whether a cancel succeeded.
    cancelled: Vec<bool>,
    /// Per timer: when it was delivered (each delivery appended).
    fired: Vec<Vec<SimTime>>,
    steps_run: u64,
    successful_cancels: u64,
    /// Cancels whose result disagreed with the oracle.
    wrong_cancel_results: u64,
}

impl Driver {
    fn set(&mut self, ctx: &mut Context<'_, TimerMsg>, delay: u64) -> usize {
        let id = self.keys.len();
        self.keys
            .push(ctx.set_timer(SimDuration(delay), TimerMsg::Fired(id)));
        self.due.push(ctx.now() + SimDuration(delay));
        self.cancelled.push(false);
        self.fired.push(Vec::new());
        id
    }

    fn cancel(&mut self, ctx: &mut Context<'_, TimerMsg>, id: usize) {
        // Live means: neither delivered nor cancelled yet.
        let expect_live = self.fired[id].is_empty() && !self.cancelled[id];
        let got = ctx.cancel(self.keys[id]);
        if got != expect_live {
            self.wrong_cancel_results += 1;
        }
        if got {
            self.cancelled[id] = true;
            self.successful_cancels += 1;
        }
    }
}

impl Actor for Driver {
    type Msg = TimerMsg;
    fn handle(&mut self, msg: TimerMsg, ctx: &mut Context<'_, TimerMsg>) {
        match msg {
            TimerMsg::Step(i) => {
                self.steps_run += 1;
                let (ops, gap) = self.script[i].clone();
                for op in ops {
                    match op {
                        Op::Set(d) => {
                            self.set(ctx, d);
                        }
                        Op::Cancel(k) if !self.keys.is_empty() => {
                            self.cancel(ctx, k % self.keys.len());
                        }
                        Op::Cancel(_) => {}
                        Op::SetThenCancel(d) => {
                            let id = self.set(ctx, d);
                            self.cancel(ctx, id);
                        }
                    }
                }
                if i + 1 < self.script.len() {
                    ctx.send_self(SimDuration(gap), TimerMsg::Step(i + 1));
                }
            }
            TimerMsg::Fired(id) => self.fired[id].push(ctx.now()),
        }
    }
}

fn cancel_heavy_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u64..3_000).prop_map(Op::Set),
        2 => any::<usize>().prop_map(Op::Cancel),
        3 => (0u64..3_000).prop_map(Op::SetThenCancel),
    ]
}

/// Steps of a timer script: the ops of each, and the gap before the next.
type Script = Vec<(Vec<Op>, u64)>;

/// The drivers of `script` (delays and gaps in `unit`s of nanoseconds),
/// each on the script rotated so their timers interleave, scheduled to
/// start at time zero.
fn timer_sim(
    script: &[(Vec<Op>, u64)],
    drivers: usize,
    unit: u64,
) -> (Simulation<Driver>, Vec<ActorId>, Script) {
    // Delays and gaps in `unit`s of nanoseconds.
    let script: Vec<(Vec<Op>, u64)> = script
        .iter()
        .map(|(ops, gap)| {
            let ops = ops
                .iter()
                .map(|op| match *op {
                    Op::Set(d) => Op::Set(d * unit),
                    Op::SetThenCancel(d) => Op::SetThenCancel(d * unit),
                    other => other,
                })
                .collect();
            (ops, gap * unit)
        })
        .collect();
    let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
    let mut ids = Vec::new();
    for d in 0..drivers {
        // Each driver runs the script rotated, so their timers interleave.
        let mut s = script.to_vec();
        s.rotate_left(d % script.len());
        let id = sim.add_actor(
            Driver {
                script: s,
                keys: vec![],
                due: vec![],
                cancelled: vec![],
                fired: vec![],
                steps_run: 0,
                successful_cancels: 0,
                wrong_cancel_results: 0,
            },
            d as u64,
        );
        sim.schedule(SimTime::ZERO, id, TimerMsg::Step(0));
        ids.push(id);
    }
    (sim, ids, script)
}

fn run_timer_script(
    script: &[(Vec<Op>, u64)],
    drivers: usize,
    unit: u64,
) -> Result<(), TestCaseError> {
    let (mut sim, ids, script) = timer_sim(script, drivers, unit);
    prop_assert_eq!(sim.run(), RunOutcome::Drained);
    prop_assert_eq!(sim.pending(), 0);

    let mut real_deliveries = 0u64;
    let mut sent = 0u64;
    let mut successful_cancels = 0u64;
    for &id in &ids {
        let d = sim.actor(id);
        prop_assert_eq!(d.steps_run, script.len() as u64);
        prop_assert_eq!(d.wrong_cancel_results, 0, "cancel() misreported liveness");
        for t in 0..d.keys.len() {
            if d.cancelled[t] {
                prop_assert!(d.fired[t].is_empty(), "cancelled timer {} was delivered", t);
            } else {
                prop_assert_eq!(
                    &d.fired[t],
                    &vec![d.due[t]],
                    "live timer {} not delivered once on time",
                    t
                );
            }
        }
        real_deliveries += d.steps_run + d.fired.iter().map(|f| f.len() as u64).sum::<u64>();
        sent += d.steps_run + d.keys.len() as u64;
        successful_cancels += d.successful_cancels;
    }
    prop_assert_eq!(sim.delivered(), real_deliveries);
    // Conservation with timers: every message scheduled was delivered or cancelled.
    prop_assert_eq!(sent, sim.delivered() + successful_cancels);
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// (d) Cancelled timers are never delivered, live ones exactly once and at
    /// their due time, `cancel` reports liveness exactly, and `delivered()`
    /// counts only real deliveries.
    #[test]
    fn timers_fire_once_unless_cancelled(
        script in prop::collection::vec((prop::collection::vec(op(), 0..4), 0u64..20), 1..60),
        drivers in 1usize..4,
    ) {
        run_timer_script(&script, drivers, 1)?;
    }

    /// (d) The same with delays in units of 1 ms to 3 s: timers up to two
    /// minutes ahead, across the kernel's time buckets and beyond them.
    #[test]
    fn timers_fire_once_unless_cancelled_across_time_scales(
        script in prop::collection::vec((prop::collection::vec(op(), 0..4), 0u64..20), 1..60),
        drivers in 1usize..4,
        unit in prop_oneof![Just(1_000_000u64), Just(1u64 << 24), Just(1_000_000_000), Just(3_000_000_000)],
    ) {
        run_timer_script(&script, drivers, unit)?;
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// (d) The same, with thousands of long timers mostly cancelled, so the
    /// kernel sweeps cancelled events out of its queue mid-run; in units
    /// of 1 ns (all in the heap), 1 ms (up to 3 s ahead, in the kernel's
    /// time buckets) and 50 ms (up to 150 s ahead, also beyond them).
    #[test]
    fn timers_survive_sweeps_of_cancelled_events(
        script in prop::collection::vec(
            (prop::collection::vec(cancel_heavy_op(), 1..5), 0u64..4),
            100..400,
        ),
        drivers in 1usize..4,
        unit in prop_oneof![Just(1u64), Just(1_000_000), Just(50_000_000)],
    ) {
        run_timer_script(&script, drivers, unit)?;
    }
}

/// Runs `sim` to `cut`, copies it, and runs the original and the copy to
/// the end (or to its event limit, which a gossip storm can reach, then
/// also at the same event): both must deliver what `whole` (the same
/// simulation, never copied) delivers, event for event, and end in the
/// same state (`state`: what an actor saw, for comparing).
fn check_copy_runs_on<A, S>(
    mut whole: Simulation<A>,
    cut: SimTime,
    state: impl Fn(&A) -> S,
) -> Result<(), TestCaseError>
where
    A: Actor + Clone,
    A::Msg: Clone,
    S: PartialEq + std::fmt::Debug,
{
    let mut original = whole.clone();
    whole.enable_trace();
    original.enable_trace();
    let end = whole.run();
    prop_assert!(matches!(end, RunOutcome::Drained | RunOutcome::EventLimit));
    let first = original.run_until(cut);
    prop_assert!(matches!(
        first,
        RunOutcome::ReachedTime | RunOutcome::EventLimit
    ));
    let mut copy = original.clone();
    prop_assert_eq!(original.run(), end);
    prop_assert_eq!(copy.run(), end);
    for sim in [&original, &copy] {
        prop_assert_eq!(sim.trace(), whole.trace());
        prop_assert_eq!(sim.delivered(), whole.delivered());
        prop_assert_eq!(sim.pending(), whole.pending());
        let got: Vec<S> = sim.actors().iter().map(&state).collect();
        let want: Vec<S> = whole.actors().iter().map(&state).collect();
        prop_assert_eq!(got, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    /// A copy of a simulation taken mid-run ([`Simulation::clone`]) runs on
    /// exactly as the original: the same deliveries in the same order,
    /// timers cancelled before the copy stay cancelled in both, and every
    /// random draw after it is the same.
    #[test]
    fn a_copy_runs_on_exactly_as_the_original(
        script in prop::collection::vec(
            (prop::collection::vec(cancel_heavy_op(), 1..5), 0u64..4),
            20..300,
        ),
        drivers in 1usize..4,
        unit in prop_oneof![Just(1u64), Just(1_000_000), Just(50_000_000)],
        cut in 0u64..600,
        p in gossip_params(),
        gossip_cut in 0u64..2_000,
    ) {
        let (sim, _, _) = timer_sim(&script, drivers, unit);
        check_copy_runs_on(sim, SimTime(cut * unit), |d: &Driver| {
            (d.fired.clone(), d.cancelled.clone(), d.steps_run)
        })?;
        let (mut sim, _) = gossip(&p);
        sim.set_event_limit(20_000);
        check_copy_runs_on(sim, SimTime(gossip_cut * p.unit.max(1)), |n: &Node| {
            (n.received.clone(), n.draws.clone(), n.sent)
        })?;
    }
}

/// A stale key (its slot since reused by a newer timer) cancels nothing.
#[test]
fn stale_timer_key_does_not_cancel_a_reused_slot() {
    struct A {
        first: Option<TimerKey>,
        got: BTreeMap<u32, SimTime>,
    }
    enum M {
        Go,
        Fire(u32),
    }
    impl Actor for A {
        type Msg = M;
        fn handle(&mut self, m: M, ctx: &mut Context<'_, M>) {
            match m {
                M::Go => {
                    let k1 = ctx.set_timer(SimDuration(10), M::Fire(1));
                    assert!(ctx.cancel(k1));
                    // The freed slot is reused for the next timer.
                    let k2 = ctx.set_timer(SimDuration(20), M::Fire(2));
                    assert!(!ctx.cancel(k1), "stale key must not cancel timer 2");
                    self.first = Some(k2);
                }
                M::Fire(n) => {
                    self.got.insert(n, ctx.now());
                }
            }
        }
    }
    let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
    let a = sim.add_actor(
        A {
            first: None,
            got: BTreeMap::new(),
        },
        0,
    );
    sim.schedule(SimTime(5), a, M::Go);
    assert_eq!(sim.run(), RunOutcome::Drained);
    let got: Vec<(u32, SimTime)> = sim.actor(a).got.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(got, vec![(2, SimTime(25))]);
    assert_eq!(sim.delivered(), 2);
    let k2 = sim.actor(a).first.expect("set");
    assert!(
        !sim.with_context(a, |_, ctx| ctx.cancel(k2)),
        "a fired timer cannot be cancelled"
    );
}
