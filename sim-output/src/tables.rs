//! The tables of a run directory: for each one, its file name, its Arrow
//! schema and how a row becomes column values — in one definition per table,
//! so the contract of `shared/spec/outputs.md` lives in one spot.
//!
//! Column types: strings are `Utf8` (Parquet dictionary encoding is switched
//! on in the writer properties, never an Arrow `Dictionary` type, so every
//! reader sees plain strings); counts and indices are signed, `Int64` (held
//! as `u64` in the rows) or `Int32` (held as `u32`), so that every dataframe
//! library subtracts them safely; seeds alone are `UInt64`, whose 64 bits
//! they use; `f64` is `Float64`, `bool` is `Boolean`. Columns are
//! non-nullable unless the contract says otherwise (`calibrated_risk`, the
//! `risk_diff*` and `programme_*` columns of `risk.parquet`, the typed
//! figures of `events.parquet`): join keys never are (`scenario_id` of a
//! campaign that is not targeted is its mode, `natural` or `programme`).
//!
//! To add a column: add the field to the row in [`rows`](super::rows) and
//! one line to the table below. Name, type, nullability and value are bound
//! together, so a schema and its builder cannot drift apart.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::rows::{
    CampaignRow, EventRow, HandlerRow, PathRow, RemediationRow, RiskRow, ScenarioRow,
};

/// A row type that is written as one Parquet table of the run directory.
pub trait TableRow: Sized {
    /// The table's name: the file stem (`campaigns` for `campaigns.parquet`)
    /// and the key of its entry in the manifest's `row_counts`.
    const NAME: &'static str;
    /// The file name in the run directory, `{NAME}.parquet`.
    const FILE_NAME: &'static str;
    /// Column builders that turn rows into a record batch of [`Self::schema`].
    type Builder: RowBuilder<Self>;
    /// The table's Arrow schema: column names, types and nullability.
    fn schema() -> SchemaRef;
}

/// Accumulates rows of `R` column by column (Arrow builders).
pub trait RowBuilder<R>: Default {
    /// Appends one row.
    fn append(&mut self, row: &R);
    /// Rows appended since the last [`finish`](RowBuilder::finish).
    fn len(&self) -> usize;
    /// Whether no row was appended since the last [`finish`](RowBuilder::finish).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Takes the columns built so far, in schema order, and starts afresh.
    fn finish(&mut self) -> Vec<ArrayRef>;
}

/// The Arrow side of one column type: its builder, value and data type.
/// Implemented by the marker types used in the table definitions below.
pub trait ColumnKind {
    /// The Arrow builder for this column.
    type Builder: ArrayBuilder + Default;
    /// The value taken from a row.
    type Value<'a>;
    /// The column's Arrow data type.
    const DATA_TYPE: DataType;
    /// Whether the column may hold nulls.
    const NULLABLE: bool;
    /// Appends one value.
    fn append(builder: &mut Self::Builder, value: Self::Value<'_>);
}

macro_rules! column_kind {
    ($(#[$doc:meta])* $kind:ident, $builder:ty, $value:ty, $data_type:expr, $nullable:expr, $append:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $kind;

        impl ColumnKind for $kind {
            type Builder = $builder;
            type Value<'a> = $value;
            const DATA_TYPE: DataType = $data_type;
            const NULLABLE: bool = $nullable;
            fn append(builder: &mut Self::Builder, value: Self::Value<'_>) {
                builder.$append(value);
            }
        }
    };    // A column whose row value is converted on the way in.
    ($(#[$doc:meta])* $kind:ident, $builder:ty, $value:ty, $data_type:expr, $nullable:expr, $convert:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $kind;

        impl ColumnKind for $kind {
            type Builder = $builder;
            type Value<'a> = $value;
            const DATA_TYPE: DataType = $data_type;
            const NULLABLE: bool = $nullable;
            fn append(builder: &mut Self::Builder, value: Self::Value<'_>) {
                ($convert)(builder, value);
            }
        }
    };
}

column_kind!(/// A required string column (`Utf8`).
    Str, StringBuilder, &'a str, DataType::Utf8, false, append_value);
column_kind!(/// A required `UInt64` column: seeds only, whose 64 bits are all used.
    U64, UInt64Builder, u64, DataType::UInt64, false, append_value);
column_kind!(/// A required `Float64` column (NaN is a value, not a null).
    F64, Float64Builder, f64, DataType::Float64, false, append_value);
column_kind!(/// A nullable `Float64` column.
    OptF64, Float64Builder, Option<f64>, DataType::Float64, true, append_option);
column_kind!(/// A required `Boolean` column.
    Bool, BooleanBuilder, bool, DataType::Boolean, false, append_value);

column_kind!(/// A required `Int64` column of a count or index: signed, so that a
    /// difference of two counts is safe in every dataframe library. A value
    /// past `i64::MAX` (never reached: 2⁶³ requests) is written as `i64::MAX`.
    I64, Int64Builder, u64, DataType::Int64, false,
    |b: &mut Int64Builder, v: u64| b.append_value(i64::try_from(v).unwrap_or(i64::MAX)));
column_kind!(/// A required `Int32` column of a small count or index (held as `u32`;
    /// past `i32::MAX`, written as `i32::MAX`).
    I32, Int32Builder, u32, DataType::Int32, false,
    |b: &mut Int32Builder, v: u32| b.append_value(i32::try_from(v).unwrap_or(i32::MAX)));
column_kind!(/// A nullable `Int32` column.
OptI32, Int32Builder, Option<u32>, DataType::Int32, true,
|b: &mut Int32Builder, v: Option<u32>| {
    b.append_option(v.map(|v| i32::try_from(v).unwrap_or(i32::MAX)))
});

/// Defines a table: `Row as row => Builder, "name" { column: Kind = value, ... }`,
/// where `value` is an expression of `row: &Row`. Column order is file order.
macro_rules! table {
    (
        $(#[$doc:meta])*
        $row_ty:ident as $row:ident => $builder:ident, $name:literal {
            $( $col:ident : $kind:ident = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Default)]
        pub struct $builder {
            len: usize,
            $( $col: <$kind as ColumnKind>::Builder, )+
        }

        impl std::fmt::Debug for $builder {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($builder)).field("len", &self.len).finish_non_exhaustive()
            }
        }

        impl RowBuilder<$row_ty> for $builder {
            fn append(&mut self, $row: &$row_ty) {
                $( <$kind as ColumnKind>::append(&mut self.$col, $value); )+
                self.len += 1;
            }

            fn len(&self) -> usize {
                self.len
            }

            fn finish(&mut self) -> Vec<ArrayRef> {
                self.len = 0;
                vec![ $( ArrayBuilder::finish(&mut self.$col), )+ ]
            }
        }

        impl TableRow for $row_ty {
            const NAME: &'static str = $name;
            const FILE_NAME: &'static str = concat!($name, ".parquet");
            type Builder = $builder;

            fn schema() -> SchemaRef {
                Arc::new(Schema::new(vec![
                    $( Field::new(stringify!($col), <$kind as ColumnKind>::DATA_TYPE,
                                  <$kind as ColumnKind>::NULLABLE), )+
                ]))
            }
        }
    };
}

table! {
    /// Column builders of `campaigns.parquet` (one row per campaign).
    CampaignRow as row => CampaignColumns, "campaigns" {
        variant: Str = &row.variant,
        campaign: I64 = row.campaign,
        seed: U64 = row.seed,
        mode: Str = row.mode.as_str(),
        scenario_id: Str = row.scenario_id.as_deref().unwrap_or(row.mode.as_str()),
        horizon_s: F64 = row.horizon_s,
        requests: I64 = row.requests,
        errors: I64 = row.errors,
        error_rate: F64 = row.error_rate,
        latency_mean_ms: F64 = row.latency_mean_ms,
        latency_p50_ms: F64 = row.latency_p50_ms,
        latency_p99_ms: F64 = row.latency_p99_ms,
        availability: F64 = row.availability,
        slo_breached: Bool = row.slo_breached,
        faults_injected: I32 = row.faults_injected,
        rollbacks: I32 = row.rollbacks,
        events: I64 = row.events,
        weight: F64 = row.weight,
        degraded: I64 = row.degraded,
        faults: Str = &row.faults,
    }
}

table! {
    /// Column builders of `handlers.parquet` (one row per campaign × handler).
    HandlerRow as row => HandlerColumns, "handlers" {
        variant: Str = &row.variant,
        campaign: I64 = row.campaign,
        mode: Str = row.mode.as_str(),
        scenario_id: Str = row.scenario_id.as_deref().unwrap_or(row.mode.as_str()),
        handler: Str = &row.handler,
        requests: I64 = row.requests,
        errors: I64 = row.errors,
        error_rate: F64 = row.error_rate,
        latency_mean_ms: F64 = row.latency_mean_ms,
        latency_p50_ms: F64 = row.latency_p50_ms,
        latency_p99_ms: F64 = row.latency_p99_ms,
        availability: F64 = row.availability,
        slo_breached: Bool = row.slo_breached,
        degraded: I64 = row.degraded,
        seed: U64 = row.seed,
    }
}

table! {
    /// Column builders of `risk.parquet` (one row per variant × handler).
    RiskRow as row => RiskColumns, "risk" {
        variant: Str = &row.variant,
        handler: Str = &row.handler,
        risk: F64 = row.risk,
        ci_low: F64 = row.ci_low,
        ci_high: F64 = row.ci_high,
        campaigns: I64 = row.campaigns,
        breaches: I64 = row.breaches,
        calibrated_risk: OptF64 = row.calibrated_risk,
        threshold: F64 = row.threshold,
        over_threshold: Bool = row.over_threshold,
        criticality: Str = &row.criticality,
        risk_diff: OptF64 = row.risk_diff,
        risk_diff_low: OptF64 = row.risk_diff_low,
        risk_diff_high: OptF64 = row.risk_diff_high,
        has_slo: Bool = row.has_slo,
        window_s: F64 = row.window_s,
        fault_free_campaigns: I64 = row.fault_free_campaigns,
        fault_free_breaches: I64 = row.fault_free_breaches,
        breached_without_faults: Bool = row.breached_without_faults,
        programme_risk: OptF64 = row.programme_risk,
        programme_ci_low: OptF64 = row.programme_ci_low,
        programme_ci_high: OptF64 = row.programme_ci_high,
        programme_added: OptF64 = row.programme_added,
        programme_added_low: OptF64 = row.programme_added_low,
        programme_added_high: OptF64 = row.programme_added_high,
    }
}

table! {
    /// Column builders of `scenarios.parquet` (one row per ranked injection scenario).
    ScenarioRow as row => ScenarioColumns, "scenarios" {
        rank: I32 = row.rank,
        scenario_id: Str = &row.scenario_id,
        target: Str = &row.target,
        failure_mode: Str = &row.mode,
        severity: Str = super::rows::severity_str(row.severity),
        likelihood: F64 = row.likelihood,
        impact: F64 = row.impact,
        score: F64 = row.score,
        duration_s: F64 = row.duration_s,
        rollback_plan: Str = &row.rollback_plan,
        abort_error_rate: F64 = row.abort_error_rate,
        abort_latency_p99_ms: F64 = row.abort_latency_p99_ms,
        replicas: Str = &row.replicas,
        abort_error_rate_basis: Str = &row.abort_error_rate_basis,
        abort_latency_p99_basis: Str = &row.abort_latency_p99_basis,
        healthy_error_rate: F64 = row.healthy_error_rate,
        healthy_latency_p99_ms: F64 = row.healthy_latency_p99_ms,
        healthy_error_rate_high: F64 = row.healthy_error_rate_high,
        healthy_latency_p99_high_ms: F64 = row.healthy_latency_p99_high_ms,
        fault_error_rate_p99: F64 = row.fault_error_rate_p99,
        fault_latency_p99_ms_p99: F64 = row.fault_latency_p99_ms_p99,
        added_latency_ms: OptF64 = row.magnitudes.added_latency_ms,
        error_fraction: OptF64 = row.magnitudes.error_fraction,
        status_code: OptI32 = row.magnitudes.status_code,
        slowdown: OptF64 = row.magnitudes.slowdown,
        concurrency_lost_percent: OptF64 = row.magnitudes.concurrency_lost_percent,
        error_rate_during: F64 = row.error_rate_during,
        latency_p99_during_ms: F64 = row.latency_p99_during_ms,
        recovery_s: F64 = row.recovery_s,
        excess_errors: F64 = row.excess_errors,
        campaigns: I64 = row.campaigns,
        source: Str = &row.source,
        failure_points: Str = &row.failure_points,
    }
}

table! {
    /// Column builders of `remediations.parquet` (one row per suggestion).
    RemediationRow as row => RemediationColumns, "remediations" {
        variant: Str = &row.variant,
        target: Str = &row.target,
        suggestion: Str = &row.suggestion,
        change: Str = &row.change,
        risk_before: F64 = row.risk_before,
        risk_after: F64 = row.risk_after,
        handler: Str = &row.handler,
        kind: Str = &row.kind,
        risk_before_low: F64 = row.risk_before_low,
        risk_before_high: F64 = row.risk_before_high,
        risk_after_low: F64 = row.risk_after_low,
        risk_after_high: F64 = row.risk_after_high,
        risk_diff: F64 = row.risk_diff,
        risk_diff_low: F64 = row.risk_diff_low,
        risk_diff_high: F64 = row.risk_diff_high,
        campaigns: I64 = row.campaigns,
        relevance: F64 = row.relevance,
    }
}

table! {
    /// Column builders of `events.parquet` (one row per injection-log event).
    EventRow as row => EventColumns, "events" {
        variant: Str = &row.variant,
        campaign: I64 = row.campaign,
        mode: Str = row.campaign_mode.as_str(),
        scenario_id: Str = row.campaign_mode.as_str(),
        time_s: F64 = row.time_s,
        kind: Str = &row.kind,
        target: Str = &row.target,
        failure_mode: Str = &row.mode,
        detail: Str = &row.detail,
        replica: OptI32 = row.replica,
        duration_s: OptF64 = row.duration_s,
        error_rate: OptF64 = row.error_rate,
        latency_p99_ms: OptF64 = row.latency_p99_ms,
        detected_at_s: OptF64 = row.detected_at_s,
        breach_s: OptF64 = row.breach_s,
        hold_s: OptF64 = row.hold_s,
        detection_delay_s: OptF64 = row.detection_delay_s,
    }
}

table! {
    /// Column builders of `paths.parquet` (one row per campaign × service path).
    PathRow as row => PathColumns, "paths" {
        variant: Str = &row.variant,
        campaign: I64 = row.campaign,
        path: Str = &row.path,
        adus_sent: I64 = row.adus_sent,
        adus_delivered: I64 = row.adus_delivered,
        adus_lost: I64 = row.adus_lost,
        loss_rate: F64 = row.loss_rate,
        delay_mean_ms: F64 = row.delay_mean_ms,
        delay_p99_ms: F64 = row.delay_p99_ms,
        availability: F64 = row.availability,
        repairs: I32 = row.repairs,
        time_to_repair_s: F64 = row.time_to_repair_s,
        downtime_s: F64 = row.downtime_s,
        moves_back: I32 = row.moves_back,
    }
}
