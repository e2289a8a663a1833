//! Byte and number helpers on borrowed slices: splitting, word lists, ASCII case, C strings and
//! the one decimal parser. The leaf of the core: it uses no other module, so the name tables
//! (`signals`, `errno`), the `/proc` readers and the message formatter (`text`) all build on it.

use core::ffi::CStr;

/// The bytes of `buf` up to its first NUL as a C string (empty when there is no NUL). A loop
/// rather than `CStr::from_bytes_until_nul`, which would pull in core's 500-byte memchr.
#[inline(never)]
pub fn cstr_in(buf: &[u8]) -> &CStr {
    match buf.iter().position(|&b| b == 0).and_then(|n| buf.get(..=n)) {
        // SAFETY: the slice ends at the first NUL, so it is NUL-terminated without an inner NUL.
        Some(s) => unsafe { CStr::from_bytes_with_nul_unchecked(s) },
        None => c"",
    }
}

/// The C string after the first `n` bytes of `s` (empty when `s` is shorter).
pub fn cstr_tail(s: &CStr, n: usize) -> &CStr {
    cstr_in(s.to_bytes_with_nul().get(n..).unwrap_or(&[]))
}

/// The pieces of `s` between `sep` bytes, as `<[u8]>::split` gives them, but one copy of the
/// code serves every separator (a closure per call site would be a copy each).
pub fn split(s: &[u8], sep: u8) -> Split<'_> {
    Split { rest: Some(s), sep }
}

/// Like [`split`], without the empty pieces: `//a//b/` is `a`, `b`.
pub fn tokens(s: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    split(s, sep).filter(|t| !t.is_empty())
}

/// The iterator of [`split`].
pub struct Split<'a> {
    rest: Option<&'a [u8]>,
    sep: u8,
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a [u8];

    #[inline(never)]
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match rest.iter().position(|&c| c == self.sep) {
            Some(i) => {
                self.rest = rest.get(i + 1..);
                rest.get(..i)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// ASCII case-insensitive equality, as a plain loop (core's is several times larger).
pub fn eq_ci(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// The words of a space-separated list.
pub fn words(list: &'static str) -> impl Iterator<Item = &'static [u8]> {
    split(list.as_bytes(), b' ')
}

/// The `n`th word of a space-separated list: name tables kept as one string cost a few bytes
/// a name instead of a 16-byte slice each.
pub fn word(list: &'static str, n: usize) -> Option<&'static [u8]> {
    words(list).nth(n)
}

/// The position of `name` in a space-separated list, ignoring ASCII case.
pub fn position_ci(list: &'static str, name: &[u8]) -> Option<usize> {
    find(list, name, true)
}

/// The position of `name` in a space-separated list, exactly.
pub fn position(list: &'static str, name: &[u8]) -> Option<usize> {
    find(list, name, false)
}

/// One copy of the search for both.
#[inline(never)]
fn find(list: &'static str, name: &[u8], ignore_case: bool) -> Option<usize> {
    words(list).position(|w| if ignore_case { eq_ci(name, w) } else { name == w })
}

/// An unsigned decimal number of 1 to `max_digits` ASCII digits (no sign, no spaces); at most
/// 19 digits count, so the value cannot overflow.
#[inline(never)]
pub fn dec(s: &[u8], max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits.min(19) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &c| c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0')))
}

/// A small decimal integer (at most 9 digits, so it fits an `i32`), no sign: a signal number,
/// a PID or a descriptor from a `/proc` listing, a timeout.
pub fn parse_int(s: &[u8]) -> Option<i32> {
    dec(s, 9).and_then(|n| i32::try_from(n).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn word_lists() {
        assert_eq!(word("a bb c", 1), Some(&b"bb"[..]));
        assert_eq!(word("a bb c", 3), None);
        assert_eq!(position_ci("a bb c", b"BB"), Some(1));
        assert_eq!(position_ci("a bb c", b"d"), None);
        assert_eq!(position("a bb c", b"c"), Some(2));
        assert_eq!(position("a bb c", b"C"), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(dec(b"0", 19), Some(0));
        assert_eq!(dec(b"9999999999999999999", 19), Some(9_999_999_999_999_999_999));
        assert_eq!(dec(b"18446744073709551615", 20), None, "more than 19 digits never count");
        assert_eq!(dec(b"1234", 3), None);
        for bad in [&b""[..], b"-1", b"+1", b" 1", b"1 ", b"1a"] {
            assert_eq!(dec(bad, 19), None, "{bad:?}");
        }
        assert_eq!(parse_int(b"123456789"), Some(123_456_789));
        assert_eq!(parse_int(b"1234567890"), None);
        assert_eq!(parse_int(b"007"), Some(7));
    }
}
