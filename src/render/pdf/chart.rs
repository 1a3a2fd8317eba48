//! Charts drawn as plain vectors. Each function returns items in chart-local coordinates
//! (origin at the chart's top-left) plus the height used, so the flow can place them anywhere
//! and tests can check the geometry without a PDF.

use std::ops::Range;

use super::document::{BarChart, LineChart};
use super::fonts::{Fonts, Style};
use super::layout::{label_step, nice_ticks, segments, tick_label, wrap};
use super::page::{series_colour, Item, GRID, MUTED, RULE, TEXT};

const TITLE: f32 = 10.0;
const LABEL: f32 = 7.5;
const LINE_PLOT_H: f32 = 150.0;

/// Title line (and the unit for line charts) above every chart part.
fn title_items(title: &str, w: f32, fonts: &Fonts) -> (Vec<Item>, f32) {
    let lines = wrap(title, w, &|s| fonts.width(s, Style::Bold, TITLE));
    let mut items = Vec::new();
    let mut y = 0.0;
    for l in lines.iter().filter(|l| !l.is_empty()) {
        y += TITLE * 1.25;
        items.push(Item::text(0.0, y - 2.0, TITLE, Style::Bold, TEXT, l));
    }
    (items, y + 4.0)
}

/// Colour swatches with series names, wrapped to the width. Drawn only for several series.
pub fn legend(names: &[String], w: f32, fonts: &Fonts) -> (Vec<Item>, f32) {
    if names.len() < 2 {
        return (Vec::new(), 0.0);
    }
    let mut items = Vec::new();
    let (mut x, mut y) = (0.0, 0.0);
    let row = LABEL * 1.6;
    for (i, name) in names.iter().enumerate() {
        let tw = fonts.width(name, Style::Regular, LABEL);
        let need = 12.0 + tw + 12.0;
        if x > 0.0 && x + need > w {
            x = 0.0;
            y += row;
        }
        items.push(Item::fill(x, y + 2.0, 8.0, 8.0, series_colour(i)));
        items.push(Item::text(
            x + 12.0,
            y + 9.0,
            LABEL,
            Style::Regular,
            TEXT,
            name,
        ));
        x += need;
    }
    (items, y + row + 4.0)
}

fn empty(title: &str, text: &str, w: f32, fonts: &Fonts) -> (Vec<Item>, f32) {
    let (mut items, mut h) = title_items(title, w, fonts);
    for l in wrap(text, w, &|s| fonts.width(s, Style::Regular, 9.0)) {
        h += 12.0;
        items.push(Item::text(0.0, h - 3.0, 9.0, Style::Regular, MUTED, &l));
    }
    (items, h + 6.0)
}

/// Geometry of a horizontal bar chart shared by all of its page parts, so the axis scale
/// stays the same when the bars run over several pages.
pub struct BarLayout {
    label_w: f32,
    plot_x: f32,
    plot_w: f32,
    ticks: Vec<f64>,
    /// Wrapped category labels, one entry per bar.
    labels: Vec<Vec<String>>,
    pub row_heights: Vec<f32>,
    /// Title + legend (repeated on continuation parts) and the axis under the bars.
    pub head_h: f32,
    pub axis_h: f32,
}

pub fn bar_layout(c: &BarChart, w: f32, fonts: &Fonts) -> BarLayout {
    let max_label = c
        .bars
        .iter()
        .map(|b| fonts.width(&b.label, Style::Regular, LABEL))
        .fold(0.0, f32::max);
    let label_w = (max_label + 6.0).min(w * 0.3);
    let value_w = c
        .bars
        .iter()
        .map(|b| fonts.width(&b.value_label, Style::Regular, LABEL))
        .fold(0.0, f32::max)
        + 8.0;
    let plot_x = label_w;
    let plot_w = (w - label_w - value_w).max(w * 0.3);
    let max_total = c
        .bars
        .iter()
        .map(|b| {
            b.values
                .iter()
                .filter(|v| v.is_finite() && **v > 0.0)
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    let ticks = nice_ticks(0.0, max_total, 5);
    let labels: Vec<Vec<String>> = c
        .bars
        .iter()
        .map(|b| {
            wrap(&b.label, label_w - 6.0, &|s| {
                fonts.width(s, Style::Regular, LABEL)
            })
        })
        .collect();
    let row_heights = labels
        .iter()
        .map(|l| (l.len() as f32 * LABEL * 1.2 + 5.0).max(16.0))
        .collect();
    let (_, title_h) = title_items(&c.title, w, fonts);
    let (_, legend_h) = legend(&c.series, w, fonts);
    BarLayout {
        label_w,
        plot_x,
        plot_w,
        ticks,
        labels,
        row_heights,
        head_h: title_h + legend_h,
        axis_h: 30.0,
    }
}

/// Draws the bars in `rows` (one page's worth) with title, legend, gridlines and axis.
pub fn bar_chart(
    c: &BarChart,
    l: &BarLayout,
    rows: Range<usize>,
    w: f32,
    fonts: &Fonts,
) -> (Vec<Item>, f32) {
    if c.bars.is_empty() {
        return empty(&c.title, &c.empty_text, w, fonts);
    }
    let (mut items, title_h) = title_items(&c.title, w, fonts);
    let (leg, leg_h) = legend(&c.series, w, fonts);
    for mut it in leg {
        it.translate(0.0, title_h);
        items.push(it);
    }
    let top = title_h + leg_h;
    let rows_h: f32 = l.row_heights[rows.clone()].iter().sum();
    let bottom = top + rows_h;
    let max = l
        .ticks
        .last()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let scale = |v: f64| l.plot_x + (v / max) as f32 * l.plot_w;

    for t in &l.ticks {
        let x = scale(*t);
        items.push(Item::Line {
            points: vec![(x, top), (x, bottom)],
            colour: GRID,
            width: 0.5,
            dashed: false,
        });
        let label = tick_label(*t);
        let tw = fonts.width(&label, Style::Regular, LABEL);
        items.push(Item::text(
            x - tw / 2.0,
            bottom + 10.0,
            LABEL,
            Style::Regular,
            MUTED,
            &label,
        ));
    }
    items.push(Item::hline(
        l.plot_x,
        l.plot_x + l.plot_w,
        bottom,
        RULE,
        0.7,
    ));
    items.push(Item::Line {
        points: vec![(l.plot_x, top), (l.plot_x, bottom)],
        colour: RULE,
        width: 0.7,
        dashed: false,
    });
    let uw = fonts.width(&c.unit, Style::Regular, LABEL);
    items.push(Item::text(
        l.plot_x + (l.plot_w - uw) / 2.0,
        bottom + 21.0,
        LABEL,
        Style::Regular,
        MUTED,
        &c.unit,
    ));

    let mut y = top;
    for i in rows {
        let (bar, h) = (&c.bars[i], l.row_heights[i]);
        let lines = &l.labels[i];
        let text_h = lines.len() as f32 * LABEL * 1.2;
        let mut ly = y + (h - text_h) / 2.0 + LABEL;
        for line in lines {
            let tw = fonts.width(line, Style::Regular, LABEL);
            items.push(Item::text(
                l.label_w - 6.0 - tw,
                ly - 1.0,
                LABEL,
                Style::Regular,
                TEXT,
                line,
            ));
            ly += LABEL * 1.2;
        }
        let thick = (h - 6.0).min(10.0);
        let by = y + (h - thick) / 2.0;
        let mut acc = 0.0;
        for (s, v) in bar.values.iter().enumerate() {
            if !v.is_finite() || *v <= 0.0 {
                continue;
            }
            let (x0, x1) = (scale(acc), scale(acc + v));
            items.push(Item::fill(
                x0,
                by,
                (x1 - x0).max(0.3),
                thick,
                series_colour(s),
            ));
            acc += v;
        }
        items.push(Item::text(
            scale(acc) + 4.0,
            by + thick / 2.0 + LABEL * 0.35,
            LABEL,
            Style::Regular,
            TEXT,
            &bar.value_label,
        ));
        y += h;
    }
    (items, bottom + l.axis_h)
}

/// Time-series chart: lines with gaps for missing buckets, or stacked columns.
pub fn line_chart(c: &LineChart, w: f32, fonts: &Fonts) -> (Vec<Item>, f32) {
    let n = c
        .series
        .iter()
        .map(|s| s.points.len())
        .max()
        .unwrap_or(0)
        .max(c.x_labels.len());
    let has_data = c
        .series
        .iter()
        .any(|s| s.points.iter().any(|p| p.is_some_and(f64::is_finite)));
    if n == 0 || !has_data {
        return empty(&c.title, &c.empty_text, w, fonts);
    }
    let (mut items, title_h) = title_items(&c.title, w, fonts);
    let names: Vec<String> = c.series.iter().map(|s| s.name.clone()).collect();
    let (leg, leg_h) = legend(&names, w, fonts);
    for mut it in leg {
        it.translate(0.0, title_h);
        items.push(it);
    }
    // The y unit sits above the axis: horizontal text stays readable and extractable.
    let unit_y = title_h + leg_h + LABEL;
    items.push(Item::text(
        0.0,
        unit_y,
        LABEL,
        Style::Regular,
        MUTED,
        &c.unit,
    ));
    let top = unit_y + 8.0;
    let bottom = top + LINE_PLOT_H;

    let (lo, hi) = if c.stacked_columns {
        let max = (0..n)
            .map(|i| {
                c.series
                    .iter()
                    .filter_map(|s| s.points.get(i).copied().flatten())
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        (0.0, max)
    } else {
        c.series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| *p).filter(|v| v.is_finite()))
            .fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)))
    };
    let ticks = nice_ticks(lo, hi, 5);
    let (t0, t1) = (ticks[0], ticks.last().copied().unwrap_or(1.0));
    let span = if t1 > t0 { t1 - t0 } else { 1.0 };
    let tick_labels: Vec<String> = ticks.iter().map(|t| tick_label(*t)).collect();
    let axis_w = tick_labels
        .iter()
        .map(|t| fonts.width(t, Style::Regular, LABEL))
        .fold(0.0, f32::max)
        + 6.0;
    let px = axis_w;
    let pw = w - px - 4.0;
    let yv = |v: f64| bottom - ((v - t0) / span) as f32 * LINE_PLOT_H;

    for (t, label) in ticks.iter().zip(&tick_labels) {
        let y = yv(*t);
        items.push(Item::hline(px, px + pw, y, GRID, 0.5));
        let tw = fonts.width(label, Style::Regular, LABEL);
        items.push(Item::text(
            px - 4.0 - tw,
            y + LABEL * 0.35,
            LABEL,
            Style::Regular,
            MUTED,
            label,
        ));
    }
    items.push(Item::Line {
        points: vec![(px, top), (px, bottom)],
        colour: RULE,
        width: 0.7,
        dashed: false,
    });
    items.push(Item::hline(px, px + pw, yv(0.0f64.max(t0)), RULE, 0.7));

    let slot = pw / n as f32;
    let xc = |i: usize| px + (i as f32 + 0.5) * slot;
    if c.stacked_columns {
        let bw = (slot * 0.7).max(0.5);
        for i in 0..n {
            let mut acc = 0.0;
            for (s, series) in c.series.iter().enumerate() {
                let Some(v) = series.points.get(i).copied().flatten() else {
                    continue;
                };
                if !v.is_finite() || v <= 0.0 {
                    continue;
                }
                let (ya, yb) = (yv(acc), yv(acc + v));
                items.push(Item::fill(
                    xc(i) - bw / 2.0,
                    yb,
                    bw,
                    (ya - yb).max(0.3),
                    series_colour(s),
                ));
                acc += v;
            }
        }
    } else {
        for (s, series) in c.series.iter().enumerate() {
            for seg in segments(&series.points) {
                if seg.len() == 1 {
                    let (i, v) = seg[0];
                    items.push(Item::fill(
                        xc(i) - 1.5,
                        yv(v) - 1.5,
                        3.0,
                        3.0,
                        series_colour(s),
                    ));
                } else {
                    items.push(Item::Line {
                        points: seg.iter().map(|(i, v)| (xc(*i), yv(*v))).collect(),
                        colour: series_colour(s),
                        width: 1.4,
                        dashed: false,
                    });
                }
            }
        }
    }

    let label_w = c
        .x_labels
        .iter()
        .map(|l| fonts.width(l, Style::Regular, LABEL))
        .fold(0.0, f32::max);
    let step = label_step(n, slot, label_w);
    for (i, label) in c.x_labels.iter().enumerate().step_by(step) {
        let tw = fonts.width(label, Style::Regular, LABEL);
        let x = (xc(i) - tw / 2.0).clamp(0.0, w - tw);
        items.push(Item::text(
            x,
            bottom + 10.0,
            LABEL,
            Style::Regular,
            MUTED,
            label,
        ));
        items.push(Item::Line {
            points: vec![(xc(i), bottom), (xc(i), bottom + 2.5)],
            colour: RULE,
            width: 0.5,
            dashed: false,
        });
    }
    (items, bottom + 20.0)
}

#[cfg(test)]
mod tests {
    use super::super::document::{Bar, Series};
    use super::*;

    fn lines_of(items: &[Item]) -> Vec<&Vec<(f32, f32)>> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Line { points, width, .. } if *width > 1.0 => Some(points),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn line_chart_breaks_at_missing_points_and_stays_in_width() {
        let fonts = Fonts::get().unwrap();
        let mut points: Vec<Option<f64>> = (0..24).map(|i| Some(f64::from(i * 37 % 100))).collect();
        points[10] = None;
        points[11] = None;
        let chart = LineChart {
            title: "Queries per hour".into(),
            unit: "queries".into(),
            x_labels: (0..24).map(|h| format!("{h:02}:00")).collect(),
            series: vec![Series {
                name: "trino".into(),
                points,
            }],
            stacked_columns: false,
            empty_text: "none".into(),
        };
        let (items, h) = line_chart(&chart, 400.0, fonts);
        assert!(h > 150.0);
        let polylines = lines_of(&items);
        assert_eq!(polylines.len(), 2, "one gap splits the line in two");
        assert_eq!(polylines[0].len(), 10);
        assert_eq!(polylines[1].len(), 12);
        for it in &items {
            let (a, b) = it.x_range(fonts);
            assert!(a >= -0.01 && b <= 400.01, "{it:?} leaves the chart");
        }
        // 24 labels "00:00" do not fit at 400 pt; some are thinned out.
        let labels = items
            .iter()
            .filter(|i| matches!(i, Item::Text { text, .. } if text.ends_with(":00")))
            .count();
        assert!((6..24).contains(&labels), "{labels}");
    }

    #[test]
    fn stacked_bars_have_one_segment_per_value_and_a_legend() {
        let fonts = Fonts::get().unwrap();
        let chart = BarChart {
            title: "Tokens by user".into(),
            unit: "tokens".into(),
            series: vec!["prompt".into(), "completion".into()],
            bars: (0..5)
                .map(|i| Bar {
                    label: format!("user{i}"),
                    values: vec![100.0 * f64::from(i + 1), 50.0],
                    value_label: format!("{}", 100 * (i + 1) + 50),
                })
                .collect(),
            empty_text: String::new(),
        };
        let l = bar_layout(&chart, 480.0, fonts);
        let (items, h) = bar_chart(&chart, &l, 0..5, 480.0, fonts);
        assert!(h > l.head_h + 5.0 * 16.0);
        let swatches = items
            .iter()
            .filter(|i| matches!(i, Item::Rect { w, h, .. } if *w == 8.0 && *h == 8.0))
            .count();
        assert_eq!(swatches, 2, "legend");
        let segments = items
            .iter()
            .filter(|i| matches!(i, Item::Rect { h, .. } if *h == 10.0))
            .count();
        assert_eq!(segments, 10);
        for it in &items {
            let (a, b) = it.x_range(fonts);
            assert!(a >= -0.01 && b <= 480.01, "{it:?} leaves the chart");
        }
    }

    #[test]
    fn empty_charts_print_their_empty_text() {
        let fonts = Fonts::get().unwrap();
        let chart = LineChart {
            title: "t".into(),
            empty_text: "No data in the window".into(),
            series: vec![Series {
                name: "a".into(),
                points: vec![None, None],
            }],
            ..LineChart::default()
        };
        let (items, _) = line_chart(&chart, 300.0, fonts);
        assert!(items
            .iter()
            .any(|i| matches!(i, Item::Text { text, .. } if text == "No data in the window")));
    }
}
