//! Pure page geometry: wrapping, column widths, row pagination, axis ticks. Nothing here knows
//! about fonts or printpdf (widths come in through a closure), so every rule can be unit-tested
//! with made-up measurements.

use std::ops::Range;

/// Points per millimetre.
pub const MM: f32 = 72.0 / 25.4;
pub const PAGE_W: f32 = 210.0 * MM;
pub const PAGE_H: f32 = 297.0 * MM;
pub const MARGIN: f32 = 18.0 * MM;
pub const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Space kept free at the bottom for the footer line and "Page X of Y".
pub const FOOTER_H: f32 = 8.0 * MM;
/// First usable y (from the top of the page) and the last one.
pub const TOP: f32 = MARGIN;
pub const BOTTOM: f32 = PAGE_H - MARGIN - FOOTER_H;

/// Breaks `text` into lines no wider than `max` as measured by `measure`. Newlines are hard
/// breaks; words wider than a line (digests, URLs, CJK without spaces) are split between
/// characters rather than cut, because a compliance report must never lose text.
pub fn wrap(text: &str, max: f32, measure: &dyn Fn(&str) -> f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if measure(&candidate) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if measure(word) <= max {
                line = word.to_string();
                continue;
            }
            // The word alone is too wide: fill lines character by character.
            for c in word.chars() {
                line.push(c);
                if measure(&line) > max && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// Scales relative column weights to `total`; a zero or negative weight counts as 1 so a
/// column can never vanish.
pub fn column_widths(weights: &[f32], total: f32) -> Vec<f32> {
    let w: Vec<f32> = weights
        .iter()
        .map(|&w| if w.is_finite() && w > 0.0 { w } else { 1.0 })
        .collect();
    let sum: f32 = w.iter().sum();
    if sum <= 0.0 {
        return Vec::new();
    }
    w.iter().map(|x| x / sum * total).collect()
}

/// Splits table rows into page-sized chunks. Every chunk is drawn under its own copy of the
/// header, so each must fit `header + rows`; the first chunk has `first` points available, the
/// others `full`. A row taller than a whole page still gets a chunk of its own (it overflows
/// rather than looping forever). The first chunk may be empty: the table then starts on the
/// next page.
pub fn split_rows(heights: &[f32], header: f32, first: f32, full: f32) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut avail = first - header;
    let mut used = 0.0;
    for (i, &h) in heights.iter().enumerate() {
        if used + h > avail && (i > start || avail < full - header) {
            chunks.push(start..i);
            start = i;
            avail = full - header;
            used = 0.0;
        }
        used += h;
    }
    chunks.push(start..heights.len());
    chunks
}

/// "Nice" axis ticks from 0 (or below, for negative data) covering `max`, with about
/// `target` intervals at a 1/2/2.5/5 × 10^n step, so labels read as round numbers.
pub fn nice_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    let lo = min.min(0.0);
    let hi = if max.is_finite() && max > lo {
        max
    } else {
        lo + 1.0
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    let mut i = 0;
    loop {
        let t = first + step * i as f64;
        ticks.push(t);
        if t >= hi - step * 1e-9 || i > 100 {
            break;
        }
        i += 1;
    }
    ticks
}

/// Formats a tick value compactly (1.2k, 3M) so axis labels stay narrow.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!("{s}{suffix}")
}

/// Every how many x labels one is printed so that labels `label_w` wide (plus a gap) fit in
/// `n` slots of `slot_w` each.
pub fn label_step(n: usize, slot_w: f32, label_w: f32) -> usize {
    if n == 0 || slot_w <= 0.0 {
        return 1;
    }
    let need = label_w + 4.0;
    ((need / slot_w).ceil() as usize).clamp(1, n)
}

/// Runs of consecutive present points: `None` is missing data and must show as a gap, not as
/// a drop to zero.
pub fn segments(points: &[Option<f64>]) -> Vec<Vec<(usize, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for (i, p) in points.iter().enumerate() {
        match p {
            Some(v) if v.is_finite() => cur.push((i, *v)),
            _ => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// "1", "1.1", "1.2", "2", ... for section levels in reading order. A level-2 section before
/// any level-1 one is numbered under an implicit "0".
pub fn section_numbers(levels: &[u8]) -> Vec<String> {
    let mut counters: Vec<usize> = Vec::new();
    levels
        .iter()
        .map(|&level| {
            let depth = usize::from(level.max(1));
            counters.resize(depth, 0);
            if let Some(last) = counters.last_mut() {
                *last += 1;
            }
            counters
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mono(s: &str) -> f32 {
        s.chars().count() as f32 * 5.0
    }

    #[test]
    fn wrap_never_exceeds_width_and_keeps_every_character() {
        let text = "The evidence digest is 3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7 and it wraps \
                    across lines without losing a single character.\nSecond paragraph.";
        for max in [20.0, 50.0, 100.0, 333.0] {
            let lines = wrap(text, max, &mono);
            for l in &lines {
                assert!(mono(l) <= max, "{l:?} wider than {max}");
            }
            let joined: String = lines
                .concat()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let orig: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(joined, orig);
        }
        assert_eq!(wrap("", 100.0, &mono), vec![String::new()]);
        assert_eq!(wrap("a\nb", 100.0, &mono), vec!["a", "b"]);
    }

    #[test]
    fn column_widths_sum_to_total() {
        let w = column_widths(&[3.0, 1.0, 0.0, 1.0], 600.0);
        assert_eq!(w.len(), 4);
        assert!((w.iter().sum::<f32>() - 600.0).abs() < 1e-3);
        assert!((w[0] - 300.0).abs() < 1e-3 && (w[2] - 100.0).abs() < 1e-3);
    }

    #[test]
    fn three_hundred_rows_split_into_pages_that_each_fit_under_a_header() {
        let heights = vec![12.0; 300];
        let full = BOTTOM - TOP;
        let chunks = split_rows(&heights, 16.0, full / 2.0, full);
        let per_page = ((full - 16.0) / 12.0).floor() as usize;
        let first = ((full / 2.0 - 16.0) / 12.0).floor() as usize;
        assert_eq!(chunks[0], 0..first);
        assert_eq!(chunks.len(), 1 + (300 - first).div_ceil(per_page));
        let mut next = 0;
        for c in &chunks {
            assert_eq!(c.start, next, "chunks are contiguous");
            assert!(!c.is_empty());
            assert!(16.0 + heights[c.clone()].iter().sum::<f32>() <= full + 1e-3);
            next = c.end;
        }
        assert_eq!(next, 300);
    }

    #[test]
    fn table_that_cannot_start_here_moves_to_the_next_page() {
        let chunks = split_rows(&[30.0, 30.0], 16.0, 20.0, 500.0);
        assert_eq!(chunks, vec![0..0, 0..2]);
        // A giant row on a fresh page gets a page of its own instead of looping.
        let chunks = split_rows(&[900.0, 10.0], 16.0, 500.0, 500.0);
        assert_eq!(chunks, vec![0..1, 1..2]);
    }

    #[test]
    fn nice_ticks_for_0_to_1234() {
        assert_eq!(
            nice_ticks(0.0, 1234.0, 5),
            vec![0.0, 250.0, 500.0, 750.0, 1000.0, 1250.0]
        );
        assert_eq!(
            nice_ticks(0.0, 0.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = nice_ticks(0.0, 7.0, 4);
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        let t = nice_ticks(-3.0, 9.0, 4);
        assert!(t[0] <= -3.0 && *t.last().unwrap() >= 9.0);
        assert_eq!(tick_label(1250.0), "1250");
        assert_eq!(tick_label(25000.0), "25k");
        assert_eq!(tick_label(2_500_000.0), "2.5M");
        assert_eq!(tick_label(0.6000000000000001), "0.6");
    }

    #[test]
    fn none_points_are_gaps() {
        let s = segments(&[
            Some(1.0),
            Some(2.0),
            None,
            None,
            Some(3.0),
            None,
            Some(4.0),
            Some(5.0),
        ]);
        assert_eq!(
            s,
            vec![
                vec![(0, 1.0), (1, 2.0)],
                vec![(4, 3.0)],
                vec![(6, 4.0), (7, 5.0)]
            ]
        );
        assert!(segments(&[None, None]).is_empty());
    }

    #[test]
    fn x_labels_thin_to_fit() {
        assert_eq!(label_step(24, 20.0, 25.0), 2);
        assert_eq!(label_step(24, 40.0, 25.0), 1);
        assert_eq!(label_step(365, 1.2, 40.0), 37);
    }

    #[test]
    fn sections_are_numbered_by_level() {
        assert_eq!(
            section_numbers(&[1, 2, 2, 1, 1, 2]),
            vec!["1", "1.1", "1.2", "2", "3", "3.1"]
        );
    }
}
