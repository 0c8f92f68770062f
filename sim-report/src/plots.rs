//! The report's plots: SVG documents drawn with plotters, each with a
//! `<title>` and an `aria-label` saying what it shows.

use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::prelude::*;

/// Width of every plot, pixels (pages scale them down on narrow screens).
const WIDTH: u32 = 760;

/// Colours for series, in order (colour-blind safe: Okabe and Ito).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
];

fn font(size: u32) -> (&'static str, u32) {
    (sim_output::plot_font::FAMILY, size)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The chart's legend, in the report's style.
fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

/// Puts `title` into the SVG as its `<title>` and `aria-label`, with
/// `role="img"`.
fn titled(svg: String, title: &str) -> String {
    let t = crate::html::esc(title);
    match svg.find("<svg") {
        Some(start) => {
            let Some(end) = svg[start..].find('>').map(|e| start + e) else {
                return svg;
            };
            format!(
                "{} role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>{}",
                &svg[start..end],
                &svg[end + 1..]
            )
        }
        None => svg,
    }
}

/// One row of an interval plot.
pub struct IntervalRow {
    /// Its label (a handler, `variant / handler`).
    pub label: String,
    /// The estimate.
    pub point: f64,
    /// Its interval.
    pub low: f64,
    /// Its interval.
    pub high: f64,
    /// A threshold of its own (drawn as a red tick), if any.
    pub mark: Option<f64>,
}

/// A forest plot: one row per estimate with its interval, a tick at each
/// row's own threshold, and vertical reference lines (`(x, label)`).
pub fn intervals(
    title: &str,
    x_desc: &str,
    rows: &[IntervalRow],
    lines: &[(f64, &str)],
) -> Result<String, String> {
    sim_output::plot_font::register();
    let n = rows.len().max(1);
    let height = 90 + 34 * n as u32;
    let finite = |x: f64| if x.is_finite() { x } else { 0.0 };
    let mut lo = rows
        .iter()
        .map(|r| finite(r.low))
        .chain(lines.iter().map(|l| l.0))
        .fold(0.0_f64, f64::min);
    let mut hi = rows
        .iter()
        .flat_map(|r| [finite(r.high), r.mark.unwrap_or(0.0)])
        .chain(lines.iter().map(|l| l.0))
        .fold(0.0_f64, f64::max);
    if hi - lo < 1e-9 {
        hi = lo + 0.01;
    }
    let pad = (hi - lo) * 0.08;
    if lo < 0.0 {
        lo -= pad;
    }
    hi += pad;
    let label_width = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 40) as u32
        * 7
        + 16;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(label_width)
            .build_cartesian_2d(lo..hi, (0..n).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x_desc)
            .x_label_style(font(12))
            .y_label_style(font(12))
            .axis_desc_style(font(13))
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => rows
                    .get(*i)
                    .map(|r| truncate(&r.label, 40))
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(err)?;
        for (k, (x, label)) in lines.iter().enumerate() {
            let c = PALETTE[(k + 5) % PALETTE.len()];
            chart
                .draw_series([PathElement::new(
                    vec![(*x, SegmentValue::Exact(0)), (*x, SegmentValue::Exact(n))],
                    c.stroke_width(2),
                )])
                .map_err(err)?
                .label(*label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        let mut marked = false;
        for (i, r) in rows.iter().enumerate() {
            let y = SegmentValue::CenterOf(i);
            if r.low.is_finite() && r.high.is_finite() {
                chart
                    .draw_series([PathElement::new(
                        vec![(r.low, y.clone()), (r.high, y.clone())],
                        PALETTE[0].stroke_width(3),
                    )])
                    .map_err(err)?;
            }
            if r.point.is_finite() {
                chart
                    .draw_series([Circle::new((r.point, y.clone()), 5, PALETTE[0].filled())])
                    .map_err(err)?;
            }
            if let Some(m) = r.mark {
                let s = chart
                    .draw_series([Cross::new((m, y.clone()), 6, RED.stroke_width(2))])
                    .map_err(err)?;
                if !marked {
                    s.label("its threshold")
                        .legend(|(x, y)| Cross::new((x + 9, y), 5, RED.stroke_width(2)));
                    marked = true;
                }
            }
        }
        if !lines.is_empty() || marked {
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        root.present().map_err(err)?;
    }
    Ok(titled(out, title))
}

/// Empirical CDFs of several samples (each summarised by at most 200
/// quantiles, so a plot stays small whatever the campaigns).
pub fn cdfs(title: &str, x_desc: &str, series: &[(String, Vec<f64>)]) -> Result<String, String> {
    sim_output::plot_font::register();
    let all = series.iter().flat_map(|(_, v)| v.iter().copied());
    let (mut lo, mut hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() || !hi.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.03;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(52)
            .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..1.02f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("fraction of campaigns at or below")
            .label_style(font(12))
            .axis_desc_style(font(13))
            .draw()
            .map_err(err)?;
        for (k, (name, v)) in series.iter().enumerate() {
            let mut v = v.clone();
            v.retain(|x| x.is_finite());
            v.sort_by(f64::total_cmp);
            if v.is_empty() {
                continue;
            }
            let n = v.len();
            let keep = n.min(200);
            let pts: Vec<(f64, f64)> = (0..keep)
                .map(|j| {
                    let i = if keep == n {
                        j
                    } else {
                        j * (n - 1) / (keep - 1).max(1)
                    };
                    (v[i], (i + 1) as f64 / n as f64)
                })
                .collect();
            let c = PALETTE[k % PALETTE.len()];
            let mut steps = Vec::with_capacity(2 * pts.len() + 1);
            steps.push((pts[0].0, 0.0));
            let mut prev = 0.0;
            for (x, y) in pts {
                steps.push((x, prev));
                steps.push((x, y));
                prev = y;
            }
            chart
                .draw_series(LineSeries::new(steps, c.stroke_width(2)))
                .map_err(err)?
                .label(format!("{} ({n})", truncate(name, 48)))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(err)?;
    }
    Ok(titled(out, title))
}

/// One campaign's live-injection events: `(seconds, kind)`.
pub type Timeline = (String, Vec<(f64, String)>);

/// Live-injection timelines: a row per campaign, a marker per event.
pub fn timelines(title: &str, rows: &[Timeline]) -> Result<String, String> {
    sim_output::plot_font::register();
    let n = rows.len().max(1);
    let t_max = rows
        .iter()
        .flat_map(|(_, e)| e.iter().map(|(t, _)| *t))
        .fold(1.0_f64, f64::max);
    let (scale, unit) = if t_max > 7200.0 {
        (3600.0, "hours")
    } else if t_max > 120.0 {
        (60.0, "minutes")
    } else {
        (1.0, "seconds")
    };
    let kinds: [(&str, RGBColor); 5] = [
        ("inject", PALETTE[0]),
        ("breach", RGBColor(200, 30, 30)),
        ("rollback", PALETTE[1]),
        ("recover", PALETTE[2]),
        ("end", PALETTE[6]),
    ];
    let mut out = String::new();
    {
        let root =
            SVGBackend::with_string(&mut out, (WIDTH, 110 + 40 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(150)
            .build_cartesian_2d(0f64..(t_max / scale * 1.05), (0..n).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(format!("{unit} into the campaign"))
            .label_style(font(12))
            .axis_desc_style(font(13))
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => rows.get(*i).map(|r| r.0.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(err)?;
        for (i, (_, events)) in rows.iter().enumerate() {
            let y = SegmentValue::CenterOf(i);
            let end = events.iter().map(|e| e.0).fold(0.0_f64, f64::max) / scale;
            chart
                .draw_series([PathElement::new(
                    vec![(0.0, y.clone()), (end, y.clone())],
                    BLACK.mix(0.25).stroke_width(1),
                )])
                .map_err(err)?;
        }
        for (name, c) in kinds {
            let pts: Vec<(f64, SegmentValue<usize>)> = rows
                .iter()
                .enumerate()
                .flat_map(|(i, (_, e))| {
                    e.iter()
                        .filter(|(_, k)| k == name)
                        .map(move |(t, _)| (*t / scale, SegmentValue::CenterOf(i)))
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(
                    pts.into_iter()
                        .map(move |p| TriangleMarker::new(p, 7, c.filled())),
                )
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 6, c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(err)?;
    }
    Ok(titled(out, title))
}

/// A forecast: the latest history, the mean, the 80% and 95% bands and
/// the threshold, against hours from the last observation.
pub struct ForecastPlot<'a> {
    /// `(hours, value)` of the history shown (negative: before the last).
    pub history: &'a [(f64, f64)],
    /// `(hours, mean, lower 80, upper 80, lower 95, upper 95)`.
    pub steps: &'a [(f64, f64, f64, f64, f64, f64)],
    /// The failure threshold.
    pub threshold: Option<f64>,
}

/// The forecast plot.
pub fn forecast(title: &str, y_desc: &str, f: &ForecastPlot<'_>) -> Result<String, String> {
    sim_output::plot_font::register();
    let ys = f
        .history
        .iter()
        .map(|p| p.1)
        .chain(f.steps.iter().flat_map(|s| [s.4, s.5]))
        .chain(f.threshold);
    let (mut lo, mut hi) = ys
        .filter(|y| y.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-9);
    let x0 = f.history.first().map_or(0.0, |p| p.0);
    let x1 = f.steps.last().map_or(1.0, |s| s.0).max(x0 + 1e-6);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("hours from the last observation")
            .y_desc(y_desc)
            .label_style(font(12))
            .axis_desc_style(font(13))
            .draw()
            .map_err(err)?;
        for (k, (l, u), label) in [
            (0usize, (4usize, 5usize), "95% interval"),
            (1, (2, 3), "80% interval"),
        ] {
            let c = PALETTE[0].mix(if k == 0 { 0.15 } else { 0.3 });
            let pick = |s: &(f64, f64, f64, f64, f64, f64), i: usize| match i {
                2 => s.2,
                3 => s.3,
                4 => s.4,
                _ => s.5,
            };
            let mut poly: Vec<(f64, f64)> = f.steps.iter().map(|s| (s.0, pick(s, u))).collect();
            poly.extend(f.steps.iter().rev().map(|s| (s.0, pick(s, l))));
            if poly.len() >= 3 {
                chart
                    .draw_series([Polygon::new(poly, c.filled())])
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.filled())
                    });
            }
        }
        chart
            .draw_series(LineSeries::new(
                f.history.iter().copied(),
                BLACK.stroke_width(1),
            ))
            .map_err(err)?
            .label("history")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1)));
        chart
            .draw_series(LineSeries::new(
                f.steps.iter().map(|s| (s.0, s.1)),
                PALETTE[0].stroke_width(2),
            ))
            .map_err(err)?
            .label("forecast mean")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[0].stroke_width(2))
            });
        if let Some(t) = f.threshold {
            chart
                .draw_series([PathElement::new(
                    vec![(x0, t), (x1, t)],
                    RED.stroke_width(2),
                )])
                .map_err(err)?
                .label("failure threshold")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(err)?;
    }
    Ok(titled(out, title))
}

/// A reliability diagram: `(mean predicted, observed, count)` per bin.
pub fn reliability(title: &str, bins: &[(f64, f64, u64)]) -> Result<String, String> {
    sim_output::plot_font::register();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (480, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("predicted breach probability (bin mean)")
            .y_desc("observed breach frequency")
            .label_style(font(12))
            .axis_desc_style(font(13))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4)))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                bins.iter().map(|b| (b.0, b.1)),
                PALETTE[0].stroke_width(2),
            ))
            .map_err(err)?;
        let max_n = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64;
        chart
            .draw_series(bins.iter().map(|b| {
                let r = 3.0 + 7.0 * (b.2 as f64 / max_n).sqrt();
                Circle::new((b.0, b.1), r as i32, PALETTE[0].filled())
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(titled(out, title))
}

/// At most `n` characters, `…` when cut.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
