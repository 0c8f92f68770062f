//! The `preflight` command line.
//!
//! A thin layer over the `sim-engine` library: arguments, exit codes,
//! progress bars and printing.
//!
//! Exit codes: 0 success; 1 a gate or check failed; 2 bad input or usage
//! (with a message naming the file and field); 3 the environment failed (a
//! file could not be written, disk full, permission); 70 an internal error
//! (a bug: please report it); anything else (a panic, 101) is also a bug.
//! [`exit_code`] is the one place errors become exit codes.

mod args;
mod commands;
mod console;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sim_engine::inputs::FileAccess;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Preflight predicts how infrastructure fails before anyone injects a real fault.
#[derive(Debug, Parser)]
#[command(name = "preflight", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// Let a scenario read files outside its own folder (empirical
    /// distributions, `historical_faults:`); by default a file it names must
    /// be in the scenario's folder or below, after following symlinks
    /// (docs/limits.md).
    #[arg(long, global = true)]
    allow_external_files: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Monte Carlo campaigns and write a run directory of Parquet results.
    Run(RunArgs),
    /// Run natural campaigns and exit 1 when any handler's risk is above
    /// `risk.gate` (for deployment pipelines).
    Gate(GateArgs),
    /// Backtest predicted risk against an incident history; save the recalibration map.
    Calibrate(args::CalibrateArgs),
    /// Write an incident history drawn from the scenario's own failure model (CSV).
    Synth(args::SynthArgs),
    /// Parse and check a scenario; list every problem (exit 0 or 2).
    Validate {
        /// Scenario file (.yaml, .yml, .toml or .json).
        scenario: PathBuf,
    },
    /// Static failure points: single points of failure, calls without
    /// timeouts, retry amplification, missing breakers, capacity headroom
    /// (docs/analyze.md). Advisory: exit 0 whatever it finds, 2 on bad input.
    Analyze {
        /// Scenario file (.yaml, .yml, .toml or .json).
        scenario: PathBuf,
        /// `base` (default): the scenario as written; `all`: every variant
        /// too; NAME: the base and that variant.
        #[arg(long, default_value = "base")]
        variant: String,
        /// Print the findings as a JSON array on stdout (nothing else).
        #[arg(long)]
        json: bool,
        /// Exit 1 when any finding is at this level or above (`info`,
        /// `warning`, `critical`), for pipelines.
        #[arg(long, value_enum, value_name = "LEVEL")]
        fail_on: Option<args::LevelArg>,
    },
    /// Service paths: the k cheapest operator compositions of each path and
    /// where to place them (operator → node, route, delay and loss against
    /// the QoS; docs/paths.md). Advisory: exit 0 whatever it finds, 2 on bad input.
    Paths {
        /// Scenario file (.yaml, .yml, .toml or .json).
        scenario: PathBuf,
        /// Compositions listed (and tried, cheapest first) per path.
        #[arg(short, long, value_name = "N", default_value_t = sim_models::paths::DEFAULT_K, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100))]
        k: usize,
        /// Place as if this node were down (repeatable): the re-placement
        /// a `repair: reroute` would make.
        #[arg(long, value_name = "NODE")]
        down: Vec<String>,
        /// Print the paths as a JSON array on stdout (nothing else).
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the scenario format (`--exports`: of the
    /// thresholds export, `thresholds.json`).
    Schema {
        /// The schema of `preflight export --format thresholds` instead.
        #[arg(long)]
        exports: bool,
    },
    /// Fit failure and repair distributions to an incident history (CSV or Parquet).
    Fit(args::FitArgs),
    /// Re-run one campaign of a run directory from its manifest and check
    /// that its rows equal the run's (exit 0 identical, 1 different).
    Replay(args::ReplayArgs),
    /// Put the parts of a run's shards (`run --shard I/N --out DIR`)
    /// together into the run directory a single-machine run writes
    /// (docs/distributed.md). Exit 2 naming every missing range.
    Merge(args::MergeArgs),
    /// Turn a run directory's predicted scenarios into what live fault
    /// injectors and monitoring read: thresholds, AWS FIS, Chaos Mesh,
    /// Litmus, Chaos Toolkit, Prometheus rules (docs/exports.md).
    Export(args::ExportArgs),
    /// Forecast telemetry (long-form CSV/Parquet, one-series CSV, Prometheus
    /// query_range JSON): a model per series, intervals, the probability of
    /// crossing a failure threshold within the horizon; --backtest scores
    /// the models on the history (docs/forecast.md).
    Forecast(args::ForecastArgs),
    /// Write one self-contained HTML page of a run directory: the verdict,
    /// what-if differences, where risk comes from, latency, predicted
    /// scenarios, remediation, timelines, service paths, calibration,
    /// forecasts and the manifest, with inline SVG plots (docs/report.md).
    Report(args::ReportArgs),
    /// Read CloudFormation templates, Kubernetes manifests, Compose files,
    /// call-edge CSVs or Jaeger dependencies into a scenario skeleton (or,
    /// with --graph, the dependency graph with the evidence for every
    /// edge) (docs/importers.md).
    Import(args::ImportArgs),
    /// Join a coordinator's worker pool (`run --cluster ADDR`) and run the
    /// ranges it sends until it closes (docs/distributed.md). The secret
    /// comes from PREFLIGHT_CLUSTER_SECRET or --secret-file.
    Worker(args::WorkerArgs),
}

/// Options of `preflight run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// `all` (default): the base and every variant; `base`: the base only;
    /// NAME: the base and that variant.
    #[arg(long, default_value = "all")]
    pub variant: String,
    /// natural: failure processes; targeted: one set of campaigns per explicit
    /// injection, and the predicted injection scenarios (scenarios.parquet); both.
    #[arg(long, value_enum, default_value_t = args::CampaignModesArg::Natural)]
    pub mode: args::CampaignModesArg,
    /// Write every inject / breach / rollback / end / recover of the live
    /// injections (`failure_injection_profile`) to events.parquet.
    #[arg(long)]
    pub events: bool,
    /// Also write the run's HTML report, report.html in the run directory
    /// (as `preflight report` does; docs/report.md).
    #[arg(long, conflicts_with = "shard")]
    pub report: bool,
    /// Targeted campaigns per predicted injection scenario (default 20);
    /// scenarios are predicted in targeted mode and for an enabled
    /// `failure_injection_profile`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub scenario_campaigns: Option<u64>,
    /// Seed each variant's campaigns apart. By default every variant reuses
    /// the base's campaign seeds (common random numbers), so the risk
    /// difference between a variant and the base is measured on paired
    /// campaigns, with a much tighter interval (docs/what-if.md).
    #[arg(long)]
    pub independent_streams: bool,
    /// Re-simulate at most N remediation candidates (ranked by relevance)
    /// when a handler of the base is over its threshold (docs/remediation.md).
    #[arg(long, value_name = "N", default_value_t = sim_engine::remediate::DEFAULT_MAX)]
    pub remediate_max: usize,
    /// Do not propose and re-simulate remediations (no remediations.parquet).
    #[arg(long)]
    pub no_remediate: bool,
    /// Also write the rows of the campaigns simulated for remediation
    /// candidates to campaigns.parquet and handlers.parquet (mode
    /// `remediation`, the candidate's name as variant; docs/results.md).
    #[arg(long, conflicts_with = "no_remediate")]
    pub remediation_rows: bool,
    /// Run only shard I of N of the campaign ranges and write their parts
    /// under --out (for batch arrays; then `preflight merge`). `auto`:
    /// from JOB_COMPLETION_INDEX and the job's completions (Kubernetes
    /// Indexed Job: set PREFLIGHT_SHARDS to its completions) or
    /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (docs/distributed.md).
    #[arg(long, value_name = "I/N|auto", conflicts_with_all = ["resume", "cluster"])]
    pub shard: Option<String>,
    /// Be the coordinator of a worker pool listening on ADDR (e.g.
    /// 127.0.0.1:7400): the ranges go to the workers that connect with
    /// `preflight worker --connect ADDR`; the secret comes from
    /// PREFLIGHT_CLUSTER_SECRET or --secret-file (docs/distributed.md).
    #[arg(long, value_name = "ADDR")]
    pub cluster: Option<std::net::SocketAddr>,
    /// The worker pool's shared secret: the first line of FILE (else
    /// PREFLIGHT_CLUSTER_SECRET).
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub secret_file: Option<PathBuf>,
    /// The shortest deadline of a range handed to a worker; a worker that
    /// misses it (frozen, or gone without a word) loses the range to
    /// another. Default 2m.
    #[arg(
        long,
        value_name = "DURATION",
        requires = "cluster",
        default_value = "2m"
    )]
    pub range_timeout: sim_models::spec::Duration,
    /// With no worker for this long, the coordinator runs the rest on its
    /// own threads. Default 1m.
    #[arg(
        long,
        value_name = "DURATION",
        requires = "cluster",
        default_value = "1m"
    )]
    pub cluster_wait: sim_models::spec::Duration,
    /// TLS for the worker pool on an untrusted network: the coordinator's
    /// certificate chain (PEM); workers check it with --tls-ca.
    #[arg(long, value_name = "FILE", requires_all = ["cluster", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Continue a run that was killed: ranges whose parts it left beside
    /// --out (`.NAME.parts`) are read instead of run again; the results are
    /// those of an uninterrupted run.
    #[arg(long)]
    pub resume: bool,
    /// Campaigns per range (the unit of --shard, merge and --resume;
    /// default 2048).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub range_size: Option<u64>,
    #[command(flatten)]
    pub common: CampaignArgs,
}

/// Options of `preflight gate`.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// `base` (default): the scenario as written; `all`: every variant too;
    /// NAME: the base and that variant.
    #[arg(long, default_value = "base")]
    pub variant: String,
    /// Print the verdict as JSON on stdout (nothing else; a bad input or a
    /// failure prints a JSON error object there too).
    #[arg(long)]
    pub json: bool,
    /// What a handler whose risk interval still straddles the gate at the
    /// campaign cap does to the verdict: `fail` (default) or `pass`.
    #[arg(long, value_enum, default_value_t = args::UndecidedArg::Fail)]
    pub undecided: args::UndecidedArg,
    #[command(flatten)]
    pub common: CampaignArgs,
}

/// Options `run` and `gate` share.
#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    /// Scenario file (.yaml, .yml, .toml or .json).
    pub scenario: PathBuf,
    /// Campaigns per variant and per injection (default: the scenario's `campaigns`, else 1000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub campaigns: Option<u64>,
    /// Master seed (default: the scenario's `seed`, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Run directory (default: reports/NAME, NAME the scenario's name). Replaced atomically.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar (and, for `run`, no summary table).
    #[arg(short, long)]
    pub quiet: bool,
    /// request: every request of the horizon; two-scale: fault timeline,
    /// episodes around faults and a healthy baseline (docs/two-scale.md);
    /// auto: two-scale above 10 million expected requests per campaign.
    #[arg(long, value_enum, default_value_t = args::ScaleChoiceArg::Auto)]
    pub scale: args::ScaleChoiceArg,
    /// While some handler's risk interval straddles its threshold (the
    /// gate, for `gate`), keep doubling the natural campaigns, up to CAP
    /// per variant.
    #[arg(long, value_name = "CAP", num_args = 0..=1, default_missing_value = "100000",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub until_decided: Option<u64>,
    /// Importance sampling for rare failures: speed up rare failure
    /// processes (`auto`, the default: about one failure per campaign in
    /// all; or a factor) and weight each campaign by its likelihood ratio.
    #[arg(long, value_name = "FACTOR", num_args = 0..=1, default_missing_value = "auto")]
    pub rare_event: Option<sim_engine::run::RareEvent>,
    /// Recalibration map for `calibrated_risk` (default:
    /// reports/NAME.calibration.json, NAME the scenario's name, when it exists).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// Leave `calibrated_risk` empty even when a map exists.
    #[arg(long, conflicts_with = "calibration")]
    pub no_calibration: bool,
    /// Memory the run may use, like `2GiB` or `512MiB` (default: half the
    /// machine's memory). Fewer campaigns run at once to fit; given
    /// explicitly, it may also lower the in-flight cap of a campaign
    /// (requests over it are refused as errors); a run that cannot fit is
    /// refused (docs/limits.md).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// Telemetry to forecast instead of the scenario's `telemetry:` file:
    /// crossings of its thresholds raise failure hazards (docs/forecast.md).
    #[arg(long, value_name = "FILE")]
    pub telemetry: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let size: sim_models::spec::Size = s.parse()?;
    if size.bytes() == 0 {
        return Err("expected a size above zero, like `2GiB`".into());
    }
    Ok(size.bytes())
}

impl CampaignArgs {
    /// The command-layer options, with what differs between `run` and `gate`.
    fn options(
        self,
        variant: String,
        mode: sim_engine::run::CampaignModes,
        against_gate: bool,
        file_access: FileAccess,
    ) -> sim_engine::job::RunOptions {
        // Flags neither command sets here keep the library's defaults
        // (`RunOptions::new`); `run` then sets its own.
        let defaults = sim_engine::job::RunOptions::new(self.scenario.clone());
        sim_engine::job::RunOptions {
            scenario: self.scenario,
            campaigns: self.campaigns,
            seed: self.seed,
            threads: self.threads.map(|t| t as usize),
            variant,
            mode,
            out: self.out,
            quiet: self.quiet,
            until_decided: self.until_decided,
            against_gate,
            scale: self.scale.into(),
            rare_event: self.rare_event,
            calibration: self.calibration,
            no_calibration: self.no_calibration,
            max_memory: self.max_memory,
            remediate: None,
            telemetry: self.telemetry,
            file_access,
            command_line: std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            ..defaults
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    progress::install();
    clean_up_on_signals();
    let access = FileAccess::allowing_external(cli.allow_external_files);
    let result = match cli.command {
        Command::Run(args) => {
            let mut opts = args
                .common
                .options(args.variant, args.mode.into(), false, access);
            opts.events = args.events;
            opts.scenario_campaigns = args.scenario_campaigns;
            opts.independent_streams = args.independent_streams;
            opts.remediate = (!args.no_remediate).then_some(args.remediate_max);
            opts.remediation_rows = args.remediation_rows;
            opts.range_size = args.range_size;
            if args.resume {
                opts.parts = sim_engine::shard::Parts::Resume;
            }
            match (args.shard, args.cluster) {
                (Some(s), _) => commands::shard(&opts, &s),
                (None, Some(listen)) => {
                    let cluster = sim_cluster::ClusterOptions {
                        listen,
                        secret: String::new(),
                        range_timeout: std::time::Duration::from_secs_f64(
                            args.range_timeout.secs(),
                        ),
                        wait: std::time::Duration::from_secs_f64(args.cluster_wait.secs()),
                        tls: args
                            .tls_cert
                            .zip(args.tls_key)
                            .map(|(cert, key)| sim_cluster::ServerTls { cert, key }),
                    };
                    commands::cluster(&opts, cluster, args.secret_file.as_deref(), args.report)
                }
                (None, None) => commands::run(&opts, args.report),
            }
        }
        Command::Worker(args) => commands::worker(&args),
        Command::Merge(args) => commands::merge(&args),
        Command::Gate(args) => {
            let json = args.json;
            let result = commands::gate(
                &args.common.options(
                    args.variant,
                    sim_engine::run::CampaignModes::Natural,
                    true,
                    access,
                ),
                json,
                args.undecided == args::UndecidedArg::Pass,
            );
            if let (true, Err(e)) = (json, &result) {
                commands::print_json_error(e, exit_status(e));
            }
            result
        }
        Command::Validate { scenario } => commands::validate(&scenario, access),
        Command::Analyze {
            scenario,
            variant,
            json,
            fail_on,
        } => commands::analyze(&scenario, &variant, json, fail_on.map(Into::into), access),
        Command::Paths {
            scenario,
            k,
            down,
            json,
        } => commands::paths(&scenario, k, &down, json, access),
        Command::Schema { exports } => commands::schema(exports),
        Command::Export(args) => commands::export(&args),
        Command::Import(args) => commands::import(&args),
        Command::Forecast(args) => commands::forecast(&args),
        Command::Report(args) => commands::report_cmd(&args),
        Command::Synth(args) => {
            let mut opts = sim_engine::synth::SynthOptions::from(args);
            opts.file_access = access;
            commands::synth(&opts)
        }
        Command::Calibrate(args) => {
            let mut opts = sim_engine::calibrate::CalibrateOptions::from(args);
            opts.file_access = access;
            commands::calibrate(&opts)
        }
        Command::Fit(args) => commands::fit(&args.into()),
        Command::Replay(args) => commands::replay(&args),
    };
    // Whatever the command printed must have reached stdout: a write that
    // failed (`> /dev/full`) is the environment's failure, exit 3.
    let flushed = console::finish();
    match (result, flushed) {
        (Err(e), _) => {
            eprintln!("{e}");
            exit_code(&e)
        }
        (Ok(_), Err(e)) => {
            eprintln!("preflight: cannot write to standard output: {e}");
            ExitCode::from(3)
        }
        (Ok(code), Ok(())) => code,
    }
}

/// The exit code of an error: 2 when the user can fix it (an input, an
/// option, an output path), 3 when the environment failed, 70
/// (`EX_SOFTWARE`) for an internal error, a bug of Preflight.
fn exit_code(e: &sim_engine::Error) -> ExitCode {
    ExitCode::from(exit_status(e))
}

/// [`exit_code`] as a number.
fn exit_status(e: &sim_engine::Error) -> u8 {
    match e {
        sim_engine::Error::Internal(_) => 70,
        e if e.is_usage() => 2,
        _ => 3,
    }
}

/// On SIGINT, SIGTERM or SIGHUP: delete the unfinished run directory (the
/// staging directory beside `--out`) and exit with 128 + the signal, as a
/// shell reports it. The previous results stay as they were. (SIGKILL
/// cannot be caught: its staging directory is deleted by the next run into
/// the same output directory; docs/limits.md.)
fn clean_up_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(
                "cannot handle signals ({e}): an interrupted run leaves its staging directory for the next run to delete"
            );
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let removed = sim_output::remove_unfinished();
                let name = match sig {
                    SIGINT => "SIGINT",
                    SIGTERM => "SIGTERM",
                    _ => "SIGHUP",
                };
                if removed > 0 {
                    eprintln!(
                        "preflight: {name}: stopped; the unfinished results were deleted and the previous results are unchanged"
                    );
                }
                std::process::exit(128 + sig);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot handle signals ({e})");
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    // The transport's own notices (a peer's session closed) are the
    // coordinator's and worker's to say, in their words: its errors only.
    let default = match verbose {
        0 => "warn,ractor=error,ractor_cluster=error",
        1 => "info,ractor=error,ractor_cluster=error",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::exit_status;
    use sim_engine::Error;

    #[test]
    fn exit_code_maps_an_internal_error_to_70_and_the_others_as_before() {
        assert_eq!(exit_status(&Error::Internal("a bug".into())), 70);
        assert_eq!(exit_status(&Error::input("bad field")), 2);
        assert_eq!(exit_status(&Error::environment("disk full")), 3);
    }

    #[test]
    fn the_scale_help_gives_the_two_scale_threshold_in_force() {
        use clap::CommandFactory;
        let help = super::Cli::command()
            .find_subcommand_mut("run")
            .expect("run is a subcommand")
            .render_long_help()
            .to_string();
        assert_eq!(sim_engine::prepare::TWO_SCALE_ABOVE, 1e7);
        assert!(
            help.contains("Request level up to 10 million expected workload requests"),
            "{help}"
        );
    }
}
