//! `${name}` placeholders between literal text: the scanner that connectors' topic and key
//! templates share; each connector decides which names it knows and what they render to.

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Literal text (never empty).
    Text(&'a str),
    /// The name between `${` and `}`.
    Placeholder(&'a str),
}

/// Splits `text` into literal text and placeholder names, in order; an unclosed `${` is an
/// error naming the template.
pub fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in template `{text}`"))?;
        out.push(Piece::Placeholder(&after[..end]));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_placeholders_come_out_in_order() {
        assert_eq!(
            pieces("a/${x}${y.z}/b").unwrap(),
            [
                Piece::Text("a/"),
                Piece::Placeholder("x"),
                Piece::Placeholder("y.z"),
                Piece::Text("/b"),
            ]
        );
        assert_eq!(pieces("").unwrap(), []);
        assert_eq!(
            pieces("a/${x").unwrap_err(),
            "unclosed `${` in template `a/${x`"
        );
    }
}
