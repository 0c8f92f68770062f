//! The event loop: actors, messages, scheduling and timers.
//!
//! # Ordering guarantee
//!
//! Every scheduled message gets a *sequence number* from a counter that
//! increases by one per `send`/`set_timer` call within the simulation. Events
//! are delivered in order of `(time, sequence)`: earlier times first, and
//! among events for the same instant, the one scheduled first is delivered
//! first. So ties never depend on heap layout, hashing or thread timing, and
//! the same seed always gives the same trace.
//!
//! # Timers
//!
//! [`Context::set_timer`] schedules a message that can be cancelled with
//! [`Context::cancel`]. Cancellation is O(1) amortised: the event stays in the
//! queue but carries a generation number, and a cancelled timer's event is
//! dropped unseen when it reaches the front. When cancelled events make up
//! more than half of a large queue (a long timeout cancelled by every reply,
//! say), they are swept out in one pass, so they cannot slow the queue down
//! for the whole of their delay. A cancelled timer's message is never
//! delivered and not counted in [`Simulation::delivered`].
//! Actors that prefer not to cancel can also send plain messages carrying a
//! token and ignore the stale ones.

use std::cell::Cell;

use crate::rng::{CampaignSeed, SimRng};
use crate::time::{SimDuration, SimTime};

/// The address of an actor within one simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(pub u32);

impl ActorId {
    /// The index of the actor in registration order.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A participant in the simulation: owns its state, handles one message at a time.
///
/// A model usually defines one `enum` of all its actor kinds and one `enum`
/// of all its messages, so that dispatch is a `match`, not a virtual call.
pub trait Actor {
    /// The message type every actor of this simulation understands.
    type Msg;

    /// Handles one message delivered at `ctx.now()`.
    fn handle(&mut self, msg: Self::Msg, ctx: &mut Context<'_, Self::Msg>);
}

/// A handle to a cancellable timer (see [`Context::set_timer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerKey {
    slot: u32,
    generation: u32,
}

/// [`Entry::timer`] of an event that is not a timer.
const NO_TIMER: u64 = u64::MAX;

/// Bits of [`Entry::seq_dst`] that hold the destination actor.
const DST_BITS: u32 = 24;
/// Most actors a simulation can hold.
const MAX_ACTORS: usize = 1 << DST_BITS;
/// Most events a simulation can schedule (about 10^12).
const MAX_SEQ: u64 = 1 << (64 - DST_BITS);

/// Aligned to 16 bytes so that an entry (and the message in it) is copied
/// as aligned 16-byte words; 1–2% on the M/M/1 benchmark.
#[repr(C, align(16))]
struct Entry<M> {
    time: SimTime,
    /// The sequence number in the high 40 bits, the destination actor in the
    /// low 24: one word, so an entry is 48 bytes and the heap moves less.
    /// Sequence numbers are unique, so comparing this word orders by
    /// sequence; the destination bits never decide.
    seq_dst: u64,
    /// The timer's slot in the high 32 bits and its generation in the low
    /// 32, or [`NO_TIMER`]. One word: the heap's sift loops then read back
    /// what `push` wrote with one store, where two half-word stores followed
    /// by a whole-word load stall store-to-load forwarding.
    timer: u64,
    /// In a `Cell` only to hide the message's niche: `Option<Entry<M>>`
    /// then carries its own discriminant instead of borrowing the message
    /// enum's tag, and the compiler copies the message as whole words
    /// instead of tag and payload apart (which stalled store forwarding on
    /// every delivery). Never shared, never mutated in place.
    msg: Cell<M>,
}

impl<M> Entry<M> {
    #[inline(always)]
    fn seq(&self) -> u64 {
        self.seq_dst >> DST_BITS
    }

    #[inline(always)]
    fn dst(&self) -> u32 {
        (self.seq_dst & (MAX_ACTORS as u64 - 1)) as u32
    }
}

/// A binary min-heap of future events on `(time, seq)`.
///
/// The heap orders small `Copy` keys (time, sequence and destination,
/// timer, and where the message is kept); messages wait in a slab beside
/// it and are written once when sent and read once when delivered. Sifting
/// then moves 32-byte keys that were written as whole words, where moving
/// whole events would copy each message again at every level, and copy it
/// in pieces that stall store-to-load forwarding when they are read back
/// (measured with `perf annotate` on the M/M/1 benchmarks).
#[derive(Clone)]
struct EventHeap<M> {
    keys: Vec<HeapKey>,
    msgs: Vec<Option<M>>,
    free: Vec<u32>,
}

#[derive(Clone, Copy)]
struct HeapKey {
    time: SimTime,
    seq_dst: u64,
    timer: u64,
    msg: u32,
}

impl HeapKey {
    /// `(time, seq)` as one integer: comparing it orders events exactly as
    /// comparing the pair lexicographically, but compiles to a branch-free
    /// two-word compare (measurably faster in the heap's sift loops than
    /// the tuple comparison, which branches on the first field).
    #[inline(always)]
    fn key(&self) -> u128 {
        (u128::from(self.time.0) << 64) | u128::from(self.seq_dst)
    }
}

impl<M> EventHeap<M> {
    fn new() -> Self {
        EventHeap {
            keys: Vec::new(),
            msgs: Vec::new(),
            free: Vec::new(),
        }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.keys.len()
    }

    /// The time and key of the earliest event.
    #[inline(always)]
    fn peek(&self) -> Option<&HeapKey> {
        self.keys.first()
    }

    /// Puts a message in the slab; returns its slot.
    #[inline(always)]
    fn store(&mut self, msg: M) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.msgs[i as usize] = Some(msg);
                i
            }
            None => {
                self.msgs.push(Some(msg));
                (self.msgs.len() - 1) as u32
            }
        }
    }

    /// Takes the message out of slab slot `i` and frees the slot.
    #[inline(always)]
    fn take_msg(&mut self, i: u32) -> M {
        let msg = match self.msgs[i as usize].take() {
            Some(m) => m,
            None => unreachable!("a queued event's message is in the slab"),
        };
        self.free.push(i);
        msg
    }

    /// The event of a key taken off a queue, its message out of the slab.
    #[inline(always)]
    fn entry(&mut self, k: HeapKey) -> Entry<M> {
        let msg = self.take_msg(k.msg);
        Entry {
            time: k.time,
            seq_dst: k.seq_dst,
            timer: k.timer,
            msg: Cell::new(msg),
        }
    }

    /// Drops the message in slab slot `i` (a cancelled event's).
    #[inline]
    fn discard(&mut self, i: u32) {
        self.msgs[i as usize] = None;
        self.free.push(i);
    }

    #[inline(always)]
    fn push(&mut self, e: Entry<M>) {
        let msg = self.store(e.msg.into_inner());
        self.sift_up(HeapKey {
            time: e.time,
            seq_dst: e.seq_dst,
            timer: e.timer,
            msg,
        });
    }

    /// Inserts `k`, moving parents down into the hole until its place is found.
    /// Always inlined into `push`: called, it would take the key through
    /// the stack, written as three words and a half-word and read back as
    /// two 16-byte loads, which stalls store forwarding on every push.
    #[inline(always)]
    fn sift_up(&mut self, k: HeapKey) {
        let hole = self.keys.len();
        self.keys.push(k);
        self.place_up(hole, k);
    }

    /// Puts `k` in the hole at `hole` or above it, moving larger parents
    /// down into the hole until its place is found.
    #[inline(always)]
    fn place_up(&mut self, mut hole: usize, k: HeapKey) {
        let key = k.key();
        while hole > 0 {
            let parent = (hole - 1) / 2;
            if self.keys[parent].key() <= key {
                break;
            }
            self.keys[hole] = self.keys[parent];
            hole = parent;
        }
        self.keys[hole] = k;
    }

    /// Removes the earliest event. The heap must not be empty.
    #[inline(always)]
    fn pop_min(&mut self) -> Entry<M> {
        let top = self.keys[0];
        let last = self.keys.pop().expect("pop_min on an empty heap");
        if !self.keys.is_empty() {
            self.refill_root(last);
        }
        self.entry(top)
    }

    /// Fills the hole left at the root by the earliest event with `last`
    /// (the former last leaf), Floyd's way: the hole first goes down to the
    /// bottom along the smaller children, with a branch-free choice of
    /// child, then `last` moves up from there. A leaf usually belongs near
    /// the bottom, so this does about half the comparisons of sifting
    /// `last` down, and none of the unpredictable branches.
    #[inline]
    fn refill_root(&mut self, last: HeapKey) {
        let n = self.keys.len();
        let mut hole = 0;
        let mut child = 1;
        while child + 1 < n {
            child += usize::from(self.keys[child + 1].key() < self.keys[child].key());
            self.keys[hole] = self.keys[child];
            hole = child;
            child = 2 * hole + 1;
        }
        if child + 1 == n {
            self.keys[hole] = self.keys[child];
            hole = child;
        }
        self.place_up(hole, last);
    }

    /// Places `k` at `i` or below, moving smaller children up into the hole.
    #[inline]
    fn sift_down(&mut self, mut i: usize, k: HeapKey) {
        let key = k.key();
        let n = self.keys.len();
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && self.keys[right].key() < self.keys[left].key() {
                right
            } else {
                left
            };
            if key <= self.keys[child].key() {
                break;
            }
            self.keys[i] = self.keys[child];
            i = child;
        }
        self.keys[i] = k;
    }

    /// Keeps the events whose timer field passes `keep`, then restores the
    /// heap order.
    fn retain(&mut self, mut keep: impl FnMut(u64) -> bool) {
        let (msgs, free) = (&mut self.msgs, &mut self.free);
        self.keys.retain(|k| {
            let kept = keep(k.timer);
            if !kept {
                msgs[k.msg as usize] = None;
                free.push(k.msg);
            }
            kept
        });
        for i in (0..self.keys.len() / 2).rev() {
            let k = self.keys[i];
            self.sift_down(i, k);
        }
    }
}

/// The (slot, generation) of a timer packed by [`Core::push`].
#[inline(always)]
fn split_timer(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// The events due now, in sending order: their keys, with the messages in
/// the heap's slab. A vector read from `head`, emptied whenever it is read
/// to the end (the clock advances only when it is empty), so it never
/// grows past the events of one instant. Pushing is inlined and writes the
/// key in place; a `VecDeque` of whole events was 8% of a checkout run,
/// most of it one stalled load of an event its caller had just written to
/// the stack.
#[derive(Clone)]
struct Fifo {
    keys: Vec<HeapKey>,
    head: usize,
}

impl Fifo {
    #[inline(always)]
    fn push(&mut self, k: HeapKey) {
        self.keys.push(k);
    }

    #[inline(always)]
    fn front(&self) -> Option<&HeapKey> {
        self.keys.get(self.head)
    }

    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.head == self.keys.len()
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.keys.len() - self.head
    }

    /// Keeps the events for which `keep` is true, in order.
    fn retain(&mut self, keep: impl FnMut(&HeapKey) -> bool) {
        self.keys.drain(..self.head);
        self.head = 0;
        self.keys.retain(keep);
    }

    #[inline(always)]
    fn pop_front(&mut self) -> Option<HeapKey> {
        let k = *self.keys.get(self.head)?;
        self.head += 1;
        if self.head == self.keys.len() {
            self.keys.clear();
            self.head = 0;
        }
        Some(k)
    }
}

/// A time's bucket in the [`Wheel`] is its nanoseconds shifted right by
/// this: a bucket spans 2^24 ns, about 16.8 ms.
const BUCKET_SHIFT: u32 = 24;
/// Buckets in the [`Wheel`]: it holds events up to 4,096 buckets (about
/// 68.7 s) past its first one. A power of two, a multiple of 64.
const WHEEL_SLOTS: u64 = 4096;

/// The wheel takes events only while the heap holds at least this many: a
/// shallow heap is cheaper than the wheel's bookkeeping (an M/M/1 queue
/// keeps two or three events queued), and any event may go to the heap
/// without changing the order (see [`Wheel`]).
const WHEEL_MIN_HEAP: usize = 8;

/// Events due later than the current bucket, kept out of the heap until
/// their bucket comes up.
///
/// A model with timeouts keeps thousands of timers queued that are almost
/// all cancelled long before they are due (a 60 s poll timeout cancelled
/// after 3 s, 140 times a second), and events scheduled seconds ahead
/// (retries, poll intervals). In one heap they made every push and pop
/// sift through 14 levels, most of them cache misses. Here they wait in
/// unsorted per-bucket lists (O(1) to add); when the heap's earliest event
/// is no earlier than the wheel's first bucket, that bucket's live events
/// move into the heap and its cancelled ones are dropped unseen.
///
/// **Order is unchanged.** Every queued event earlier than the start of
/// bucket `base` is in the heap (or the FIFO); the wheel holds only events
/// of buckets `base..base + WHEEL_SLOTS`. The heap's top is delivered only
/// when it is earlier than the start of `base` or of the first occupied
/// bucket, so it is the earliest queued event, and events keep their
/// `(time, seq)` keys: deliveries are exactly those of a single heap.
///
/// **Memory** is that of the events it holds: the lists are linked
/// through one arena of nodes whose freed nodes are reused, so the arena
/// grows to the most events the wheel ever held at once, as the heap does.
#[derive(Clone)]
struct Wheel {
    /// The first node of each slot's list; slot `b % WHEEL_SLOTS` holds the
    /// events of absolute bucket `b`. Empty until the first event arrives
    /// (small simulations never pay for it).
    heads: Vec<u32>,
    nodes: Vec<WheelNode>,
    /// The first free node, or [`NIL`].
    free: u32,
    /// One bit per slot: whether it holds events.
    occupied: Vec<u64>,
    /// The first bucket whose events may be in the wheel.
    base: u64,
    /// Events in the wheel, cancelled ones included.
    len: usize,
}

/// An event in a [`Wheel`] slot's list (or a free node): a [`HeapKey`]'s
/// fields with the link in what is the key's padding, so a node takes no
/// more memory than a key.
#[derive(Clone, Copy)]
struct WheelNode {
    time: SimTime,
    seq_dst: u64,
    timer: u64,
    msg: u32,
    next: u32,
}

impl WheelNode {
    #[inline(always)]
    fn new(k: HeapKey, next: u32) -> Self {
        WheelNode {
            time: k.time,
            seq_dst: k.seq_dst,
            timer: k.timer,
            msg: k.msg,
            next,
        }
    }

    #[inline(always)]
    fn key(&self) -> HeapKey {
        HeapKey {
            time: self.time,
            seq_dst: self.seq_dst,
            timer: self.timer,
            msg: self.msg,
        }
    }
}

const _: () = assert!(std::mem::size_of::<WheelNode>() == std::mem::size_of::<HeapKey>());

/// The end of a [`Wheel`] list.
const NIL: u32 = u32::MAX;

impl Wheel {
    fn new() -> Self {
        Wheel {
            heads: Vec::new(),
            nodes: Vec::new(),
            free: NIL,
            occupied: Vec::new(),
            base: 0,
            len: 0,
        }
    }

    /// Whether an event due at `time` belongs in the wheel.
    #[inline(always)]
    fn takes(&self, time: SimTime) -> bool {
        (time.0 >> BUCKET_SHIFT).wrapping_sub(self.base) < WHEEL_SLOTS
    }

    /// The time at which bucket `b` starts.
    #[inline(always)]
    fn start(b: u64) -> u64 {
        if b >> (64 - BUCKET_SHIFT) != 0 {
            u64::MAX
        } else {
            b << BUCKET_SHIFT
        }
    }

    #[inline(always)]
    fn insert(&mut self, key: HeapKey) {
        if self.heads.is_empty() {
            self.heads = vec![NIL; WHEEL_SLOTS as usize];
            self.occupied = vec![0; (WHEEL_SLOTS / 64) as usize];
        }
        let slot = ((key.time.0 >> BUCKET_SHIFT) % WHEEL_SLOTS) as usize;
        let next = self.heads[slot];
        let node = if self.free != NIL {
            let i = self.free;
            let n = &mut self.nodes[i as usize];
            self.free = n.next;
            *n = WheelNode::new(key, next);
            i
        } else {
            self.nodes.push(WheelNode::new(key, next));
            (self.nodes.len() - 1) as u32
        };
        self.heads[slot] = node;
        self.occupied[slot / 64] |= 1 << (slot % 64);
        self.len += 1;
    }

    /// Empties `slot`, passing each of its events to `f`.
    fn drain_slot(&mut self, slot: usize, mut f: impl FnMut(HeapKey)) {
        let mut i = std::mem::replace(&mut self.heads[slot], NIL);
        while i != NIL {
            let n = &mut self.nodes[i as usize];
            let (key, next) = (n.key(), n.next);
            n.next = self.free;
            self.free = i;
            self.len -= 1;
            f(key);
            i = next;
        }
        self.occupied[slot / 64] &= !(1 << (slot % 64));
    }

    /// Drops the events for which `keep` is false. Visits occupied slots
    /// only: the kernel sweeps often when few events are queued.
    fn retain(&mut self, mut keep: impl FnMut(&HeapKey) -> bool) {
        if self.len == 0 {
            return;
        }
        for w in 0..self.occupied.len() {
            let mut bits = self.occupied[w];
            while bits != 0 {
                let slot = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (mut i, mut kept) = (self.heads[slot], NIL);
                while i != NIL {
                    let n = &mut self.nodes[i as usize];
                    let next = n.next;
                    if keep(&n.key()) {
                        n.next = kept;
                        kept = i;
                    } else {
                        n.next = self.free;
                        self.free = i;
                        self.len -= 1;
                    }
                    i = next;
                }
                self.heads[slot] = kept;
                if kept == NIL {
                    self.occupied[w] &= !(1 << (slot % 64));
                }
            }
        }
    }

    /// The first occupied bucket (absolute). The wheel must not be empty.
    fn first_occupied(&self) -> u64 {
        let words = self.occupied.len();
        let from = (self.base % WHEEL_SLOTS) as usize;
        let (w0, bit0) = (from / 64, from % 64);
        // The first word from `from`'s bit, then whole words round the
        // circle (the first word again last, for its low bits).
        let first = self.occupied[w0] & (u64::MAX << bit0);
        let found = if first != 0 {
            w0 * 64 + first.trailing_zeros() as usize
        } else {
            (1..=words)
                .map(|i| (w0 + i) % words)
                .find(|&w| self.occupied[w] != 0)
                .map(|w| w * 64 + self.occupied[w].trailing_zeros() as usize)
                .expect("first_occupied on an empty wheel")
        };
        self.base + (found as u64 + WHEEL_SLOTS - from as u64) % WHEEL_SLOTS
    }
}

#[derive(Default, Clone)]
struct Timers {
    generations: Vec<u32>,
    free: Vec<u32>,
}

impl Timers {
    fn arm(&mut self) -> TimerKey {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.generations.push(0);
                (self.generations.len() - 1) as u32
            }
        };
        TimerKey {
            slot,
            generation: self.generations[slot as usize],
        }
    }

    /// Whether the timer is still live (neither delivered nor cancelled).
    #[inline]
    fn is_live(&self, slot: u32, generation: u32) -> bool {
        self.generations[slot as usize] == generation
    }

    /// Whether a queued event with timer word `word` ([`Entry::timer`]) is
    /// still to be delivered: not a timer, or a live one.
    #[inline]
    fn queued_live(&self, word: u64) -> bool {
        word == NO_TIMER || {
            let (slot, generation) = split_timer(word);
            self.is_live(slot, generation)
        }
    }

    /// Retires the timer if it is still live; returns whether it was.
    #[inline]
    fn retire(&mut self, slot: u32, generation: u32) -> bool {
        let g = &mut self.generations[slot as usize];
        if *g == generation {
            *g = g.wrapping_add(1);
            self.free.push(slot);
            true
        } else {
            false
        }
    }
}

/// The queue that holds the next event (see [`Core::next_due`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Fifo,
    Heap,
    Nothing,
}

/// The scheduling state shared by all actors of one simulation.
///
/// Events live in two queues: a binary heap for events in the future, and a
/// FIFO for events due *now* (sent with zero delay, the commonest case:
/// hand-offs between actors). Every FIFO entry has `time == now` and a
/// sequence number larger than the one before it, so the FIFO is sorted by
/// `(time, seq)` by construction, and taking the smaller front of the two
/// queues delivers exactly the `(time, seq)` order a single heap would, at
/// O(1) instead of O(log n) for zero-delay events.
#[derive(Clone)]
struct Core<M> {
    heap: EventHeap<M>,
    wheel: Wheel,
    now_fifo: Fifo,
    /// The time of the event being delivered (the simulation clock).
    now: SimTime,
    seq: u64,
    timers: Timers,
    /// Cancelled timers whose events are still queued (heap, wheel or FIFO).
    cancelled_in_heap: usize,
    stop: bool,
    /// Messages actors reported they could not handle ([`Context::unhandled`]).
    unhandled: u64,
}

/// Cancelled events are swept out of the queue once there are at least this
/// many of them and they make up at least half the queue. Each sweep costs
/// O(queue length) and at least halves the queue, so the cost per cancel
/// stays O(1) amortised.
const SWEEP_MIN_CANCELLED: usize = 256;

impl<M> Core<M> {
    /// Cancels a live timer; returns `false` if it already fired or was cancelled.
    #[inline]
    fn cancel(&mut self, key: TimerKey) -> bool {
        if !self.timers.retire(key.slot, key.generation) {
            return false;
        }
        self.cancelled_in_heap += 1;
        if self.cancelled_in_heap >= SWEEP_MIN_CANCELLED && 2 * self.cancelled_in_heap >= self.len()
        {
            self.sweep_cancelled();
        }
        true
    }

    /// Drops every cancelled timer's event from the queue. Delivery order is
    /// unaffected: it depends only on the `(time, seq)` keys, which are unique.
    #[cold]
    fn sweep_cancelled(&mut self) {
        let timers = &self.timers;
        let before = self.len();
        let live = |timer: u64| timers.queued_live(timer);
        self.heap.retain(live);
        let heap = &mut self.heap;
        let mut keep = |k: &HeapKey| {
            let kept = live(k.timer);
            if !kept {
                heap.discard(k.msg);
            }
            kept
        };
        self.wheel.retain(&mut keep);
        self.now_fifo.retain(keep);
        debug_assert_eq!(before - self.len(), self.cancelled_in_heap);
        self.cancelled_in_heap = 0;
    }

    /// Events queued, including cancelled timers not yet dropped.
    #[inline]
    fn len(&self) -> usize {
        self.heap.len() + self.wheel.len + self.now_fifo.len()
    }

    /// Moves events from the wheel into the heap until the heap's top is
    /// the earliest queued event (see [`Wheel`]). Cheap when the heap's top
    /// is earlier than the wheel's first bucket, the common case.
    #[inline(always)]
    fn settle(&mut self) {
        if self.wheel.len == 0 {
            return;
        }
        let start = Wheel::start(self.wheel.base);
        if self.heap.peek().is_some_and(|k| k.time.0 < start) {
            return;
        }
        self.settle_slow();
    }

    #[inline(never)]
    fn settle_slow(&mut self) {
        while self.wheel.len > 0 {
            let top = self.heap.peek().map(|k| k.time.0);
            if top.is_some_and(|t| t < Wheel::start(self.wheel.base)) {
                return;
            }
            let b = self.wheel.first_occupied();
            if let Some(t) = top
                && t < Wheel::start(b)
            {
                // Buckets before `b` are empty: the heap's top is the
                // earliest event, and the wheel may start at its bucket.
                self.wheel.base = t >> BUCKET_SHIFT;
                return;
            }
            let (heap, timers, cancelled) =
                (&mut self.heap, &self.timers, &mut self.cancelled_in_heap);
            self.wheel.drain_slot((b % WHEEL_SLOTS) as usize, |k| {
                if timers.queued_live(k.timer) {
                    heap.sift_up(k);
                } else {
                    heap.discard(k.msg);
                    *cancelled -= 1;
                }
            });
            self.wheel.base = b + 1;
        }
    }

    /// Which queue holds the next event, if it is due at or before `end`.
    ///
    /// Every FIFO event is due now, and a heap event due now was scheduled
    /// before any of them (it went to the heap because the clock was
    /// earlier when it was sent), so comparing times is enough: the heap's
    /// top goes first only when it is due now.
    #[inline(always)]
    fn next_due(&self, end: SimTime) -> Due {
        match self.heap.peek() {
            Some(h) if h.time <= self.now => {
                debug_assert!(self.now_fifo.front().is_none_or(|f| h.key() < f.key()));
                Due::Heap
            }
            h => {
                if !self.now_fifo.is_empty() {
                    debug_assert!(self.now_fifo.front().is_some_and(|f| f.time == self.now));
                    Due::Fifo
                } else if h.is_some_and(|h| h.time <= end) {
                    Due::Heap
                } else {
                    Due::Nothing
                }
            }
        }
    }

    /// Removes the next event from the queue `next_due` named.
    #[inline(always)]
    fn take(&mut self, from: Due) -> Entry<M> {
        match from {
            Due::Fifo => {
                let k = match self.now_fifo.pop_front() {
                    Some(k) => k,
                    None => unreachable!("next_due names a non-empty queue"),
                };
                self.heap.entry(k)
            }
            _ => self.heap.pop_min(),
        }
    }

    /// Queues an event. Always inlined, so that the sender builds the
    /// message in place in the queue rather than on its stack: a message
    /// written field by field and read back whole stalls store forwarding.
    #[inline(always)]
    fn push(&mut self, time: SimTime, dst: ActorId, timer: Option<TimerKey>, msg: M) {
        let timer = match timer {
            Some(k) => (u64::from(k.slot) << 32) | u64::from(k.generation),
            None => NO_TIMER,
        };
        assert!(
            self.seq < MAX_SEQ,
            "more than 2^40 events scheduled in one simulation"
        );
        let e = Entry {
            time,
            seq_dst: (self.seq << DST_BITS) | u64::from(dst.0),
            timer,
            msg: Cell::new(msg),
        };
        if time == self.now {
            let msg = self.heap.store(e.msg.into_inner());
            self.now_fifo.push(HeapKey {
                time,
                seq_dst: e.seq_dst,
                timer,
                msg,
            });
        } else {
            debug_assert!(time > self.now, "event scheduled in the past");
            if self.heap.len() >= WHEEL_MIN_HEAP && self.wheel.takes(time) {
                let msg = self.heap.store(e.msg.into_inner());
                self.wheel.insert(HeapKey {
                    time,
                    seq_dst: e.seq_dst,
                    timer,
                    msg,
                });
            } else {
                self.heap.push(e);
            }
        }
        self.seq += 1;
    }
}

/// What an actor can do while it handles a message.
pub struct Context<'a, M> {
    now: SimTime,
    me: ActorId,
    rng: &'a mut SimRng,
    core: &'a mut Core<M>,
}

impl<M> Context<'_, M> {
    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The address of the actor handling the message.
    #[inline]
    pub fn me(&self) -> ActorId {
        self.me
    }

    /// This actor's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Delivers `msg` to `to` at `now + delay`.
    #[inline]
    pub fn send(&mut self, to: ActorId, delay: SimDuration, msg: M) {
        let at = self.now + delay;
        self.core.push(at, to, None, msg);
    }

    /// Delivers `msg` to this actor at `now + delay`.
    #[inline]
    pub fn send_self(&mut self, delay: SimDuration, msg: M) {
        let me = self.me;
        self.send(me, delay, msg);
    }

    /// Delivers `msg` to this actor at `now + delay` unless cancelled first.
    #[inline]
    pub fn set_timer(&mut self, delay: SimDuration, msg: M) -> TimerKey {
        let key = self.core.timers.arm();
        let at = self.now + delay;
        let me = self.me;
        self.core.push(at, me, Some(key), msg);
        key
    }

    /// Cancels a timer. Returns `false` if it already fired or was cancelled.
    #[inline]
    pub fn cancel(&mut self, key: TimerKey) -> bool {
        self.core.cancel(key)
    }

    /// Stops the simulation after this message.
    pub fn stop(&mut self) {
        self.core.stop = true;
    }

    /// Reports that the message being handled is not one this actor
    /// handles: a message sent to the wrong actor, a bug of the model. The
    /// kernel counts it ([`Simulation::unhandled`]) so that the program
    /// running the simulation can refuse its figures, rather than the
    /// message vanishing unnoticed. Call it from an actor's catch-all match
    /// arm; a well-routed message costs nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use sim_core::{Actor, CampaignSeed, Context, SimTime, Simulation};
    ///
    /// enum Msg { Ping, Pong }
    /// struct Pinger { pings: u32 }
    ///
    /// impl Actor for Pinger {
    ///     type Msg = Msg;
    ///     fn handle(&mut self, msg: Msg, ctx: &mut Context<'_, Msg>) {
    ///         match msg {
    ///             Msg::Ping => self.pings += 1,
    ///             _ => ctx.unhandled(),
    ///         }
    ///     }
    /// }
    ///
    /// let mut sim = Simulation::new(CampaignSeed::derive(1, 0, 0));
    /// let a = sim.add_actor(Pinger { pings: 0 }, 0);
    /// sim.schedule(SimTime::ZERO, a, Msg::Ping);
    /// sim.schedule(SimTime::ZERO, a, Msg::Pong);
    /// sim.run();
    /// assert_eq!(sim.actor(a).pings, 1);
    /// assert_eq!(sim.unhandled(), 1);
    /// ```
    #[cold]
    #[inline(never)]
    pub fn unhandled(&mut self) {
        self.core.unhandled += 1;
    }
}

/// Why [`Simulation::run_until`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The next event lies beyond the end time (or none is left); the clock is at the end time.
    ReachedTime,
    /// No event is left to deliver.
    Drained,
    /// An actor called [`Context::stop`].
    Stopped,
    /// The event limit was reached (see [`Simulation::set_event_limit`]).
    EventLimit,
}

/// One delivered event, as recorded when tracing is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEntry {
    /// Delivery time.
    pub time: SimTime,
    /// Sequence number given when the event was scheduled.
    pub seq: u64,
    /// Receiving actor.
    pub dst: ActorId,
}

/// One campaign's event loop: a set of actors and the queue of pending messages.
///
/// Single-threaded and deterministic: the same actors, seed and initial
/// messages always give the same sequence of deliveries.
///
/// # Examples
///
/// ```
/// use sim_core::{Actor, ActorId, CampaignSeed, Context, SimDuration, Simulation, SimTime, RunOutcome};
///
/// /// Passes a token to the next actor of a ring after 1 ms.
/// struct Node { next: ActorId, seen: u32 }
/// impl Actor for Node {
///     type Msg = u32;
///     fn handle(&mut self, hops: u32, ctx: &mut Context<'_, u32>) {
///         self.seen += 1;
///         ctx.send(self.next, SimDuration::from_millis(1), hops + 1);
///     }
/// }
///
/// let mut sim = Simulation::new(CampaignSeed::derive(1, 0, 0));
/// let a = sim.add_actor(Node { next: ActorId(1), seen: 0 }, 1);
/// let _b = sim.add_actor(Node { next: ActorId(0), seen: 0 }, 2);
/// sim.schedule(SimTime::ZERO, a, 0);
/// let out = sim.run_until(SimTime::from_secs_f64(0.0095));
/// assert_eq!(out, RunOutcome::ReachedTime);
/// assert_eq!(sim.delivered(), 10); // t = 0, 1, ..., 9 ms
/// assert_eq!(sim.actor(a).seen, 5);
/// ```
pub struct Simulation<A: Actor> {
    actors: Vec<A>,
    rngs: Vec<SimRng>,
    core: Core<A::Msg>,
    now: SimTime,
    delivered: u64,
    event_limit: u64,
    seed: CampaignSeed,
    trace: Option<Vec<TraceEntry>>,
}

/// A copy of the whole simulation at its current time: actors, their
/// random streams, the queued events (cancelled timers included) and the
/// counters. Run on, the copy delivers exactly the events the original
/// would, in the same order with the same draws, until one of them is
/// changed: so one simulation can be run to a point shared by several
/// futures and each future taken from a copy (`fork`).
impl<A> Clone for Simulation<A>
where
    A: Actor + Clone,
    A::Msg: Clone,
{
    fn clone(&self) -> Self {
        Simulation {
            actors: self.actors.clone(),
            rngs: self.rngs.clone(),
            core: self.core.clone(),
            now: self.now,
            delivered: self.delivered,
            event_limit: self.event_limit,
            seed: self.seed,
            trace: self.trace.clone(),
        }
    }
}

impl<A: Actor> Simulation<A> {
    /// An empty simulation whose actors draw from streams of `seed`.
    pub fn new(seed: CampaignSeed) -> Self {
        Simulation {
            actors: Vec::new(),
            rngs: Vec::new(),
            core: Core {
                heap: EventHeap::new(),
                wheel: Wheel::new(),
                now_fifo: Fifo {
                    keys: Vec::new(),
                    head: 0,
                },
                now: SimTime::ZERO,
                seq: 0,
                timers: Timers::default(),
                cancelled_in_heap: 0,
                stop: false,
                unhandled: 0,
            },
            now: SimTime::ZERO,
            delivered: 0,
            event_limit: u64::MAX,
            seed,
            trace: None,
        }
    }

    /// Registers an actor. `stream_key` selects its random stream (use
    /// [`crate::stream_key`] of a stable name); keys should be unique.
    pub fn add_actor(&mut self, actor: A, stream_key: u64) -> ActorId {
        assert!(
            self.actors.len() < MAX_ACTORS,
            "a simulation holds at most 2^24 actors"
        );
        let id = ActorId(self.actors.len() as u32);
        self.actors.push(actor);
        self.rngs.push(self.seed.stream(stream_key));
        id
    }

    /// Delivers `msg` to `to` at the absolute time `at` (clamped to now).
    pub fn schedule(&mut self, at: SimTime, to: ActorId, msg: A::Msg) {
        let at = at.max(self.now);
        self.core.push(at, to, None, msg);
    }

    /// Runs `f` on an actor with a context at the current time, e.g. to let
    /// it schedule its first events.
    pub fn with_context<R>(
        &mut self,
        id: ActorId,
        f: impl FnOnce(&mut A, &mut Context<'_, A::Msg>) -> R,
    ) -> R {
        let i = id.index();
        let mut ctx = Context {
            now: self.now,
            me: id,
            rng: &mut self.rngs[i],
            core: &mut self.core,
        };
        f(&mut self.actors[i], &mut ctx)
    }

    /// Bounds the total number of deliveries of this simulation (a guard
    /// against runaway models): once [`Simulation::delivered`] reaches
    /// `limit`, every run returns [`RunOutcome::EventLimit`] without
    /// delivering anything more.
    pub fn set_event_limit(&mut self, limit: u64) {
        self.event_limit = limit;
    }

    /// Records every delivery from now on (for tests and debugging).
    pub fn enable_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    /// The recorded deliveries, if tracing is on.
    pub fn trace(&self) -> Option<&[TraceEntry]> {
        self.trace.as_deref()
    }

    /// Delivers events in `(time, sequence)` order until the next one lies
    /// after `end`, then sets the clock to `end`.
    pub fn run_until(&mut self, end: SimTime) -> RunOutcome {
        self.run_to(end, false)
    }

    /// Delivers events until none is left (or an actor stops the run).
    pub fn run(&mut self) -> RunOutcome {
        self.run_to(SimTime::MAX, true)
    }

    /// The delivery loop: events due by `end` in `(time, seq)` order; when
    /// none is left, returns `Drained` if `drain`, else moves the clock to
    /// `end` and returns `ReachedTime`.
    fn run_to(&mut self, end: SimTime, drain: bool) -> RunOutcome {
        self.core.stop = false;
        loop {
            self.core.settle();
            let due = self.core.next_due(end);
            if due == Due::Nothing {
                // Nothing due by `end`, so the FIFO of events due now is empty.
                debug_assert!(self.core.now_fifo.is_empty());
                if drain {
                    return RunOutcome::Drained;
                }
                self.now = self.now.max(end);
                self.core.now = self.now;
                return RunOutcome::ReachedTime;
            }
            if self.delivered >= self.event_limit {
                return RunOutcome::EventLimit;
            }
            let e = self.core.take(due);
            if e.timer != NO_TIMER && {
                let (slot, generation) = split_timer(e.timer);
                !self.core.timers.retire(slot, generation)
            } {
                // A cancelled timer: each timer has one event, and only
                // `cancel` or this delivery retire it, so it is one of the
                // counted ones.
                debug_assert!(self.core.cancelled_in_heap > 0);
                self.core.cancelled_in_heap -= 1;
                continue;
            }
            debug_assert!(e.time >= self.now, "event scheduled in the past");
            self.now = e.time;
            self.core.now = e.time;
            self.delivered += 1;
            if let Some(t) = &mut self.trace {
                t.push(TraceEntry {
                    time: e.time,
                    seq: e.seq(),
                    dst: ActorId(e.dst()),
                });
            }
            let i = e.dst() as usize;
            let mut ctx = Context {
                now: e.time,
                me: ActorId(e.dst()),
                rng: &mut self.rngs[i],
                core: &mut self.core,
            };
            self.actors[i].handle(e.msg.into_inner(), &mut ctx);
            if self.core.stop {
                return RunOutcome::Stopped;
            }
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The most bytes one queued event takes, growth of the queue's
    /// vectors not included: wherever it waits (the heap, a time bucket or
    /// the FIFO of events due now), its key, its message's slot in the slab
    /// and a free-list index. Used by memory bounds (`docs/limits.md`).
    pub fn bytes_per_event() -> u64 {
        (std::mem::size_of::<HeapKey>()
            + std::mem::size_of::<Option<A::Msg>>()
            + std::mem::size_of::<u32>()) as u64
    }

    /// Bytes the event queue holds whatever the events: the time buckets'
    /// list heads and occupancy bits (16.5 KiB once the first event goes to
    /// a bucket). Used by memory bounds (`docs/limits.md`).
    pub fn queue_fixed_bytes() -> u64 {
        WHEEL_SLOTS * std::mem::size_of::<u32>() as u64 + WHEEL_SLOTS / 8
    }

    /// How many messages have been delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// How many delivered messages their actor reported it could not handle
    /// ([`Context::unhandled`]). Nonzero means the model sent a message to
    /// the wrong actor: its figures are not to be trusted.
    pub fn unhandled(&self) -> u64 {
        self.core.unhandled
    }

    /// How many events are queued (including cancelled timers not yet dropped).
    pub fn pending(&self) -> usize {
        self.core.len()
    }

    /// The actor at `id`.
    pub fn actor(&self, id: ActorId) -> &A {
        &self.actors[id.index()]
    }

    /// The actor at `id`, mutably.
    pub fn actor_mut(&mut self, id: ActorId) -> &mut A {
        &mut self.actors[id.index()]
    }

    /// All actors, in registration order.
    pub fn actors(&self) -> &[A] {
        &self.actors
    }

    /// All actors, mutably, in registration order.
    pub fn actors_mut(&mut self) -> &mut [A] {
        &mut self.actors
    }

    /// Consumes the simulation and returns its actors.
    pub fn into_actors(self) -> Vec<A> {
        self.actors
    }

    /// The campaign seed this simulation was built with.
    pub fn seed(&self) -> CampaignSeed {
        self.seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder {
        got: Vec<(SimTime, u32)>,
        timer: Option<TimerKey>,
    }

    enum M {
        Tag(u32),
        Arm(u64, u32),
        CancelLast,
    }

    impl Actor for Recorder {
        type Msg = M;
        fn handle(&mut self, msg: M, ctx: &mut Context<'_, M>) {
            match msg {
                M::Tag(t) => self.got.push((ctx.now(), t)),
                M::Arm(ms, tag) => {
                    self.timer = Some(ctx.set_timer(SimDuration::from_millis(ms), M::Tag(tag)))
                }
                M::CancelLast => {
                    let k = self.timer.take().expect("armed");
                    assert!(ctx.cancel(k));
                    assert!(!ctx.cancel(k), "second cancel is a no-op");
                }
            }
        }
    }

    fn recorder() -> Recorder {
        Recorder {
            got: vec![],
            timer: None,
        }
    }

    #[test]
    fn far_events_wait_in_the_wheel_and_keep_their_order() {
        // 10,000 timers from 20 ms to 60 s ahead, most cancelled, as a
        // model's call and poll timeouts are: the heap stays shallow and
        // the live ones arrive in (time, seq) order.
        let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
        let a = sim.add_actor(recorder(), 0);
        let mut live = Vec::new();
        sim.with_context(a, |_, ctx| {
            for i in 0..10_000u32 {
                let delay = SimDuration::from_millis(20 + u64::from(i * 7919 % 60_000));
                let k = ctx.set_timer(delay, M::Tag(i));
                if i % 10 == 0 {
                    live.push((delay, i));
                } else {
                    assert!(ctx.cancel(k));
                }
            }
        });
        // Sweeps drop cancelled timers from the wheel as from the heap.
        assert!(sim.pending() < 2_000, "{}", sim.pending());
        assert!(
            sim.core.heap.len() <= WHEEL_MIN_HEAP,
            "{}",
            sim.core.heap.len()
        );
        assert_eq!(sim.core.heap.len() + sim.core.wheel.len, sim.pending());
        let mut most_in_heap = 0;
        while sim.run_until(sim.now() + SimDuration::from_millis(100)) != RunOutcome::Drained
            && sim.pending() > 0
        {
            most_in_heap = most_in_heap.max(sim.core.heap.len());
        }
        sim.run();
        assert!(most_in_heap < 200, "{most_in_heap}");
        live.sort();
        let got: Vec<u32> = sim.actor(a).got.iter().map(|x| x.1).collect();
        assert_eq!(got, live.iter().map(|x| x.1).collect::<Vec<_>>());
        assert_eq!(sim.delivered(), 1_000);
        assert_eq!(sim.pending(), 0);
        assert_eq!(sim.core.cancelled_in_heap, 0);
    }

    #[test]
    fn ties_follow_scheduling_order() {
        let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
        let a = sim.add_actor(recorder(), 0);
        for t in [5u32, 1, 4, 2, 3] {
            sim.schedule(SimTime(100), a, M::Tag(t));
        }
        sim.schedule(SimTime(50), a, M::Tag(0));
        assert_eq!(sim.run(), RunOutcome::Drained);
        let tags: Vec<u32> = sim.actor(a).got.iter().map(|x| x.1).collect();
        assert_eq!(tags, vec![0, 5, 1, 4, 2, 3]);
    }

    #[test]
    fn cancelled_timer_is_never_delivered() {
        let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
        let a = sim.add_actor(recorder(), 0);
        sim.schedule(SimTime::ZERO, a, M::Arm(10, 1));
        sim.schedule(SimTime::from_secs_f64(0.005), a, M::CancelLast);
        sim.schedule(SimTime::from_secs_f64(0.006), a, M::Arm(10, 2));
        sim.run();
        assert_eq!(sim.actor(a).got, vec![(SimTime::from_secs_f64(0.016), 2)]);
        // Arm, CancelLast, Arm, and the one live timer.
        assert_eq!(sim.delivered(), 4);
    }

    #[test]
    fn cancelled_timers_do_not_pile_up_in_the_queue() {
        // A long timeout armed and cancelled 10,000 times, next to 10 live timers.
        let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
        let a = sim.add_actor(recorder(), 0);
        sim.with_context(a, |_, ctx| {
            for i in 0..10 {
                ctx.set_timer(SimDuration::from_secs(100), M::Tag(i));
            }
            for _ in 0..10_000 {
                let k = ctx.set_timer(SimDuration::from_secs(30), M::Tag(99));
                assert!(ctx.cancel(k));
            }
        });
        assert!(
            sim.pending() < 2 * SWEEP_MIN_CANCELLED + 10,
            "{}",
            sim.pending()
        );
        assert_eq!(sim.core.cancelled_in_heap + 10, sim.pending());
        sim.run();
        let tags: Vec<u32> = sim.actor(a).got.iter().map(|x| x.1).collect();
        assert_eq!(tags, (0..10).collect::<Vec<_>>());
        assert_eq!(sim.delivered(), 10);
        assert_eq!(sim.core.cancelled_in_heap, 0);
    }

    #[test]
    fn run_until_stops_at_the_boundary_and_resumes() {
        let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
        let a = sim.add_actor(recorder(), 0);
        sim.schedule(SimTime(10), a, M::Tag(1));
        sim.schedule(SimTime(20), a, M::Tag(2));
        assert_eq!(sim.run_until(SimTime(10)), RunOutcome::ReachedTime);
        assert_eq!(sim.now(), SimTime(10));
        assert_eq!(sim.actor(a).got.len(), 1);
        assert_eq!(sim.run_until(SimTime(100)), RunOutcome::ReachedTime);
        assert_eq!(sim.now(), SimTime(100));
        assert_eq!(sim.actor(a).got.len(), 2);
    }

    #[test]
    fn unhandled_messages_are_counted_and_well_routed_ones_are_not() {
        // Tag is the only message this actor takes as data; anything else
        // sent to it at the wrong time is reported by the actor.
        struct Picky {
            tags: u32,
        }
        impl Actor for Picky {
            type Msg = M;
            fn handle(&mut self, msg: M, ctx: &mut Context<'_, M>) {
                match msg {
                    M::Tag(_) => self.tags += 1,
                    _ => ctx.unhandled(),
                }
            }
        }
        let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
        let a = sim.add_actor(Picky { tags: 0 }, 0);
        for t in 0..5 {
            sim.schedule(SimTime(t), a, M::Tag(t as u32));
        }
        sim.run_until(SimTime(10));
        assert_eq!(sim.unhandled(), 0, "well-routed messages are not counted");
        sim.schedule(SimTime(20), a, M::CancelLast);
        sim.schedule(SimTime(30), a, M::Tag(9));
        sim.schedule(SimTime(40), a, M::Arm(1, 1));
        sim.run();
        assert_eq!(sim.actor(a).tags, 6);
        assert_eq!(sim.unhandled(), 2);
        // Also from a context outside delivery.
        sim.with_context(a, |_, ctx| ctx.unhandled());
        assert_eq!(sim.unhandled(), 3);
    }

    #[test]
    fn event_limit_bounds_a_runaway_model() {
        struct Loop;
        impl Actor for Loop {
            type Msg = ();
            fn handle(&mut self, _: (), ctx: &mut Context<'_, ()>) {
                ctx.send_self(SimDuration::ZERO, ());
            }
        }
        let mut sim = Simulation::new(CampaignSeed::derive(0, 0, 0));
        let a = sim.add_actor(Loop, 0);
        sim.schedule(SimTime::ZERO, a, ());
        sim.set_event_limit(1000);
        assert_eq!(sim.run(), RunOutcome::EventLimit);
        assert_eq!(sim.delivered(), 1000);
        // The limit holds across runs: nothing more is delivered.
        assert_eq!(sim.run(), RunOutcome::EventLimit);
        assert_eq!(sim.delivered(), 1000);
        let mut zero = Simulation::new(CampaignSeed::derive(0, 0, 0));
        let a = zero.add_actor(Loop, 0);
        zero.schedule(SimTime::ZERO, a, ());
        zero.set_event_limit(0);
        assert_eq!(zero.run(), RunOutcome::EventLimit);
        assert_eq!(zero.delivered(), 0);
    }
}
