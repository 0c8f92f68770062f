//! Known-answer checks of the path simulation (`docs/paths.md`,
//! "Simulation"): availability of a single failing node, downtime per
//! failure under reroute, ADU accounting, determinism, and the heartbeat
//! what-if on `scenarios/media-paths.yaml`.

use sim_core::{CampaignSeed, Moments, SimDuration};
use sim_models::paths::sim::{PathOutcome, run_path_campaign};
use sim_models::paths::{MonitoringDef, PathCache, PathModel};
use sim_models::spec::Scenario;

fn model(yaml: &str) -> PathModel {
    let s: Scenario = serde_saphyr::from_str(yaml).expect("test scenario parses");
    PathModel::compile(&s, &Default::default()).expect("test scenario compiles")
}

fn hours(h: f64) -> SimDuration {
    SimDuration::from_secs_f64(h * 3600.0)
}

/// Everything an outcome says, bit for bit.
fn key(o: &PathOutcome) -> Vec<u64> {
    vec![
        o.adus_sent,
        o.adus_delivered,
        o.adus_lost,
        o.adus_in_flight,
        o.delay.count(),
        o.delay.mean().0,
        o.delay.quantile(0.99).0,
        o.availability.to_bits(),
        o.downtime_s.to_bits(),
        u64::from(o.outages),
        u64::from(o.repairs),
        o.time_to_repair_mean_s.to_bits(),
        u64::from(o.moves_back),
    ]
}

/// One operator on node `op`; source and sink never fail.
fn single_node(repair: &str, monitoring: &str) -> String {
    format!(
        r#"
name: single
operators:
  - {{ id: f, input: a, output: b, cost: 1, cpu: 1, service_time: {{ dist: constant, value: 1ms }} }}
nodes:
  - {{ id: src, cpu: 0 }}
  - id: op
    cpu: 1
    failure: {{ time_between: {{ dist: exponential, mean: 1h }}, repair: {{ dist: exponential, mean: 6m }} }}
  - {{ id: spare, cpu: 1 }}
  - {{ id: dst, cpu: 0 }}
links:
  - {{ from: src, to: op, delay: 1ms }}
  - {{ from: op, to: dst, delay: 1ms }}
  - {{ from: src, to: spare, delay: 5ms }}
  - {{ from: spare, to: dst, delay: 5ms }}
paths:
  - id: p
    source: {{ node: src, type: a }}
    sink: {{ node: dst, type: b }}
    adu_rate: 0.01/s
    optimise: delay
    repair: {repair}
    {monitoring}
    cache_paths: true
"#
    )
}

/// Availability of one operator on one exponentially failing node with no
/// repair path: MTTF / (MTTF + MTTR).
#[test]
fn single_node_availability_is_mttf_over_mttf_plus_mttr() {
    let m = model(&single_node("none", ""));
    let mut cache = PathCache::new();
    let mut a = Moments::default();
    let mut outages = 0u64;
    for i in 0..200 {
        let o =
            run_path_campaign(&m, CampaignSeed::derive(1, 0, i), hours(500.0), &mut cache).outcomes;
        a.add(o[0].availability);
        outages += u64::from(o[0].outages);
        assert_eq!(o[0].repairs, 0);
        assert_eq!(o[0].moves_back, 0);
    }
    let exact = 60.0 / 66.0;
    let (mean, se) = (a.mean(), a.std_error());
    eprintln!(
        "availability {mean:.5} ± {se:.5} (exact {exact:.5}), {outages} outages in 200 × 500 h"
    );
    assert!(se < 0.001, "SE {se}");
    assert!(
        (mean - exact).abs() <= 4.0 * se,
        "{mean} vs {exact} (SE {se})"
    );
}

/// E[min(D, R)] for D uniform on (lo, hi] and R exponential with mean `mttr`.
fn expected_outage(lo: f64, hi: f64, mttr: f64) -> f64 {
    let n = 10_000;
    (0..n)
        .map(|k| {
            let d = lo + (hi - lo) * (k as f64 + 0.5) / n as f64;
            mttr * (1.0 - (-d / mttr).exp())
        })
        .sum::<f64>()
        / n as f64
}

/// Reroute to a spare node: each failure costs the detection delay.
#[test]
fn reroute_downtime_is_the_detection_delay() {
    let mttf = 3600.0;
    let mttr = 360.0;
    let horizon = 500.0;
    for (monitoring, lo, hi) in [
        ("monitoring: { heartbeat: 2s, missed: 3 }", 4.0, 6.0),
        ("monitoring: { heartbeat: 10ms, missed: 1 }", 0.0, 0.01),
    ] {
        let m = model(&single_node("reroute", monitoring));
        let mut cache = PathCache::new();
        let mut per_outage = Moments::default();
        let mut avail = Moments::default();
        let (mut outages, mut repairs, mut moves) = (0u64, 0u64, 0u64);
        for i in 0..100 {
            let o = run_path_campaign(
                &m,
                CampaignSeed::derive(2, 0, i),
                hours(horizon),
                &mut cache,
            )
            .outcomes;
            let o = &o[0];
            avail.add(o.availability);
            outages += u64::from(o.outages);
            repairs += u64::from(o.repairs);
            moves += u64::from(o.moves_back);
            // Each outage's length, through the per-campaign mean.
            if o.outages_ended > 0 {
                for _ in 0..o.outages_ended {
                    per_outage.add(o.time_to_repair_mean_s);
                }
            }
        }
        let expect = expected_outage(lo, hi, mttr);
        let rate = 1.0 / (mttf + mttr);
        let expect_avail = 1.0 - rate * expect;
        eprintln!(
            "{monitoring}: {outages} outages, {repairs} reroutes, {moves} moves back; \
             downtime per outage {:.4} s (expected {expect:.4}); availability {:.7} ± {:.7} \
             (expected {expect_avail:.7}); cache {:?}",
            per_outage.mean(),
            avail.mean(),
            avail.std_error(),
            cache.stats()
        );
        // Downtime per outage within 4 % (the detection delay is uniform:
        // its SD is (hi − lo)/√12; ~40 000 outages).
        assert!(
            (per_outage.mean() - expect).abs() <= 0.04 * expect + 1e-6,
            "{} vs {expect}",
            per_outage.mean()
        );
        assert!(
            (avail.mean() - expect_avail).abs() <= 4.0 * avail.std_error() + 1e-7,
            "{} vs {expect_avail}",
            avail.mean()
        );
        // Nearly every outage is a reroute, followed by a move back.
        assert!(repairs as f64 >= 0.95 * outages as f64);
        assert!(moves as f64 >= 0.95 * repairs as f64);
    }
    // Instant detection (no monitoring): no downtime at all.
    let m = model(&single_node("reroute", ""));
    let mut cache = PathCache::new();
    for i in 0..20 {
        let o = run_path_campaign(
            &m,
            CampaignSeed::derive(2, 1, i),
            hours(horizon),
            &mut cache,
        )
        .outcomes;
        assert_eq!(o[0].downtime_s, 0.0);
        assert_eq!(o[0].availability, 1.0);
        assert!(o[0].repairs > 0);
    }
}

const LINE: &str = r#"
name: line
operators:
  - { id: f, input: a, output: b, cost: 1, cpu: 1, service_time: { dist: constant, value: 2ms } }
  - { id: g, input: b, output: c, cost: 1, cpu: 1, service_time: { dist: exponential, mean: 3ms } }
nodes:
  - { id: src, cpu: 0 }
  - { id: n1, cpu: 1 }
  - { id: n2, cpu: 1 }
  - { id: dst, cpu: 0 }
links:
  - { from: src, to: n1, delay: 10ms, loss: 0.01 }
  - { from: n1, to: n2, delay: 20ms, loss: 0.02 }
  - { from: n2, to: dst, delay: 30ms, loss: 0.03 }
paths:
  - id: p
    source: { node: src, type: a }
    sink: { node: dst, type: c }
    adu_rate: 2/s
    optimise: delay
"#;

/// ADU accounting on a failure-free, unloaded path.
#[test]
fn adu_accounting_loss_and_delay() {
    let m = model(LINE);
    let mut cache = PathCache::new();
    let o = &run_path_campaign(
        &m,
        CampaignSeed::derive(3, 0, 0),
        SimDuration::from_secs(20_000),
        &mut cache,
    )
    .outcomes[0];
    assert_eq!(
        o.adus_sent,
        o.adus_delivered + o.adus_lost + o.adus_in_flight
    );
    assert!(o.adus_in_flight <= 5);
    let n = (o.adus_sent - o.adus_in_flight) as f64;
    let p = 1.0 - 0.99 * 0.98 * 0.97;
    let lost = o.adus_lost as f64 / n;
    let se = (p * (1.0 - p) / n).sqrt();
    // 60 ms of links + 2 ms + 3 ms of service; queueing at ρ ≈ 0.006 adds
    // ~0.02 ms.
    let delay = 65.0;
    eprintln!(
        "sent {} delivered {} lost {} in flight {}; loss {lost:.5} (exact {p:.5}, SE {se:.5}); \
         delay mean {:.3} ms (expected ≈ {delay}), p99 {:.3} ms",
        o.adus_sent,
        o.adus_delivered,
        o.adus_lost,
        o.adus_in_flight,
        o.delay_mean_ms,
        o.delay_p99_ms
    );
    assert!((lost - p).abs() <= 4.0 * se, "{lost} vs {p}");
    assert!(
        (o.delay_mean_ms - delay).abs() < 0.15,
        "{}",
        o.delay_mean_ms
    );
    assert!(o.delay_mean_ms >= 65.0 - 0.1);
    assert_eq!(o.availability, 1.0);
    assert_eq!(o.outages, 0);
    assert!(o.time_to_repair_mean_s.is_nan());
}

fn media() -> PathModel {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/media-paths.yaml"
    ))
    .expect("scenarios/media-paths.yaml is readable");
    model(&text)
}

/// Same seed → same outcomes; a cache reused across campaigns changes
/// nothing.
#[test]
fn deterministic_whatever_the_cache() {
    let mut m = media();
    // Failures every few hours, so that a day sees repairs.
    for n in &mut m.nodes {
        if let Some(f) = &mut n.failure {
            f.time_between = sim_models::dist::Dist::exponential(3.0 * 3600.0).unwrap();
        }
    }
    for p in &mut m.paths {
        p.adu_rate = 2.0;
    }
    let mut shared = PathCache::new();
    let mut repairs = 0;
    for i in 0..8 {
        let seed = CampaignSeed::derive(4, 0, i);
        let a = run_path_campaign(&m, seed, hours(48.0), &mut shared).outcomes;
        let b = run_path_campaign(&m, seed, hours(48.0), &mut PathCache::new()).outcomes;
        let c = run_path_campaign(&m, seed, hours(48.0), &mut shared).outcomes;
        assert_eq!(a.len(), 3);
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            assert_eq!(x.path, y.path);
            assert_eq!(key(x), key(y), "{}", x.path);
            assert_eq!(key(x), key(z), "{}", x.path);
            repairs += x.repairs;
        }
    }
    assert!(repairs > 0, "the check must see repairs");
    let st = shared.stats();
    assert!(st.placement_hits > 0, "{st:?}");
}

/// What-if over the heartbeat interval on `scenarios/media-paths.yaml`:
/// longer heartbeats detect later, so availability drops.
#[test]
fn heartbeat_what_if_on_media_paths() {
    let base = media();
    let horizon = hours(5.0 * 8760.0);
    let campaigns = 40;
    let hbs = [0.5, 5.0, 30.0];
    // availability[hb][path] per campaign
    let mut avail = vec![vec![Vec::new(); base.paths.len()]; hbs.len()];
    let mut stats = vec![vec![(0u64, 0.0f64, 0u64); base.paths.len()]; hbs.len()];
    for (h, &hb) in hbs.iter().enumerate() {
        let mut m = base.clone();
        for p in &mut m.paths {
            p.monitoring = Some(MonitoringDef {
                heartbeat: hb,
                missed: 3,
            });
            // Availability does not depend on the ADUs; few keep it fast.
            p.adu_rate = 0.001;
        }
        let mut cache = PathCache::new();
        for i in 0..campaigns {
            let o =
                run_path_campaign(&m, CampaignSeed::derive(7, 0, i), horizon, &mut cache).outcomes;
            for (j, o) in o.iter().enumerate() {
                avail[h][j].push(o.availability);
                stats[h][j].0 += u64::from(o.outages);
                stats[h][j].1 += o.downtime_s;
                stats[h][j].2 += u64::from(o.repairs);
            }
        }
    }
    eprintln!(
        "| heartbeat | missed | detection mean | path | availability | outages | downtime/outage | reroutes |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|");
    for (h, &hb) in hbs.iter().enumerate() {
        for (j, p) in base.paths.iter().enumerate() {
            let mut mo = Moments::default();
            avail[h][j].iter().for_each(|&a| mo.add(a));
            let (out, down, rep) = stats[h][j];
            eprintln!(
                "| {hb} s | 3 | {:.2} s | {} | {:.7} ± {:.7} | {out} | {:.1} s | {rep} |",
                2.5 * hb,
                p.id,
                mo.mean(),
                mo.std_error(),
                if out > 0 { down / out as f64 } else { f64::NAN }
            );
        }
    }
    // Paired over the same seeds: availability falls as the heartbeat grows,
    // by more than 4 SE of the paired difference.
    for (j, path) in base.paths.iter().enumerate() {
        for h in 1..hbs.len() {
            let mut d = Moments::default();
            for (x, y) in avail[h - 1][j].iter().zip(&avail[h][j]) {
                d.add(x - y);
            }
            assert!(
                d.mean() > 4.0 * d.std_error() && d.mean() > 0.0,
                "{}: hb {} → {}: difference {} ± {}",
                path.id,
                hbs[h - 1],
                hbs[h],
                d.mean(),
                d.std_error()
            );
        }
    }
}

/// Every outage under reroute lasts one detection delay, in
/// `((missed − 1) · hb, missed · hb]`: constant up and down times (1000 s,
/// 100 s), so no node comes back before it is declared.
#[test]
fn detection_delay_stays_in_its_range() {
    let yaml = single_node("reroute", "monitoring: { heartbeat: 2s, missed: 3 }")
        .replace(
            "{ dist: exponential, mean: 1h }",
            "{ dist: constant, value: 1000s }",
        )
        .replace(
            "{ dist: exponential, mean: 6m }",
            "{ dist: constant, value: 100s }",
        );
    let m = model(&yaml);
    let mut cache = PathCache::new();
    let (mut lo, mut hi, mut n) = (f64::INFINITY, 0.0f64, 0u32);
    for i in 0..200 {
        let o = &run_path_campaign(
            &m,
            CampaignSeed::derive(5, 0, i),
            SimDuration::from_secs(1100),
            &mut cache,
        )
        .outcomes[0];
        // One cycle of 1100 s: at most one failure, which ends by reroute.
        assert!(o.outages <= 1);
        assert_eq!(o.repairs, o.outages_ended);
        if o.outages_ended == 1 {
            lo = lo.min(o.time_to_repair_mean_s);
            hi = hi.max(o.time_to_repair_mean_s);
            n += 1;
        }
    }
    eprintln!("{n} outages, lengths in [{lo:.4}, {hi:.4}] s");
    assert!(n > 100);
    assert!(lo > 4.0 && hi <= 6.0 + 1e-9, "[{lo}, {hi}]");
    assert!(lo < 4.1 && hi > 5.9, "the range is covered: [{lo}, {hi}]");
}

/// A path whose direct link `src–dst` is cut and repaired (MTTF 1 h, MTTR
/// 6 min); a detour `src–mid–dst` never fails. The operator sits on `src`.
fn cut_link(repair: &str, monitoring: &str) -> String {
    format!(
        r#"
name: cut
operators:
  - {{ id: f, input: a, output: b, cost: 1, cpu: 1, service_time: {{ dist: constant, value: 1ms }} }}
nodes:
  - {{ id: src, cpu: 1 }}
  - {{ id: mid, cpu: 0 }}
  - {{ id: dst, cpu: 0 }}
links:
  - from: src
    to: dst
    delay: 2ms
    failure: {{ time_between: {{ dist: exponential, mean: 1h }}, repair: {{ dist: exponential, mean: 6m }} }}
  - {{ from: src, to: mid, delay: 5ms }}
  - {{ from: mid, to: dst, delay: 5ms }}
paths:
  - id: p
    source: {{ node: src, type: a }}
    sink: {{ node: dst, type: b }}
    adu_rate: 0.01/s
    optimise: delay
    repair: {repair}
    {monitoring}
    cache_paths: true
"#
    )
}

/// Link faults: without repair the path is available while its link is
/// (MTTF / (MTTF + MTTR)); with reroute over the detour each cut costs the
/// detection delay, and the path moves back when the link is seen again.
#[test]
fn a_cut_link_is_repaired_around() {
    let m = model(&cut_link("none", ""));
    let mut cache = PathCache::new();
    let mut a = Moments::default();
    for i in 0..200 {
        let o =
            run_path_campaign(&m, CampaignSeed::derive(4, 0, i), hours(500.0), &mut cache).outcomes;
        a.add(o[0].availability);
    }
    let exact = 60.0 / 66.0;
    let (mean, se) = (a.mean(), a.std_error());
    eprintln!("cut link, no repair: availability {mean:.5} ± {se:.5} (exact {exact:.5})");
    assert!(
        se < 0.001 && (mean - exact).abs() <= 4.0 * se,
        "{mean} vs {exact} ± {se}"
    );

    let m = model(&cut_link(
        "reroute",
        "monitoring: { heartbeat: 2s, missed: 3 }",
    ));
    let mut cache = PathCache::new();
    let (mut outages, mut downtime, mut repairs, mut moves) = (0u64, 0.0, 0u64, 0u64);
    let mut avail = Moments::default();
    for i in 0..100 {
        let o =
            run_path_campaign(&m, CampaignSeed::derive(5, 0, i), hours(500.0), &mut cache).outcomes;
        outages += u64::from(o[0].outages);
        downtime += o[0].downtime_s;
        repairs += u64::from(o[0].repairs);
        moves += u64::from(o[0].moves_back);
        avail.add(o[0].availability);
    }
    let per = downtime / outages as f64;
    let want = expected_outage(4.0, 6.0, 360.0);
    eprintln!(
        "cut link, reroute: {outages} outages, {repairs} reroutes, {moves} moves back, \
         {per:.3} s per outage (expected {want:.3}), availability {:.7}",
        avail.mean()
    );
    assert!(outages > 1000, "{outages}");
    assert!((per - want).abs() < 0.05, "{per} vs {want}");
    assert!(
        repairs as f64 > 0.95 * outages as f64,
        "{repairs} of {outages}"
    );
    assert!(moves as f64 > 0.95 * repairs as f64, "{moves} of {repairs}");
    assert!(avail.mean() > 0.998, "{}", avail.mean());
}
