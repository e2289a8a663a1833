//! The command line and environment of the contract (docs/design.md#contract, the README's
//! "Command line").
//!
//! Every option also has an environment variable; the flag wins. Options end at `--` or at
//! the first argument that does not start with `-`, so everything from the guest init's path on
//! belongs to the guest. Parsing is pure: the caller passes argv and an environment lookup.

use crate::exit::OnReboot;
use crate::signals;
use crate::text;
use core::ffi::CStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Supervise,
    Exec,
    GetShell,
    Status,
    Help,
    Version,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Nested,
    Child,
    Chroot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config<'a> {
    pub action: Action,
    pub mode: Mode,
    pub root: &'a CStr,
    /// `None` is auto: SIGRTMIN+3 for a systemd-like child, else the signal received.
    pub stop_signal: Option<i32>,
    pub stop_timeout: u32,
    /// `None` when not given: restart in a container, reboot the machine in machine mode.
    pub on_reboot: Option<OnReboot>,
    /// Bit `n` set: drop capability `n`.
    pub drop_caps: u64,
    pub no_new_privs: bool,
    /// 0 errors, 1 + warnings and lifecycle, 2 info, 3 debug.
    pub verbosity: u8,
    /// `None`: detect whether nestinit is PID 1 of the initial PID namespace.
    pub machine: Option<bool>,
    /// `status --ready`: exit 0 only when the guest is ready.
    pub ready: bool,
    /// `exec --wait[=SECS]`: wait this long at most for the guest to be ready first.
    pub wait: Option<u32>,
    /// Index in argv of the first word of CMD (argv's length when there is none).
    pub cmd: usize,
}

/// How a [`UsageError`] is printed: what, the value, what is accepted.
pub const USAGE_ERROR: &str = "usage: bad % '%': expected % (see --help)";

/// A bad value: printed as `nestinit: usage: bad <what> '<value>': expected <accepted>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageError<'a> {
    pub what: &'a [u8],
    pub value: &'a [u8],
    pub accepted: &'static str,
}

pub const DEFAULT_ROOT: &CStr = c"/data00";
pub const DEFAULT_STOP_TIMEOUT: u32 = 10;
/// The longest `--stop-timeout` accepted: a day.
pub const MAX_STOP_TIMEOUT: u32 = 86_400;

/// Capability names by number, as capsh and `capabilities(7)` spell them.
pub const CAPS: &str = "chown dac_override dac_read_search fowner fsetid kill setgid setuid \
    setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner \
    sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource \
    sys_time sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin \
    syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore";
/// The number of capabilities [`CAPS`] names.
pub const CAP_COUNT: usize = 41;

const MODES: &str = "nested, child or chroot";
const ON_REBOOT: &str = "restart or exit";
const SIGNAL: &str = "a signal such as TERM, 15 or RTMIN+3, or auto";
const TIMEOUT: &str = "whole seconds from 0 to 86400";
/// How long `exec --wait` waits for readiness by default: systemd's own default start
/// timeout (DefaultTimeoutStartSec=, systemd-system.conf(5)).
pub const DEFAULT_WAIT: u32 = 90;
const CAPLIST: &str = "capabilities such as cap_sys_admin,cap_net_raw";
const VERBOSITY: &str = "0, 1, 2 or 3";
const BOOL: &str = "0 or 1";
const OPTION: &str = "an option from --help, or -- before the command";

/// The options that take a value, as data: word `n` of [`FLAGS`] and of [`VARS`] is option
/// `OPTS[n]`.
#[derive(Clone, Copy)]
enum Opt {
    Mode,
    Root,
    StopSignal,
    StopTimeout,
    OnReboot,
    DropCaps,
    NoNewPrivs,
    Verbosity,
    Machine,
}

const OPTS: [Opt; 10] = [
    Opt::Mode,
    Opt::Root,
    Opt::StopSignal,
    Opt::StopTimeout,
    Opt::OnReboot,
    Opt::DropCaps,
    Opt::NoNewPrivs,
    Opt::Verbosity,
    Opt::Machine,
    Opt::DropCaps,
];
/// The flags that take a value (the boolean settings have flags of their own, below).
const FLAGS: &str = "--mode --root --stop-signal --stop-timeout --on-reboot --drop-caps";
/// The variables, applied in this order before the flags override them. `INIT_DROP_CAP` is
/// the name of the same list in the bash `/init` nestinit grew from; both apply.
const VARS: &str = "NESTINIT_MODE NESTINIT_ROOT NESTINIT_STOP_SIGNAL NESTINIT_STOP_TIMEOUT \
    NESTINIT_ON_REBOOT NESTINIT_DROP_CAPS NESTINIT_NO_NEW_PRIVS NESTINIT_VERBOSITY \
    NESTINIT_MACHINE INIT_DROP_CAP";
/// The flags without a value; `parse` matches them by position.
const SWITCHES: &str =
    "-h --help -V --version --no-new-privs --machine --no-machine -q --quiet --verbose";
/// The subcommands, in the order of [`SUBCOMMANDS`].
const SUBCOMMAND_NAMES: &str = "exec getshell status";
const SUBCOMMANDS: [Action; 3] = [Action::Exec, Action::GetShell, Action::Status];

/// Looks `name` up in a `NAME=value` environment vector.
pub fn env_lookup<'a>(envp: impl IntoIterator<Item = &'a CStr>, name: &[u8]) -> Option<&'a CStr> {
    envp.into_iter().find_map(|entry| {
        let bytes = entry.to_bytes();
        (bytes.starts_with(name) && bytes.get(name.len()) == Some(&b'='))
            .then(|| text::cstr_tail(entry, name.len() + 1))
    })
}

/// Applies one option's value; `what` names it in an error (the flag or the variable).
fn set<'a>(
    cfg: &mut Config<'a>,
    opt: Opt,
    value: &'a CStr,
    what: &'a [u8],
) -> Result<(), UsageError<'a>> {
    let v = value.to_bytes();
    let done = match opt {
        Opt::Mode => {
            let modes = [Mode::Nested, Mode::Child, Mode::Chroot];
            let mode = text::position("nested child chroot", v).and_then(|n| modes.get(n));
            mode.map(|&m| cfg.mode = m).ok_or(MODES)
        }
        Opt::Root => {
            cfg.root = value;
            Ok(())
        }
        Opt::StopSignal => match signals::parse(v) {
            _ if text::eq_ci(v, b"auto") => {
                cfg.stop_signal = None;
                Ok(())
            }
            Some(signals::SIGKILL | signals::SIGSTOP | signals::SIGCHLD) => {
                Err("a signal other than KILL, STOP and CHLD")
            }
            Some(s) => {
                cfg.stop_signal = Some(s);
                Ok(())
            }
            None => Err(SIGNAL),
        },
        Opt::StopTimeout => match signals::parse_int(v.strip_suffix(b"s").unwrap_or(v)) {
            Some(n) if n <= MAX_STOP_TIMEOUT as i32 => {
                cfg.stop_timeout = n as u32;
                Ok(())
            }
            _ => Err(TIMEOUT),
        },
        Opt::OnReboot => {
            let choices = [OnReboot::Restart, OnReboot::Exit];
            let choice = text::position("restart exit", v).and_then(|n| choices.get(n));
            choice.map(|&c| cfg.on_reboot = Some(c)).ok_or(ON_REBOOT)
        }
        Opt::DropCaps => return parse_caps(v).map(|mask| cfg.drop_caps |= mask),
        // Words 3 and later are the true ones.
        Opt::NoNewPrivs | Opt::Machine => match text::position("0 false no 1 true yes", v) {
            Some(n) if matches!(opt, Opt::NoNewPrivs) => {
                cfg.no_new_privs = n > 2;
                Ok(())
            }
            Some(n) => {
                cfg.machine = Some(n > 2);
                Ok(())
            }
            None => Err(BOOL),
        },
        Opt::Verbosity => match v {
            [d @ b'0'..=b'3'] => {
                cfg.verbosity = d - b'0';
                Ok(())
            }
            _ => Err(VERBOSITY),
        },
    };
    done.map_err(|accepted| bad(what, v, accepted))
}

/// Parses argv (including argv[0]) and the environment (through `env`; empty values count as
/// unset) into a [`Config`].
///
/// Out of line: inlined into `main`, it costs more than the call.
#[inline(never)]
pub fn parse<'a, A, E>(args: A, env: E) -> Result<Config<'a>, UsageError<'a>>
where
    A: IntoIterator<Item = &'a CStr>,
    E: Fn(&[u8]) -> Option<&'a CStr>,
{
    let mut cfg = Config {
        action: Action::Supervise,
        mode: Mode::Nested,
        root: DEFAULT_ROOT,
        stop_signal: None,
        stop_timeout: DEFAULT_STOP_TIMEOUT,
        on_reboot: None,
        drop_caps: 0,
        no_new_privs: false,
        verbosity: 1,
        machine: None,
        ready: false,
        wait: None,
        cmd: usize::MAX,
    };
    for (var, &opt) in text::words(VARS).zip(OPTS.iter()) {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            set(&mut cfg, opt, v, var)?;
        }
    }

    // Each argument with its index in argv, from argv[1] on.
    let mut args = args.into_iter().enumerate();
    args.next();
    let mut next = args.next();
    // A subcommand is the first argument; its options follow it.
    let sub = next.and_then(|(_, a)| text::position(SUBCOMMAND_NAMES, a.to_bytes()));
    if let Some(&sub) = sub.and_then(|n| SUBCOMMANDS.get(n)) {
        cfg.action = sub;
        next = args.next();
    }

    let mut flag_verbosity: Option<u8> = None;
    while let Some((i, arg)) = next {
        next = args.next();
        let a = arg.to_bytes();
        if a == b"--" {
            cfg.cmd = i + 1;
            break;
        }
        if a.first() != Some(&b'-') || a == b"-" {
            cfg.cmd = i;
            break;
        }
        // `--name=value` or `--name value`.
        let (name, inline) = match a.iter().position(|&c| c == b'=') {
            Some(eq) if a.starts_with(b"--") => (a.get(..eq).unwrap_or(a), Some(eq + 1)),
            _ => (a, None),
        };
        if let Some(&opt) = text::position(FLAGS, name).and_then(|n| OPTS.get(n)) {
            // An inline `=value` is a suffix of a NUL-terminated argument: NUL-terminated too.
            let value = match inline {
                Some(start) => Some(text::cstr_tail(arg, start)),
                None => {
                    let value = next.map(|(_, v)| v);
                    next = args.next();
                    value
                }
            };
            let Some(value) = value else { return Err(bad(name, b"", "a value")) };
            set(&mut cfg, opt, value, name)?;
            continue;
        }
        // The subcommands' own options: `status --ready`, `exec --wait[=SECS]`.
        match (cfg.action, name) {
            (Action::Status, b"--ready") if inline.is_none() => {
                cfg.ready = true;
                continue;
            }
            (Action::Exec | Action::GetShell, b"--wait") => {
                let secs = inline.and_then(|start| a.get(start..));
                let secs = secs.map(|v| signals::parse_int(v.strip_suffix(b"s").unwrap_or(v)));
                cfg.wait = match secs {
                    None => Some(DEFAULT_WAIT),
                    Some(Some(n)) if n <= MAX_STOP_TIMEOUT as i32 => Some(n as u32),
                    Some(_) => return Err(bad(name, a.get(7..).unwrap_or(b""), TIMEOUT)),
                };
                continue;
            }
            _ => {}
        }
        if inline.is_some() {
            return Err(bad(b"option", a, OPTION));
        }
        // By position in SWITCHES.
        match text::position(SWITCHES, a) {
            Some(0 | 1) => cfg.action = Action::Help,
            Some(2 | 3) => cfg.action = Action::Version,
            Some(4) => cfg.no_new_privs = true,
            Some(5) => cfg.machine = Some(true),
            Some(6) => cfg.machine = Some(false),
            Some(7 | 8) => flag_verbosity = Some(0),
            found if found.is_some() || is_verbose_cluster(a) => {
                // --verbose, or -v, -vv, -vvv.
                // A cluster of 256 or more `v`s is as verbose as it gets, not 0 again.
                let vs = u8::try_from(a.len().saturating_sub(1)).unwrap_or(u8::MAX);
                let n = if found.is_some() { 1 } else { vs };
                flag_verbosity = Some(flag_verbosity.unwrap_or(1).saturating_add(n).min(3));
            }
            _ => return Err(bad(b"option", a, OPTION)),
        }
    }
    if let Some(v) = flag_verbosity {
        cfg.verbosity = v;
    }
    Ok(cfg)
}

/// The number of CMD words, given argc (`cfg.cmd` is `usize::MAX` without CMD).
pub fn cmd_len(cfg: &Config<'_>, argc: usize) -> usize {
    argc.saturating_sub(cfg.cmd.min(argc))
}

fn is_verbose_cluster(a: &[u8]) -> bool {
    a.len() >= 2
        && a.first() == Some(&b'-')
        && a.get(1..).is_some_and(|r| r.iter().all(|&c| c == b'v'))
}

fn bad<'a>(what: &'a [u8], value: &'a [u8], accepted: &'static str) -> UsageError<'a> {
    UsageError { what, value, accepted }
}

/// A capsh-style list: `cap_sys_admin,CAP_NET_RAW,sys_boot,21`. Returns a bit mask.
pub fn parse_caps(list: &[u8]) -> Result<u64, UsageError<'_>> {
    let mut mask = 0u64;
    for item in text::split(list, b',') {
        let item = item.trim_ascii();
        if item.is_empty() {
            continue;
        }
        let name = item
            .get(..4)
            .filter(|p| text::eq_ci(p, b"cap_"))
            .and_then(|_| item.get(4..))
            .unwrap_or(item);
        let n = match signals::parse_int(name) {
            Some(n) => usize::try_from(n).ok().filter(|&n| n < CAP_COUNT),
            None => text::position_ci(CAPS, name),
        };
        match n {
            Some(n) => mask |= 1u64 << n,
            None => return Err(bad(b"capability", item, CAPLIST)),
        }
    }
    Ok(mask)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Config<'static>, UsageError<'static>> {
        let args: Vec<&'static CStr> = args
            .iter()
            .map(|a| &*Box::leak(CString::new(*a).unwrap().into_boxed_c_str()))
            .collect();
        let env: Vec<(String, &'static CStr)> = env
            .iter()
            .map(|(k, v)| {
                (k.to_string(), &*Box::leak(CString::new(*v).unwrap().into_boxed_c_str()))
            })
            .collect();
        parse(args, move |name| env.iter().find(|(k, _)| k.as_bytes() == name).map(|(_, v)| *v))
    }

    #[test]
    fn defaults() {
        let c = run(&["/init"], &[]).unwrap();
        assert_eq!(c.action, Action::Supervise);
        assert_eq!(c.mode, Mode::Nested);
        assert_eq!(c.root, c"/data00");
        assert_eq!(c.stop_signal, None);
        assert_eq!(c.stop_timeout, 10);
        assert_eq!(c.on_reboot, None);
        assert_eq!(c.verbosity, 1);
        assert_eq!(cmd_len(&c, 1), 0);
    }

    #[test]
    fn options_end_at_first_command_word() {
        let c =
            run(&["/init", "--mode", "child", "/lib/systemd/systemd", "--log-level=debug"], &[])
                .unwrap();
        assert_eq!(c.mode, Mode::Child);
        assert_eq!(c.cmd, 3);
        assert_eq!(cmd_len(&c, 5), 2);
        let c = run(&["/init", "--", "--weird"], &[]).unwrap();
        assert_eq!(c.cmd, 2);
    }

    #[test]
    fn every_flag() {
        let c = run(
            &[
                "/init",
                "--mode=chroot",
                "--root",
                "/",
                "--stop-signal",
                "SIGRTMIN+3",
                "--stop-timeout=5",
                "--on-reboot",
                "exit",
                "--drop-caps",
                "cap_sys_admin,CAP_NET_RAW",
                "--no-new-privs",
                "-vv",
                "--machine",
                "sh",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.mode, Mode::Chroot);
        assert_eq!(c.root, c"/");
        assert_eq!(c.stop_signal, Some(37));
        assert_eq!(c.stop_timeout, 5);
        assert_eq!(c.on_reboot, Some(OnReboot::Exit));
        assert_eq!(c.drop_caps, (1 << 21) | (1 << 13));
        assert!(c.no_new_privs);
        assert_eq!(c.verbosity, 3);
        assert_eq!(c.machine, Some(true));
        assert_eq!(c.cmd, 14);
    }

    #[test]
    fn environment_and_flag_precedence() {
        let env = [
            ("NESTINIT_MODE", "child"),
            ("NESTINIT_ROOT", "/vol"),
            ("NESTINIT_STOP_SIGNAL", "USR1"),
            ("NESTINIT_STOP_TIMEOUT", "3"),
            ("NESTINIT_ON_REBOOT", "exit"),
            ("INIT_DROP_CAP", "cap_net_raw"),
            ("NESTINIT_DROP_CAPS", "sys_boot"),
            ("NESTINIT_NO_NEW_PRIVS", "1"),
            ("NESTINIT_VERBOSITY", "2"),
            ("NESTINIT_MACHINE", "0"),
        ];
        let c = run(&["/init"], &env).unwrap();
        assert_eq!(c.mode, Mode::Child);
        assert_eq!(c.root, c"/vol");
        assert_eq!(c.stop_signal, Some(10));
        assert_eq!(c.stop_timeout, 3);
        assert_eq!(c.on_reboot, Some(OnReboot::Exit));
        assert_eq!(c.drop_caps, (1 << 13) | (1 << 22));
        assert!(c.no_new_privs);
        assert_eq!(c.verbosity, 2);
        assert_eq!(c.machine, Some(false));
        let c = run(&["/init", "--mode", "nested", "--stop-timeout", "7", "-q"], &env).unwrap();
        assert_eq!(c.mode, Mode::Nested);
        assert_eq!(c.stop_timeout, 7);
        assert_eq!(c.verbosity, 0);
        // An empty variable counts as unset.
        let c = run(&["/init"], &[("NESTINIT_MODE", "")]).unwrap();
        assert_eq!(c.mode, Mode::Nested);
    }

    #[test]
    fn exec_waits_for_readiness() {
        let c = run(&["/init", "exec", "--wait", "systemctl", "is-system-running"], &[]).unwrap();
        assert_eq!((c.action, c.wait, c.cmd), (Action::Exec, Some(DEFAULT_WAIT), 3));
        let c = run(&["/init", "exec", "--wait=5", "true"], &[]).unwrap();
        assert_eq!((c.wait, c.cmd), (Some(5), 3));
        assert_eq!(run(&["/init", "exec", "--wait=30s", "true"], &[]).unwrap().wait, Some(30));
        assert_eq!(run(&["/init", "getshell", "--wait"], &[]).unwrap().wait, Some(DEFAULT_WAIT));
        assert_eq!(run(&["/init", "exec", "true"], &[]).unwrap().wait, None);
        let e = run(&["/init", "exec", "--wait=soon", "true"], &[]).unwrap_err();
        assert_eq!((e.what, e.value, e.accepted), (&b"--wait"[..], &b"soon"[..], TIMEOUT));
        assert!(run(&["/init", "exec", "--wait=86401", "true"], &[]).is_err());
        assert!(run(&["/init", "--wait", "/sbin/init"], &[]).is_err(), "--wait belongs to exec");
        assert!(run(&["/init", "status", "--wait"], &[]).is_err());
    }

    #[test]
    fn subcommands() {
        let c = run(&["/init", "exec", "systemctl", "status"], &[]).unwrap();
        assert_eq!(c.action, Action::Exec);
        assert_eq!(c.cmd, 2);
        let c = run(&["/init", "exec", "--drop-caps", "sys_admin", "--", "ls"], &[]).unwrap();
        assert_eq!(c.action, Action::Exec);
        assert_eq!(c.drop_caps, 1 << 21);
        assert_eq!(c.cmd, 5);
        let c = run(&["/init", "getshell"], &[]).unwrap();
        assert_eq!(c.action, Action::GetShell);
        assert_eq!(cmd_len(&c, 2), 0);
        assert_eq!(run(&["/init", "status"], &[]).unwrap().action, Action::Status);
        let c = run(&["/init", "status", "--ready"], &[]).unwrap();
        assert!(c.ready && c.action == Action::Status);
        assert!(run(&["/init", "--ready"], &[]).is_err(), "--ready belongs to status");
        assert!(run(&["/init", "exec", "--ready", "true"], &[]).is_err());
        assert_eq!(run(&["/init", "--help"], &[]).unwrap().action, Action::Help);
        assert_eq!(run(&["/init", "-V"], &[]).unwrap().action, Action::Version);
        // Only the first argument can be a subcommand: later it is the guest's command.
        let c = run(&["/init", "--mode", "child", "exec"], &[]).unwrap();
        assert_eq!(c.action, Action::Supervise);
        assert_eq!(c.cmd, 3);
    }

    #[test]
    fn bad_values_name_value_and_choices() {
        let e = run(&["/init", "--mode", "vm"], &[]).unwrap_err();
        assert_eq!((e.what, e.value), (&b"--mode"[..], &b"vm"[..]));
        assert!(e.accepted.contains("nested"));
        assert_eq!(
            run(&["/init", "--stop-signal", "TERMX"], &[]).unwrap_err().what,
            b"--stop-signal"
        );
        assert_eq!(
            run(&["/init", "--stop-signal", "KILL"], &[]).unwrap_err().what,
            b"--stop-signal"
        );
        assert_eq!(
            run(&["/init", "--stop-timeout", "-1"], &[]).unwrap_err().what,
            b"--stop-timeout"
        );
        assert_eq!(
            run(&["/init", "--stop-timeout", "86401"], &[]).unwrap_err().what,
            b"--stop-timeout"
        );
        assert_eq!(run(&["/init", "--on-reboot", "maybe"], &[]).unwrap_err().what, b"--on-reboot");
        let e = run(&["/init", "--drop-caps", "cap_sys_admin,cap_flying"], &[]).unwrap_err();
        assert_eq!((e.what, e.value), (&b"capability"[..], &b"cap_flying"[..]));
        assert_eq!(run(&["/init", "--bogus"], &[]).unwrap_err().value, b"--bogus");
        assert_eq!(run(&["/init", "--mode"], &[]).unwrap_err().what, b"--mode");
        assert_eq!(run(&["/init"], &[("NESTINIT_MODE", "x")]).unwrap_err().what, b"NESTINIT_MODE");
        assert_eq!(
            run(&["/init"], &[("NESTINIT_VERBOSITY", "9")]).unwrap_err().what,
            b"NESTINIT_VERBOSITY"
        );
        assert_eq!(run(&["/init", "--no-new-privs=1"], &[]).unwrap_err().what, b"option");
    }

    #[test]
    fn caps() {
        assert_eq!(parse_caps(b"").unwrap(), 0);
        assert_eq!(parse_caps(b"0,cap_checkpoint_restore").unwrap(), 1 | (1 << 40));
        assert!(parse_caps(b"41").is_err());
    }

    #[test]
    fn env_lookup_matches_whole_names() {
        let envp = [c"NESTINIT_MODEX=a", c"NESTINIT_MODE=child", c"PATH=/bin"];
        assert_eq!(env_lookup(envp, b"NESTINIT_MODE"), Some(c"child"));
        assert_eq!(env_lookup(envp, b"HOME"), None);
    }

    #[test]
    fn a_long_cluster_of_v_is_the_most_verbose() {
        for n in [255, 256, 257, 4000] {
            let v = format!("-{}", "v".repeat(n));
            let c = run(&["/init", &v, "--mode", "child"], &[]).unwrap();
            assert_eq!(c.verbosity, 3, "{n} v's");
        }
    }
}
