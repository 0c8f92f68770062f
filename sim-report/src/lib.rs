//! `preflight report RUN_DIR`: one self-contained HTML page of a run
//! directory — the verdict per handler, what-if differences, where risk
//! comes from, latency, predicted scenarios and remediation, live-injection
//! timelines, service paths, calibration, forecasts and the manifest — with
//! every plot an inline SVG drawn by plotters and every number read from
//! the run directory's files (`docs/report.md`).
//!
//! Each section appears only when the run has its data. Nothing is
//! fetched: no script, no stylesheet, no font, no image from elsewhere.

mod error;
mod html;
mod plots;
mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use html::{esc, figure, table as html_table};
use plots::{IntervalRow, truncate};
use sim_output::manifest::Manifest;
use table::Table;

pub use error::Error;
pub use sim_output::{REPORT_FILE, REPORT_MARKER, is_report};

/// Predicted scenarios listed at most.
const TOP_SCENARIOS: usize = 15;

/// Timelines drawn at most.
const TIMELINES: usize = 4;

/// Writes the report of `run_dir` to `out` atomically (a temporary file
/// beside it, renamed). `out` may replace only an earlier report
/// ([`is_report`]). Returns the page's size in bytes.
pub fn write(run_dir: &Path, out: &Path) -> Result<u64, Error> {
    if out.exists() && !is_report(out) {
        return Err(Error::Input(format!(
            "preflight: report: --out {}: the file exists and is not a report Preflight wrote; not replaced (remove it or choose another path)",
            out.display()
        )));
    }
    let page = render(run_dir)?;
    let env = |e: std::io::Error| {
        Error::Environment(format!("preflight: report: {}: {e}", out.display()))
    };
    sim_output::write_file_atomic(out, page.as_bytes()).map_err(env)?;
    // A page to share: readable by others, as the files a run writes are.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o644)).map_err(env)?;
    }
    Ok(page.len() as u64)
}

/// The report of `run_dir` as one HTML document.
pub fn render(run_dir: &Path) -> Result<String, Error> {
    let manifest_path = run_dir.join("manifest.json");
    if !manifest_path.is_file() {
        return Err(Error::Input(format!(
            "preflight: report: {}: not a run directory (no manifest.json)",
            run_dir.display()
        )));
    }
    let m = Manifest::read(&manifest_path)
        .map_err(|e| Error::Input(format!("preflight: report: {e}")))?;
    if m.tool != sim_output::manifest::TOOL {
        return Err(Error::Input(format!(
            "preflight: report: {}: its manifest.json is not a Preflight run's",
            run_dir.display()
        )));
    }
    let r = Run::read(run_dir, m)?;
    let mut body = String::new();
    let mut nav: Vec<(&str, &str)> = Vec::new();
    let mut section = |id: &'static str, title: &'static str, content: String| {
        if content.is_empty() {
            return;
        }
        nav.push((id, title));
        let _ = write!(
            body,
            "<section id=\"{id}\" aria-labelledby=\"{id}-h\">\n<h2 id=\"{id}-h\">{}</h2>\n{content}</section>\n",
            esc(title)
        );
    };
    section("verdict", "Verdict", r.verdict()?);
    section("what-if", "What-if variants", r.what_if()?);
    section("telemetry", "Telemetry and forecasts", r.telemetry()?);
    section(
        "contributors",
        "Where the risk comes from",
        r.contributors()?,
    );
    section("latency", "Latency", r.latency()?);
    section("scenarios", "Predicted injection scenarios", r.scenarios()?);
    section("remediation", "Remediation", r.remediation()?);
    section("timelines", "Live-injection timelines", r.timelines()?);
    section("paths", "Service paths", r.paths()?);
    section("calibration", "Calibration", r.calibration()?);
    section("reproduce", "Reproducing this run", r.reproduce());
    let m = &r.m;
    let mut page = String::with_capacity(body.len() + 8192);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{REPORT_MARKER}\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>Preflight report: {}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n<header>\n\
         <h1>Preflight report: {}</h1>\n<p class=\"meta\">{}</p>\n<nav aria-label=\"Sections\"><ul>",
        esc(&m.run.scenario),
        html::STYLE,
        esc(&m.run.scenario),
        esc(&format!(
            "{} campaigns per job, seed {}, {} scale, {} streams; {}; Preflight {} (commit {}); {:.1} s",
            m.run.campaigns,
            m.run.seed,
            m.run.scale,
            m.run.streams,
            m.run.scenario_file,
            m.run.tool_version,
            m.run.tool_commit,
            m.run.wall_time_s
        ))
    );
    for (id, title) in &nav {
        let _ = write!(page, "<li><a href=\"#{id}\">{}</a></li>", esc(title));
    }
    page += "</ul></nav>\n</header>\n";
    page += &body;
    page += "</main>\n</body>\n</html>\n";
    Ok(page)
}

/// `5400` → `1.5h`.
fn span(s: f64) -> String {
    if s >= 86_400.0 && (s / 86_400.0).fract() == 0.0 {
        format!("{}d", s / 86_400.0)
    } else if s >= 3600.0 {
        format!("{:.3}h", s / 3600.0)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    } else if s >= 60.0 {
        format!("{:.1}m", s / 60.0).replace(".0m", "m")
    } else {
        format!("{s:.0}s")
    }
}

fn f(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "–".into(),
    }
}

/// A run directory, read.
struct Run {
    dir: PathBuf,
    m: Manifest,
    risk: Option<Table>,
    scenarios: Option<Table>,
    handlers: Option<Table>,
    /// The failure processes active in each natural campaign of the base
    /// (`campaigns.parquet`'s `faults`), by campaign.
    base_faults: BTreeMap<u64, String>,
}

impl Run {
    fn read(dir: &Path, m: Manifest) -> Result<Run, Error> {
        Ok(Run {
            dir: dir.to_path_buf(),
            risk: Table::read(dir, "risk.parquet")?,
            scenarios: Table::read(dir, "scenarios.parquet")?,
            handlers: Table::read(dir, "handlers.parquet")?,
            base_faults: match Table::read(dir, "campaigns.parquet")? {
                Some(c) => base_faults(&c)?,
                None => BTreeMap::new(),
            },
            m,
        })
    }

    fn internal(e: String) -> Error {
        Error::Internal(format!("preflight: report: a plot could not be drawn: {e}"))
    }

    /// Per handler of the base: the risk with its interval against its
    /// threshold and the gate, a one-line verdict each.
    fn verdict(&self) -> Result<String, Error> {
        let Some(t) = &self.risk else {
            return Ok(String::new());
        };
        let (variant, handler) = (t.str("variant")?, t.str("handler")?);
        let (risk, low, high) = (t.f64("risk")?, t.f64("ci_low")?, t.f64("ci_high")?);
        let (threshold, has_slo) = (t.f64("threshold")?, t.bool("has_slo")?);
        let (campaigns, breaches) = (t.f64("campaigns")?, t.f64("breaches")?);
        let window = t.f64("window_s")?;
        let calibrated = t.f64("calibrated_risk")?;
        let gate = self.m.run.risk_gate;
        let rows: Vec<usize> = (0..t.rows())
            .filter(|&i| variant[i] == "base" && has_slo[i])
            .collect();
        if rows.is_empty() {
            return Ok(String::new());
        }
        let per = window[rows[0]].map_or(String::new(), span);
        let mut out = String::new();
        let mut table_rows = Vec::new();
        for &i in &rows {
            let (lo, hi, th) = (
                low[i].unwrap_or(f64::NAN),
                high[i].unwrap_or(f64::NAN),
                threshold[i].unwrap_or(f64::NAN),
            );
            let (class, word) = if lo > th {
                ("fail", "over its threshold")
            } else if hi <= th {
                ("pass", "within its threshold")
            } else {
                ("undecided", "undecided against its threshold")
            };
            let gate_word = match gate {
                Some(g) if lo > g => format!("; the gate ({g}) fails it"),
                Some(g) if hi <= g => format!("; the gate ({g}) passes it"),
                Some(g) => format!("; undecided against the gate ({g})"),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "<p class=\"verdict {class}\"><strong>{}</strong>: risk {} per {per} [{}, {}] — {word} ({}){}; {} of {} campaigns breached its SLO.</p>",
                esc(&handler[i]),
                f(risk[i], 4),
                f(low[i], 4),
                f(high[i], 4),
                f(threshold[i], 3),
                esc(&gate_word),
                f(breaches[i], 0),
                f(campaigns[i], 0)
            );
            table_rows.push(vec![
                handler[i].clone(),
                f(risk[i], 4),
                format!("[{}, {}]", f(low[i], 4), f(high[i], 4)),
                f(threshold[i], 3),
                f(calibrated[i], 4),
                format!("{} / {}", f(breaches[i], 0), f(campaigns[i], 0)),
            ]);
        }
        let plot_rows: Vec<IntervalRow> = rows
            .iter()
            .map(|&i| IntervalRow {
                label: handler[i].clone(),
                point: risk[i].unwrap_or(f64::NAN),
                low: low[i].unwrap_or(f64::NAN),
                high: high[i].unwrap_or(f64::NAN),
                mark: threshold[i],
            })
            .collect();
        let lines: Vec<(f64, &str)> = gate
            .map(|g| (g, "the gate (risk.gate)"))
            .into_iter()
            .collect();
        let title = format!(
            "Risk of breaching the SLO per {per}, per handler, with 95% intervals, thresholds and the gate"
        );
        let svg = plots::intervals(
            &title,
            &format!("P(SLO breached within {per})"),
            &plot_rows,
            &lines,
        )
        .map_err(Self::internal)?;
        out += &figure(
            &svg,
            &format!(
                "Natural faults only. The dot is the estimate, the bar its 95% interval, the red cross the handler's threshold{}.",
                if gate.is_some() {
                    ", the line the gate"
                } else {
                    ""
                }
            ),
        );
        out += &html_table(
            "Risk per handler (risk.parquet, variant base)",
            &[
                "handler",
                "risk",
                "95% interval",
                "threshold",
                "calibrated",
                "breaches / campaigns",
            ],
            &table_rows,
        );
        let sw = self.m.run.scenario_risk_window_s;
        if let Some(w) = window[rows[0]]
            && sw > 0.0
            && (w - sw).abs() > 1e-6
        {
            let _ = writeln!(
                out,
                "<p class=\"note\">This risk is per {} (the campaign horizon), not per the scenario's risk window of {}: the thresholds and the likelihoods of the predicted scenarios are per {}.</p>",
                span(w),
                span(sw),
                span(sw)
            );
        }
        Ok(out)
    }

    /// Each variant's paired difference from the base.
    fn what_if(&self) -> Result<String, Error> {
        let Some(t) = &self.risk else {
            return Ok(String::new());
        };
        let (variant, handler) = (t.str("variant")?, t.str("handler")?);
        let (d, lo, hi) = (
            t.f64("risk_diff")?,
            t.f64("risk_diff_low")?,
            t.f64("risk_diff_high")?,
        );
        let (risk, has_slo) = (t.f64("risk")?, t.bool("has_slo")?);
        let rows: Vec<usize> = (0..t.rows())
            .filter(|&i| variant[i] != "base" && has_slo[i] && d[i].is_some())
            .collect();
        if rows.is_empty() {
            return Ok(String::new());
        }
        let plot_rows: Vec<IntervalRow> = rows
            .iter()
            .map(|&i| IntervalRow {
                label: format!("{} / {}", variant[i], handler[i]),
                point: d[i].unwrap_or(f64::NAN),
                low: lo[i].unwrap_or(f64::NAN),
                high: hi[i].unwrap_or(f64::NAN),
                mark: None,
            })
            .collect();
        let title =
            "Risk difference of each variant from the base, same campaigns, with 95% intervals";
        let svg = plots::intervals(
            title,
            "risk(variant) − risk(base)",
            &plot_rows,
            &[(0.0, "no difference")],
        )
        .map_err(Self::internal)?;
        let mut out = figure(
            &svg,
            "Each variant reuses the base's campaign seeds (common random numbers); the interval is Newcombe's paired interval. Left of the line: the change lowers the risk.",
        );
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|&i| {
                let sig = matches!((lo[i], hi[i]), (Some(l), Some(h)) if l > 0.0 || h < 0.0);
                vec![
                    variant[i].clone(),
                    handler[i].clone(),
                    f(risk[i], 4),
                    f(d[i], 4),
                    format!("[{}, {}]", f(lo[i], 4), f(hi[i], 4)),
                    if sig { "yes" } else { "no" }.into(),
                ]
            })
            .collect();
        out += &html_table(
            "Paired differences (risk.parquet)",
            &[
                "variant",
                "handler",
                "variant risk",
                "difference",
                "95% interval",
                "significant",
            ],
            &table_rows,
        );
        Ok(out)
    }

    /// What the telemetry raised, and each forecast with its history.
    fn telemetry(&self) -> Result<String, Error> {
        let Some(t) = &self.m.run.telemetry else {
            return Ok(String::new());
        };
        let mut out = String::new();
        let rows: Vec<Vec<String>> = t
            .raised
            .iter()
            .map(|r| {
                vec![
                    format!("{}/{}", r.resource, r.metric),
                    r.threshold.clone(),
                    r.mode.clone(),
                    r.model.clone(),
                    f(Some(r.probability), 3),
                    r.time_to_crossing_s.map_or("–".into(), span),
                    f(Some(r.rate_per_s * self.m.run.scenario_risk_window_s), 3),
                    f(
                        Some(r.natural_rate_per_s * self.m.run.scenario_risk_window_s),
                        3,
                    ),
                    r.scenarios
                        .iter()
                        .map(|s| format!("{}: {:.3} → {:.3}", s.scenario_id, s.without, s.with))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
            .collect();
        let w = span(self.m.run.scenario_risk_window_s);
        out += &html_table(
            &format!(
                "Forecast {} ahead from {} (manifest.json); onsets per {w}",
                span(t.horizon_s),
                t.file
            ),
            &[
                "series",
                "threshold",
                "failure mode",
                "model",
                "P(crossing)",
                "time to crossing",
                "onsets added",
                "natural onsets",
                "predicted scenarios: likelihood without → with",
            ],
            &rows,
        );
        let Some(fc) = Table::read(&self.dir, "forecast.parquet")? else {
            return Ok(out);
        };
        let (res, met, mean) = (fc.str("resource")?, fc.str("metric")?, fc.f64("mean")?);
        let ts = fc.f64("timestamp")?;
        let cols: Vec<Vec<Option<f64>>> = ["lower_80", "upper_80", "lower_95", "upper_95"]
            .iter()
            .map(|c| fc.f64(c))
            .collect::<Result<_, _>>()?;
        // The history, from the telemetry file when it is still there and
        // has not changed (its hash is in the manifest).
        let history = std::fs::read(&t.file)
            .ok()
            .filter(|b| sim_output_sha256(b) == t.sha256)
            .and_then(|b| {
                sim_forecast::data::read(Path::new(&t.file), &b, &sim_forecast::Naming::default())
                    .ok()
            });
        for r in &t.raised {
            let idx: Vec<usize> = (0..fc.rows())
                .filter(|&i| res[i] == r.resource && met[i] == r.metric)
                .collect();
            let Some(&first) = idx.first() else { continue };
            // Timestamps are seconds (cast from the UTC timestamp column).
            let step0 = ts[first].unwrap_or(0.0);
            let series = history.as_ref().and_then(|h| {
                h.iter()
                    .find(|s| s.resource == r.resource && s.metric == r.metric)
            });
            let last_t = series.map_or(step0, |s| s.time(s.values.len() - 1) as f64);
            let steps: Vec<(f64, f64, f64, f64, f64, f64)> = idx
                .iter()
                .map(|&i| {
                    let c = |k: usize| cols[k][i].unwrap_or(f64::NAN);
                    (
                        (ts[i].unwrap_or(0.0) - last_t) / 3600.0,
                        mean[i].unwrap_or(f64::NAN),
                        c(0),
                        c(1),
                        c(2),
                        c(3),
                    )
                })
                .collect();
            let horizon_h = steps.last().map_or(1.0, |s| s.0).max(1e-6);
            let hist: Vec<(f64, f64)> = series
                .map(|s| {
                    (0..s.values.len())
                        .map(|i| ((s.time(i) as f64 - last_t) / 3600.0, s.values[i]))
                        .filter(|(h, _)| *h >= -3.0 * horizon_h)
                        .collect()
                })
                .unwrap_or_default();
            let threshold = r
                .threshold
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse::<f64>().ok());
            let title = format!(
                "{}/{}: history, forecast with 80% and 95% bands, and the threshold {}",
                r.resource, r.metric, r.threshold
            );
            let svg = plots::forecast(
                &title,
                &r.metric,
                &plots::ForecastPlot {
                    history: &hist,
                    steps: &steps,
                    threshold,
                },
            )
            .map_err(Self::internal)?;
            out += &figure(
                &svg,
                &format!(
                    "P(crossing within {}) = {:.3}{}. {}",
                    span(t.horizon_s),
                    r.probability,
                    r.time_to_crossing_s
                        .map(|s| format!(", in {} on average when it does", span(s)))
                        .unwrap_or_default(),
                    if hist.is_empty() {
                        "The history is not shown: the telemetry file is gone or changed since the run."
                    } else {
                        "History from the telemetry file the run read (same SHA-256)."
                    }
                ),
            );
        }
        Ok(out)
    }

    /// The failure processes most often active in each handler's breaches.
    fn contributors(&self) -> Result<String, Error> {
        let Some(h) = &self.handlers else {
            return Ok(String::new());
        };
        let by_campaign = &self.base_faults;
        let (hv, hm, hc, hh, breached) = (
            h.str("variant")?,
            h.str("mode")?,
            h.f64("campaign")?,
            h.str("handler")?,
            h.bool("slo_breached")?,
        );
        let mut per: BTreeMap<&str, (u64, BTreeMap<&str, u64>)> = BTreeMap::new();
        for i in 0..h.rows() {
            if hv[i] != "base" || hm[i] != "natural" || !breached[i] {
                continue;
            }
            let e = per.entry(hh[i].as_str()).or_default();
            e.0 += 1;
            let fs = by_campaign
                .get(&(hc[i].unwrap_or(-1.0) as u64))
                .map_or("", String::as_str);
            let mut seen: Vec<&str> = fs.split(',').filter(|s| !s.is_empty()).collect();
            seen.sort_unstable();
            seen.dedup();
            if seen.is_empty() {
                *e.1.entry("(no fault: load alone)").or_default() += 1;
            }
            for s in seen {
                *e.1.entry(s).or_default() += 1;
            }
        }
        if per.is_empty() {
            return Ok(
                "<p>No handler breached its SLO in the base's natural campaigns: no contributors to show.</p>\n"
                    .into(),
            );
        }
        let mut rows = Vec::new();
        for (handler, (n, counts)) in &per {
            let mut v: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            for (fault, k) in v.into_iter().take(5) {
                rows.push(vec![
                    handler.to_string(),
                    fault.to_owned(),
                    format!("{k} of {n}"),
                    format!("{:.0}%", 100.0 * k as f64 / *n as f64),
                ]);
            }
        }
        Ok(html_table(
            "Failure processes active in the breaching campaigns (base, natural; campaigns.parquet faults joined to handlers.parquet)",
            &[
                "handler",
                "failure process (resource/mode)",
                "breaches with it",
                "share",
            ],
            &rows,
        ))
    }

    /// Per handler: the per-campaign p99 latency, healthy against each of
    /// the top predicted or targeted injections.
    fn latency(&self) -> Result<String, Error> {
        let Some(h) = &self.handlers else {
            return Ok(String::new());
        };
        let healthy: std::collections::BTreeSet<u64> = self
            .base_faults
            .iter()
            .filter(|(_, f)| f.is_empty())
            .map(|(k, _)| *k)
            .collect();
        let top: Vec<String> = match &self.scenarios {
            Some(s) => s.str("scenario_id")?.into_iter().take(3).collect(),
            None => Vec::new(),
        };
        let (hv, hm, hs, hc, hh, p99) = (
            h.str("variant")?,
            h.str("mode")?,
            h.str("scenario_id")?,
            h.f64("campaign")?,
            h.str("handler")?,
            h.f64("latency_p99_ms")?,
        );
        // Handlers with an SLO first (the verdict's), in its order; then
        // the others by name.
        let mut handlers: Vec<&str> = Vec::new();
        if let Some(t) = &self.risk {
            let (v, name, slo) = (t.str("variant")?, t.str("handler")?, t.bool("has_slo")?);
            for i in 0..t.rows() {
                if v[i] == "base"
                    && slo[i]
                    && !handlers.contains(&name[i].as_str())
                    && let Some(h) = hh.iter().find(|h| **h == name[i])
                {
                    handlers.push(h.as_str());
                }
            }
        }
        let mut rest: Vec<&str> = hh
            .iter()
            .map(String::as_str)
            .filter(|h| !handlers.contains(h))
            .collect();
        rest.sort_unstable();
        rest.dedup();
        handlers.extend(rest);
        let mut targeted: Vec<&str> = (0..h.rows())
            .filter(|&i| hm[i] == "targeted" && hv[i] == "base")
            .map(|i| hs[i].as_str())
            .collect();
        targeted.sort_unstable();
        targeted.dedup();
        let mut out = String::new();
        for handler in handlers.iter().take(4) {
            let mut series: Vec<(String, Vec<f64>)> = Vec::new();
            let pick = |keep: &dyn Fn(usize) -> bool| -> Vec<f64> {
                (0..h.rows())
                    .filter(|&i| hv[i] == "base" && hh[i] == *handler && keep(i))
                    .filter_map(|i| p99[i])
                    .collect()
            };
            let ok =
                pick(&|i| hm[i] == "natural" && healthy.contains(&(hc[i].unwrap_or(-1.0) as u64)));
            if !ok.is_empty() {
                series.push(("healthy (natural campaigns with no fault)".into(), ok));
            }
            let faulty =
                pick(&|i| hm[i] == "natural" && !healthy.contains(&(hc[i].unwrap_or(-1.0) as u64)));
            if !faulty.is_empty() {
                series.push(("natural campaigns with a fault".into(), faulty));
            }
            for id in &top {
                let v = pick(&|i| hm[i] == "predicted" && hs[i] == *id);
                if !v.is_empty() {
                    series.push((format!("under {id}"), v));
                }
            }
            for id in targeted.iter().take(3) {
                let v = pick(&|i| hm[i] == "targeted" && hs[i] == *id);
                if !v.is_empty() {
                    series.push((format!("under {id} (targeted)"), v));
                }
            }
            if series.is_empty() {
                continue;
            }
            let title = format!(
                "{handler}: distribution of the per-campaign p99 latency, healthy and under injections"
            );
            let svg = plots::cdfs(&title, "p99 latency of a campaign, ms", &series)
                .map_err(Self::internal)?;
            out += &figure(
                &svg,
                &format!(
                    "{handler}: each line is the empirical distribution over campaigns (count in brackets) of the campaign's p99 response time (handlers.parquet)."
                ),
            );
        }
        Ok(out)
    }

    /// The ranked predicted injection scenarios.
    fn scenarios(&self) -> Result<String, Error> {
        let Some(s) = &self.scenarios else {
            return Ok(String::new());
        };
        let cols = [
            "rank",
            "scenario_id",
            "severity",
            "likelihood",
            "impact",
            "score",
            "duration_s",
            "abort_error_rate",
            "abort_latency_p99_ms",
            "rollback_plan",
        ];
        let text: Vec<Vec<String>> = ["scenario_id", "severity", "rollback_plan"]
            .iter()
            .map(|c| s.str(c))
            .collect::<Result<_, _>>()?;
        let nums: Vec<Vec<Option<f64>>> = [
            "rank",
            "likelihood",
            "impact",
            "score",
            "duration_s",
            "abort_error_rate",
            "abort_latency_p99_ms",
        ]
        .iter()
        .map(|c| s.f64(c))
        .collect::<Result<_, _>>()?;
        let rows: Vec<Vec<String>> = (0..s.rows().min(TOP_SCENARIOS))
            .map(|i| {
                vec![
                    f(nums[0][i], 0),
                    text[0][i].clone(),
                    text[1][i].clone(),
                    format!("{:.3e}", nums[1][i].unwrap_or(f64::NAN)),
                    f(nums[2][i], 3),
                    format!("{:.3e}", nums[3][i].unwrap_or(f64::NAN)),
                    nums[4][i].map_or("–".into(), span),
                    f(nums[5][i], 4),
                    f(nums[6][i], 1),
                    truncate(&text[2][i], 120),
                ]
            })
            .collect();
        let _ = cols;
        Ok(html_table(
            &format!(
                "Top {} of {} predicted scenarios by score = likelihood × impact (scenarios.parquet; likelihood per {})",
                rows.len(),
                s.rows(),
                span(self.m.run.scenario_risk_window_s)
            ),
            &[
                "rank",
                "scenario",
                "severity",
                "likelihood",
                "impact",
                "score",
                "duration",
                "abort at error rate",
                "abort at p99 ms",
                "rollback plan",
            ],
            &rows,
        ))
    }

    /// The best verified remediation per handler.
    fn remediation(&self) -> Result<String, Error> {
        let Some(t) = Table::read(&self.dir, "remediations.parquet")? else {
            return Ok(String::new());
        };
        if t.rows() == 0 {
            return Ok(
                "<p>No handler of the base was over its threshold: nothing to remediate.</p>\n"
                    .into(),
            );
        }
        let (handler, suggestion, change) =
            (t.str("handler")?, t.str("suggestion")?, t.str("change")?);
        let (before, after) = (t.f64("risk_before")?, t.f64("risk_after")?);
        let (lo, hi) = (t.f64("risk_diff_low")?, t.f64("risk_diff_high")?);
        let mut best: BTreeMap<&str, usize> = BTreeMap::new();
        for i in 0..t.rows() {
            let a = after[i].unwrap_or(f64::INFINITY);
            let e = best.entry(handler[i].as_str()).or_insert(i);
            if a < after[*e].unwrap_or(f64::INFINITY) {
                *e = i;
            }
        }
        let rows: Vec<Vec<String>> = best
            .values()
            .map(|&i| {
                vec![
                    handler[i].clone(),
                    suggestion[i].clone(),
                    change[i].clone(),
                    f(before[i], 4),
                    f(after[i], 4),
                    format!("[{}, {}]", f(lo[i], 4), f(hi[i], 4)),
                ]
            })
            .collect();
        Ok(html_table(
            "The candidate with the lowest risk after, per handler over its threshold (remediations.parquet; re-simulated on the base's seeds)",
            &[
                "handler",
                "suggestion",
                "change (set:)",
                "risk before",
                "risk after",
                "difference, 95% interval",
            ],
            &rows,
        ))
    }

    /// A few programme campaigns with rollbacks, on a time axis.
    fn timelines(&self) -> Result<String, Error> {
        let Some(e) = Table::read(&self.dir, "events.parquet")? else {
            return Ok(String::new());
        };
        let (v, c, kind, target, mode) = (
            e.str("variant")?,
            e.f64("campaign")?,
            e.str("kind")?,
            e.str("target")?,
            e.str("failure_mode")?,
        );
        let time = e.f64("time_s")?;
        let mut by: BTreeMap<(String, u64), Vec<usize>> = BTreeMap::new();
        for i in 0..e.rows() {
            by.entry((v[i].clone(), c[i].unwrap_or(-1.0) as u64))
                .or_default()
                .push(i);
        }
        let mut chosen: Vec<(&(String, u64), &Vec<usize>)> = by
            .iter()
            .filter(|(_, ix)| ix.iter().any(|&i| kind[i] == "rollback"))
            .take(TIMELINES)
            .collect();
        if chosen.is_empty() {
            chosen = by.iter().take(TIMELINES).collect();
        }
        if chosen.is_empty() {
            return Ok(String::new());
        }
        let rows: Vec<plots::Timeline> = chosen
            .iter()
            .map(|((variant, campaign), ix)| {
                (
                    format!("{variant} #{campaign}"),
                    ix.iter()
                        .map(|&i| (time[i].unwrap_or(0.0), kind[i].clone()))
                        .collect(),
                )
            })
            .collect();
        let svg = plots::timelines(
            "Live injections in a few programme campaigns: inject, breach, rollback, recover",
            &rows,
        )
        .map_err(Self::internal)?;
        let mut out = figure(
            &svg,
            "From events.parquet: programme campaigns with a rollback (the first few), each event at its simulated time.",
        );
        let (time, kind, target, mode) = (&time, &kind, &target, &mode);
        let table_rows: Vec<Vec<String>> = chosen
            .iter()
            .flat_map(|((variant, campaign), ix)| {
                ix.iter().map(move |&i| {
                    vec![
                        format!("{variant} #{campaign}"),
                        span(time[i].unwrap_or(0.0)),
                        kind[i].clone(),
                        format!("{} ({})", target[i], mode[i]),
                    ]
                })
            })
            .collect();
        out += &html_table(
            "Their events",
            &["campaign", "at", "event", "target (failure mode)"],
            &table_rows,
        );
        Ok(out)
    }

    /// Service paths: availability per path (manifest.json's summary).
    fn paths(&self) -> Result<String, Error> {
        let Some(p) = &self.m.run.paths else {
            return Ok(String::new());
        };
        let plot_rows: Vec<IntervalRow> = p
            .summary
            .iter()
            .map(|s| IntervalRow {
                label: format!("{} / {}", s.variant, s.path),
                point: 1.0 - s.availability,
                low: 1.0 - s.availability_high,
                high: 1.0 - s.availability_low,
                mark: None,
            })
            .collect();
        let svg = plots::intervals(
            "Unavailability (1 − availability) of each service path, with 95% intervals",
            "unavailability: share of the time the path does not deliver",
            &plot_rows,
            &[],
        )
        .map_err(Self::internal)?;
        let mut out = figure(
            &svg,
            "From the service-path campaigns (manifest.json's summary of paths.parquet): closer to 0 is better.",
        );
        let rows: Vec<Vec<String>> = p
            .summary
            .iter()
            .map(|s| {
                vec![
                    format!("{} / {}", s.variant, s.path),
                    format!("{:.6}", s.availability),
                    format!("[{:.6}, {:.6}]", s.availability_low, s.availability_high),
                    format!("{:.2e}", s.loss_rate),
                    format!("{:.1}", s.delay_p99_ms),
                    format!("{:.2}", s.repairs_per_campaign),
                    span(s.time_to_repair_s),
                ]
            })
            .collect();
        out += &html_table(
            &format!(
                "Service paths over {} campaigns each (manifest.json, paths.parquet)",
                p.campaigns
            ),
            &[
                "variant / path",
                "availability",
                "95% interval",
                "loss rate",
                "delay p99 ms",
                "repairs per campaign",
                "mean time to repair",
            ],
            &rows,
        );
        Ok(out)
    }

    /// The reliability diagram of the calibration map in use.
    fn calibration(&self) -> Result<String, Error> {
        let Some(c) = &self.m.run.calibration else {
            return Ok(String::new());
        };
        let mut out = format!(
            "<p>calibrated_risk comes from {} ({}), fitted on {}: backtest Brier {:.4}, expected calibration error {:.4}, over {} predictions.</p>\n",
            esc(&c.file),
            esc(&c.method),
            esc(&c.history),
            c.backtest_brier,
            c.backtest_ece,
            c.predictions
        );
        let bins: Option<Vec<(f64, f64, u64)>> = std::fs::read(&c.file)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                v.get("bins")?
                    .as_array()?
                    .iter()
                    .map(|b| {
                        Some((
                            b.get("mean_predicted")?.as_f64()?,
                            b.get("observed")?.as_f64()?,
                            b.get("n")?.as_u64()?,
                        ))
                    })
                    .collect()
            });
        match bins {
            Some(bins) if !bins.is_empty() => {
                let svg = plots::reliability(
                    "Reliability of the risks before recalibration: observed against predicted",
                    &bins,
                )
                .map_err(Self::internal)?;
                out += &figure(
                    &svg,
                    "From the calibration file's backtest: on the diagonal, predictions are calibrated; a marker's size grows with its predictions.",
                );
            }
            _ => {
                out += "<p class=\"note\">The calibration file cannot be read now: no reliability diagram.</p>\n"
            }
        }
        Ok(out)
    }

    /// The manifest: what reproducing the run needs.
    fn reproduce(&self) -> String {
        let r = &self.m.run;
        let mut out = String::from("<dl>\n");
        let mut item = |k: &str, v: String| {
            let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), v);
        };
        item(
            "command",
            format!("<code>{}</code>", esc(&r.command_line.join(" "))),
        );
        item(
            "scenario",
            format!(
                "{} (<code>{}</code>)",
                esc(&r.scenario_path),
                esc(&r.scenario_hash)
            ),
        );
        item(
            "seed, campaigns",
            format!(
                "{}, {} per job ({} run in all)",
                r.seed, r.campaigns, r.campaigns_run
            ),
        );
        item(
            "Preflight",
            format!(
                "{} (commit <code>{}</code>)",
                esc(&r.tool_version),
                esc(&r.tool_commit)
            ),
        );
        item("risk", esc(&r.risk_definition));
        item(
            "replay a campaign",
            format!(
                "<code>preflight replay {} --campaign N</code>",
                esc(&self.dir.display().to_string())
            ),
        );
        out += "</dl>\n";
        if !r.inputs.is_empty() {
            out += &html_table(
                "Files the run read besides the scenario",
                &["role", "path", "SHA-256", "bytes"],
                &r.inputs
                    .iter()
                    .map(|i| {
                        vec![
                            i.role.clone(),
                            i.path.clone(),
                            i.sha256.clone(),
                            i.bytes.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            );
        }
        out += &html_table(
            "Files of the run directory",
            &["file", "rows"],
            &self
                .m
                .files
                .iter()
                .map(|f| {
                    let stem = f.strip_suffix(".parquet").unwrap_or("");
                    vec![
                        f.clone(),
                        self.m
                            .row_counts
                            .get(stem)
                            .map_or(String::new(), |n| n.to_string()),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        out
    }
}

/// The failure processes active in each natural campaign of the base, by
/// campaign, from `campaigns.parquet`'s `faults`.
fn base_faults(c: &Table) -> Result<BTreeMap<u64, String>, Error> {
    let (v, m, k, faults) = (
        c.str("variant")?,
        c.str("mode")?,
        c.f64("campaign")?,
        c.str("faults")?,
    );
    Ok((0..c.rows())
        .filter(|&i| v[i] == "base" && m[i] == "natural")
        .map(|i| (k[i].unwrap_or(-1.0) as u64, faults[i].clone()))
        .collect())
}

/// `sha256:<hex>`, as manifests write hashes.
fn sim_output_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    let mut s = String::from("sha256:");
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}
