//! Command-line arguments that mirror the engine's option types: clap
//! lives here, the engine takes plain structs.
#![allow(missing_docs)]

use std::path::PathBuf;

/// What a time between failures is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BetweenArg {
    /// From one failure's start to the next one's (the literature's
    /// convention, and `preflight fit`'s default).
    #[default]
    Start,
    /// From the repair (`end`) to the next failure: the up time, which is
    /// what the simulator draws from `time_between`. Falls back to start to
    /// start where `end` is missing or overlaps the next failure.
    Up,
}

impl From<BetweenArg> for sim_engine::fit::Between {
    fn from(a: BetweenArg) -> Self {
        match a {
            BetweenArg::Start => sim_engine::fit::Between::Start,
            BetweenArg::Up => sim_engine::fit::Between::Up,
        }
    }
}

/// Options of `preflight fit` (also its command-line flags).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FitArgs {
    /// Incident history: .csv or .parquet, one row per incident.
    pub input: PathBuf,
    /// NAME=COLUMN: read the canonical column NAME (resource, resource_type,
    /// mode, start, end, cause) from COLUMN, e.g. `--col start="Prob Started"`.
    #[arg(long, value_name = "NAME=COLUMN")]
    pub col: Vec<String>,
    /// NAME=VALUE: a constant for a canonical column the file lacks, e.g.
    /// `--set resource_type=compute`.
    #[arg(long, value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// How times are written (strftime, read as UTC), e.g. "%m/%d/%Y %H:%M".
    /// Default: RFC 3339, or YYYY-MM-DD with an optional HH:MM or HH:MM:SS.
    #[arg(long, value_name = "FORMAT")]
    pub time_format: Option<String>,
    /// COLUMN=VALUE[,VALUE...]: keep only rows whose COLUMN is one of the
    /// values (repeat for several columns).
    #[arg(long, value_name = "COLUMN=VALUES")]
    pub filter: Vec<String>,
    /// Comma-separated columns to fit separately (default: resource_type,mode).
    #[arg(long, value_name = "COLUMNS")]
    pub group_by: Option<String>,
    /// RAW=TYPE[,RAW=TYPE...]: resource-type labels of the file → scenario
    /// resource types, e.g. `--type-map cluster=compute`.
    #[arg(long, value_name = "RAW=TYPE")]
    pub type_map: Vec<String>,
    /// Start of the observation window (default: the first timestamp).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the observation window (default: the last timestamp); the time
    /// from a resource's last failure to here is a censored observation.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Print JSON (every candidate fit of every group) instead of YAML and the table.
    #[arg(long)]
    pub json: bool,
    /// Write the samples fitted to this CSV: group, kind (time_between or
    /// repair), resource, value_s, censored.
    #[arg(long, value_name = "FILE.csv")]
    pub intervals_out: Option<PathBuf>,
    /// Times between failures from one failure's start to the next (`start`,
    /// the literature's convention) or from the repair to the next failure
    /// (`up`: the up time the simulator draws from `time_between`).
    #[arg(long, value_enum, default_value_t = BetweenArg::Start)]
    pub between: BetweenArg,
}

impl From<FitArgs> for sim_engine::fit::FitOptions {
    fn from(a: FitArgs) -> Self {
        sim_engine::fit::FitOptions {
            input: a.input,
            col: a.col,
            set: a.set,
            time_format: a.time_format,
            filter: a.filter,
            group_by: a.group_by,
            type_map: a.type_map,
            from: a.from,
            to: a.to,
            json: a.json,
            intervals_out: a.intervals_out,
            between: a.between.into(),
        }
    }
}

/// Options of `preflight synth`.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {
    /// Scenario file (.yaml, .yml, .toml or .json).
    pub scenario: PathBuf,
    /// Where the files the scenario names may be (`--allow-external-files`).
    #[arg(skip)]
    pub file_access: sim_engine::inputs::FileAccess,
    /// Length of the history, in years (fractions allowed).
    #[arg(long)]
    pub years: f64,
    /// Seed of the draw (default: the scenario's `seed`, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// When the history starts (RFC 3339).
    #[arg(long, default_value = "2000-01-01T00:00:00Z")]
    pub start: String,
    /// CSV file to write (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl From<SynthArgs> for sim_engine::synth::SynthOptions {
    fn from(a: SynthArgs) -> Self {
        sim_engine::synth::SynthOptions {
            scenario: a.scenario,
            file_access: a.file_access,
            years: a.years,
            seed: a.seed,
            start: a.start,
            out: a.out,
        }
    }
}

/// Which campaigns to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CampaignModesArg {
    /// The natural failure processes.
    Natural,
    /// One set of campaigns per explicit injection.
    Targeted,
    /// Both.
    Both,
}

impl From<CampaignModesArg> for sim_engine::run::CampaignModes {
    fn from(a: CampaignModesArg) -> Self {
        match a {
            CampaignModesArg::Natural => sim_engine::run::CampaignModes::Natural,
            CampaignModesArg::Targeted => sim_engine::run::CampaignModes::Targeted,
            CampaignModesArg::Both => sim_engine::run::CampaignModes::Both,
        }
    }
}

/// How campaigns are simulated (`--scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleChoiceArg {
    /// Request level up to 10 million expected workload requests per
    /// campaign, two-scale above.
    Auto,
    /// Every request of the whole horizon (exact; slow for long windows).
    Request,
    /// Fault timeline over the horizon, request-level episodes around the
    /// faults, and a pooled healthy baseline (see `docs/two-scale.md`).
    TwoScale,
}

impl From<ScaleChoiceArg> for sim_engine::prepare::ScaleChoice {
    fn from(a: ScaleChoiceArg) -> Self {
        match a {
            ScaleChoiceArg::Auto => sim_engine::prepare::ScaleChoice::Auto,
            ScaleChoiceArg::Request => sim_engine::prepare::ScaleChoice::Request,
            ScaleChoiceArg::TwoScale => sim_engine::prepare::ScaleChoice::TwoScale,
        }
    }
}

/// Options of `preflight calibrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateArgs {
    /// Scenario file (.yaml, .yml, .toml or .json).
    pub scenario: PathBuf,
    /// Where the files the scenario names may be (`--allow-external-files`).
    #[arg(skip)]
    pub file_access: sim_engine::inputs::FileAccess,
    /// Incident history (CSV or Parquet with the canonical columns, see
    /// `preflight fit`).
    #[arg(long)]
    pub history: PathBuf,
    /// Risk window (default: the scenario's `risk.window`), e.g. `1d`.
    #[arg(long)]
    pub window: Option<String>,
    /// Natural campaigns per prediction.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(10..))]
    pub campaigns: u64,
    /// Refit (and predict anew) every N windows (default: about ten refits).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub refit_every: Option<u64>,
    /// Share of the history used only for fitting before the first origin.
    #[arg(long, default_value_t = 0.25)]
    pub warmup: f64,
    /// Predict with the scenario's own failure modes instead of fitting them
    /// (how well the model as written predicts the history).
    #[arg(long)]
    pub no_refit: bool,
    /// Master seed (default: the scenario's `seed`, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Where to save the map (default: reports/NAME.calibration.json, NAME the scenario's name).
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Reliability diagram, SVG (default: the map's path with `.svg`).
    #[arg(long)]
    pub diagram: Option<PathBuf>,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

impl From<CalibrateArgs> for sim_engine::calibrate::CalibrateOptions {
    fn from(a: CalibrateArgs) -> Self {
        sim_engine::calibrate::CalibrateOptions {
            scenario: a.scenario,
            file_access: a.file_access,
            history: a.history,
            window: a.window,
            campaigns: a.campaigns,
            refit_every: a.refit_every,
            warmup: a.warmup,
            no_refit: a.no_refit,
            seed: a.seed,
            threads: a.threads,
            map: a.map,
            diagram: a.diagram,
            json: a.json,
        }
    }
}

/// Options of `preflight merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The directories the shards wrote (`--out` of `run --shard`).
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// The run directory to write. Replaced atomically.
    #[arg(long)]
    pub out: PathBuf,
    /// Worker threads for what runs in the merge (predicted scenarios,
    /// remediation, service paths; default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// No progress bar and no summary table.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Options of `preflight forecast`.
#[derive(Debug, clap::Args)]
pub struct ForecastArgs {
    /// The telemetry: CSV or Parquet in long form (timestamp, resource,
    /// metric, value), a one-series CSV (timestamp, value) or a Prometheus
    /// query_range response (JSON).
    pub telemetry: PathBuf,
    /// How far ahead (default 24h).
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub horizon: sim_models::spec::Duration,
    /// Prediction interval levels, percent (default 80,95).
    #[arg(long, value_name = "L,L", value_delimiter = ',', default_values_t = [80.0, 95.0])]
    pub level: Vec<f64>,
    /// A failure threshold: METRIC>VALUE, METRIC<VALUE or
    /// RESOURCE/METRIC>VALUE (repeatable).
    #[arg(long, value_name = "THRESHOLD", value_parser = sim_forecast::Threshold::parse)]
    pub threshold: Vec<sim_forecast::Threshold>,
    /// Season lengths in steps (comma-separated; default: found from the
    /// data; 0: none).
    #[arg(long, value_name = "STEPS", value_delimiter = ',')]
    pub season: Option<Vec<usize>>,
    /// Fit each model on the latest POINTS of its history, or `all`
    /// (default: three of the longest season, ten horizons, at least 1000).
    #[arg(long, value_name = "POINTS", value_parser = parse_fit_window)]
    pub fit_window: Option<usize>,
    /// A one-series file's resource (default: the file's stem).
    #[arg(long)]
    pub resource: Option<String>,
    /// A one-series file's metric (default `value`).
    #[arg(long)]
    pub metric: Option<String>,
    /// Prometheus: the label naming the resource (default `instance`).
    #[arg(long, value_name = "LABEL")]
    pub resource_label: Option<String>,
    /// Prometheus: the label naming the metric (default `__name__`).
    #[arg(long, value_name = "LABEL")]
    pub metric_label: Option<String>,
    /// Also score the models on the history (rolling origins): MASE,
    /// interval coverage, and with a threshold the Brier score.
    #[arg(long)]
    pub backtest: bool,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write forecast.parquet (one row per future step) here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Options of `preflight import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The inputs, merged by name (e.g. a manifest and a call-edge CSV).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// What the inputs are: cloudformation | kubernetes | compose | edges |
    /// jaeger (default: inferred from each file, and said).
    #[arg(long, value_name = "KIND")]
    pub from: Option<sim_import::Source>,
    /// Write the scenario skeleton here (default: stdout). An existing
    /// file is replaced only when an earlier import wrote it.
    #[arg(long, value_name = "FILE", conflicts_with = "graph")]
    pub out: Option<PathBuf>,
    /// Print the dependency graph (every node, every edge with its
    /// evidence) instead of a scenario.
    #[arg(long)]
    pub graph: bool,
    /// With --graph: as JSON.
    #[arg(long, requires = "graph")]
    pub json: bool,
    /// The scenario's name (default: the first file's stem).
    #[arg(long)]
    pub name: Option<String>,
}

/// Options of `preflight report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run directory (`preflight run --out DIR`, or reports/NAME, NAME the scenario's name).
    pub run_dir: PathBuf,
    /// Where to write the page (default: report.html in the run directory,
    /// which a later run into it replaces with its own results).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Open the page in the default browser afterwards.
    #[arg(long)]
    pub open: bool,
}

/// Options of `preflight export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The run directory (`--out` of `preflight run`).
    pub run_dir: PathBuf,
    /// thresholds | fis | chaos-mesh | litmus | chaostoolkit | prometheus-rules.
    #[arg(long, value_name = "FORMAT")]
    pub format: sim_export::Format,
    /// At most N scenarios, best rank first (default: all).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub top: Option<usize>,
    /// Only scenarios of this severity or above: low | medium | high | critical.
    #[arg(long, value_name = "SEVERITY", value_parser = ["low", "medium", "high", "critical"])]
    pub min_severity: Option<String>,
    /// Only this scenario (repeatable): a `scenario_id` of scenarios.parquet.
    #[arg(long, value_name = "ID")]
    pub scenario: Vec<String>,
    /// Where to write (default RUN_DIR/export/FORMAT/). Replaced atomically,
    /// only when it is empty or an earlier export's.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A placeholder for a missing target, or an abort threshold that
    /// cannot be written, is an error (exit 2) instead of a warning.
    #[arg(long)]
    pub strict: bool,
    /// The Prometheus server probes query (default
    /// <http://prometheus-operated.monitoring.svc:9090>).
    #[arg(long, value_name = "URL")]
    pub prometheus_url: Option<String>,
    /// The request counter (default http_requests_total).
    #[arg(long, value_name = "METRIC")]
    pub requests_metric: Option<String>,
    /// The label matcher of failed requests (default code=~"5..").
    #[arg(long, value_name = "MATCHER")]
    pub errors_matcher: Option<String>,
    /// The request-duration histogram in seconds, without _bucket
    /// (default http_request_duration_seconds).
    #[arg(long, value_name = "METRIC")]
    pub duration_metric: Option<String>,
    /// The range of rate() in queries (default 1m).
    #[arg(long, value_name = "RANGE")]
    pub rate_window: Option<String>,
    /// The IAM role AWS FIS assumes (default: a REPLACE-ME placeholder).
    #[arg(long, value_name = "ARN")]
    pub fis_role_arn: Option<String>,
    /// Print nothing but warnings and errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Options of `preflight worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The coordinator's address (`run --cluster ADDR`).
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: std::net::SocketAddr,
    /// Threads per range (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// The shared secret: the first line of FILE (else PREFLIGHT_CLUSTER_SECRET).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The coordinator uses TLS (`run --tls-cert`): trust the certificates
    /// of this PEM file (its CA) for it.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// The name the coordinator's certificate must carry (default: the
    /// address of --connect).
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    pub tls_name: Option<String>,
    /// Say nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Options of `preflight replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The run directory (its manifest.json, scenario copy and tables).
    pub run_dir: PathBuf,
    /// The campaign's index in its job (`campaign` in campaigns.parquet).
    #[arg(long, value_name = "N")]
    pub campaign: u64,
    /// The variant (`base`: the scenario as written).
    #[arg(long, default_value = "base")]
    pub variant: String,
    /// A targeted campaign of this injection (`scenario_id`); without it, a
    /// natural campaign.
    #[arg(long, value_name = "ID")]
    pub injection: Option<String>,
    /// A programme campaign (`mode` programme in campaigns.parquet): the
    /// natural campaign with the live-injection programme running.
    #[arg(long)]
    pub programme: bool,
    /// Print the live injections' events of the replayed campaign.
    #[arg(long)]
    pub events: bool,
}

impl From<&ReplayArgs> for sim_engine::replay::ReplayOptions {
    fn from(a: &ReplayArgs) -> Self {
        sim_engine::replay::ReplayOptions {
            run_dir: a.run_dir.clone(),
            campaign: a.campaign,
            variant: a.variant.clone(),
            injection: a.injection.clone(),
            programme: a.programme,
        }
    }
}

/// `preflight gate --undecided`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UndecidedArg {
    /// An undecided handler fails the gate.
    Fail,
    /// An undecided handler does not fail the gate.
    Pass,
}

/// `preflight analyze --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LevelArg {
    /// Any finding.
    Info,
    /// A warning or a critical finding.
    Warning,
    /// A critical finding.
    Critical,
}

impl From<LevelArg> for sim_engine::analyze::Level {
    fn from(l: LevelArg) -> Self {
        match l {
            LevelArg::Info => sim_engine::analyze::Level::Info,
            LevelArg::Warning => sim_engine::analyze::Level::Warning,
            LevelArg::Critical => sim_engine::analyze::Level::Critical,
        }
    }
}

/// `--fit-window`: a number of points (at least 8), or `all`.
fn parse_fit_window(s: &str) -> Result<usize, String> {
    if s == "all" {
        return Ok(usize::MAX);
    }
    match s.parse::<usize>() {
        Ok(n) if n >= 8 => Ok(n),
        _ => Err(format!(
            "expected a number of points (8 or more) or `all`, got `{s}`"
        )),
    }
}
