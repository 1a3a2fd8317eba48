//! Redaction of SQL literals in the Trino query log (GDPR minimisation, `privacy.redact_sql_literals`):
//! the query's shape stays readable for an auditor, the values a user typed do not.
//!
//! String literals (`'…'` with `''` escapes, also `X'…'`/`U&'…'`) and numeric literals become
//! `?`; quoted identifiers (`"…"`), identifiers containing digits (`t1`, `col_2`) and comments
//! are kept as they are.

pub fn redact_sql_literals(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                // A string literal; a prefix like X or U& has already been copied.
                i += 1;
                while i < b.len() {
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                out.push('?');
            }
            b'"' => {
                let end = sql[i + 1..].find('"').map_or(b.len(), |o| i + 1 + o + 1);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = sql[i..].find('\n').map_or(b.len(), |o| i + o);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = sql[i + 2..].find("*/").map_or(b.len(), |o| i + 2 + o + 2);
                out.push_str(&sql[i..end]);
                i = end;
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                // A number literal: digits, one dot, an exponent.
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_digit()
                        || b[i] == b'.'
                        || ((b[i] == b'e' || b[i] == b'E')
                            && b.get(i + 1)
                                .is_some_and(|n| n.is_ascii_digit() || *n == b'-' || *n == b'+')))
                {
                    if b[i] == b'e' || b[i] == b'E' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push('?');
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                // An identifier or keyword (digits inside it are not literals).
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push_str(&sql[start..i]);
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
            r("SELECT 1 -- keep 42 here\nFROM t /* and 7 */"),
            "SELECT ? -- keep 42 here\nFROM t /* and 7 */"
        );
        assert_eq!(
            r("SELECT X'0A' , date '2026-11-30', 'Jürgen'"),
            "SELECT X? , date ?, ?"
        );
        assert_eq!(r("SELECT 'unterminated"), "SELECT ?");
        assert_eq!(r(""), "");
    }
}
