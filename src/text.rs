//! A fixed-size line buffer for messages: no allocation, no `core::fmt` (which would double the
//! binary). A line that does not fit ends in `...` so a cut is never silent.
//!
//! The buffer's size is a type parameter, but all the work happens in non-generic functions
//! over a plain slice, so each size costs no extra code.

pub struct Line<const N: usize> {
    buf: [u8; N],
    len: usize,
    cut: bool,
}

impl<const N: usize> Default for Line<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Line<N> {
    /// Not inlined: zeroing the buffer at every call site would cost more than the call.
    #[inline(never)]
    pub fn new() -> Self {
        Line { buf: [0; N], len: 0, cut: false }
    }

    pub fn push(&mut self, s: &[u8]) -> &mut Self {
        push(&mut self.buf, &mut self.len, &mut self.cut, s);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.push(s.as_bytes())
    }

    pub fn num(&mut self, n: i64) -> &mut Self {
        let mut digits = [0u8; 20];
        let (neg, d) = decimal(n, &mut digits);
        if neg {
            self.push(b"-");
        }
        self.push(d)
    }

    /// The text so far, with `...` in place of its last bytes when something did not fit.
    pub fn as_bytes(&mut self) -> &[u8] {
        finish(&mut self.buf, self.len, self.cut)
    }

    pub fn is_cut(&self) -> bool {
        self.cut
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.cut = false;
    }
}

#[inline(never)]
fn push(buf: &mut [u8], len: &mut usize, cut: &mut bool, s: &[u8]) {
    if *cut {
        return;
    }
    let room = buf.len().saturating_sub(*len);
    let take = s.len().min(room);
    if let (Some(dst), Some(src)) = (buf.get_mut(*len..*len + take), s.get(..take)) {
        dst.copy_from_slice(src);
        *len += take;
    }
    *cut = take < s.len();
}

#[inline(never)]
fn finish(buf: &mut [u8], len: usize, cut: bool) -> &[u8] {
    if cut {
        let start = len.saturating_sub(3);
        for slot in buf.get_mut(start..len).unwrap_or(&mut []) {
            *slot = b'.';
        }
    }
    buf.get(..len).unwrap_or(&[])
}

/// `n`'s decimal digits (without sign) at the end of `digits`, and whether it is negative.
#[inline(never)]
fn decimal(n: i64, digits: &mut [u8; 20]) -> (bool, &[u8]) {
    let mut i = digits.len();
    let mut v = n.unsigned_abs();
    while let Some(d) = i.checked_sub(1).and_then(|j| digits.get_mut(j)) {
        i -= 1;
        *d = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    (n < 0, digits.get(i..).unwrap_or(&[]))
}

/// The `n`th word of a space-separated list: name tables kept as one string cost a few bytes
/// a name instead of a 16-byte slice each.
pub fn word(list: &'static str, n: usize) -> Option<&'static str> {
    list.split(' ').nth(n)
}

/// The position of `name` in a space-separated list, ignoring ASCII case.
pub fn position_ci(list: &str, name: &[u8]) -> Option<usize> {
    list.split(' ').position(|w| name.eq_ignore_ascii_case(w.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_marks_cuts() {
        let mut l = Line::<64>::new();
        l.str("pid ").num(1234).str(" code ").num(-5).num(0);
        assert_eq!(l.as_bytes(), b"pid 1234 code -50");
        let mut s = Line::<8>::new();
        s.str("0123456789");
        assert!(s.is_cut());
        assert_eq!(s.as_bytes(), b"01234...");
        let mut m = Line::<24>::new();
        m.num(i64::MIN);
        assert_eq!(m.as_bytes(), b"-9223372036854775808");
        let mut z = Line::<4>::new();
        z.str("ab").str("cd");
        assert!(!z.is_cut());
        z.str("e");
        assert!(z.is_cut());
    }

    #[test]
    fn word_lists() {
        assert_eq!(word("a bb c", 1), Some("bb"));
        assert_eq!(word("a bb c", 3), None);
        assert_eq!(position_ci("a bb c", b"BB"), Some(1));
        assert_eq!(position_ci("a bb c", b"d"), None);
    }
}
