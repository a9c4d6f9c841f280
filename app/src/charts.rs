//! The dashboard's charts: plain data in, SVG text out (plotters' SVG backend). Nothing here knows
//! Leptos or the database, so the server draws the first paint and the browser redraws on updates
//! with the same code.
//!
//! Conventions (the whole app keeps them): Okabe–Ito colours, one meaning each (accepted blue,
//! refused orange, errors vermillion); transparent background and text drawn in `TEXT`, which the
//! stylesheet recolours for dark mode; counts and rates start at zero; time in the viewer's zone.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

use crate::types::{AnalyticsBucket, CoverageHistoryView, PlatformView};

pub const ACCEPTED: RGBColor = RGBColor(0x00, 0x72, 0xB2);
pub const REFUSED: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
pub const ERROR: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
pub const P50: RGBColor = RGBColor(0x00, 0x9E, 0x73);
pub const P95: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
pub const P99: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
/// Axis and label colour; `style/main.css` sets the text colour per colour scheme.
pub const TEXT: RGBColor = RGBColor(0x5F, 0x6B, 0x7A);
const GRID: RGBColor = RGBColor(0x9A, 0xA5, 0xB1);

/// Charts are this tall whatever the data, so nothing moves when it arrives.
pub const HEIGHT: u32 = 220;

/// Where and how a time chart is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// The window shown, Unix milliseconds.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Pixels; the height is [`HEIGHT`].
    pub width: u32,
    /// The viewer's offset from UTC in minutes (east positive: UTC+2 is 120).
    pub utc_offset_min: i32,
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Tick steps, smallest first: the first that gives at most `MAX_TICKS` ticks is used.
const STEPS: [i64; 12] = [
    MINUTE,
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    30 * DAY,
];
const MAX_TICKS: i64 = 7;

/// Tick times for a window: round local times (every 1/5/15/30 min, 1/3/6/12 h, days).
pub fn time_ticks(from_ms: i64, to_ms: i64, utc_offset_min: i32) -> (i64, Vec<i64>) {
    let span = (to_ms - from_ms).max(1);
    let step = STEPS
        .into_iter()
        .find(|step| span / step <= MAX_TICKS)
        .unwrap_or(30 * DAY);
    let offset = i64::from(utc_offset_min) * MINUTE;
    // The first round local time at or after `from`.
    let local_from = from_ms + offset;
    let first = local_from.div_euclid(step) * step
        + if local_from.rem_euclid(step) == 0 {
            0
        } else {
            step
        };
    let ticks = (0..)
        .map(|i| first + i * step - offset)
        .take_while(|&t| t <= to_ms)
        .collect();
    (step, ticks)
}

/// A tick's label in the viewer's zone: `14:05` within a day, `Dec 2` for day steps.
pub fn time_label(at_ms: i64, step_ms: i64, utc_offset_min: i32) -> String {
    let local = at_ms + i64::from(utc_offset_min) * MINUTE;
    let day = local.div_euclid(DAY);
    let minute_of_day = local.rem_euclid(DAY) / MINUTE;
    if step_ms >= DAY {
        let (_, month, day_of_month) = civil_from_days(day);
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!("{} {day_of_month}", MONTHS[(month - 1) as usize])
    } else {
        format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
    }
}

/// `14:05:09` in the viewer's zone (tables; the same text on the server and in the browser for
/// the same offset).
pub fn time_of_day(at_ms: i64, utc_offset_min: i32) -> String {
    let seconds = (at_ms + i64::from(utc_offset_min) * MINUTE).rem_euclid(DAY) / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// `2026-12-02 14:05:09 UTC`: the full time, for tooltips.
pub fn utc_date_time(at_ms: i64) -> String {
    let (year, month, day) = civil_from_days(at_ms.div_euclid(DAY));
    format!("{year}-{month:02}-{day:02} {} UTC", time_of_day(at_ms, 0))
}

/// `2026-12-02 14:05:09` in the viewer's zone: the full time, for detail views.
pub fn local_date_time(at_ms: i64, utc_offset_min: i32) -> String {
    let local = at_ms + i64::from(utc_offset_min) * MINUTE;
    let (year, month, day) = civil_from_days(local.div_euclid(DAY));
    format!(
        "{year}-{month:02}-{day:02} {}",
        time_of_day(at_ms, utc_offset_min)
    )
}

/// (year, month 1-12, day 1-31) of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The time axis: linear in milliseconds, with ticks at round local times.
struct TimeAxis {
    range: Range<i64>,
    ticks: Vec<i64>,
}

impl Ranged for TimeAxis {
    // Labels always come from the chart's own formatter.
    type FormatOption = DefaultFormatting;
    type ValueType = i64;

    fn map(&self, value: &i64, limit: (i32, i32)) -> i32 {
        let span = (self.range.end - self.range.start).max(1) as f64;
        let fraction = (*value - self.range.start) as f64 / span;
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<i64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<i64> {
        self.range.clone()
    }
}

fn time_axis(frame: &Frame) -> (TimeAxis, i64) {
    let (step, ticks) = time_ticks(frame.from_ms, frame.to_ms, frame.utc_offset_min);
    (
        TimeAxis {
            range: frame.from_ms..frame.to_ms.max(frame.from_ms + 1),
            ticks,
        },
        step,
    )
}

/// A count axis from zero with head room; never empty.
fn count_top(max: f64) -> f64 {
    if max <= 0.0 { 1.0 } else { max * 1.15 }
}

/// Whole numbers with thousands separators: `12,345`.
pub fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0 { format!("-{out}") } else { out }
}

/// Axis numbers: whole numbers as such (`2`, `1,500`), fractions below ten with one decimal.
fn axis_value(value: f64) -> String {
    if value >= 10.0 || (value - value.round()).abs() < 1e-9 {
        thousands(value.round() as i64)
    } else {
        format!("{value:.1}")
    }
}

fn label_style() -> TextStyle<'static> {
    ("sans-serif", 12).into_font().color(&TEXT)
}

/// A chart being drawn: `X` across, a number up.
type Chart<'a, X> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>;

/// One line of the latency chart: which percentile, in which colour.
type Percentile = (fn(&AnalyticsBucket) -> f64, RGBColor);

/// Every chart's frame in the house style (axes, labels, the value grid), then `draw` adds the
/// series. A chart that cannot be drawn becomes an SVG comment: it must not take the page with it.
fn chart<X>(
    width: u32,
    x_axis: X,
    y_top: f64,
    y_desc: &str,
    x_format: &dyn Fn(&X::ValueType) -> String,
    y_format: &dyn Fn(&f64) -> String,
    draw: &dyn Fn(&mut Chart<'_, X>) -> Result<(), String>,
) -> String
where
    X: Ranged<FormatOption = DefaultFormatting>,
    X::ValueType: std::fmt::Debug,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width.max(160), HEIGHT)).into_drawing_area();
        let result = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(16)
            .x_label_area_size(24)
            .y_label_area_size(52)
            .build_cartesian_2d(x_axis, 0.0..y_top)
            .map_err(|e| e.to_string())
            .and_then(|mut chart| {
                chart
                    .configure_mesh()
                    .disable_x_mesh()
                    // Only the labelled lines: a grid line per minor step is noise at this size.
                    .light_line_style(TRANSPARENT)
                    .bold_line_style(GRID.mix(0.4))
                    .axis_style(GRID)
                    .x_label_style(label_style())
                    .y_label_style(label_style())
                    .x_label_formatter(x_format)
                    .y_label_formatter(y_format)
                    .y_labels(5)
                    .y_desc(y_desc)
                    .axis_desc_style(label_style())
                    .draw()
                    .map_err(|e| e.to_string())?;
                draw(&mut chart)
            });
        if let Err(error) = result {
            return format!("<!-- chart not drawn: {error} -->");
        }
        let _ = root.present();
    }
    svg
}

/// A chart of `frame`'s window: time across, ticks at round local times.
fn time_chart(
    frame: &Frame,
    y_top: f64,
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
    draw: &dyn Fn(&mut Chart<'_, TimeAxis>) -> Result<(), String>,
) -> String {
    let (axis, step) = time_axis(frame);
    let offset = frame.utc_offset_min;
    chart(
        frame.width,
        axis,
        y_top,
        y_desc,
        &|t| time_label(*t, step, offset),
        y_format,
        draw,
    )
}

/// Requests per bucket, stacked: accepted (with duplicates) below, refused above.
pub fn volume(buckets: &[AnalyticsBucket], frame: &Frame) -> String {
    let top = count_top(
        buckets
            .iter()
            .map(|b| b.requests as f64)
            .fold(0.0, f64::max),
    );
    let unit = bucket_unit(buckets);
    time_chart(
        frame,
        top,
        &format!("requests / {unit}"),
        &|v| axis_value(*v),
        &|chart| {
            let bar = |b: &AnalyticsBucket, low: i64, high: i64, color: RGBColor| {
                let inset = (b.span_ms / 10).max(1);
                Rectangle::new(
                    [
                        (b.at_ms + inset, low as f64),
                        (b.at_ms + b.span_ms - inset, high as f64),
                    ],
                    color.filled(),
                )
            };
            chart
                .draw_series(
                    buckets
                        .iter()
                        .filter(|b| b.accepted > 0)
                        .map(|b| bar(b, 0, b.accepted, ACCEPTED)),
                )
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(
                    buckets
                        .iter()
                        .filter(|b| b.rejected > 0)
                        .map(|b| bar(b, b.accepted, b.accepted + b.rejected, REFUSED)),
                )
                .map_err(|e| e.to_string())?;
            Ok(())
        },
    )
}

fn bucket_unit(buckets: &[AnalyticsBucket]) -> &'static str {
    match buckets.first().map(|b| b.span_ms) {
        Some(span) if span >= DAY => "day",
        Some(span) if span >= HOUR => "hour",
        _ => "min",
    }
}

fn middle(b: &AnalyticsBucket) -> i64 {
    b.at_ms + b.span_ms / 2
}

/// A line through `points` with a dot on each, so that a lone point still shows.
fn line_with_points(
    chart: &mut Chart<'_, TimeAxis>,
    points: impl Iterator<Item = (i64, f64)> + Clone,
    color: RGBColor,
) -> Result<(), String> {
    chart
        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(points.map(|point| Circle::new(point, 2, color.filled())))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Response time percentiles per bucket (buckets with traffic only).
pub fn latency(buckets: &[AnalyticsBucket], frame: &Frame) -> String {
    let busy: Vec<&AnalyticsBucket> = buckets.iter().filter(|b| b.requests > 0).collect();
    let top = count_top(busy.iter().map(|b| b.p99_ms).fold(0.0, f64::max));
    time_chart(frame, top, "ms", &|v| axis_value(*v), &|chart| {
        let series: [Percentile; 3] = [
            (|b| b.p50_ms, P50),
            (|b| b.p95_ms, P95),
            (|b| b.p99_ms, P99),
        ];
        for (value, color) in series {
            line_with_points(chart, busy.iter().map(|b| (middle(b), value(b))), color)?;
        }
        Ok(())
    })
}

/// Share of the authenticated requests (those that passed the token check) refused or failed,
/// per bucket (percent), against the threshold as a dashed line: the rate the threshold applies
/// to, as health and the `error_rate` alert judge it. Outsiders' refusals are not in it (the
/// overview counts them on a card of their own).
pub fn error_rate(buckets: &[AnalyticsBucket], threshold: f64, frame: &Frame) -> String {
    let busy: Vec<&AnalyticsBucket> = buckets.iter().filter(|b| b.authenticated > 0).collect();
    let percent =
        |b: &AnalyticsBucket| 100.0 * b.authenticated_failed as f64 / b.authenticated as f64;
    let threshold_pct = 100.0 * threshold;
    let top = busy
        .iter()
        .map(|b| percent(b))
        .fold(threshold_pct, f64::max)
        .clamp(1.0, 100.0)
        * 1.15;
    time_chart(
        frame,
        top.min(105.0),
        "% failed",
        &|v| format!("{}%", axis_value(*v)),
        &|chart| {
            // Dashes of 1/60 of the window, as plain segments: every SVG viewer shows them alike.
            let dash = ((frame.to_ms - frame.from_ms) / 60).max(1);
            let dashes = (0..)
                .map(|i| frame.from_ms + 2 * i * dash)
                .take_while(|&t| t < frame.to_ms)
                .map(|t| {
                    PathElement::new(
                        vec![
                            (t, threshold_pct),
                            ((t + dash).min(frame.to_ms), threshold_pct),
                        ],
                        TEXT.stroke_width(1),
                    )
                });
            chart.draw_series(dashes).map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("threshold {}%", axis_value(threshold_pct)),
                    (
                        frame.from_ms + (frame.to_ms - frame.from_ms) / 100,
                        threshold_pct,
                    ),
                    label_style().pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Left,
                        plotters::style::text_anchor::VPos::Bottom,
                    )),
                )))
                .map_err(|e| e.to_string())?;
            line_with_points(chart, busy.iter().map(|b| (middle(b), percent(b))), ERROR)
        },
    )
}

/// The platform axis: one slot per platform, labelled with its name.
struct PlatformAxis {
    names: Vec<String>,
}

impl Ranged for PlatformAxis {
    // Labels always come from the chart's own formatter.
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let slots = self.names.len().max(1) as f64;
        let fraction = (*value + 0.5) / slots;
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        (0..self.names.len()).map(|i| i as f64).collect()
    }

    fn range(&self) -> Range<f64> {
        -0.5..self.names.len().max(1) as f64 - 0.5
    }
}

/// Records stored per platform over the window, one bar each.
pub fn records_per_platform(platforms: &[PlatformView], width: u32) -> String {
    let mut rows: Vec<&PlatformView> = platforms.iter().filter(|p| p.records > 0).collect();
    rows.sort_unstable_by(|a, b| b.records.cmp(&a.records).then(a.platform.cmp(&b.platform)));
    let names: Vec<String> = rows.iter().map(|p| p.platform.clone()).collect();
    let top = count_top(rows.iter().map(|p| p.records as f64).fold(0.0, f64::max));
    let name = |x: &f64| {
        names
            .get(x.round().max(0.0) as usize)
            .cloned()
            .unwrap_or_default()
    };
    let axis = PlatformAxis {
        names: names.clone(),
    };
    chart(
        width,
        axis,
        top,
        "records",
        &name,
        &|v| axis_value(*v),
        &|chart| {
            chart
                .draw_series(rows.iter().enumerate().map(|(i, p)| {
                    let x = i as f64;
                    Rectangle::new(
                        [(x - 0.3, 0.0), (x + 0.3, p.records as f64)],
                        ACCEPTED.filled(),
                    )
                }))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(rows.iter().enumerate().map(|(i, p)| {
                    Text::new(
                        thousands(p.records),
                        (i as f64, p.records as f64),
                        label_style().pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Bottom,
                        )),
                    )
                }))
                .map_err(|e| e.to_string())?;
            Ok(())
        },
    )
}

/// The colour of an empty cell of the coverage chart (a filled one is [`ACCEPTED`]).
const UNFILLED: RGBColor = RGBColor(0xE8, 0xEE, 0xF4);

/// Each key field's coverage over a platform's recent snapshots: one row per field, one column per
/// snapshot (oldest left), the darker the more of its records had the field filled; a snapshot
/// judged drifted has its column outlined in the error colour. A field going empty is a pale gap in
/// a dark row, which a line among eight would hide.
pub fn field_coverage(history: &CoverageHistoryView, width: u32, utc_offset_min: i32) -> String {
    let (rows, cols) = (history.fields.len(), history.snapshots.len());
    let mut svg = String::new();
    if rows == 0 || cols == 0 {
        return "<!-- no judged snapshot yet -->".into();
    }
    {
        let width = width.max(200);
        let root = SVGBackend::with_string(&mut svg, (width, HEIGHT)).into_drawing_area();
        let (left, right, top, bottom) = (118_i32, 12_i32, 6_i32, 24_i32);
        let cell_w = (width as i32 - left - right) as f64 / cols as f64;
        let cell_h = (HEIGHT as i32 - top - bottom) as f64 / rows as f64;
        let x = |c: usize| left + (c as f64 * cell_w).round() as i32;
        let y = |r: usize| top + (r as f64 * cell_h).round() as i32;
        let draw = || -> Result<(), String> {
            let err = |e: DrawingAreaErrorKind<_>| e.to_string();
            for (c, point) in history.snapshots.iter().enumerate() {
                for r in 0..rows {
                    let share = point
                        .coverage
                        .get(r)
                        .copied()
                        .unwrap_or(0.0)
                        .clamp(0.0, 1.0);
                    let colour = mix(UNFILLED, ACCEPTED, share);
                    root.draw(&Rectangle::new(
                        [(x(c), y(r)), (x(c + 1) - 1, y(r + 1) - 1)],
                        colour.filled(),
                    ))
                    .map_err(err)?;
                }
                if point.verdict == "drift" {
                    root.draw(&Rectangle::new(
                        [(x(c), y(0)), (x(c + 1) - 1, y(rows) - 1)],
                        ERROR.stroke_width(2),
                    ))
                    .map_err(err)?;
                }
            }
            let right_aligned = label_style().pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Center,
            ));
            for (r, field) in history.fields.iter().enumerate() {
                let name: String = field.chars().take(16).collect();
                root.draw(&Text::new(
                    name,
                    (left - 6, (y(r) + y(r + 1)) / 2),
                    right_aligned.clone(),
                ))
                .map_err(err)?;
            }
            // The first and the last snapshot's date under their columns.
            let mut dated = vec![0];
            if cols > 1 {
                dated.push(cols - 1);
            }
            for c in dated {
                let at = history.snapshots[c].created_ms;
                let anchor = if c == 0 {
                    plotters::style::text_anchor::HPos::Left
                } else {
                    plotters::style::text_anchor::HPos::Right
                };
                let edge = if c == 0 { x(0) } else { x(cols) - 1 };
                root.draw(&Text::new(
                    local_date_time(at, utc_offset_min),
                    (edge, HEIGHT as i32 - bottom + 6),
                    label_style().pos(plotters::style::text_anchor::Pos::new(
                        anchor,
                        plotters::style::text_anchor::VPos::Top,
                    )),
                ))
                .map_err(err)?;
            }
            Ok(())
        };
        if let Err(error) = draw() {
            return format!("<!-- chart not drawn: {error} -->");
        }
        let _ = root.present();
    }
    svg
}

/// `from` blended towards `to` by `share` (0..1).
fn mix(from: RGBColor, to: RGBColor, share: f64) -> RGBColor {
    let channel =
        |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * share).round() as u8;
    RGBColor(
        channel(from.0, to.0),
        channel(from.1, to.1),
        channel(from.2, to.2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_633_600_000; // 2025-12-02T00:00:00Z

    fn bucket(minute: i64, accepted: i64, rejected: i64, p: f64) -> AnalyticsBucket {
        AnalyticsBucket {
            at_ms: T0 + minute * MINUTE,
            span_ms: MINUTE,
            requests: accepted + rejected,
            accepted,
            rejected,
            authenticated: accepted + rejected,
            authenticated_failed: rejected,
            records: accepted * 3,
            p50_ms: p,
            p95_ms: p * 2.0,
            p99_ms: p * 3.0,
        }
    }

    fn frame(minutes: i64) -> Frame {
        Frame {
            from_ms: T0,
            to_ms: T0 + minutes * MINUTE,
            width: 600,
            utc_offset_min: 0,
        }
    }

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    /// Whether the SVG has a text element reading exactly `label`.
    fn has_text(svg: &str, label: &str) -> bool {
        svg.contains(&format!(">\n{label}\n</text>"))
    }

    fn hex(color: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
    }

    #[test]
    fn ticks_fall_on_round_local_times_and_stay_few() {
        let (step, ticks) = time_ticks(T0 + 30_000, T0 + 5 * MINUTE, 0);
        assert_eq!(step, MINUTE);
        assert_eq!(ticks.first(), Some(&(T0 + MINUTE)));
        assert_eq!(ticks.len(), 5);
        let (step, ticks) = time_ticks(T0, T0 + 60 * MINUTE, 0);
        assert_eq!(step, 15 * MINUTE);
        assert_eq!(ticks.len(), 5);
        let (step, ticks) = time_ticks(T0, T0 + DAY, 0);
        assert_eq!(step, 6 * HOUR);
        assert_eq!(ticks.len(), 5);
        let (step, ticks) = time_ticks(T0, T0 + 7 * DAY, 0);
        assert_eq!(step, DAY);
        assert_eq!(ticks.len(), 8, "both ends are round days");
        // UTC+5:30: round local hours are at :30 UTC.
        let (_, ticks) = time_ticks(T0, T0 + 24 * HOUR, 330);
        assert_eq!(ticks[0].rem_euclid(HOUR), 30 * MINUTE);
    }

    #[test]
    fn labels_are_local_time_or_dates() {
        assert_eq!(time_label(T0 + 14 * HOUR + 5 * MINUTE, MINUTE, 0), "14:05");
        assert_eq!(time_label(T0 + 14 * HOUR, HOUR, 120), "16:00");
        assert_eq!(time_label(T0 + HOUR, HOUR, -120), "23:00");
        assert_eq!(time_label(T0, DAY, 0), "Dec 2");
        assert_eq!(time_label(T0 - 1, DAY, 0), "Dec 1");
        assert_eq!(
            time_of_day(T0 + 14 * HOUR + 5 * MINUTE + 9_999, 0),
            "14:05:09"
        );
        assert_eq!(time_of_day(T0, -90), "22:30:00");
        assert_eq!(utc_date_time(T0 + 1_000), "2025-12-02 00:00:01 UTC");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
    }

    #[test]
    fn volume_stacks_accepted_under_refused_with_time_and_unit_labels() {
        let buckets = [
            bucket(1, 10, 0, 5.0),
            bucket(2, 4, 6, 5.0),
            bucket(4, 0, 3, 5.0),
        ];
        let svg = volume(&buckets, &frame(5));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains(r#"height="220""#));
        // Two accepted bars, two refused bars.
        assert_eq!(
            count(&svg, &format!(r#"fill="{}""#, hex(ACCEPTED))),
            2,
            "{svg}"
        );
        assert_eq!(
            count(&svg, &format!(r#"fill="{}""#, hex(REFUSED))),
            2,
            "{svg}"
        );
        for label in [
            "00:01",
            "00:02",
            "00:03",
            "00:04",
            "00:05",
            "requests / min",
        ] {
            assert!(has_text(&svg, label), "{label} in {svg}");
        }
        // The count axis starts at zero and counts in whole numbers.
        assert!(has_text(&svg, "0"), "{svg}");
        assert!(has_text(&svg, "10") && !svg.contains(".0\n"), "{svg}");
    }

    #[test]
    fn an_empty_window_still_draws_its_axes() {
        for svg in [
            volume(&[], &frame(60)),
            latency(&[], &frame(60)),
            error_rate(&[], 0.1, &frame(60)),
            records_per_platform(&[], 600),
        ] {
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(has_text(&svg, "0") || has_text(&svg, "0%"), "{svg}");
        }
    }

    #[test]
    fn latency_draws_three_percentile_lines_over_busy_buckets_only() {
        let buckets = [
            bucket(1, 10, 0, 4.0),
            bucket(2, 0, 0, 0.0),
            bucket(3, 5, 0, 8.0),
        ];
        let svg = latency(&buckets, &frame(5));
        for color in [P50, P95, P99] {
            assert_eq!(
                count(&svg, &format!(r#"stroke="{}""#, hex(color))),
                1,
                "{svg}"
            );
        }
        // Two points per line (the empty bucket is skipped).
        assert_eq!(count(&svg, "<circle"), 6, "{svg}");
        assert!(has_text(&svg, "ms"), "{svg}");
    }

    #[test]
    fn error_rate_draws_the_threshold_and_the_rate() {
        let buckets = [bucket(1, 9, 1, 1.0), bucket(2, 5, 5, 1.0)];
        let svg = error_rate(&buckets, 0.1, &frame(5));
        assert!(has_text(&svg, "threshold 10%"), "{svg}");
        assert!(has_text(&svg, "% failed"), "{svg}");
        assert!(
            has_text(&svg, "40%"),
            "the axis reaches past the 50% bucket: {svg}"
        );
        assert_eq!(count(&svg, "<circle"), 2);
        assert!(
            count(&svg, &format!(r#"stroke="{}""#, hex(TEXT))) > 10,
            "dashes"
        );
    }

    #[test]
    fn error_rate_leaves_outsiders_refusals_out() {
        // 90 wrong-token refusals beside 10 authenticated requests of which 1 failed: the line
        // is at 10%, not at 91%.
        let mut flooded = bucket(1, 9, 91, 1.0);
        flooded.authenticated = 10;
        flooded.authenticated_failed = 1;
        // Outsiders alone: no authenticated traffic, no point.
        let mut outsiders = bucket(2, 0, 50, 1.0);
        outsiders.authenticated = 0;
        outsiders.authenticated_failed = 0;
        let svg = error_rate(&[flooded, outsiders], 0.2, &frame(5));
        assert_eq!(count(&svg, "<circle"), 1, "{svg}");
        assert!(
            !has_text(&svg, "80%"),
            "the axis stays near the threshold: {svg}"
        );
    }

    #[test]
    fn records_per_platform_has_a_labelled_bar_per_platform() {
        let platform = |name: &str, records| PlatformView {
            platform: name.into(),
            requests: 1,
            accepted: 1,
            records,
            bytes: 0,
        };
        let svg = records_per_platform(
            &[
                platform("tiktok", 4),
                platform("instagram", 12_345),
                platform("none", 0),
            ],
            600,
        );
        assert!(
            has_text(&svg, "instagram") && has_text(&svg, "tiktok"),
            "{svg}"
        );
        assert!(!has_text(&svg, "none"));
        assert!(has_text(&svg, "12,345"), "{svg}");
        assert_eq!(count(&svg, &format!(r#"fill="{}""#, hex(ACCEPTED))), 2);
    }

    #[test]
    fn field_coverage_has_a_cell_per_field_and_snapshot_and_outlines_drift() {
        use crate::types::{CoverageHistoryView, CoveragePointView};
        let point = |id: &str, verdict: &str, likes: f64| CoveragePointView {
            snapshot_id: id.into(),
            created_ms: T0,
            verdict: verdict.into(),
            coverage: vec![likes, 1.0],
        };
        let history = CoverageHistoryView {
            platform: "instagram".into(),
            fields: vec!["likes".into(), "url".into()],
            snapshots: vec![
                point("s_1", "normal", 0.75),
                point("s_2", "normal", 0.75),
                point("s_3", "drift", 0.0),
            ],
        };
        let svg = field_coverage(&history, 600, 0);
        assert!(has_text(&svg, "likes") && has_text(&svg, "url"), "{svg}");
        // Full coverage is the accepted colour, none the pale one; one outline, around the drift.
        assert_eq!(
            count(&svg, &format!(r#"fill="{}""#, hex(ACCEPTED))),
            3,
            "{svg}"
        );
        assert_eq!(
            count(&svg, &format!(r#"fill="{}""#, hex(UNFILLED))),
            1,
            "{svg}"
        );
        assert_eq!(
            count(&svg, &format!(r#"stroke="{}""#, hex(ERROR))),
            1,
            "{svg}"
        );
        assert!(
            field_coverage(
                &CoverageHistoryView {
                    snapshots: vec![],
                    ..history
                },
                600,
                0
            )
            .starts_with("<!--")
        );
    }
}
