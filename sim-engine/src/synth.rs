//! `preflight synth`: an incident history drawn from a scenario's own model.
//!
//! Every failure process of the scenario (as written: `historical_faults:`
//! is not applied, the failure modes in the file are the truth) runs over
//! `years` years from the equilibrium start, exactly as a natural campaign
//! of that length would draw it, and each fault becomes one row of the
//! incident-history format (`resource`, `resource_type`, `mode`, `start`,
//! `end`, `cause`). Because the true model is known, such a history is what
//! calibration and fitting are tested against.
//!
//! A resource with one replica, or a failure mode with `scope: resource`,
//! appears under its id; the replicas of a resource with several appear as
//! `ID#K` (K from 0), so that each replica's times between failures stay
//! its own. Faults still open at the end of the window have an empty `end`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sim_core::{CampaignSeed, SimDuration};
use sim_models::campaign::CampaignMode;
use sim_models::model::{FaultScope, Model};
use sim_models::two_scale::fault_timeline;

use crate::error::Error;

/// Seconds in a (Julian) year, the unit of `--years`.
pub const YEAR_S: f64 = 365.25 * 86_400.0;

/// Options of `preflight synth`.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Scenario file (.yaml, .yml, .toml or .json).
    pub scenario: PathBuf,
    /// Where the files the scenario names may be (`--allow-external-files`).
    pub file_access: crate::inputs::FileAccess,
    /// Length of the history, in years (fractions allowed).
    pub years: f64,
    /// Seed of the draw (default: the scenario's `seed`, else 0).
    pub seed: Option<u64>,
    /// When the history starts (RFC 3339).
    pub start: String,
    /// CSV file to write (default: standard output).
    pub out: Option<PathBuf>,
}

/// One synthetic incident.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthIncident {
    /// `ID`, or `ID#K` for replica K of a resource with several.
    pub resource: String,
    /// The resource's type.
    pub resource_type: &'static str,
    /// The failure mode.
    pub mode: String,
    /// Seconds after the start of the history.
    pub start_s: f64,
    /// Seconds after the start; `None` when still open at the end.
    pub end_s: Option<f64>,
}

/// The incidents of `model`'s failure processes over `span_s` seconds, drawn
/// with `seed` (a natural campaign of that length, stream for stream).
pub fn draw_history(model: &Model, seed: u64, span_s: f64) -> Vec<SynthIncident> {
    let mut m = model.clone();
    m.horizon = SimDuration::from_secs_f64(span_s);
    let timeline = fault_timeline(&m, CampaignSeed::derive(seed, 0, 0), CampaignMode::Natural);
    timeline
        .faults
        .iter()
        .filter_map(|f| {
            let i = f.process? as usize;
            let def = &m.faults[i];
            let r = &m.resources[def.resource];
            let resource = match def.scope {
                FaultScope::Replica(k) if r.replicas > 1 => format!("{}#{k}", r.id),
                _ => r.id.clone(),
            };
            let end = f.off.as_secs_f64();
            Some(SynthIncident {
                resource,
                resource_type: r.kind.as_str(),
                mode: def.mode.to_string(),
                start_s: f.on.as_secs_f64(),
                end_s: (end <= span_s).then_some(end),
            })
        })
        .collect()
}

fn rfc3339(start: &DateTime<Utc>, secs: f64) -> String {
    let t = *start + chrono::Duration::milliseconds((secs * 1e3).round() as i64);
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `preflight synth`.
pub fn synth(opts: &SynthOptions) -> Result<Option<String>, Error> {
    if !(opts.years.is_finite() && opts.years > 0.0 && opts.years <= 10_000.0) {
        return Err(Error::input(format!(
            "preflight: --years: expected a number of years above 0 and at most 10000, got {}",
            opts.years
        )));
    }
    let start = DateTime::parse_from_rfc3339(&opts.start)
        .map_err(|e| {
            Error::input(format!(
                "preflight: --start: expected an RFC 3339 time like 2000-01-01T00:00:00Z, got `{}` ({e})",
                opts.start
            ))
        })?
        .with_timezone(&Utc);
    let mut loaded = crate::prepare::load(&opts.scenario, opts.file_access)?;
    // The truth is the scenario as written, not a refit of it.
    loaded.scenario.historical_faults = None;
    let base = crate::prepare::prepare_variants(&loaded, "base")?;
    let model = &base[0].model;
    let seed = opts.seed.or(loaded.scenario.seed).unwrap_or(0);
    let incidents = draw_history(model, seed, opts.years * YEAR_S);

    let mut text = String::from("resource,resource_type,mode,start,end,cause\n");
    for i in &incidents {
        text.push_str(&format!(
            "{},{},{},{},{},synthetic\n",
            i.resource,
            i.resource_type,
            i.mode,
            rfc3339(&start, i.start_s),
            i.end_s.map(|e| rfc3339(&start, e)).unwrap_or_default()
        ));
    }
    match &opts.out {
        Some(path) => {
            // Written beside the target and renamed: never a partial file.
            sim_output::write_file_atomic(path, text.as_bytes()).map_err(|e| {
                Error::environment(format!("preflight: --out {}: {e}", path.display()))
            })?;
            eprintln!(
                "preflight: {} incidents over {} years ({} to {}) → {}",
                incidents.len(),
                opts.years,
                rfc3339(&start, 0.0),
                rfc3339(&start, opts.years * YEAR_S),
                path.display()
            );
            Ok(None)
        }
        None => Ok(Some(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_models::compile::{Empirical, compile};

    fn model(yaml: &str) -> Model {
        let s: sim_models::spec::Scenario = serde_saphyr::from_str(yaml).unwrap();
        compile(
            &s,
            &crate::defaults::default_failure_modes(),
            &Empirical::new(),
        )
        .unwrap()
    }

    const TWO: &str = r#"
name: synth
horizon: 1h
resources:
  - { id: db, type: database, replicas: 2,
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 100h },
                         repair: { dist: constant, value: 1h } } ] }
  - { id: api, type: service, failure_modes: [] }
handlers:
  - { id: h, runs_on: api, operations: [ { name: op, steps: [ { call: db } ] } ] }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 1/s } }
"#;

    #[test]
    fn the_history_follows_the_model() {
        let m = model(TWO);
        let years = 50.0;
        let h = draw_history(&m, 7, years * YEAR_S);
        // Two replicas, each failing every 101 hours on average.
        let expected = 2.0 * years * YEAR_S / (101.0 * 3600.0);
        let n = h.len() as f64;
        assert!(
            (n - expected).abs() < 4.0 * expected.sqrt(),
            "{n} vs {expected}"
        );
        assert!(
            h.iter()
                .all(|i| i.resource == "db#0" || i.resource == "db#1")
        );
        assert!(
            h.iter()
                .all(|i| i.mode == "process_crash" && i.resource_type == "database")
        );
        // Repairs are the constant hour, except one still open at the end.
        let open = h.iter().filter(|i| i.end_s.is_none()).count();
        assert!(open <= 2);
        for i in h.iter().filter(|i| i.start_s > 0.0) {
            if let Some(e) = i.end_s {
                assert!((e - i.start_s - 3600.0).abs() < 1e-6);
            }
        }
        // Up times of one replica average 100 hours.
        let mut r0: Vec<&SynthIncident> = h.iter().filter(|i| i.resource == "db#0").collect();
        r0.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        let ups: Vec<f64> = r0
            .windows(2)
            .filter_map(|w| w[0].end_s.map(|e| w[1].start_s - e))
            .collect();
        let mean = ups.iter().sum::<f64>() / ups.len() as f64 / 3600.0;
        assert!(
            (mean - 100.0).abs() < 4.0 * 100.0 / (ups.len() as f64).sqrt(),
            "{mean}"
        );
        // Deterministic for a seed, different across seeds.
        assert_eq!(h, draw_history(&m, 7, years * YEAR_S));
        assert_ne!(h, draw_history(&m, 8, years * YEAR_S));
    }
}
