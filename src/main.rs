//! The `preflight` command line.
//!
//! Exit codes: 0 success; 1 a gate or check failed; 2 bad input or usage
//! (with a message naming the file and field); anything else is a bug.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Preflight predicts how infrastructure fails before anyone injects a real fault.
#[derive(Debug, Parser)]
#[command(name = "preflight", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

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
    Calibrate(preflight::calibrate::CalibrateOptions),
    /// Write an incident history drawn from the scenario's own failure model (CSV).
    Synth(preflight::synth::SynthOptions),
    /// Parse and check a scenario; list every problem (exit 0 or 2).
    Validate {
        /// Scenario file (.yaml, .yml, .toml or .json).
        scenario: PathBuf,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// Fit failure and repair distributions to an incident history (CSV or Parquet).
    Fit(preflight::fit::FitOptions),
}

/// Options of `preflight run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// `all` (default): the base and every variant; `base`: the base only;
    /// NAME: the base and that variant.
    #[arg(long, default_value = "all")]
    pub variant: String,
    /// natural: failure processes; targeted: one set of campaigns per explicit injection; both.
    #[arg(long, value_enum, default_value_t = preflight::run::ModeSel::Natural)]
    pub mode: preflight::run::ModeSel,
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
    /// Print the verdict as JSON on stdout (nothing else).
    #[arg(long)]
    pub json: bool,
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
    /// Run directory (default: reports/<scenario name>). Replaced atomically.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar (and, for `run`, no summary table).
    #[arg(short, long)]
    pub quiet: bool,
    /// request: every request of the horizon; two-scale: fault timeline,
    /// episodes around faults and a healthy baseline (docs/two-scale.md);
    /// auto: two-scale above 10 million expected requests per campaign.
    #[arg(long, value_enum, default_value_t = preflight::run::ScaleSel::Auto)]
    pub scale: preflight::run::ScaleSel,
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
    pub rare_event: Option<preflight::run::RareEvent>,
    /// Recalibration map for `calibrated_risk` (default:
    /// reports/<scenario name>.calibration.json when it exists).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// Leave `calibrated_risk` empty even when a map exists.
    #[arg(long, conflicts_with = "calibration")]
    pub no_calibration: bool,
}

impl CampaignArgs {
    /// The command-layer options, with what differs between `run` and `gate`.
    fn options(
        self,
        variant: String,
        mode: preflight::run::ModeSel,
        against_gate: bool,
    ) -> preflight::commands::RunOptions {
        preflight::commands::RunOptions {
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
            scale: self.scale,
            rare_event: self.rare_event,
            calibration: self.calibration,
            no_calibration: self.no_calibration,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Run(args) => {
            preflight::commands::run(&args.common.options(args.variant, args.mode, false))
        }
        Command::Gate(args) => preflight::commands::gate(
            &args
                .common
                .options(args.variant, preflight::run::ModeSel::Natural, true),
            args.json,
        ),
        Command::Validate { scenario } => preflight::commands::validate(&scenario),
        Command::Schema => preflight::commands::schema(),
        Command::Synth(opts) => preflight::synth::synth(&opts),
        Command::Calibrate(opts) => preflight::calibrate::calibrate(&opts),
        Command::Fit(opts) => preflight::fit::fit(&opts),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
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
