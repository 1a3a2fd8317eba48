//! The cursor that flows blocks down pages: it decides page breaks, keeps headings with what
//! follows, repeats table headers and splits long charts. Drawing primitives come from
//! `page`, geometry rules from `layout`.

use super::chart;
use super::document::{Block, Cover, Kpi, Section, Table};
use super::fonts::{Fonts, Style};
use super::layout::{column_widths, split_rows, wrap, BOTTOM, CONTENT_W, MARGIN, TOP};
use super::page::{Item, ACCENT, HEADER_BG, MUTED, NOTICE_BG, OK, RULE, TEXT, WARN, ZEBRA};

const BODY: f32 = 9.5;
const LEADING: f32 = BODY * 1.35;
const CELL: f32 = 8.0;
const CELL_LEADING: f32 = CELL * 1.25;
const CELL_PAD_X: f32 = 4.0;
const CELL_PAD_Y: f32 = 3.0;
/// A heading is never left alone at the bottom of a page: this much must fit under it.
const KEEP_WITH_NEXT: f32 = 60.0;

pub struct Flow<'f> {
    fonts: &'f Fonts,
    pub pages: Vec<Vec<Item>>,
    y: f32,
}

impl<'f> Flow<'f> {
    pub fn new(fonts: &'f Fonts) -> Flow<'f> {
        Flow {
            fonts,
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    /// 0-based index of the page the cursor is on.
    pub fn page(&self) -> usize {
        self.pages.len() - 1
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    fn at_top(&self) -> bool {
        self.y <= TOP + 0.01
    }

    fn remaining(&self) -> f32 {
        BOTTOM - self.y
    }

    /// Breaks the page unless `h` fits (or the page is still empty, where breaking would not
    /// help).
    fn ensure(&mut self, h: f32) {
        if h > self.remaining() && !self.at_top() {
            self.new_page();
        }
    }

    fn push(&mut self, item: Item) {
        if let Some(p) = self.pages.last_mut() {
            p.push(item);
        }
    }

    /// Places a block of items drawn at the origin below the cursor.
    pub fn place(&mut self, items: Vec<Item>, h: f32) {
        self.ensure(h);
        let y = self.y;
        for mut it in items {
            it.translate(MARGIN, y);
            self.push(it);
        }
        self.y += h;
    }

    pub fn gap(&mut self, h: f32) {
        self.y = (self.y + h).min(BOTTOM);
    }

    fn width(&self, s: &str, style: Style, size: f32) -> f32 {
        self.fonts.width(s, style, size)
    }

    fn wrap(&self, s: &str, max: f32, style: Style, size: f32) -> Vec<String> {
        wrap(s, max, &|t| self.fonts.width(t, style, size))
    }

    /// Wrapped lines at the cursor, breaking pages between lines.
    fn lines(
        &mut self,
        text: &str,
        x: f32,
        w: f32,
        style: Style,
        size: f32,
        colour: super::page::Rgb8,
    ) {
        let leading = size * 1.35;
        for l in self.wrap(text, w, style, size) {
            self.ensure(leading);
            self.y += leading;
            let y = self.y - leading * 0.28;
            self.push(Item::text(x, y, size, style, colour, &l));
        }
    }

    /// Section heading; returns the page it landed on, for the table of contents.
    pub fn heading(&mut self, level: u8, number: &str, title: &str) -> usize {
        if level <= 1 && !self.at_top() {
            self.new_page();
        }
        let size = if level <= 1 { 16.0 } else { 12.0 };
        let text = if number.is_empty() {
            title.to_string()
        } else {
            format!("{number}  {title}")
        };
        let lines = self.wrap(&text, CONTENT_W, Style::Bold, size);
        let h = lines.len() as f32 * size * 1.3 + 8.0;
        self.ensure(h + KEEP_WITH_NEXT);
        if !self.at_top() {
            self.gap(6.0);
        }
        let page = self.page();
        for l in lines {
            self.y += size * 1.3;
            let y = self.y - size * 0.3;
            self.push(Item::text(MARGIN, y, size, Style::Bold, TEXT, &l));
        }
        if level <= 1 {
            self.push(Item::hline(
                MARGIN,
                MARGIN + CONTENT_W,
                self.y + 3.0,
                ACCENT,
                1.0,
            ));
        }
        self.gap(8.0);
        page
    }

    pub fn section(&mut self, s: &Section, number: &str) -> usize {
        let page = self.heading(s.level, number, &s.title);
        for b in &s.blocks {
            self.block(b);
        }
        page
    }

    pub fn block(&mut self, b: &Block) {
        match b {
            Block::Paragraph(t) => self.paragraph(t),
            Block::Notice(t) => self.notice(t),
            Block::Table(t) => self.table(t),
            Block::Bars(c) => self.bars(c),
            Block::Lines(c) => {
                let (items, h) = chart::line_chart(c, CONTENT_W, self.fonts);
                self.place(items, h);
                self.gap(10.0);
            }
            Block::Kpis(k) => {
                self.kpis(k);
                self.gap(10.0);
            }
        }
    }

    /// Body text; lines starting with "- " become bullet items with a hanging indent.
    pub fn paragraph(&mut self, text: &str) {
        for line in text.split('\n') {
            if let Some(item) = line.strip_prefix("- ") {
                // The bullet sits next to the first line, so that line must not move pages.
                self.ensure(LEADING);
                let (page, y) = (self.page(), self.y);
                self.lines(
                    item,
                    MARGIN + 12.0,
                    CONTENT_W - 12.0,
                    Style::Regular,
                    BODY,
                    TEXT,
                );
                let bullet = Item::text(
                    MARGIN + 2.0,
                    y + LEADING * 0.72,
                    BODY,
                    Style::Regular,
                    TEXT,
                    "•",
                );
                if let Some(p) = self.pages.get_mut(page) {
                    p.push(bullet);
                }
            } else if line.trim().is_empty() {
                self.gap(LEADING / 2.0);
            } else {
                self.lines(line, MARGIN, CONTENT_W, Style::Regular, BODY, TEXT);
            }
        }
        self.gap(6.0);
    }

    /// Grey box with an accent bar; split over pages line by line if it is very long.
    pub fn notice(&mut self, text: &str) {
        let pad = 6.0;
        let inner = CONTENT_W - 2.0 * pad - 4.0;
        let lines = self.wrap(text, inner, Style::Regular, BODY);
        let mut rest: &[String] = &lines;
        let total = rest.len() as f32 * LEADING + 2.0 * pad;
        self.ensure(total.min(LEADING * 3.0 + 2.0 * pad));
        while !rest.is_empty() {
            let fit = (((self.remaining() - 2.0 * pad) / LEADING).floor().max(1.0)) as usize;
            let (now, later) = rest.split_at(fit.min(rest.len()));
            let h = now.len() as f32 * LEADING + 2.0 * pad;
            let top = self.y;
            self.push(Item::fill(MARGIN, top, CONTENT_W, h, NOTICE_BG));
            self.push(Item::fill(MARGIN, top, 3.0, h, MUTED));
            let mut y = top + pad;
            for l in now {
                y += LEADING;
                self.push(Item::text(
                    MARGIN + pad + 4.0,
                    y - LEADING * 0.28,
                    BODY,
                    Style::Regular,
                    TEXT,
                    l,
                ));
            }
            self.y = top + h;
            rest = later;
            if !rest.is_empty() {
                self.new_page();
            }
        }
        self.gap(10.0);
    }

    pub fn table(&mut self, t: &Table) {
        if t.columns.is_empty() || t.rows.is_empty() {
            let text = if t.empty_text.is_empty() {
                "No rows."
            } else {
                &t.empty_text
            };
            self.lines(text, MARGIN, CONTENT_W, Style::Regular, BODY, MUTED);
            self.gap(10.0);
            return;
        }
        let widths = column_widths(
            &t.columns.iter().map(|c| c.weight).collect::<Vec<_>>(),
            CONTENT_W,
        );
        let cell = |text: &str, w: f32, style: Style| -> Vec<String> {
            wrap(text, w - 2.0 * CELL_PAD_X, &|s| {
                self.fonts.width(s, style, CELL)
            })
        };
        let height = |cells: &[Vec<String>]| {
            cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * CELL_LEADING
                + 2.0 * CELL_PAD_Y
        };
        let header: Vec<Vec<String>> = t
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| cell(&c.title, *w, Style::Bold))
            .collect();
        let header_h = height(&header);
        let rows: Vec<Vec<Vec<String>>> = t
            .rows
            .iter()
            .map(|r| {
                widths
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        cell(
                            r.get(i).map(String::as_str).unwrap_or(""),
                            *w,
                            Style::Regular,
                        )
                    })
                    .collect()
            })
            .collect();
        let heights: Vec<f32> = rows.iter().map(|r| height(r)).collect();
        let chunks = split_rows(&heights, header_h, self.remaining(), BOTTOM - TOP);
        let last = chunks.len().saturating_sub(1);
        for (ci, chunk) in chunks.into_iter().enumerate() {
            if chunk.is_empty() {
                self.new_page();
                continue;
            }
            self.table_row(&header, &widths, t, header_h, Some(HEADER_BG), Style::Bold);
            for i in chunk {
                let bg = (i % 2 == 1).then_some(ZEBRA);
                self.table_row(&rows[i], &widths, t, heights[i], bg, Style::Regular);
            }
            self.push(Item::hline(MARGIN, MARGIN + CONTENT_W, self.y, RULE, 0.7));
            if ci < last {
                self.new_page();
            }
        }
        if let Some(c) = &t.caption {
            self.gap(2.0);
            self.lines(c, MARGIN, CONTENT_W, Style::Regular, 8.0, MUTED);
        }
        self.gap(10.0);
    }

    fn table_row(
        &mut self,
        cells: &[Vec<String>],
        widths: &[f32],
        t: &Table,
        h: f32,
        bg: Option<super::page::Rgb8>,
        style: Style,
    ) {
        let top = self.y;
        if let Some(bg) = bg {
            self.push(Item::fill(MARGIN, top, CONTENT_W, h, bg));
        }
        let mut x = MARGIN;
        for ((lines, w), col) in cells.iter().zip(widths).zip(&t.columns) {
            let mut y = top + CELL_PAD_Y;
            for l in lines {
                y += CELL_LEADING;
                let tx = if col.numeric {
                    x + w - CELL_PAD_X - self.width(l, style, CELL)
                } else {
                    x + CELL_PAD_X
                };
                self.push(Item::text(
                    tx,
                    y - CELL_LEADING * 0.25,
                    CELL,
                    style,
                    TEXT,
                    l,
                ));
            }
            x += w;
        }
        self.y = top + h;
    }

    fn bars(&mut self, c: &super::document::BarChart) {
        let l = chart::bar_layout(c, CONTENT_W, self.fonts);
        if c.bars.is_empty() {
            let (items, h) = chart::bar_chart(c, &l, 0..0, CONTENT_W, self.fonts);
            self.place(items, h);
            self.gap(10.0);
            return;
        }
        let chunks = split_rows(
            &l.row_heights,
            l.head_h + l.axis_h,
            self.remaining(),
            BOTTOM - TOP,
        );
        for chunk in chunks {
            if chunk.is_empty() {
                self.new_page();
                continue;
            }
            let (items, h) = chart::bar_chart(c, &l, chunk, CONTENT_W, self.fonts);
            self.place(items, h);
        }
        self.gap(10.0);
    }

    /// KPI cards, up to six to a row, all cards of a row the same height.
    pub fn kpis(&mut self, kpis: &[Kpi]) {
        const GAP: f32 = 8.0;
        const PAD: f32 = 7.0;
        for row in kpis.chunks(6) {
            let n = row.len() as f32;
            let w = (CONTENT_W - GAP * (n - 1.0)) / n;
            let inner = w - 2.0 * PAD;
            let cards: Vec<(Vec<String>, f32, Vec<String>)> = row
                .iter()
                .map(|k| {
                    let label = self.wrap(&k.label, inner, Style::Regular, 7.5);
                    // The value is the point of the card: shrink it rather than wrap it.
                    let mut size: f32 = 18.0;
                    while size > 8.0 && self.width(&k.value, Style::Bold, size) > inner {
                        size -= 1.0;
                    }
                    let note = self.wrap(&k.note, inner, Style::Regular, 7.0);
                    (label, size, note)
                })
                .collect();
            let h = cards
                .iter()
                .map(|(l, _, n)| l.len() as f32 * 9.5 + 18.0 * 1.3 + n.len() as f32 * 9.0)
                .fold(0.0, f32::max)
                + 2.0 * PAD;
            self.ensure(h);
            let top = self.y;
            for (i, (k, (label, size, note))) in row.iter().zip(cards).enumerate() {
                let x = MARGIN + i as f32 * (w + GAP);
                self.push(Item::Rect {
                    x,
                    y: top,
                    w,
                    h,
                    fill: Some(ZEBRA),
                    stroke: Some((RULE, 0.7)),
                });
                let mut y = top + PAD;
                for l in &label {
                    y += 9.5;
                    self.push(Item::text(x + PAD, y - 2.0, 7.5, Style::Regular, MUTED, l));
                }
                y += 18.0 * 1.3;
                self.push(Item::text(
                    x + PAD,
                    y - 5.0,
                    size,
                    Style::Bold,
                    TEXT,
                    &k.value,
                ));
                for l in &note {
                    y += 9.0;
                    self.push(Item::text(x + PAD, y - 2.0, 7.0, Style::Regular, MUTED, l));
                }
            }
            self.y = top + h + GAP;
        }
    }

    /// Cover: title, subtitle, status box with reasons, facts, KPI cards.
    pub fn cover(&mut self, c: &Cover) {
        self.gap(40.0);
        self.lines(&c.title, MARGIN, CONTENT_W, Style::Bold, 24.0, TEXT);
        self.gap(4.0);
        for s in &c.subtitle {
            self.lines(s, MARGIN, CONTENT_W, Style::Regular, 10.0, MUTED);
        }
        self.gap(18.0);

        let colour = if c.complete { OK } else { WARN };
        let pad = 10.0;
        let reasons: Vec<Vec<String>> = c
            .status_reasons
            .iter()
            .map(|r| self.wrap(r, CONTENT_W - 2.0 * pad - 12.0, Style::Regular, BODY))
            .collect();
        let reason_lines: usize = reasons.iter().map(Vec::len).sum();
        let h = 2.0 * pad
            + 30.0
            + reason_lines as f32 * LEADING
            + if reason_lines > 0 { 4.0 } else { 0.0 };
        self.ensure(h);
        let top = self.y;
        self.push(Item::Rect {
            x: MARGIN,
            y: top,
            w: CONTENT_W,
            h,
            fill: None,
            stroke: Some((colour, 1.5)),
        });
        self.push(Item::fill(MARGIN, top, 5.0, h, colour));
        self.push(Item::text(
            MARGIN + pad + 2.0,
            top + pad + 24.0,
            28.0,
            Style::Bold,
            colour,
            &c.status,
        ));
        let mut y = top + pad + 34.0;
        for r in &reasons {
            for (i, l) in r.iter().enumerate() {
                y += LEADING;
                if i == 0 {
                    self.push(Item::text(
                        MARGIN + pad + 2.0,
                        y - 3.0,
                        BODY,
                        Style::Regular,
                        TEXT,
                        "•",
                    ));
                }
                self.push(Item::text(
                    MARGIN + pad + 14.0,
                    y - 3.0,
                    BODY,
                    Style::Regular,
                    TEXT,
                    l,
                ));
            }
        }
        self.y = top + h;
        self.gap(18.0);

        if !c.facts.is_empty() {
            let kw = CONTENT_W * 0.28;
            for (k, v) in &c.facts {
                let kl = self.wrap(k, kw - 8.0, Style::Bold, 8.5);
                let vl = self.wrap(v, CONTENT_W - kw - 8.0, Style::Regular, 8.5);
                let h = kl.len().max(vl.len()) as f32 * 11.0 + 6.0;
                self.ensure(h);
                let top = self.y;
                for (i, l) in kl.iter().enumerate() {
                    self.push(Item::text(
                        MARGIN,
                        top + 3.0 + (i as f32 + 1.0) * 11.0 - 2.5,
                        8.5,
                        Style::Bold,
                        MUTED,
                        l,
                    ));
                }
                for (i, l) in vl.iter().enumerate() {
                    self.push(Item::text(
                        MARGIN + kw,
                        top + 3.0 + (i as f32 + 1.0) * 11.0 - 2.5,
                        8.5,
                        Style::Regular,
                        TEXT,
                        l,
                    ));
                }
                self.y = top + h;
                self.push(Item::hline(MARGIN, MARGIN + CONTENT_W, self.y, RULE, 0.4));
            }
            self.gap(18.0);
        }
        if !c.kpis.is_empty() {
            self.kpis(&c.kpis);
        }
    }
}
