//! Signal names and policy: `signals::parse` against a reference built from signal(7)'s
//! numbering, `name` round trips (also through a formatted `Arg::Sig`), `parse_int` against
//! std, and the stop policy's table.
//!
//! Input: byte 0 holds flags, bytes 1-4 a number (i32, little-endian), the rest a signal's
//! spelling.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nestinit::signals::{
    bit, is_stop_request, name, parse, parse_int, stop_signal, supervisor_mask, NEVER_BLOCKED,
    SIGINT, SIGPWR, SIGRTMAX, SIGRTMIN, SIGTERM,
};
use nestinit::text::{Arg, Line};

/// signal(7) on x86_64, aarch64, arm and riscv64, with the aliases.
const TABLE: [(&str, i32); 34] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
    ("IOT", 6),
    ("CLD", 17),
    ("POLL", 29),
];

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, a, b, c, d], text)) = data.split_first_chunk::<5>() else { return };
    let n = i32::from_le_bytes([a, b, c, d]);

    let got = parse(text);
    assert_eq!(got, reference(text), "parse {:?}", String::from_utf8_lossy(text));
    assert_eq!(parse(&text.to_ascii_uppercase()), got, "case matters");
    assert_eq!(parse(&text.to_ascii_lowercase()), got, "case matters");
    if let Some(s) = got {
        assert!((1..=SIGRTMAX).contains(&s));
        round_trip(s);
    }
    round_trip(n);

    let digits = !text.is_empty() && text.len() <= 9 && text.iter().all(u8::is_ascii_digit);
    let want = digits.then(|| std::str::from_utf8(text).ok()?.parse::<i32>().ok()).flatten();
    assert_eq!(parse_int(text), want, "parse_int");

    // The stop policy.
    let (systemd_like, machine) = (flags & 1 != 0, flags & 2 != 0);
    let configured = (flags & 4 != 0).then_some(got.unwrap_or(SIGTERM));
    let received = n;
    let stop = stop_signal(configured, received, systemd_like, machine);
    let want = if machine && systemd_like && received == SIGINT {
        SIGINT
    } else if machine && systemd_like && received == SIGPWR {
        SIGRTMIN + 4
    } else {
        configured.unwrap_or(if systemd_like { SIGRTMIN + 3 } else { received })
    };
    assert_eq!(stop, want, "stop_signal");
    let request = received == SIGTERM || received == SIGINT || (machine && received == SIGPWR);
    assert_eq!(is_stop_request(received, machine), request);
});

fn number(s: &[u8]) -> Option<i32> {
    let ok = !s.is_empty() && s.len() <= 9 && s.iter().all(u8::is_ascii_digit);
    ok.then(|| std::str::from_utf8(s).ok()?.parse().ok()).flatten()
}

/// Any case, an optional `SIG`; a number 1..=64; `RTMIN[+n]` and `RTMAX[-n]` within 34..=64.
fn reference(s: &[u8]) -> Option<i32> {
    let s = s.to_ascii_uppercase();
    let s = s.strip_prefix(b"SIG").unwrap_or(&s);
    if let Some(n) = number(s) {
        return (1..=64).contains(&n).then_some(n);
    }
    let rt = if let Some(rest) = s.strip_prefix(b"RTMIN") {
        match rest {
            [] => 34,
            [b'+', d @ ..] => 34 + number(d)?,
            _ => return None,
        }
    } else if let Some(rest) = s.strip_prefix(b"RTMAX") {
        match rest {
            [] => 64,
            [b'-', d @ ..] => 64 - number(d)?,
            _ => return None,
        }
    } else {
        return TABLE.iter().find(|(name, _)| name.as_bytes() == s).map(|&(_, n)| n);
    };
    (34..=64).contains(&rt).then_some(rt)
}

/// `name` knows the classic signals (not the aliases), and what it says parses back; a signal
/// formatted for a message parses back too.
fn round_trip(n: i32) {
    let want = TABLE[..31].iter().find(|&&(_, m)| m == n).map(|&(name, _)| name.as_bytes());
    assert_eq!(name(n), want, "name({n})");
    if let Some(name) = want {
        assert_eq!(parse(name), Some(n));
        let mut sig = b"sig".to_vec();
        sig.extend(name.to_ascii_lowercase());
        assert_eq!(parse(&sig), Some(n));
    }
    let mut buf = [0u8; 64];
    let mut line = Line::new(&mut buf);
    line.fmt("%", &[Arg::Sig(n)]);
    assert!(!line.is_cut());
    let text = line.as_bytes();
    match text.strip_prefix(b"signal ") {
        Some(num) => {
            assert!(n < SIGRTMIN && want.is_none(), "{n} as a bare number");
            assert_eq!(std::str::from_utf8(num).ok().and_then(|s| s.parse().ok()), Some(n));
        }
        None if (1..=SIGRTMAX).contains(&n) => assert_eq!(parse(text), Some(n), "{n}"),
        None => assert_eq!(parse(text), None, "{n} is no signal"),
    }
    if (1..=64).contains(&n) {
        assert_eq!(bit(n), 1u64 << (n - 1));
        assert_eq!(supervisor_mask() & bit(n) == 0, NEVER_BLOCKED.contains(&n));
    }
}
