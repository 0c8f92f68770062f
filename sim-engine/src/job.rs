//! One run, end to end: load, check, plan, run every campaign, predict
//! injection scenarios, remediate, and write the run directory.
//!
//! [`execute`] is what `preflight run` and `preflight gate` do; it returns a
//! [`RunOutcome`] for the caller to print or act on.

use std::path::PathBuf;

use sim_models::spec::Scenario;
use sim_output::{RunInfo, RunWriter};

use crate::error::Error;
use crate::prepare::{
    MAX_REQUESTS_PER_CAMPAIGN, choose_two_scale, default_calibration_path, expected_requests, load,
    prepare_variants,
};
use crate::prepare::{PreparedVariant, ScaleChoice, default_out_dir};
use crate::run::{CampaignModes, RareEvent, RunPlan, RunReport, apply_bias};
use crate::scenario::{FileAccess, Loaded};
use crate::timing::{Mark, Phases};

/// Options of `preflight run`, after parsing.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Campaigns per variant and injection.
    pub campaigns: Option<u64>,
    /// Master seed.
    pub seed: Option<u64>,
    /// Worker threads.
    pub threads: Option<usize>,
    /// `all`, `base` or a variant name.
    pub variant: String,
    /// Natural, targeted or both.
    pub mode: CampaignModes,
    /// Run directory.
    pub out: Option<PathBuf>,
    /// No progress bar, no summary.
    pub quiet: bool,
    /// `--until-decided`: the most natural campaigns per variant to run
    /// while some risk is undecided.
    pub until_decided: Option<u64>,
    /// Decide risks against `risk.gate` rather than each handler's
    /// threshold, as `preflight gate` does: on intervals at the gate's level
    /// ([`crate::gate`]), doubling the campaigns while undecided up to
    /// `until_decided` (default [`crate::gate::DEFAULT_CAP_FACTOR`] × the
    /// campaigns).
    pub against_gate: bool,
    /// `--rare-event`: importance sampling of rare failures.
    pub rare_event: Option<RareEvent>,
    /// `--calibration FILE`: the recalibration map to apply.
    pub calibration: Option<PathBuf>,
    /// `--no-calibration`: apply none, even the default one.
    pub no_calibration: bool,
    /// `--max-memory`: bytes the run may use (default: a share of the
    /// machine's memory; see `crate::limits`).
    pub max_memory: Option<u64>,
    /// `--events`: write the injection log (`events.parquet`).
    pub events: bool,
    /// Apply an enabled `failure_injection_profile` (live injections in
    /// natural campaigns); `gate` turns it off.
    pub live_injection: bool,
    /// `--scenario-campaigns`: targeted campaigns per predicted scenario.
    pub scenario_campaigns: Option<u64>,
    /// Request-level, two-scale, or chosen by size (`--scale`).
    pub scale: ScaleChoice,
    /// `--independent-streams`: seed each variant apart instead of reusing
    /// the base's seeds (common random numbers).
    pub independent_streams: bool,
    /// Re-simulate at most this many remediation candidates when a handler
    /// of the base is over its threshold (`--remediate-max`); `None`: no
    /// remediation (`--no-remediate`, and always for `gate`).
    pub remediate: Option<usize>,
    /// `--remediation-rows`: also write the rows of the campaigns simulated
    /// for remediation candidates (mode `remediation`, the candidate's name
    /// as variant).
    pub remediation_rows: bool,
    /// Simulate the scenario's service paths (`paths:`) too; `gate`, which
    /// decides on handler risks only, does not.
    pub service_paths: bool,
    /// Where the files the scenario names may be (`--allow-external-files`).
    pub file_access: FileAccess,
    /// The command line that started the run, for `manifest.json` (empty
    /// when a program calls the library).
    pub command_line: Vec<String>,
    /// Publish the run directory. `false` (`gate` without `--out`): the
    /// rows are still streamed to a staging directory in the system's
    /// temporary folder, which is deleted at the end; nothing is left.
    pub write: bool,
    /// Where the campaign ranges' parts come from and go to
    /// ([`crate::parts`], `docs/distributed.md`).
    pub parts: crate::parts::Parts,
    /// Campaigns per range (`--range-size`; default [`crate::run::CHUNK`]).
    pub range_size: Option<u64>,
    /// `--telemetry FILE`: forecast this file instead of the scenario's
    /// `telemetry.file` (its thresholds, or the defaults, still apply).
    pub telemetry: Option<PathBuf>,
}

impl RunOptions {
    /// The options of `preflight run SCENARIO` with every flag at its
    /// default, except that nothing is shown (`quiet`): every variant,
    /// natural campaigns, the scenario's `campaigns` and `seed`, all cores,
    /// `--scale auto`, remediation of up to
    /// [`DEFAULT_MAX`](crate::remediate::DEFAULT_MAX) candidates, results in
    /// `reports/<scenario name>`.
    pub fn new(scenario: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            scenario: scenario.into(),
            campaigns: None,
            seed: None,
            threads: None,
            variant: "all".into(),
            mode: CampaignModes::Natural,
            out: None,
            quiet: true,
            until_decided: None,
            against_gate: false,
            rare_event: None,
            calibration: None,
            no_calibration: false,
            max_memory: None,
            events: false,
            live_injection: true,
            scenario_campaigns: None,
            scale: ScaleChoice::Auto,
            independent_streams: false,
            remediate: Some(crate::remediate::DEFAULT_MAX),
            remediation_rows: false,
            service_paths: true,
            file_access: FileAccess::ScenarioFolder,
            command_line: Vec::new(),
            write: true,
            parts: crate::parts::Parts::Local,
            range_size: None,
            telemetry: None,
        }
    }

    /// The options as `manifest.json` records them.
    pub fn manifest(&self) -> sim_output::manifest::OptionsInfo {
        sim_output::manifest::OptionsInfo {
            campaigns: self.campaigns,
            seed: self.seed,
            variant: self.variant.clone(),
            mode: self.mode.as_str().to_owned(),
            until_decided: self.until_decided,
            against_gate: self.against_gate,
            rare_event: self.rare_event.map(|r| r.to_string()),
            calibration: self.calibration.as_ref().map(|p| p.display().to_string()),
            no_calibration: self.no_calibration,
            max_memory: self.max_memory,
            events: self.events,
            live_injection: self.live_injection,
            scenario_campaigns: self.scenario_campaigns,
            scale: self.scale.as_str().to_owned(),
            independent_streams: self.independent_streams,
            remediate: self.remediate.map(|n| n as u64),
            service_paths: self.service_paths,
            allow_external_files: self.file_access.allows_external(),
            remediation_rows: self.remediation_rows,
            telemetry: self
                .telemetry
                .as_ref()
                .map(|p| crate::provenance::absolute(p).display().to_string()),
        }
    }
}

/// The name of the scenario's copy in a run directory: `scenario` with the
/// original's extension.
pub fn scenario_copy_name(scenario: &std::path::Path) -> String {
    match scenario.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("scenario.{}", ext.to_ascii_lowercase()),
        None => "scenario".to_owned(),
    }
}

/// What `risk.parquet`'s `risk` means under `plan`.
fn risk_definition(plan: &RunPlan, horizon_s: f64) -> String {
    let estimator = if plan.rare_event.is_some() {
        "importance sampling (--rare-event): sum of breach x likelihood-ratio weight / campaigns over natural-mode campaigns with failure processes sped up; 95% normal interval from the weighted indicators' sample variance (Wilson's for 0 breaches)"
    } else {
        "breaches / campaigns over natural-mode campaigns; 95% Wilson interval"
    };
    format!(
        "P(the SLO is breached within {}, one campaign), natural faults only (not the injection programme's campaigns): {estimator}",
        crate::text::fmt_span(horizon_s)
    )
}

/// A finished run: what was run and what came out.
#[derive(Debug)]
pub struct RunOutcome {
    /// The plan the campaigns ran under.
    pub plan: RunPlan,
    /// Risks, tallies and the figures of the run.
    pub report: RunReport,
    /// The published run directory (`None` when `write` was off).
    pub out_dir: Option<PathBuf>,
    /// The calibration map applied to `calibrated_risk`, when one was.
    pub calibration_map: Option<crate::calibrate::map::IsotonicMap>,
    /// The scenario's `risk.gate`.
    pub gate: f64,
    /// Ranked injection scenarios (empty when none were predicted).
    pub predicted: Vec<sim_output::ScenarioRow>,
    /// Remediation, when it ran (`run` with natural campaigns).
    pub remediation: Option<crate::remediate::Remediation>,
    /// Whether handler campaigns ran (not for a scenario with service
    /// paths and no workload).
    pub handler_campaigns: bool,
    /// Service paths: one summary per variant × path (empty without `paths:`).
    pub paths: Vec<crate::service_paths::campaigns::PathSummary>,
    /// Wall time of the service-path campaigns, seconds.
    pub paths_wall_s: f64,
    /// Where the time went, as `manifest.json` records it (empty when
    /// nothing was written).
    pub phases: sim_output::manifest::Phases,
    /// What the telemetry said and the hazards it raised (the variant
    /// [`crate::telemetry::WITHOUT_TELEMETRY`] of `report.risk` is the base
    /// without them).
    pub telemetry: Option<crate::telemetry::TelemetryPlan>,
}

/// What [`plan_run`] decided before any campaign runs.
pub(crate) struct Planned {
    pub(crate) loaded: Loaded,
    pub(crate) variants: Vec<PreparedVariant>,
    /// Whether handler campaigns run (not for a scenario of service paths
    /// with no workload).
    pub(crate) handler_campaigns: bool,
    pub(crate) plan: RunPlan,
    memory: crate::limits::MemoryPlan,
    pub(crate) out_dir: PathBuf,
    calibration: Option<(PathBuf, crate::calibrate::map::CalibrationFile)>,
    /// What the telemetry said and the hazards it raised.
    pub(crate) telemetry: Option<crate::telemetry::TelemetryPlan>,
}

impl Planned {
    /// The run key of this run under `opts` ([`crate::parts::run_key`]).
    pub(crate) fn run_key(&self, opts: &RunOptions) -> String {
        crate::parts::run_key(
            &self.loaded.source,
            &self.inputs(),
            &opts.manifest(),
            self.plan.seed,
            self.plan.campaigns,
        )
    }

    /// Every file the run read besides the scenario, with its hash: the
    /// scenario's ([`Loaded::input_files`]) and the telemetry.
    pub(crate) fn inputs(&self) -> Vec<sim_output::manifest::InputInfo> {
        let mut inputs = self
            .loaded
            .input_files(self.calibration.as_ref().map(|(p, _)| p.as_path()));
        if let Some(t) = &self.telemetry {
            inputs.push(sim_output::manifest::InputInfo {
                role: "telemetry".into(),
                path: crate::provenance::absolute(&t.file).display().to_string(),
                sha256: t.sha256.clone(),
                bytes: t.bytes,
            });
        }
        inputs
    }
}

/// Loads and prepares the variants, checks the run's size and memory
/// against its bounds, applies `--rare-event`, and plans it: everything
/// that can refuse a run does so here, before any campaign or file.
pub(crate) fn plan_run(opts: &RunOptions) -> Result<Planned, Error> {
    let loaded = match &opts.parts {
        crate::parts::Parts::Merge { spec, .. } => crate::parts::load_spec(spec, opts.file_access)?,
        _ => load(&opts.scenario, opts.file_access)?,
    };
    plan_loaded(opts, loaded)
}

/// [`plan_run`] for a scenario already loaded.
pub(crate) fn plan_loaded(opts: &RunOptions, loaded: Loaded) -> Result<Planned, Error> {
    let mut variants = prepare_variants(&loaded, &opts.variant)?;
    let telemetry = raise_hazards(opts, &loaded, &mut variants)?;
    let s = &loaded.scenario;
    // A scenario of service paths alone (no workload) runs path campaigns
    // only: handler campaigns would simulate nothing.
    let handler_campaigns = !s.workload.is_empty() || s.paths.is_empty();
    if !opts.quiet {
        for note in telemetry.iter().flat_map(|t| &t.notes) {
            eprintln!(
                "preflight: note: {}: telemetry: {note}",
                loaded.file.display()
            );
        }
    }
    let two_scale = choose_two_scale(opts.scale, &variants);
    if two_scale {
        crate::limits::check_two_scale_work(&variants)
            .map_err(|m| Error::input(format!("preflight: {}: {m}", loaded.file.display())))?;
    } else {
        check_size(&loaded, &variants, opts.quiet)?;
    }
    if let Some(rare) = opts.rare_event {
        for v in &mut variants {
            let factors = apply_bias(&mut v.model, rare);
            for (f, b) in v.model.faults.iter().zip(&factors) {
                tracing::info!(
                    variant = &*v.name,
                    resource = %v.model.resources[f.resource].id,
                    mode = %f.mode,
                    factor = b,
                    "failure biasing"
                );
            }
            if !opts.quiet && factors.iter().all(|b| *b == 1.0) {
                eprintln!(
                    "preflight: note: {}: --rare-event: no failure process of variant `{}` is rare enough to bias (or its law cannot be scaled); the run is plain Monte Carlo",
                    loaded.file.display(),
                    v.name
                );
            }
        }
    }
    if matches!(opts.mode, CampaignModes::Targeted)
        && s.injections.is_empty()
        && variants[0].model.faults.is_empty()
    {
        return Err(Error::input(format!(
            "preflight: {}: injections: --mode targeted has nothing to inject: no entry in `injections:` and no failure mode to predict scenarios from",
            loaded.file.display()
        )));
    }
    let threads = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    // Memory: every campaign's bound, for the threads that run at once,
    // within --max-memory (docs/limits.md). Sets the in-flight caps.
    let memory = crate::limits::plan_memory(
        &mut variants,
        two_scale,
        crate::limits::MaxMemory::resolve(opts.max_memory),
        threads,
    )
    .map_err(|m| Error::input(format!("preflight: {}: {m}", loaded.file.display())))?;
    if !opts.quiet {
        if memory.threads < threads {
            eprintln!(
                "preflight: note: {}: {} campaigns at once instead of {threads}: each may hold {}, and the memory limit is {} ({}); results do not depend on it",
                loaded.file.display(),
                memory.threads,
                crate::limits::fmt_bytes(memory.per_campaign),
                crate::limits::fmt_bytes(memory.max.bytes),
                memory.max.source
            );
        }
        for (name, cap, _) in &memory.variants {
            if memory.max.explicit && *cap < default_cap_of(&variants, name) {
                eprintln!(
                    "preflight: note: {}: variant `{name}`: at most {cap} requests in flight per campaign (--max-memory {}); requests over it are refused as errors",
                    loaded.file.display(),
                    crate::limits::fmt_bytes(memory.max.bytes),
                );
            }
        }
    }
    let campaigns = opts.campaigns.or(s.campaigns).unwrap_or(1000).max(1);
    // The gate decides on intervals, looking again (doubling) while
    // undecided, with its error rate split over its looks (`crate::gate`).
    let until_decided = match (opts.until_decided, opts.against_gate) {
        (None, true) => Some(campaigns.saturating_mul(crate::gate::DEFAULT_CAP_FACTOR)),
        (u, _) => u,
    };
    let decide_z = if opts.against_gate {
        crate::gate::z(crate::gate::looks(
            campaigns,
            until_decided.unwrap_or(campaigns),
        ))
    } else {
        crate::risk::Z95
    };
    let plan = RunPlan {
        campaigns,
        seed: opts.seed.or(s.seed).unwrap_or(0),
        threads: memory.threads,
        mode: opts.mode,
        progress: !opts.quiet,
        two_scale,
        until_decided,
        decide_at: opts.against_gate.then_some(s.risk.gate),
        decide_z,
        rare_event: opts.rare_event,
        independent_streams: opts.independent_streams,
        live: None,
        events: opts.events,
        kept_episodes_bytes: if two_scale {
            crate::limits::kept_episodes_room(&memory)
        } else {
            0
        },
    };
    let out_dir = match (&opts.out, opts.write) {
        (Some(out), _) => out.clone(),
        (None, true) => default_out_dir(s),
        // Rows still stream to a staging directory: `execute` puts it in
        // a scratch directory of its own, deleted when it returns.
        (None, false) => std::env::temp_dir().join("preflight-unpublished"),
    };
    tracing::info!(
        scenario = %loaded.file.display(),
        variants = variants.len(),
        campaigns = plan.campaigns,
        seed = plan.seed,
        threads = plan.threads,
        out = %out_dir.display(),
        "run"
    );
    // The recalibration map of `preflight calibrate`, read before any
    // campaign runs so that a broken file costs nothing.
    let calibration = find_calibration(opts, s, &loaded)?;
    Ok(Planned {
        loaded,
        variants,
        handler_campaigns,
        plan,
        memory,
        out_dir,
        calibration,
        telemetry,
    })
}

/// Forecasts the telemetry ([`crate::telemetry`]) and adds the hazards it
/// raises to every variant; with any raised, the base without them runs
/// too, as the variant [`crate::telemetry::WITHOUT_TELEMETRY`] on the
/// base's seeds.
fn raise_hazards(
    opts: &RunOptions,
    loaded: &Loaded,
    variants: &mut Vec<PreparedVariant>,
) -> Result<Option<crate::telemetry::TelemetryPlan>, Error> {
    let Some(mut plan) =
        crate::telemetry::forecast(loaded, opts.telemetry.as_deref(), &variants[0].model)?
    else {
        return Ok(None);
    };
    if !plan.raises() {
        return Ok(Some(plan));
    }
    // `gate` decides on what the telemetry says now; it does not run the
    // comparison (a run's summary says what moved).
    let compare = !opts.against_gate;
    let without = PreparedVariant {
        name: std::sync::Arc::from(crate::telemetry::WITHOUT_TELEMETRY),
        index: loaded.scenario.variants.len() as u64 + 1,
        scenario: variants[0].scenario.clone(),
        model: variants[0].model.clone(),
    };
    for v in variants.iter_mut() {
        crate::telemetry::apply(&mut v.model, &plan).map_err(|m| {
            Error::input(format!(
                "preflight: {}: variant `{}`: {m}",
                loaded.file.display(),
                v.name
            ))
        })?;
    }
    crate::telemetry::compare_likelihoods(
        &mut plan,
        &without.model,
        &variants[0].model,
        loaded.scenario.risk.window.0,
    );
    if compare {
        variants.push(without);
    }
    Ok(Some(plan))
}

/// The manifest of a finished run: the run's own fields, its limits, and
/// the sections of service paths, remediation and calibration when they ran.
/// `wall_time_s` and `phases` are filled in just before it is written.
fn run_manifest(
    run: &Planned,
    report: &RunReport,
    opts: &RunOptions,
    paths: &[crate::service_paths::campaigns::PathSummary],
    paths_wall_s: f64,
    remediation: Option<&crate::remediate::Remediation>,
) -> RunInfo {
    use sim_output::manifest as m;
    let Planned {
        loaded,
        variants,
        handler_campaigns,
        plan,
        memory,
        calibration,
        ..
    } = run;
    let base_horizon = variants
        .first()
        .map_or(0.0, |v| v.model.horizon.as_secs_f64());
    let paths = (!paths.is_empty()).then(|| m::PathsInfo {
        campaigns: plan.campaigns,
        wall_s: paths_wall_s,
        summary: paths
            .iter()
            .map(|p| m::PathInfo {
                variant: p.variant.to_string(),
                path: p.path.to_string(),
                campaigns: p.campaigns,
                horizon_s: p.horizon_s,
                availability: p.availability,
                availability_low: p.availability_low,
                availability_high: p.availability_high,
                loss_rate: p.loss_rate,
                delay_p99_ms: p.delay_p99_ms,
                repairs_per_campaign: p.repairs_per_campaign,
                time_to_repair_s: p.time_to_repair_s,
            })
            .collect(),
    });
    let remediation = remediation.map(|rem| m::RemediationInfo {
        over_threshold: rem.over.iter().map(|h| h.to_string()).collect(),
        proposed: rem.proposed as u64,
        simulated: rem.verified.len() as u64,
        max: opts.remediate.unwrap_or(0) as u64,
        campaigns_run: rem.campaigns_run,
        sequential: rem.sequential.map(|q| q.manifest()),
        candidates: rem
            .verified
            .iter()
            .map(|v| m::CandidateInfo {
                name: v.candidate.name.clone(),
                campaigns: v.campaigns,
                campaigns_simulated: v.simulated,
                library_simulated: v.library.map(|l| l.0 as u64),
                library_shared: v.library.map(|l| l.1 as u64),
                episodes_shared: v.library.map(|_| v.episodes_shared),
            })
            .collect(),
        phases: rem.phases.manifest(rem.phases.sum()),
        rejected: rem
            .rejected
            .iter()
            .map(|(name, why)| m::Rejected {
                name: name.clone(),
                why: why.clone(),
            })
            .collect(),
    });
    let calibration = calibration.as_ref().map(|(path, c)| m::CalibrationInfo {
        file: path.display().to_string(),
        method: c.method.clone(),
        history: c.history.clone(),
        backtest_brier: c.brier,
        backtest_ece: c.ece,
        predictions: c.predictions,
    });
    RunInfo {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        tool_commit: crate::provenance::COMMIT.to_owned(),
        command_line: opts.command_line.clone(),
        scenario: loaded.scenario.name.clone(),
        scenario_file: loaded.file.display().to_string(),
        scenario_path: crate::provenance::absolute(&loaded.file)
            .display()
            .to_string(),
        scenario_hash: loaded.source_hash.clone(),
        scenario_copy: scenario_copy_name(&loaded.file),
        inputs: run.inputs(),
        options: opts.manifest(),
        seed: plan.seed,
        campaigns: plan.campaigns,
        mode: format!("{:?}", opts.mode).to_lowercase(),
        variants: variants
            .iter()
            .map(|v| m::VariantInfo {
                name: v.name.to_string(),
                index: v.index,
                horizon_s: v.model.horizon.as_secs_f64(),
                injections: v
                    .model
                    .injections
                    .iter()
                    .map(|i| i.id.to_string())
                    .collect(),
            })
            .collect(),
        threads: plan.threads as u64,
        campaigns_run: report.campaigns_run,
        events: report.events,
        risk_definition: risk_definition(plan, base_horizon),
        risk_window_s: base_horizon,
        scenario_risk_window_s: loaded.scenario.risk.window.secs(),
        risk_gate: Some(loaded.scenario.risk.gate),
        programme: plan.live.is_some() && !plan.two_scale && opts.mode != CampaignModes::Targeted,
        until_decided: plan.until_decided,
        scale: if plan.two_scale {
            "two-scale"
        } else {
            "request"
        }
        .to_owned(),
        streams: if plan.independent_streams {
            "independent"
        } else {
            "common"
        }
        .to_owned(),
        handler_campaigns: *handler_campaigns,
        limits: memory.manifest(report.refused_over_cap),
        paths,
        remediation,
        calibration,
        telemetry: run.telemetry.as_ref().map(|t| m::TelemetryInfo {
            file: crate::provenance::absolute(&t.file).display().to_string(),
            sha256: t.sha256.clone(),
            horizon_s: t.raised.first().map_or(0.0, |r| r.horizon_s),
            compared: t.raises() && !opts.against_gate,
            raised: t
                .raised
                .iter()
                .map(|r| m::RaisedInfo {
                    resource: r.resource.clone(),
                    metric: r.metric.clone(),
                    threshold: r.threshold.clone(),
                    mode: r.mode.to_string(),
                    model: r.model.clone(),
                    probability: r.probability,
                    time_to_crossing_s: r.time_to_crossing_s,
                    rate_per_s: r.rate_per_s,
                    natural_rate_per_s: r.natural_rate_per_s,
                    scenarios: r
                        .scenarios
                        .iter()
                        .map(|(id, without, with)| m::ScenarioLikelihood {
                            scenario_id: id.clone(),
                            without: *without,
                            with: *with,
                        })
                        .collect(),
                })
                .collect(),
            notes: t.notes.clone(),
        }),
        // Filled in just before the manifest is written.
        wall_time_s: 0.0,
        phases: sim_output::manifest::Phases::default(),
    }
}

/// Loads, checks, runs every campaign and writes the run directory.
///
/// Every phase's wall and CPU time goes into the manifest's `phases`, and
/// `wall_time_s` is their total (`docs/results.md`).
pub fn execute(opts: &RunOptions) -> Result<RunOutcome, Error> {
    let start = Mark::now();
    let mut mark = start;
    let mut phases = Phases::default();
    let mut run = plan_run(opts)?;
    // Nothing to publish: the rows stream into a scratch directory.
    let scratch = if opts.write {
        None
    } else {
        let d = scratch_dir()?;
        run.out_dir = d.path().join("run");
        Some(d)
    };
    let out_flag = if opts.out.is_some() {
        "--out".to_string()
    } else {
        "the default output directory (reports/<scenario name>; choose one with --out)".to_string()
    };
    let mut writer =
        RunWriter::create(&run.out_dir).map_err(|e| Error::output(out_flag.clone(), e))?;
    // A copy of the scenario, so that the run directory says what ran
    // (`preflight replay` reads it).
    writer
        .write_file(&scenario_copy_name(&run.loaded.file), &run.loaded.source)
        .map_err(|e| Error::output(format!("writing {}", run.out_dir.display()), e))?;
    phases.lap("load", &mut mark);
    let predicting = predicts(&run, opts);
    let predicted = if predicting {
        predict_scenarios(&run, opts)?
    } else {
        Vec::new()
    };
    if !predicted.is_empty() {
        let rows: Vec<_> = predicted.iter().map(|p| p.row.clone()).collect();
        writer
            .write_scenarios(&rows)
            .and_then(|_| write_predicted_campaigns(&mut writer, &run.variants[0], &predicted))
            .map_err(|e| Error::output(format!("writing {}", run.out_dir.display()), e))?;
    }
    phases.lap(if predicting { "scenarios" } else { "load" }, &mut mark);
    plan_live_injection(&mut run, opts, &predicted);
    if opts.events {
        if run.plan.live.is_none() && !opts.quiet {
            eprintln!(
                "preflight: note: {}: --events: no live injection in this run (enable `failure_injection_profile`); events.parquet will be empty",
                run.loaded.file.display()
            );
        }
        writer
            .enable_events()
            .map_err(|e| Error::output(format!("writing {}", run.out_dir.display()), e))?;
    }
    let store = crate::parts::part_store(crate::parts::StoreRequest {
        parts: &opts.parts,
        write: opts.write,
        quiet: opts.quiet,
        range_size: opts.range_size,
        handler_campaigns: run.handler_campaigns,
        run_key: run.run_key(opts),
        out_dir: &run.out_dir,
        variants: &run.variants,
        plan: &run.plan,
    })?;
    let mut report = if run.handler_campaigns {
        crate::run::run_paired(
            &run.variants,
            &run.plan,
            &mut writer,
            None,
            store.as_ref().map(|s| s as &dyn crate::run::RangeStore),
        )
        .map_err(|e| {
            Error::keep_internal(e, |e| {
                Error::environment(format!("preflight: run failed: {e:#}"))
            })
        })?
    } else {
        RunReport::default()
    };
    // The runner's own phases (baseline, library, campaigns); the setup
    // around it counts as campaigns.
    let run_span = mark.elapsed();
    phases.merge(&report.phases);
    let mut rest = run_span;
    rest.wall_s -= report.phases.sum().wall_s;
    rest.cpu_s = rest
        .cpu_s
        .zip(report.phases.sum().cpu_s)
        .map(|(a, b)| (a - b).max(0.0));
    phases.add("campaigns", rest);
    mark = Mark::now();
    // Service paths: their own campaigns, after the handlers' (same seeds).
    let paths_start = std::time::Instant::now();
    let paths = if opts.service_paths
        && crate::service_paths::campaigns::has_paths(&run.variants)
        && run.plan.mode != CampaignModes::Targeted
    {
        writer
            .enable_paths()
            .map_err(|e| Error::output(format!("writing {}", run.out_dir.display()), e))?;
        let empirical = run.loaded.empirical_tables();
        crate::service_paths::campaigns::run_paths(
            &run.variants,
            &empirical,
            &run.plan,
            &mut writer,
        )
        .map_err(|e| {
            Error::keep_internal(e, |e| {
                Error::environment(format!("preflight: service paths failed: {e:#}"))
            })
        })?
    } else {
        Vec::new()
    };
    let paths_wall_s = paths_start.elapsed().as_secs_f64();
    if !paths.is_empty() {
        phases.lap("paths", &mut mark);
    }
    if let Some((_, c)) = &run.calibration {
        for r in &mut report.risk {
            let calibrated = c.map.apply(r.risk);
            r.calibrated_risk = Some(calibrated);
            r.over_threshold = r.has_slo && calibrated > r.threshold;
        }
    }
    // Remediation: candidates re-simulated on the base's campaigns. The file
    // is written whenever remediation is on and natural campaigns ran
    // (empty when no handler is over its threshold).
    let remediation = match opts.remediate {
        Some(max) if run.plan.mode != CampaignModes::Targeted && run.handler_campaigns => {
            let base = &run.variants[0];
            let names: Vec<std::sync::Arc<str>> = base
                .model
                .handlers
                .iter()
                .map(|h| std::sync::Arc::from(h.id.as_str()))
                .collect();
            let out_dir = &run.out_dir;
            let w = &mut writer;
            let mut write_row =
                |candidate: &str,
                 model: &sim_models::model::Model,
                 k: u64,
                 seed: u64,
                 r: &sim_models::campaign::CampaignResult| {
                    let key = crate::run::RowKey {
                        variant: &std::sync::Arc::from(candidate),
                        campaign: k,
                        seed,
                        mode: sim_output::Mode::Remediation,
                        scenario_id: None,
                    };
                    crate::run::send_result(w, model, &names, &key, r, 0)
                        .map_err(|e| Error::output(format!("writing {}", out_dir.display()), e))
                };
            let rows: Option<crate::remediate::CandidateRows<'_>> =
                opts.remediation_rows.then_some(&mut write_row);
            let rem = crate::remediate::remediate(
                &run.loaded,
                base,
                &report,
                &run.plan,
                max,
                run.telemetry.as_ref(),
                rows,
            )
            .map_err(|e| {
                Error::keep_internal(e, |e| {
                    Error::environment(format!("preflight: remediation failed: {e:#}"))
                })
            })?;
            writer
                .write_remediations(&rem.rows())
                .map_err(|e| Error::output(format!("writing {}", run.out_dir.display()), e))?;
            Some(rem)
        }
        _ => None,
    };
    if report.refused_over_cap > 0 {
        eprintln!(
            "preflight: warning: {}: {} requests were refused because a campaign held as many requests as its in-flight cap allows ({} in flight; docs/limits.md): the system is overloaded, and they count as errors",
            run.loaded.file.display(),
            report.refused_over_cap,
            run.memory
                .variants
                .iter()
                .map(|(n, c, _)| format!("`{n}`: {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if remediation.is_some() {
        phases.lap("remediation", &mut mark);
    }
    if let Some(t) = &run.telemetry {
        sim_forecast::write_parquet(
            &writer.staging_dir().join("forecast.parquet"),
            &t.forecasts,
            &crate::telemetry::LEVELS,
        )?;
    }
    let manifest = run_manifest(
        &run,
        &report,
        opts,
        &paths,
        paths_wall_s,
        remediation.as_ref(),
    );
    let calibration_map = run.calibration.as_ref().map(|(_, c)| c.map.clone());
    let telemetry = run.telemetry.take();
    if !opts.write {
        writer.abandon();
        drop(scratch);
        return Ok(RunOutcome {
            plan: run.plan,
            report,
            out_dir: None,
            calibration_map,
            gate: run.loaded.scenario.risk.gate,
            predicted: predicted.into_iter().map(|p| p.row).collect(),
            remediation,
            handler_campaigns: run.handler_campaigns,
            paths,
            paths_wall_s,
            phases: sim_output::manifest::Phases::default(),
            telemetry,
        });
    }
    let mut timed = sim_output::manifest::Phases::default();
    let summary = writer
        .finish_with(&report.risk, manifest, |m| {
            phases.lap("write", &mut mark);
            let total = start.to(&mark);
            phases.log("run", total);
            m.wall_time_s = total.wall_s;
            m.phases = phases.manifest(total);
            timed = m.phases.clone();
        })
        .map_err(|e| Error::output(format!("writing {}", run.out_dir.display()), e))?;
    crate::parts::finished(store.as_ref(), &opts.parts);
    Ok(RunOutcome {
        plan: run.plan,
        report,
        out_dir: Some(summary.out_dir),
        calibration_map,
        gate: run.loaded.scenario.risk.gate,
        predicted: predicted.into_iter().map(|p| p.row).collect(),
        remediation,
        handler_campaigns: run.handler_campaigns,
        paths,
        paths_wall_s,
        phases: timed,
        telemetry,
    })
}

/// A scratch directory for the rows of a run that publishes nothing
/// (`RunOptions::write` off), deleted when dropped.
fn scratch_dir() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("preflight-unpublished-")
        .tempdir()
        .map_err(|e| {
            Error::environment(format!(
                "preflight: a scratch directory in {}: {e}",
                std::env::temp_dir().display()
            ))
        })
}

/// The campaigns of the predicted scenarios, in rank order, as rows of
/// `campaigns.parquet` and `handlers.parquet` with mode `predicted` and the
/// scenario's id, so that `scenarios.parquet` joins to them.
fn write_predicted_campaigns(
    writer: &mut RunWriter,
    base: &PreparedVariant,
    predicted: &[crate::predict::Predicted],
) -> Result<(), sim_output::OutputError> {
    let names: Vec<std::sync::Arc<str>> = base
        .model
        .handlers
        .iter()
        .map(|h| std::sync::Arc::from(h.id.as_str()))
        .collect();
    for p in predicted {
        for (k, (seed, r)) in p.campaigns.iter().enumerate() {
            let key = crate::run::RowKey {
                variant: &base.name,
                campaign: k as u64,
                seed: *seed,
                mode: sim_output::Mode::Predicted,
                scenario_id: Some(&p.row.scenario_id),
            };
            crate::run::send_result(writer, &base.model, &names, &key, r, 0)?;
        }
    }
    Ok(())
}

/// Whether the run predicts injection scenarios: in targeted mode, and for
/// the live injections of an enabled `failure_injection_profile` (the gate
/// decides on natural risk: no live injection there).
pub(crate) fn predicts(run: &Planned, opts: &RunOptions) -> bool {
    matches!(opts.mode, CampaignModes::Targeted | CampaignModes::Both)
        || live_profile(run, opts).is_some()
}

/// The scenario's `failure_injection_profile` when it applies to this run.
pub(crate) fn live_profile<'a>(
    run: &'a Planned,
    opts: &RunOptions,
) -> Option<&'a sim_models::spec::FailureInjectionProfile> {
    run.loaded
        .scenario
        .failure_injection_profile
        .as_ref()
        .filter(|p| p.enabled && opts.live_injection)
}

/// Predicts the base's injection scenarios (`scenarios.parquet`).
pub(crate) fn predict_scenarios(
    run: &Planned,
    opts: &RunOptions,
) -> Result<Vec<crate::predict::Predicted>, Error> {
    crate::predict::predict(
        &run.variants[0],
        crate::predict::PredictOptions {
            campaigns: opts.scenario_campaigns.unwrap_or(20),
            seed: run.plan.seed,
            threads: run.plan.threads,
            progress: !opts.quiet,
        },
    )
    .map_err(|e| {
        Error::keep_internal(e, |e| {
            Error::environment(format!(
                "preflight: predicting injection scenarios failed: {e:#}"
            ))
        })
    })
}

/// Sets the plan's live injection from the profile and the predicted
/// scenarios (request-level runs only; a two-scale run says it has none).
pub(crate) fn plan_live_injection(
    run: &mut Planned,
    opts: &RunOptions,
    predicted: &[crate::predict::Predicted],
) {
    let Some(p) = live_profile(run, opts) else {
        return;
    };
    if run.plan.two_scale {
        if !opts.quiet {
            eprintln!(
                "preflight: note: {}: failure_injection_profile: the injection programme runs in request-level campaigns only; this run uses the two-scale method (--scale), so no programme campaigns run",
                run.loaded.file.display()
            );
        }
    } else {
        run.plan.live = crate::predict::live_spec(p, predicted);
    }
}

/// The calibration map to apply: `--calibration FILE` (which must exist),
/// else the default file when it exists; none with `--no-calibration`.
fn find_calibration(
    opts: &RunOptions,
    s: &Scenario,
    loaded: &Loaded,
) -> Result<Option<(PathBuf, crate::calibrate::map::CalibrationFile)>, Error> {
    let path = match &opts.calibration {
        Some(p) => p.clone(),
        None => {
            let p = default_calibration_path(s);
            if opts.no_calibration || !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    if opts.no_calibration {
        return Ok(None);
    }
    let c = crate::calibrate::map::CalibrationFile::read(&path)
        .map_err(|e| Error::input(format!("preflight: --calibration: {e}")))?;
    if !opts.quiet {
        eprintln!(
            "preflight: note: calibrated_risk from {} (backtest of {} predictions on {}{})",
            path.display(),
            c.predictions,
            c.history,
            if c.scenario_hash == loaded.source_hash {
                ""
            } else {
                "; the scenario file has changed since"
            }
        );
    }
    Ok(Some((path, c)))
}

/// The default in-flight cap of the variant called `name`.
fn default_cap_of(variants: &[PreparedVariant], name: &str) -> u64 {
    variants
        .iter()
        .find(|v| &*v.name == name)
        .map(|v| sim_models::limits::default_cap(&v.model))
        .unwrap_or(0)
}

/// Refuses campaigns too large for request-level simulation, and says when a
/// campaign is large enough to take a while.
fn check_size(loaded: &Loaded, variants: &[PreparedVariant], quiet: bool) -> Result<(), Error> {
    let Some((v, n)) = variants
        .iter()
        .rev() // on ties, `max_by` keeps the last: report the first variant
        .map(|v| (v, expected_requests(&v.model)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Ok(());
    };
    if n > MAX_REQUESTS_PER_CAMPAIGN {
        // Recommend the two-scale method only where it can finish.
        let instead = match crate::limits::check_two_scale_work(variants) {
            Ok(()) => {
                "Use `--scale two-scale` (or `auto`), or a shorter `horizon:` (minutes to hours)."
                    .to_string()
            }
            Err(why) => format!(
                "The two-scale method cannot take it either ({}). Use a shorter `horizon:` or a lower rate.",
                why.trim_end_matches('.')
            ),
        };
        return Err(Error::input(format!(
            "preflight: {}: horizon: variant `{}` expects {:.0} million requests per campaign ({} of simulated time); \
             request-level simulation is limited to {:.0} million (docs/limits.md). {instead}",
            loaded.file.display(),
            v.name,
            n / 1e6,
            sim_models::spec::Duration::from_secs(v.model.horizon.as_secs_f64()),
            MAX_REQUESTS_PER_CAMPAIGN / 1e6,
        )));
    }
    if n > 1e7 && !quiet {
        eprintln!(
            "preflight: note: {}: about {:.0} million requests per campaign; each campaign may take several seconds",
            loaded.file.display(),
            n / 1e6
        );
    }
    Ok(())
}
