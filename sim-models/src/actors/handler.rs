//! The handler actor: runs each request's operation, step by step.
//!
//! A request first acquires a slot on the handler's own resource (queueing,
//! then the resource's service time), keeps it while the steps run, and
//! releases it at the end, so a slow dependency ties up the caller's
//! concurrency exactly as threads or connections do in a real service.
//! Workload requests arrive at the resource itself (see
//! [`super::resource`]) and come here once admitted; calls from other
//! handlers come here first and ask the resource for a slot.
//!
//! Per call step, each attempt goes over the link to the callee; a per-attempt
//! timeout, retries with backoff and jitter, a circuit breaker and a fallback
//! act exactly where the scenario puts them. Late answers to attempts that
//! already timed out are recognised by their generation and ignored.

use rand::RngExt;
use sim_core::{ActorId, Context, LatencyHistogram, SimDuration, SimRng, SimTime, TimerKey};

use super::Layout;
use crate::model::{ANY_OP, BreakerDef, CallDef, HandlerDef, HandlerIx, Model, RetryDef, StepDef};
use crate::msg::{CallRef, Msg, Origin, Ticket};
use crate::spec::{Backoff, Jitter};

/// Outcome counters and latencies of one population of requests.
#[derive(Debug, Clone, Default)]
pub struct RequestStats {
    /// Requests finished (successfully or not).
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Requests that succeeded thanks to a fallback or a soft dependency.
    pub degraded: u64,
    /// End-to-end latency of every finished request.
    pub latency: LatencyHistogram,
}

impl RequestStats {
    /// Adds every request of `other`.
    pub fn merge(&mut self, other: &RequestStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.degraded += other.degraded;
        self.latency.merge(&other.latency);
    }

    fn record(&mut self, ok: bool, degraded: bool, latency: SimDuration) {
        self.requests += 1;
        if !ok {
            self.errors += 1;
        } else if degraded {
            self.degraded += 1;
        }
        self.latency.record(latency);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a slot and the resource's own service time.
    Admission,
    /// Running steps (calls, backoffs, polls).
    Steps,
}

/// Bytes of one entry of a handler's request table (for memory bounds,
/// [`crate::limits`]).
pub(crate) const REQ_BYTES: u64 = std::mem::size_of::<Req>() as u64;

#[derive(Debug, Clone, Copy)]
struct Req {
    live: bool,
    serial: u32,
    tag: u32,
    op: u16,
    step: u16,
    attempt: u32,
    phase: Phase,
    degraded: bool,
    /// Waiting for the current step's fallback call (`fallback: {call: X}`).
    fallback: bool,
    origin: Origin,
    start: SimTime,
    ticket: Ticket,
    timer: Option<TimerKey>,
    poll_ready: SimTime,
    poll_deadline: SimTime,
}

#[derive(Debug, Clone, Copy)]
enum BreakerState {
    Closed,
    Open { until: SimTime },
    HalfOpen { trial_in_flight: bool },
}

/// A time-windowed circuit breaker (ten buckets over the window).
#[derive(Debug, Clone)]
struct Breaker {
    def: BreakerDef,
    state: BreakerState,
    bucket_len: u64,
    /// (bucket number, calls, failures), a ring of ten.
    buckets: [(u64, u32, u32); 10],
    /// Times the breaker opened.
    opened: u32,
}

impl Breaker {
    fn new(def: BreakerDef) -> Self {
        Breaker {
            def,
            state: BreakerState::Closed,
            bucket_len: (def.window.0 / 10).max(1),
            buckets: [(u64::MAX, 0, 0); 10],
            opened: 0,
        }
    }

    fn allow(&mut self, now: SimTime) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { until } => {
                if now >= until {
                    self.state = BreakerState::HalfOpen {
                        trial_in_flight: true,
                    };
                    true
                } else {
                    false
                }
            }
            BreakerState::HalfOpen { trial_in_flight } => {
                if trial_in_flight {
                    false
                } else {
                    self.state = BreakerState::HalfOpen {
                        trial_in_flight: true,
                    };
                    true
                }
            }
        }
    }

    fn record(&mut self, now: SimTime, ok: bool) {
        match self.state {
            BreakerState::HalfOpen { .. } => {
                if ok {
                    self.state = BreakerState::Closed;
                    self.buckets = [(u64::MAX, 0, 0); 10];
                } else {
                    self.open(now);
                }
            }
            BreakerState::Open { .. } => {} // a straggler from before it opened
            BreakerState::Closed => {
                let b = now.0 / self.bucket_len;
                let cell = &mut self.buckets[(b % 10) as usize];
                if cell.0 != b {
                    *cell = (b, 0, 0);
                }
                cell.1 += 1;
                if !ok {
                    cell.2 += 1;
                }
                let (mut calls, mut fails) = (0u32, 0u32);
                for (n, c, f) in &self.buckets {
                    if *n != u64::MAX && *n + 10 > b {
                        calls += c;
                        fails += f;
                    }
                }
                if calls >= self.def.min_calls
                    && calls > 0
                    && f64::from(fails) / f64::from(calls) >= self.def.failure_rate
                {
                    self.open(now);
                }
            }
        }
    }

    /// Closed, with no failure in its window at `now`: it has forgotten
    /// any fault (see [`HandlerActor::quiet`]).
    fn quiet(&self, now: SimTime) -> bool {
        let b = now.0 / self.bucket_len;
        matches!(self.state, BreakerState::Closed)
            && self
                .buckets
                .iter()
                .all(|(n, _, f)| *n == u64::MAX || *n + 10 <= b || *f == 0)
    }

    fn open(&mut self, now: SimTime) {
        self.state = BreakerState::Open {
            until: now + self.def.open_for,
        };
        self.opened += 1;
    }
}

/// A handler and its requests in flight.
#[derive(Clone)]
pub struct HandlerActor<'m> {
    model: &'m Model,
    def: &'m HandlerDef,
    layout: Layout,
    resource: ActorId,
    reqs: Vec<Req>,
    free: Vec<u32>,
    next_serial: u32,
    breakers: Vec<Option<Breaker>>,
    /// The requests that came from the workload.
    pub external: RequestStats,
    /// The requests that came from other handlers' calls.
    pub internal: RequestStats,
    /// When set, requests are counted per arrival-time segment instead of
    /// in `external` / `internal` (the two-scale method's episodes).
    pub segments: Option<Box<Segments>>,
    /// When set, the workload's requests are also counted here by the time
    /// they finish (what a live monitor sees; [`crate::live`] reads and
    /// resets it every tick).
    pub window: Option<Box<RequestStats>>,
    /// Callee resources whose tolerated calls are skipped (graceful degradation).
    skip: Vec<u32>,
    /// Per operation and step: whether an attempt of that call failed (an
    /// error, a timeout, or its breaker refusing it). Only then can the
    /// call's retry, backoff, breaker or fallback change anything (see
    /// [`crate::usage::Usage`]).
    pub failed: Vec<Vec<bool>>,
}

/// Outcomes counted by the time requests started, in consecutive segments
/// `[bounds[i], bounds[i + 1])`. Requests that started before `bounds[0]`
/// (a warm-up) are not counted; those that started at or after the last
/// bound count in the last segment.
#[derive(Debug, Clone)]
pub struct Segments {
    bounds: Vec<SimTime>,
    /// Per segment: requests from the workload.
    pub external: Vec<RequestStats>,
    /// Per segment: requests from other handlers' calls.
    pub internal: Vec<RequestStats>,
}

impl Segments {
    /// Segments between consecutive `bounds` (sorted, at least two).
    pub fn new(bounds: Vec<SimTime>) -> Self {
        debug_assert!(bounds.len() >= 2 && bounds.is_sorted());
        let n = bounds.len() - 1;
        Segments {
            bounds,
            external: vec![RequestStats::default(); n],
            internal: vec![RequestStats::default(); n],
        }
    }

    /// The segment of a request that started at `start` (`None`: warm-up).
    #[inline]
    pub fn index(&self, start: SimTime) -> Option<usize> {
        let k = self.bounds.partition_point(|b| *b <= start);
        if k == 0 {
            None
        } else {
            Some((k - 1).min(self.external.len() - 1))
        }
    }

    #[inline]
    fn record(
        &mut self,
        external: bool,
        start: SimTime,
        ok: bool,
        degraded: bool,
        latency: SimDuration,
    ) {
        if let Some(i) = self.index(start) {
            let s = if external {
                &mut self.external[i]
            } else {
                &mut self.internal[i]
            };
            s.record(ok, degraded, latency);
        }
    }
}

impl<'m> HandlerActor<'m> {
    /// A handler with no request in flight.
    pub fn new(model: &'m Model, ix: HandlerIx, layout: Layout) -> Self {
        let def = &model.handlers[ix];
        let mut breakers = vec![None; def.breakers];
        for op in &def.ops {
            for s in &op.steps {
                if let StepDef::Call(CallDef {
                    breaker: Some((i, b)),
                    ..
                }) = s
                {
                    breakers[*i] = Some(Breaker::new(*b));
                }
            }
        }
        HandlerActor {
            model,
            def,
            layout,
            resource: layout.resource(def.resource),
            reqs: Vec::new(),
            free: Vec::new(),
            next_serial: 0,
            breakers,
            external: RequestStats::default(),
            internal: RequestStats::default(),
            segments: None,
            window: None,
            skip: Vec::new(),
            failed: def.ops.iter().map(|o| vec![false; o.steps.len()]).collect(),
        }
    }

    /// Handles one message.
    pub fn handle(&mut self, msg: Msg, ctx: &mut Context<'_, Msg>) {
        match msg {
            Msg::Admitted {
                start,
                op,
                ok,
                ticket,
            } => {
                if ticket == Ticket::NONE {
                    // Refused or failed at the resource, or served: an
                    // operation without steps is over once served.
                    self.record(true, start, ok, false, ctx.now() - start);
                } else {
                    let req = self.alloc(Req {
                        live: true,
                        serial: 0,
                        tag: 0,
                        op,
                        step: 0,
                        attempt: 0,
                        phase: Phase::Steps,
                        degraded: false,
                        fallback: false,
                        origin: Origin::External,
                        start,
                        ticket,
                        timer: None,
                        poll_ready: SimTime::ZERO,
                        poll_deadline: SimTime::ZERO,
                    });
                    self.run_step(req, ctx);
                }
            }
            Msg::AbortHeld { ticket } => {
                if let Some(req) = self
                    .reqs
                    .iter()
                    .position(|r| r.live && r.ticket == ticket && r.origin == Origin::External)
                {
                    let r = &mut self.reqs[req];
                    r.ticket = Ticket::NONE; // the slot died with the replica
                    if let Some(t) = r.timer.take() {
                        ctx.cancel(t);
                    }
                    self.finish(req as u32, false, ctx);
                }
            }
            Msg::Start { op, origin } => self.start(op, origin, ctx),
            Msg::Granted {
                req,
                serial,
                ok,
                ticket,
            } => self.granted(req, serial, ok, ticket, ctx),
            Msg::Abort { req, serial } => {
                if self.is_current(req, serial) {
                    let r = &mut self.reqs[req as usize];
                    r.ticket = Ticket::NONE; // the slot died with the replica
                    if let Some(t) = r.timer.take() {
                        ctx.cancel(t);
                    }
                    self.finish(req, false, ctx);
                }
            }
            Msg::Reply { req, tag, ok } => self.reply(req, tag, ok, ctx),
            Msg::Timeout { req, tag } => {
                if self.is_attempt(req, tag) {
                    let r = &mut self.reqs[req as usize];
                    r.timer = None;
                    r.tag = r.tag.wrapping_add(1); // a late answer is now stale
                    if r.fallback {
                        self.fallback_failed(req, ctx);
                    } else {
                        self.record_breaker(req, false, ctx.now());
                        self.attempt_failed(req, ctx);
                    }
                }
            }
            Msg::Backoff { req, tag } => {
                if self.is_attempt(req, tag) {
                    self.attempt(req, ctx);
                }
            }
            Msg::PollTick { req, tag } => {
                if self.is_attempt(req, tag) {
                    if ctx.now() >= self.reqs[req as usize].poll_deadline {
                        let r = &mut self.reqs[req as usize];
                        r.tag = r.tag.wrapping_add(1);
                        self.step_failed(req, ctx);
                    } else {
                        self.send_poll(req, ctx);
                    }
                }
            }
            Msg::Degrade { resource, on } => {
                if on {
                    self.skip.push(resource);
                } else if let Some(p) = self.skip.iter().position(|r| *r == resource) {
                    self.skip.swap_remove(p);
                }
            }
            // Not a message for a handler: a routing bug. Counted by the
            // kernel (the campaign's `misrouted`), which makes the run fail
            // loudly in every build rather than drop it.
            _ => ctx.unhandled(),
        }
    }

    fn is_current(&self, req: u32, serial: u32) -> bool {
        self.reqs
            .get(req as usize)
            .is_some_and(|r| r.live && r.serial == serial)
    }

    fn is_attempt(&self, req: u32, tag: u32) -> bool {
        self.reqs
            .get(req as usize)
            .is_some_and(|r| r.live && r.tag == tag && r.phase == Phase::Steps)
    }

    fn start(&mut self, op: u16, origin: Origin, ctx: &mut Context<'_, Msg>) {
        let op = if op == ANY_OP {
            draw_op(self.def, ctx.rng())
        } else {
            op
        };
        let req = self.alloc(Req {
            live: true,
            serial: 0,
            tag: 0,
            op,
            step: 0,
            attempt: 0,
            phase: Phase::Admission,
            degraded: false,
            fallback: false,
            origin,
            start: ctx.now(),
            ticket: Ticket::NONE,
            timer: None,
            poll_ready: SimTime::ZERO,
            poll_deadline: SimTime::ZERO,
        });
        let serial = self.reqs[req as usize].serial;
        // An operation without steps needs the slot only for the service time.
        let hold = !self.def.ops[op as usize].steps.is_empty();
        ctx.send(
            self.resource,
            SimDuration::ZERO,
            Msg::Acquire {
                holder: ctx.me(),
                req,
                serial,
                hold,
            },
        );
    }

    /// Puts a new request in the table (with the next serial) and returns its slot.
    fn alloc(&mut self, mut req: Req) -> u32 {
        req.serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        match self.free.pop() {
            Some(i) => {
                self.reqs[i as usize] = Req {
                    tag: self.reqs[i as usize].tag.wrapping_add(1),
                    ..req
                };
                i
            }
            None => {
                self.reqs.push(req);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    /// Counts one finished request.
    #[inline]
    fn record(
        &mut self,
        external: bool,
        start: SimTime,
        ok: bool,
        degraded: bool,
        latency: SimDuration,
    ) {
        if external && let Some(w) = &mut self.window {
            w.record(ok, degraded, latency);
        }
        if let Some(seg) = &mut self.segments {
            seg.record(external, start, ok, degraded, latency);
        } else if external {
            self.external.record(ok, degraded, latency);
        } else {
            self.internal.record(ok, degraded, latency);
        }
    }

    /// Counts workload requests that never got out of the resource (still
    /// queued or served when the drain ended) as failed.
    pub fn fail_arrivals(&mut self, starts: &[SimTime], now: SimTime) {
        for &s in starts {
            self.record(true, s, false, false, now - s);
        }
    }

    fn granted(
        &mut self,
        req: u32,
        serial: u32,
        ok: bool,
        ticket: Ticket,
        ctx: &mut Context<'_, Msg>,
    ) {
        if !self.is_current(req, serial) {
            if ok {
                ctx.send(self.resource, SimDuration::ZERO, Msg::Release { ticket });
            }
            return;
        }
        if !ok {
            self.finish(req, false, ctx);
            return;
        }
        let r = &mut self.reqs[req as usize];
        r.ticket = ticket;
        r.phase = Phase::Steps;
        self.run_step(req, ctx);
    }

    fn call_def(&self, req: u32) -> &'m CallDef {
        let r = &self.reqs[req as usize];
        match &self.def.ops[r.op as usize].steps[r.step as usize] {
            StepDef::Call(c) => c,
            StepDef::Poll(_) => unreachable!("call_def on a poll step"),
        }
    }

    /// Starts the current step, or finishes the request after the last one.
    fn run_step(&mut self, req: u32, ctx: &mut Context<'_, Msg>) {
        let r = &mut self.reqs[req as usize];
        let steps = &self.def.ops[r.op as usize].steps;
        let Some(step) = steps.get(r.step as usize) else {
            self.finish(req, true, ctx);
            return;
        };
        r.attempt = 0;
        match step {
            StepDef::Call(c)
                if !self.skip.is_empty()
                    && self.skip.contains(&(self.model.links[c.link].to as u32)) =>
            {
                // Graceful degradation: a call that may fail is done
                // without at once. One that may not is made, but noted: a
                // fallback would change what happens here.
                self.failed[r.op as usize][r.step as usize] = true;
                if c.tolerate_failure {
                    self.go_on_degraded(req, ctx);
                } else if c.fallback_call.is_some() {
                    self.fallback_attempt(req, ctx);
                } else {
                    self.attempt(req, ctx);
                }
            }
            StepDef::Call(_) => self.attempt(req, ctx),
            StepDef::Poll(p) => {
                let now = ctx.now();
                let ready = p.ready_after.sample(ctx.rng());
                let r = &mut self.reqs[req as usize];
                r.poll_ready = now + ready;
                r.poll_deadline = now + p.timeout;
                self.send_poll(req, ctx);
            }
        }
    }

    fn attempt(&mut self, req: u32, ctx: &mut Context<'_, Msg>) {
        let c = self.call_def(req);
        self.reqs[req as usize].attempt += 1;
        if let Some((b, _)) = c.breaker
            && !self.breakers[b]
                .as_mut()
                .expect("breaker exists")
                .allow(ctx.now())
        {
            self.attempt_failed(req, ctx);
            return;
        }
        self.send_call(req, c.link, c.op, c.timeout, ctx);
    }

    /// Sends one call of request `req` over `link` (a new tag, so that a
    /// late answer to an earlier one is stale) and arms its timeout.
    #[inline]
    fn send_call(
        &mut self,
        req: u32,
        link: crate::model::LinkIx,
        op: u16,
        timeout: Option<SimDuration>,
        ctx: &mut Context<'_, Msg>,
    ) {
        let r = &mut self.reqs[req as usize];
        r.tag = r.tag.wrapping_add(1);
        let tag = r.tag;
        let call = CallRef {
            caller: ctx.me(),
            req,
            tag,
        };
        ctx.send(
            self.layout.link(link),
            SimDuration::ZERO,
            Msg::Forward {
                call,
                op,
                poll: false,
            },
        );
        if let Some(t) = timeout {
            let key = ctx.set_timer(t, Msg::Timeout { req, tag });
            self.reqs[req as usize].timer = Some(key);
        }
    }

    /// The current step is done without its call's answer (a fallback or a
    /// soft dependency): the request goes on to the next step, degraded.
    fn go_on_degraded(&mut self, req: u32, ctx: &mut Context<'_, Msg>) {
        let r = &mut self.reqs[req as usize];
        r.degraded = true;
        r.step += 1;
        self.run_step(req, ctx);
    }

    fn send_poll(&mut self, req: u32, ctx: &mut Context<'_, Msg>) {
        let r = &mut self.reqs[req as usize];
        let StepDef::Poll(p) = &self.def.ops[r.op as usize].steps[r.step as usize] else {
            unreachable!("send_poll on a call step")
        };
        r.tag = r.tag.wrapping_add(1);
        let tag = r.tag;
        let call = CallRef {
            caller: ctx.me(),
            req,
            tag,
        };
        ctx.send(
            self.layout.link(p.link),
            SimDuration::ZERO,
            Msg::Forward {
                call,
                op: ANY_OP,
                poll: true,
            },
        );
        let left = r.poll_deadline.saturating_since(ctx.now());
        ctx.send_self(p.interval.min(left), Msg::PollTick { req, tag });
    }

    fn reply(&mut self, req: u32, tag: u32, ok: bool, ctx: &mut Context<'_, Msg>) {
        if !self.is_attempt(req, tag) {
            return; // stale: timed out, or the request is gone
        }
        let r = &mut self.reqs[req as usize];
        if let StepDef::Poll(_) = &self.def.ops[r.op as usize].steps[r.step as usize] {
            if ok && ctx.now() >= r.poll_ready {
                r.tag = r.tag.wrapping_add(1); // cancels the pending tick
                r.step += 1;
                self.run_step(req, ctx);
            }
            return; // not ready yet: the next tick polls again
        }
        if let Some(t) = r.timer.take() {
            ctx.cancel(t);
        }
        if r.fallback {
            if ok {
                r.fallback = false;
                self.go_on_degraded(req, ctx);
            } else {
                self.fallback_failed(req, ctx);
            }
            return;
        }
        self.record_breaker(req, ok, ctx.now());
        if ok {
            self.reqs[req as usize].step += 1;
            self.run_step(req, ctx);
        } else {
            self.attempt_failed(req, ctx);
        }
    }

    fn record_breaker(&mut self, req: u32, ok: bool, now: SimTime) {
        if let Some((b, _)) = self.call_def(req).breaker {
            self.breakers[b]
                .as_mut()
                .expect("breaker exists")
                .record(now, ok);
        }
    }

    fn attempt_failed(&mut self, req: u32, ctx: &mut Context<'_, Msg>) {
        let c = self.call_def(req);
        let r = &self.reqs[req as usize];
        self.failed[r.op as usize][r.step as usize] = true;
        let attempt = self.reqs[req as usize].attempt;
        if attempt < c.retry.max_attempts {
            let delay = backoff_delay(&c.retry, attempt, ctx.rng());
            let tag = self.reqs[req as usize].tag;
            ctx.send_self(delay, Msg::Backoff { req, tag });
        } else {
            self.step_failed(req, ctx);
        }
    }

    fn step_failed(&mut self, req: u32, ctx: &mut Context<'_, Msg>) {
        let r = &self.reqs[req as usize];
        let tolerate = match &self.def.ops[r.op as usize].steps[r.step as usize] {
            StepDef::Call(c) if c.fallback_call.is_some() => {
                self.fallback_attempt(req, ctx);
                return;
            }
            StepDef::Call(c) => c.tolerate_failure,
            StepDef::Poll(_) => false,
        };
        if tolerate {
            self.go_on_degraded(req, ctx);
        } else {
            self.finish(req, false, ctx);
        }
    }

    /// Makes the current step's fallback call: one attempt over its own
    /// link, with its own timeout and no breaker.
    fn fallback_attempt(&mut self, req: u32, ctx: &mut Context<'_, Msg>) {
        let Some(f) = self.call_def(req).fallback_call else {
            unreachable!("fallback_attempt on a step without a fallback call")
        };
        self.reqs[req as usize].fallback = true;
        self.send_call(req, f.link, f.op, f.timeout, ctx);
    }

    /// The fallback call failed too: the step fails, unless its dependency
    /// is soft.
    fn fallback_failed(&mut self, req: u32, ctx: &mut Context<'_, Msg>) {
        let tolerate = self.call_def(req).tolerate_failure;
        let r = &mut self.reqs[req as usize];
        r.fallback = false;
        if tolerate {
            self.go_on_degraded(req, ctx);
        } else {
            self.finish(req, false, ctx);
        }
    }

    fn finish(&mut self, req: u32, ok: bool, ctx: &mut Context<'_, Msg>) {
        let r = &mut self.reqs[req as usize];
        debug_assert!(r.live);
        r.live = false;
        r.tag = r.tag.wrapping_add(1);
        let latency = ctx.now() - r.start;
        let (origin, ticket, degraded, start) = (r.origin, r.ticket, r.degraded, r.start);
        if ticket != Ticket::NONE {
            ctx.send(self.resource, SimDuration::ZERO, Msg::Release { ticket });
        }
        self.record(origin == Origin::External, start, ok, degraded, latency);
        if let Origin::Call { link, call } = origin {
            ctx.send(link, SimDuration::ZERO, Msg::Back { call, ok })
        }
        self.free.push(req);
    }

    /// Counts every request still in flight at `now` as failed, with the
    /// latency it has accumulated so far (used when the drain period ends).
    pub fn fail_in_flight(&mut self, now: SimTime) -> u64 {
        let mut n = 0;
        for r in self.reqs.iter_mut().filter(|r| r.live) {
            r.live = false;
            let latency = now - r.start;
            let external = r.origin == Origin::External;
            if let Some(seg) = &mut self.segments {
                seg.record(external, r.start, false, false, latency);
            } else if external {
                self.external.record(false, false, latency);
            } else {
                self.internal.record(false, false, latency);
            }
            n += 1;
        }
        n
    }

    /// Every request this handler served: from the workload and from calls.
    pub fn all(&self) -> RequestStats {
        let mut all = self.external.clone();
        all.merge(&self.internal);
        all
    }

    /// How many times this handler's circuit breakers opened.
    pub fn breaker_openings(&self) -> u32 {
        self.breakers.iter().flatten().map(|b| b.opened).sum()
    }

    /// Whether nothing here remembers a fault at `now`: every circuit
    /// breaker closed with no failure in its window, no callee skipped. A
    /// request that starts now meets the handler as a healthy one would
    /// (see [`crate::two_scale`]'s early settle).
    pub fn quiet(&self, now: SimTime) -> bool {
        self.skip.is_empty() && self.breakers.iter().flatten().all(|b| b.quiet(now))
    }
}

/// An operation of `def` drawn by weight.
#[inline]
pub(crate) fn draw_op(def: &HandlerDef, rng: &mut SimRng) -> u16 {
    if def.ops.len() == 1 {
        return 0;
    }
    let u: f64 = rng.random();
    let i = def.cumulative_weights.partition_point(|c| *c <= u);
    i.min(def.ops.len() - 1) as u16
}

/// The wait before attempt `failed + 1`, after `failed` failed attempts.
pub fn backoff_delay(r: &RetryDef, failed: u32, rng: &mut SimRng) -> SimDuration {
    let base = r.base.0;
    let raw = match r.backoff {
        Backoff::Constant => base,
        Backoff::Exponential => {
            let shift = failed.saturating_sub(1).min(62);
            base.saturating_mul(1u64 << shift)
        }
    };
    let b = raw.min(r.max.0);
    let d = match r.jitter {
        Jitter::None => b,
        Jitter::Full => (b as f64 * rng.random::<f64>()) as u64,
        Jitter::Equal => b / 2 + ((b / 2) as f64 * rng.random::<f64>()) as u64,
    };
    SimDuration(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::CampaignSeed;

    #[test]
    fn a_breaker_is_quiet_only_once_it_has_forgotten_every_failure() {
        let at = |ms: u64| SimTime::ZERO + SimDuration::from_millis(ms);
        let mut b = Breaker::new(BreakerDef {
            failure_rate: 0.5,
            min_calls: 4,
            window: SimDuration::from_secs(10),
            open_for: SimDuration::from_secs(5),
        });
        assert!(b.quiet(at(0)));
        for ms in [0, 100, 200] {
            b.record(at(ms), true);
        }
        // Successes leave it quiet; one failure in the window does not.
        assert!(b.quiet(at(300)));
        b.record(at(1_000), false);
        assert!(matches!(b.state, BreakerState::Closed));
        assert!(!b.quiet(at(1_500)));
        // Still in the window (its ten buckets of 1 s) until 11 s.
        assert!(!b.quiet(at(10_900)));
        assert!(b.quiet(at(11_000)));
        // Open, then half-open: not quiet, whatever the window holds.
        b.record(at(20_000), false);
        b.record(at(20_100), false);
        b.record(at(20_200), true);
        b.record(at(20_300), false);
        assert!(matches!(b.state, BreakerState::Open { .. }));
        assert!(!b.quiet(at(40_000)));
        assert!(b.allow(at(25_300)));
        assert!(matches!(b.state, BreakerState::HalfOpen { .. }));
        assert!(!b.quiet(at(40_000)));
        // The trial succeeds: closed, its window cleared, quiet at once.
        b.record(at(25_400), true);
        assert!(b.quiet(at(25_400)));
    }

    #[test]
    fn exponential_backoff_doubles_and_caps() {
        let r = RetryDef {
            max_attempts: 10,
            backoff: Backoff::Exponential,
            base: SimDuration::from_millis(50),
            max: SimDuration::from_millis(300),
            jitter: Jitter::None,
        };
        let mut rng = CampaignSeed::derive(1, 0, 0).stream(0);
        let got: Vec<u64> = (1..=5)
            .map(|k| backoff_delay(&r, k, &mut rng).0 / 1_000_000)
            .collect();
        assert_eq!(got, vec![50, 100, 200, 300, 300]);
    }

    #[test]
    fn jitter_stays_in_its_band() {
        let mut rng = CampaignSeed::derive(1, 0, 0).stream(0);
        for jitter in [Jitter::Full, Jitter::Equal] {
            let r = RetryDef {
                jitter,
                base: SimDuration::from_millis(100),
                ..RetryDef::NONE
            };
            let lo = if jitter == Jitter::Full {
                0
            } else {
                50_000_000
            };
            for _ in 0..1000 {
                let d = backoff_delay(&r, 1, &mut rng).0;
                assert!((lo..=100_000_000).contains(&d), "{jitter:?}: {d}");
            }
        }
    }

    #[test]
    fn breaker_opens_on_failure_rate_and_recovers_through_half_open() {
        let def = BreakerDef {
            failure_rate: 0.5,
            min_calls: 4,
            window: SimDuration::from_secs(10),
            open_for: SimDuration::from_secs(30),
        };
        let mut b = Breaker::new(def);
        let t = SimTime::from_secs_f64(1.0);
        for ok in [true, false, true] {
            assert!(b.allow(t));
            b.record(t, ok);
        }
        assert!(matches!(b.state, BreakerState::Closed), "below min_calls");
        b.record(t, false); // 2 of 4 failed: opens
        assert!(!b.allow(SimTime::from_secs_f64(20.0)));
        let later = SimTime::from_secs_f64(31.5);
        assert!(b.allow(later), "half-open lets one trial through");
        assert!(!b.allow(later), "only one");
        b.record(later, true);
        assert!(matches!(b.state, BreakerState::Closed));
        assert_eq!(b.opened, 1);
    }

    #[test]
    fn breaker_window_forgets_old_failures() {
        let def = BreakerDef {
            failure_rate: 0.5,
            min_calls: 4,
            window: SimDuration::from_secs(10),
            open_for: SimDuration::from_secs(30),
        };
        let mut b = Breaker::new(def);
        for _ in 0..3 {
            b.record(SimTime::from_secs_f64(0.5), false);
        }
        // Twelve seconds later the three failures are out of the window.
        b.record(SimTime::from_secs_f64(12.5), false);
        assert!(matches!(b.state, BreakerState::Closed));
    }
}
