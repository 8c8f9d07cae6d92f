//! rpm's version segment comparison (`rpmvercmp`), as documented by rpm:
//! versions are split into alternating runs of digits and letters, other
//! characters only separate runs; digit runs compare numerically and beat
//! letter runs; `~` sorts before anything (even the end of the string) and
//! `^` sorts after the end of the string but before anything else.

use std::cmp::Ordering;

/// Compares two version (or release) strings the way rpm does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    let is_separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        one = trim_start(one, is_separator);
        two = trim_start(two, is_separator);

        // Tilde: sorts before everything, including the end of the string.
        match (one.first(), two.first()) {
            (Some(b'~'), Some(b'~')) => {
                one = &one[1..];
                two = &two[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            _ => {}
        }
        // Caret: like tilde, except that the end of the string sorts before it.
        match (one.first(), two.first()) {
            (Some(b'^'), Some(b'^')) => {
                one = &one[1..];
                two = &two[1..];
                continue;
            }
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), None) => return Ordering::Greater,
            (Some(b'^'), Some(_)) => return Ordering::Less,
            (Some(_), Some(b'^')) => return Ordering::Greater,
            _ => {}
        }
        let (Some(first), Some(_)) = (one.first(), two.first()) else {
            break;
        };

        let numeric = first.is_ascii_digit();
        let take = |s: &[u8]| -> usize {
            s.iter()
                .position(|c| {
                    if numeric {
                        !c.is_ascii_digit()
                    } else {
                        !c.is_ascii_alphabetic()
                    }
                })
                .unwrap_or(s.len())
        };
        let (n1, n2) = (take(one), take(two));
        let (seg1, seg2) = (&one[..n1], &two[..n2]);
        one = &one[n1..];
        two = &two[n2..];
        // The other string has a run of the other kind here: numbers win.
        if seg2.is_empty() {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let order = if numeric {
            let s1 = trim_start(seg1, |c| *c == b'0');
            let s2 = trim_start(seg2, |c| *c == b'0');
            s1.len().cmp(&s2.len()).then_with(|| s1.cmp(s2))
        } else {
            seg1.cmp(seg2)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

fn trim_start(s: &[u8], pred: impl Fn(&u8) -> bool) -> &[u8] {
    let n = s.iter().position(|c| !pred(c)).unwrap_or(s.len());
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::rpmvercmp;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn matches_rpm_examples() {
        // Cases from rpm's own test suite (rpmvercmp.at), as facts about the ordering.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0", "2.0.1", Less),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0aa", "1.0a", Greater),
            ("10a2", "10b2", Less),
            ("1b.fc17", "1.fc17", Less),
            ("1.0", "1_0", Equal),
            ("1..0", "1.0", Equal),
            ("2_0", "2_0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0^20160101^git1", "1.0^20160101", Greater),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("0001", "1", Equal),
            ("a", "1", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
    }
}
