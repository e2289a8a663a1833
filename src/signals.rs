//! Signal policy as data: names, what is never blocked, what a stop request becomes.

use crate::bytes::{eq_ci, position_ci, word};
// The decimal parser began here, with signal numbers; PIDs, descriptors and timeouts use it too.
pub use crate::bytes::parse_int;

/// Userspace SIGRTMIN: glibc and musl keep kernel signals 32 and 33 for themselves, so
/// `SIGRTMIN+3` (systemd's halt request) is 37 everywhere users write it.
pub const SIGRTMIN: i32 = 34;
/// Highest signal number on the architectures nestinit builds for.
pub const SIGRTMAX: i32 = 64;

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGSTOP: i32 = 19;
pub const SIGPWR: i32 = 30;

/// The classic signals by number (x86_64, aarch64, arm and riscv64 share these numbers).
/// Signal `n` is word `n - 1`.
const NAMES: &str = "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT \
    CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS";

/// Other names of classic signals, with their numbers below.
const ALIASES: &str = "IOT CLD POLL";
const ALIAS_NUMBERS: [i32; 3] = [6, 17, 29];

/// Synchronous fault signals stay unblocked in the supervisor: if nestinit itself faults, the
/// kernel must be able to kill it rather than loop on the faulting instruction (tini and
/// catatonit leave the same set unblocked).
pub const NEVER_BLOCKED: [i32; 6] = [4, 5, 7, 8, 11, 31]; // ILL TRAP BUS FPE SEGV SYS

/// The set the supervisor blocks: every signal but [`NEVER_BLOCKED`] (SIGKILL and SIGSTOP
/// cannot be blocked; the kernel ignores those bits).
pub fn supervisor_mask() -> u64 {
    let mut m = u64::MAX;
    for s in NEVER_BLOCKED {
        m &= !bit(s);
    }
    m
}

/// The bit of signal `sig` (1..=64) in a 64-bit signal set.
pub const fn bit(sig: i32) -> u64 {
    1u64 << ((sig - 1) as u32 & 63)
}

/// Parses a signal in any usual form: `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+3`,
/// `SIGRTMIN+3`, `RTMAX-2`. Returns the number, 1..=64.
pub fn parse(s: &[u8]) -> Option<i32> {
    let s = strip_prefix_ci(s, b"SIG").unwrap_or(s);
    if let Some(n) = parse_int(s) {
        return (1..=SIGRTMAX).contains(&n).then_some(n);
    }
    if let Some(rest) = strip_prefix_ci(s, b"RTMIN") {
        let n = match rest {
            [] => SIGRTMIN,
            [b'+', d @ ..] => SIGRTMIN + parse_int(d)?,
            _ => return None,
        };
        return (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n);
    }
    if let Some(rest) = strip_prefix_ci(s, b"RTMAX") {
        let n = match rest {
            [] => SIGRTMAX,
            [b'-', d @ ..] => SIGRTMAX - parse_int(d)?,
            _ => return None,
        };
        return (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n);
    }
    let by_alias = position_ci(ALIASES, s).and_then(|i| ALIAS_NUMBERS.get(i));
    by_alias.copied().or_else(|| position_ci(NAMES, s).map(|i| i as i32 + 1))
}

/// The name of a classic signal without its `SIG` prefix (`TERM`), or `None` for real-time and
/// unknown numbers (callers then print `RTMIN+n`).
pub fn name(sig: i32) -> Option<&'static [u8]> {
    usize::try_from(sig).ok()?.checked_sub(1).and_then(|i| word(NAMES, i))
}

fn strip_prefix_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    eq_ci(head, prefix).then(|| s.get(prefix.len()..).unwrap_or(&[]))
}

/// Whether a process looks like systemd from the `SigBlk:` and `SigCgt:` lines of its
/// `/proc/PID/status`: it blocks or catches SIGRTMIN+3, as LXC checks
/// (docs/design.md#systemd-signals).
pub fn handles_rtmin3(status: &[u8]) -> bool {
    let want = bit(SIGRTMIN + 3);
    [&b"SigBlk:"[..], b"SigCgt:"]
        .iter()
        .any(|key| crate::procfs::status_hex(status, key).is_some_and(|m| m & want != 0))
}

/// What a stop request to the supervisor becomes for the guest. `configured` is
/// `--stop-signal` (`None` = auto); auto picks SIGRTMIN+3 (halt) for a systemd-like guest and
/// passes the received signal on otherwise.
///
/// As a machine's PID 1 the kernel's conventions for init apply: SIGINT is Ctrl-Alt-Del and
/// asks for a reboot (systemd reboots on SIGINT itself), SIGPWR asks for a power-off (systemd:
/// SIGRTMIN+4); SIGTERM stops as in a container.
pub fn stop_signal(
    configured: Option<i32>,
    received: i32,
    systemd_like: bool,
    machine: bool,
) -> i32 {
    match (configured, received) {
        (_, SIGINT) if machine && systemd_like => SIGINT,
        (_, SIGPWR) if machine && systemd_like => SIGRTMIN + 4,
        (Some(s), _) => s,
        (None, _) if systemd_like => SIGRTMIN + 3,
        (None, _) => received,
    }
}

/// Whether a signal received by the supervisor is a stop request: SIGTERM and SIGINT, and
/// SIGPWR as a machine's PID 1 (sent by the kernel or a UPS daemon).
pub fn is_stop_request(sig: i32, machine: bool) -> bool {
    sig == SIGTERM || sig == SIGINT || (machine && sig == SIGPWR)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_usual_form() {
        for s in ["TERM", "SIGTERM", "sigterm", "15", "Term"] {
            assert_eq!(parse(s.as_bytes()), Some(15), "{s}");
        }
        assert_eq!(parse(b"RTMIN+3"), Some(37));
        assert_eq!(parse(b"SIGRTMIN+3"), Some(37));
        assert_eq!(parse(b"SIGRTMIN"), Some(34));
        assert_eq!(parse(b"RTMAX"), Some(64));
        assert_eq!(parse(b"RTMAX-1"), Some(63));
        assert_eq!(parse(b"64"), Some(64));
        assert_eq!(parse(b"SIGKILL"), Some(9));
        assert_eq!(parse(b"PWR"), Some(30));
        assert_eq!(parse(b"IOT"), Some(6));
    }

    #[test]
    fn rejects_bad_signals() {
        for s in
            ["", "0", "65", "SIG", "RTMIN+31", "RTMIN-1", "TERMX", "-15", "1234567890", "RTMAX+1"]
        {
            assert_eq!(parse(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn names_round_trip() {
        for n in 1..=31 {
            let name = name(n).unwrap();
            assert_eq!(parse(name), Some(n));
        }
        assert_eq!(name(37), None);
    }

    #[test]
    fn mask_keeps_faults_unblocked() {
        let m = supervisor_mask();
        assert_eq!(m & bit(11), 0);
        assert_ne!(m & bit(15), 0);
        assert_ne!(m & bit(37), 0);
        assert_ne!(m & bit(64), 0);
    }

    #[test]
    fn detects_systemd_like_status() {
        let systemd = b"Name:\tsystemd\nSigBlk:\t7be3c0fe28014a03\nSigIgn:\t0000000000001000\nSigCgt:\t00000001800004ec\n";
        assert!(handles_rtmin3(systemd));
        let caught = b"SigBlk:\t0000000000000000\nSigCgt:\t0000001000000000\n";
        assert!(handles_rtmin3(caught));
        let sh =
            b"SigBlk:\t0000000000000000\nSigIgn:\t0000001000000000\nSigCgt:\t0000000000010002\n";
        assert!(!handles_rtmin3(sh));
        assert!(!handles_rtmin3(b"garbage"));
    }

    #[test]
    fn stop_policy() {
        assert_eq!(stop_signal(None, SIGTERM, true, false), 37);
        assert_eq!(stop_signal(None, SIGTERM, false, false), SIGTERM);
        assert_eq!(stop_signal(None, SIGINT, false, false), SIGINT);
        assert_eq!(stop_signal(Some(10), SIGTERM, true, false), 10);
        assert_eq!(stop_signal(None, SIGINT, true, false), 37);
        // A machine's PID 1: Ctrl-Alt-Del reboots systemd, SIGPWR powers it off.
        assert_eq!(stop_signal(None, SIGINT, true, true), SIGINT);
        assert_eq!(stop_signal(None, SIGPWR, true, true), 38);
        assert_eq!(stop_signal(None, SIGTERM, true, true), 37);
        assert_eq!(stop_signal(None, SIGPWR, false, true), SIGPWR);
        assert!(is_stop_request(SIGPWR, true) && !is_stop_request(SIGPWR, false));
    }
}
