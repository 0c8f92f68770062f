//! Every failure mode and handler mechanism against `docs/semantics.md`.
//!
//! Each test injects one fault with `injections:` (targeted mode, so it is
//! the only fault: every resource has `failure_modes: []`) and compares the
//! figures with the same scenario without the fault (`CampaignMode::Healthy`)
//! or with a variant of it. Service times are constant wherever possible, so
//! the only noise left is the Poisson arrival process, and most expected
//! values follow exactly from the rules in the semantics page.
//!
//! Unless a test says otherwise, the horizon is 100 s and the fault is active
//! from 25 s to 75 s, so about half of the requests see it: an effect `x` on
//! every request during the window moves the campaign's mean by `x / 2`.

use sim_core::CampaignSeed;
use sim_models::campaign::{CampaignMode, CampaignResult, run_campaign};
use sim_models::compile::{Empirical, compile};
use sim_models::model::Model;
use sim_models::spec::Scenario;
use sim_models::validate::validate;

const SEED: u64 = 20_240_611;

fn parse(yaml: &str) -> Scenario {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// Parses, validates and compiles `yaml`.
fn model(yaml: &str) -> Model {
    let s = parse(yaml);
    let issues = validate(&s);
    assert!(issues.is_empty(), "invalid scenario {issues:?}\n{yaml}");
    compile(&s, &[], &Empirical::new()).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"))
}

/// Parses and compiles `yaml` without validating it.
fn model_unvalidated(yaml: &str) -> Model {
    compile(&parse(yaml), &[], &Empirical::new()).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"))
}

fn healthy(m: &Model) -> CampaignResult {
    run_campaign(m, CampaignSeed::derive(SEED, 0, 0), CampaignMode::Healthy)
}

fn injected(m: &Model, k: usize) -> CampaignResult {
    run_campaign(
        m,
        CampaignSeed::derive(SEED, 0, 0),
        CampaignMode::Targeted(k),
    )
}

#[track_caller]
fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, expected {want} ± {tol}"
    );
}

/// One resource `svc` (one replica unless `resource` says otherwise) running
/// handler `h` with no steps, fed at `rate`/s, and the injections given.
fn single(resource: &str, rate: u32, injections: &str) -> String {
    format!(
        r#"
name: effects
horizon: 100s
resources:
  - {{ id: svc, type: service, {resource}, failure_modes: [] }}
handlers:
  - {{ id: h, runs_on: svc, operations: [ {{ name: op, steps: [] }} ] }}
workload:
  - {{ handler: h, arrivals: {{ process: poisson, rate: {rate}/s }} }}
injections:
{injections}
"#
    )
}

/// Caller resources `a` and `b` (handlers `ha`, `hb`, no service time) and a
/// plain resource `db` (one replica, constant 5 ms, unlimited concurrency).
/// `ha` runs `step_a`; `hb` exists only if `step_b` is given. `deps` lists
/// the `dependencies:` entries.
fn callers(step_a: &str, step_b: Option<&str>, deps: &str, injections: &str) -> String {
    let (hb, wb) = match step_b {
        Some(s) => (
            format!("  - {{ id: hb, runs_on: b, operations: [ {{ name: op, steps: [ {s} ] }} ] }}"),
            "  - { handler: hb, arrivals: { process: poisson, rate: 200/s } }".to_string(),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        r#"
name: effects
horizon: 100s
resources:
  - {{ id: a, type: service, replicas: 1, failure_modes: [] }}
  - {{ id: b, type: service, replicas: 1, failure_modes: [] }}
  - {{ id: db, type: database, replicas: 1, service_time: {{ dist: constant, value: 5ms }}, failure_modes: [] }}
dependencies:
{deps}
handlers:
  - {{ id: ha, runs_on: a, operations: [ {{ name: op, steps: [ {step_a} ] }} ] }}
{hb}
workload:
  - {{ handler: ha, arrivals: {{ process: poisson, rate: 200/s }} }}
{wb}
injections:
{injections}
"#
    )
}

/// A hard dependency `a → db` with 2 ms each way: a healthy call takes 9 ms.
const DEP_2MS: &str =
    "  - { from: a, to: db, kind: hard, network: { latency: { dist: constant, value: 2ms } } }";

// ---------------------------------------------------------------------------
// Failure modes
// ---------------------------------------------------------------------------

/// `process_crash` of one of two replicas: with `health_check: 0s` the router
/// stops at once (only the requests in service on it fail); with 5 s, every
/// request routed to the dead replica fails at once. The dead replica never
/// has a busy slot, so it is always "the fewest busy slots, lowest index":
/// every request of those 5 s goes there, about `rate × 5 s` errors.
#[test]
fn process_crash_health_check_delay_fails_requests_routed_to_the_dead_replica() {
    // `health_check: 0s` is refused by validation ("must be longer than 0"):
    // leaving it out means the same (the router notices at once).
    let yaml = |hc: &str| {
        single(
            &format!("replicas: 2, {hc} service_time: {{ dist: constant, value: 10ms }}"),
            200,
            "  - { id: crash, target: svc, mode: process_crash, at: 25s, duration: 50s }",
        )
    };
    let fast = model(&yaml(""));
    let slow = model(&yaml("health_check: 5s,"));
    let h = healthy(&fast);
    let f = injected(&fast, 0);
    let s = injected(&slow, 0);
    println!(
        "healthy {:?}\nhc 0s {:?}\nhc 5s {:?}",
        h.summary, f.summary, s.summary
    );
    assert_eq!(h.summary.errors, 0);
    // hc 0: only the ~1 request in service on replica 0 at the crash fails.
    assert!(f.summary.errors <= 10, "hc 0s: {:?}", f.summary);
    // hc 5: 200/s × 5 s = 1000 requests, Poisson sd ≈ 32.
    let extra = s.summary.errors as f64 - f.summary.errors as f64;
    close("extra errors with a 5 s health check", extra, 1000.0, 150.0);
    // They fail at once: the mean latency drops by their share of 10 ms.
    let share = s.summary.errors as f64 / s.summary.requests as f64;
    close(
        "mean latency with a 5 s health check",
        s.summary.latency_mean_ms,
        10.0 * (1.0 - share),
        0.1,
    );
    // One replica stays up: the resource never stops serving.
    assert_eq!(f.availability, 1.0);
    assert_eq!(s.availability, 1.0);

    // Requests on the replica when it dies fail at once: with 1 s of service,
    // 200/s keep ~200 requests in service, split evenly by the router.
    let m = model(&single(
        "replicas: 2, service_time: { dist: constant, value: 1s }",
        200,
        "  - { id: crash, target: svc, mode: process_crash, at: 25s, duration: 50s }",
    ));
    let k = injected(&m, 0);
    println!("1 s service {:?}", k.summary);
    close(
        "requests killed with the replica",
        k.summary.errors as f64,
        100.0,
        35.0,
    );
}

/// `latency_spike` with a constant `added` of 50 ms on a resource without
/// queueing: every request served while it is active takes 50 ms more.
#[test]
fn latency_spike_adds_its_delay_while_active() {
    let m = model(&single(
        "replicas: 1, service_time: { dist: constant, value: 10ms }",
        200,
        "  - { id: spike, target: svc, mode: latency_spike, at: 25s, duration: 50s, injection_parameters: { added: { dist: constant, value: 50ms } } }",
    ));
    let h = healthy(&m);
    let f = injected(&m, 0);
    println!("healthy {:?}\nspike {:?}", h.summary, f.summary);
    close("healthy mean", h.summary.latency_mean_ms, 10.0, 0.01);
    close(
        "mean with spike",
        f.summary.latency_mean_ms,
        10.0 + 25.0,
        1.0,
    );
    close("p99 with spike", f.summary.latency_p99_ms, 60.0, 1.0);
    close("p50 without spike", h.summary.latency_p50_ms, 10.0, 0.2);
    assert_eq!(f.summary.errors, 0);
}

/// `error_code` with `error_fraction: 0.3`: 30% of the requests served while
/// active fail, after their (unchanged) service time.
#[test]
fn error_code_fails_its_fraction_after_the_service_time() {
    let m = model(&single(
        "replicas: 1, service_time: { dist: constant, value: 10ms }",
        200,
        "  - { id: err, target: svc, mode: error_code, at: 25s, duration: 50s, injection_parameters: { error_fraction: 0.3, code: 500 } }",
    ));
    let h = healthy(&m);
    let f = injected(&m, 0);
    println!("healthy {:?}\nerror_code {:?}", h.summary, f.summary);
    assert_eq!(h.summary.errors, 0);
    close("error rate", f.summary.error_rate, 0.15, 0.012);
    close(
        "mean latency (failures still take their service time)",
        f.summary.latency_mean_ms,
        10.0,
        0.01,
    );
}

/// `error_code` with no parameters fails every request while active.
#[test]
fn error_code_default_fails_everything_while_active() {
    let m = model(&single(
        "replicas: 1, service_time: { dist: constant, value: 10ms }",
        200,
        "  - { id: err, target: svc, mode: error_code, at: 25s, duration: 50s }",
    ));
    let f = injected(&m, 0);
    close("error rate", f.summary.error_rate, 0.5, 0.02);
}

/// `cpu_throttle`: service time × 1 / (1 − percent/100). On a resource with no
/// queueing the mean latency is the service time: 50% doubles it, 75%
/// quadruples it. The fault covers the whole horizon here.
#[test]
fn cpu_throttle_multiplies_the_service_time() {
    let m = model(&single(
        "replicas: 1, service_time: { dist: exponential, mean: 10ms }",
        200,
        "  - { id: half, target: svc, mode: cpu_throttle, at: 0s, duration: 100s, injection_parameters: { percent: 50 } }
  - { id: quarter, target: svc, mode: cpu_throttle, at: 0s, duration: 100s, injection_parameters: { percent: 75 } }
  - { id: default, target: svc, mode: cpu_throttle, at: 0s, duration: 100s }",
    ));
    let h = healthy(&m);
    let half = injected(&m, 0);
    let quarter = injected(&m, 1);
    let default = injected(&m, 2);
    println!(
        "healthy {:?}\n50% {:?}\n75% {:?}\ndefault {:?}",
        h.summary, half.summary, quarter.summary, default.summary
    );
    // 20 000 exponential draws: relative SE of the mean 0.7%.
    close("healthy mean", h.summary.latency_mean_ms, 10.0, 0.35);
    close("mean at 50%", half.summary.latency_mean_ms, 20.0, 0.7);
    close("mean at 75%", quarter.summary.latency_mean_ms, 40.0, 1.4);
    close(
        "mean at default (50%)",
        default.summary.latency_mean_ms,
        20.0,
        0.7,
    );
}

/// `memory_starvation` 50% on concurrency 4: at most 2 requests served at
/// once. Overloaded (100/s offered, 100 ms each, a queue of 10), the replica
/// completes one request per slot every 100 ms: 40/s healthy, 20/s starved.
#[test]
fn memory_starvation_halves_the_slots() {
    let m = model(&single(
        "replicas: 1, concurrency: 4, queue_limit: 10, service_time: { dist: constant, value: 100ms }",
        100,
        "  - { id: oom, target: svc, mode: memory_starvation, at: 0s, duration: 100s, injection_parameters: { percent: 50 } }",
    ));
    let h = healthy(&m);
    let f = injected(&m, 0);
    println!("healthy {:?}\nstarved {:?}", h.summary, f.summary);
    let ok = |r: &CampaignResult| (r.summary.requests - r.summary.errors) as f64;
    // 100 s × slots / 100 ms, plus the queue and slots drained after the horizon.
    close("successes, healthy", ok(&h), 4000.0, 30.0);
    close("successes, starved", ok(&f), 2000.0, 30.0);
    // Rejections take no time, so the successes' mean latency is the total
    // over the successes. An admitted request joins an almost full queue of
    // 10 and waits for ~10 departures, one every 100 ms / slots.
    let ok_mean =
        |r: &CampaignResult| r.summary.latency_mean_ms * r.summary.requests as f64 / ok(r);
    close(
        "success latency, healthy",
        ok_mean(&h),
        100.0 + 10.0 * 25.0,
        25.0,
    );
    close(
        "success latency, starved",
        ok_mean(&f),
        100.0 + 10.0 * 50.0,
        25.0,
    );
}

/// `memory_starvation` 100%: the replica crashes. With one replica the
/// resource refuses every request while the fault lasts.
#[test]
fn memory_starvation_at_100_percent_crashes_the_replica() {
    let m = model(&single(
        "replicas: 1, concurrency: 4, service_time: { dist: constant, value: 10ms }",
        200,
        "  - { id: oom, target: svc, mode: memory_starvation, at: 25s, duration: 50s, injection_parameters: { percent: 100 } }",
    ));
    let h = healthy(&m);
    let f = injected(&m, 0);
    println!("healthy {:?}\nstarved {:?}", h.summary, f.summary);
    assert_eq!(h.summary.errors, 0);
    close("error rate", f.summary.error_rate, 0.5, 0.02);
    close("availability", f.availability, 0.5, 1e-6);
    // Refused requests take no time; the others are as in the healthy run
    // (after the window the replica is back with its full concurrency).
    close(
        "mean latency (refused at once)",
        f.summary.latency_mean_ms,
        h.summary.latency_mean_ms * (1.0 - f.summary.error_rate),
        0.3,
    );
}

/// `disk_error`: `error_fraction` of the requests fail, the rest take
/// `slowdown` × longer. Active over the whole horizon.
#[test]
fn disk_error_fails_a_fraction_and_slows_the_rest() {
    let m = model(&single(
        "replicas: 1, service_time: { dist: constant, value: 10ms }",
        200,
        "  - { id: disk, target: svc, mode: disk_error, at: 0s, duration: 100s, injection_parameters: { error_fraction: 0.2, slowdown: 3 } }
  - { id: default, target: svc, mode: disk_error, at: 0s, duration: 100s }",
    ));
    let h = healthy(&m);
    let f = injected(&m, 0);
    let d = injected(&m, 1);
    println!(
        "healthy {:?}\ndisk {:?}\ndefault {:?}",
        h.summary, f.summary, d.summary
    );
    assert_eq!(h.summary.errors, 0);
    close("error rate", f.summary.error_rate, 0.2, 0.012);
    // 80% of requests take 30 ms: that is the median.
    close(
        "p50 (the slowed successes)",
        f.summary.latency_p50_ms,
        30.0,
        0.5,
    );
    // The failures take between the plain and the slowed service time.
    let m_lo = 0.8 * 30.0 + 0.2 * 10.0;
    assert!(
        (m_lo - 0.3..=30.3).contains(&f.summary.latency_mean_ms),
        "mean {}",
        f.summary.latency_mean_ms
    );
    // Defaults: 10% fail, the rest 2×.
    close("default error rate", d.summary.error_rate, 0.1, 0.01);
    close("default p50", d.summary.latency_p50_ms, 20.0, 0.4);
}

/// `disk_io_starvation`: service time × `slowdown` while active.
#[test]
fn disk_io_starvation_slows_service() {
    let m = model(&single(
        "replicas: 1, service_time: { dist: constant, value: 10ms }",
        200,
        "  - { id: io, target: svc, mode: disk_io_starvation, at: 25s, duration: 50s, injection_parameters: { slowdown: 4 } }
  - { id: default, target: svc, mode: disk_io_starvation, at: 25s, duration: 50s }",
    ));
    let h = healthy(&m);
    let f = injected(&m, 0);
    let d = injected(&m, 1);
    println!(
        "healthy {:?}\nio {:?}\ndefault {:?}",
        h.summary, f.summary, d.summary
    );
    close("healthy mean", h.summary.latency_mean_ms, 10.0, 0.01);
    // Half the requests at 40 ms: mean 25 ms.
    close("mean with 4×", f.summary.latency_mean_ms, 25.0, 1.0);
    close("p99 with 4×", f.summary.latency_p99_ms, 40.0, 0.8);
    // Default 5×: mean (10 + 50) / 2.
    close("mean with default 5×", d.summary.latency_mean_ms, 30.0, 1.2);
    assert_eq!(f.summary.errors, 0);
}

/// `network_latency` on `db`, constant 50 ms: every call into `db` takes
/// 50 ms more while active; with `links: [a]`, only `a`'s calls. Compiled
/// without validation (see the next test).
#[test]
fn network_latency_delays_calls_only_on_the_given_links() {
    let step = "{ call: db }";
    let m = model_unvalidated(&callers(
        step,
        Some(step),
        "  []",
        "  - { id: only_a, target: db, mode: network_latency, at: 25s, duration: 50s, injection_parameters: { added: { dist: constant, value: 50ms }, links: [a] } }
  - { id: all, target: db, mode: network_latency, at: 25s, duration: 50s, injection_parameters: { added: { dist: constant, value: 50ms } } }",
    ));
    let h = healthy(&m);
    let only_a = injected(&m, 0);
    let all = injected(&m, 1);
    let (ha, hb) = (0, 1);
    for (name, r) in [("healthy", &h), ("only_a", &only_a), ("all", &all)] {
        println!(
            "{name}: ha {:?}\n        hb {:?}",
            r.handlers[ha].summary, r.handlers[hb].summary
        );
    }
    close(
        "healthy ha",
        h.handlers[ha].summary.latency_mean_ms,
        5.0,
        0.01,
    );
    close(
        "healthy hb",
        h.handlers[hb].summary.latency_mean_ms,
        5.0,
        0.01,
    );
    // links: [a] → ha's calls take 55 ms for half the horizon, hb's do not.
    close(
        "ha, links [a]",
        only_a.handlers[ha].summary.latency_mean_ms,
        5.0 + 25.0,
        1.0,
    );
    close(
        "hb, links [a]",
        only_a.handlers[hb].summary.latency_mean_ms,
        5.0,
        0.01,
    );
    // No links: both callers.
    close(
        "ha, all links",
        all.handlers[ha].summary.latency_mean_ms,
        30.0,
        1.0,
    );
    close(
        "hb, all links",
        all.handlers[hb].summary.latency_mean_ms,
        30.0,
        1.0,
    );
    for r in [&only_a, &all] {
        assert_eq!(r.summary.errors, 0);
        assert_eq!(r.availability, 1.0, "latency does not take db down");
    }
}

/// The semantics page documents `links` for `network_latency` ("a draw of
/// `added` on every call into the resource (only from `links`, if given)"),
/// and `compile` honours it, but validation refuses it.
#[test]
fn network_latency_links_pass_validation() {
    let s = parse(&callers(
        "{ call: db }",
        Some("{ call: db }"),
        "  []",
        "  - { id: only_a, target: db, mode: network_latency, at: 25s, duration: 50s, injection_parameters: { added: { dist: constant, value: 50ms }, links: [a] } }",
    ));
    let issues = validate(&s);
    assert!(issues.is_empty(), "{issues:?}");
}

/// `network_partition`: calls and answers are dropped, so callers see their
/// timeout (200 ms): errors for half the horizon, each taking 200 ms.
#[test]
fn network_partition_makes_calls_time_out() {
    let m = model(&callers(
        "{ call: db, timeout: 200ms }",
        None,
        DEP_2MS,
        "  - { id: part, target: db, mode: network_partition, at: 25s, duration: 50s }",
    ));
    let h = healthy(&m);
    let f = injected(&m, 0);
    println!("healthy {:?}\npartition {:?}", h.summary, f.summary);
    assert_eq!(h.summary.errors, 0);
    close("healthy mean", h.summary.latency_mean_ms, 9.0, 0.01);
    close("error rate", f.summary.error_rate, 0.5, 0.02);
    let e = f.summary.error_rate;
    close(
        "mean latency (failures wait for the timeout)",
        f.summary.latency_mean_ms,
        e * 200.0 + (1.0 - e) * 9.0,
        0.5,
    );
    close("p99 = the timeout", f.summary.latency_p99_ms, 200.0, 2.0);
    close("availability", f.availability, 0.5, 1e-6);
}

/// `dependency_failure`: calls are refused after one round trip (2 + 2 ms),
/// far sooner than the 200 ms timeout.
#[test]
fn dependency_failure_refuses_calls_fast() {
    let m = model(&callers(
        "{ call: db, timeout: 200ms }",
        None,
        DEP_2MS,
        "  - { id: refuse, target: db, mode: dependency_failure, at: 25s, duration: 50s }",
    ));
    let f = injected(&m, 0);
    println!("dependency_failure {:?}", f.summary);
    close("error rate", f.summary.error_rate, 0.5, 0.02);
    let e = f.summary.error_rate;
    close(
        "mean latency (refusals after 4 ms)",
        f.summary.latency_mean_ms,
        e * 4.0 + (1.0 - e) * 9.0,
        0.05,
    );
    assert!(
        f.summary.latency_p99_ms < 10.0,
        "no request waits for the timeout: {:?}",
        f.summary
    );
    close("availability", f.availability, 0.5, 1e-6);
}

// ---------------------------------------------------------------------------
// Handler mechanisms
// ---------------------------------------------------------------------------

/// `fallback: skip` (and `cached`): a call that finally fails is skipped, the
/// request succeeds degraded. Same fault with `fallback: none`: errors.
#[test]
fn fallback_turns_errors_into_degraded_successes() {
    let yaml = |fallback: &str| {
        callers(
            &format!("{{ call: db, timeout: 200ms, fallback: {fallback} }}"),
            None,
            DEP_2MS,
            "  - { id: refuse, target: db, mode: dependency_failure, at: 25s, duration: 50s }",
        )
    };
    let none = injected(&model(&yaml("none")), 0);
    println!("none {:?}", none.summary);
    close(
        "error rate without fallback",
        none.summary.error_rate,
        0.5,
        0.02,
    );
    assert_eq!(none.summary.degraded, 0);
    for fb in ["skip", "cached"] {
        let r = injected(&model(&yaml(fb)), 0);
        println!("{fb} {:?} availability {}", r.summary, r.availability);
        assert_eq!(r.summary.errors, 0, "{fb}");
        assert_eq!(r.summary.requests, none.summary.requests, "{fb}");
        // Same seed, same arrivals: the requests that failed now degrade.
        assert_eq!(r.summary.degraded, none.summary.errors, "{fb}");
        // A tolerated step is off the hard path.
        assert_eq!(r.availability, 1.0, "{fb}");
    }
}

/// A `kind: soft` dependency behaves like a fallback; `kind: hard` does not.
#[test]
fn soft_dependency_degrades_instead_of_failing() {
    let yaml = |kind: &str| {
        callers(
            "{ call: db, timeout: 200ms }",
            None,
            &format!(
                "  - {{ from: a, to: db, kind: {kind}, network: {{ latency: {{ dist: constant, value: 2ms }} }} }}"
            ),
            "  - { id: part, target: db, mode: network_partition, at: 25s, duration: 50s }",
        )
    };
    let hard = injected(&model(&yaml("hard")), 0);
    let soft = injected(&model(&yaml("soft")), 0);
    println!("hard {:?}\nsoft {:?}", hard.summary, soft.summary);
    close("hard error rate", hard.summary.error_rate, 0.5, 0.02);
    assert_eq!(hard.summary.degraded, 0);
    assert_eq!(soft.summary.errors, 0);
    assert_eq!(soft.summary.degraded, hard.summary.errors);
    // Degraded requests still waited for the timeout.
    close(
        "soft mean latency",
        soft.summary.latency_mean_ms,
        hard.summary.latency_mean_ms,
        1e-9,
    );
    close("hard availability", hard.availability, 0.5, 1e-6);
    assert_eq!(soft.availability, 1.0);
}

/// A circuit breaker during a partition (20 s to 80 s, 100/s, timeout 200 ms,
/// opens at 50% failures over 10 s with at least 20 calls, for 30 s). Without
/// it, every call of the window waits 200 ms. With it, calls time out only
/// until the breaker opens (a few seconds: the window still holds the
/// successes from before), then fail at once; the half-open trial at ~55 s
/// fails (reopens), the one at ~85 s succeeds.
#[test]
fn circuit_breaker_opens_and_stops_waiting_for_timeouts() {
    let yaml = |breaker: &str| {
        format!(
            r#"
name: effects
horizon: 100s
resources:
  - {{ id: a, type: service, replicas: 1, failure_modes: [] }}
  - {{ id: db, type: database, replicas: 1, service_time: {{ dist: constant, value: 5ms }}, failure_modes: [] }}
dependencies:
{DEP_2MS}
handlers:
  - {{ id: ha, runs_on: a, operations: [ {{ name: op, steps: [ {{ call: db, timeout: 200ms {breaker} }} ] }} ] }}
workload:
  - {{ handler: ha, arrivals: {{ process: poisson, rate: 100/s }} }}
injections:
  - {{ id: part, target: db, mode: network_partition, at: 20s, duration: 60s }}
"#
        )
    };
    let without = injected(&model(&yaml("")), 0);
    let with = injected(
        &model(&yaml(
            ", circuit_breaker: { failure_rate: 0.5, min_calls: 20, window: 10s, open_for: 30s }",
        )),
        0,
    );
    println!(
        "without {:?} openings {}\nwith    {:?} openings {}",
        without.summary,
        without.handlers[0].breaker_openings,
        with.summary,
        with.handlers[0].breaker_openings
    );
    assert_eq!(without.handlers[0].breaker_openings, 0);
    // 60% of the requests wait 200 ms, the rest take 9 ms.
    close(
        "mean without breaker",
        without.summary.latency_mean_ms,
        0.6 * 200.0 + 0.4 * 9.0,
        3.0,
    );
    assert_eq!(
        with.handlers[0].breaker_openings, 2,
        "opens once, the failed half-open trial reopens it, the next trial closes it"
    );
    // Only the ~5 s before opening (and one trial) wait for the timeout:
    // about 500 of 10 000 requests × 200 ms ≈ 10 ms, instead of ~124 ms.
    assert!(
        with.summary.latency_mean_ms < 0.25 * without.summary.latency_mean_ms,
        "with {:?} without {:?}",
        with.summary,
        without.summary
    );
    assert!(
        with.summary.latency_mean_ms > 2.0,
        "some calls timed out before the breaker opened: {:?}",
        with.summary
    );
    // The breaker saves no request here (no fallback); it stays open ~5 s
    // past the partition, failing calls that would have succeeded.
    assert!(with.summary.errors >= without.summary.errors);
    close(
        "error rate with breaker (20 s to ~85 s)",
        with.summary.error_rate,
        0.65,
        0.03,
    );
}

/// A `poll` step: the target is ready after `ready_after`; polls go out at
/// once and then every `interval`, so the step ends at the first poll after
/// the ready time (plus the 5 ms the target takes to answer).
#[test]
fn poll_waits_for_ready_rounded_up_to_the_interval() {
    let yaml = |ready: &str, rate: u32| {
        format!(
            r#"
name: effects
horizon: 100s
resources:
  - {{ id: a, type: service, replicas: 1, failure_modes: [] }}
  - {{ id: db, type: database, replicas: 1, service_time: {{ dist: constant, value: 5ms }}, failure_modes: [] }}
handlers:
  - {{ id: ha, runs_on: a, operations: [ {{ name: op, steps: [ {{ poll: db, interval: 1s, ready_after: {ready}, timeout: 10s }} ] }} ] }}
workload:
  - {{ handler: ha, arrivals: {{ process: poisson, rate: {rate}/s }} }}
injections:
  - {{ id: crash, target: db, mode: process_crash, at: 0s, duration: 1000s }}
"#
        )
    };
    // Constant 2.5 s: polls at 0, 1, 2, 3 s; the one at 3 s succeeds.
    let m = model(&yaml("{ dist: constant, value: 2500ms }", 20));
    let h = healthy(&m);
    println!("constant {:?}", h.summary);
    assert_eq!(h.summary.errors, 0);
    close(
        "mean, constant 2.5 s",
        h.summary.latency_mean_ms,
        3005.0,
        0.5,
    );
    close(
        "p99, constant 2.5 s",
        h.summary.latency_p99_ms,
        3005.0,
        31.0,
    );

    // Exponential, mean 2 s: the poll sent at k s answers at k + 0.005 s and
    // succeeds if X ≤ k + 0.005; polls go out at 0..9 s, the tick at 10 s is
    // the timeout. So the step ends at k + 0.005 s with probability
    // F(k + 0.005) − F(k − 0.995), and fails at 10 s with 1 − F(9.005).
    let m = model(&yaml("{ dist: exponential, mean: 2s }", 100));
    let h = healthy(&m);
    let cdf = |x: f64| {
        if x <= 0.0 {
            0.0
        } else {
            1.0 - (-x / 2.0).exp()
        }
    };
    let p_fail = 1.0 - cdf(9.005);
    let want_s = (0..10)
        .map(|k| {
            let t = f64::from(k) + 0.005;
            t * (cdf(t) - cdf(t - 1.0))
        })
        .sum::<f64>()
        + 10.0 * p_fail;
    println!(
        "exponential {:?} want mean {} ms, error rate {p_fail}",
        h.summary,
        want_s * 1000.0
    );
    // 10 000 requests, sd of the step ≈ 1.9 s: SE of the mean ≈ 19 ms.
    close(
        "mean, exponential 2 s",
        h.summary.latency_mean_ms,
        want_s * 1000.0,
        80.0,
    );
    close(
        "timeouts, exponential 2 s",
        h.summary.error_rate,
        p_fail,
        0.004,
    );

    // The target crashed for the whole campaign: every step fails at the timeout.
    let m = model(&yaml("{ dist: constant, value: 2500ms }", 20));
    let f = injected(&m, 0);
    println!("crashed {:?} availability {}", f.summary, f.availability);
    assert_eq!(f.summary.errors, f.summary.requests);
    close(
        "latency = timeout",
        f.summary.latency_mean_ms,
        10_000.0,
        0.5,
    );
    assert_eq!(f.availability, 0.0);
}
