//! A fixed-size line buffer for messages: no allocation, no `core::fmt` (which would double the
//! binary). A line that does not fit ends in `...` so a cut is never silent.

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
    pub const fn new() -> Self {
        Line { buf: [0; N], len: 0, cut: false }
    }

    pub fn push(&mut self, s: &[u8]) -> &mut Self {
        for &c in s {
            match self.buf.get_mut(self.len) {
                Some(slot) if !self.cut => {
                    *slot = c;
                    self.len += 1;
                }
                _ => {
                    self.cut = true;
                    break;
                }
            }
        }
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.push(s.as_bytes())
    }

    pub fn num(&mut self, n: i64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = n.unsigned_abs();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        if n < 0 {
            self.push(b"-");
        }
        self.push(digits.get(i..).unwrap_or(&[]))
    }

    /// The text so far, with `...` in place of its last bytes when something did not fit.
    pub fn as_bytes(&mut self) -> &[u8] {
        if self.cut {
            let start = self.len.saturating_sub(3);
            for slot in self.buf.get_mut(start..self.len).unwrap_or(&mut []) {
                *slot = b'.';
            }
        }
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub fn is_cut(&self) -> bool {
        self.cut
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.cut = false;
    }
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
    }
}
