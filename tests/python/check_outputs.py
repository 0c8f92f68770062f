#!/usr/bin/env python3
"""Check a preflight run directory against shared/spec/outputs.md.

Usage: check_outputs.py RUN_DIR

Opens every *.parquet in RUN_DIR with pyarrow, pandas, polars (when
installed) and DuckDB, as a notebook user would, and checks:
  - the required tables exist (campaigns, handlers, risk) and manifest.json;
  - each known table has the contract's columns with the contract's types and
    nullability (more columns are welcome), in every reader;
  - a few value rules (mode and severity vocabularies, probabilities in [0, 1],
    errors <= requests, ci_low <= risk <= ci_high, ADUs delivered + lost <=
    sent);
  - manifest.json's row_counts and files match the directory;
  - DuckDB reads `SELECT * FROM 'file'` and a GROUP BY over the directory glob.

Ends with a line "N passed, M failed" (", K skipped" when polars is missing)
and exits 1 when anything failed, 2 on bad usage. Set up the readers with
tests/python/setup.sh.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

try:
    import polars as pl
except ImportError:  # polars is optional: its checks are skipped
    pl = None

# The contract: table -> [(column, type, nullable)], from outputs.md. Where the
# spec names a column without a type, the type is the one that column has in
# the other tables (str for names, i64 for counts, f64 for measures). Counts
# are signed (i64, i32) so that differences of counts are safe in every
# library; seeds alone are u64.
STR, U64, I64, I32, F64, BOOL = "str", "u64", "i64", "i32", "f64", "bool"
CONTRACT: dict[str, list[tuple[str, str, bool]]] = {
    "campaigns": [
        ("variant", STR, False), ("campaign", I64, False), ("seed", U64, False),
        ("mode", STR, False), ("scenario_id", STR, False), ("horizon_s", F64, False),
        ("requests", I64, False), ("errors", I64, False), ("error_rate", F64, False),
        ("latency_mean_ms", F64, False), ("latency_p50_ms", F64, False),
        ("latency_p99_ms", F64, False), ("availability", F64, False),
        ("slo_breached", BOOL, False), ("faults_injected", I32, False),
        ("rollbacks", I32, False), ("events", I64, False), ("weight", F64, False),
        ("degraded", I64, False), ("faults", STR, False),
    ],
    "handlers": [
        ("variant", STR, False), ("campaign", I64, False), ("scenario_id", STR, False),
        ("handler", STR, False), ("requests", I64, False), ("errors", I64, False),
        ("error_rate", F64, False), ("latency_mean_ms", F64, False),
        ("latency_p99_ms", F64, False), ("slo_breached", BOOL, False),
        ("degraded", I64, False), ("seed", U64, False),
    ],
    "risk": [
        ("variant", STR, False), ("handler", STR, False), ("risk", F64, False),
        ("ci_low", F64, False), ("ci_high", F64, False), ("campaigns", I64, False),
        ("breaches", I64, False), ("calibrated_risk", F64, True),
        ("threshold", F64, False), ("over_threshold", BOOL, False),
        # Documented additions (docs/results.md).
        ("risk_diff", F64, True), ("risk_diff_low", F64, True),
        ("risk_diff_high", F64, True), ("has_slo", BOOL, False),
        ("window_s", F64, False), ("fault_free_campaigns", I64, False),
        ("fault_free_breaches", I64, False), ("breached_without_faults", BOOL, False),
        ("programme_risk", F64, True),
        ("programme_ci_low", F64, True), ("programme_ci_high", F64, True),
        ("programme_added", F64, True), ("programme_added_low", F64, True),
        ("programme_added_high", F64, True),
    ],
    "scenarios": [
        ("rank", I32, False), ("scenario_id", STR, False), ("target", STR, False),
        ("failure_mode", STR, False), ("severity", STR, False), ("likelihood", F64, False),
        ("impact", F64, False), ("score", F64, False), ("duration_s", F64, False),
        ("rollback_plan", STR, False), ("abort_error_rate", F64, False),
        ("abort_latency_p99_ms", F64, False), ("healthy_error_rate", F64, False),
        ("healthy_latency_p99_ms", F64, False),
        # Documented additions (docs/results.md).
        ("abort_error_rate_basis", STR, False), ("abort_latency_p99_basis", STR, False),
        ("healthy_error_rate_high", F64, False), ("healthy_latency_p99_high_ms", F64, False),
        ("added_latency_ms", F64, True), ("error_fraction", F64, True),
        ("status_code", I32, True), ("slowdown", F64, True),
        ("concurrency_lost_percent", F64, True),
    ],
    "remediations": [
        ("variant", STR, False), ("target", STR, False), ("suggestion", STR, False),
        ("change", STR, False), ("risk_before", F64, False), ("risk_after", F64, False),
        # Documented additions (docs/results.md).
        ("handler", STR, False), ("kind", STR, False),
        ("risk_before_low", F64, False), ("risk_before_high", F64, False),
        ("risk_after_low", F64, False), ("risk_after_high", F64, False),
        ("risk_diff", F64, False), ("risk_diff_low", F64, False),
        ("risk_diff_high", F64, False), ("campaigns", I64, False),
        ("relevance", F64, False),
    ],
    "events": [
        ("variant", STR, False), ("campaign", I64, False), ("mode", STR, False),
        ("scenario_id", STR, False), ("time_s", F64, False),
        ("kind", STR, False), ("target", STR, False), ("failure_mode", STR, False),
        ("detail", STR, False), ("replica", I32, True), ("duration_s", F64, True),
        ("error_rate", F64, True), ("latency_p99_ms", F64, True),
        ("detected_at_s", F64, True), ("breach_s", F64, True), ("hold_s", F64, True),
        ("detection_delay_s", F64, True),
    ],
    # Optional, a documented addition (docs/results.md): runs of scenarios
    # with service paths (`paths:`).
    "paths": [
        ("variant", STR, False), ("campaign", I64, False), ("path", STR, False),
        ("adus_sent", I64, False), ("adus_delivered", I64, False),
        ("adus_lost", I64, False), ("loss_rate", F64, False),
        ("delay_mean_ms", F64, False), ("delay_p99_ms", F64, False),
        ("availability", F64, False), ("repairs", I32, False),
        ("time_to_repair_s", F64, False), ("downtime_s", F64, False),
        ("moves_back", I32, False),
    ],
}
REQUIRED_TABLES = ("campaigns", "handlers", "risk")
MODES = {"natural", "programme", "targeted", "predicted", "remediation"}
SEVERITIES = {"low", "medium", "high", "critical"}

ARROW_TYPES = {
    STR: (pa.string(), pa.large_string(), pa.string_view()),
    U64: (pa.uint64(),),
    I64: (pa.int64(),),
    I32: (pa.int32(),),
    F64: (pa.float64(),),
    BOOL: (pa.bool_(),),
}
DUCKDB_TYPES = {STR: "VARCHAR", U64: "UBIGINT", I64: "BIGINT", I32: "INTEGER", F64: "DOUBLE",
                BOOL: "BOOLEAN"}


def pandas_kind_ok(kind: str, dtype) -> bool:
    """Whether a pandas dtype holds the contract type without loss."""
    name = str(dtype)
    return name in {
        STR: ("object", "str", "string", "string[pyarrow]", "string[python]"),
        U64: ("uint64", "UInt64"),
        I64: ("int64", "Int64"),
        I32: ("int32", "Int32"),
        F64: ("float64", "Float64"),
        BOOL: ("bool", "boolean"),
    }[kind]


def polars_type_ok(kind: str, dtype) -> bool:
    expected = {STR: (pl.String,), U64: (pl.UInt64,), I64: (pl.Int64,), I32: (pl.Int32,),
                F64: (pl.Float64,), BOOL: (pl.Boolean,)}[kind]
    return any(dtype == t for t in expected)


def sql_quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, name: str, fn) -> None:
        """Runs one check: fn() returns None (pass) or raises / returns a message."""
        try:
            problem = fn()
        except Exception as exc:  # noqa: BLE001 - any reader error is a failure
            problem = f"{type(exc).__name__}: {exc}"
            if "-v" in sys.argv:
                traceback.print_exc()
        if problem:
            self.failed += 1
            print(f"FAIL {name}: {problem}")
        else:
            self.passed += 1
            print(f"ok   {name}")

    def skip(self, name: str, why: str) -> None:
        self.skipped += 1
        print(f"skip {name}: {why}")


def check_pyarrow(path: Path, table: str) -> str | None:
    parquet_file = pq.ParquetFile(path)
    schema = parquet_file.schema_arrow
    data = pq.read_table(path)
    problems = []
    for column, kind, nullable in CONTRACT.get(table, []):
        if column not in schema.names:
            problems.append(f"missing column {column}")
            continue
        field = schema.field(column)
        if field.type not in ARROW_TYPES[kind]:
            problems.append(f"{column} is {field.type}, want {kind}")
        if pa.types.is_dictionary(field.type):
            problems.append(f"{column} is an Arrow dictionary")
        if not nullable:
            if field.nullable:
                problems.append(f"{column} is declared nullable")
            if data.column(column).null_count:
                problems.append(f"{column} has nulls")
    if data.num_rows != parquet_file.metadata.num_rows:
        problems.append(f"read {data.num_rows} rows, footer says {parquet_file.metadata.num_rows}")
    problems += value_problems(table, data)
    return "; ".join(problems) or None


def value_problems(table: str, data: pa.Table) -> list[str]:
    """Light value rules that hold for any correct run (vectorized: run
    directories can hold millions of rows)."""
    problems = []
    cols = set(data.column_names)

    def rule(ok: pa.ChunkedArray, what: str) -> None:
        # Nulls in `ok` come from nullable inputs, which the rules allow.
        bad = pc.sum(pc.invert(pc.fill_null(ok, True))).as_py() or 0
        if bad:
            problems.append(f"{bad} rows break: {what}")

    def prob(column: str) -> pa.ChunkedArray:
        x = data.column(column)
        inside = pc.and_(pc.greater_equal(x, 0.0), pc.less_equal(x, 1.0))
        return pc.or_(pc.is_nan(x), inside)

    def one_of(column: str, allowed: set[str]) -> pa.ChunkedArray:
        return pc.is_in(data.column(column), value_set=pa.array(sorted(allowed)))

    if table in ("campaigns", "handlers"):
        if "mode" in cols:
            rule(one_of("mode", MODES), f"mode in {sorted(MODES)}")
        rule(pc.less_equal(data.column("errors"), data.column("requests")), "errors <= requests")
        rule(prob("error_rate"), "error_rate in [0, 1] or NaN")
        if "availability" in cols:
            rule(prob("availability"), "availability in [0, 1]")
    if table == "risk":
        rule(prob("risk"), "risk in [0, 1]")
        rule(prob("calibrated_risk"), "calibrated_risk in [0, 1] or null")
        rule(pc.and_(pc.less_equal(data.column("ci_low"), data.column("risk")),
                     pc.less_equal(data.column("risk"), data.column("ci_high"))),
             "ci_low <= risk <= ci_high")
        rule(pc.less_equal(data.column("breaches"), data.column("campaigns")),
             "breaches <= campaigns")
    if table == "scenarios":
        rule(one_of("severity", SEVERITIES), f"severity in {sorted(SEVERITIES)}")
        rule(prob("likelihood"), "likelihood in [0, 1]")
    if table == "paths":
        # ADUs in flight at the horizon are neither delivered nor lost.
        accounted = pc.add(data.column("adus_delivered"), data.column("adus_lost"))
        rule(pc.less_equal(accounted, data.column("adus_sent")),
             "adus_delivered + adus_lost <= adus_sent")
        rule(prob("loss_rate"), "loss_rate in [0, 1] or NaN")
        rule(prob("availability"), "availability in [0, 1]")
        rule(pc.greater_equal(data.column("downtime_s"), 0.0), "downtime_s >= 0")
    return problems


def check_pandas(path: Path, table: str, rows: int) -> str | None:
    frame = pd.read_parquet(path)
    problems = []
    if len(frame) != rows:
        problems.append(f"{len(frame)} rows, want {rows}")
    for column, kind, nullable in CONTRACT.get(table, []):
        if column not in frame.columns:
            problems.append(f"missing column {column}")
        elif (nullable and kind in (I64, I32) and str(frame[column].dtype) == "float64"
              and frame[column].isna().any()):
            # NumPy-backed pandas holds an integer column with nulls as
            # float64 (NaN for null); dtype_backend="numpy_nullable" keeps Int32.
            pass
        elif not pandas_kind_ok(kind, frame[column].dtype):
            problems.append(f"{column} has dtype {frame[column].dtype}, want {kind}")
    return "; ".join(problems) or None


def check_polars(path: Path, table: str, rows: int) -> str | None:
    frame = pl.read_parquet(path)
    problems = []
    if frame.height != rows:
        problems.append(f"{frame.height} rows, want {rows}")
    for column, kind, nullable in CONTRACT.get(table, []):
        if column not in frame.columns:
            problems.append(f"missing column {column}")
            continue
        if not polars_type_ok(kind, frame.schema[column]):
            problems.append(f"{column} is {frame.schema[column]}, want {kind}")
        if not nullable and frame[column].null_count():
            problems.append(f"{column} has nulls")
    return "; ".join(problems) or None


def check_duckdb(con, path: Path, table: str, rows: int) -> str | None:
    # Exactly the form the contract promises: SELECT * FROM 'path'.
    result = con.sql(f"SELECT * FROM {sql_quote(path)}")
    types = dict(zip(result.columns, (str(t) for t in result.types)))
    fetched = result.to_arrow_table().num_rows  # every row, every column
    problems = []
    if fetched != rows:
        problems.append(f"{fetched} rows, want {rows}")
    for column, kind, _nullable in CONTRACT.get(table, []):
        if column not in types:
            problems.append(f"missing column {column}")
        elif types[column] != DUCKDB_TYPES[kind]:
            problems.append(f"{column} is {types[column]}, want {DUCKDB_TYPES[kind]}")
    return "; ".join(problems) or None


def check_duckdb_glob(con, run_dir: Path, files: list[Path]) -> str | None:
    """GROUP BY variant over the directory glob agrees with per-file counts."""
    expected: dict[str, int] = {}
    for path in files:
        data = pq.read_table(path)
        if "variant" in data.column_names:
            for variant in data.column("variant").to_pylist():
                expected[variant] = expected.get(variant, 0) + 1
    glob = sql_quote(run_dir / "*.parquet")
    got = dict(con.sql(
        f"SELECT variant, count(*) FROM read_parquet({glob}, union_by_name = true) "
        "WHERE variant IS NOT NULL GROUP BY variant ORDER BY variant"
    ).fetchall())
    if got != expected:
        return f"glob counts {got} != per-file counts {expected}"
    # And over the campaigns table alone, the query a notebook starts with.
    con.sql(
        f"SELECT variant, count(*) AS campaigns, avg(error_rate) FROM "
        f"{sql_quote(run_dir / 'campaigns.parquet')} GROUP BY variant"
    ).fetchall()
    return None


def check_unsigned_statistics(con, path: Path) -> str | None:
    """Filters on u64 values above 2^63 agree in every reader.

    Row-group statistics of unsigned columns must be read as unsigned, or a
    reader that prunes row groups by them drops rows.
    """
    import pyarrow.dataset as ds

    cut = 2**63
    truth = sum(1 for s in pq.read_table(path, columns=["seed"]).column("seed").to_pylist()
                if s >= cut)
    got = {
        "pyarrow": pq.read_table(path, columns=["seed"],
                                 filters=ds.field("seed") >= pa.scalar(cut, pa.uint64())).num_rows,
        "duckdb": con.sql(f"SELECT count(*) FROM {sql_quote(path)} WHERE seed >= {cut}").fetchall()[0][0],
    }
    if pl is not None:
        got["polars"] = (pl.scan_parquet(path).filter(pl.col("seed") >= pl.lit(cut, pl.UInt64))
                         .select(pl.len()).collect().item())
    wrong = {reader: n for reader, n in got.items() if n != truth}
    return f"seed >= 2^63: {wrong}, want {truth}" if wrong else None


KEYS = ["variant", "mode", "scenario_id", "campaign"]


def check_joins(con, run_dir: Path) -> str | None:
    """The joins of docs/results.md ("Joining the tables") in DuckDB, pandas
    and polars: every handler row finds its campaign, every event its
    programme campaign, every risk row its natural handler rows, and a
    difference of counts is negative where it should be."""
    problems = []
    q = lambda name: sql_quote(run_dir / f"{name}.parquet")  # noqa: E731
    handlers = pq.ParquetFile(run_dir / "handlers.parquet").metadata.num_rows
    joined = con.sql(
        f"SELECT count(*) FROM {q('campaigns')} c JOIN {q('handlers')} h "
        "USING (variant, mode, scenario_id, campaign)").fetchall()[0][0]
    if joined != handlers:
        problems.append(f"duckdb campaigns JOIN handlers: {joined} rows, want {handlers}")
    c, h = pd.read_parquet(run_dir / "campaigns.parquet"), pd.read_parquet(run_dir / "handlers.parquet")
    merged = h.merge(c[KEYS + ["seed"]], on=KEYS, how="inner")
    if len(merged) != handlers:
        problems.append(f"pandas handlers.merge(campaigns): {len(merged)} rows, want {handlers}")
    elif not (merged["seed_x"] == merged["seed_y"]).all():
        problems.append("pandas: a handler row's seed differs from its campaign's")
    if (c["errors"] - c["requests"]).max() > 0:
        problems.append("pandas: errors - requests > 0")
    if pl is not None:
        pc_, ph = pl.read_parquet(run_dir / "campaigns.parquet"), pl.read_parquet(run_dir / "handlers.parquet")
        n = ph.join(pc_.select(KEYS), on=KEYS, how="inner").height
        if n != handlers:
            problems.append(f"polars handlers.join(campaigns): {n} rows, want {handlers}")
        if pc_.select((pl.col("errors") - pl.col("requests")).min()).item() > 0:
            problems.append("polars: errors - requests")
    # Risk from the natural handler rows, as risk.parquet has it.
    got = con.sql(
        f"SELECT r.variant, r.handler, r.breaches, count(*) FILTER (h.slo_breached) "
        f"FROM {q('risk')} r JOIN {q('handlers')} h USING (variant, handler) "
        "WHERE h.mode = 'natural' GROUP BY ALL").fetchall()
    for variant, handler, breaches, counted in got:
        if breaches != counted:
            problems.append(f"risk {variant}/{handler}: breaches {breaches}, handler rows {counted}")
    if (run_dir / "scenarios.parquet").is_file():
        # Each predicted scenario's campaigns, as many as it says it ran.
        bad = con.sql(
            f"SELECT s.scenario_id, s.campaigns, count(c.campaign) FROM {q('scenarios')} s "
            f"LEFT JOIN {q('campaigns')} c ON c.mode = 'predicted' AND c.scenario_id = s.scenario_id "
            "GROUP BY ALL HAVING count(c.campaign) != s.campaigns").fetchall()
        if bad:
            problems.append(f"scenarios JOIN campaigns (mode predicted): {bad[:3]}")
    rem = run_dir / "remediations.parquet"
    if rem.is_file() and pq.ParquetFile(rem).metadata.num_rows > 0 and con.sql(
            f"SELECT count(*) FROM {q('handlers')} WHERE mode = 'remediation'").fetchall()[0][0] > 0:
        # Each candidate's risk_after from its rows (`run --remediation-rows`)
        # and the base's for the paired campaigns not simulated again.
        got = con.sql(
            f"WITH cand AS (SELECT variant, handler, campaigns, risk_after FROM {q('remediations')}), "
            f"base AS (SELECT handler, campaign, slo_breached FROM {q('handlers')} "
            "          WHERE mode = 'natural' AND variant = 'base') "
            "SELECT cand.variant, cand.handler, cand.risk_after, "
            "       avg(coalesce(own.slo_breached, base.slo_breached)::int) "
            "FROM cand JOIN base ON base.handler = cand.handler AND base.campaign < cand.campaigns "
            f"LEFT JOIN {q('handlers')} own ON own.mode = 'remediation' AND own.variant = cand.variant "
            "  AND own.handler = cand.handler AND own.campaign = base.campaign "
            "GROUP BY ALL").fetchall()
        for variant, handler, want, counted in got:
            if abs(want - counted) > 1e-12:
                problems.append(f"remediation {variant}/{handler}: risk_after {want}, from the rows {counted}")
    if (run_dir / "events.parquet").is_file():
        events = pq.ParquetFile(run_dir / "events.parquet").metadata.num_rows
        joined = con.sql(
            f"SELECT count(*) FROM {q('events')} e JOIN {q('campaigns')} c "
            "USING (variant, mode, scenario_id, campaign)").fetchall()[0][0]
        if joined != events:
            problems.append(f"duckdb events JOIN campaigns: {joined} rows, want {events}")
    return "; ".join(problems) or None


def check_manifest(run_dir: Path, counts: dict[str, int]) -> str | None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    if not isinstance(manifest, dict):
        return "manifest.json is not an object"
    problems = []
    row_counts = manifest.get("row_counts")
    if row_counts != counts:
        problems.append(f"row_counts {row_counts} != files {counts}")
    files = manifest.get("files")
    present = sorted(p.name for p in run_dir.iterdir() if p.name != "manifest.json")
    if files != present:
        problems.append(f"files {files} != directory {present}")
    return "; ".join(problems) or None


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if a != "-v"]
    if len(args) != 1:
        print("usage: check_outputs.py [-v] RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[0])
    if not run_dir.is_dir():
        print(f"check_outputs.py: {run_dir} is not a directory", file=sys.stderr)
        return 2

    checker = Checker()
    print(f"versions: pyarrow {pa.__version__}, pandas {pd.__version__}, duckdb "
          f"{duckdb.__version__}, polars {pl.__version__ if pl else 'not installed'}")
    files = sorted(run_dir.glob("*.parquet"))
    for table in REQUIRED_TABLES:
        checker.check(f"{table}.parquet exists",
                      lambda t=table: None if (run_dir / f"{t}.parquet").is_file() else "missing")
    checker.check("manifest.json exists",
                  lambda: None if (run_dir / "manifest.json").is_file() else "missing")

    con = duckdb.connect()
    counts: dict[str, int] = {}
    for path in files:
        table = path.stem
        if table not in CONTRACT:
            print(f"note {path.name}: not in the contract; opened but not schema-checked")
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception as exc:  # noqa: BLE001 - a file without a footer
            checker.check(f"{table} footer", lambda e=exc: f"{type(e).__name__}: {e}")
            continue
        counts[table] = rows
        checker.check(f"{table} pyarrow", lambda p=path, t=table: check_pyarrow(p, t))
        checker.check(f"{table} pandas", lambda p=path, t=table, n=rows: check_pandas(p, t, n))
        if pl is not None:
            checker.check(f"{table} polars", lambda p=path, t=table, n=rows: check_polars(p, t, n))
        else:
            checker.skip(f"{table} polars", "polars is not installed")
        checker.check(f"{table} duckdb", lambda p=path, t=table, n=rows: check_duckdb(con, p, t, n))

    if files:
        checker.check("duckdb GROUP BY variant over the directory glob",
                      lambda: check_duckdb_glob(con, run_dir, files))
    if "campaigns" in counts:
        checker.check("unsigned statistics honoured by filters",
                      lambda: check_unsigned_statistics(con, run_dir / "campaigns.parquet"))
    if "campaigns" in counts and "handlers" in counts and "risk" in counts:
        checker.check("joins of docs/results.md in DuckDB, pandas and polars",
                      lambda: check_joins(con, run_dir))
    if (run_dir / "manifest.json").is_file():
        checker.check("manifest.json row_counts and files", lambda: check_manifest(run_dir, counts))

    line = f"{checker.passed} passed, {checker.failed} failed"
    if checker.skipped:
        line += f", {checker.skipped} skipped"
    print(line)
    return 1 if checker.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception:  # noqa: BLE001 - still end with the summary line
        traceback.print_exc()
        print("0 passed, 1 failed")
        sys.exit(1)
