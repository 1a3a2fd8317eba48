//! Redaction of SQL literals in the Trino query log (GDPR minimisation, `privacy.redact_sql_literals`):
//! the query's shape stays readable for an auditor, the values a user typed do not.
//!
//! String literals (`'…'` with `''` escapes, with their `X`, `U&` or `B` prefix) and numeric
//! literals (decimal with exponent, `0x`/`0b`/`0o` integers, `_` digit separators) become `?`;
//! so does the text of comments, which often carries pasted values (`-- id 4711`). Quoted
//! identifiers (`"…"`) and identifiers containing digits (`t1`, `col_2`) are kept as they are.

pub fn redact_sql_literals(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                i = string_end(b, i);
                out.push('?');
            }
            b'"' => {
                let end = sql[i + 1..].find('"').map_or(b.len(), |o| i + 1 + o + 1);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                // The comment's text goes, the line break stays.
                i = sql[i..].find('\n').map_or(b.len(), |o| i + o);
                out.push_str("-- ?");
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |o| i + 2 + o + 2);
                out.push_str("/* ? */");
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                i = number_end(b, i);
                out.push('?');
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                // An identifier or keyword (digits inside it are not literals).
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &sql[start..i];
                // A prefixed string literal: X'0A' (binary), B'01', U&'\0041' (Unicode).
                let prefixed = match (word.to_ascii_uppercase().as_str(), b.get(i)) {
                    ("X" | "B", Some(b'\'')) => Some(i),
                    ("U", Some(b'&')) if b.get(i + 1) == Some(&b'\'') => Some(i + 1),
                    _ => None,
                };
                match prefixed {
                    Some(quote) => {
                        i = string_end(b, quote);
                        out.push('?');
                    }
                    None => out.push_str(word),
                }
            }
            _ => {
                let ch = sql[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// The index after the string literal whose opening quote is at `i` (`''` is an escaped quote;
/// an unterminated literal runs to the end).
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        if b[i] == b'\'' {
            if b.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// The index after the number literal starting at `i`: digits with `_` separators, one dot, an
/// exponent, or a `0x`/`0b`/`0o` integer. Letters glued to it (`10L`, `0xFFg`) go with it, so
/// no part of a typed value is left behind as an identifier.
fn number_end(b: &[u8], mut i: usize) -> usize {
    let radix = b[i] == b'0'
        && b.get(i + 1)
            .is_some_and(|x| matches!(x, b'x' | b'X' | b'b' | b'B' | b'o' | b'O'));
    if radix {
        i += 2;
    } else {
        while i < b.len() {
            match b[i] {
                b'0'..=b'9' | b'_' | b'.' => i += 1,
                b'e' | b'E'
                    if b.get(i + 1)
                        .is_some_and(|n| n.is_ascii_digit() || *n == b'-' || *n == b'+') =>
                {
                    i += 2
                }
                _ => break,
            }
        }
    }
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::redact_sql_literals as r;

    #[test]
    fn literals_go_shape_stays() {
        assert_eq!(
            r("SELECT id, amount FROM hive.sales.orders WHERE cid = 'C-1042' AND amount > 99.5 LIMIT 10"),
            "SELECT id, amount FROM hive.sales.orders WHERE cid = ? AND amount > ? LIMIT ?"
        );
        assert_eq!(
            r("SELECT * FROM t WHERE name = 'O''Brien' AND x IN (1, 2e3, .5)"),
            "SELECT * FROM t WHERE name = ? AND x IN (?, ?, ?)"
        );
        assert_eq!(
            r(r#"SELECT "col 1", t2.c3 FROM "order 2024" t2"#),
            r#"SELECT "col 1", t2.c3 FROM "order 2024" t2"#
        );
        assert_eq!(
            r("SELECT X'0A' , date '2026-11-30', 'Jürgen'"),
            "SELECT ? , date ?, ?"
        );
        assert_eq!(r("SELECT 'unterminated"), "SELECT ?");
        assert_eq!(r(""), "");
    }

    #[test]
    fn hex_binary_and_separated_numbers_go_whole() {
        assert_eq!(
            r("SELECT 0xFF, 0X1a_2B, 0b1010, 0o17, 1_000, 1_000.50, 2_5e1_0 FROM t"),
            "SELECT ?, ?, ?, ?, ?, ?, ? FROM t"
        );
        assert_eq!(
            r("WHERE k = x'DEADBEEF' OR k = X'' OR u = U&'J\\00FCrgen' OR b = B'01'"),
            "WHERE k = ? OR k = ? OR u = ? OR b = ?"
        );
        // Letters glued to a number go with it; identifiers stay.
        assert_eq!(r("LIMIT 10L"), "LIMIT ?");
        assert_eq!(
            r("SELECT x, u, b, x_1 FROM t1"),
            "SELECT x, u, b, x_1 FROM t1"
        );
        assert_eq!(r("SELECT 1.5e-3, .5"), "SELECT ?, ?");
    }

    #[test]
    fn comments_lose_their_text() {
        assert_eq!(
            r("SELECT 1 -- customer 4711, 'Jane'\nFROM t /* iban DE89 3704 */ WHERE a = 2"),
            "SELECT ? -- ?\nFROM t /* ? */ WHERE a = ?"
        );
        assert_eq!(r("SELECT 1 /* unterminated 42"), "SELECT ? /* ? */");
        assert_eq!(r("SELECT a -- last line"), "SELECT a -- ?");
        // Comment markers inside strings and quoted identifiers are not comments.
        assert_eq!(
            r(r#"SELECT '--not', "a--b", '/*x*/' FROM t"#),
            r#"SELECT ?, "a--b", ? FROM t"#
        );
    }
}
