//! What request-level simulations exercised ([`Usage`]): the mechanisms a
//! change to the model can act on, recorded by the actors of a campaign, a
//! two-scale episode or baseline, and merged, so that remediation can reuse
//! a simulation a candidate change cannot alter.

use crate::actors::Node;
use crate::model::{Model, ResourceIx};

/// What request-level simulations exercised of the mechanisms a change to
/// the model can act on, so that a variant that only changes mechanisms a
/// simulation never exercised is known to simulate it exactly as it was:
/// the same events in the same order, the same random draws.
///
/// - A resource's `concurrency` decides something only when a request is
///   routed while a routable replica has every slot busy (`saturated`):
///   then a replica with more slots could be chosen, or the request would
///   not wait. (Capacity under memory starvation grows with concurrency.)
/// - A call step's retry, backoff, circuit breaker and fallback act only
///   after an attempt of that call failed (`failed`): a retry or backoff
///   delay is drawn, a breaker counts a failure (it cannot open without
///   one), a fallback is taken when the step fails. Under live
///   injection's graceful degradation a fallback also acts without a
///   failure, when the call's callee is being done without: that is
///   recorded as a failure of the step too.
///
/// - Another replica of a resource decides nothing where no fault acts on
///   it (its replicas are alike) and no replica was ever full: which one
///   serves a request changes nothing, since service times come from the
///   resource's one stream in the order requests start (`saturated`
///   again; the fault is the caller's to know).
///
/// A timeout acts on when every attempt ends and has no such test. The
/// union of several simulations' usage is [`Usage::merge`].
///
/// Three words of bits, so that a run can keep one per campaign: resources
/// by index, call steps by their position in the model (handlers, their
/// operations, their steps, in order), library classes by index. Past the
/// 63rd, all share the last bit: a use of any of them reads as a use of
/// all, which can only make a variant simulate more, never take a
/// simulation that differs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Resources routed at while a routable replica was full.
    pub(crate) saturated: u64,
    /// Call steps an attempt of which failed.
    pub(crate) failed: u64,
    /// Classes of the variant's [`Library`](crate::two_scale::Library) composed from.
    pub(crate) composed: u64,
}

/// The bit of item `i` in a [`Usage`] word.
fn bit(i: usize) -> u64 {
    1 << i.min(63)
}

impl Usage {
    /// Adds what `o` exercised.
    pub fn merge(&mut self, o: &Usage) {
        self.saturated |= o.saturated;
        self.failed |= o.failed;
        self.composed |= o.composed;
    }

    /// Whether a request was routed at resource `r` while one of its
    /// routable replicas had every slot busy.
    pub fn saturated(&self, r: ResourceIx) -> bool {
        self.saturated & bit(r) != 0
    }

    /// Whether an attempt of step `step` of operation `op` of handler
    /// `handler` of `model` (a call) failed.
    pub fn failed(&self, model: &Model, handler: usize, op: usize, step: usize) -> bool {
        let before: usize = model.handlers[..handler.min(model.handlers.len())]
            .iter()
            .flat_map(|h| &h.ops)
            .map(|o| o.steps.len())
            .sum();
        let within: usize = model.handlers.get(handler).map_or(0, |h| {
            h.ops[..op.min(h.ops.len())]
                .iter()
                .map(|o| o.steps.len())
                .sum()
        });
        self.failed & bit(before + within + step) != 0
    }

    /// Whether an episode was composed from class `class` of the library.
    pub fn composed(&self, class: usize) -> bool {
        self.composed & bit(class) != 0
    }

    /// The usage recorded by the actors of a finished simulation.
    pub(crate) fn of(actors: &[Node<'_>]) -> Usage {
        let mut u = Usage::default();
        let (mut r, mut step) = (0, 0);
        for a in actors {
            match a {
                Node::Resource(x) => {
                    if x.saturated {
                        u.saturated |= bit(r);
                    }
                    r += 1;
                }
                Node::Handler(h) => {
                    for f in h.failed.iter().flatten() {
                        if *f {
                            u.failed |= bit(step);
                        }
                        step += 1;
                    }
                }
                _ => {}
            }
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::two_scale::Baseline;
    use crate::two_scale::testing::*;
    use sim_core::CampaignSeed;

    #[test]
    fn a_full_replica_is_recorded_as_saturation() {
        // The db's 4 slots at 100/s of 5 ms (mean 0.5 busy) fill now and
        // then; with one slot they fill all the time.
        let mut s: crate::spec::Scenario = serde_saphyr::from_str(TWO_CALLEES).unwrap();
        s.resources[1].concurrency = Some(1);
        let m = crate::compile::compile(&s, &[], &crate::compile::Empirical::new()).unwrap();
        let b = Baseline::simulate(&m, CampaignSeed::derive(1, 0, 0), d(60));
        assert!(b.counted.usage.saturated(1));
        assert!(!b.counted.usage.saturated(0) && !b.counted.usage.saturated(2));
        let w = Usage {
            composed: 0,
            ..b.counted.usage
        };
        assert!(!w.composed(0) && !w.composed(70));
        let w = Usage {
            composed: 1 << 63,
            ..w
        };
        assert!(w.composed(63) && w.composed(70) && !w.composed(0));
    }
}
