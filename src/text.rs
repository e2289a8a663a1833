//! A line buffer over a caller's fixed array and a tiny template formatter: no allocation, no
//! `core::fmt` (which would double the binary). A line that does not fit ends in `...` so a
//! cut is never silent.
//!
//! A template is text with a `%` wherever the next [`Arg`] goes: `"guest started (pid %)"`.
//! One call per message costs far less code than a chain of pushes, and the call site reads
//! like the line it prints. The buffer is borrowed, so no code is generated per size.

use core::ffi::CStr;

// The byte helpers lived here before they had a module of their own; callers still find them
// under `text::`.
pub use crate::bytes::{
    cstr_in, cstr_tail, eq_ci, position, position_ci, split, tokens, word, words, Split,
};

/// A value for the next `%` of a template.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    /// Bytes as they are: a path, a command.
    Str(&'a [u8]),
    /// A decimal number.
    Num(i64),
    /// A signal: `SIGTERM`, `SIGRTMIN+3`.
    Sig(i32),
    /// An errno value by name: `ENOENT` (`errno N` outside the table).
    Errno(i32),
}

/// Text appended into `buf`.
pub struct Line<'a> {
    buf: &'a mut [u8],
    len: usize,
    cut: bool,
}

impl<'a> Line<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Line { buf, len: 0, cut: false }
    }

    /// Appends `template` with each `%` replaced by the next of `args` (nothing when they run
    /// out).
    #[inline(never)]
    pub fn fmt(&mut self, template: &str, args: &[Arg<'_>]) -> &mut Self {
        let mut rest = template.as_bytes();
        let mut args = args.iter();
        loop {
            let n = rest.iter().position(|&c| c == b'%').unwrap_or(rest.len());
            self.push(rest.get(..n).unwrap_or(&[]));
            let Some(tail) = rest.get(n + 1..) else { return self };
            rest = tail;
            match args.next() {
                Some(Arg::Str(s)) => self.push(s),
                Some(&Arg::Num(n)) => self.num(n),
                Some(&Arg::Sig(s)) => match crate::signals::name(s) {
                    Some(name) => self.push(b"SIG").push(name),
                    None if s >= crate::signals::SIGRTMIN => {
                        self.push(b"SIGRTMIN+").num(i64::from(s - crate::signals::SIGRTMIN))
                    }
                    None => self.push(b"signal ").num(i64::from(s)),
                },
                Some(&Arg::Errno(e)) => match crate::errno::name(e) {
                    Some(name) => self.push(name),
                    None => self.push(b"errno ").num(i64::from(e)),
                },
                None => self,
            };
        }
    }

    #[inline(never)]
    pub fn push(&mut self, s: &[u8]) -> &mut Self {
        if !self.cut {
            let take = s.len().min(self.buf.len().saturating_sub(self.len));
            if let (Some(dst), Some(src)) =
                (self.buf.get_mut(self.len..self.len + take), s.get(..take))
            {
                dst.copy_from_slice(src);
                self.len += take;
            }
            self.cut = take < s.len();
        }
        self
    }

    fn num(&mut self, n: i64) -> &mut Self {
        let mut digits = [0u8; 20];
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
        self.push(if n < 0 { b"-" } else { b"" }).push(digits.get(i..).unwrap_or(&[]))
    }

    pub fn is_cut(&self) -> bool {
        self.cut
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

    /// The text as a C string; `None` when it was cut, leaves no room for the NUL or holds one.
    pub fn into_cstr(self) -> Option<&'a CStr> {
        *self.buf.get_mut(self.len).filter(|_| !self.cut)? = 0;
        let s = cstr_in(self.buf);
        (s.to_bytes().len() == self.len).then_some(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_marks_cuts() {
        let mut b = [0u8; 64];
        let mut l = Line::new(&mut b);
        l.fmt("pid % code %%", &[Arg::Num(1234), Arg::Num(-5), Arg::Num(0)]);
        assert_eq!(l.as_bytes(), b"pid 1234 code -50");
        let mut b = [0u8; 8];
        let mut s = Line::new(&mut b);
        s.push(b"0123456789");
        assert!(s.is_cut());
        assert_eq!(s.as_bytes(), b"01234...");
        let mut b = [0u8; 24];
        let mut m = Line::new(&mut b);
        m.fmt("%", &[Arg::Num(i64::MIN)]);
        assert_eq!(m.as_bytes(), b"-9223372036854775808");
        let mut b = [0u8; 4];
        let mut z = Line::new(&mut b);
        z.push(b"ab").push(b"cd");
        assert!(!z.is_cut());
        z.push(b"e");
        assert!(z.is_cut());
    }

    #[test]
    fn formats_every_kind() {
        let mut b = [0u8; 128];
        let mut l = Line::new(&mut b);
        l.fmt(
            "% % % % % % %: %",
            &[
                Arg::Sig(15),
                Arg::Sig(37),
                Arg::Sig(33),
                Arg::Errno(2),
                Arg::Errno(500),
                Arg::Str(b"/a b"),
                Arg::Num(7),
            ],
        );
        assert_eq!(l.as_bytes(), &b"SIGTERM SIGRTMIN+3 signal 33 ENOENT errno 500 /a b 7: "[..]);
    }

    #[test]
    fn c_strings() {
        let mut b = [0u8; 8];
        let mut l = Line::new(&mut b);
        l.push(b"/proc");
        assert_eq!(l.into_cstr(), Some(c"/proc"));
        let mut l = Line::new(&mut b);
        l.push(b"/proc/ab");
        assert_eq!(l.into_cstr(), None, "no room for the NUL");
        let mut l = Line::new(&mut b);
        l.push(b"a\0b");
        assert_eq!(l.into_cstr(), None, "inner NUL");
        let mut l = Line::new(&mut b);
        l.push(b"abcdefghij");
        assert_eq!(l.into_cstr(), None, "cut");
    }
}
