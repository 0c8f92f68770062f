//! The run directory writer (`sim_output`) against the contract of
//! `shared/spec/outputs.md`: schemas, values, atomic publication, errors.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, SchemaRef, UInt32Type, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::ParquetMetaData;
use serde_json::json;
use sim_output::{
    CampaignRow, EventRow, HandlerRow, Mode, OutputError, PathRow, RemediationRow, RiskRow,
    RunInfo, RunWriter, ScenarioRow, Severity, TableRow, VERSION_METADATA_KEY, WriteOptions,
    write_table,
};

// ---------------------------------------------------------------------------
// The contract, written out independently of the writer's table definitions.

const STR: DataType = DataType::Utf8;
const U64: DataType = DataType::UInt64;
const I64: DataType = DataType::Int64;
const I32: DataType = DataType::Int32;
const F64: DataType = DataType::Float64;
const BOOL: DataType = DataType::Boolean;

/// (column, type, nullable) required by outputs.md, per table.
fn contract(table: &str) -> Vec<(&'static str, DataType, bool)> {
    match table {
        "campaigns" => vec![
            ("variant", STR, false),
            ("campaign", I64, false),
            ("seed", U64, false),
            ("mode", STR, false),
            ("scenario_id", STR, false),
            ("horizon_s", F64, false),
            ("requests", I64, false),
            ("errors", I64, false),
            ("error_rate", F64, false),
            ("latency_mean_ms", F64, false),
            ("latency_p50_ms", F64, false),
            ("latency_p99_ms", F64, false),
            ("availability", F64, false),
            ("slo_breached", BOOL, false),
            ("faults_injected", I32, false),
            ("rollbacks", I32, false),
            ("events", I64, false),
            // Documented additions (docs/results.md).
            ("degraded", I64, false),
            ("faults", STR, false),
        ],
        "handlers" => vec![
            ("variant", STR, false),
            ("campaign", I64, false),
            ("scenario_id", STR, false),
            ("handler", STR, false),
            ("requests", I64, false),
            ("errors", I64, false),
            ("error_rate", F64, false),
            ("latency_mean_ms", F64, false),
            ("latency_p99_ms", F64, false),
            ("slo_breached", BOOL, false),
            ("degraded", I64, false),
            ("seed", U64, false),
        ],
        "risk" => vec![
            ("variant", STR, false),
            ("handler", STR, false),
            ("risk", F64, false),
            ("ci_low", F64, false),
            ("ci_high", F64, false),
            ("campaigns", I64, false),
            ("breaches", I64, false),
            ("calibrated_risk", F64, true),
            ("threshold", F64, false),
            ("over_threshold", BOOL, false),
            // Documented additions (docs/results.md).
            ("risk_diff", F64, true),
            ("risk_diff_low", F64, true),
            ("risk_diff_high", F64, true),
            ("has_slo", BOOL, false),
            ("window_s", F64, false),
            ("fault_free_campaigns", I64, false),
            ("fault_free_breaches", I64, false),
            ("breached_without_faults", BOOL, false),
            ("programme_risk", F64, true),
            ("programme_ci_low", F64, true),
            ("programme_ci_high", F64, true),
            ("programme_added", F64, true),
            ("programme_added_low", F64, true),
            ("programme_added_high", F64, true),
        ],
        "scenarios" => vec![
            ("rank", I32, false),
            ("scenario_id", STR, false),
            ("target", STR, false),
            ("failure_mode", STR, false),
            ("severity", STR, false),
            ("likelihood", F64, false),
            ("impact", F64, false),
            ("score", F64, false),
            ("duration_s", F64, false),
            ("rollback_plan", STR, false),
            ("abort_error_rate", F64, false),
            ("abort_latency_p99_ms", F64, false),
            ("healthy_error_rate", F64, false),
            ("healthy_latency_p99_ms", F64, false),
            // Documented additions (docs/results.md).
            ("abort_error_rate_basis", STR, false),
            ("abort_latency_p99_basis", STR, false),
            ("healthy_error_rate_high", F64, false),
            ("healthy_latency_p99_high_ms", F64, false),
            ("added_latency_ms", F64, true),
            ("error_fraction", F64, true),
            ("status_code", I32, true),
            ("slowdown", F64, true),
            ("concurrency_lost_percent", F64, true),
        ],
        "remediations" => vec![
            ("variant", STR, false),
            ("target", STR, false),
            ("suggestion", STR, false),
            ("change", STR, false),
            ("risk_before", F64, false),
            ("risk_after", F64, false),
            // Documented additions (docs/results.md).
            ("handler", STR, false),
            ("kind", STR, false),
            ("risk_before_low", F64, false),
            ("risk_before_high", F64, false),
            ("risk_after_low", F64, false),
            ("risk_after_high", F64, false),
            ("risk_diff", F64, false),
            ("risk_diff_low", F64, false),
            ("risk_diff_high", F64, false),
            ("campaigns", I64, false),
            ("relevance", F64, false),
        ],
        "events" => vec![
            ("variant", STR, false),
            ("campaign", I64, false),
            // Documented additions: the campaign's join keys.
            ("mode", STR, false),
            ("scenario_id", STR, false),
            ("time_s", F64, false),
            ("kind", STR, false),
            ("target", STR, false),
            ("failure_mode", STR, false),
            ("detail", STR, false),
            // Documented additions (docs/results.md): the detail's values, typed.
            ("replica", I32, true),
            ("duration_s", F64, true),
            ("error_rate", F64, true),
            ("latency_p99_ms", F64, true),
            ("detected_at_s", F64, true),
            ("breach_s", F64, true),
            ("hold_s", F64, true),
            ("detection_delay_s", F64, true),
        ],
        // A documented addition (docs/results.md): scenarios with `paths:`.
        "paths" => vec![
            ("variant", STR, false),
            ("campaign", I64, false),
            ("path", STR, false),
            ("adus_sent", I64, false),
            ("adus_delivered", I64, false),
            ("adus_lost", I64, false),
            ("loss_rate", F64, false),
            ("delay_mean_ms", F64, false),
            ("delay_p99_ms", F64, false),
            ("availability", F64, false),
            ("repairs", I32, false),
            ("time_to_repair_s", F64, false),
            ("downtime_s", F64, false),
            ("moves_back", I32, false),
        ],
        other => panic!("no contract for {other}"),
    }
}

/// Asserts the contract's columns are in `schema` with its types and
/// nullability; the schema may have more columns, all non-dictionary.
fn assert_contract(table: &str, schema: &SchemaRef) {
    for (name, data_type, nullable) in contract(table) {
        let field = schema
            .field_with_name(name)
            .unwrap_or_else(|_| panic!("{table}.parquet lacks column {name}"));
        assert_eq!(field.data_type(), &data_type, "{table}.{name} type");
        assert_eq!(field.is_nullable(), nullable, "{table}.{name} nullability");
    }
    for field in schema.fields() {
        assert!(
            !matches!(field.data_type(), DataType::Dictionary(..)),
            "{table}.{} is an Arrow dictionary",
            field.name()
        );
    }
}

// ---------------------------------------------------------------------------
// Sample rows.

fn campaign(variant: &Arc<str>, i: u64) -> CampaignRow {
    let targeted = i % 3 == 2;
    let requests = if i == 4 { 0 } else { 1000 + i };
    CampaignRow {
        variant: variant.clone(),
        campaign: i,
        seed: u64::MAX - i, // exercises the unsigned range
        mode: if targeted {
            Mode::Targeted
        } else {
            Mode::Natural
        },
        scenario_id: targeted.then(|| Arc::from(format!("s{}", i % 5).as_str())),
        horizon_s: 3600.0,
        requests,
        errors: if requests == 0 { 0 } else { i },
        error_rate: if requests == 0 {
            f64::NAN
        } else {
            i as f64 / requests as f64
        },
        latency_mean_ms: 10.0 + i as f64,
        latency_p50_ms: 8.0 + i as f64,
        latency_p99_ms: 80.0 + i as f64,
        availability: 1.0 - i as f64 * 1e-3,
        slo_breached: i.is_multiple_of(4),
        faults_injected: 1000 - i as u32,
        rollbacks: (i % 2) as u32,
        events: 50_000 + i,
        weight: 1.0,
        degraded: i / 2,
        faults: Arc::from(if i.is_multiple_of(3) {
            "db/process_crash,cache/latency_spike"
        } else {
            ""
        }),
    }
}

fn handler(variant: &Arc<str>, i: u64, name: &Arc<str>) -> HandlerRow {
    let c = campaign(variant, i);
    HandlerRow {
        variant: c.variant,
        campaign: i,
        mode: c.mode,
        scenario_id: c.scenario_id,
        handler: name.clone(),
        requests: c.requests / 2,
        errors: c.errors / 2,
        error_rate: c.error_rate,
        latency_mean_ms: c.latency_mean_ms,
        latency_p50_ms: c.latency_p50_ms,
        latency_p99_ms: c.latency_p99_ms,
        availability: c.availability,
        slo_breached: c.slo_breached,
        degraded: c.degraded / 2,
        seed: c.seed,
    }
}

fn risk_rows() -> Vec<RiskRow> {
    vec![
        RiskRow {
            variant: Arc::from("base"),
            handler: Arc::from("checkout"),
            risk: 0.25,
            ci_low: 0.1,
            ci_high: 0.45,
            campaigns: 10,
            breaches: 3,
            calibrated_risk: Some(0.2),
            threshold: 0.1,
            over_threshold: true,
            criticality: Arc::from("critical"),
            risk_diff: None,
            risk_diff_low: None,
            risk_diff_high: None,
            has_slo: true,
            fault_free_campaigns: 4,
            fault_free_breaches: 1,
            breached_without_faults: false,
            window_s: 300.0,
            programme_risk: Some(0.35),
            programme_ci_low: Some(0.15),
            programme_ci_high: Some(0.6),
            programme_added: Some(0.1),
            programme_added_low: Some(-0.05),
            programme_added_high: Some(0.3),
        },
        RiskRow {
            variant: Arc::from("base"),
            handler: Arc::from("search"),
            risk: 0.0,
            ci_low: 0.0,
            ci_high: 0.3,
            campaigns: 10,
            breaches: 0,
            calibrated_risk: None,
            threshold: 0.1,
            over_threshold: false,
            criticality: Arc::from("normal"),
            risk_diff: Some(-0.25),
            risk_diff_low: Some(-0.5),
            risk_diff_high: Some(-0.01),
            has_slo: true,
            fault_free_campaigns: 4,
            fault_free_breaches: 1,
            breached_without_faults: false,
            window_s: 300.0,
            programme_risk: None,
            programme_ci_low: None,
            programme_ci_high: None,
            programme_added: None,
            programme_added_low: None,
            programme_added_high: None,
        },
    ]
}

const CAMPAIGNS: u64 = 10;

fn handler_names() -> [Arc<str>; 2] {
    [Arc::from("checkout"), Arc::from("search")]
}

/// Writes a run of `CAMPAIGNS` campaigns × 2 handlers; does not finish it.
fn write_sample(out_dir: &Path, options: WriteOptions) -> RunWriter {
    let variant: Arc<str> = Arc::from("base");
    let mut run = RunWriter::create_with(out_dir, options).unwrap();
    for i in 0..CAMPAIGNS {
        run.write_campaign(&campaign(&variant, i)).unwrap();
        for name in &handler_names() {
            run.write_handler(&handler(&variant, i, name)).unwrap();
        }
    }
    run
}

fn tiny() -> WriteOptions {
    WriteOptions {
        batch_rows: 3,
        row_group_rows: 4,
        ..WriteOptions::default()
    }
}

// ---------------------------------------------------------------------------
// Reading back.

fn read(path: &Path) -> (SchemaRef, Vec<RecordBatch>, Arc<ParquetMetaData>) {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let metadata = builder.metadata().clone();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches, metadata)
}

fn strs(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch.column_by_name(name).unwrap().as_string::<i32>();
    (0..col.len())
        .map(|i| col.is_valid(i).then(|| col.value(i).to_owned()))
        .collect()
}

/// A count (`Int64`) or a seed (`UInt64`) column, as the rows hold it.
fn u64s(batch: &RecordBatch, name: &str) -> Vec<u64> {
    let col = batch.column_by_name(name).unwrap();
    let col = arrow::compute::cast(col, &DataType::UInt64).unwrap();
    col.as_primitive::<UInt64Type>().values().to_vec()
}

/// An `Int32` count column, as the rows hold it.
fn u32s(batch: &RecordBatch, name: &str) -> Vec<u32> {
    let col = batch.column_by_name(name).unwrap();
    let col = arrow::compute::cast(col, &DataType::UInt32).unwrap();
    col.as_primitive::<UInt32Type>().values().to_vec()
}

fn f64s(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let col = batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Float64Type>();
    (0..col.len())
        .map(|i| col.is_valid(i).then(|| col.value(i)))
        .collect()
}

fn bools(batch: &RecordBatch, name: &str) -> Vec<bool> {
    let col = batch.column_by_name(name).unwrap().as_boolean();
    (0..col.len()).map(|i| col.value(i)).collect()
}

fn campaigns_from(batch: &RecordBatch) -> Vec<CampaignRow> {
    let n = batch.num_rows();
    let variant = strs(batch, "variant");
    let mode = strs(batch, "mode");
    let scenario = strs(batch, "scenario_id");
    let f = |name| {
        f64s(batch, name)
            .into_iter()
            .map(Option::unwrap)
            .collect::<Vec<_>>()
    };
    let (horizon, rate, mean, p50, p99, avail) = (
        f("horizon_s"),
        f("error_rate"),
        f("latency_mean_ms"),
        f("latency_p50_ms"),
        f("latency_p99_ms"),
        f("availability"),
    );
    let (campaign, seed, requests, errors, events) = (
        u64s(batch, "campaign"),
        u64s(batch, "seed"),
        u64s(batch, "requests"),
        u64s(batch, "errors"),
        u64s(batch, "events"),
    );
    let degraded = u64s(batch, "degraded");
    let faults_list = strs(batch, "faults");
    let (faults, rollbacks, breached) = (
        u32s(batch, "faults_injected"),
        u32s(batch, "rollbacks"),
        bools(batch, "slo_breached"),
    );
    (0..n)
        .map(|i| CampaignRow {
            variant: Arc::from(variant[i].as_deref().unwrap()),
            campaign: campaign[i],
            seed: seed[i],
            mode: match mode[i].as_deref() {
                Some("natural") => Mode::Natural,
                Some("programme") => Mode::Programme,
                Some("predicted") => Mode::Predicted,
                Some("targeted") => Mode::Targeted,
                other => panic!("bad mode {other:?}"),
            },
            // A campaign that is not targeted has its mode as job name.
            scenario_id: scenario[i]
                .as_deref()
                .filter(|s| Some(*s) != mode[i].as_deref())
                .map(Arc::from),
            horizon_s: horizon[i],
            requests: requests[i],
            errors: errors[i],
            error_rate: rate[i],
            latency_mean_ms: mean[i],
            latency_p50_ms: p50[i],
            latency_p99_ms: p99[i],
            availability: avail[i],
            slo_breached: breached[i],
            faults_injected: faults[i],
            rollbacks: rollbacks[i],
            events: events[i],
            weight: 1.0,
            degraded: degraded[i],
            faults: Arc::from(faults_list[i].as_deref().unwrap()),
        })
        .collect()
}

fn path_row(i: u64, path: &str) -> PathRow {
    let sent = if i == 3 { 0 } else { 100_000 + i };
    let lost = if sent == 0 { 0 } else { 17 * i };
    let repairs = (i % 3) as u32;
    PathRow {
        variant: Arc::from(if i < 4 { "base" } else { "more-edges" }),
        campaign: i % 4,
        path: Arc::from(path),
        adus_sent: sent,
        adus_delivered: sent - lost,
        adus_lost: lost,
        loss_rate: if sent == 0 {
            f64::NAN
        } else {
            lost as f64 / sent as f64
        },
        delay_mean_ms: if sent == 0 { f64::NAN } else { 27.4 + i as f64 },
        delay_p99_ms: if sent == 0 { f64::NAN } else { 41.0 + i as f64 },
        availability: 1.0 - i as f64 * 1e-4,
        repairs,
        time_to_repair_s: if repairs == 0 {
            f64::NAN
        } else {
            2.5 * f64::from(repairs)
        },
        downtime_s: i as f64 * 3.25,
        moves_back: 7 + i as u32,
    }
}

fn paths_from(batch: &RecordBatch) -> Vec<PathRow> {
    let (variant, path) = (strs(batch, "variant"), strs(batch, "path"));
    let (campaign, sent, delivered, lost) = (
        u64s(batch, "campaign"),
        u64s(batch, "adus_sent"),
        u64s(batch, "adus_delivered"),
        u64s(batch, "adus_lost"),
    );
    let (repairs, moves_back) = (u32s(batch, "repairs"), u32s(batch, "moves_back"));
    let f = |name| {
        f64s(batch, name)
            .into_iter()
            .map(|v| v.unwrap_or_else(|| panic!("{name} is null")))
            .collect::<Vec<_>>()
    };
    let (loss, mean, p99, avail, ttr, down) = (
        f("loss_rate"),
        f("delay_mean_ms"),
        f("delay_p99_ms"),
        f("availability"),
        f("time_to_repair_s"),
        f("downtime_s"),
    );
    (0..batch.num_rows())
        .map(|i| PathRow {
            variant: Arc::from(variant[i].as_deref().unwrap()),
            campaign: campaign[i],
            path: Arc::from(path[i].as_deref().unwrap()),
            adus_sent: sent[i],
            adus_delivered: delivered[i],
            adus_lost: lost[i],
            loss_rate: loss[i],
            delay_mean_ms: mean[i],
            delay_p99_ms: p99[i],
            availability: avail[i],
            repairs: repairs[i],
            time_to_repair_s: ttr[i],
            downtime_s: down[i],
            moves_back: moves_back[i],
        })
        .collect()
}

/// `a == b` where NaN equals NaN (compared bit for bit).
fn same_path(a: &PathRow, b: &PathRow) -> bool {
    let bits = |r: &PathRow| {
        [
            r.loss_rate,
            r.delay_mean_ms,
            r.delay_p99_ms,
            r.availability,
            r.time_to_repair_s,
            r.downtime_s,
        ]
        .map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() })
    };
    (
        &a.variant,
        a.campaign,
        &a.path,
        a.adus_sent,
        a.adus_delivered,
        a.adus_lost,
    ) == (
        &b.variant,
        b.campaign,
        &b.path,
        b.adus_sent,
        b.adus_delivered,
        b.adus_lost,
    ) && (a.repairs, a.moves_back) == (b.repairs, b.moves_back)
        && bits(a) == bits(b)
}

/// `a == b` where NaN equals NaN.
fn same_campaign(a: &CampaignRow, b: &CampaignRow) -> bool {
    let (mut a, mut b) = (a.clone(), b.clone());
    if a.error_rate.is_nan() && b.error_rate.is_nan() {
        a.error_rate = 0.0;
        b.error_rate = 0.0;
    }
    a == b
}

/// Names in `dir`'s parent that belong to the writer (staging or old dirs).
fn leftovers(out_dir: &Path) -> Vec<String> {
    let name = out_dir.file_name().unwrap().to_string_lossy().into_owned();
    fs::read_dir(out_dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with(&format!(".{name}.")))
        .collect()
}

/// A run's information with only the scenario name set (`scenario`
/// tells runs apart in the tests below).
fn info(scenario: &str) -> RunInfo {
    RunInfo {
        scenario: scenario.to_owned(),
        ..RunInfo::default()
    }
}

fn manifest(out_dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(out_dir.join("manifest.json")).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------

#[test]
fn tables_follow_the_contract_and_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports").join("run"); // parent created on demand
    let run = write_sample(&out, tiny());
    let summary = run
        .finish(
            &risk_rows(),
            RunInfo {
                seed: 42,
                tool_version: "test".to_owned(),
                ..RunInfo::default()
            },
        )
        .unwrap();
    assert_eq!(
        (summary.campaigns, summary.handlers, summary.risk),
        (CAMPAIGNS, 2 * CAMPAIGNS, 2)
    );
    assert_eq!(summary.out_dir, out);

    // campaigns: schema, every value (NaN included), several row groups.
    let (schema, batches, metadata) = read(&out.join("campaigns.parquet"));
    assert_contract("campaigns", &schema);
    assert_eq!(
        schema.fields(),
        CampaignRow::schema().fields(),
        "file schema is the table definition"
    );
    assert_eq!(
        schema
            .metadata()
            .get(VERSION_METADATA_KEY)
            .map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let variant: Arc<str> = Arc::from("base");
    let read_back: Vec<CampaignRow> = batches.iter().flat_map(campaigns_from).collect();
    assert_eq!(read_back.len() as u64, CAMPAIGNS);
    for (i, row) in read_back.iter().enumerate() {
        let want = campaign(&variant, i as u64);
        assert!(same_campaign(row, &want), "row {i}: {row:?} != {want:?}");
    }
    assert!(read_back[4].error_rate.is_nan(), "NaN error rate kept");
    assert_eq!(metadata.num_row_groups(), 3, "row groups capped at 4 rows");
    for rg in metadata.row_groups() {
        assert!(rg.num_rows() <= 4);
        for col in rg.columns() {
            assert!(matches!(col.compression(), Compression::SNAPPY));
        }
    }
    let kv = metadata.file_metadata().key_value_metadata().unwrap();
    assert!(
        kv.iter().any(|e| e.key == VERSION_METADATA_KEY
            && e.value.as_deref() == Some(env!("CARGO_PKG_VERSION")))
    );

    // handlers
    let (schema, batches, _) = read(&out.join("handlers.parquet"));
    assert_contract("handlers", &schema);
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).sum::<usize>() as u64,
        2 * CAMPAIGNS
    );
    let handlers: Vec<_> = batches.iter().flat_map(|b| strs(b, "handler")).collect();
    assert_eq!(
        handlers[..4],
        [
            Some("checkout".into()),
            Some("search".into()),
            Some("checkout".into()),
            Some("search".into())
        ]
    );
    let scenario: Vec<_> = batches
        .iter()
        .flat_map(|b| strs(b, "scenario_id"))
        .collect();
    assert_eq!(scenario[4], Some("s2".into()));
    assert_eq!(
        scenario[0],
        Some("natural".into()),
        "a natural campaign's job name, never null"
    );

    // risk
    let (schema, batches, _) = read(&out.join("risk.parquet"));
    assert_contract("risk", &schema);
    let calibrated: Vec<_> = batches
        .iter()
        .flat_map(|b| f64s(b, "calibrated_risk"))
        .collect();
    assert_eq!(calibrated, [Some(0.2), None]);
    let diff_high: Vec<_> = batches
        .iter()
        .flat_map(|b| f64s(b, "risk_diff_high"))
        .collect();
    assert_eq!(diff_high, [None, Some(-0.01)]);
    let criticality: Vec<_> = batches
        .iter()
        .flat_map(|b| strs(b, "criticality"))
        .collect();
    assert_eq!(
        criticality,
        [Some("critical".into()), Some("normal".into())]
    );

    // manifest: given keys kept, row counts and files added.
    let m = manifest(&out);
    assert_eq!(m["seed"], 42);
    assert_eq!(m["tool_version"], "test");
    assert_eq!(
        m["row_counts"],
        json!({ "campaigns": 10, "handlers": 20, "risk": 2 })
    );
    assert_eq!(
        m["files"],
        json!(["campaigns.parquet", "handlers.parquet", "risk.parquet"])
    );
    assert!(
        leftovers(&out).is_empty(),
        "left behind: {:?}",
        leftovers(&out)
    );
}

#[test]
fn optional_tables_follow_the_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut run = write_sample(&out, tiny()).with_batch_rows(2);
    run.enable_events().unwrap();
    for i in 0..5 {
        run.write_event(&EventRow {
            variant: Arc::from("base"),
            campaign: i,
            campaign_mode: Mode::Programme,
            time_s: i as f64 * 1.5,
            kind: Arc::from(if i % 2 == 0 { "inject" } else { "rollback" }),
            target: Arc::from("db"),
            mode: Arc::from("crash"),
            detail: Arc::from(""),
            replica: (i % 2 == 0).then_some(i as u32),
            duration_s: (i % 2 == 0).then_some(30.0),
            error_rate: None,
            latency_p99_ms: None,
            detected_at_s: None,
            breach_s: (i % 2 == 1).then_some(i as f64),
            hold_s: (i % 2 == 1).then_some(10.0),
            detection_delay_s: (i % 2 == 1).then_some(5.0),
        })
        .unwrap();
    }
    let scenarios = run
        .write_scenarios(&[ScenarioRow {
            rank: 1,
            scenario_id: Arc::from("s1"),
            target: Arc::from("db"),
            mode: Arc::from("crash"),
            severity: Severity::Critical,
            likelihood: 0.02,
            impact: 0.9,
            score: 0.018,
            duration_s: 300.0,
            rollback_plan: Arc::from("restart db"),
            abort_error_rate: 0.05,
            abort_latency_p99_ms: 500.0,
            abort_error_rate_basis: Arc::from("between"),
            abort_latency_p99_basis: Arc::from("healthy"),
            healthy_error_rate: 0.001,
            healthy_latency_p99_ms: 90.0,
            healthy_error_rate_high: 0.02,
            healthy_latency_p99_high_ms: 500.0,
            fault_error_rate_p99: 0.7,
            fault_latency_p99_ms_p99: 900.0,
            magnitudes: sim_output::Magnitudes {
                error_fraction: Some(0.5),
                status_code: Some(503),
                ..Default::default()
            },
            replicas: Arc::from("0"),
            error_rate_during: 0.4,
            latency_p99_during_ms: 800.0,
            recovery_s: 12.0,
            excess_errors: 1500.0,
            campaigns: 20,
            source: Arc::from("failure_mode"),
            failure_points: Arc::from("single_point_of_failure"),
        }])
        .unwrap();
    assert_eq!(scenarios, 1);
    run.write_remediations(&[RemediationRow {
        variant: Arc::from("base"),
        target: Arc::from("db"),
        suggestion: Arc::from("add a replica"),
        change: Arc::from("resources.db.replicas = 2"),
        risk_before: 0.25,
        risk_after: 0.01,
        handler: Arc::from("checkout"),
        kind: Arc::from("add_replica"),
        risk_before_low: 0.2,
        risk_before_high: 0.3,
        risk_after_low: 0.0,
        risk_after_high: 0.03,
        risk_diff: -0.24,
        risk_diff_low: -0.3,
        risk_diff_high: -0.18,
        campaigns: 200,
        relevance: 0.9,
    }])
    .unwrap();
    let summary = run.finish(&[], RunInfo::default()).unwrap();
    assert_eq!(summary.risk, 0);

    for table in [
        "campaigns",
        "handlers",
        "risk",
        "scenarios",
        "remediations",
        "events",
    ] {
        let (schema, _, _) = read(&out.join(format!("{table}.parquet")));
        assert_contract(table, &schema);
    }
    let (_, batches, _) = read(&out.join("scenarios.parquet"));
    assert_eq!(strs(&batches[0], "severity"), [Some("critical".into())]);
    let m = manifest(&out);
    assert_eq!(
        m["row_counts"],
        json!({ "campaigns": 10, "handlers": 20, "risk": 0, "scenarios": 1, "remediations": 1, "events": 5 })
    );
    assert_eq!(summary.row_counts.get("events"), Some(&5));
}

#[test]
fn paths_table_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    // Batches of 2 rows and row groups of 4: the 24 rows span several of each.
    let mut run = write_sample(&out, tiny()).with_batch_rows(2);
    let names = ["mobile-video", "mobile-audio", "archive"];
    let want: Vec<PathRow> = (0..8u64)
        .flat_map(|i| names.map(|p| path_row(i, p)))
        .collect();
    for row in &want {
        run.write_path(row).unwrap();
    }
    let summary = run.finish(&[], RunInfo::default()).unwrap();
    assert_eq!(summary.row_counts.get("paths"), Some(&24));

    let (schema, batches, metadata) = read(&out.join("paths.parquet"));
    assert_contract("paths", &schema);
    assert_eq!(
        schema.fields(),
        PathRow::schema().fields(),
        "file schema is the table definition"
    );
    assert!(metadata.num_row_groups() > 1);
    let got: Vec<PathRow> = batches.iter().flat_map(paths_from).collect();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(same_path(g, w), "row {i}: {g:?} != {w:?}");
    }
    assert!(
        got[9].loss_rate.is_nan(),
        "NaN loss rate kept (nothing sent)"
    );
    assert!(got[0].time_to_repair_s.is_nan(), "NaN time to repair kept");
    let m = manifest(&out);
    assert_eq!(m["row_counts"]["paths"], 24);
    assert!(
        m["files"]
            .as_array()
            .unwrap()
            .contains(&json!("paths.parquet"))
    );
}

#[test]
fn paths_file_exists_when_enabled_without_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut run = RunWriter::create(&out).unwrap();
    run.enable_paths().unwrap();
    run.finish(&[], RunInfo::default()).unwrap();
    let (schema, batches, _) = read(&out.join("paths.parquet"));
    assert_contract("paths", &schema);
    assert!(batches.iter().all(|b| b.num_rows() == 0));
    assert_eq!(manifest(&out)["row_counts"]["paths"], 0);
    // Without enable_paths, no file.
    let plain = tmp.path().join("plain");
    RunWriter::create(&plain)
        .unwrap()
        .finish(&[], RunInfo::default())
        .unwrap();
    assert!(!plain.join("paths.parquet").exists());
}

#[test]
fn events_file_exists_when_enabled_without_events() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut run = RunWriter::create(&out).unwrap();
    run.enable_events().unwrap();
    run.finish(&[], RunInfo::default()).unwrap();
    let (schema, batches, _) = read(&out.join("events.parquet"));
    assert_contract("events", &schema);
    assert!(batches.iter().all(|b| b.num_rows() == 0));
    assert_eq!(manifest(&out)["row_counts"]["events"], 0);
}

#[test]
fn dropped_writer_keeps_previous_results_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    RunWriter::create(&out)
        .unwrap()
        .finish(&risk_rows(), info("first"))
        .unwrap();
    let before = fs::read(out.join("campaigns.parquet")).unwrap();

    // A run that fails (or is interrupted) half-way: dropped without finish.
    let run = write_sample(&out, tiny());
    assert!(run.staging_dir().is_dir());
    assert!(
        leftovers(&out).len() == 1,
        "one staging directory while writing"
    );
    drop(run);
    assert_eq!(manifest(&out)["scenario"], "first");
    assert_eq!(fs::read(out.join("campaigns.parquet")).unwrap(), before);
    assert!(
        leftovers(&out).is_empty(),
        "left behind: {:?}",
        leftovers(&out)
    );

    // abandon() is the explicit form.
    let run = write_sample(&out, tiny());
    run.abandon();
    assert_eq!(manifest(&out)["scenario"], "first");
    assert!(leftovers(&out).is_empty());
}

#[test]
fn finish_replaces_previous_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    RunWriter::create(&out)
        .unwrap()
        .finish(&risk_rows(), info("first"))
        .unwrap();
    // A stale result file the first run's manifest lists (as an older
    // version's run could leave): replaced with the rest.
    fs::write(out.join("stale.txt"), "from the first run").unwrap();
    let mut m = manifest(&out);
    m["files"].as_array_mut().unwrap().push(json!("stale.txt"));
    fs::write(out.join("manifest.json"), m.to_string()).unwrap();

    let run = write_sample(&out, tiny());
    // The old results stay readable while the new run is written.
    assert_eq!(manifest(&out)["scenario"], "first");
    run.finish(&risk_rows(), info("second")).unwrap();
    assert_eq!(manifest(&out)["scenario"], "second");
    assert_eq!(manifest(&out)["row_counts"]["campaigns"], CAMPAIGNS);
    assert!(
        !out.join("stale.txt").exists(),
        "the directory is replaced, not merged"
    );
    assert!(
        leftovers(&out).is_empty(),
        "left behind: {:?}",
        leftovers(&out)
    );
}

#[test]
fn same_rows_give_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        write_sample(out, tiny())
            .finish(
                &risk_rows(),
                RunInfo {
                    seed: 1,
                    ..RunInfo::default()
                },
            )
            .unwrap();
    }
    for file in [
        "campaigns.parquet",
        "handlers.parquet",
        "risk.parquet",
        "manifest.json",
    ] {
        assert_eq!(
            fs::read(a.join(file)).unwrap(),
            fs::read(b.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn failed_finish_keeps_previous_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    RunWriter::create(&out)
        .unwrap()
        .finish(&[], info("first"))
        .unwrap();
    // A table that is not Parquet fails the footer check in `finish`.
    let run = write_sample(&out, tiny());
    fs::write(run.staging_dir().join("broken.parquet"), "not parquet").unwrap();
    let err = run.finish(&[], info("second")).unwrap_err();
    assert!(matches!(err, OutputError::Parquet { .. }), "{err}");
    assert!(err.to_string().contains("broken.parquet"), "{err}");
    assert_eq!(manifest(&out)["scenario"], "first");
    assert!(
        leftovers(&out).is_empty(),
        "left behind: {:?}",
        leftovers(&out)
    );
}

fn assert_names(err: &OutputError, path: &Path) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "{msg:?} does not name {}",
        path.display()
    );
}

#[test]
fn out_dir_below_a_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    fs::write(&file, "x").unwrap();
    let out = file.join("run");
    let err = RunWriter::create(&out).unwrap_err();
    assert_names(&err, &file);
}

#[cfg(unix)]
#[test]
fn unwritable_out_dir_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let parent = tmp.path().join("locked");
    fs::create_dir(&parent).unwrap();
    fs::set_permissions(&parent, fs::Permissions::from_mode(0o555)).unwrap();
    if File::create(parent.join("probe")).is_ok() {
        eprintln!("skipped: permissions are not enforced for this user (root?)");
        return;
    }
    let out = parent.join("run");
    let err = RunWriter::create(&out).unwrap_err();
    assert_names(&err, &parent);
    fs::set_permissions(&parent, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn refuses_to_replace_what_is_not_a_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory with someone's files in it.
    let home = tmp.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::write(home.join("thesis.tex"), "precious").unwrap();
    let err = RunWriter::create(&home).unwrap_err();
    assert!(matches!(err, OutputError::NotARunDir { .. }), "{err}");
    assert_names(&err, &home);
    assert_eq!(
        fs::read_to_string(home.join("thesis.tex")).unwrap(),
        "precious"
    );

    // A file.
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let err = RunWriter::create(&file).unwrap_err();
    assert_names(&err, &file);

    // No final name.
    assert!(matches!(
        RunWriter::create(Path::new("/")).unwrap_err(),
        OutputError::InvalidOutDir { .. }
    ));

    // An empty directory is fine.
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    RunWriter::create(&empty)
        .unwrap()
        .finish(&[], RunInfo::default())
        .unwrap();
    assert!(empty.join("manifest.json").is_file());
    assert!(leftovers(&home).is_empty() && leftovers(&empty).is_empty());
}

#[test]
fn write_table_writes_any_schema_and_checks_it() {
    use arrow::array::{ArrayRef, Float64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    let tmp = tempfile::tempdir().unwrap();
    let schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            Arc::new(Float64Array::from(vec![Some(1.0), None])) as ArrayRef,
        ],
    )
    .unwrap();
    let path = tmp.path().join("extra.parquet");
    let rows = write_table(&path, schema.clone(), [batch.clone(), batch.clone()]).unwrap();
    assert_eq!(rows, 4);
    let (read_schema, batches, _) = read(&path);
    assert_eq!(read_schema.fields(), schema.fields());
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 4);

    // A batch of another schema is refused, naming the file.
    let err = write_table(
        &tmp.path().join("bad.parquet"),
        CampaignRow::schema(),
        [batch],
    )
    .unwrap_err();
    assert_names(&err, &tmp.path().join("bad.parquet"));
}

#[test]
fn extra_files_in_the_staging_dir_are_published_and_counted() {
    use arrow::array::{ArrayRef, UInt64Array};
    use arrow::datatypes::{Field, Schema};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let run = RunWriter::create(&out).unwrap();
    let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("n", DataType::UInt64, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(UInt64Array::from(vec![1, 2, 3])) as ArrayRef],
    )
    .unwrap();
    write_table(&run.staging_dir().join("extra.parquet"), schema, [batch]).unwrap();
    let summary = run.finish(&[], RunInfo::default()).unwrap();
    assert_eq!(summary.row_counts.get("extra"), Some(&3));
    assert_eq!(manifest(&out)["row_counts"]["extra"], 3);
}

/// A pid that is not running: a child that has exited and been reaped.
#[cfg(target_os = "linux")]
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[cfg(target_os = "linux")]
#[test]
fn leftovers_of_a_killed_writer_are_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let pid = dead_pid();
    // Killed between "rename the old results aside" and "rename the new in":
    // the previous results are stranded beside the output directory.
    let old: PathBuf = tmp.path().join(format!(".run.old-{pid}-1"));
    let stale_tmp: PathBuf = tmp.path().join(format!(".run.tmp-{pid}-2"));
    fs::create_dir(&old).unwrap();
    fs::write(
        old.join("manifest.json"),
        r#"{"scenario": "previous", "tool": "preflight", "files": [], "row_counts": {}}"#,
    )
    .unwrap();
    fs::create_dir(&stale_tmp).unwrap();
    fs::write(stale_tmp.join("campaigns.parquet"), "truncated").unwrap();
    // A live writer's staging directory (ours) is left alone.
    let live: PathBuf = tmp
        .path()
        .join(format!(".run.tmp-{}-3", std::process::id()));
    fs::create_dir(&live).unwrap();

    let run = RunWriter::create(&out).unwrap();
    assert_eq!(
        manifest(&out)["scenario"],
        "previous",
        "previous results restored"
    );
    assert!(!old.exists() && !stale_tmp.exists());
    assert!(live.exists());
    drop(run);
    fs::remove_dir(&live).unwrap();
    assert!(
        leftovers(&out).is_empty(),
        "left behind: {:?}",
        leftovers(&out)
    );
}

#[test]
fn writer_can_move_to_a_writer_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<RunWriter>();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let run = write_sample(&out, tiny());
    let summary = std::thread::spawn(move || run.finish(&risk_rows(), RunInfo::default()).unwrap())
        .join()
        .unwrap();
    assert_eq!(summary.campaigns, CAMPAIGNS);
}

// A run directory is replaced only when it holds nothing but what a run
// wrote: whatever else is added to it (files, folders, a foreign
// manifest), creating a writer for it is refused and nothing is touched.
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, failure_persistence: None, ..Default::default() })]

    #[test]
    fn a_run_directory_with_anything_added_is_never_replaced(
        extras in proptest::collection::vec(("[a-z]{1,6}(\\.[a-z]{1,4})?", 0..3u8), 0..4),
        foreign_manifest in proptest::bool::ANY,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("run");
        RunWriter::create(&out)
            .unwrap()
            .finish(&risk_rows(), info("first"))
            .unwrap();
        let listed: Vec<String> = manifest(&out)["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        let mut added = Vec::new();
        for (name, kind) in &extras {
            if name == "manifest.json" || listed.contains(name) {
                continue;
            }
            let p = out.join(name);
            if p.exists() {
                continue;
            }
            match kind {
                0 => fs::write(&p, "user data").unwrap(),
                1 => fs::create_dir(&p).unwrap(),
                _ => fs::write(&p, "").unwrap(),
            }
            added.push(p);
        }
        if foreign_manifest {
            fs::write(out.join("manifest.json"), r#"{"manifest_version": 3}"#).unwrap();
        }
        let before: Vec<_> = fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        let created = RunWriter::create(&out);
        if added.is_empty() && !foreign_manifest {
            proptest::prop_assert!(created.is_ok());
        } else {
            proptest::prop_assert!(created.is_err());
            drop(created);
            let after: Vec<_> = fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
            proptest::prop_assert_eq!(before.len(), after.len());
            for p in &added {
                proptest::prop_assert!(p.exists());
            }
            // No staging directory is left beside it.
            proptest::prop_assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
        }
    }
}
