//! The table of contents. Its page numbers are only known after the body is laid out, and the
//! body's page numbers depend on how many pages the contents take: the contents are laid out
//! once with placeholder numbers to count their pages (the number column has a fixed width, so
//! real numbers cannot change the line breaks), then again with the real ones.

use super::flow::Flow;
use super::fonts::{Fonts, Style};
use super::layout::{wrap, CONTENT_W};
use super::page::{Item, GRID, TEXT};

pub struct Entry {
    pub level: u8,
    pub number: String,
    pub title: String,
    /// 1-based page number in the final document.
    pub page: usize,
}

const NUMBER_COL: f32 = 40.0;

pub fn contents(entries: &[Entry], fonts: &Fonts) -> Vec<Vec<Item>> {
    let mut flow = Flow::new(fonts);
    flow.heading(1, "", "Contents");
    if entries.is_empty() {
        flow.paragraph("This report has no sections.");
    }
    for e in entries {
        let (indent, style, size) = if e.level <= 1 {
            (0.0, Style::Bold, 10.0)
        } else {
            (16.0, Style::Regular, 9.5)
        };
        let num_w = 28.0 + indent;
        let text_w = CONTENT_W - num_w - NUMBER_COL;
        let lines = wrap(&e.title, text_w, &|s| fonts.width(s, style, size));
        let leading = size * 1.5;
        let page = e.page.to_string();
        let mut items = vec![Item::text(
            indent,
            leading * 0.75,
            size,
            style,
            TEXT,
            &e.number,
        )];
        let mut y = 0.0;
        let mut end_x = num_w;
        for l in &lines {
            y += leading;
            items.push(Item::text(num_w, y - leading * 0.25, size, style, TEXT, l));
            end_x = num_w + fonts.width(l, style, size);
        }
        let pw = fonts.width(&page, style, size);
        let base = y - leading * 0.25;
        items.push(Item::text(CONTENT_W - pw, base, size, style, TEXT, &page));
        // Dotted leader from the title to its page number.
        if CONTENT_W - pw - 6.0 > end_x + 6.0 {
            items.push(Item::Line {
                points: vec![(end_x + 4.0, base), (CONTENT_W - pw - 4.0, base)],
                colour: GRID,
                width: 0.8,
                dashed: true,
            });
        }
        let gap = if e.level <= 1 { 3.0 } else { 0.0 };
        flow.place(items, y + gap);
    }
    flow.pages
}
