//! The text helpers: a `Line` fed pushes and templates must hold exactly what fits of the
//! text a reference formats with std and mark every cut (`...`, `is_cut`); `into_cstr`,
//! `cstr_in`, `cstr_tail`, `split`, `tokens`, `eq_ci` and the word lists against std;
//! `errno::name` against the kernel's numbers (linux-raw-sys).
//!
//! Input: byte 0 is the line's capacity, the rest newline-separated records:
//!
//! ```text
//! p<bytes>               push
//! f<template>[\t<arg>]*  fmt; an arg is s<bytes>, n<i64>, g<signal>, e<errno>
//! c<n><bytes>            cstr_in, and cstr_tail after byte n
//! s<sep><bytes>          split and tokens
//! q<a>\t<b>              eq_ci
//! w<bytes>               word lists
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;
use linux_raw_sys::errno as e;
use nestinit::text::{cstr_in, cstr_tail, eq_ci, position, position_ci, split, tokens, word};
use nestinit::text::{Arg, Line};
use std::ffi::{CStr, CString};

fuzz_target!(|data: &[u8]| {
    let Some((&cap, rest)) = data.split_first() else { return };
    // On the heap, exactly as long as the capacity: ASan sees any access past it.
    let mut buf = vec![0xa5u8; usize::from(cap)];
    let mut line = Line::new(&mut buf);
    let mut full: Vec<u8> = Vec::new();
    for record in rest.split(|&b| b == b'\n') {
        let Some((&op, payload)) = record.split_first() else { continue };
        match op {
            b'p' => {
                line.push(payload);
                full.extend_from_slice(payload);
            }
            b'f' => {
                let mut parts = payload.split(|&b| b == b'\t');
                let template = String::from_utf8_lossy(parts.next().unwrap_or(b"")).into_owned();
                let args: Vec<Arg<'_>> = parts.filter_map(arg).collect();
                line.fmt(&template, &args);
                full.extend(reference_fmt(&template, &args));
            }
            b'c' => check_cstr(payload),
            b's' => check_split(payload),
            b'q' => {
                let mut ab = payload.splitn(2, |&b| b == b'\t');
                let (a, b) = (ab.next().unwrap_or(b""), ab.next().unwrap_or(b""));
                assert_eq!(eq_ci(a, b), a.eq_ignore_ascii_case(b), "eq_ci");
            }
            b'w' => check_words(payload),
            _ => {}
        }
        check_line(&mut line, &full, usize::from(cap));
    }
    let want = (full.len() < usize::from(cap) && !full.contains(&0)).then_some(&full[..]);
    let cut = line.is_cut();
    let got = line.into_cstr().map(CStr::to_bytes);
    assert_eq!(got, want, "into_cstr");
    assert!(!cut || got.is_none(), "a cut line is no C string");
});

/// What fits of `full`, with `...` over its last bytes when it did not all fit.
fn check_line(line: &mut Line<'_>, full: &[u8], cap: usize) {
    let cut = full.len() > cap;
    assert_eq!(line.is_cut(), cut, "a cut is reported exactly when the text did not fit");
    let mut want = full[..full.len().min(cap)].to_vec();
    if cut {
        let start = cap.saturating_sub(3);
        want[start..].fill(b'.');
    }
    assert_eq!(line.as_bytes(), &want[..]);
}

fn arg(a: &[u8]) -> Option<Arg<'_>> {
    let (&kind, v) = a.split_first()?;
    let int = || -> i64 {
        match std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()) {
            Some(n) => n,
            None => {
                let mut b = [0u8; 8];
                let n = v.len().min(8);
                b[..n].copy_from_slice(&v[..n]);
                i64::from_le_bytes(b)
            }
        }
    };
    Some(match kind {
        b's' => Arg::Str(v),
        b'n' => Arg::Num(int()),
        b'g' => Arg::Sig(int() as i32),
        b'e' => Arg::Errno(int() as i32),
        _ => return None,
    })
}

/// Each `%` takes the next argument (nothing once they run out).
fn reference_fmt(template: &str, args: &[Arg<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut args = args.iter();
    let mut pieces = template.as_bytes().split(|&b| b == b'%');
    out.extend_from_slice(pieces.next().unwrap_or(b""));
    for piece in pieces {
        match args.next() {
            Some(Arg::Str(s)) => out.extend_from_slice(s),
            Some(Arg::Num(n)) => out.extend(n.to_string().bytes()),
            Some(&Arg::Sig(s)) => out.extend(signal(s).bytes()),
            Some(&Arg::Errno(n)) => out.extend(errno(n).bytes()),
            None => {}
        }
        out.extend_from_slice(piece);
    }
    out
}

fn signal(s: i32) -> String {
    match nestinit::signals::name(s) {
        Some(name) => format!("SIG{}", String::from_utf8_lossy(name)),
        None if s >= 34 => format!("SIGRTMIN+{}", s - 34),
        None => format!("signal {s}"),
    }
}

/// The errno names the messages use, by the kernel's numbers.
const ERRNO: [(u32, &str); 43] = [
    (e::EPERM, "EPERM"),
    (e::ENOENT, "ENOENT"),
    (e::ESRCH, "ESRCH"),
    (e::EINTR, "EINTR"),
    (e::EIO, "EIO"),
    (e::ENXIO, "ENXIO"),
    (e::E2BIG, "E2BIG"),
    (e::ENOEXEC, "ENOEXEC"),
    (e::EBADF, "EBADF"),
    (e::ECHILD, "ECHILD"),
    (e::EAGAIN, "EAGAIN"),
    (e::ENOMEM, "ENOMEM"),
    (e::EACCES, "EACCES"),
    (e::EFAULT, "EFAULT"),
    (e::ENOTBLK, "ENOTBLK"),
    (e::EBUSY, "EBUSY"),
    (e::EEXIST, "EEXIST"),
    (e::EXDEV, "EXDEV"),
    (e::ENODEV, "ENODEV"),
    (e::ENOTDIR, "ENOTDIR"),
    (e::EISDIR, "EISDIR"),
    (e::EINVAL, "EINVAL"),
    (e::ENFILE, "ENFILE"),
    (e::EMFILE, "EMFILE"),
    (e::ENOTTY, "ENOTTY"),
    (e::ETXTBSY, "ETXTBSY"),
    (e::EFBIG, "EFBIG"),
    (e::ENOSPC, "ENOSPC"),
    (e::ESPIPE, "ESPIPE"),
    (e::EROFS, "EROFS"),
    (e::EMLINK, "EMLINK"),
    (e::EPIPE, "EPIPE"),
    (e::EDOM, "EDOM"),
    (e::ERANGE, "ERANGE"),
    (e::EDEADLK, "EDEADLK"),
    (e::ENAMETOOLONG, "ENAMETOOLONG"),
    (e::ENOLCK, "ENOLCK"),
    (e::ENOSYS, "ENOSYS"),
    (e::ENOTEMPTY, "ENOTEMPTY"),
    (e::ELOOP, "ELOOP"),
    (e::ENODATA, "ENODATA"),
    (e::EOVERFLOW, "EOVERFLOW"),
    (e::EOPNOTSUPP, "EOPNOTSUPP"),
];

fn errno(n: i32) -> String {
    let known = ERRNO.iter().find(|&&(m, _)| i64::from(m) == i64::from(n)).map(|&(_, s)| s);
    assert_eq!(nestinit::errno::name(n), known.map(str::as_bytes), "errno::name({n})");
    known.map_or_else(|| format!("errno {n}"), str::to_string)
}

fn check_cstr(payload: &[u8]) {
    let want = CStr::from_bytes_until_nul(payload).unwrap_or(c"");
    assert_eq!(cstr_in(payload), want, "cstr_in");
    let Some((&n, rest)) = payload.split_first() else { return };
    let s = CString::new(rest.split(|&b| b == 0).next().unwrap_or(b"")).expect("no NUL");
    let n = usize::from(n);
    let tail = cstr_tail(&s, n);
    let bytes = s.as_bytes();
    assert_eq!(tail.to_bytes(), bytes.get(n..).unwrap_or(b""), "cstr_tail");
    if n <= bytes.len() {
        assert_eq!(tail.as_ptr() as usize, s.as_ptr() as usize + n, "a tail, not a copy");
    }
}

fn check_split(payload: &[u8]) {
    let Some((&sep, s)) = payload.split_first() else { return };
    let got: Vec<&[u8]> = split(s, sep).collect();
    let want: Vec<&[u8]> = s.split(|&b| b == sep).collect();
    assert_eq!(got, want, "split");
    let got: Vec<&[u8]> = tokens(s, sep).collect();
    let want: Vec<&[u8]> = want.into_iter().filter(|t| !t.is_empty()).collect();
    assert_eq!(got, want, "tokens");
}

const LIST: &str = "nested child chroot restart exit 0 false no 1 true yes";

fn check_words(name: &[u8]) {
    let words: Vec<&str> = LIST.split(' ').collect();
    assert_eq!(position(LIST, name), words.iter().position(|w| w.as_bytes() == name));
    let ci = words.iter().position(|w| w.as_bytes().eq_ignore_ascii_case(name));
    assert_eq!(position_ci(LIST, name), ci);
    for (i, w) in words.iter().enumerate() {
        assert_eq!(word(LIST, i), Some(w.as_bytes()));
    }
    assert_eq!(word(LIST, words.len() + usize::from(name.first().copied().unwrap_or(0))), None);
}
