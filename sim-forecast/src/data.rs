//! Telemetry as users have it, read into regular series: the long form
//! (`timestamp,resource,metric,value`, CSV or Parquet), a single series
//! (`timestamp,value`, as CloudWatch exports and the Numenta benchmark
//! files are) and the JSON of a Prometheus `query_range` response. Series
//! are put on a regular grid: duplicates averaged, gaps filled by linear
//! interpolation, irregular timestamps resampled; every repair is counted
//! and reported.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Error;

/// A series on a regular grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The resource it measures.
    pub resource: String,
    /// The metric.
    pub metric: String,
    /// Unix seconds of the first point.
    pub start: i64,
    /// Seconds between points.
    pub step: i64,
    /// The values.
    pub values: Vec<f64>,
    /// What was repaired to put it on the grid.
    pub repairs: Repairs,
}

impl Series {
    /// Unix seconds of point `i` (past the end for forecasts).
    pub fn time(&self, i: usize) -> i64 {
        self.start + self.step * i as i64
    }
}

/// What regularising a series changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Repairs {
    /// Points read.
    pub points: usize,
    /// Points sharing a timestamp with another, averaged into one.
    pub duplicates: usize,
    /// Grid points with no observation, filled by linear interpolation.
    pub filled: usize,
    /// Observations off the grid (irregular timestamps), resampled.
    pub off_grid: usize,
    /// Points that were not numbers (skipped).
    pub skipped: usize,
}

impl Repairs {
    /// A sentence, or `None` when nothing was repaired.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.duplicates > 0 {
            parts.push(format!("{} duplicate timestamps averaged", self.duplicates));
        }
        if self.filled > 0 {
            parts.push(format!("{} missing points interpolated", self.filled));
        }
        if self.off_grid > 0 {
            parts.push(format!("{} irregular timestamps resampled", self.off_grid));
        }
        if self.skipped > 0 {
            parts.push(format!(
                "{} values that are not numbers skipped",
                self.skipped
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Parses a timestamp: `YYYY-MM-DD HH:MM:SS[.fff]`, RFC 3339, a date and
/// time with `T`, or Unix seconds (milliseconds above 1e11).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        // Unix seconds; above 1e11 (the year 5138 in seconds) the number
        // is milliseconds, as Grafana and CloudWatch exports write them.
        let secs = if v.abs() >= 1e11 { v / 1000.0 } else { v };
        return (secs.is_finite() && secs.abs() < 1e11).then_some(secs.floor() as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp());
        }
    }
    None
}

/// Puts `(time, value)` points on a regular grid.
pub fn regularise(
    resource: &str,
    metric: &str,
    mut points: Vec<(i64, f64)>,
    skipped: usize,
    file: &Path,
) -> Result<Series, Error> {
    let n_read = points.len();
    points.sort_by_key(|p| p.0);
    // Average duplicates.
    let mut merged: Vec<(i64, f64, usize)> = Vec::with_capacity(points.len());
    for (t, v) in points {
        match merged.last_mut() {
            Some(last) if last.0 == t => {
                last.1 += v;
                last.2 += 1;
            }
            _ => merged.push((t, v, 1)),
        }
    }
    let duplicates = n_read - merged.len();
    let pts: Vec<(i64, f64)> = merged.iter().map(|(t, s, c)| (*t, s / *c as f64)).collect();
    if pts.len() < 8 {
        return Err(Error::input(format!(
            "preflight: forecast: {}: {resource}/{metric} has {} points; a forecast needs at least 8",
            file.display(),
            pts.len()
        )));
    }
    let mut diffs: Vec<i64> = pts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    diffs.sort_unstable();
    let step = diffs[diffs.len() / 2].max(1);
    let start = pts[0].0;
    let span = pts[pts.len() - 1].0 - start;
    let n = (span / step) as usize + 1;
    if n > 10_000_000 {
        return Err(Error::input(format!(
            "preflight: forecast: {}: {resource}/{metric} spans {n} steps of {step} s: more than 10 million points",
            file.display()
        )));
    }
    let mut values = Vec::with_capacity(n);
    let (mut filled, mut off_grid) = (0, 0);
    let mut j = 0;
    for i in 0..n {
        let t = start + step * i as i64;
        while j + 1 < pts.len() && pts[j + 1].0 <= t {
            j += 1;
        }
        let (t0, v0) = pts[j];
        if t0 == t {
            values.push(v0);
            continue;
        }
        let (t1, v1) = pts.get(j + 1).copied().unwrap_or((t0, v0));
        let v = if t1 == t0 {
            v0
        } else {
            v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64
        };
        values.push(v);
        if t1 - t0 > step + step / 2 {
            filled += 1;
        }
    }
    for (t, _) in &pts {
        if (t - start) % step != 0 {
            off_grid += 1;
        }
    }
    Ok(Series {
        resource: resource.to_owned(),
        metric: metric.to_owned(),
        start,
        step,
        values,
        repairs: Repairs {
            points: n_read,
            duplicates,
            filled,
            off_grid,
            skipped,
        },
    })
}

/// A series' points and the values skipped.
type Points = (Vec<(i64, f64)>, usize);

/// Points (and values skipped) per `(resource, metric)`.
type Groups = BTreeMap<(String, String), Points>;

/// Gathers points per `(resource, metric)` without allocating per row when
/// a series' rows come together (as exports write them).
#[derive(Default)]
struct Grouper {
    groups: Groups,
    current: Option<((String, String), Points)>,
}

impl Grouper {
    /// One observation (`None`: a value that is not a number).
    fn push(&mut self, resource: &str, metric: &str, t: i64, v: Option<f64>) {
        let same = matches!(&self.current, Some(((r, m), _)) if r == resource && m == metric);
        if !same {
            self.flush();
            let key = (resource.to_owned(), metric.to_owned());
            let g = self.groups.remove(&key).unwrap_or_default();
            self.current = Some((key, g));
        }
        let (_, g) = self.current.as_mut().expect("set above");
        match v {
            Some(v) => g.0.push((t, v)),
            None => g.1 += 1,
        }
    }

    fn flush(&mut self) {
        if let Some((k, g)) = self.current.take() {
            self.groups.insert(k, g);
        }
    }

    /// Every series, regularised (in parallel), in `(resource, metric)`
    /// order.
    fn series(mut self, file: &Path) -> Result<Vec<Series>, Error> {
        use rayon::prelude::*;
        self.flush();
        if self.groups.is_empty() {
            return Err(bad(file, "no data rows"));
        }
        let groups: Vec<_> = self.groups.into_iter().collect();
        groups
            .into_par_iter()
            .map(|((r, m), (pts, skipped))| regularise(&r, &m, pts, skipped, file))
            .collect()
    }
}

/// How to name a file's series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Naming {
    /// `--resource` (a single-series file; default: the file's stem).
    pub resource: Option<String>,
    /// `--metric` (a single-series file; default `value`).
    pub metric: Option<String>,
    /// The Prometheus label naming the resource (default `instance`).
    pub resource_label: Option<String>,
    /// The Prometheus label naming the metric (default `__name__`).
    pub metric_label: Option<String>,
}

fn bad(file: &Path, what: impl std::fmt::Display) -> Error {
    Error::input(format!("preflight: forecast: {}: {what}", file.display()))
}

/// Reads every series of `bytes`, the content of `file` (named in
/// messages; its extension tells Parquet and JSON from CSV). The caller
/// reads the file, within its own bounds.
pub fn read(file: &Path, bytes: &[u8], naming: &Naming) -> Result<Vec<Series>, Error> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "parquet" {
        return read_parquet(file, bytes);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad(file, "not UTF-8 text"))?;
    if ext == "json" || text.trim_start().starts_with('{') {
        return read_prometheus(file, text, naming);
    }
    read_csv(file, text, naming)
}

fn read_csv(file: &Path, text: &str, naming: &Naming) -> Result<Vec<Series>, Error> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| bad(file, format!("not CSV: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(tc), Some(vc)) = (col("timestamp").or(col("time")), col("value")) else {
        return Err(bad(
            file,
            format!(
                "expected the columns `timestamp,value` (one series) or `timestamp,resource,metric,value` (long form); the header is `{}`",
                header.join(",")
            ),
        ));
    };
    let (rc, mc) = (col("resource"), col("metric"));
    let long = rc.is_some() && mc.is_some();
    let default_resource = naming.resource.clone().unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "series".into())
    });
    let default_metric = naming.metric.clone().unwrap_or_else(|| "value".into());
    let mut groups = Grouper::default();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| bad(file, format!("line {line}: {e}")))?;
        let t = rec.get(tc).unwrap_or("");
        let t = parse_time(t).ok_or_else(|| {
            bad(file, format!("line {line}: `{t}` is not a timestamp (YYYY-MM-DD HH:MM:SS, RFC 3339 or Unix seconds)"))
        })?;
        let (resource, metric) = if long {
            (
                rec.get(rc.unwrap_or(0)).unwrap_or(""),
                rec.get(mc.unwrap_or(0)).unwrap_or(""),
            )
        } else {
            (default_resource.as_str(), default_metric.as_str())
        };
        let v = rec
            .get(vc)
            .unwrap_or("")
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite());
        groups.push(resource, metric, t, v);
    }
    groups.series(file)
}

fn read_parquet(file: &Path, bytes: &[u8]) -> Result<Vec<Series>, Error> {
    use arrow::array::{Array, Float64Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .and_then(|b| b.build())
        .map_err(|e| bad(file, format!("not Parquet: {e}")))?;
    let mut groups = Grouper::default();
    for batch in reader {
        let batch = batch.map_err(|e| bad(file, e))?;
        let need = |n: &str| {
            batch.column_by_name(n).ok_or_else(|| {
                bad(
                    file,
                    format!("no column `{n}` (expected timestamp, resource, metric, value)"),
                )
            })
        };
        let (tcol, rcol, mcol, vcol) = (
            need("timestamp")?,
            need("resource")?,
            need("metric")?,
            need("value")?,
        );
        let strs = |c: &std::sync::Arc<dyn Array>, n: &str| -> Result<StringArray, Error> {
            c.as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| bad(file, format!("column `{n}` is not text")))
        };
        let (res, met) = (strs(rcol, "resource")?, strs(mcol, "metric")?);
        let vals = vcol
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| bad(file, "column `value` is not a double"))?;
        let times = seconds(tcol.as_ref()).ok_or_else(|| {
            bad(
                file,
                "column `timestamp` is not a timestamp, integer or text",
            )
        })?;
        for (i, t) in times.into_iter().enumerate() {
            let t = t.ok_or_else(|| bad(file, format!("row {i}: the timestamp cannot be read")))?;
            let v = (!vals.is_null(i) && vals.value(i).is_finite()).then(|| vals.value(i));
            groups.push(res.value(i), met.value(i), t, v);
        }
    }
    groups.series(file)
}

/// Unix seconds of every row of a timestamp column (any unit), an integer
/// column (seconds) or a text column (as the CSV reader parses it); `None`
/// for another type.
fn seconds(col: &dyn arrow::array::Array) -> Option<Vec<Option<i64>>> {
    use arrow::array::{
        Array, Int64Array, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
        TimestampNanosecondArray, TimestampSecondArray,
    };
    fn scaled<T: arrow::array::ArrowPrimitiveType<Native = i64>>(
        a: &arrow::array::PrimitiveArray<T>,
        per_second: i64,
    ) -> Vec<Option<i64>> {
        a.iter()
            .map(|v| v.map(|v| v.div_euclid(per_second)))
            .collect()
    }
    let any = col.as_any();
    if let Some(a) = any.downcast_ref::<TimestampSecondArray>() {
        return Some(scaled(a, 1));
    }
    if let Some(a) = any.downcast_ref::<TimestampMillisecondArray>() {
        return Some(scaled(a, 1000));
    }
    if let Some(a) = any.downcast_ref::<TimestampMicrosecondArray>() {
        return Some(scaled(a, 1_000_000));
    }
    if let Some(a) = any.downcast_ref::<TimestampNanosecondArray>() {
        return Some(scaled(a, 1_000_000_000));
    }
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        return Some(scaled(a, 1));
    }
    let a = any.downcast_ref::<StringArray>()?;
    Some(
        (0..a.len())
            .map(|i| (!a.is_null(i)).then(|| parse_time(a.value(i))).flatten())
            .collect(),
    )
}

fn read_prometheus(file: &Path, text: &str, naming: &Naming) -> Result<Vec<Series>, Error> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(file, format!("not JSON: {e}")))?;
    let data = v.get("data").unwrap_or(&v);
    if data.get("resultType").and_then(|t| t.as_str()) != Some("matrix") {
        return Err(bad(
            file,
            "expected a Prometheus query_range response (`data.resultType: matrix`)",
        ));
    }
    let rl = naming.resource_label.as_deref().unwrap_or("instance");
    let ml = naming.metric_label.as_deref().unwrap_or("__name__");
    let mut out = Vec::new();
    for (i, r) in data
        .get("result")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let label = |l: &str| {
            r.get("metric")
                .and_then(|m| m.get(l))
                .and_then(|x| x.as_str())
                .map(str::to_owned)
        };
        let resource = label(rl).ok_or_else(|| {
            bad(
                file,
                format!("series {i} has no label `{rl}` for its resource (--resource-label)"),
            )
        })?;
        let metric = label(ml).or_else(|| naming.metric.clone()).ok_or_else(|| {
            bad(
                file,
                format!(
                    "series {i} has no label `{ml}` for its metric (--metric-label, or --metric)"
                ),
            )
        })?;
        let mut pts = Vec::new();
        let mut skipped = 0;
        for p in r
            .get("values")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let t = p.get(0).and_then(|t| t.as_f64());
            let x = p
                .get(1)
                .and_then(|x| x.as_str())
                .and_then(|x| x.parse::<f64>().ok());
            match (t, x) {
                (Some(t), Some(x)) if x.is_finite() => pts.push((t.floor() as i64, x)),
                _ => skipped += 1,
            }
        }
        if out
            .iter()
            .any(|s: &Series| s.resource == resource && s.metric == metric)
        {
            return Err(bad(
                file,
                format!(
                    "two series are both {resource}/{metric}: name them apart with --resource-label (and --metric-label), e.g. a label that differs between them"
                ),
            ));
        }
        out.push(regularise(&resource, &metric, pts, skipped, file)?);
    }
    if out.is_empty() {
        return Err(bad(file, "the response holds no series"));
    }
    Ok(out)
}
