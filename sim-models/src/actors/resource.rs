//! The resource actor: replicas, slots, a shared queue, service times, faults.
//!
//! Requests wait in one queue per resource (a load balancer in front of the
//! replicas) and are dispatched to the routable replica with the fewest busy
//! slots; ties go round-robin (the first tied replica after the one chosen
//! last), so an idle pool spreads requests evenly as real balancers do. A replica that died is still routable until
//! the health check notices (`health_check`); requests sent to it meanwhile
//! fail at once. When no replica is routable, new requests are refused and
//! queued ones fail.
//!
//! Three kinds of occupants hold a slot: a plain call (`Serve`), which frees
//! the slot after the service time; a handler request for a call
//! (`Acquire`), which keeps its slot while the handler runs its steps, until
//! `Release`; and a workload request (`Arrival`).
//!
//! Workload requests arrive here, at the front of the handler's resource,
//! as they do at a real service's load balancer: the resource runs the
//! arrival processes of the workloads of its handler, draws each request's
//! operation, queues and serves it, and only then hands it to the handler
//! (`Admitted`, carrying the arrival time), which runs the operation's
//! steps. A request whose operation has no steps is finished at that point,
//! so it costs the handler no bookkeeping at all.

use std::collections::VecDeque;
use std::rc::Rc;

use rand::RngExt;
use sim_core::{ActorId, Context, SimDuration, SimRng, SimTime};

use super::{Arrivals, Layout};
use crate::dist::Dist;
use crate::in_flight::InFlight;
use crate::model::{Effect, HandlerDef, Model, ResourceDef, ResourceIx};

/// Service times drawn at a time (see [`ServiceTimes`]).
const SERVICE_BLOCK: usize = 32;

/// A resource's service times, from their own stream, drawn a block at a
/// time: independent draws overlap in the processor where one draw per
/// request sits on the critical path of the event it schedules (as for
/// arrival gaps; see [`super::workload`]). Each request takes the next one.
#[derive(Clone)]
struct ServiceTimes<'m> {
    dist: &'m Dist,
    rng: SimRng,
    buf: [f64; SERVICE_BLOCK],
    next: usize,
}

impl ServiceTimes<'_> {
    #[inline]
    fn next(&mut self) -> f64 {
        if self.next == SERVICE_BLOCK {
            self.refill();
        }
        let x = self.buf[self.next];
        self.next += 1;
        x
    }

    #[inline(never)]
    fn refill(&mut self) {
        for x in &mut self.buf {
            *x = self.dist.sample_secs(&mut self.rng);
        }
        self.next = 0;
    }
}
use crate::msg::{ALL_REPLICAS, CallRef, Msg, Ticket};

/// Bytes of one queued request (for memory bounds, [`crate::limits`]).
pub(crate) const OCCUPANT_BYTES: u64 = std::mem::size_of::<Occupant>() as u64;
/// Bytes of one slot (for memory bounds).
pub(crate) const SLOT_BYTES: u64 = std::mem::size_of::<Slot>() as u64;

#[derive(Debug, Clone, Copy)]
enum Occupant {
    Hold {
        holder: ActorId,
        req: u32,
        serial: u32,
        /// Keep the slot after the service time (false: free it then).
        hold: bool,
    },
    Serve {
        link: ActorId,
        call: CallRef,
    },
    Arrival {
        start: SimTime,
        op: u16,
    },
}

#[derive(Debug, Clone)]
struct Replica {
    /// Active crash faults (the replica is up when zero).
    crashes: u16,
    /// The router sends requests here.
    routable: bool,
    /// Slots busy.
    in_use: u32,
    /// Slots available (concurrency, reduced by memory starvation).
    capacity: u32,
    /// Incremented at each death; stale health checks compare it.
    epoch: u32,
    /// Active non-crash effects (indices into the model's effects).
    active: Vec<u32>,
    /// Whether memory starvation has crashed the replica (counted in `crashes`).
    oom: bool,
    /// Taken out of rotation by a failover (routable again only when undone).
    drained: bool,
}

impl Replica {
    fn up(&self) -> bool {
        self.crashes == 0
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    tag: u32,
    live: bool,
    replica: u16,
    /// Still in its service time (not yet granted).
    in_service: bool,
    fail: bool,
    occupant: Occupant,
}

/// A resource and its replicas.
#[derive(Clone)]
pub struct ResourceActor<'m> {
    model: &'m Model,
    def: &'m ResourceDef,
    /// The handler running here, its actor, and which of its operations
    /// have steps (and so keep their slot).
    handler: Option<(&'m HandlerDef, ActorId)>,
    keeps_slot: Vec<bool>,
    /// The arrival processes of the handler's workloads.
    arrivals: Vec<Arrivals>,
    /// Service times (none: zero).
    service: Option<ServiceTimes<'m>>,
    layout: Layout,
    replicas: Vec<Replica>,
    queue: VecDeque<Occupant>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Active faults that make the whole resource unreachable.
    net_down: u16,
    /// Replicas the router sends requests to.
    routable: u16,
    /// Where the next tie-break scan starts (after the replica chosen last).
    next_rr: u16,
    serving: bool,
    /// Changes of "can serve" over time, starting with the state at time zero.
    pub serving_log: Vec<(SimTime, bool)>,
    /// The simulation's in-flight budget, shared by all its resources:
    /// every queued request and every live slot holds one unit.
    in_flight: Rc<InFlight>,
    /// Whether a request was ever routed while a routable replica had every
    /// slot busy. Only then can a higher `concurrency` change anything here
    /// (see [`crate::usage::Usage`]).
    pub saturated: bool,
}

impl<'m> ResourceActor<'m> {
    /// A resource with every replica up, fed by `arrivals` (the workloads
    /// of the handler running on it), drawing service times from
    /// `service_rng`, holding its requests against `in_flight` (the budget
    /// of the whole simulation).
    pub fn new(
        model: &'m Model,
        ix: ResourceIx,
        layout: Layout,
        arrivals: Vec<Arrivals>,
        service_rng: SimRng,
        in_flight: Rc<InFlight>,
    ) -> Self {
        let def = &model.resources[ix];
        let handler = def.handler.map(|h| (&model.handlers[h], layout.handler(h)));
        let keeps_slot = handler
            .map(|(h, _)| h.ops.iter().map(|o| !o.steps.is_empty()).collect())
            .unwrap_or_default();
        let replicas = (0..def.replicas)
            .map(|_| Replica {
                crashes: 0,
                routable: true,
                in_use: 0,
                capacity: def.concurrency,
                epoch: 0,
                active: Vec::new(),
                oom: false,
                drained: false,
            })
            .collect();
        ResourceActor {
            model,
            def,
            handler,
            keeps_slot,
            arrivals,
            service: def.service.as_ref().map(|dist| ServiceTimes {
                dist,
                rng: service_rng,
                buf: [0.0; SERVICE_BLOCK],
                next: SERVICE_BLOCK,
            }),
            layout,
            replicas,
            queue: VecDeque::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            net_down: 0,
            routable: def.replicas,
            next_rr: 0,
            serving: true,
            serving_log: vec![(SimTime::ZERO, true)],
            in_flight,
            saturated: false,
        }
    }

    /// The in-flight budget this resource holds its requests against.
    pub fn in_flight(&self) -> &Rc<InFlight> {
        &self.in_flight
    }

    /// Holds this resource's requests against `budget` from now on (a
    /// copy of the simulation takes a copy of its budget: `fork`).
    pub(crate) fn set_in_flight(&mut self, budget: Rc<InFlight>) {
        self.in_flight = budget;
    }

    /// Whether nothing here remembers a fault: every replica up, routable,
    /// with its whole concurrency and no active effect, and nothing
    /// queued. A request that arrives now meets the resource as a healthy
    /// one would (see [`crate::two_scale`]'s early settle).
    pub fn quiet(&self) -> bool {
        self.net_down == 0
            && self.serving
            && self.queue.is_empty()
            && self.routable == self.def.replicas
            && self.replicas.iter().all(|r| {
                r.up()
                    && r.routable
                    && !r.oom
                    && !r.drained
                    && r.active.is_empty()
                    && r.capacity == self.def.concurrency
            })
    }

    /// Stops the workload arrivals here at `end` instead (an episode
    /// forked from a longer one ends sooner).
    pub(crate) fn set_arrivals_end(&mut self, end: SimTime) {
        for a in &mut self.arrivals {
            a.set_horizon(end);
        }
    }

    /// Schedules the first arrival of every workload.
    pub fn start_workload(&mut self, ctx: &mut Context<'_, Msg>) {
        for (w, a) in self.arrivals.iter_mut().enumerate() {
            if let Some(gap) = a.gap() {
                ctx.send_self(gap, Msg::Arrive { workload: w as u16 });
            }
        }
    }

    /// Workload requests still here (queued or in service) at `now`, as
    /// arrival times; they are removed (the drain is over: they failed).
    pub fn take_arrivals_in_flight(&mut self) -> Vec<SimTime> {
        for _ in 0..self.queue.len() {
            self.in_flight.give();
        }
        let mut out: Vec<SimTime> = self
            .queue
            .drain(..)
            .filter_map(|o| match o {
                Occupant::Arrival { start, .. } => Some(start),
                _ => None,
            })
            .collect();
        for s in &mut self.slots {
            if s.live
                && s.in_service
                && let Occupant::Arrival { start, .. } = s.occupant
            {
                s.live = false;
                self.in_flight.give();
                out.push(start);
            }
        }
        out
    }

    /// Handles one message.
    pub fn handle(&mut self, msg: Msg, ctx: &mut Context<'_, Msg>) {
        match msg {
            Msg::Arrive { workload } => {
                let a = &mut self.arrivals[workload as usize];
                let Some(keep) = a.arrive(ctx.now()) else {
                    return; // the horizon: no more arrivals
                };
                if let Some(gap) = a.gap() {
                    ctx.send_self(gap, Msg::Arrive { workload });
                }
                if keep && let Some((h, _)) = self.handler {
                    let op = super::handler::draw_op(h, ctx.rng());
                    self.admit(
                        Occupant::Arrival {
                            start: ctx.now(),
                            op,
                        },
                        ctx,
                    );
                }
            }
            Msg::Acquire {
                holder,
                req,
                serial,
                hold,
            } => self.admit(
                Occupant::Hold {
                    holder,
                    req,
                    serial,
                    hold,
                },
                ctx,
            ),
            Msg::Serve { link, call } => self.admit(Occupant::Serve { link, call }, ctx),
            Msg::ServiceDone { ticket } => self.service_done(ticket, ctx),
            Msg::Release { ticket } => {
                if self.valid(ticket) {
                    self.free(ticket.slot);
                    self.dispatch(ctx);
                }
            }
            Msg::Fault {
                effect,
                replica,
                on,
            } => self.fault(effect as usize, replica, on, ctx),
            Msg::Detected { replica, epoch } => {
                let r = &self.replicas[replica as usize];
                if r.epoch == epoch && !r.up() {
                    self.set_routable(replica, false);
                    self.after_routing_change(ctx);
                }
            }
            Msg::Failover { replica, on } => self.failover(replica, on, ctx),
            // Not a message for a resource: a routing bug. Counted by the
            // kernel (the campaign's `misrouted`), which makes the run fail
            // loudly in every build rather than drop it.
            _ => ctx.unhandled(),
        }
    }

    fn set_routable(&mut self, replica: u16, routable: bool) {
        let r = &mut self.replicas[replica as usize];
        if r.routable != routable {
            r.routable = routable;
            if routable {
                self.routable += 1;
            } else {
                self.routable -= 1;
            }
        }
        debug_assert_eq!(
            usize::from(self.routable),
            self.replicas.iter().filter(|r| r.routable).count()
        );
    }

    fn reject(&mut self, occ: Occupant, ctx: &mut Context<'_, Msg>) {
        match occ {
            Occupant::Hold {
                holder,
                req,
                serial,
                ..
            } => ctx.send(
                holder,
                SimDuration::ZERO,
                Msg::Granted {
                    req,
                    serial,
                    ok: false,
                    ticket: Ticket::NONE,
                },
            ),
            Occupant::Serve { link, call } => {
                ctx.send(link, SimDuration::ZERO, Msg::Back { call, ok: false })
            }
            Occupant::Arrival { start, op } => self.admitted(start, op, false, Ticket::NONE, ctx),
        }
    }

    /// Hands a workload request to the handler.
    #[inline]
    fn admitted(
        &self,
        start: SimTime,
        op: u16,
        ok: bool,
        ticket: Ticket,
        ctx: &mut Context<'_, Msg>,
    ) {
        let (_, holder) = self.handler.expect("arrivals come with a handler");
        ctx.send(
            holder,
            SimDuration::ZERO,
            Msg::Admitted {
                start,
                op,
                ok,
                ticket,
            },
        );
    }

    fn admit(&mut self, occ: Occupant, ctx: &mut Context<'_, Msg>) {
        if self.net_down > 0 || self.routable == 0 {
            self.reject(occ, ctx);
            return;
        }
        if !self.in_flight.admit() {
            // The simulation holds as many requests as its memory bound
            // allows: refused, as a server out of memory refuses work.
            self.reject(occ, ctx);
            return;
        }
        if self.queue.is_empty()
            && let Some(r) = self.pick_replica()
        {
            self.start(occ, r, ctx);
            return;
        }
        if (self.queue.len() as u64) < u64::from(self.def.queue_limit) {
            self.queue.push_back(occ);
            self.in_flight.take();
        } else {
            self.reject(occ, ctx);
        }
    }

    /// The routable replica with a free slot and the fewest busy slots;
    /// among ties, the first from `next_rr` on (round-robin). Notes in
    /// [`Self::saturated`] when a routable replica is full: that is the only
    /// place the number of slots decides anything.
    fn pick_replica(&mut self) -> Option<u16> {
        let n = self.replicas.len();
        if n == 1 {
            let r = &self.replicas[0];
            let free = r.in_use < r.capacity;
            self.saturated |= r.routable && !free;
            return (r.routable && free).then_some(0);
        }
        let mut best: Option<(u32, u16)> = None;
        let mut full = false;
        let start = usize::from(self.next_rr);
        for k in 0..n {
            let i = if start + k < n {
                start + k
            } else {
                start + k - n
            };
            let r = &self.replicas[i];
            if r.routable {
                if r.in_use >= r.capacity {
                    full = true;
                } else if best.is_none_or(|(b, _)| r.in_use < b) {
                    best = Some((r.in_use, i as u16));
                }
            }
        }
        self.saturated |= full;
        best.map(|(_, i)| i)
    }

    fn dispatch(&mut self, ctx: &mut Context<'_, Msg>) {
        while !self.queue.is_empty() {
            let Some(r) = self.pick_replica() else { break };
            let occ = self.queue.pop_front().expect("non-empty");
            self.in_flight.give();
            self.start(occ, r, ctx);
        }
    }

    fn start(&mut self, occ: Occupant, replica: u16, ctx: &mut Context<'_, Msg>) {
        let rep = &self.replicas[replica as usize];
        if !rep.up() {
            // Routed to a replica that died before the health check noticed.
            self.reject(occ, ctx);
            return;
        }
        let mut st = match &mut self.service {
            Some(s) => s.next(),
            None => 0.0,
        };
        let rng = ctx.rng();
        let mut fail = false;
        for &e in &rep.active {
            match &self.model.effects[e as usize] {
                Effect::Latency { added } => st += added.sample_secs(rng),
                Effect::ErrorCode { fraction, .. } => fail |= rng.random::<f64>() < *fraction,
                Effect::CpuThrottle { factor } => st *= factor,
                Effect::DiskError { fraction, slowdown } => {
                    if rng.random::<f64>() < *fraction {
                        fail = true;
                    } else {
                        st *= slowdown;
                    }
                }
                Effect::DiskIoStarvation { slowdown } => st *= slowdown,
                _ => {}
            }
        }
        self.replicas[replica as usize].in_use += 1;
        self.next_rr = if usize::from(replica) + 1 < self.replicas.len() {
            replica + 1
        } else {
            0
        };
        let slot = Slot {
            tag: 0,
            live: true,
            replica,
            in_service: true,
            fail,
            occupant: occ,
        };
        let ticket = self.alloc(slot);
        ctx.send_self(SimDuration::from_secs_f64(st), Msg::ServiceDone { ticket });
    }

    fn alloc(&mut self, mut slot: Slot) -> Ticket {
        self.in_flight.take();
        if let Some(i) = self.free_slots.pop() {
            slot.tag = self.slots[i as usize].tag;
            self.slots[i as usize] = slot;
            Ticket {
                slot: i,
                tag: slot.tag,
            }
        } else {
            self.slots.push(slot);
            Ticket {
                slot: (self.slots.len() - 1) as u32,
                tag: 0,
            }
        }
    }

    fn valid(&self, t: Ticket) -> bool {
        self.slots
            .get(t.slot as usize)
            .is_some_and(|s| s.live && s.tag == t.tag)
    }

    fn free(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        debug_assert!(s.live);
        s.live = false;
        s.tag = s.tag.wrapping_add(1);
        self.in_flight.give();
        let r = &mut self.replicas[s.replica as usize];
        r.in_use -= 1;
        self.free_slots.push(slot);
    }

    fn service_done(&mut self, ticket: Ticket, ctx: &mut Context<'_, Msg>) {
        if !self.valid(ticket) {
            return; // the replica died meanwhile; the occupant was answered then
        }
        let s = self.slots[ticket.slot as usize];
        match s.occupant {
            Occupant::Arrival { start, op } => {
                let keep = self.keeps_slot[op as usize] && !s.fail;
                self.admitted(
                    start,
                    op,
                    !s.fail,
                    if keep { ticket } else { Ticket::NONE },
                    ctx,
                );
                if keep {
                    self.slots[ticket.slot as usize].in_service = false;
                } else {
                    self.free(ticket.slot);
                    self.dispatch(ctx);
                }
            }
            Occupant::Serve { link, call } => {
                ctx.send(link, SimDuration::ZERO, Msg::Back { call, ok: !s.fail });
                self.free(ticket.slot);
                self.dispatch(ctx);
            }
            Occupant::Hold {
                holder,
                req,
                serial,
                hold,
            } => {
                let keep = hold && !s.fail;
                ctx.send(
                    holder,
                    SimDuration::ZERO,
                    Msg::Granted {
                        req,
                        serial,
                        ok: !s.fail,
                        ticket: if keep { ticket } else { Ticket::NONE },
                    },
                );
                if keep {
                    self.slots[ticket.slot as usize].in_service = false;
                } else {
                    self.free(ticket.slot);
                    self.dispatch(ctx);
                }
            }
        }
    }

    /// Every occupant of a dying replica fails now.
    fn kill_occupants(&mut self, replica: u16, ctx: &mut Context<'_, Msg>) {
        for i in 0..self.slots.len() {
            let s = self.slots[i];
            if !s.live || s.replica != replica {
                continue;
            }
            match s.occupant {
                Occupant::Serve { link, call } => {
                    ctx.send(link, SimDuration::ZERO, Msg::Back { call, ok: false })
                }
                Occupant::Arrival { start, op } => {
                    if s.in_service {
                        self.admitted(start, op, false, Ticket::NONE, ctx);
                    } else {
                        let (_, holder) = self.handler.expect("arrivals come with a handler");
                        let ticket = Ticket {
                            slot: i as u32,
                            tag: s.tag,
                        };
                        ctx.send(holder, SimDuration::ZERO, Msg::AbortHeld { ticket });
                    }
                }
                Occupant::Hold {
                    holder,
                    req,
                    serial,
                    ..
                } => {
                    let msg = if s.in_service {
                        Msg::Granted {
                            req,
                            serial,
                            ok: false,
                            ticket: Ticket::NONE,
                        }
                    } else {
                        Msg::Abort { req, serial }
                    };
                    ctx.send(holder, SimDuration::ZERO, msg);
                }
            }
            self.free(i as u32);
        }
    }

    fn crash(&mut self, replica: u16, ctx: &mut Context<'_, Msg>) {
        let was_up = self.replicas[replica as usize].up();
        self.replicas[replica as usize].crashes += 1;
        if !was_up {
            return;
        }
        let r = &mut self.replicas[replica as usize];
        r.epoch = r.epoch.wrapping_add(1);
        let epoch = r.epoch;
        self.kill_occupants(replica, ctx);
        if self.def.health_check == SimDuration::ZERO {
            self.set_routable(replica, false);
        } else {
            ctx.send_self(self.def.health_check, Msg::Detected { replica, epoch });
        }
        self.after_routing_change(ctx);
    }

    fn recover(&mut self, replica: u16, ctx: &mut Context<'_, Msg>) {
        let r = &mut self.replicas[replica as usize];
        debug_assert!(r.crashes > 0);
        r.crashes -= 1;
        if r.up() {
            if !r.drained {
                self.set_routable(replica, true);
            }
            self.after_routing_change(ctx);
            self.dispatch(ctx);
        }
    }

    /// Takes a replica out of rotation or puts it back. Requests it holds
    /// finish normally; new ones go to the other routable replicas.
    fn failover(&mut self, replica: u16, on: bool, ctx: &mut Context<'_, Msg>) {
        let Some(r) = self.replicas.get_mut(replica as usize) else {
            return;
        };
        r.drained = on;
        let routable = !on && r.up();
        self.set_routable(replica, routable);
        self.after_routing_change(ctx);
        if routable {
            self.dispatch(ctx);
        }
    }

    /// Re-evaluates "can serve", fails queued requests when nothing is routable.
    fn after_routing_change(&mut self, ctx: &mut Context<'_, Msg>) {
        if self.routable == 0 || self.net_down > 0 {
            while let Some(occ) = self.queue.pop_front() {
                self.in_flight.give();
                self.reject(occ, ctx);
            }
        }
        let serving = self.net_down == 0 && self.replicas.iter().any(|r| r.up());
        if serving != self.serving {
            self.serving = serving;
            self.serving_log.push((ctx.now(), serving));
        }
    }

    fn targets(&self, replica: u16, effect: &Effect) -> std::ops::Range<u16> {
        if replica != ALL_REPLICAS {
            return replica..replica + 1;
        }
        let n = self.def.replicas;
        match effect {
            Effect::Crash { replicas: Some(k) } => 0..(*k).min(n),
            _ => 0..n,
        }
    }

    fn fault(&mut self, e: usize, replica: u16, on: bool, ctx: &mut Context<'_, Msg>) {
        let effect = &self.model.effects[e];
        if effect.is_network() {
            for &l in &self.def.in_links {
                if effect.applies_to_link(l) {
                    ctx.send(
                        self.layout.link(l),
                        SimDuration::ZERO,
                        Msg::Fault {
                            effect: e as u32,
                            replica: ALL_REPLICAS,
                            on,
                        },
                    );
                }
            }
            if effect.takes_resource_down() {
                if on {
                    self.net_down += 1;
                } else {
                    self.net_down -= 1;
                }
                self.after_routing_change(ctx);
            }
            return;
        }
        for r in self.targets(replica, effect) {
            match effect {
                Effect::Crash { .. } => {
                    if on {
                        self.crash(r, ctx)
                    } else {
                        self.recover(r, ctx)
                    }
                }
                Effect::MemoryStarvation { .. } => {
                    let rep = &mut self.replicas[r as usize];
                    if on {
                        rep.active.push(e as u32);
                    } else if let Some(p) = rep.active.iter().position(|x| *x as usize == e) {
                        rep.active.swap_remove(p);
                    }
                    self.apply_memory(r, ctx);
                }
                _ => {
                    let rep = &mut self.replicas[r as usize];
                    if on {
                        rep.active.push(e as u32);
                    } else if let Some(p) = rep.active.iter().position(|x| *x as usize == e) {
                        rep.active.swap_remove(p);
                    }
                }
            }
        }
    }

    /// Recomputes a replica's capacity from its memory-starvation faults.
    fn apply_memory(&mut self, r: u16, ctx: &mut Context<'_, Msg>) {
        let model = self.model;
        let worst = self.replicas[r as usize]
            .active
            .iter()
            .filter_map(|&e| match model.effects[e as usize] {
                Effect::MemoryStarvation { percent } => Some(percent),
                _ => None,
            })
            .fold(0.0_f64, f64::max);
        let oom = worst >= 100.0;
        let conc = self.def.concurrency;
        let capacity = ((f64::from(conc) * (1.0 - worst / 100.0)).floor() as u32).clamp(1, conc);
        self.replicas[r as usize].capacity = capacity;
        let was_oom = self.replicas[r as usize].oom;
        if oom && !was_oom {
            self.replicas[r as usize].oom = true;
            self.crash(r, ctx);
        } else if !oom && was_oom {
            self.replicas[r as usize].oom = false;
            self.recover(r, ctx);
        } else {
            self.dispatch(ctx);
        }
    }
}
