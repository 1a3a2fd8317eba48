//! Exact parsing of the value shapes the upstreams print: decimal numbers (no float rounding on
//! figures that end up on an invoice), instants, and the three Trino duration dialects.

use chrono::{DateTime, NaiveDateTime};

/// Parses a decimal number (`12`, `-0.5`, `25.975000000`, `1e-05`, `5.36870912e+09`) into an
/// integer count of `10^-scale` units, rounding half away from zero. Exact for any input whose
/// digits fit in an i128: no binary floating point is involved.
pub fn decimal_units(s: &str, scale: u32) -> Option<i128> {
    let s = s.trim();
    let (neg, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = digits * 10^(exp - frac_len); we want value * 10^scale.
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let shift = exp + scale as i32 - frac_part.len() as i32;
    let mut n: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    if shift >= 0 {
        for _ in 0..shift {
            n = n.checked_mul(10)?;
        }
    } else {
        let drop = (-shift) as u32;
        if drop > 38 {
            n = 0;
        } else {
            let div = 10i128.checked_pow(drop)?;
            let (q, r) = (n / div, n % div);
            n = if r * 2 >= div { q + 1 } else { q };
        }
    }
    Some(if neg { -n } else { n })
}

/// Nanoseconds since the epoch from a JSON number of epoch seconds (`1764497702.117000000`).
pub fn epoch_seconds_ns(text: &str) -> Option<i64> {
    i64::try_from(decimal_units(text, 9)?).ok()
}

/// Nanoseconds since the epoch from RFC 3339 (any offset, any fraction length).
/// Start of the UTC hour holding `ns`: the bucket of the report's hourly charts.
pub fn hour_of(ns: i64) -> i64 {
    const HOUR: i64 = 3_600_000_000_000;
    ns - ns.rem_euclid(HOUR)
}

pub fn rfc3339_ns(s: &str) -> Option<i64> {
    utc_z_ns(s).or_else(|| {
        DateTime::parse_from_rfc3339(s.trim())
            .ok()?
            .timestamp_nanos_opt()
    })
}

/// The form every upstream here prints in UTC, `2026-11-30T10:17:33.429117305Z`, parsed without
/// the general parser (it runs once per log line); anything else returns `None`.
fn utc_z_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > month_days[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 59
    {
        return None;
    }
    let mut frac_ns = 0i64;
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        frac_ns = num(i..i + digits)? * 10i64.pow(9 - digits as u32);
        i += digits;
    }
    if i + 1 != b.len() || b[i] != b'Z' {
        return None;
    }
    // Days from civil (H. Hinnant), proleptic Gregorian.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// JupyterHub prints `isoformat() + "Z"` on an aware datetime: `...+00:00Z`. Accept that,
/// plain RFC 3339, and a naive time (read as UTC).
pub fn jupyter_ns(s: &str) -> Option<i64> {
    let s = s.trim();
    let fixed = s
        .strip_suffix("+00:00Z")
        .map(|base| format!("{base}+00:00"));
    rfc3339_ns(fixed.as_deref().unwrap_or(s)).or_else(|| naive_utc_ns(s))
}

/// A timestamp without zone read as UTC: PostgreSQL `TIMESTAMP(3)` text (`2026-11-30 10:20:11.4`)
/// or `T`-separated.
pub fn naive_utc_ns(s: &str) -> Option<i64> {
    let s = s.trim();
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .and_then(|t| t.and_utc().timestamp_nanos_opt())
}

/// A Trino duration in nanoseconds: a JSON number of seconds (`3.412000000`), ISO-8601
/// (`PT3.412S`, `PT1M2.5S`, `PT2H`), or airlift units (`1.50s`, `250ms`, `3.2m`).
pub fn duration_ns(text: &str) -> Option<i64> {
    let t = text.trim().trim_matches('"').trim();
    if t.is_empty() {
        return None;
    }
    if t.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-')
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
    {
        return i64::try_from(decimal_units(t, 9)?).ok();
    }
    if let Some(rest) = t.strip_prefix("PT").or_else(|| t.strip_prefix("pt")) {
        return iso_duration_ns(rest);
    }
    airlift_duration_ns(t)
}

fn iso_duration_ns(mut rest: &str) -> Option<i64> {
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let end = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let (num, unit) = (&rest[..end], &rest[end..end + 1]);
        let ns = decimal_units(num, 9)?;
        total += match unit {
            "H" | "h" => ns * 3600,
            "M" | "m" => ns * 60,
            "S" | "s" => ns,
            _ => return None,
        };
        rest = &rest[end + 1..];
    }
    i64::try_from(total).ok()
}

fn airlift_duration_ns(t: &str) -> Option<i64> {
    let split = t.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = t.split_at(split);
    let ns = decimal_units(num, 9)?;
    let per_unit_ns: i128 = match unit {
        "ns" => return i64::try_from(decimal_units(num, 0)?).ok(),
        "us" => return i64::try_from(decimal_units(num, 3)?).ok(),
        "ms" => return i64::try_from(decimal_units(num, 6)?).ok(),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    i64::try_from(ns * per_unit_ns).ok()
}

/// A counter's increase over a run of samples, without extrapolation: the sum of increases
/// between consecutive samples, a decrease being a reset that adds the new value.
#[derive(Debug, Default, Clone)]
pub struct CounterIncrease {
    last: Option<(i64, i128)>,
    pub increase: i128,
}

impl CounterIncrease {
    /// Adds the next sample; a sample not after the previous one is refused.
    pub fn add(&mut self, ts_ms: i64, v: i128) -> Result<(), &'static str> {
        if let Some((t, prev)) = self.last {
            if ts_ms <= t {
                return Err("sample out of time order");
            }
            self.increase += if v >= prev { v - prev } else { v };
        }
        self.last = Some((ts_ms, v));
        Ok(())
    }
}

/// Formats `units` of `10^-scale` with exactly `places` decimals, rounding half away from zero.
pub fn format_fixed(units: i128, scale: u32, places: u32) -> String {
    let mut v = units;
    if places < scale {
        let div = 10i128.pow(scale - places);
        let (q, r) = (v / div, v % div);
        v = if r.abs() * 2 >= div {
            q + r.signum()
        } else {
            q
        };
    } else {
        v *= 10i128.pow(places - scale);
    }
    let neg = v < 0;
    let v = v.abs();
    let p = 10i128.pow(places);
    let s = if places == 0 {
        format!("{v}")
    } else {
        format!("{}.{:0width$}", v / p, v % p, width = places as usize)
    };
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal_units("0.00231", 12), Some(2_310_000_000));
        assert_eq!(decimal_units("1e-05", 12), Some(10_000_000));
        assert_eq!(decimal_units("5.36870912e+09", 0), Some(5_368_709_120));
        assert_eq!(decimal_units("25.975000000", 9), Some(25_975_000_000));
        assert_eq!(decimal_units("-0.5", 0), Some(-1));
        assert_eq!(decimal_units("0.0000005", 6), Some(1));
        assert_eq!(decimal_units(".5", 1), Some(5));
        assert_eq!(decimal_units("abc", 3), None);
        assert_eq!(decimal_units("", 3), None);
        assert_eq!(decimal_units("1.2.3", 3), None);
    }

    #[test]
    fn instants_in_every_dialect() {
        let midnight = 1_764_460_800_000_000_000i64; // 2025-11-30T00:00:00Z
        assert_eq!(epoch_seconds_ns("1764460800"), Some(midnight));
        assert_eq!(
            epoch_seconds_ns("1764460799.999000000"),
            Some(midnight - 1_000_000)
        );
        assert_eq!(rfc3339_ns("2025-11-30T00:00:00Z"), Some(midnight));
        assert_eq!(
            rfc3339_ns("2025-11-30T01:00:00.000000001+01:00"),
            Some(midnight + 1)
        );
        assert_eq!(
            jupyter_ns("2025-11-30T00:00:00.000001+00:00Z"),
            Some(midnight + 1000)
        );
        assert_eq!(
            naive_utc_ns("2025-11-30 00:00:00.4"),
            Some(midnight + 400_000_000)
        );
        assert_eq!(naive_utc_ns("2025-11-30 00:00:00"), Some(midnight));
        assert_eq!(naive_utc_ns("30/11/2025"), None);
    }

    #[test]
    fn the_fast_utc_path_agrees_with_chrono() {
        let slow = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_nanos_opt()
                .unwrap()
        };
        for s in [
            "2026-11-30T10:17:33.429117305Z",
            "2026-11-30T00:00:00Z",
            "2028-02-29T23:59:59.999Z",
            "2000-03-01T00:00:00.5Z",
            "1970-01-01T00:00:00Z",
            "2100-12-31T12:34:56.000001Z",
            "2024-01-31T01:02:03.1234Z",
        ] {
            assert_eq!(utc_z_ns(s), Some(slow(s)), "{s}");
        }
        for s in [
            "2027-02-29T00:00:00Z",
            "2026-11-30T10:17:33+01:00",
            "2026-11-30 10:17:33Z",
            "2026-11-30T24:00:00Z",
            "2026-11-30T10:17:33.Z",
        ] {
            assert_eq!(utc_z_ns(s), None, "{s}");
        }
        // Other forms still parse, through chrono.
        assert_eq!(
            rfc3339_ns("2026-11-30T11:17:33+01:00"),
            rfc3339_ns("2026-11-30T10:17:33Z")
        );
    }

    #[test]
    fn trino_durations_in_every_dialect() {
        assert_eq!(duration_ns("3.412000000"), Some(3_412_000_000));
        assert_eq!(duration_ns("\"PT3.412S\""), Some(3_412_000_000));
        assert_eq!(duration_ns("PT1M2.5S"), Some(62_500_000_000));
        assert_eq!(duration_ns("PT2H"), Some(7_200_000_000_000));
        assert_eq!(duration_ns("PT0S"), Some(0));
        assert_eq!(duration_ns("1.50s"), Some(1_500_000_000));
        assert_eq!(duration_ns("250ms"), Some(250_000_000));
        assert_eq!(duration_ns("12.5us"), Some(12_500));
        assert_eq!(duration_ns("3.20m"), Some(192_000_000_000));
        assert_eq!(duration_ns("0"), Some(0));
        assert_eq!(duration_ns("soon"), None);
        assert_eq!(duration_ns("PT3X"), None);
    }

    #[test]
    fn fixed_formatting_rounds_half_up() {
        assert_eq!(format_fixed(3_412_000_000, 9, 3), "3.412");
        assert_eq!(format_fixed(1_500_000, 9, 3), "0.002");
        assert_eq!(format_fixed(1_499_999, 9, 3), "0.001");
        assert_eq!(format_fixed(2_310_000_000, 12, 6), "0.002310");
        assert_eq!(format_fixed(0, 12, 6), "0.000000");
        assert_eq!(format_fixed(-5, 1, 0), "-1");
        assert_eq!(format_fixed(7, 0, 3), "7.000");
    }
}
