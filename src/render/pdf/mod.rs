//! The PDF report: a layout engine over the fixed [`document::Document`] model. Pages are laid
//! out as a display list first (`flow`, `chart`, `toc`), then translated to printpdf ops
//! (`page`), so every layout rule is testable without parsing a PDF.
//!
//! The output is deterministic (same document, same bytes) because the evidence bundle is
//! hashed and signed: printpdf's random resource ids, bookmark ids and trailer `/ID` are all
//! replaced with values derived from the content.

pub mod chart;
pub mod document;
pub mod flow;
pub mod fonts;
pub mod layout;
pub mod page;
pub mod toc;

use std::collections::BTreeMap;

use printpdf::{
    Mm, OffsetDateTime, PageAnnotId, PageAnnotation, PdfDocument, PdfFont, PdfPage, PdfSaveOptions,
};
use sha2::{Digest, Sha256};

use document::Document;
use flow::Flow;
use fonts::Fonts;
use layout::section_numbers;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PdfError {
    #[error("embedded font {0} could not be parsed")]
    Font(&'static str),
    #[error("document created_at {0:?} is not an RFC 3339 timestamp")]
    CreatedAt(String),
    #[error("writing the PDF failed: {0}")]
    Write(String),
}

/// Stands in for the trailer `/ID` until the bytes it is derived from exist; same length as
/// the real value so no offset in the cross-reference table moves.
const ID_PLACEHOLDER: [u8; 16] = [0xA5; 16];

/// Renders the document to PDF bytes.
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::get()?;
    let created = chrono::DateTime::parse_from_rfc3339(&doc.created_at)
        .map_err(|_| PdfError::CreatedAt(doc.created_at.clone()))
        .and_then(|t| {
            OffsetDateTime::from_unix_timestamp(t.timestamp())
                .map_err(|_| PdfError::CreatedAt(doc.created_at.clone()))
        })?;

    let pages = layout_pages(doc, fonts);
    let total = pages.pages.len();

    let mut used = BTreeMap::new();
    let pdf_pages: Vec<PdfPage> = pages
        .pages
        .iter()
        .enumerate()
        .map(|(i, items)| {
            let mut items = items.clone();
            items.extend(page::footer(&doc.title, i + 1, total, fonts));
            PdfPage::new(Mm(210.0), Mm(297.0), page::to_ops(&items, fonts, &mut used))
        })
        .collect();

    let mut pdf = PdfDocument::new(&doc.title);
    let info = &mut pdf.metadata.info;
    info.creation_date = created;
    info.modification_date = created;
    info.metadata_date = created;
    info.producer = format!("akko-audit {}", env!("CARGO_PKG_VERSION"));
    info.creator = "akko-audit".to_string();
    for (key, chars) in used {
        let parsed = fonts
            .subset(key, &chars)
            .unwrap_or_else(|| fonts.face(key).parsed.clone());
        pdf.resources
            .fonts
            .map
            .insert(page::font_id(key), PdfFont::new(parsed));
    }
    for (i, e) in pages.toc.iter().enumerate() {
        pdf.bookmarks.map.insert(
            PageAnnotId(format!("B{i:06}")),
            PageAnnotation {
                name: format!("{} {}", e.number, e.title),
                page: e.page,
            },
        );
    }
    pdf.with_pages(pdf_pages);

    let mut warnings = Vec::new();
    let mut lo = pdf.to_lopdf_document(&PdfSaveOptions::default(), &mut warnings);
    let placeholder =
        || lopdf::Object::String(ID_PLACEHOLDER.to_vec(), lopdf::StringFormat::Hexadecimal);
    lo.trailer.set(
        "ID",
        lopdf::Object::Array(vec![placeholder(), placeholder()]),
    );
    clean_info(&mut lo);
    lo.compress();
    let mut out = Vec::new();
    lo.save_to(&mut out)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    set_document_id(&mut out);
    Ok(out)
}

/// printpdf writes a `/GTS_PDFXVersion` even for plain PDFs, which makes readers report the
/// file as PDF/X (it is not), plus empty Author/Subject/Keywords entries.
fn clean_info(lo: &mut lopdf::Document) {
    let Ok(info) = lo.trailer.get(b"Info").and_then(|o| o.as_reference()) else {
        return;
    };
    if let Ok(dict) = lo.get_object_mut(info).and_then(|o| o.as_dict_mut()) {
        dict.remove(b"GTS_PDFXVersion");
        for key in [&b"Author"[..], b"Subject", b"Keywords", b"Identifier"] {
            let empty = match dict.get(key) {
                Ok(lopdf::Object::String(s, _)) => s.is_empty() || s == b"\xfe\xff",
                _ => false,
            };
            if empty {
                dict.remove(key);
            }
        }
    }
}

/// Replaces the placeholder trailer `/ID` with the first 16 bytes of the SHA-256 of the file,
/// so identical documents share an id and different ones do not.
fn set_document_id(out: &mut [u8]) {
    let needle = hex::encode_upper(ID_PLACEHOLDER);
    let id = hex::encode_upper(&Sha256::digest(&*out)[..16]);
    let mut from = out.len().saturating_sub(4096);
    while let Some(pos) = find(&out[from..], needle.as_bytes()) {
        let at = from + pos;
        out[at..at + needle.len()].copy_from_slice(id.as_bytes());
        from = at + needle.len();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

struct Laid {
    pages: Vec<Vec<page::Item>>,
    toc: Vec<toc::Entry>,
}

/// Cover, contents, body; the contents are laid out twice (see `toc`).
fn layout_pages(doc: &Document, fonts: &Fonts) -> Laid {
    let mut cover = Flow::new(fonts);
    cover.cover(&doc.cover);

    let levels: Vec<u8> = doc.sections.iter().map(|s| s.level).collect();
    let numbers = section_numbers(&levels);
    let mut body = Flow::new(fonts);
    let starts: Vec<usize> = doc
        .sections
        .iter()
        .zip(&numbers)
        .map(|(s, n)| body.section(s, n))
        .collect();

    let mut entries: Vec<toc::Entry> = doc
        .sections
        .iter()
        .zip(&numbers)
        .map(|(s, n)| toc::Entry {
            level: s.level,
            number: n.clone(),
            title: s.title.clone(),
            page: 0,
        })
        .collect();
    let toc_pages = toc::contents(&entries, fonts).len();
    let offset = cover.pages.len() + toc_pages;
    for (e, start) in entries.iter_mut().zip(&starts) {
        e.page = offset + start + 1;
    }
    let contents = toc::contents(&entries, fonts);

    let mut pages = cover.pages;
    pages.extend(contents);
    pages.extend(body.pages);
    Laid {
        pages,
        toc: entries,
    }
}

#[cfg(test)]
mod tests {
    use super::document::*;
    use super::*;

    fn sample() -> Document {
        Document {
            title: "AKKO audit report — daily 2026-11-30".into(),
            created_at: "2026-12-01T00:05:00Z".into(),
            cover: Cover {
                title: "AKKO audit report".into(),
                status: "COMPLETE".into(),
                complete: true,
                ..Cover::default()
            },
            sections: vec![Section {
                level: 1,
                title: "Users".into(),
                blocks: vec![Block::Table(Table {
                    columns: vec![Column {
                        title: "User".into(),
                        numeric: false,
                        weight: 1.0,
                    }],
                    rows: vec![vec!["陈伟".into()], vec!["Zoë".into()]],
                    caption: None,
                    empty_text: String::new(),
                })],
            }],
        }
    }

    #[test]
    fn same_document_same_bytes() {
        let a = render(&sample()).unwrap();
        let b = render(&sample()).unwrap();
        assert!(a.starts_with(b"%PDF-"));
        assert_eq!(a, b);
        let tail = String::from_utf8_lossy(&a[a.len() - 600..]).to_string();
        assert!(!tail.contains(&hex::encode_upper(ID_PLACEHOLDER)), "{tail}");
        let mut other = sample();
        other.title.push('!');
        assert_ne!(render(&other).unwrap(), a);
    }

    #[test]
    fn bad_created_at_is_an_error() {
        let mut d = sample();
        d.created_at = "yesterday".into();
        assert!(matches!(render(&d), Err(PdfError::CreatedAt(_))));
    }

    #[test]
    fn level_one_sections_start_new_pages_and_toc_points_at_them() {
        let mut d = sample();
        d.sections.push(Section {
            level: 2,
            title: "Sub".into(),
            blocks: vec![Block::Paragraph("text".into())],
        });
        d.sections.push(Section {
            level: 1,
            title: "Second".into(),
            blocks: vec![],
        });
        let fonts = Fonts::get().unwrap();
        let laid = layout_pages(&d, fonts);
        let pages: Vec<usize> = laid.toc.iter().map(|e| e.page).collect();
        // cover 1, contents 2, "1 Users" + "1.1 Sub" on 3, "2 Second" on 4.
        assert_eq!(pages, vec![3, 3, 4]);
        assert_eq!(laid.pages.len(), 4);
        let numbers: Vec<&str> = laid.toc.iter().map(|e| e.number.as_str()).collect();
        assert_eq!(numbers, vec!["1", "1.1", "2"]);
    }
}
