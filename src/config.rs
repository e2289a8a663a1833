//! The command line and environment of the contract (DESIGN.md "Command-line contract").
//!
//! Every option also has an environment variable; the flag wins. Options end at `--` or at
//! the first argument that does not start with `-`, so everything from the guest init's path on
//! belongs to the guest. Parsing is pure: the caller passes argv and an environment lookup.

use crate::exit::OnReboot;
use crate::signals;
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
    /// Index in argv of the first word of CMD (argv's length when there is none).
    pub cmd: usize,
}

/// A bad value: printed as `nestinit: usage: bad <what> '<value>': expected <accepted>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageError<'a> {
    pub what: &'static str,
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
const SIGNAL: &str = "a signal name or number such as TERM, SIGTERM, 15, RTMIN+3 or auto";
const TIMEOUT: &str = "whole seconds from 0 to 86400";
const CAPLIST: &str = "a comma-separated list of capabilities such as cap_sys_admin,cap_net_raw";
const VERBOSITY: &str = "0, 1, 2 or 3";
const BOOL: &str = "0 or 1";
const OPTION: &str = "an option from --help, or -- before a command that starts with -";

/// The options that take a value, as data: flag, environment variable, setting.
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

/// Flags and variables in the order the environment is applied (flags override it later).
/// An empty flag has no command-line form; a flag of the boolean settings takes no value.
const OPTIONS: [(&str, &str, Opt); 10] = [
    ("--mode", "NESTINIT_MODE", Opt::Mode),
    ("--root", "NESTINIT_ROOT", Opt::Root),
    ("--stop-signal", "NESTINIT_STOP_SIGNAL", Opt::StopSignal),
    ("--stop-timeout", "NESTINIT_STOP_TIMEOUT", Opt::StopTimeout),
    ("--on-reboot", "NESTINIT_ON_REBOOT", Opt::OnReboot),
    ("", "INIT_DROP_CAP", Opt::DropCaps),
    ("--drop-caps", "NESTINIT_DROP_CAPS", Opt::DropCaps),
    ("", "NESTINIT_NO_NEW_PRIVS", Opt::NoNewPrivs),
    ("", "NESTINIT_VERBOSITY", Opt::Verbosity),
    ("", "NESTINIT_MACHINE", Opt::Machine),
];

/// Looks `name` up in a `NAME=value` environment vector.
pub fn env_lookup<'a>(envp: impl IntoIterator<Item = &'a CStr>, name: &[u8]) -> Option<&'a CStr> {
    envp.into_iter().find_map(|entry| {
        let bytes = entry.to_bytes_with_nul();
        let rest = bytes.strip_prefix(name)?.strip_prefix(b"=")?;
        CStr::from_bytes_with_nul(rest).ok()
    })
}

/// Applies one option's value; `what` names it in an error (the flag or the variable).
fn set<'a>(
    cfg: &mut Config<'a>,
    opt: Opt,
    value: &'a CStr,
    what: &'static str,
) -> Result<(), UsageError<'a>> {
    let v = value.to_bytes();
    let err = |accepted| Err(bad(what, v, accepted));
    match opt {
        Opt::Mode => {
            cfg.mode = match v {
                b"nested" => Mode::Nested,
                b"child" => Mode::Child,
                b"chroot" => Mode::Chroot,
                _ => return err(MODES),
            }
        }
        Opt::Root => cfg.root = value,
        Opt::StopSignal => {
            cfg.stop_signal = match signals::parse(v) {
                _ if v.eq_ignore_ascii_case(b"auto") => None,
                Some(s)
                    if s != signals::SIGKILL && s != signals::SIGSTOP && s != signals::SIGCHLD =>
                {
                    Some(s)
                }
                Some(_) => return err("a signal other than KILL, STOP and CHLD"),
                None => return err(SIGNAL),
            }
        }
        Opt::StopTimeout => {
            cfg.stop_timeout = match signals::parse_int(v.strip_suffix(b"s").unwrap_or(v)) {
                Some(n) if (0..=MAX_STOP_TIMEOUT as i32).contains(&n) => n as u32,
                _ => return err(TIMEOUT),
            }
        }
        Opt::OnReboot => {
            cfg.on_reboot = Some(match v {
                b"restart" => OnReboot::Restart,
                b"exit" => OnReboot::Exit,
                _ => return err(ON_REBOOT),
            })
        }
        Opt::DropCaps => cfg.drop_caps |= parse_caps(v)?,
        Opt::NoNewPrivs | Opt::Machine => {
            let on = match v {
                b"1" | b"true" | b"yes" => true,
                b"0" | b"false" | b"no" => false,
                _ => return err(BOOL),
            };
            match opt {
                Opt::NoNewPrivs => cfg.no_new_privs = on,
                _ => cfg.machine = Some(on),
            }
        }
        Opt::Verbosity => {
            cfg.verbosity = match v {
                [d @ b'0'..=b'3'] => d - b'0',
                _ => return err(VERBOSITY),
            }
        }
    }
    Ok(())
}

/// Parses argv (including argv[0]) and the environment (through `env`; empty values count as
/// unset) into a [`Config`].
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
        cmd: usize::MAX,
    };
    for (_, var, opt) in OPTIONS {
        if let Some(v) = env(var.as_bytes()).filter(|v| !v.is_empty()) {
            set(&mut cfg, opt, v, var)?;
        }
    }

    let mut args = args.into_iter().enumerate().skip(1).peekable();
    // A subcommand is the first argument; its options follow it.
    let sub = match args.peek().map(|(_, a)| a.to_bytes()) {
        Some(b"exec") => Some(Action::Exec),
        Some(b"getshell") => Some(Action::GetShell),
        Some(b"status") => Some(Action::Status),
        _ => None,
    };
    if let Some(sub) = sub {
        cfg.action = sub;
        args.next();
    }

    let mut flag_verbosity: Option<u8> = None;
    while let Some((i, arg)) = args.next() {
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
            Some(eq) if a.starts_with(b"--") => (a.get(..eq).unwrap_or(a), a.get(eq + 1..)),
            _ => (a, None),
        };
        if let Some(&(flag, _, opt)) =
            OPTIONS.iter().find(|(f, _, _)| !f.is_empty() && f.as_bytes() == name)
        {
            // An inline `=value` is a suffix of a NUL-terminated argument: NUL-terminated too.
            let value = match inline {
                Some(v) => cstr_suffix(arg, v),
                None => args.next().map(|(_, v)| v),
            };
            set(&mut cfg, opt, value.ok_or(bad(flag, b"", "a value"))?, flag)?;
            continue;
        }
        if inline.is_some() {
            return Err(bad("option", a, OPTION));
        }
        match a {
            b"-h" | b"--help" => cfg.action = Action::Help,
            b"-V" | b"--version" => cfg.action = Action::Version,
            b"--no-new-privs" => cfg.no_new_privs = true,
            b"--machine" => cfg.machine = Some(true),
            b"--no-machine" => cfg.machine = Some(false),
            b"-q" | b"--quiet" => flag_verbosity = Some(0),
            _ if a == b"--verbose" || is_verbose_cluster(a) => {
                let n = if a == b"--verbose" { 1 } else { a.len().saturating_sub(1) as u8 };
                flag_verbosity = Some(flag_verbosity.unwrap_or(1).saturating_add(n).min(3));
            }
            _ => return Err(bad("option", a, OPTION)),
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

fn cstr_suffix<'a>(arg: &'a CStr, value: &[u8]) -> Option<&'a CStr> {
    let all = arg.to_bytes_with_nul();
    let start = all.len().checked_sub(value.len() + 1)?;
    CStr::from_bytes_with_nul(all.get(start..)?).ok()
}

fn bad<'a>(what: &'static str, value: &'a [u8], accepted: &'static str) -> UsageError<'a> {
    UsageError { what, value, accepted }
}

/// A capsh-style list: `cap_sys_admin,CAP_NET_RAW,sys_boot,21`. Returns a bit mask.
pub fn parse_caps(list: &[u8]) -> Result<u64, UsageError<'_>> {
    let mut mask = 0u64;
    for item in list.split(|&c| c == b',') {
        let item = item.trim_ascii();
        if item.is_empty() {
            continue;
        }
        let name = item
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case(b"cap_"))
            .and_then(|_| item.get(4..))
            .unwrap_or(item);
        let n = match signals::parse_int(name) {
            Some(n) => usize::try_from(n).ok().filter(|&n| n < CAP_COUNT),
            None => crate::text::position_ci(CAPS, name),
        };
        match n {
            Some(n) => mask |= 1u64 << n,
            None => return Err(bad("capability", item, CAPLIST)),
        }
    }
    Ok(mask)
}

#[cfg(test)]
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
        assert_eq!((e.what, e.value), ("--mode", &b"vm"[..]));
        assert!(e.accepted.contains("nested"));
        assert_eq!(
            run(&["/init", "--stop-signal", "TERMX"], &[]).unwrap_err().what,
            "--stop-signal"
        );
        assert_eq!(
            run(&["/init", "--stop-signal", "KILL"], &[]).unwrap_err().what,
            "--stop-signal"
        );
        assert_eq!(
            run(&["/init", "--stop-timeout", "-1"], &[]).unwrap_err().what,
            "--stop-timeout"
        );
        assert_eq!(
            run(&["/init", "--stop-timeout", "86401"], &[]).unwrap_err().what,
            "--stop-timeout"
        );
        assert_eq!(run(&["/init", "--on-reboot", "maybe"], &[]).unwrap_err().what, "--on-reboot");
        let e = run(&["/init", "--drop-caps", "cap_sys_admin,cap_flying"], &[]).unwrap_err();
        assert_eq!((e.what, e.value), ("capability", &b"cap_flying"[..]));
        assert_eq!(run(&["/init", "--bogus"], &[]).unwrap_err().value, b"--bogus");
        assert_eq!(run(&["/init", "--mode"], &[]).unwrap_err().what, "--mode");
        assert_eq!(run(&["/init"], &[("NESTINIT_MODE", "x")]).unwrap_err().what, "NESTINIT_MODE");
        assert_eq!(
            run(&["/init"], &[("NESTINIT_VERBOSITY", "9")]).unwrap_err().what,
            "NESTINIT_VERBOSITY"
        );
        assert_eq!(run(&["/init", "--no-new-privs=1"], &[]).unwrap_err().what, "option");
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
}
