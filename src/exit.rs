//! Exit policy: a wait status in, an outcome out. The exit-status table of the contract
//! (docs/design.md#contract, the README's "Exit status") lives here.

use crate::signals::{SIGHUP, SIGINT};

/// Exit codes nestinit itself chooses (the rest come from the guest or command).
pub mod code {
    /// `exec`, `getshell`, `status`: no guest is running.
    pub const NO_GUEST: i32 = 3;
    /// Bad command line or environment.
    pub const USAGE: i32 = 2;
    /// Setup failed before the guest ran (namespaces, mounts, root switch).
    pub const SETUP: i32 = 125;
    /// The command exists but cannot be executed.
    pub const NOT_EXECUTABLE: i32 = 126;
    /// The command was not found.
    pub const NOT_FOUND: i32 = 127;
    /// The guest rebooted and `--on-reboot exit` was given.
    pub const REBOOT: i32 = 133;
}

/// How a child ended, from its wait status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Killed(i32),
}

impl Ended {
    /// Decodes a raw `wait4` status; `None` for stop and continue reports.
    pub fn from_wait_status(status: i32) -> Option<Ended> {
        let sig = status & 0x7f;
        if sig == 0 {
            Some(Ended::Exited((status >> 8) & 0xff))
        } else if sig != 0x7f && status & 0xffff != 0xffff {
            Some(Ended::Killed(sig))
        } else {
            None
        }
    }

    /// The shell convention: the exit code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            Ended::Exited(n) => n,
            Ended::Killed(s) => 128 + s,
        }
    }
}

/// What the end of a nested guest init means. `reboot(2)` inside a PID namespace kills its
/// init with SIGHUP for a restart and SIGINT for power-off or halt
/// (docs/design.md#reboot-in-pidns); the kernel does not tell power-off from halt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestEnd {
    Exited(i32),
    Crashed(i32),
    Reboot,
    PowerOffOrHalt,
}

pub fn classify_guest(ended: Ended) -> GuestEnd {
    match ended {
        Ended::Exited(n) => GuestEnd::Exited(n),
        Ended::Killed(SIGHUP) => GuestEnd::Reboot,
        Ended::Killed(SIGINT) => GuestEnd::PowerOffOrHalt,
        Ended::Killed(s) => GuestEnd::Crashed(s),
    }
}

/// `--on-reboot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnReboot {
    Restart,
    Exit,
}

/// What the supervisor does next in a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Exit(i32),
    Restart,
}

/// The container's exit-status table: guest exit N → N; killed by S → 128+S; power-off or halt
/// → 0; reboot → boot again, or 133 with `--on-reboot exit` (where a real 133 from the guest,
/// an exit with 133 or a death by SIGTRAP, becomes 1 so the two cannot be confused).
pub fn container_verdict(end: GuestEnd, on_reboot: OnReboot) -> Verdict {
    match (end, on_reboot) {
        (GuestEnd::Reboot, OnReboot::Restart) => Verdict::Restart,
        (GuestEnd::Reboot, OnReboot::Exit) => Verdict::Exit(code::REBOOT),
        (GuestEnd::PowerOffOrHalt, _) => Verdict::Exit(0),
        (GuestEnd::Exited(code::REBOOT), OnReboot::Exit) => Verdict::Exit(1),
        // 128 + SIGTRAP is 133 too: under `--on-reboot exit` only a reboot may say 133.
        (GuestEnd::Crashed(s), OnReboot::Exit) if 128 + s == code::REBOOT => Verdict::Exit(1),
        (GuestEnd::Exited(n), _) => Verdict::Exit(n),
        (GuestEnd::Crashed(s), _) => Verdict::Exit(128 + s),
    }
}

/// What a machine's PID 1 does next. It never exits: the kernel panics when init does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineAction {
    PowerOff,
    Reboot,
    /// Boot the guest again in place (`--on-reboot restart` after a guest reboot).
    Restart,
}

/// The machine's table: a guest power-off or halt powers the machine off (the kernel does not
/// tell halt from power-off); a guest reboot reboots the machine unless `--on-reboot restart`
/// was given; a guest that exits or crashes is logged and the machine powered off. A stop
/// request that ended the guest decides instead: Ctrl-Alt-Del (SIGINT) reboots, SIGTERM and
/// SIGPWR power off.
pub fn machine_verdict(
    end: GuestEnd,
    on_reboot: Option<OnReboot>,
    requested: Option<i32>,
) -> MachineAction {
    match (requested, end) {
        (Some(SIGINT), _) => MachineAction::Reboot,
        (Some(_), _) => MachineAction::PowerOff,
        (None, GuestEnd::Reboot) if on_reboot == Some(OnReboot::Restart) => MachineAction::Restart,
        (None, GuestEnd::Reboot) => MachineAction::Reboot,
        (None, _) => MachineAction::PowerOff,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn decodes_wait_status() {
        assert_eq!(Ended::from_wait_status(0), Some(Ended::Exited(0)));
        assert_eq!(Ended::from_wait_status(3 << 8), Some(Ended::Exited(3)));
        assert_eq!(Ended::from_wait_status(9), Some(Ended::Killed(9)));
        assert_eq!(Ended::from_wait_status(11 | 0x80), Some(Ended::Killed(11)));
        assert_eq!(Ended::from_wait_status(0x137f), None); // stopped by SIGSTOP
        assert_eq!(Ended::from_wait_status(0xffff), None); // continued
        assert_eq!(Ended::Killed(9).code(), 137);
        assert_eq!(Ended::Exited(3).code(), 3);
    }

    #[test]
    fn container_table() {
        let v = |e, r| container_verdict(classify_guest(e), r);
        assert_eq!(v(Ended::Exited(7), OnReboot::Restart), Verdict::Exit(7));
        assert_eq!(v(Ended::Killed(11), OnReboot::Restart), Verdict::Exit(139));
        assert_eq!(v(Ended::Killed(SIGHUP), OnReboot::Restart), Verdict::Restart);
        assert_eq!(v(Ended::Killed(SIGHUP), OnReboot::Exit), Verdict::Exit(133));
        assert_eq!(v(Ended::Killed(SIGINT), OnReboot::Exit), Verdict::Exit(0));
        assert_eq!(v(Ended::Exited(133), OnReboot::Exit), Verdict::Exit(1));
        assert_eq!(v(Ended::Exited(133), OnReboot::Restart), Verdict::Exit(133));
    }

    #[test]
    fn machine_table() {
        use MachineAction::*;
        let restart = Some(OnReboot::Restart);
        assert_eq!(machine_verdict(GuestEnd::PowerOffOrHalt, None, None), PowerOff);
        assert_eq!(machine_verdict(GuestEnd::Reboot, None, None), Reboot);
        assert_eq!(machine_verdict(GuestEnd::Reboot, Some(OnReboot::Exit), None), Reboot);
        assert_eq!(machine_verdict(GuestEnd::Reboot, restart, None), Restart);
        assert_eq!(machine_verdict(GuestEnd::Exited(0), restart, None), PowerOff);
        assert_eq!(machine_verdict(GuestEnd::Crashed(11), None, None), PowerOff);
        assert_eq!(machine_verdict(GuestEnd::Reboot, restart, Some(SIGINT)), Reboot);
        assert_eq!(machine_verdict(GuestEnd::Reboot, restart, Some(15)), PowerOff);
        assert_eq!(machine_verdict(GuestEnd::Crashed(9), None, Some(30)), PowerOff);
    }

    #[test]
    fn only_a_reboot_exits_133_under_on_reboot_exit() {
        let trap = GuestEnd::Crashed(5);
        assert_eq!(container_verdict(trap, OnReboot::Exit), Verdict::Exit(1));
        assert_eq!(container_verdict(trap, OnReboot::Restart), Verdict::Exit(133));
        assert_eq!(container_verdict(GuestEnd::Reboot, OnReboot::Exit), Verdict::Exit(133));
    }
}
