//! Which predicted scenarios an export takes (`--scenario`, `--min-severity`,
//! `--top`), and the rule every abort threshold must meet before it is
//! written: strictly between the healthy steady state and the SLO's breach
//! level.

use sim_engine::error::Error;

use crate::read::{Predicted, Run};

/// Severities, least first.
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// Which scenarios to export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// At most this many, best rank first.
    pub top: Option<usize>,
    /// Only scenarios at or above this severity.
    pub min_severity: Option<String>,
    /// Only these scenario ids (in rank order, whatever order given).
    pub scenarios: Vec<String>,
}

/// One abort threshold and whether it may be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The value, from `scenarios.parquet`.
    pub value: f64,
    /// Where it came from (`between`, `healthy`, `no_slo`).
    pub basis: String,
    /// The healthy steady state it must lie above.
    pub healthy: f64,
    /// The healthy one-second noise bound (99.9th percentile), which it
    /// must not lie below.
    pub healthy_high: f64,
    /// The SLO's breach level it must lie below (none without an SLO).
    pub breach: Option<f64>,
    /// Why it is not written, when it is not.
    pub refused: Option<String>,
}

impl Threshold {
    fn new(value: f64, basis: &str, healthy: f64, healthy_high: f64, breach: Option<f64>) -> Self {
        let refused = if !value.is_finite() {
            Some("not a number in scenarios.parquet".to_owned())
        } else if value <= healthy {
            Some(format!(
                "{value} is not above the healthy steady state {healthy}"
            ))
        } else if value < healthy_high {
            Some(format!(
                "{value} is below the healthy one-second noise bound {healthy_high}: a healthy system reaches it"
            ))
        } else {
            breach.filter(|b| value >= *b).map(|b| {
                let noise = if healthy_high >= b {
                    format!(" (the healthy one-second noise, {healthy_high}, already reaches it)")
                } else {
                    String::new()
                };
                format!("{value} is not below the SLO's breach level {b}{noise}")
            })
        };
        Threshold {
            value,
            basis: basis.to_owned(),
            healthy,
            healthy_high,
            breach,
            refused,
        }
    }

    /// Whether the threshold may be written.
    pub fn usable(&self) -> bool {
        self.refused.is_none()
    }
}

/// A scenario to export, with its checked thresholds.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// Its row of `scenarios.parquet`.
    pub row: Predicted,
    /// Stop when the one-second error rate reaches this.
    pub abort_error_rate: Threshold,
    /// Stop when the one-second p99 (ms) reaches this.
    pub abort_latency_p99_ms: Threshold,
}

/// The scenarios an export takes, and what it says about them.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// In rank order.
    pub chosen: Vec<Chosen>,
    /// Warnings (a threshold not written).
    pub warnings: Vec<String>,
}

/// Chooses the scenarios of `run` that `filter` asks for and checks their
/// thresholds. `strict`: a threshold that cannot be written is an error.
pub fn select(run: &Run, filter: &Filter, strict: bool) -> Result<Selection, Error> {
    let known: Vec<&str> = run
        .predicted
        .iter()
        .map(|p| p.scenario_id.as_str())
        .collect();
    for id in &filter.scenarios {
        if !known.contains(&id.as_str()) {
            return Err(Error::input(format!(
                "preflight: export: --scenario {id}: no such scenario in {}/scenarios.parquet; it has {}",
                run.dir.display(),
                known.join(", ")
            )));
        }
    }
    let min = match &filter.min_severity {
        None => None,
        Some(s) => Some(SEVERITIES.iter().position(|k| k == s).ok_or_else(|| {
            Error::input(format!(
                "preflight: export: --min-severity {s}: expected one of {}",
                SEVERITIES.join(", ")
            ))
        })?),
    };
    let (breach_error, breach_latency) = run.breach();
    let mut out = Selection::default();
    // The same bounds hold for every scenario of a run: one warning per
    // reason, naming the scenarios.
    let mut refused: Vec<(String, Vec<String>)> = Vec::new();
    for row in &run.predicted {
        if !filter.scenarios.is_empty() && !filter.scenarios.contains(&row.scenario_id) {
            continue;
        }
        if !passes_min_severity(&row.severity, min) {
            if min.is_some() && !SEVERITIES.contains(&row.severity.as_str()) {
                out.warnings.push(format!(
                    "preflight: export: scenario {} (rank {}) has severity `{}`, not one of {}: left out by --min-severity",
                    row.scenario_id,
                    row.rank,
                    row.severity,
                    SEVERITIES.join(", ")
                ));
            }
            continue;
        }
        if filter.top.is_some_and(|n| out.chosen.len() >= n) {
            break;
        }
        let e = Threshold::new(
            row.abort_error_rate,
            &row.abort_error_rate_basis,
            row.healthy_error_rate,
            row.healthy_error_rate_high,
            breach_error,
        );
        let l = Threshold::new(
            row.abort_latency_p99_ms,
            &row.abort_latency_p99_basis,
            row.healthy_latency_p99_ms,
            row.healthy_latency_p99_high_ms,
            breach_latency,
        );
        for (what, t) in [("error-rate", &e), ("p99 latency (ms)", &l)] {
            if let Some(why) = &t.refused {
                if strict {
                    return Err(Error::input(format!(
                        "preflight: export: scenario {} (rank {}): its abort {what} threshold cannot be exported: {why} (--strict)",
                        row.scenario_id, row.rank
                    )));
                }
                let reason = format!("abort {what} threshold is not exported: {why}");
                match refused.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, ids)) => ids.push(row.scenario_id.clone()),
                    None => refused.push((reason, vec![row.scenario_id.clone()])),
                }
            }
        }
        if !e.usable() && !l.usable() {
            return Err(Error::input(format!(
                "preflight: export: scenario {} (rank {}) has no abort threshold strictly between the healthy steady state and the SLO's breach level (error rate: {}; p99: {}), so a live experiment of it could not be stopped in time; leave it out (--scenario, --top, --min-severity) or give its handlers an SLO the healthy system meets",
                row.scenario_id,
                row.rank,
                e.refused.as_deref().unwrap_or("ok"),
                l.refused.as_deref().unwrap_or("ok"),
            )));
        }
        out.chosen.push(Chosen {
            row: row.clone(),
            abort_error_rate: e,
            abort_latency_p99_ms: l,
        });
    }
    for (reason, ids) in refused {
        out.warnings
            .push(format!("{reason} (scenarios {})", ids.join(", ")));
    }
    let mut names: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    for c in &out.chosen {
        let name = crate::k8s_name(&c.row.scenario_id);
        if let Some(other) = names.insert(name.clone(), &c.row.scenario_id) {
            return Err(Error::input(format!(
                "preflight: export: scenarios `{other}` and `{}` have the same name in files and Kubernetes objects, `{name}`: leave one out (--scenario) or rename a resource",
                c.row.scenario_id
            )));
        }
    }
    if out.chosen.is_empty() {
        return Err(Error::input(format!(
            "preflight: export: no scenario of {}/scenarios.parquet matches (it has {} scenarios{})",
            run.dir.display(),
            run.predicted.len(),
            filter
                .min_severity
                .as_ref()
                .map(|s| format!("; --min-severity {s}"))
                .unwrap_or_default()
        )));
    }
    Ok(out)
}

/// Whether a scenario of `severity` passes `--min-severity` (`min`: its
/// index in [`SEVERITIES`]). With the filter, a severity that is not one of
/// them (a hand-edited or newer `scenarios.parquet`) does not pass: it
/// cannot be shown to be at least `min`.
fn passes_min_severity(severity: &str, min: Option<usize>) -> bool {
    match min {
        None => true,
        Some(min) => SEVERITIES
            .iter()
            .position(|k| *k == severity)
            .is_some_and(|s| s >= min),
    }
}

#[cfg(test)]
mod tests {
    use super::{Threshold, passes_min_severity};

    #[test]
    fn min_severity_leaves_out_lower_and_unknown_severities() {
        assert!(passes_min_severity("low", None));
        assert!(passes_min_severity("catastrophic", None), "no filter");
        assert!(passes_min_severity("high", Some(1)));
        assert!(passes_min_severity("medium", Some(1)));
        assert!(!passes_min_severity("low", Some(1)));
        assert!(!passes_min_severity("catastrophic", Some(0)));
        assert!(!passes_min_severity("", Some(0)));
    }

    #[test]
    fn a_threshold_is_written_only_strictly_between_healthy_and_breach() {
        let t = |value, breach| Threshold::new(value, "between", 0.001, 0.004, breach);
        assert!(t(0.02, Some(0.036)).usable());
        assert!(t(0.02, None).usable(), "no SLO: above healthy is enough");
        let at_breach = t(0.036, Some(0.036));
        assert!(!at_breach.usable());
        assert!(
            at_breach
                .refused
                .as_deref()
                .unwrap()
                .contains("not below the SLO's breach level 0.036"),
            "{at_breach:?}"
        );
        assert!(!t(0.001, Some(0.036)).usable(), "equal to healthy");
        let in_noise = t(0.003, Some(0.036));
        assert!(!in_noise.usable(), "between the median and the noise bound");
        assert!(
            in_noise
                .refused
                .as_deref()
                .unwrap()
                .contains("noise bound 0.004"),
            "{in_noise:?}"
        );
        assert!(t(0.004, Some(0.036)).usable(), "at the noise bound");
        assert!(!t(0.0005, Some(0.036)).usable(), "below healthy");
        assert!(!t(f64::NAN, Some(0.036)).usable());
        assert!(!t(f64::INFINITY, None).usable());
    }
}
