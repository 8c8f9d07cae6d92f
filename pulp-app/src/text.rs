//! Small string helpers shared by the error types.

/// Longest untrusted value quoted in an error message, in bytes.
const MAX_QUOTED: usize = 200;

/// Shortens an untrusted value (a path, a digest, a name from remote
/// metadata) before it goes into an error message: at most 200 bytes, cut
/// at a character boundary, with `…` appended when something was cut.
pub(crate) fn clip(value: &str) -> String {
    if value.len() <= MAX_QUOTED {
        return value.to_owned();
    }
    let mut end = MAX_QUOTED;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end])
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clips_long_values_at_a_char_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(150); // 300 bytes
        let clipped = clip(&long);
        assert!(clipped.ends_with('…'));
        assert_eq!(clipped.len(), 200 + '…'.len_utf8());
    }
}
