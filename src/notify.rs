//! The guest's notify socket: what a message from the guest init says, and the readiness state
//! PID 1 publishes for `status` and `exec --wait`.
//!
//! A message is the `sd_notify(3)` protocol: one datagram of newline-separated `KEY=VALUE`
//! assignments. Besides the documented `READY=1`, `STOPPING=1`, `STATUS=` and `EXIT_STATUS=`,
//! systemd as a container's init sends `X_SYSTEMD_SHUTDOWN=reboot|poweroff|halt|kexec` right
//! before it goes down and `X_SYSTEMD_SIGNALS_LEVEL=2` once its signal handlers are in place
//! (systemd 257 does, 252 does not: docs/design.md#container-interface). Lines that mean
//! nothing here are ignored, as systemd ignores keys it does not know.

use crate::exit::GuestEnd;
use crate::signals::parse_int;
use core::ffi::CStr;

/// Where the socket is in the guest, as `NOTIFY_SOCKET` names it there.
pub const GUEST_SOCKET: &CStr = c"NOTIFY_SOCKET=/run/host/notify";

/// The boot process's name until the guest's exec replaces it: `exec` does not enter a guest
/// still being set up, and `status` does not describe it.
pub const BOOT_COMM: &CStr = c"nestinit-boot";

/// The guest as PID 1 knows it. PID 1 shows it as its own process name (`/proc/1/comm`), which
/// `status` and `exec --wait` read: see [`State::comm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Booting: the guest has not said `READY=1` yet.
    Starting,
    /// Up: `READY=1`, or at once for a guest that does not announce readiness.
    Ready,
    /// Going down: a stop request, or `STOPPING=1`.
    Stopping,
}

/// Each state with its process name (at most 15 bytes, the kernel's `TASK_COMM_LEN` less the
/// NUL) and its word in `status`.
const STATES: [(State, &CStr, &str); 3] = [
    (State::Starting, c"nestinit:start", "starting"),
    (State::Ready, c"nestinit:ready", "ready"),
    (State::Stopping, c"nestinit:stop", "stopping"),
];

impl State {
    /// PID 1's process name in this state.
    pub fn comm(self) -> &'static CStr {
        STATES.iter().find(|s| s.0 == self).map_or(c"nestinit", |s| s.1)
    }

    /// The state a process name (as `/proc/PID/comm` shows it, newline included) stands for;
    /// `None` when PID 1 is not a nested-mode nestinit.
    pub fn from_comm(comm: &[u8]) -> Option<State> {
        let comm = comm.strip_suffix(b"\n").unwrap_or(comm);
        STATES.iter().find(|s| s.1.to_bytes() == comm).map(|s| s.0)
    }

    /// The state's word in `status`.
    pub fn word(self) -> &'static str {
        STATES.iter().find(|s| s.0 == self).map_or("unknown", |s| s.2)
    }
}

/// What the guest init has said during this boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Said {
    pub ready: bool,
    pub stopping: bool,
    /// `X_SYSTEMD_SHUTDOWN=`: [`GuestEnd::Reboot`] or [`GuestEnd::PowerOffOrHalt`].
    pub shutdown: Option<GuestEnd>,
    /// `EXIT_STATUS=`, 0 to 255.
    pub exit_status: Option<i32>,
    /// `X_SYSTEMD_SIGNALS_LEVEL=`: 2 and up means the stop signals have handlers.
    pub signals_level: u32,
}

/// Folds one message into `said`; returns its `STATUS=` text, if any.
pub fn apply<'m>(msg: &'m [u8], said: &mut Said) -> Option<&'m [u8]> {
    let mut status = None;
    for line in crate::text::split(msg, b'\n') {
        let Some(eq) = line.iter().position(|&c| c == b'=') else { continue };
        let (key, value) = (line.get(..eq).unwrap_or(b""), line.get(eq + 1..).unwrap_or(b""));
        match key {
            b"READY" => said.ready |= value == b"1",
            b"STOPPING" => said.stopping |= value == b"1",
            b"STATUS" => status = Some(value),
            b"X_SYSTEMD_SHUTDOWN" => {
                said.shutdown = match value {
                    b"reboot" | b"kexec" => Some(GuestEnd::Reboot),
                    b"poweroff" | b"halt" => Some(GuestEnd::PowerOffOrHalt),
                    _ => None,
                }
            }
            b"EXIT_STATUS" => {
                said.exit_status =
                    parse_int(value).filter(|n| (0..=255).contains(n)).or(said.exit_status)
            }
            b"X_SYSTEMD_SIGNALS_LEVEL" => {
                said.signals_level = parse_int(value).map_or(said.signals_level, |n| n as u32)
            }
            _ => {}
        }
    }
    status
}

/// How the guest really ended, given what it said. systemd without CAP_SYS_BOOT cannot call
/// `reboot(2)` and exits 0 for a reboot and a power-off alike, having announced which; with the
/// capability the kernel's signal of death already tells them apart and wins. `systemctl
/// exit N` ends in an exit with N, announced as `EXIT_STATUS=N`.
pub fn end(end: GuestEnd, said: &Said) -> GuestEnd {
    match (end, said.shutdown, said.exit_status) {
        (GuestEnd::Exited(0), Some(announced), _) => announced,
        (GuestEnd::Exited(0), None, Some(n)) => GuestEnd::Exited(n),
        _ => end,
    }
}

/// Whether a PID-namespace init whose `/proc/PID/status` is `status` would get `sig` from us:
/// only when it blocks or catches it. The kernel drops any other signal but SIGKILL and
/// SIGSTOP sent to such an init, even from its parent namespace (pid_namespaces(7)): a stop
/// request sent before the guest set up its handlers would be lost.
pub fn takes(status: &[u8], sig: i32) -> bool {
    let want = crate::signals::bit(sig);
    [&b"SigBlk:"[..], b"SigCgt:"]
        .iter()
        .any(|key| crate::procfs::status_hex(status, key).is_some_and(|m| m & want != 0))
}

/// Whether a guest init whose executable is `exe` (as `/proc/PID/exe` names it) announces its
/// readiness: systemd does. Any other guest is ready once it runs, as with systemd-nspawn's
/// default `--notify-ready=no`.
pub fn announces_readiness(exe: &[u8]) -> bool {
    let exe = exe.strip_suffix(b" (deleted)").unwrap_or(exe);
    exe.rsplit(|&c| c == b'/').next() == Some(b"systemd")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_messages() {
        let mut said = Said::default();
        assert_eq!(apply(b"X_SYSTEMD_SIGNALS_LEVEL=2", &mut said), None);
        assert_eq!(said.signals_level, 2);
        let status = apply(b"READY=1\nSTATUS=Startup finished in 1.2s.", &mut said);
        assert_eq!(status, Some(&b"Startup finished in 1.2s."[..]));
        assert!(said.ready && !said.stopping);
        apply(b"STOPPING=1", &mut said);
        apply(b"X_SYSTEMD_SHUTDOWN=reboot\n", &mut said);
        assert!(said.stopping);
        assert_eq!(said.shutdown, Some(GuestEnd::Reboot));
        apply(b"X_SYSTEMD_SHUTDOWN=poweroff", &mut said);
        assert_eq!(said.shutdown, Some(GuestEnd::PowerOffOrHalt));
        apply(b"X_SYSTEMD_SHUTDOWN=halt", &mut said);
        assert_eq!(said.shutdown, Some(GuestEnd::PowerOffOrHalt));
        apply(b"X_SYSTEMD_SHUTDOWN=kexec", &mut said);
        assert_eq!(said.shutdown, Some(GuestEnd::Reboot));
        apply(b"X_SYSTEMD_SHUTDOWN=exit\nEXIT_STATUS=7", &mut said);
        assert_eq!((said.shutdown, said.exit_status), (None, Some(7)));
    }

    #[test]
    fn malformed_and_foreign_lines_change_nothing() {
        let mut said = Said::default();
        for msg in [
            &b""[..],
            b"\n\n",
            b"READY",
            b"READY=0",
            b"READY=11",
            b"ready=1",
            b"=1",
            b"EXIT_STATUS=256",
            b"EXIT_STATUS=-1",
            b"EXIT_STATUS=x",
            b"X_SYSTEMD_SIGNALS_LEVEL=two",
            b"X_SYSTEMD_SHUTDOWN=sideways",
            b"WATCHDOG=1\nFDSTORE=1\nMAINPID=4",
            b"\xff\x00READY=1",
        ] {
            assert_eq!(apply(msg, &mut said), None, "{msg:?}");
            assert_eq!(said, Said::default(), "{msg:?}");
        }
    }

    #[test]
    fn the_last_status_and_a_valid_exit_status_win() {
        let mut said = Said::default();
        assert_eq!(apply(b"STATUS=a\nSTATUS=b", &mut said), Some(&b"b"[..]));
        apply(b"EXIT_STATUS=3", &mut said);
        apply(b"EXIT_STATUS=300", &mut said);
        assert_eq!(said.exit_status, Some(3));
    }

    #[test]
    fn announced_end() {
        let said = |shutdown, exit_status| Said { shutdown, exit_status, ..Said::default() };
        let reboot = said(Some(GuestEnd::Reboot), None);
        let off = said(Some(GuestEnd::PowerOffOrHalt), None);
        // Without CAP_SYS_BOOT: exit 0 after the announcement.
        assert_eq!(end(GuestEnd::Exited(0), &reboot), GuestEnd::Reboot);
        assert_eq!(end(GuestEnd::Exited(0), &off), GuestEnd::PowerOffOrHalt);
        // With it, the signal of death decides; a failure stays a failure.
        assert_eq!(end(GuestEnd::PowerOffOrHalt, &reboot), GuestEnd::PowerOffOrHalt);
        assert_eq!(end(GuestEnd::Exited(1), &reboot), GuestEnd::Exited(1));
        assert_eq!(end(GuestEnd::Crashed(11), &off), GuestEnd::Crashed(11));
        assert_eq!(end(GuestEnd::Exited(0), &said(None, Some(4))), GuestEnd::Exited(4));
        assert_eq!(end(GuestEnd::Exited(5), &said(None, Some(4))), GuestEnd::Exited(5));
        assert_eq!(end(GuestEnd::Exited(0), &Said::default()), GuestEnd::Exited(0));
    }

    #[test]
    fn states_round_trip_through_the_process_name() {
        for s in [State::Starting, State::Ready, State::Stopping] {
            assert!(s.comm().to_bytes().len() <= 15);
            let mut comm = s.comm().to_bytes().to_vec();
            comm.push(b'\n');
            assert_eq!(State::from_comm(&comm), Some(s));
        }
        assert_eq!(State::from_comm(b"init\n"), None);
        assert_eq!(State::from_comm(b"nestinit-boot\n"), None);
        assert_eq!(State::Ready.word(), "ready");
    }

    #[test]
    fn a_signal_reaches_an_init_that_blocks_or_catches_it() {
        let status = b"SigQ:\t0/1\nSigPnd:\t0\nSigBlk:\t0000000000004000\nSigIgn:\t0\nSigCgt:\t0000000200000002\n";
        assert!(takes(status, 15), "blocked");
        assert!(takes(status, 2), "caught");
        assert!(takes(status, 34), "caught RT");
        assert!(!takes(status, 1));
        assert!(!takes(status, 37));
        assert!(!takes(b"", 15));
    }

    #[test]
    fn systemd_announces_readiness() {
        assert!(announces_readiness(b"/usr/lib/systemd/systemd"));
        assert!(announces_readiness(b"/lib/systemd/systemd (deleted)"));
        assert!(!announces_readiness(b"/bin/busybox"));
        assert!(!announces_readiness(b"/usr/lib/systemd/systemd-shutdown"));
        assert!(!announces_readiness(b""));
    }
}
