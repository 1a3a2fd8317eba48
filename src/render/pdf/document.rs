//! The PDF's input: a document already reduced to text, tables and chart values. The content
//! builder (`render::report`) decides *what* the report says from the ledger, findings and
//! controls; the PDF renderer only decides *where* it goes on the page. Keeping the two apart
//! means layout code never formats a figure and never needs the ledger.

/// A whole report: the cover, then sections in reading order.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// PDF metadata title, e.g. "AKKO audit report — daily 2026-11-30".
    pub title: String,
    /// PDF creation/modification date as RFC 3339 (the run's `--at`), so the same inputs give
    /// the same bytes.
    pub created_at: String,
    pub cover: Cover,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, Default)]
pub struct Cover {
    /// "AKKO audit report".
    pub title: String,
    /// Lines under the title: "Window 2026-11-30T00:00:00Z — 2026-12-01T00:00:00Z (daily)", ...
    pub subtitle: Vec<String>,
    /// `COMPLETE` or `PARTIAL`, drawn large; `complete = false` draws it in the warning colour.
    pub status: String,
    pub complete: bool,
    /// Why the run is partial (one line per source or day), empty when complete.
    pub status_reasons: Vec<String>,
    /// Label/value pairs printed as a small key table: generated at, tool version, evidence
    /// digest (SHA-256), ...
    pub facts: Vec<(String, String)>,
    /// The KPI cards (the cockpit's Usage page), drawn as boxes in one row.
    pub kpis: Vec<Kpi>,
}

#[derive(Debug, Clone)]
pub struct Kpi {
    pub label: String,
    /// Already formatted; "n/a" when the source was not read in full.
    pub value: String,
    /// A short line under the value, e.g. "Trino partial" or "of 14 total".
    pub note: String,
}

/// A numbered heading with blocks under it. Level 1 starts on a new page; level 2 does not.
/// Every section appears in the table of contents (and the PDF outline / bookmarks) with the
/// page it starts on.
#[derive(Debug, Clone)]
pub struct Section {
    pub level: u8,
    pub title: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone)]
pub enum Block {
    /// Wrapped body text. Lines starting with "- " are bullet items.
    Paragraph(String),
    /// A grey note box, e.g. "Source trino partial: columns below are incomplete".
    Notice(String),
    Table(Table),
    Bars(BarChart),
    Lines(LineChart),
    /// KPI cards inside a section (same drawing as the cover's).
    Kpis(Vec<Kpi>),
}

/// A table whose rows may run over several pages; the header row repeats on every page.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
    /// Printed under the table, e.g. "Top 20 of 143 users; the full list is usage_by_user.csv".
    pub caption: Option<String>,
    /// Shown instead of an empty table: "No denials in the window".
    pub empty_text: String,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub title: String,
    /// Numbers are right-aligned.
    pub numeric: bool,
    /// Relative width (the renderer scales the weights to the text width); long cell text is
    /// wrapped, never cut, inside the column.
    pub weight: f32,
}

/// Horizontal bars, one per category, optionally stacked (one value per series).
#[derive(Debug, Clone, Default)]
pub struct BarChart {
    pub title: String,
    /// Axis label for the values, e.g. "rows scanned" or "tokens".
    pub unit: String,
    /// Names of the stacked series; one name = plain bars. A legend is drawn when > 1.
    pub series: Vec<String>,
    pub bars: Vec<Bar>,
    pub empty_text: String,
}

#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    /// One value per series (not negative), for drawing only.
    pub values: Vec<f64>,
    /// The exact figure printed at the bar's end (formatted by the builder).
    pub value_label: String,
}

/// A time series chart: shared x axis of equal buckets, one polyline per series.
#[derive(Debug, Clone, Default)]
pub struct LineChart {
    pub title: String,
    /// Y axis label, e.g. "queries per hour".
    pub unit: String,
    /// Tick labels for the x axis, one per bucket (the renderer thins them to fit), e.g. "00:00".
    pub x_labels: Vec<String>,
    pub series: Vec<Series>,
    /// Draw the series as stacked columns instead of lines (e.g. allow vs deny).
    pub stacked_columns: bool,
    pub empty_text: String,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// One value per x bucket; `None` = no data (a gap, not zero).
    pub points: Vec<Option<f64>>,
}
