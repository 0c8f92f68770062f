//! Stage 1, the fault timeline: every failure process of a campaign over
//! `[0, window]`, drawn exactly as the request-level failure actors draw it
//! (same functions, same random stream per process), or the one injection
//! of a targeted campaign; and per resource, when it could serve.

use sim_core::{CampaignSeed, SimTime, stream_key};

use crate::actors::failure::{FirstTransition, first_transition, repair_time, up_time};
use crate::campaign::{CampaignMode, FaultInterval, fault_stream_name};
use crate::model::{Effect, FaultScope, Model};
use crate::msg::ALL_REPLICAS;
use crate::rare::{PathWeight, Start};

/// The faults of one campaign over its whole window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// Every fault, sorted by onset.
    pub faults: Vec<FaultInterval>,
    /// `ln` of the importance-sampling weight of the failure paths (0 unless
    /// a process is biased; see [`crate::rare`]), exactly as the failure
    /// actors of the request-level campaign would compute it.
    pub ln_weight: f64,
}

/// The fault timeline of a campaign: exactly the faults the request-level
/// campaign with the same seed and mode would simulate (each process draws
/// from the stream of the same name, in the same order).
pub fn fault_timeline(model: &Model, seed: CampaignSeed, mode: CampaignMode) -> Timeline {
    let horizon = SimTime::ZERO + model.horizon;
    let mut faults = Vec::new();
    let mut ln_weight = 0.0;
    match mode {
        CampaignMode::Natural => {
            for (i, def) in model.faults.iter().enumerate() {
                let mut rng = seed.stream(stream_key(&fault_stream_name(model, i)));
                let replica = match def.scope {
                    FaultScope::Replica(r) => r,
                    FaultScope::Resource => ALL_REPLICAS,
                };
                let push = |faults: &mut Vec<FaultInterval>, on: SimTime, off: SimTime| {
                    faults.push(FaultInterval {
                        resource: def.resource,
                        effect: def.effect,
                        replica,
                        on,
                        off,
                        process: Some(i as u32),
                    })
                };
                let age = model.resources[def.resource].age;
                // The weight follows the failure actor's calls one for one.
                let mut w = PathWeight::default();
                let mut t = match first_transition(def, age, &mut rng) {
                    FirstTransition::FailIn(d) => {
                        match age {
                            Some(a) => w.up_from(0.0, Start::Aged(a)),
                            None => {
                                w.initial_state(def, false);
                                w.up_from(0.0, Start::Equilibrium);
                            }
                        }
                        SimTime::ZERO + d
                    }
                    FirstTransition::RepairIn(d) => {
                        w.initial_state(def, true);
                        let off = SimTime::ZERO + d;
                        push(&mut faults, SimTime::ZERO, off);
                        w.up_from(off.as_secs_f64(), Start::Fresh);
                        off + up_time(def, &mut rng)
                    }
                };
                while t < horizon {
                    w.failed_at(def, t.as_secs_f64());
                    let off = t + repair_time(def, &mut rng);
                    push(&mut faults, t, off);
                    w.up_from(off.as_secs_f64(), Start::Fresh);
                    t = off + up_time(def, &mut rng);
                }
                w.end(def, horizon.as_secs_f64());
                ln_weight += w.ln();
            }
        }
        CampaignMode::Targeted(k) => {
            let inj = &model.injections[k];
            let on = SimTime::ZERO + inj.at;
            if on < horizon {
                faults.push(FaultInterval {
                    resource: inj.resource,
                    effect: inj.effect,
                    replica: ALL_REPLICAS,
                    on,
                    off: on + inj.duration,
                    process: None,
                });
            }
        }
        CampaignMode::Healthy => {}
    }
    faults.sort_by_key(|f| f.on);
    Timeline { faults, ln_weight }
}

/// Per resource, when it could serve: the same log the request-level
/// [`crate::actors::ResourceActor`] keeps (serving while no whole-resource
/// network fault is active and some replica is up), starting with the state
/// at time zero.
pub fn serving_logs(model: &Model, faults: &[FaultInterval]) -> Vec<Vec<(SimTime, bool)>> {
    let mut logs = Vec::with_capacity(model.resources.len());
    for (r, def) in model.resources.iter().enumerate() {
        let n = def.replicas;
        // (time, replicas hit, +1 / -1, whole-resource)
        let mut changes: Vec<(SimTime, std::ops::Range<u16>, i32, Kind)> = Vec::new();
        for f in faults.iter().filter(|f| f.resource == r) {
            let all = |k: Option<u16>| {
                if f.replica == ALL_REPLICAS {
                    0..k.unwrap_or(n).min(n)
                } else {
                    f.replica..f.replica + 1
                }
            };
            let (range, kind) = match &model.effects[f.effect] {
                Effect::Crash { replicas } => (all(*replicas), Kind::Crash),
                Effect::MemoryStarvation { percent } if *percent >= 100.0 => (all(None), Kind::Oom),
                e if e.takes_resource_down() => (0..0, Kind::Net),
                _ => continue,
            };
            changes.push((f.on, range.clone(), 1, kind));
            changes.push((f.off, range, -1, kind));
        }
        changes.sort_by_key(|c| c.0);
        let mut crashes = vec![0i32; usize::from(n)];
        let mut ooms = vec![0i32; usize::from(n)];
        let mut net = 0i32;
        let mut log = vec![(SimTime::ZERO, true)];
        let mut serving = true;
        for (t, range, d, kind) in changes {
            match kind {
                Kind::Crash => range.for_each(|i| crashes[usize::from(i)] += d),
                Kind::Oom => range.for_each(|i| ooms[usize::from(i)] += d),
                Kind::Net => net += d,
            }
            let now = net == 0 && (0..usize::from(n)).any(|i| crashes[i] == 0 && ooms[i] == 0);
            if now != serving {
                serving = now;
                log.push((t, now));
            }
        }
        logs.push(log);
    }
    logs
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Crash,
    Oom,
    Net,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::two_scale::testing::*;

    #[test]
    fn serving_logs_follow_crashes_and_partitions() {
        let m = model(
            r#"
name: s
horizon: 1h
resources:
  - id: r
    type: service
    replicas: 2
    failure_modes:
      - { mode: process_crash, time_between: { dist: exponential, mean: 1h }, repair: { dist: constant, value: 1m } }
      - { mode: process_crash, scope: resource, time_between: { dist: exponential, mean: 1h }, repair: { dist: constant, value: 1m }, injection_parameters: { replicas_affected: 1 } }
      - { mode: network_partition, time_between: { dist: exponential, mean: 1h }, repair: { dist: constant, value: 1m } }
handlers: [ { id: h, runs_on: r, operations: [ { name: op, steps: [] } ] } ]
"#,
        );
        let at = |process: usize, replica: u16, on: u64, off: u64| {
            let def = &m.faults[process];
            FaultInterval {
                resource: 0,
                effect: def.effect,
                replica,
                on: t(on),
                off: t(off),
                process: Some(process as u32),
            }
        };
        // Replica 0 down [10, 20), replica 1 down [15, 30): the resource
        // cannot serve in [15, 20). A resource-scoped crash of one replica
        // [40, 50) leaves replica 1 up. A partition [60, 70) takes it down.
        let faults = [
            at(0, 0, 10, 20),
            at(1, 1, 15, 30),
            at(2, ALL_REPLICAS, 40, 50),
            at(3, ALL_REPLICAS, 60, 70),
        ];
        let logs = serving_logs(&m, &faults);
        assert_eq!(
            logs[0],
            vec![
                (t(0), true),
                (t(15), false),
                (t(20), true),
                (t(60), false),
                (t(70), true)
            ]
        );
    }
}
