//! `/init exec`, `getshell` and `status`: find the running guest and enter it.
//!
//! The guest is the child of PID 1 that lives in another PID namespace, found from `/proc`
//! and pinned with a pidfd, so nothing is written to disk (a read-only root works) and a
//! recycled PID is never entered. Entering is where runtimes had their worst escapes (runc
//! CVE-2019-5736 through `/proc/PID/exe`, CVE-2024-21626 through a leaked descriptor), so the
//! process is non-dumpable before it joins, and the command gets only fds 0–2, the guest's
//! root as working directory and no more capabilities than the guest init has.

use crate::fsutil;
use crate::guest;
use crate::log;
use crate::log::{Failed, Step};
use crate::spawn::Inherited;
use crate::supervise::{Event, Supervisor};
use crate::sys;
use crate::vector::Vector;
use nestinit::config::{Action, Config};
use nestinit::exit::code;
use nestinit::notify::State;
use nestinit::procfs;
use nestinit::text::{self, Arg, Line};
use rustix::fd::{AsFd, OwnedFd};
use rustix::process::{Pid, PidfdFlags};
use rustix::thread::ThreadNameSpaceType as Ns;

/// The namespaces joined when they differ from ours, by their `/proc/PID/ns` names. The user
/// namespace goes first so that the others are joined with its privileges.
const NS_NAMES: &str = "user mnt pid uts ipc net cgroup";
const NAMESPACES: [Ns; 7] = [
    Ns::USER,
    Ns::MOUNT,
    Ns::PROCESS_ID,
    Ns::HOST_NAME_AND_NIS_DOMAIN_NAME,
    Ns::INTER_PROCESS_COMMUNICATION,
    Ns::NETWORK,
    Ns::CONTROL_GROUP,
];

/// A guest found and pinned.
struct Guest {
    pid: i32,
    pidfd: OwnedFd,
    stat: procfs::Stat,
}

/// The `(dev, ino)` identity of namespace `name` of `pid`, or of ours for 0.
fn ns_id(pid: i32, name: &[u8]) -> Option<(u64, u64)> {
    let who = if pid == 0 { Arg::Str(b"self") } else { Arg::Num(i64::from(pid)) };
    let mut path = [0u8; 48];
    let path = fsutil::path(&mut path, "/proc/%/ns/%", &[who, Arg::Str(name)]).ok()?;
    let st = rustix::fs::stat(path).ok()?;
    Some((st.st_dev, st.st_ino))
}

/// Whether `pid` is the guest: a child of PID 1 in another PID namespace than PID 1's, which
/// is ours (`exec` runs in the container). PID 1 is not asked: nested mode makes it
/// non-dumpable, and its `/proc/1/ns` is then closed to callers without CAP_SYS_PTRACE.
/// `Err` when a child of PID 1 is there but its namespace cannot be read: the caller lacks
/// the container's privileges, which is worth saying rather than "no guest".
fn is_guest(pid: i32) -> Step<Option<procfs::Stat>> {
    let mut buf = [0u8; 1024];
    let Some(stat) = fsutil::read_proc(pid, "stat", &mut buf).and_then(procfs::parse_stat) else {
        return Ok(None);
    };
    if stat.ppid != 1 || stat.state == b'Z' {
        return Ok(None);
    }
    // The boot process is in the guest's namespaces before its root is: not a guest yet.
    let mut comm = [0u8; 32];
    let boot = nestinit::notify::BOOT_COMM.to_bytes();
    let name = fsutil::read_proc(pid, "comm", &mut comm);
    if name.and_then(|n| n.strip_suffix(b"\n")) == Some(boot) {
        return Ok(None);
    }
    let mut path = [0u8; 48];
    let theirs = fsutil::path(&mut path, "/proc/%/ns/pid", &[Arg::Num(i64::from(pid))])
        .and_then(|p| rustix::fs::stat(p).map(|st| (st.st_dev, st.st_ino)));
    match theirs {
        Ok(id) => Ok((Some(id) != ns_id(0, b"pid")).then_some(stat)),
        Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => {
            log::say(
                log::ERROR,
                "read /proc/%/ns/pid: EACCES: run as root with the container's capabilities",
                &[Arg::Num(i64::from(pid))],
            );
            Err(Failed(code::SETUP))
        }
        Err(_) => Ok(None),
    }
}

/// Scans `/proc` for the guest and pins it with a pidfd, then checks again through the pinned
/// process: a PID recycled between the scan and `pidfd_open` is caught by the second look.
fn find_guest() -> Step<Option<Guest>> {
    let Ok(dir) = rustix::fs::open(
        c"/proc",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return Ok(None);
    };
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = rustix::fs::RawDir::new(dir, &mut buf);
    while let Some(entry) = entries.next() {
        let Ok(entry) = entry else { break };
        let Some(pid) = nestinit::signals::parse_int(entry.file_name().to_bytes()) else {
            continue;
        };
        if pid <= 1 || is_guest(pid)?.is_none() {
            continue;
        }
        let Some(p) = Pid::from_raw(pid) else { return Ok(None) };
        // A refused pidfd_open is no reason to say "no guest": name it.
        let pidfd = match rustix::process::pidfd_open(p, PidfdFlags::empty()) {
            Ok(fd) => fd,
            // Gone since the scan.
            Err(rustix::io::Errno::SRCH) => continue,
            Err(e) => {
                return Err(log::setup_failed(
                    e,
                    "pin the guest: pidfd_open: %: needs Linux 5.3 and a seccomp profile that \
                     allows it",
                ));
            }
        };
        return Ok(is_guest(pid)?.map(|stat| Guest { pid, pidfd, stat }));
    }
    Ok(None)
}

fn no_guest() -> i32 {
    log::say(
        log::ERROR,
        "no guest is running: start nestinit as the container's PID 1 (nested mode)",
        &[],
    );
    code::NO_GUEST
}

/// Out of line, like every mode's entry: the `/proc` scan's buffers must not sit on the stack
/// of `main`, which every mode touches.
#[inline(never)]
pub fn run(cfg: &Config<'_>, cmd: Vector, envp: Vector) -> i32 {
    if let Some(secs) = cfg.wait {
        if let Err(Failed(c)) = wait_ready(secs) {
            return c;
        }
    }
    let guest = match find_guest() {
        Ok(Some(g)) => g,
        Ok(None) => return no_guest(),
        Err(Failed(c)) => return c,
    };
    match cfg.action {
        Action::Status => status(&guest, cfg.ready),
        _ => enter(cfg, &guest, cmd, envp),
    }
}

/// The guest's state as PID 1 publishes it in its process name; `None` when PID 1 is not a
/// nested-mode nestinit. A name is what any process of the container can read, with no
/// socket to serve and nothing written to disk, and the guest can neither see nor change it.
fn state() -> Option<State> {
    let mut comm = [0u8; 32];
    fsutil::read_file(c"/proc/1/comm", &mut comm).ok().and_then(State::from_comm)
}

/// [`state`], where a guest that announces no readiness counts as ready once it runs: PID 1
/// publishes that only after it has seen the guest's exec.
fn state_of(guest: Option<&Guest>) -> Option<State> {
    match (state(), guest) {
        (Some(State::Starting), Some(g)) if !crate::host::announces_readiness(g.pid) => {
            Some(State::Ready)
        }
        (s, _) => s,
    }
}

/// `exec --wait`: waits at most `secs` for the guest to be ready, looking every 20 ms. No
/// wait when PID 1 publishes no state.
fn wait_ready(secs: u32) -> Step {
    let deadline = sys::monotonic_ns().saturating_add(u64::from(secs) * 1_000_000_000);
    loop {
        let now = match state() {
            Some(State::Starting) => state_of(find_guest().ok().flatten().as_ref()),
            s => s,
        };
        match now {
            Some(State::Ready) | None => return Ok(()),
            Some(s) if sys::monotonic_ns() >= deadline => {
                log::say(
                    log::ERROR,
                    "exec --wait: the guest is still % after % s: see /init status",
                    &[Arg::Str(s.word().as_bytes()), Arg::Num(i64::from(secs))],
                );
                return Err(Failed(code::NO_GUEST));
            }
            Some(_) => crate::supervise::pause(20_000_000),
        }
    }
}

/// `status`: PID, state, command, systemd-likeness and uptime of the guest. With `ready`,
/// exits 1 unless the guest is ready.
fn status(g: &Guest, ready: bool) -> i32 {
    let mut buf = [0u8; 1024];
    let mut out = Line::new(&mut buf);
    let state = state_of(Some(g));
    out.fmt("guest pid %\n", &[Arg::Num(i64::from(g.pid))]);
    if let Some(s) = state {
        out.fmt("state %\n", &[Arg::Str(s.word().as_bytes())]);
    }
    out.push(b"command ");
    let mut cmdline = [0u8; 512];
    match fsutil::read_proc(g.pid, "cmdline", &mut cmdline) {
        Some(c) => {
            // The guest chose its command line: escape sequences in it must not reach the
            // terminal of whoever runs `status`. Control bytes and backslashes are escaped.
            for (i, arg) in text::tokens(c, 0).enumerate() {
                out.push(if i > 0 { b" " } else { b"" });
                for &b in arg {
                    if b < 0x20 || b == 0x7f || b == b'\\' {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        let hex = |n: u8| HEX.get(usize::from(n & 15)).copied().unwrap_or(b'?');
                        out.push(&[b'\\', b'x', hex(b >> 4), hex(b)]);
                    } else {
                        out.push(&[b]);
                    }
                }
            }
        }
        None => {
            out.push(b"(long or unreadable)");
        }
    }
    let systemd = crate::supervise::is_systemd_like(g.pid);
    let secs = sys::boottime_ticks().saturating_sub(g.stat.start) / 100;
    out.fmt(
        "\nsystemd-like %\nuptime % s\n",
        &[Arg::Str(if systemd { b"yes" } else { b"no" }), Arg::Num(secs as i64)],
    );
    log::write_all(log::stdio(1), out.as_bytes());
    i32::from(ready && !matches!(state, Some(State::Ready) | None))
}

/// `exec` and `getshell`: join the guest's namespaces, fork (a PID namespace applies only to
/// children, docs/design.md#setns-pid), start the command in the child and relay signals
/// to it.
#[inline(never)]
fn enter(cfg: &Config<'_>, g: &Guest, cmd: Vector, envp: Vector) -> i32 {
    // Before anything of the guest is joined: a non-dumpable process cannot be ptraced or
    // have its /proc/PID/exe opened by the guest's processes.
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        log::fail(e, "mark non-dumpable: %: not entering the guest without it");
        return code::SETUP;
    }
    // The guest init's bounding set: the command never gets more than it.
    let mut status = [0u8; 4096];
    let guest_caps = fsutil::read_proc(g.pid, "status", &mut status)
        .and_then(|s| procfs::status_hex(s, b"CapBnd:"));
    let Some(guest_caps) = guest_caps else { return no_guest() };
    let guest_nnp = fsutil::read_proc(g.pid, "status", &mut status)
        .and_then(|s| procfs::status_hex(s, b"NoNewPrivs:"))
        .is_some_and(|v| v != 0);
    // No more than the guest init, settled before anything of the guest is joined: its
    // no_new_privs, its bounding set (our effective set is kept: joining needs it), and no
    // descriptor but 0-2 and the pidfd.
    if let Err(Failed(c)) = before_joining(cfg.drop_caps | !guest_caps, guest_nnp, &g.pidfd) {
        return c;
    }
    let mut join = Ns::empty();
    for (name, ns) in text::words(NS_NAMES).zip(NAMESPACES) {
        if ns_id(0, name) != ns_id(g.pid, name) {
            join |= ns;
        }
    }
    let inherited = match Inherited::capture() {
        Ok(i) => i,
        Err(e) => {
            log::fail(e, "block signals: %: check seccomp rules");
            return code::SETUP;
        }
    };
    match rustix::thread::move_into_thread_name_spaces(g.pidfd.as_fd(), join) {
        Ok(()) => {}
        // The guest ended (a reboot, a power-off) since it was found.
        Err(rustix::io::Errno::SRCH) => return no_guest(),
        Err(e) => {
            log::fail(e, "join the guest's namespaces: %: needs CAP_SYS_ADMIN and Linux 5.8+");
            return code::SETUP;
        }
    }
    // getshell: SHELL, else bash, else sh, as a login shell (`-l`).
    let shell = match cmd.iter().next() {
        Some(s) => s,
        None if rustix::fs::access(c"/bin/bash", rustix::fs::Access::EXEC_OK).is_ok() => {
            c"/bin/bash"
        }
        None => c"/bin/sh",
    };
    let shell_argv = [shell.as_ptr(), c"-l".as_ptr(), core::ptr::null()];
    // SAFETY: string literals or arguments from the kernel, in an array that outlives every use.
    let shell_argv = unsafe { Vector::from_ptr(shell_argv.as_ptr()) };
    let cmd = if cfg.action == Action::GetShell { shell_argv } else { cmd };
    let mut sup = Supervisor::relay();
    match sys::fork(0, false) {
        Ok(sys::Forked::Child) => {
            let c = match prepare_child() {
                Ok(()) => {
                    let drop = cfg.drop_caps | !guest_caps;
                    guest::exec_guest(cfg, drop, cmd, envp, None, &inherited)
                }
                Err(Failed(c)) => c,
            };
            sys::exit_group(c)
        }
        Ok(sys::Forked::Parent { pid, .. }) => sup.set_main(pid),
        // fork(2): ENOMEM in a PID namespace whose init has terminated: the guest rebooted
        // or stopped since it was joined.
        Err(rustix::io::Errno::NOMEM) => return no_guest(),
        Err(e) => {
            log::fail(e, "fork: %: check the guest's pids limit");
            return code::SETUP;
        }
    }
    match sup.wait_main() {
        Event::Ended(e) => e.code(),
        Event::StopRequested => 0,
    }
}

/// Lowers what the exec process could pass on before it joins the guest: `drop` from the
/// bounding set and the ambient set (the command's exec then cannot gain them), no_new_privs
/// when the guest init has it, and every descriptor above 2 but `keep` closed.
fn before_joining(drop: u64, nnp: bool, keep: &OwnedFd) -> Result<(), Failed> {
    use rustix::thread::{self as t, CapabilitySet};
    for n in 0..64 {
        if drop & (1u64 << n) != 0 {
            let cap = CapabilitySet::from_bits_retain(1u64 << n);
            match t::remove_capability_from_bounding_set(cap) {
                // EINVAL: a capability this kernel does not know.
                Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                Err(e) => {
                    log::fail(e, "drop capabilities: %: needs CAP_SETPCAP");
                    return Err(Failed(code::SETUP));
                }
            }
            let _ = t::configure_capability_in_ambient_set(cap, false);
        }
    }
    if nnp {
        if let Err(e) = t::set_no_new_privs(true) {
            log::fail(e, "no_new_privs: %: the kernel refused it");
            return Err(Failed(code::SETUP));
        }
    }
    if let Err(e) = sys::close_except(&[rustix::fd::AsRawFd::as_raw_fd(keep)]) {
        log::fail(e, "close inherited descriptors: %: check /proc");
        return Err(Failed(code::SETUP));
    }
    Ok(())
}

/// The child's working directory is the guest's root. Its descriptors were settled before
/// joining ([`before_joining`]): 0-2, and the pidfd, which is close-on-exec.
fn prepare_child() -> Step {
    rustix::process::chdir(c"/")
        .map_err(|e| log::setup_failed(e, "chdir / in the guest: %: check the guest's root"))
}
