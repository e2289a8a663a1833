//! The exit policy: `Ended::from_wait_status` against glibc's `W*` macros, then the guest's end
//! and the container's and the machine's verdicts against the README's tables.
//!
//! Input: structured with `arbitrary`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nestinit::exit::{
    classify_guest, code, container_verdict, machine_verdict, Ended, GuestEnd, MachineAction,
    OnReboot, Verdict,
};
use nestinit::signals::{SIGHUP, SIGINT};

#[derive(Arbitrary, Debug)]
struct Input {
    status: i32,
    exit_on_reboot: bool,
    machine_on_reboot: Option<bool>,
    requested: Option<i32>,
    /// An end as `classify_guest` can give it: 0 exited (0..=255), 1 crashed (1..=126), 2
    /// reboot, 3 power-off.
    end: (u8, u8),
}

fn on_reboot(exit: bool) -> OnReboot {
    if exit {
        OnReboot::Exit
    } else {
        OnReboot::Restart
    }
}

fuzz_target!(|input: Input| {
    let st = input.status;
    // glibc's <bits/waitstatus.h>.
    let exited = st & 0x7f == 0;
    let signaled = (((st & 0x7f) + 1) as i8 >> 1) > 0;
    let want = if exited {
        Some(Ended::Exited((st & 0xff00) >> 8))
    } else if signaled {
        Some(Ended::Killed(st & 0x7f))
    } else {
        None
    };
    let ended = Ended::from_wait_status(st);
    assert_eq!(ended, want, "from_wait_status({st:#x})");

    if let Some(ended) = ended {
        let c = ended.code();
        match ended {
            Ended::Exited(n) => assert!((0..=255).contains(&n) && c == n),
            Ended::Killed(s) => assert!((1..=126).contains(&s) && c == 128 + s),
        }
        let end = classify_guest(ended);
        let want = match ended {
            Ended::Exited(n) => GuestEnd::Exited(n),
            Ended::Killed(SIGHUP) => GuestEnd::Reboot,
            Ended::Killed(SIGINT) => GuestEnd::PowerOffOrHalt,
            Ended::Killed(s) => GuestEnd::Crashed(s),
        };
        assert_eq!(end, want);
        for exit in [false, true] {
            let v = container_verdict(end, on_reboot(exit));
            let want = match end {
                GuestEnd::Reboot if exit => Verdict::Exit(code::REBOOT),
                GuestEnd::Reboot => Verdict::Restart,
                GuestEnd::PowerOffOrHalt => Verdict::Exit(0),
                GuestEnd::Exited(code::REBOOT) if exit => Verdict::Exit(1),
                GuestEnd::Crashed(s) if exit && 128 + s == code::REBOOT => Verdict::Exit(1),
                _ => Verdict::Exit(c),
            };
            assert_eq!(v, want, "container_verdict({end:?}, exit {exit})");
        }
    }

    let (tag, n) = input.end;
    let end = match tag % 4 {
        0 => GuestEnd::Exited(i32::from(n)),
        1 => GuestEnd::Crashed(i32::from(n % 126 + 1)),
        2 => GuestEnd::Reboot,
        _ => GuestEnd::PowerOffOrHalt,
    };
    let policy = on_reboot(input.exit_on_reboot);
    match container_verdict(end, policy) {
        // Under `--on-reboot exit` 133 means a reboot and nothing else.
        Verdict::Exit(code::REBOOT) if policy == OnReboot::Exit => {
            assert_eq!(end, GuestEnd::Reboot, "exit status 133 without a reboot")
        }
        Verdict::Restart => assert!(end == GuestEnd::Reboot && policy == OnReboot::Restart),
        Verdict::Exit(c) => match end {
            GuestEnd::Exited(m) if policy == OnReboot::Exit && m == code::REBOOT => {
                assert_eq!(c, 1)
            }
            GuestEnd::Exited(m) => assert_eq!(c, m),
            GuestEnd::Crashed(s) if policy == OnReboot::Exit && 128 + s == code::REBOOT => {
                assert_eq!(c, 1)
            }
            GuestEnd::Crashed(s) => assert_eq!(c, 128 + s),
            GuestEnd::PowerOffOrHalt => assert_eq!(c, 0),
            GuestEnd::Reboot => assert_eq!(c, code::REBOOT),
        },
    }

    let machine_policy = input.machine_on_reboot.map(on_reboot);
    let action = machine_verdict(end, machine_policy, input.requested);
    let want = match (input.requested, end) {
        (Some(SIGINT), _) => MachineAction::Reboot,
        (Some(_), _) => MachineAction::PowerOff,
        (None, GuestEnd::Reboot) if machine_policy == Some(OnReboot::Restart) => {
            MachineAction::Restart
        }
        (None, GuestEnd::Reboot) => MachineAction::Reboot,
        (None, _) => MachineAction::PowerOff,
    };
    assert_eq!(action, want, "machine_verdict");
});
