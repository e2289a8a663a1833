//! The /proc readers: `parse_stat`, `is_child_of` and `status_hex` against references written
//! with std, and `signals::handles_rtmin3` in terms of `status_hex`.
//!
//! Input: byte 0 picks the key `status_hex` looks for (one of `KEYS`, or past them the first
//! line of the text); byte 1 the parent `is_child_of` asks about (even: the stat's own ppid, odd:
//! a small number); the rest is the file's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nestinit::procfs::{is_child_of, parse_stat, status_hex, Stat};
use nestinit::signals::handles_rtmin3;

const KEYS: [&[u8]; 6] = [b"SigBlk:", b"SigCgt:", b"SigIgn:", b"CapBnd:", b"CapEff:", b"Name:"];

fuzz_target!(|data: &[u8]| {
    let Some((&[pick, parent], text)) = data.split_first_chunk::<2>() else { return };
    let key = match KEYS.get(usize::from(pick)) {
        Some(key) => *key,
        None => text.split(|&b| b == b'\n').next().unwrap_or(b""),
    };

    let stat = reference_stat(text);
    assert_eq!(parse_stat(text), stat, "parse_stat");
    let parent = match parent % 2 {
        0 => stat.map_or(1, |s| s.ppid),
        _ => i32::from(parent / 2) - 8,
    };
    // A child of `parent` when field 4 says so.
    let want = stat.is_some_and(|s| s.ppid == parent);
    assert_eq!(is_child_of(text, parent), want, "is_child_of");
    assert_eq!(status_hex(text, key), reference_hex(text, key), "status_hex");
    let rtmin3 = 1u64 << 36;
    let want = [b"SigBlk:", b"SigCgt:"]
        .iter()
        .any(|key| reference_hex(text, &key[..]).is_some_and(|m| m & rtmin3 != 0));
    assert_eq!(handles_rtmin3(text), want, "handles_rtmin3");
});

/// A decimal field: ASCII whitespace around it, at most 19 digits.
fn decimal(s: &[u8]) -> Option<u64> {
    let s = s.trim_ascii();
    let ok = !s.is_empty() && s.len() <= 19 && s.iter().all(u8::is_ascii_digit);
    ok.then(|| std::str::from_utf8(s).ok()?.parse().ok()).flatten()
}

/// proc(5): `pid (comm) state ppid ... starttime ...`; comm may hold anything, so the fields
/// count from the last `)`; state is field 3, ppid 4, starttime 22.
fn reference_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&c| c == b')')?;
    let fields: Vec<&[u8]> =
        text[close + 1..].split(|&b| b == b' ').filter(|f| !f.is_empty()).collect();
    let state = *fields.first()?.first()?;
    let ppid = i32::try_from(decimal(fields.get(1)?)?).ok()?;
    let start = decimal(fields.get(19)?)?;
    Some(Stat { state, ppid, start })
}

/// The first line `key` starts that holds 1 to 16 hex digits (ASCII whitespace around them).
fn reference_hex(text: &[u8], key: &[u8]) -> Option<u64> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let v = line.strip_prefix(key)?.trim_ascii();
        let ok = !v.is_empty() && v.len() <= 16 && v.iter().all(u8::is_ascii_hexdigit);
        ok.then(|| u64::from_str_radix(std::str::from_utf8(v).ok()?, 16).ok()).flatten()
    })
}
