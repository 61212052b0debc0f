//! Timestamps: a strptime-style format interpreter with Fluent Bit's `%L` (fractional seconds),
//! a fast RFC 3339 reader and writer, and `--since/--until` values.
//!
//! Hand-written rather than `time`/`chrono` parsing: those crates' format descriptions are not
//! strptime, and Fluent Bit parsers are written in strptime; the interpreter also runs per log
//! line, so it must not allocate. All times are nanoseconds since the Unix epoch, UTC.

use std::fmt;

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The UTC year of a timestamp (default year for formats without one, e.g. klog and syslog).
pub fn year_of(ns: i64) -> i64 {
    civil_from_days(ns.div_euclid(NANOS_PER_SEC * 86400)).0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Broken-down time collected while a format is matched.
#[derive(Debug, Clone, Copy)]
struct Tm {
    year: Option<i64>,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    pm: Option<bool>,
    offset_secs: i64,
    epoch: Option<i64>,
}

impl Tm {
    fn to_nanos(self, default_year: i64) -> Option<i64> {
        if let Some(e) = self.epoch {
            return e.checked_mul(NANOS_PER_SEC).map(|n| n + self.nanos as i64);
        }
        let year = self.year.unwrap_or(default_year);
        if !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(year, self.month)
        {
            return None;
        }
        let mut hour = self.hour;
        if let Some(pm) = self.pm {
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour = (hour % 12) + if pm { 12 } else { 0 };
        }
        // 60 allows a leap second as strptime does.
        if hour > 23 || self.minute > 59 || self.second > 60 {
            return None;
        }
        let days = days_from_civil(year, self.month, self.day);
        let secs = days * 86400 + hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
            - self.offset_secs;
        Some(secs * NANOS_PER_SEC + self.nanos as i64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Lit(u8),
    /// Whitespace in the format matches any run of whitespace, including none (strptime).
    Space,
    Year4,
    Year2,
    Month,
    Day,
    Hour24,
    Hour12,
    Minute,
    Second,
    /// `%L` (Fluent Bit) and `%f`: digits of a fraction of a second, any count (beyond 9 ignored).
    Frac,
    /// `%z`: `Z`, `+HH`, `+HHMM`, `+HH:MM`.
    Zone,
    /// `%Z`: a zone name; only UTC-like names are meaningful, others are taken as UTC.
    ZoneName,
    MonthName,
    WeekdayName,
    AmPm,
    Epoch,
}

/// A compiled strptime-style format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormat {
    items: Vec<Item>,
    source: String,
}

/// A directive the interpreter does not know, with its byte index in the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormatError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for TimeFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Directives accepted, for hints.
pub const SUPPORTED_DIRECTIVES: &str =
    "%Y %y %m %d %e %H %I %M %S %L %f %z %Z %b %h %B %a %A %p %s %T %F %D %R %n %t %%";

impl TimeFormat {
    pub fn compile(fmt: &str) -> Result<TimeFormat, TimeFormatError> {
        let b = fmt.as_bytes();
        let mut items = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'%' {
                let Some(&d) = b.get(i + 1) else {
                    return Err(TimeFormatError {
                        at: i,
                        message: "time_format ends with a lone `%`".into(),
                    });
                };
                // glibc flags/widths (`%-d`, `%3N`) are not strptime; reject clearly.
                let expand: &[Item] = match d {
                    b'Y' => &[Item::Year4],
                    b'y' => &[Item::Year2],
                    b'm' => &[Item::Month],
                    b'd' | b'e' => &[Item::Day],
                    b'H' | b'k' => &[Item::Hour24],
                    b'I' | b'l' => &[Item::Hour12],
                    b'M' => &[Item::Minute],
                    b'S' => &[Item::Second],
                    b'L' | b'f' => &[Item::Frac],
                    b'z' => &[Item::Zone],
                    b'Z' => &[Item::ZoneName],
                    b'b' | b'h' | b'B' => &[Item::MonthName],
                    b'a' | b'A' => &[Item::WeekdayName],
                    b'p' => &[Item::AmPm],
                    b's' => &[Item::Epoch],
                    b'T' => &[
                        Item::Hour24,
                        Item::Lit(b':'),
                        Item::Minute,
                        Item::Lit(b':'),
                        Item::Second,
                    ],
                    b'F' => &[
                        Item::Year4,
                        Item::Lit(b'-'),
                        Item::Month,
                        Item::Lit(b'-'),
                        Item::Day,
                    ],
                    b'D' => &[
                        Item::Month,
                        Item::Lit(b'/'),
                        Item::Day,
                        Item::Lit(b'/'),
                        Item::Year2,
                    ],
                    b'R' => &[Item::Hour24, Item::Lit(b':'), Item::Minute],
                    b'n' | b't' => &[Item::Space],
                    b'%' => &[Item::Lit(b'%')],
                    _ => {
                        let shown = fmt[i..].chars().take(2).collect::<String>();
                        return Err(TimeFormatError {
                            at: i,
                            message: format!(
                                "unsupported time_format directive `{shown}` at character {}",
                                fmt[..i].chars().count() + 1
                            ),
                        });
                    }
                };
                items.extend_from_slice(expand);
                i += 2;
            } else if c.is_ascii_whitespace() {
                if items.last() != Some(&Item::Space) {
                    items.push(Item::Space);
                }
                i += 1;
            } else {
                items.push(Item::Lit(c));
                i += 1;
            }
        }
        if items.is_empty() {
            return Err(TimeFormatError {
                at: 0,
                message: "time_format is empty".into(),
            });
        }
        Ok(TimeFormat {
            items,
            source: fmt.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether a parsed time is absolute (has a zone or is an epoch); without one the text is
    /// in some unknown local zone and is read as UTC.
    /// A literal `Z` at the end (`%S.%LZ`) names UTC too.
    pub fn has_zone(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, Item::Zone | Item::ZoneName | Item::Epoch))
            || self.items.last() == Some(&Item::Lit(b'Z'))
    }

    /// Parses `s` completely (trailing whitespace allowed), `default_year` when the format
    /// has no year.
    pub fn parse(&self, s: &[u8], default_year: i64) -> Option<i64> {
        let mut tm = Tm {
            year: None,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
            pm: None,
            offset_secs: 0,
            epoch: None,
        };
        let mut p = 0usize;
        let mut skip_frac = false;
        for (idx, item) in self.items.iter().enumerate() {
            if skip_frac {
                skip_frac = false;
                continue;
            }
            match *item {
                Item::Lit(c) => {
                    if s.get(p) != Some(&c) {
                        // Go's RFC3339Nano (containerd, CRI files) drops a zero fraction
                        // entirely: `.%L` may be absent.
                        if c == b'.' && self.items.get(idx + 1) == Some(&Item::Frac) {
                            skip_frac = true;
                            continue;
                        }
                        return None;
                    }
                    p += 1;
                }
                Item::Space => {
                    while s.get(p).is_some_and(|c| c.is_ascii_whitespace()) {
                        p += 1;
                    }
                }
                Item::Year4 => {
                    let (v, n) = digits(&s[p..], 1, 4)?;
                    tm.year = Some(v as i64);
                    p += n;
                }
                Item::Year2 => {
                    let (v, n) = digits(&s[p..], 1, 2)?;
                    // POSIX: 69-99 are 1900s, 00-68 are 2000s.
                    tm.year = Some(if v >= 69 { 1900 + v } else { 2000 + v } as i64);
                    p += n;
                }
                Item::Month => (tm.month, p) = num2(s, p)?,
                Item::Day => {
                    if s.get(p) == Some(&b' ') {
                        p += 1;
                    }
                    (tm.day, p) = num2(s, p)?
                }
                Item::Hour24 | Item::Hour12 => {
                    (tm.hour, p) = num2(s, p)?;
                }
                Item::Minute => (tm.minute, p) = num2(s, p)?,
                Item::Second => (tm.second, p) = num2(s, p)?,
                Item::Frac => {
                    let start = p;
                    let mut v: u32 = 0;
                    while let Some(c) = s.get(p).filter(|c| c.is_ascii_digit()) {
                        if p - start < 9 {
                            v = v * 10 + (c - b'0') as u32;
                        }
                        p += 1;
                    }
                    let n = p - start;
                    if n == 0 {
                        return None;
                    }
                    tm.nanos = v * 10u32.pow(9 - n.min(9) as u32);
                }
                Item::Zone => {
                    let (off, n) = zone(&s[p..])?;
                    tm.offset_secs = off;
                    p += n;
                }
                Item::ZoneName => {
                    let n = s[p..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphabetic())
                        .count();
                    if n == 0 {
                        return None;
                    }
                    p += n;
                }
                Item::MonthName => {
                    let (m, n) = month_name(&s[p..])?;
                    tm.month = m;
                    p += n;
                }
                Item::WeekdayName => {
                    let n = s[p..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphabetic())
                        .count();
                    if n < 3 {
                        return None;
                    }
                    p += n;
                }
                Item::AmPm => {
                    let w = s.get(p..p + 2)?;
                    tm.pm = Some(if w.eq_ignore_ascii_case(b"pm") {
                        true
                    } else if w.eq_ignore_ascii_case(b"am") {
                        false
                    } else {
                        return None;
                    });
                    p += 2;
                }
                Item::Epoch => {
                    let neg = s.get(p) == Some(&b'-');
                    let q = p + neg as usize;
                    let (v, n) = digits(&s[q..], 1, 18)?;
                    tm.epoch = Some(if neg { -(v as i64) } else { v as i64 });
                    p = q + n;
                }
            }
        }
        if !s[p..].iter().all(|c| c.is_ascii_whitespace()) {
            return None;
        }
        tm.to_nanos(default_year)
    }
}

/// Up to `max` ASCII digits (at least `min`): value and count.
#[inline]
fn digits(s: &[u8], min: usize, max: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut n = 0;
    while n < max {
        match s.get(n) {
            Some(c) if c.is_ascii_digit() => {
                v = v * 10 + (c - b'0') as u64;
                n += 1;
            }
            _ => break,
        }
    }
    (n >= min).then_some((v, n))
}

#[inline]
fn num2(s: &[u8], p: usize) -> Option<(u32, usize)> {
    let (v, n) = digits(s.get(p..)?, 1, 2)?;
    Some((v as u32, p + n))
}

/// `Z`, `+HH`, `+HHMM`, `+HH:MM`: (offset east of UTC in seconds, bytes used).
#[inline]
fn zone(s: &[u8]) -> Option<(i64, usize)> {
    match s.first()? {
        b'Z' | b'z' => Some((0, 1)),
        sign @ (b'+' | b'-') => {
            let (h, n) = digits(&s[1..], 2, 2)?;
            let mut p = 1 + n;
            let mut m = 0;
            if s.get(p) == Some(&b':') {
                let (v, n) = digits(&s[p + 1..], 2, 2)?;
                m = v;
                p += 1 + n;
            } else if let Some((v, n)) = digits(&s[p..], 2, 2) {
                m = v;
                p += n;
            }
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 3600 + m * 60) as i64;
            Some((if *sign == b'-' { -off } else { off }, p))
        }
        _ => None,
    }
}

const MONTHS: [&[u8]; 12] = [
    b"january",
    b"february",
    b"march",
    b"april",
    b"may",
    b"june",
    b"july",
    b"august",
    b"september",
    b"october",
    b"november",
    b"december",
];

/// Month abbreviation or full name, case-insensitive.
fn month_name(s: &[u8]) -> Option<(u32, usize)> {
    let ab = s.get(..3)?;
    for (i, full) in MONTHS.iter().enumerate() {
        if ab.eq_ignore_ascii_case(&full[..3]) {
            let n = if s.len() >= full.len() && s[..full.len()].eq_ignore_ascii_case(full) {
                full.len()
            } else {
                3
            };
            return Some((i as u32 + 1, n));
        }
    }
    None
}

/// RFC 3339 (also with a space instead of `T`, and `+HHMM` zones), e.g. CRI and audit times.
/// A missing zone is read as UTC.
#[inline]
pub fn parse_rfc3339(s: &[u8]) -> Option<i64> {
    if s.len() < 19 {
        return None;
    }
    let d = |i: usize| -> Option<u32> {
        let c = s[i];
        c.is_ascii_digit().then(|| (c - b'0') as u32)
    };
    let n2 = |i: usize| -> Option<u32> { Some(d(i)? * 10 + d(i + 1)?) };
    let year = (n2(0)? * 100 + n2(2)?) as i64;
    if s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let tm_month = n2(5)?;
    let tm_day = n2(8)?;
    let (hour, minute, second) = (n2(11)?, n2(14)?, n2(17)?);
    let mut p = 19;
    let mut nanos = 0u32;
    if s.get(p) == Some(&b'.') {
        p += 1;
        let start = p;
        while let Some(c) = s.get(p).filter(|c| c.is_ascii_digit()) {
            if p - start < 9 {
                nanos = nanos * 10 + (c - b'0') as u32;
            }
            p += 1;
        }
        let n = p - start;
        if n == 0 {
            return None;
        }
        nanos *= 10u32.pow(9 - n.min(9) as u32);
    }
    let mut offset_secs = 0;
    if p < s.len() {
        let (off, n) = zone(&s[p..])?;
        offset_secs = off;
        p += n;
        if p != s.len() {
            return None;
        }
    }
    Tm {
        year: Some(year),
        month: tm_month,
        day: tm_day,
        hour,
        minute,
        second,
        nanos,
        pm: None,
        offset_secs,
        epoch: None,
    }
    .to_nanos(year)
}

/// Appends `2024-05-01T10:00:00.123456789Z` with `frac_digits` (0-9) fraction digits.
pub fn write_rfc3339(out: &mut String, ns: i64, frac_digits: u32) {
    let secs = ns.div_euclid(NANOS_PER_SEC);
    let nanos = ns.rem_euclid(NANOS_PER_SEC) as u32;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86400));
    let sod = secs.rem_euclid(86400);
    let (h, mi, s) = (sod / 3600, (sod / 60) % 60, sod % 60);
    use std::fmt::Write as _;
    let _ = write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    if frac_digits > 0 {
        let f = nanos / 10u32.pow(9 - frac_digits.min(9));
        let _ = write!(out, ".{f:0width$}", width = frac_digits.min(9) as usize);
    }
    out.push('Z');
}

pub fn rfc3339(ns: i64) -> String {
    let mut s = String::with_capacity(30);
    write_rfc3339(&mut s, ns, 9);
    s
}

/// Now, in nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A `--since`/`--until` value: `now`, `@EPOCH`, a relative age (`90s`, `15m`, `2h`, `3d`,
/// optionally `-15m` or `15m ago`), RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]` (UTC).
pub fn parse_when(s: &str, now: i64) -> Result<i64, String> {
    let t = s.trim();
    let err = || {
        format!(
            "cannot read time {s:?}: use RFC 3339 (2024-05-01T10:00:00Z), \
             `YYYY-MM-DD [HH:MM[:SS]]` (UTC), `@EPOCH`, `now`, or an age like 15m, 2h, 3d"
        )
    };
    if t == "now" {
        return Ok(now);
    }
    if let Some(e) = t.strip_prefix('@') {
        let secs: i64 = e.parse().map_err(|_| err())?;
        return Ok(secs * NANOS_PER_SEC);
    }
    let rel = t.strip_suffix(" ago").unwrap_or(t);
    let rel = rel.strip_prefix('-').unwrap_or(rel);
    if let Some(unit) = rel.chars().last()
        && rel.len() > 1
        && rel[..rel.len() - 1].bytes().all(|c| c.is_ascii_digit())
    {
        let n: i64 = rel[..rel.len() - 1].parse().map_err(|_| err())?;
        let mult = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(err()),
        };
        return Ok(now - n * mult * NANOS_PER_SEC);
    }
    if let Some(ns) = parse_rfc3339(t.as_bytes()) {
        return Ok(ns);
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"] {
        if let Ok(fmt) = TimeFormat::compile(f)
            && let Some(ns) = fmt.parse(t.as_bytes(), 1970)
        {
            return Ok(ns);
        }
    }
    Err(err())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        parse_rfc3339(s.as_bytes()).unwrap()
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 59, 365, 11_016, 19_844, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn rfc3339_variants() {
        let base = 1_714_557_600 * NANOS_PER_SEC; // 2024-05-01T10:00:00Z
        let cases: &[(&str, Option<i64>)] = &[
            ("2024-05-01T10:00:00Z", Some(base)),
            ("2024-05-01T10:00:00.123456789Z", Some(base + 123_456_789)),
            ("2024-05-01T10:00:00.5Z", Some(base + 500_000_000)),
            (
                "2024-05-01T10:00:00.1234567891234Z",
                Some(base + 123_456_789),
            ),
            ("2024-05-01T12:00:00+02:00", Some(base)),
            ("2024-05-01T12:00:00+0200", Some(base)),
            ("2024-05-01T09:30:00-00:30", Some(base)),
            ("2024-05-01 10:00:00", Some(base)),
            ("2024-05-01T10:00:00", Some(base)),
            ("2024-02-30T10:00:00Z", None),
            ("2024-05-01T24:00:00Z", None),
            ("2024-05-01T10:00:00.Z", None),
            ("2024-05-01T10:00:00Zjunk", None),
            ("2024-05-01", None),
            ("not a time at all!!", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_rfc3339(s.as_bytes()), *want, "{s}");
        }
    }

    #[test]
    fn rfc3339_writer() {
        let ns = ts("2024-05-01T10:00:00.123456789Z");
        assert_eq!(rfc3339(ns), "2024-05-01T10:00:00.123456789Z");
        let mut s = String::new();
        write_rfc3339(&mut s, ns, 3);
        assert_eq!(s, "2024-05-01T10:00:00.123Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn strptime_table() {
        let y = 2024;
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "%Y-%m-%dT%H:%M:%S.%L%z",
                "2024-05-01T10:00:00.123456789Z",
                Some("2024-05-01T10:00:00.123456789Z"),
            ),
            (
                "%Y-%m-%dT%H:%M:%S.%LZ",
                "2026-05-01T12:00:00.123Z",
                Some("2026-05-01T12:00:00.123Z"),
            ),
            (
                "%d/%b/%Y:%H:%M:%S %z",
                "01/May/2024:12:00:00 +0200",
                Some("2024-05-01T10:00:00Z"),
            ),
            (
                "%b %d %H:%M:%S",
                "May  1 10:00:00",
                Some("2024-05-01T10:00:00Z"),
            ),
            (
                "%m%d %H:%M:%S.%L",
                "0501 10:00:00.123456",
                Some("2024-05-01T10:00:00.123456Z"),
            ),
            (
                "%Y-%m-%d %H:%M:%S,%L",
                "2024-05-01 10:00:00,042",
                Some("2024-05-01T10:00:00.042Z"),
            ),
            ("%s", "1714557600", Some("2024-05-01T10:00:00Z")),
            ("%s.%L", "1714557600.25", Some("2024-05-01T10:00:00.25Z")),
            (
                "%a, %d %B %Y %I:%M:%S %p %Z",
                "Wed, 01 May 2024 10:00:00 PM GMT",
                Some("2024-05-01T22:00:00Z"),
            ),
            ("%F %T", "2024-05-01 10:00:00", Some("2024-05-01T10:00:00Z")),
            ("%D %R", "05/01/24 10:00", Some("2024-05-01T10:00:00Z")),
            (
                "%Y-%m-%dT%H:%M:%S.%L%z",
                "2024-05-01T10:00:02Z",
                Some("2024-05-01T10:00:02Z"),
            ),
            ("%H:%M:%S.%L", "10:00:02.", None),
            ("%Y-%m-%d", "2024-13-01", None),
            ("%Y-%m-%d", "2024-05-01x", None),
            ("%H:%M:%S", "10:61:00", None),
            ("%b %d", "Foo 01", None),
            ("%I %p", "13 PM", None),
        ];
        for (f, input, want) in cases {
            let fmt = TimeFormat::compile(f).unwrap();
            let got = fmt.parse(input.as_bytes(), y);
            assert_eq!(got, want.map(ts), "{f} on {input}");
        }
    }

    #[test]
    fn strptime_bad_directives() {
        for (f, at, frag) in [
            ("%Y-%m-%Q", 6, "`%Q` at character 7"),
            ("%Y %", 3, "lone"),
            ("%-d", 0, "`%-`"),
            ("", 0, "empty"),
        ] {
            let e = TimeFormat::compile(f).unwrap_err();
            assert_eq!(e.at, at, "{f}");
            assert!(e.message.contains(frag), "{f}: {}", e.message);
        }
    }

    #[test]
    fn zone_awareness() {
        assert!(TimeFormat::compile("%Y %z").unwrap().has_zone());
        assert!(TimeFormat::compile("%s").unwrap().has_zone());
        assert!(TimeFormat::compile("%H:%M:%S.%LZ").unwrap().has_zone());
        assert!(!TimeFormat::compile("%m%d %H:%M:%S.%L").unwrap().has_zone());
    }

    #[test]
    fn when_values() {
        let now = ts("2024-05-01T10:00:00Z");
        let cases: &[(&str, Option<&str>)] = &[
            ("now", Some("2024-05-01T10:00:00Z")),
            ("15m", Some("2024-05-01T09:45:00Z")),
            ("-2h", Some("2024-05-01T08:00:00Z")),
            ("1d ago", Some("2024-04-30T10:00:00Z")),
            ("30s", Some("2024-05-01T09:59:30Z")),
            ("@1714557600", Some("2024-05-01T10:00:00Z")),
            ("2024-04-01", Some("2024-04-01T00:00:00Z")),
            ("2024-04-01 08:30", Some("2024-04-01T08:30:00Z")),
            ("2024-04-01T08:30:00+01:00", Some("2024-04-01T07:30:00Z")),
            ("yesterday-ish", None),
            ("15w", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_when(s, now).ok(), want.map(ts), "{s}");
        }
    }
}
