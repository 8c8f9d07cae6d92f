//! XML escaping for the writers.
//!
//! Besides `& < > "`, characters that XML 1.0 cannot carry at all (C0
//! controls other than tab, newline and carriage return, U+FFFE, U+FFFF)
//! are dropped: they would make the whole file unreadable for dnf.
//! Carriage returns (and, in attribute values, tabs and newlines) are
//! written as character references so XML end-of-line and attribute-value
//! normalization keep them, as libxml2 does for createrepo_c.

/// Whether `c` may appear in an XML 1.0 document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Append `value` escaped as element text.
pub(crate) fn text(out: &mut String, value: &str) {
    escape(out, value, false);
}

/// Append `value` escaped as a double-quoted attribute value.
pub(crate) fn attr(out: &mut String, value: &str) {
    escape(out, value, true);
}

/// `& < > \r` always, and `" \t \n` in attribute values, become
/// references; characters XML cannot carry are dropped.
fn escape(out: &mut String, value: &str, in_attribute: bool) {
    let special = |c: char| match c {
        '&' | '<' | '>' | '\r' => true,
        '"' | '\t' | '\n' => in_attribute,
        c => !is_xml_char(c),
    };
    if !value.contains(special) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// Append `<name>value</name>` (always both tags, as createrepo_c does for
/// empty values) with `indent` spaces and a newline.
pub(crate) fn element(out: &mut String, indent: usize, name: &str, value: &str) {
    push_indent(out, indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    text(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// Append ` key="value"`.
pub(crate) fn attribute(out: &mut String, key: &str, value: &str) {
    out.push(' ');
    out.push_str(key);
    out.push_str("=\"");
    attr(out, value);
    out.push('"');
}

/// Append `indent` spaces.
pub(crate) fn push_indent(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut s = String::new();
        text(&mut s, "a<b>&c\"\u{1}\r\n");
        assert_eq!(s, "a&lt;b&gt;&amp;c\"&#13;\n");
        s.clear();
        attr(&mut s, "x\"y\n<&\u{0}");
        assert_eq!(s, "x&quot;y&#10;&lt;&amp;");
        s.clear();
        element(&mut s, 2, "url", "");
        assert_eq!(s, "  <url></url>\n");
    }
}
