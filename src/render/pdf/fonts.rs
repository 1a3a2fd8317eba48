//! Embedded fonts and text measurement. Layout and drawing must agree on widths to the point, so
//! both go through [`Fonts::width`] and [`Fonts::runs`], which pick the font per character the
//! same way.

use std::sync::OnceLock;

use printpdf::ParsedFont;

use super::PdfError;

/// Compiled in so a report looks the same on every host and needs no fontconfig.
const REGULAR: &[u8] = include_bytes!("../../../report-templates/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../../report-templates/fonts/DejaVuSans-Bold.ttf");
/// DejaVu has no CJK; names such as "陈伟" fall back to Droid per run of characters.
const FALLBACK: &[u8] = include_bytes!("../../../report-templates/fonts/DroidSansFallbackFull.ttf");

/// The weight the layout asks for; the concrete face is chosen per character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Regular,
    Bold,
}

/// A concrete embedded face. The order is the PDF resource order, so it must stay stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FontKey {
    Regular,
    Bold,
    Fallback,
}

impl FontKey {
    pub const ALL: [FontKey; 3] = [FontKey::Regular, FontKey::Bold, FontKey::Fallback];

    /// Fixed resource names instead of printpdf's random ids, so the same document gives the
    /// same bytes.
    pub fn resource_name(self) -> &'static str {
        match self {
            FontKey::Regular => "F1",
            FontKey::Bold => "F2",
            FontKey::Fallback => "F3",
        }
    }
}

pub struct Face {
    pub parsed: ParsedFont,
    units_per_em: f32,
    /// Advances of ASCII in em, looked up on every table cell; `None` = no glyph.
    ascii: [Option<f32>; 128],
}

impl Face {
    fn parse(bytes: &[u8], name: &'static str) -> Result<Face, PdfError> {
        let mut warnings = Vec::new();
        let mut parsed =
            ParsedFont::from_bytes(bytes, 0, &mut warnings).ok_or(PdfError::Font(name))?;
        // Becomes /BaseFont; without it readers list the fonts by resource id ("F1").
        parsed.font_name = Some(name.to_string());
        if parsed.codepoint_to_glyph.is_empty() {
            // printpdf 0.10 shipped fonts that mapped nothing and rendered blank pages.
            return Err(PdfError::Font(name));
        }
        let units_per_em = f32::from(parsed.units_per_em.max(1));
        let mut face = Face {
            parsed,
            units_per_em,
            ascii: [None; 128],
        };
        for c in 0u8..128 {
            face.ascii[usize::from(c)] = face.lookup(char::from(c));
        }
        Ok(face)
    }

    fn lookup(&self, c: char) -> Option<f32> {
        let gid = self.parsed.lookup_glyph_index(u32::from(c))?;
        if gid == 0 {
            return None;
        }
        let w = self.parsed.get_glyph_width(gid).unwrap_or(0);
        Some(f32::from(w) / self.units_per_em)
    }

    /// Advance width in em, or `None` when the face has no glyph for `c`.
    pub fn advance(&self, c: char) -> Option<f32> {
        match self.ascii.get(c as usize) {
            Some(a) => *a,
            None => self.lookup(c),
        }
    }
}

pub struct Fonts {
    regular: Face,
    bold: Face,
    fallback: Face,
}

static FONTS: OnceLock<Result<Fonts, PdfError>> = OnceLock::new();

impl Fonts {
    /// Parsed once per process: the fallback face alone has ~30k glyphs to index.
    pub fn get() -> Result<&'static Fonts, PdfError> {
        FONTS
            .get_or_init(Fonts::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn load() -> Result<Fonts, PdfError> {
        Ok(Fonts {
            regular: Face::parse(REGULAR, "DejaVuSans")?,
            bold: Face::parse(BOLD, "DejaVuSans-Bold")?,
            fallback: Face::parse(FALLBACK, "DroidSansFallbackFull")?,
        })
    }

    pub fn face(&self, key: FontKey) -> &Face {
        match key {
            FontKey::Regular => &self.regular,
            FontKey::Bold => &self.bold,
            FontKey::Fallback => &self.fallback,
        }
    }

    /// The face a character is drawn in, and its advance in em. Characters no face has are
    /// drawn (as .notdef) and measured in the primary face so they still take space.
    fn pick(&self, c: char, style: Style) -> (FontKey, f32) {
        let primary = match style {
            Style::Regular => FontKey::Regular,
            Style::Bold => FontKey::Bold,
        };
        if let Some(a) = self.face(primary).advance(c) {
            return (primary, a);
        }
        if let Some(a) = self.fallback.advance(c) {
            return (FontKey::Fallback, a);
        }
        (primary, 0.6)
    }

    /// Width of `text` in points at `size`.
    pub fn width(&self, text: &str, style: Style, size: f32) -> f32 {
        text.chars().map(|c| self.pick(c, style).1).sum::<f32>() * size
    }

    /// A copy of the face with only the glyphs for `chars` (plus .notdef), renumbered, with
    /// a Unicode cmap for exactly those characters. printpdf embeds whatever font it is given,
    /// so this is what keeps a report from carrying 5 MB of unused glyphs. `None` when the
    /// subsetter fails; the caller then embeds the whole face.
    pub fn subset(
        &self,
        key: FontKey,
        chars: &std::collections::BTreeSet<char>,
    ) -> Option<ParsedFont> {
        use allsorts::binary::read::ReadScope;
        use allsorts::font_data::FontData;
        use allsorts::subset::{subset, CmapTarget, SubsetProfile};

        let face = &self.face(key).parsed;
        let mut gids: Vec<u16> = chars
            .iter()
            .filter_map(|c| face.lookup_glyph_index(u32::from(*c)))
            .filter(|g| *g != 0)
            .collect();
        gids.sort_unstable();
        gids.dedup();
        gids.insert(0, 0);
        let scope = ReadScope::new(&face.original_bytes);
        let file = scope.read::<FontData<'_>>().ok()?;
        let provider = file.table_provider(0).ok()?;
        let bytes = subset(&provider, &gids, &SubsetProfile::Pdf, CmapTarget::Unicode).ok()?;
        let mut warnings = Vec::new();
        let mut parsed = ParsedFont::from_bytes(&bytes, 0, &mut warnings)?;
        // Every character must still map, or text would silently turn into .notdef.
        if chars.iter().any(|c| {
            face.lookup_glyph_index(u32::from(*c)).is_some()
                && parsed.lookup_glyph_index(u32::from(*c)).is_none()
        }) {
            return None;
        }
        // The six-letter tag marks a subset (ISO 32000-1, 9.6.4); fixed per face so output
        // stays deterministic.
        let tag = match key {
            FontKey::Regular => "AKKOAA",
            FontKey::Bold => "AKKOAB",
            FontKey::Fallback => "AKKOAC",
        };
        parsed.font_name = face.font_name.as_ref().map(|n| format!("{tag}+{n}"));
        Some(parsed)
    }

    /// Splits `text` into runs that share one face, each with its width at `size`.
    pub fn runs<'a>(&self, text: &'a str, style: Style, size: f32) -> Vec<(FontKey, &'a str, f32)> {
        let mut out: Vec<(FontKey, &'a str, f32)> = Vec::new();
        let mut start = 0;
        let mut current: Option<(FontKey, f32)> = None;
        for (i, c) in text.char_indices() {
            let (key, adv) = self.pick(c, style);
            match current {
                Some((k, w)) if k == key => current = Some((k, w + adv)),
                Some((k, w)) => {
                    out.push((k, &text[start..i], w * size));
                    start = i;
                    current = Some((key, adv));
                }
                None => current = Some((key, adv)),
            }
        }
        if let Some((k, w)) = current {
            out.push((k, &text[start..], w * size));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_falls_back_and_latin_stays_on_dejavu() {
        let f = Fonts::get().unwrap();
        let runs = f.runs("Zoë 陈伟 ✓", Style::Regular, 10.0);
        let keys: Vec<_> = runs.iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(
            keys,
            vec![
                (FontKey::Regular, "Zoë "),
                (FontKey::Fallback, "陈伟"),
                (FontKey::Regular, " ✓"),
            ]
        );
        let total: f32 = runs.iter().map(|r| r.2).sum();
        assert!((total - f.width("Zoë 陈伟 ✓", Style::Regular, 10.0)).abs() < 1e-3);
    }

    #[test]
    fn widths_scale_and_bold_is_wider() {
        let f = Fonts::get().unwrap();
        let w10 = f.width("Jürgen Çelik", Style::Regular, 10.0);
        let w20 = f.width("Jürgen Çelik", Style::Regular, 20.0);
        assert!(w10 > 30.0 && w10 < 90.0, "{w10}");
        assert!((w20 - 2.0 * w10).abs() < 1e-3);
        assert!(f.width("Jürgen Çelik", Style::Bold, 10.0) > w10);
        // CJK glyphs are a full em wide.
        assert!((f.width("陈伟", Style::Regular, 10.0) - 20.0).abs() < 1.0);
    }
}
