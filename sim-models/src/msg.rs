//! Messages between the actors of a campaign.
//!
//! Every message is small and `Copy`: nothing is allocated per event.

use sim_core::ActorId;

/// Identifies one attempt of a call: the caller, its request slot and the
/// attempt's generation. A reply whose generation no longer matches (the
/// attempt timed out, the request ended) is stale and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRef {
    /// The handler actor that made the call.
    pub caller: ActorId,
    /// The caller's request slot.
    pub req: u32,
    /// The attempt's tag.
    pub tag: u32,
}

/// A slot held on a resource replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Slot index in the resource's ticket table.
    pub slot: u32,
    /// Generation of the slot when it was handed out.
    pub tag: u32,
}

impl Ticket {
    /// No ticket (a rejected request).
    pub const NONE: Ticket = Ticket {
        slot: u32::MAX,
        tag: 0,
    };
}

/// Where a handler request came from, and so where its answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A workload arrival: the answer is recorded, not sent.
    External,
    /// A call from another handler, answered back over `link`.
    Call {
        /// The link actor that carried the call.
        link: ActorId,
        /// The caller's attempt.
        call: CallRef,
    },
}

/// Which replicas a fault message concerns.
pub const ALL_REPLICAS: u16 = u16::MAX;

/// Every message of the domain.
///
/// The tag is a whole word (`repr(u64)`), so every payload starts 8 bytes
/// in and the message is 32 bytes: copies of it through the event queue and
/// into an actor move whole, non-overlapping 8- and 16-byte words. With a
/// one-byte tag the payload started at byte 1 (byte 4 with `repr(u32)`) and
/// was copied as two overlapping 16-byte pieces, which stalled
/// store-to-load forwarding when the copy was read back: `perf annotate` on
/// the M/M/1 benchmark showed the kernel's delivery loop falling from 38% to
/// 21% of the time with this change (see `docs/performance.md`).
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Msg {
    /// Resource: the next candidate arrival of one of the workloads of the
    /// handler running on it.
    Arrive {
        /// Index among the resource's workloads.
        workload: u16,
    },
    /// Handler: a new request for operation `op` (or [`crate::model::ANY_OP`]).
    Start {
        /// Operation index.
        op: u16,
        /// Where the request came from.
        origin: Origin,
    },
    /// Handler: the resource served the request's own part and grants (or refuses) the slot.
    Granted {
        /// Request slot.
        req: u32,
        /// Request serial, to recognise a slot reused since.
        serial: u32,
        /// Whether the request may go on.
        ok: bool,
        /// The slot held on the resource (to release at the end).
        ticket: Ticket,
    },
    /// Handler: a workload request that arrived at the resource at `start`
    /// was served its resource part (`ok`) or failed there. With a
    /// `ticket`, its slot is held for the operation's steps.
    Admitted {
        /// When the request arrived.
        start: sim_core::SimTime,
        /// The operation drawn for it.
        op: u16,
        /// Whether the request may go on.
        ok: bool,
        /// The slot held on the resource (`Ticket::NONE`: none held).
        ticket: Ticket,
    },
    /// Handler: the replica holding a workload request's slot died.
    AbortHeld {
        /// The slot.
        ticket: Ticket,
    },
    /// Handler: the replica holding the request died.
    Abort {
        /// Request slot.
        req: u32,
        /// Request serial.
        serial: u32,
    },
    /// Handler: the answer to a call attempt.
    Reply {
        /// Request slot.
        req: u32,
        /// Attempt generation.
        tag: u32,
        /// Success.
        ok: bool,
    },
    /// Handler: an attempt's timeout.
    Timeout {
        /// Request slot.
        req: u32,
        /// Attempt generation.
        tag: u32,
    },
    /// Handler: a retry's backoff elapsed.
    Backoff {
        /// Request slot.
        req: u32,
        /// Generation when the backoff started.
        tag: u32,
    },
    /// Handler: time for the next poll.
    PollTick {
        /// Request slot.
        req: u32,
        /// Generation when the tick was set.
        tag: u32,
    },
    /// Resource: a handler request wants a slot. With `hold`, the slot stays
    /// taken after the service time until [`Msg::Release`]; without (an
    /// operation with no steps), it is freed when the service time ends.
    Acquire {
        /// The handler actor.
        holder: ActorId,
        /// Its request slot.
        req: u32,
        /// Its request serial.
        serial: u32,
        /// Keep the slot after the service time.
        hold: bool,
    },
    /// Resource: serve one call with the resource's service time, answer over `link`.
    Serve {
        /// The link actor to answer through.
        link: ActorId,
        /// The caller's attempt.
        call: CallRef,
    },
    /// Resource: a held slot is free again.
    Release {
        /// The slot.
        ticket: Ticket,
    },
    /// Resource: the service time of a slot's request is over.
    ServiceDone {
        /// The slot.
        ticket: Ticket,
    },
    /// Resource or link: a fault starts (`on`) or ends.
    Fault {
        /// Effect index in the model.
        effect: u32,
        /// Replica, or [`ALL_REPLICAS`].
        replica: u16,
        /// Start or end.
        on: bool,
    },
    /// Resource: the router's health check noticed a dead replica.
    Detected {
        /// Replica.
        replica: u16,
        /// The replica's crash epoch when it died.
        epoch: u32,
    },
    /// Link: carry a call to the callee.
    Forward {
        /// The caller's attempt.
        call: CallRef,
        /// Operation of the callee's handler.
        op: u16,
        /// A poll (served by the resource itself, not its handler).
        poll: bool,
    },
    /// Link: carry an answer back to the caller.
    Back {
        /// The caller's attempt.
        call: CallRef,
        /// Success.
        ok: bool,
    },
    /// Handler: calls to a resource that the request can do without (soft
    /// dependencies, fallbacks) are skipped (`on`) or made again (live
    /// injection's graceful degradation; see [`crate::live`]).
    Degrade {
        /// The callee resource.
        resource: u32,
        /// Start or end.
        on: bool,
    },
    /// Resource: the router takes a replica out of rotation (`on`) or puts
    /// it back (live injection's automatic failover; see [`crate::live`]).
    Failover {
        /// Replica.
        replica: u16,
        /// Start or end.
        on: bool,
    },
    /// Failure process: the component fails now.
    FailNow,
    /// Failure process: the component is repaired now.
    RepairNow,
}

/// `Msg` is 32 bytes (ARCHITECTURE.md, `msg.rs`): a larger payload makes
/// every event queue entry and copy larger; this fails the build first.
const _: () = assert!(std::mem::size_of::<Msg>() <= 32);
