//! Reading `/proc/PID/stat` and `/proc/PID/status`, pure (the caller reads the files).

use crate::bytes::dec;

/// The fields of `/proc/PID/stat` that nestinit uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub state: u8,
    pub ppid: i32,
    /// Start time after boot, in clock ticks (1/100 s).
    pub start: u64,
}

/// Parses `/proc/PID/stat`. The command name (field 2) may hold spaces and parentheses, so
/// the fields are counted from the last `)` (proc(5)).
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&c| c == b')')?;
    let mut fields = crate::bytes::tokens(text.get(close + 1..)?, b' ');
    // After the name: 3 state, 4 ppid, ..., 22 starttime.
    let state = *fields.next()?.first()?;
    let ppid = dec(fields.next()?.trim_ascii(), 19)?;
    let start = dec(fields.nth(17)?.trim_ascii(), 19)?;
    Some(Stat { state, ppid: i32::try_from(ppid).ok()?, start })
}

/// Whether the process a `/proc/PID/stat` describes is a child of `parent` (field 4, proc(5)):
/// the `/proc` scan for our children, on kernels without `/proc/PID/task/TID/children`
/// (CONFIG_PROC_CHILDREN).
pub fn is_child_of(stat: &[u8], parent: i32) -> bool {
    parse_stat(stat).is_some_and(|s| s.ppid == parent)
}

/// A hexadecimal mask line of `/proc/PID/status`, such as `CapBnd:` or `SigBlk:`.
pub fn status_hex(status: &[u8], key: &[u8]) -> Option<u64> {
    crate::bytes::split(status, b'\n').find_map(|line| {
        let v = line.strip_prefix(key)?.trim_ascii();
        if v.is_empty() || v.len() > 16 {
            return None;
        }
        v.iter().try_fold(0u64, |m, &c| Some((m << 4) | u64::from((c as char).to_digit(16)?)))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_names() {
        let s = b"42 (sys temd) x) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 10 18446744073709551615";
        assert_eq!(parse_stat(s), Some(Stat { state: b'S', ppid: 1, start: 12345 }));
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"1 (a) S x"), None);
    }

    #[test]
    fn children_by_parent() {
        let tail = b"S 7 9 9 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 10 0";
        let stat = |head: &[u8]| [head, &tail[..]].concat();
        assert!(is_child_of(&stat(b"4242 (sleep) "), 7));
        assert!(!is_child_of(&stat(b"4242 (sleep) "), 8));
        // A name that looks like more fields: counted from the last ')'.
        assert!(is_child_of(&stat(b"31 (a) S 8 8 (b) "), 7));
        assert!(!is_child_of(&stat(b"31 (a) S 7 7 (b) "), 8));
        assert!(!is_child_of(&stat(b"31 (a) S -7 (b) "), -7));
        // Cut short before the fields parse_stat needs.
        assert!(!is_child_of(b"4242 (sleep) S 7", 7));
        assert!(!is_child_of(b"", 7));
    }

    #[test]
    fn status_masks() {
        let st = b"Name:\tsh\nCapBnd:\t000001ffffffffff\nSigBlk:\t0000000000000000\n";
        assert_eq!(status_hex(st, b"CapBnd:"), Some(0x1ff_ffff_ffff));
        assert_eq!(status_hex(st, b"SigBlk:"), Some(0));
        assert_eq!(status_hex(st, b"CapEff:"), None);
    }
}
