//! The part of `java.text.SimpleDateFormat` that timestamp patterns use, in UTC as Kafka's
//! TimestampConverter sets it: `y` (not `yy`), `M`/`MM`, `d`, `H`, `m`, `s`, `S`, `Z`, `X`,
//! quoted text (`'T'`, `''` for a quote) and any other non-letter as a literal. Any other
//! letter is refused when the pattern is configured, naming it, rather than guessed at.
//! Parsing follows Java's default (lenient) rules: numbers take every digit unless the next
//! element is another field (then exactly as many as the letter is repeated), out-of-range
//! fields roll over, and text after the pattern is ignored.

use super::calendar::{civil_from_days, days_from_civil, MS_PER_DAY};

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    Literal(String),
    Field(Letter, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Letter {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Milli,
    /// `Z`: RFC 822 offset, `+0000` in UTC.
    Rfc822Zone,
    /// `X`: ISO 8601 offset, `Z` in UTC.
    IsoZone,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    elements: Vec<Element>,
}

/// Most digits read for one numeric field: with at most 12, no field can overflow the
/// arithmetic below (10^12 hours in ms still fits an i64), and longer text is refused.
const MAX_DIGITS: usize = 12;

impl Pattern {
    /// Compiles `text`, or says which letter or construct is not supported.
    pub fn compile(text: &str) -> Result<Pattern, String> {
        let mut elements = Vec::new();
        let mut chars = text.chars().peekable();
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated quote in pattern `{text}`")),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        Some('\'') => break,
                        Some(q) => literal.push(q),
                    }
                }
                continue;
            }
            if !c.is_ascii_alphabetic() {
                literal.push(c);
                continue;
            }
            let mut count = 1;
            while chars.peek() == Some(&c) {
                chars.next();
                count += 1;
            }
            let letter = match c {
                'y' if count == 2 => {
                    return Err(format!(
                        "pattern `{text}`: `yy` (a two-digit year) is not supported, since Java \
                         parses it relative to the current date; use `yyyy`"
                    ))
                }
                'y' => Letter::Year,
                'M' if count >= 3 => {
                    return Err(format!(
                        "pattern `{text}`: month names (`MMM`) are not supported; use `MM`"
                    ))
                }
                'M' => Letter::Month,
                'd' => Letter::Day,
                'H' => Letter::Hour,
                'm' => Letter::Minute,
                's' => Letter::Second,
                'S' => Letter::Milli,
                'Z' => Letter::Rfc822Zone,
                'X' if count > 3 => {
                    return Err(format!(
                        "pattern `{text}`: invalid ISO 8601 format `X` repeated {count} times"
                    ))
                }
                'X' => Letter::IsoZone,
                other => {
                    return Err(format!(
                        "pattern `{text}`: pattern letter `{other}` is not supported (supported: \
                         y M d H m s S Z X and quoted text)"
                    ))
                }
            };
            if !literal.is_empty() {
                elements.push(Element::Literal(std::mem::take(&mut literal)));
            }
            elements.push(Element::Field(letter, count));
        }
        if !literal.is_empty() {
            elements.push(Element::Literal(literal));
        }
        Ok(Pattern {
            text: text.to_string(),
            elements,
        })
    }

    /// `ms` since the epoch as text, in UTC.
    pub fn format(&self, ms: i64) -> String {
        let days = ms.div_euclid(MS_PER_DAY);
        let in_day = ms.rem_euclid(MS_PER_DAY);
        let date = civil_from_days(days);
        let mut out = String::new();
        for e in &self.elements {
            let (letter, count) = match e {
                Element::Literal(s) => {
                    out.push_str(s);
                    continue;
                }
                Element::Field(l, c) => (*l, *c),
            };
            let n = match letter {
                // The year of the era: 1 BC is year 0 astronomically.
                Letter::Year if date.year <= 0 => 1 - date.year,
                Letter::Year => date.year,
                Letter::Month => date.month,
                Letter::Day => date.day,
                Letter::Hour => in_day / 3_600_000,
                Letter::Minute => in_day / 60_000 % 60,
                Letter::Second => in_day / 1000 % 60,
                Letter::Milli => in_day % 1000,
                Letter::Rfc822Zone => {
                    out.push_str("+0000");
                    continue;
                }
                Letter::IsoZone => {
                    out.push('Z');
                    continue;
                }
            };
            out.push_str(&format!("{n:0count$}"));
        }
        out
    }

    /// Text to ms since the epoch; fields the pattern lacks are those of 1970-01-01T00:00:00.000Z.
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let fail = || {
            format!(
                "Could not parse timestamp: value ({text}) does not match pattern ({})",
                self.text
            )
        };
        let (mut year, mut month, mut day) = (1970i64, 1i64, 1i64);
        let mut ms_in_day = 0i64;
        let mut offset_ms = 0i64;
        let mut rest = text;
        for (i, e) in self.elements.iter().enumerate() {
            let (letter, count) = match e {
                Element::Literal(s) => {
                    rest = rest.strip_prefix(s.as_str()).ok_or_else(fail)?;
                    continue;
                }
                Element::Field(l, c) => (*l, *c),
            };
            // Java skips spaces and tabs before a field.
            rest = rest.trim_start_matches([' ', '\t']);
            match letter {
                Letter::Rfc822Zone | Letter::IsoZone => {
                    let (offset, after) = parse_zone(rest, letter, count).ok_or_else(fail)?;
                    offset_ms = offset;
                    rest = after;
                    continue;
                }
                _ => {}
            }
            let next_is_field = matches!(self.elements.get(i + 1), Some(Element::Field(..)));
            let limit = if next_is_field { count } else { MAX_DIGITS };
            let digits = rest
                .bytes()
                .take(limit)
                .take_while(u8::is_ascii_digit)
                .count();
            if digits == 0 {
                return Err(fail());
            }
            let n: i64 = rest[..digits].parse().map_err(|_| fail())?;
            rest = &rest[digits..];
            if !next_is_field && rest.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(fail());
            }
            let unit = match letter {
                Letter::Year => {
                    year = n;
                    continue;
                }
                Letter::Month => {
                    month = n;
                    continue;
                }
                Letter::Day => {
                    day = n;
                    continue;
                }
                Letter::Hour => 3_600_000,
                Letter::Minute => 60_000,
                Letter::Second => 1000,
                Letter::Milli | Letter::Rfc822Zone | Letter::IsoZone => 1,
            };
            ms_in_day = n
                .checked_mul(unit)
                .and_then(|v| v.checked_add(ms_in_day))
                .ok_or_else(fail)?;
        }
        let days = days_from_civil(year, month, day);
        days.checked_mul(MS_PER_DAY)
            .and_then(|ms| ms.checked_add(ms_in_day))
            .and_then(|ms| ms.checked_sub(offset_ms))
            .ok_or_else(fail)
    }
}

/// A zone offset at the start of `text` (in ms east of UTC) and the text after it. `Z`
/// (RFC 822) takes `+hhmm`, `+hh:mm` (and `-`), or `GMT`/`UTC` optionally followed by one; `X`
/// (ISO 8601) takes `Z` or exactly its form: `+hh` (`X`), `+hhmm` (`XX`), `+hh:mm` (`XXX`).
fn parse_zone(text: &str, letter: Letter, count: usize) -> Option<(i64, &str)> {
    if letter == Letter::IsoZone {
        if let Some(rest) = text.strip_prefix('Z') {
            return Some((0, rest));
        }
        let sign = match text.as_bytes().first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return None,
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let (hh, mm, len) = match count {
            1 => (text.get(1..3)?, "00", 3),
            2 => (text.get(1..3)?, text.get(3..5)?, 5),
            _ => {
                if text.get(3..4)? != ":" {
                    return None;
                }
                (text.get(1..3)?, text.get(4..6)?, 6)
            }
        };
        if !digits(hh) || !digits(mm) {
            return None;
        }
        let (hours, minutes): (i64, i64) = (hh.parse().ok()?, mm.parse().ok()?);
        if hours > 23 || minutes > 59 {
            return None;
        }
        return Some((sign * (hours * 3_600_000 + minutes * 60_000), &text[len..]));
    }
    let mut rest = text;
    let mut named = false;
    for name in ["GMT", "UTC"] {
        if let Some(r) = rest.strip_prefix(name) {
            rest = r;
            named = true;
            break;
        }
    }
    let sign = match rest.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ if named => return Some((0, rest)),
        _ => return None,
    };
    rest = &rest[1..];
    let two = |s: &str| -> Option<i64> {
        let d = s.get(..2)?;
        d.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| d.parse().ok())?
    };
    let hours = two(rest)?;
    rest = &rest[2..];
    let minutes = if let Some(m) = rest.strip_prefix(':').and_then(two) {
        rest = &rest[3..];
        m
    } else if let Some(m) = two(rest) {
        rest = &rest[2..];
        m
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((sign * (hours * 3_600_000 + minutes * 60_000), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::compile(text).unwrap()
    }

    // 2024-03-05T07:08:09.012Z
    const T: i64 = 1_709_622_489_012;

    #[test]
    fn formats_like_simple_date_format_in_utc() {
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ss.SSS").format(T),
            "2024-03-05T07:08:09.012"
        );
        assert_eq!(
            p("yyyy-MM-dd HH:mm:ssZ").format(T),
            "2024-03-05 07:08:09+0000"
        );
        assert_eq!(
            p("yyyy-MM-dd'T'HH:mm:ssXXX").format(T),
            "2024-03-05T07:08:09Z"
        );
        assert_eq!(p("y/M/d H:m:s.S").format(T), "2024/3/5 7:8:9.12");
        assert_eq!(p("yyyyMMdd").format(T), "20240305");
        assert_eq!(p("'at' HH 'o''clock'").format(T), "at 07 o'clock");
        assert_eq!(p("yyyy-MM-dd").format(-1), "1969-12-31");
        // Before 1582-10-15 Java's calendar is Julian.
        assert_eq!(p("yyyy-MM-dd").format(-62_135_596_800_000), "0001-01-03");
    }

    #[test]
    fn parses_like_simple_date_format_in_utc() {
        let iso = p("yyyy-MM-dd'T'HH:mm:ss.SSS");
        assert_eq!(iso.parse("2024-03-05T07:08:09.012"), Ok(T));
        // Text after the pattern is ignored, as DateFormat.parse(String) ignores it.
        assert_eq!(iso.parse("2024-03-05T07:08:09.012 trailing"), Ok(T));
        assert_eq!(p("yyyyMMddHHmmssSSS").parse("20240305070809012"), Ok(T));
        assert_eq!(p("yyyy-MM-dd").parse("2024-03-05"), Ok(T - T % MS_PER_DAY));
        // Offsets move the instant to UTC.
        let zoned = p("yyyy-MM-dd HH:mm:ssZ");
        assert_eq!(zoned.parse("2024-03-05 08:08:09+0100"), Ok(T - 12));
        assert_eq!(zoned.parse("2024-03-05 02:08:09-05:00"), Ok(T - 12));
        let iso_zone = p("yyyy-MM-dd'T'HH:mm:ssX");
        assert_eq!(iso_zone.parse("2024-03-05T07:08:09Z"), Ok(T - 12));
        assert_eq!(iso_zone.parse("2024-03-05T09:08:09+02"), Ok(T - 12));
        let iso_colon = p("yyyy-MM-dd'T'HH:mm:ssXXX");
        assert_eq!(iso_colon.parse("2024-03-05T04:38:09-02:30"), Ok(T - 12));
        assert!(iso_colon.parse("2024-03-05T04:38:09-0230").is_err());
        // Abutting fields take exactly their width; 07:38 at +00:30 is 07:08 UTC.
        assert_eq!(p("HHmmXX").parse("0738+0030"), Ok(25_680_000));
        // Lenient: month 13 rolls into the next year.
        assert_eq!(
            p("yyyy-MM-dd").parse("2023-13-05"),
            p("yyyy-MM-dd").parse("2024-01-05")
        );
    }

    #[test]
    fn text_that_does_not_match_is_an_error_naming_value_and_pattern() {
        let iso = p("yyyy-MM-dd");
        let err = iso.parse("2024/03/05").unwrap_err();
        assert_eq!(
            err,
            "Could not parse timestamp: value (2024/03/05) does not match pattern (yyyy-MM-dd)"
        );
        assert!(iso.parse("").is_err());
        assert!(p("yyyy-MM-dd HH:mmZ").parse("2024-03-05 07:08+2").is_err());
        assert!(iso.parse("99999999999999999999-01-01").is_err());
    }

    #[test]
    fn unsupported_letters_are_refused_by_name() {
        for (pattern, named) in [
            ("yyyy-MM-dd hh:mm a", "`h`"),
            ("EEE, dd MMM yyyy", "`E`"),
            ("yy-MM-dd", "`yy`"),
            ("dd MMM yyyy", "`MMM`"),
            ("yyyy-MM-dd'T'HH:mm:ssXXXX", "`X` repeated 4"),
            ("yyyy-MM-dd z", "`z`"),
        ] {
            let err = Pattern::compile(pattern).unwrap_err();
            assert!(err.contains(named), "{pattern}: {err}");
        }
        assert!(Pattern::compile("yyyy 'T")
            .unwrap_err()
            .contains("unterminated"));
    }
}
