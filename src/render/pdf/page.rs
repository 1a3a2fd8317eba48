//! A small display list in top-down page coordinates, and its translation to printpdf ops.
//! Layout code only ever produces [`Item`]s; the flip to PDF's bottom-up y axis, font runs and
//! graphics-state hygiene live here in one place.

use std::collections::{BTreeMap, BTreeSet};

use printpdf::{
    Color, FontId, Line, LineDashPattern, LinePoint, Op, PaintMode, PdfFontHandle, Point, Pt, Rect,
    Rgb, TextItem, TextMatrix, WindingOrder,
};

use super::fonts::{FontKey, Fonts, Style};
use super::layout::{BOTTOM, CONTENT_W, MARGIN, PAGE_H, PAGE_W};

/// An sRGB colour, 0–255 per channel (as designers specify them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb8(pub u8, pub u8, pub u8);

pub const TEXT: Rgb8 = Rgb8(0x1f, 0x29, 0x37);
pub const MUTED: Rgb8 = Rgb8(0x6b, 0x72, 0x80);
pub const RULE: Rgb8 = Rgb8(0xd1, 0xd5, 0xdb);
pub const GRID: Rgb8 = Rgb8(0xe5, 0xe7, 0xeb);
pub const HEADER_BG: Rgb8 = Rgb8(0xe8, 0xee, 0xf7);
pub const ZEBRA: Rgb8 = Rgb8(0xf7, 0xf8, 0xfa);
pub const NOTICE_BG: Rgb8 = Rgb8(0xf1, 0xf2, 0xf4);
pub const ACCENT: Rgb8 = Rgb8(0x1d, 0x4e, 0xd8);
pub const OK: Rgb8 = Rgb8(0x15, 0x80, 0x3d);
pub const WARN: Rgb8 = Rgb8(0xb4, 0x53, 0x09);
/// Series colours, distinguishable in greyscale print as well.
pub const PALETTE: [Rgb8; 6] = [
    Rgb8(0x25, 0x63, 0xeb),
    Rgb8(0xf5, 0x9e, 0x0b),
    Rgb8(0x10, 0xb9, 0x81),
    Rgb8(0xdc, 0x26, 0x26),
    Rgb8(0x7c, 0x3a, 0xed),
    Rgb8(0x0e, 0x74, 0x90),
];

pub fn series_colour(i: usize) -> Rgb8 {
    PALETTE[i % PALETTE.len()]
}

/// One drawing primitive; y grows downwards from the top edge of the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        size: f32,
        style: Style,
        colour: Rgb8,
        text: String,
    },
    /// `y` is the top edge.
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb8>,
        stroke: Option<(Rgb8, f32)>,
    },
    Line {
        points: Vec<(f32, f32)>,
        colour: Rgb8,
        width: f32,
        dashed: bool,
    },
}

impl Item {
    pub fn text(x: f32, y: f32, size: f32, style: Style, colour: Rgb8, text: &str) -> Item {
        Item::Text {
            x,
            y,
            size,
            style,
            colour,
            text: text.to_string(),
        }
    }

    pub fn fill(x: f32, y: f32, w: f32, h: f32, colour: Rgb8) -> Item {
        Item::Rect {
            x,
            y,
            w,
            h,
            fill: Some(colour),
            stroke: None,
        }
    }

    pub fn frame(x: f32, y: f32, w: f32, h: f32, colour: Rgb8, width: f32) -> Item {
        Item::Rect {
            x,
            y,
            w,
            h,
            fill: None,
            stroke: Some((colour, width)),
        }
    }

    pub fn hline(x1: f32, x2: f32, y: f32, colour: Rgb8, width: f32) -> Item {
        Item::Line {
            points: vec![(x1, y), (x2, y)],
            colour,
            width,
            dashed: false,
        }
    }

    pub fn translate(&mut self, dx: f32, dy: f32) {
        match self {
            Item::Text { x, y, .. } | Item::Rect { x, y, .. } => {
                *x += dx;
                *y += dy;
            }
            Item::Line { points, .. } => {
                for p in points {
                    p.0 += dx;
                    p.1 += dy;
                }
            }
        }
    }

    /// Horizontal extent, for tests that check nothing leaves its box.
    pub fn x_range(&self, fonts: &Fonts) -> (f32, f32) {
        match self {
            Item::Text {
                x,
                size,
                style,
                text,
                ..
            } => (*x, x + fonts.width(text, *style, *size)),
            Item::Rect { x, w, .. } => (*x, x + w),
            Item::Line { points, .. } => points
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0))),
        }
    }
}

fn colour(c: Rgb8) -> Color {
    Color::Rgb(Rgb {
        r: f32::from(c.0) / 255.0,
        g: f32::from(c.1) / 255.0,
        b: f32::from(c.2) / 255.0,
        icc_profile: None,
    })
}

fn point(x: f32, y: f32) -> LinePoint {
    LinePoint {
        p: Point {
            x: Pt(x),
            y: Pt(PAGE_H - y),
        },
        bezier: false,
    }
}

pub fn font_id(key: FontKey) -> FontId {
    FontId(key.resource_name().to_string())
}

/// Footer of every page: document title on the left, "Page X of Y" on the right.
pub fn footer(title: &str, page: usize, pages: usize, fonts: &Fonts) -> Vec<Item> {
    let y = BOTTOM + 14.0;
    let label = format!("Page {page} of {pages}");
    let w = fonts.width(&label, Style::Regular, 8.0);
    let mut title = title.to_string();
    let max = CONTENT_W - w - 20.0;
    while fonts.width(&title, Style::Regular, 8.0) > max && title.pop().is_some() {}
    vec![
        Item::hline(MARGIN, PAGE_W - MARGIN, BOTTOM + 4.0, RULE, 0.5),
        Item::text(MARGIN, y, 8.0, Style::Regular, MUTED, &title),
        Item::text(PAGE_W - MARGIN - w, y, 8.0, Style::Regular, MUTED, &label),
    ]
}

/// Converts one page's items to printpdf ops and records which characters each face drew, so
/// unused fonts are not embedded and used ones can be subset.
pub fn to_ops(
    items: &[Item],
    fonts: &Fonts,
    used: &mut BTreeMap<FontKey, BTreeSet<char>>,
) -> Vec<Op> {
    let mut ops = Vec::with_capacity(items.len() * 6);
    for item in items {
        match item {
            Item::Text {
                x,
                y,
                size,
                style,
                colour: c,
                text,
            } => {
                if text.trim().is_empty() {
                    continue;
                }
                ops.push(Op::StartTextSection);
                ops.push(Op::SetFillColor { col: colour(*c) });
                let mut pen = *x;
                for (key, run, w) in fonts.runs(text, *style, *size) {
                    used.entry(key).or_default().extend(run.chars());
                    ops.push(Op::SetFont {
                        font: PdfFontHandle::External(font_id(key)),
                        size: Pt(*size),
                    });
                    ops.push(Op::SetTextMatrix {
                        matrix: TextMatrix::Translate(Pt(pen), Pt(PAGE_H - y)),
                    });
                    ops.push(Op::ShowText {
                        items: vec![TextItem::Text(run.to_string())],
                    });
                    pen += w;
                }
                ops.push(Op::EndTextSection);
            }
            Item::Rect {
                x,
                y,
                w,
                h,
                fill,
                stroke,
            } => {
                // Fill colour is shared with text: scope it.
                ops.push(Op::SaveGraphicsState);
                let mode = match (fill, stroke) {
                    (Some(_), Some(_)) => PaintMode::FillStroke,
                    (None, Some(_)) => PaintMode::Stroke,
                    _ => PaintMode::Fill,
                };
                if let Some(f) = fill {
                    ops.push(Op::SetFillColor { col: colour(*f) });
                }
                if let Some((s, width)) = stroke {
                    ops.push(Op::SetOutlineColor { col: colour(*s) });
                    ops.push(Op::SetOutlineThickness { pt: Pt(*width) });
                }
                ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Pt(*x),
                        y: Pt(PAGE_H - y - h),
                        width: Pt(*w),
                        height: Pt(*h),
                        mode: Some(mode),
                        winding_order: Some(WindingOrder::NonZero),
                    },
                });
                ops.push(Op::RestoreGraphicsState);
            }
            Item::Line {
                points,
                colour: c,
                width,
                dashed,
            } => {
                if points.len() < 2 {
                    continue;
                }
                ops.push(Op::SaveGraphicsState);
                ops.push(Op::SetOutlineColor { col: colour(*c) });
                ops.push(Op::SetOutlineThickness { pt: Pt(*width) });
                if *dashed {
                    ops.push(Op::SetLineDashPattern {
                        dash: LineDashPattern::new(0.0, &[2.0, 2.0]),
                    });
                }
                ops.push(Op::DrawLine {
                    line: Line {
                        points: points.iter().map(|p| point(p.0, p.1)).collect(),
                        is_closed: false,
                    },
                });
                ops.push(Op::RestoreGraphicsState);
            }
        }
    }
    ops
}
