//! `--mode nested` (the default): the supervisor clones a child into new mount and PID
//! namespaces; the child carries the container's mounts into the root volume, switches root,
//! mounts a fresh `/proc` with the container's masks and execs the guest init, which becomes
//! PID 1 of the new namespace. The supervisor then reads the guest's end: exit, crash, reboot
//! (boot again or exit 133) or power-off (exit 0). `--mode chroot` (src/chroot.rs) shares the
//! root and command helpers here.

use crate::cgroup;
use crate::fsutil::PATH_MAX;
use crate::guest::{self, Carry, Failed, Step};
use crate::log;
use crate::machine;
use crate::spawn::Inherited;
use crate::supervise::{self, Event};
use crate::sys;
use crate::vector::Vector;
use core::ffi::CStr;
use nestinit::config::Config;
use nestinit::exit::{self, code, GuestEnd, MachineAction, OnReboot, Verdict};
use nestinit::mountinfo::Table;
use nestinit::notify::{self, State, GUEST_SOCKET};
use nestinit::plan;
use nestinit::text::{Arg, Line};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;
use rustix::mount as m;

/// The guest init when no CMD is given.
const DEFAULT_INIT: [*const core::ffi::c_char; 2] = [c"/sbin/init".as_ptr(), core::ptr::null()];

pub(crate) fn command(cmd: Vector) -> Vector {
    if cmd.iter().next().is_some() {
        cmd
    } else {
        // SAFETY: a null-terminated array of string literals, promoted to a static.
        unsafe { Vector::from_ptr(DEFAULT_INIT.as_ptr()) }
    }
}

/// The guest's `container_uuid=` variable in `buf` (see [`crate::spawn::Env`]): one id for the
/// container's life, across guest reboots.
pub(crate) fn uuid_var<'b>(id: &[u8; 36], buf: &'b mut [u8; 52]) -> &'b CStr {
    let mut line = Line::new(buf);
    line.fmt("container_uuid=%", &[Arg::Str(id)]);
    // 15 + 36 bytes and the NUL always fit.
    line.into_cstr().unwrap_or(c"container_uuid=")
}

/// The normalised root path (`plan::normalize`) in `buf` as a C string, or exit 2 for a
/// relative or odd one.
pub(crate) fn normal_root<'b>(cfg: &Config<'_>, buf: &'b mut [u8]) -> Step<&'b CStr> {
    let mut line = Line::new(buf);
    if plan::normalize(cfg.root.to_bytes(), &mut line) {
        if let Some(root) = line.into_cstr() {
            return Ok(root);
        }
    }
    let accepted = Arg::Str(b"an absolute path without ..");
    log::say(
        log::ERROR,
        nestinit::config::USAGE_ERROR,
        &[Arg::Str(b"--root"), Arg::Str(cfg.root.to_bytes()), accepted],
    );
    Err(Failed(code::USAGE))
}

/// The supervisor of nested mode. Out of line, like every mode's entry: their buffers (the
/// root path here) must not sit on the stack of `main`, which every mode touches.
#[inline(never)]
pub fn run(cfg: &Config<'_>, cmd: Vector, envp: Vector) -> i32 {
    let mut rootbuf = [0u8; PATH_MAX];
    let root = match normal_root(cfg, &mut rootbuf) {
        Ok(r) => r,
        Err(Failed(c)) => return c,
    };
    let mut sup = match supervise::start(cfg) {
        Ok(s) => s,
        Err(Failed(c)) => return c,
    };
    // Non-dumpable, as runc makes its init before it joins a container: no process of the
    // guest (which may reach the container's /proc after a chroot fallback) may ptrace us or
    // write /proc/1/mem. The boot process inherits it; the guest's exec resets it.
    if let Err(e) =
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
    {
        log::fail(e, "mark non-dumpable: %: continuing");
    }
    sup.machine = machine::detect(cfg, sup.is_pid1);
    if sup.machine {
        log::say(log::NOTICE, "machine mode: PID 1 of the machine", &[]);
        machine::prepare();
    }
    let split =
        if sup.is_pid1 && !sup.machine && cgroup::unified() { cgroup::split() } else { None };
    let id = guest::uuid();
    let mut uuid = [0u8; 52];
    let uuid = uuid_var(&id, &mut uuid);
    let cmd = command(cmd);
    sup.guest_init = true;
    sup.outward = crate::host::Outward::from_env(envp);
    let mut boots: u32 = 0;
    loop {
        boots += 1;
        sup.publish(State::Starting);
        // This boot's notify socket; the previous one's goes with it.
        sup.notify = crate::host::socket()
            .map_err(|e| log::fail(e, "warning: notify socket: %: no readiness for this boot"))
            .ok();
        let payload = split.as_ref().and_then(|s| {
            s.fresh_payload()
                .map_err(|e| log::fail(e, "warning: cgroup2 payload: %: the guest shares ours"))
                .ok()
        });
        let notify = sup.notify.as_ref().map(AsFd::as_fd);
        let guest =
            Guest { cfg, root, cmd, envp, inherited: &sup.inherited, uuid, id: &id, notify };
        let pid = match launch(&guest, payload.as_ref(), sup.machine) {
            Ok(pid) => pid,
            Err(_) if sup.machine => {
                log::say(log::NOTICE, "the guest could not start: powering off", &[]);
                machine::act(MachineAction::PowerOff)
            }
            Err(Failed(c)) => {
                sup.drain();
                return c;
            }
        };
        log::say(
            log::NOTICE,
            "guest started (pid %, boot %)",
            &[Arg::Num(i64::from(pid)), Arg::Num(i64::from(boots))],
        );
        sup.set_main(pid);
        if boots == 1 {
            supervise::leave_cwd();
        }
        // The boot process bound the socket in the guest, or the guest has none.
        if sup.notify.as_ref().is_some_and(|s| !bound(s.as_fd())) {
            sup.notify = None;
        }
        if sup.notify.is_none() || !crate::host::announces_readiness(pid) {
            sup.publish(State::Ready);
        }
        let Event::Ended(ended) = sup.wait_main() else {
            continue;
        };
        let end = notify::end(exit::classify_guest(ended), &sup.said);
        if sup.machine {
            let action = exit::machine_verdict(end, cfg.on_reboot, sup.requested);
            let then = match action {
                MachineAction::Restart => "booting it again",
                MachineAction::Reboot => "rebooting the machine",
                MachineAction::PowerOff => "powering the machine off",
            };
            // After a stop request, its signal decided (Ctrl-Alt-Del reboots): say so.
            let requested = sup.requested.is_some() && action != MachineAction::Restart;
            log_end(end, then, Arg::Str(if requested { b" as requested" } else { b"" }));
            if action == MachineAction::Restart {
                continue;
            }
            sup.drain();
            machine::act(action)
        }
        // A reboot while a stop is under way ends the container rather than booting again.
        let on_reboot =
            if sup.stopping { OnReboot::Exit } else { cfg.on_reboot.unwrap_or(OnReboot::Restart) };
        let verdict = exit::container_verdict(end, on_reboot);
        match verdict {
            Verdict::Restart => log_end(end, "booting it again", Arg::Str(b"")),
            Verdict::Exit(c) => log_end(end, "exiting with status ", Arg::Num(i64::from(c))),
        }
        if let Verdict::Exit(c) = verdict {
            sup.drain();
            return c;
        }
    }
}

/// Whether the notify socket got an address (the boot process bound it in the guest).
fn bound(sock: BorrowedFd<'_>) -> bool {
    match rustix::net::getsockname(sock) {
        Ok(addr) => {
            addr.address_family() == rustix::net::AddressFamily::UNIX && {
                rustix::net::SocketAddrUnix::try_from(addr).is_ok_and(|a| !a.is_unnamed())
            }
        }
        Err(_) => false,
    }
}

/// One lifecycle line: how the guest ended, then what happens next (`then` and its value).
#[inline(never)]
fn log_end(end: GuestEnd, then: &str, value: Arg<'_>) {
    let (how, what) = match end {
        GuestEnd::Exited(n) => ("exited with status ", Arg::Num(i64::from(n))),
        GuestEnd::Crashed(s) => ("killed by ", Arg::Sig(s)),
        GuestEnd::Reboot => ("rebooted", Arg::Str(b"")),
        GuestEnd::PowerOffOrHalt => ("powered off or halted", Arg::Str(b"")),
    };
    log::say(
        log::NOTICE,
        "guest %%: %%",
        &[Arg::Str(how.as_bytes()), what, Arg::Str(then.as_bytes()), value],
    );
}

/// What every boot of the guest is made of.
#[derive(Clone, Copy)]
struct Guest<'a> {
    cfg: &'a Config<'a>,
    root: &'a CStr,
    cmd: Vector,
    envp: Vector,
    inherited: &'a Inherited,
    /// `container_uuid=` with [`Guest::id`].
    uuid: &'a CStr,
    id: &'a [u8; 36],
    /// The supervisor's end of the notify socket, for the boot process to bind in the guest.
    notify: Option<BorrowedFd<'a>>,
}

/// Clones the guest into new mount and PID namespaces and waits until it has exec'd its init
/// (or failed: the child writes its exit code on a close-on-exec pipe, which an exec closes
/// silently). Returns the guest's PID, or the exit code of a failed setup.
fn launch(guest: &Guest<'_>, payload: Option<&rustix::fd::OwnedFd>, machine: bool) -> Step<i32> {
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| log::setup_failed(e, "pipe: %: check the file descriptor limit"))?;
    // A cgroup namespace of its own too: runtimes that share the host's (podman kube play,
    // docker --cgroupns=host, Kubernetes on cgroup v1 nodes) would otherwise let systemd
    // mount cgroup2 with nsdelegate in the host's namespace, changing it for everyone, and
    // then exit 255. `exec` joins it like the other namespaces.
    // With a payload cgroup (cgroup v2), the child roots its namespace there itself.
    let cgroupns = if payload.is_some() { 0 } else { linux_raw_sys::general::CLONE_NEWCGROUP };
    let flags = u64::from(
        linux_raw_sys::general::CLONE_NEWNS | linux_raw_sys::general::CLONE_NEWPID | cgroupns,
    );
    // The child is born with the name: there is no moment where `exec` could take it for the
    // guest. Ours comes back right after the fork.
    let mut own = [0u8; 17];
    let own = crate::fsutil::read_file(c"/proc/thread-self/comm", &mut own);
    let _ = rustix::thread::set_name(nestinit::notify::BOOT_COMM);
    let forked = sys::fork(flags, true);
    if let Ok(sys::Forked::Parent { .. }) | Err(_) = forked {
        let mut name = [0u8; 17];
        let name = own.ok().and_then(|o| {
            crate::fsutil::path(&mut name, "%", &[Arg::Str(o.strip_suffix(b"\n").unwrap_or(o))])
                .ok()
        });
        let _ = rustix::thread::set_name(name.unwrap_or(c"init"));
    }
    match forked {
        Ok(sys::Forked::Child) => {
            drop(rd);
            let c = boot(guest, payload, wr.as_fd());
            log::write_all(wr.as_fd(), &[c as u8]);
            sys::exit_group(c)
        }
        Ok(sys::Forked::Parent { pid, pidfd }) => {
            drop(wr);
            // The pidfd pins the guest's identity; signals go by PID to our own child, which
            // cannot be recycled before we reap it, so it is only held, then closed.
            let _pidfd = pidfd.map(|fd| {
                // SAFETY: clone3 just returned this descriptor to us and nothing else owns it.
                unsafe { <rustix::fd::OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd) }
            });
            let outcome = await_exec(&rd, pid, machine);
            if let Started::Yes = outcome {
                return Ok(pid);
            }
            let status = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid),
                rustix::process::WaitOptions::empty(),
            );
            match outcome {
                Started::No(code) => Err(Failed(code)),
                _ => {
                    let end = status
                        .ok()
                        .flatten()
                        .and_then(|(_, st)| nestinit::exit::Ended::from_wait_status(st.as_raw()));
                    log::say(
                        log::ERROR,
                        "boot the guest: the boot process died before exec (status %): \
                         report this",
                        &[Arg::Num(i64::from(end.map_or(-1, |e| e.code())))],
                    );
                    Err(Failed(code::SETUP))
                }
            }
        }
        Err(e) => {
            log::fail(
                e,
                match e {
                    Errno::PERM => {
                        "clone namespaces: %: needs --cap-add SYS_ADMIN, or --mode child"
                    }
                    Errno::NOSPC | Errno::USERS => {
                        "clone namespaces: %: raise user.max_*_namespaces"
                    }
                    _ => "clone namespaces: %: check the pids limit and memory",
                },
            );
            Err(Failed(code::SETUP))
        }
    }
}

/// How a boot ended, as [`await_exec`] saw it.
enum Started {
    Yes,
    /// No guest: the exit status to give (a setup code, or 128+signal for a stop request).
    No(i32),
    /// The boot process died before it said anything.
    Died,
}

/// Waits for the boot process to say EXEC_NEXT and exec (end of file), or a failure code
/// (after EXEC_NEXT when the exec itself failed), or nothing at all (it died before it could
/// say, which is no started guest). A mount that hangs stalls nothing: the wait is in
/// `rt_sigtimedwait` for SIGIO (the pipe is readable) and the stop requests, which end the
/// setup (SIGKILL to the boot process, then 128+signal). Every other signal, SIGCHLD
/// included, stays pending, never dequeued, for the supervisor loop that forwards it to the
/// guest once it runs.
fn await_exec(rd: &rustix::fd::OwnedFd, pid: i32, machine: bool) -> Started {
    use nestinit::signals::{SIGINT, SIGPWR, SIGTERM};
    let bit = |sig: i32| 1u64 << (sig - 1);
    let stops = bit(SIGTERM) | bit(SIGINT) | if machine { bit(SIGPWR) } else { 0 };
    let wake = stops | bit(linux_raw_sys::general::SIGIO as i32);
    let asynchronous = sys::signal_when_readable(rd.as_fd()).is_ok();
    let mut said = [0u8; 2];
    let mut len = 0;
    while let Some(rest) = said.get_mut(len..).filter(|r| !r.is_empty()) {
        match rustix::io::read(rd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) if asynchronous => match sys::sigtimedwait(wake, None) {
                Ok(info) if stops & bit(info.signo) != 0 => {
                    log::say(
                        log::NOTICE,
                        "stop requested by % while the guest was being set up: ending the setup",
                        &[Arg::Sig(info.signo)],
                    );
                    let _ = sys::kill(pid, nestinit::signals::SIGKILL);
                    return Started::No(128 + info.signo);
                }
                _ => {}
            },
            Err(_) => break,
        }
    }
    // The pipe's own SIGIOs, not the guest's business.
    let now = linux_raw_sys::general::__kernel_timespec { tv_sec: 0, tv_nsec: 0 };
    while sys::sigtimedwait(bit(linux_raw_sys::general::SIGIO as i32), Some(&now)).is_ok() {}
    match said.get(..len) {
        Some([EXEC_NEXT]) => Started::Yes,
        Some([.., c]) => Started::No(i32::from(*c)),
        _ => Started::Died,
    }
}

/// What the boot process writes on the launch pipe right before the guest's exec.
const EXEC_NEXT: u8 = 0;

/// The mount table (about 280 KiB): in zeroed static memory, not on a stack (a boot process
/// under `ulimit -s 256` would die of it), and touched only by the boot process after the
/// fork (or by chroot mode, which has no other), so the supervisor never pays for its pages.
static mut TABLE: Table = Table::new();

/// The mount table for the one process that uses it.
///
/// # Safety
/// Only the boot process (or chroot mode) calls this, once, single-threaded.
pub(crate) unsafe fn table() -> &'static mut Table {
    // SAFETY: the caller is the only user of TABLE in its address space (see above).
    unsafe { &mut *core::ptr::addr_of_mut!(TABLE) }
}

/// In the child, PID 1 of the new PID namespace: prepare the guest and exec its init.
/// Returns only on failure, with the exit code. `said` is the launch pipe: EXEC_NEXT goes
/// there once nothing but the exec is left.
#[inline(never)]
fn boot(guest: &Guest<'_>, payload: Option<&rustix::fd::OwnedFd>, said: BorrowedFd<'_>) -> i32 {
    let Guest { cfg, root, cmd, envp, inherited, uuid, id, notify } = *guest;
    // SAFETY: the boot process, single-threaded, is the only user of the table.
    let table = unsafe { table() };
    let boot_id = guest::uuid();
    // Nothing of the supervisor's reaches the guest but 0-2 (a leaked descriptor of a host
    // directory is a way out of the root: CVE-2024-21626). Closed first, while /proc is the
    // container's: all that nestinit opens from here on is close-on-exec.
    let payload_fd = payload.map_or(-1, rustix::fd::AsRawFd::as_raw_fd);
    let notify_fd = notify.map_or(-1, |n| rustix::fd::AsRawFd::as_raw_fd(&n));
    let keep = [rustix::fd::AsRawFd::as_raw_fd(&said), payload_fd, notify_fd];
    if let Err(e) = sys::close_except(&keep) {
        log::fail(e, "close descriptors: %: not starting a guest that could inherit them");
        return code::SETUP;
    }
    let prepared = (|| -> Step {
        // MS_MOVE fails with EINVAL under a shared parent (docs/design.md#move-private).
        m::mount_change(c"/", m::MountPropagationFlags::PRIVATE | m::MountPropagationFlags::REC)
            .map_err(|e| {
                guest::mount_err(b"/", "mount", e, "make % private: %: needs CAP_SYS_ADMIN")
            })?;
        if let Some(p) = payload {
            if let Err(e) = cgroup::enter_payload(p.as_fd()) {
                log::fail(e, "warning: cgroup2 payload: %: the guest cannot delegate controllers");
            }
        }
        guest::read_mounts(table)?;
        let masks = guest::proc_masks(table)?;
        let carried = guest::clone_masks(table, &masks)?;
        if let Some(e) = guest::enter_root(table, root, Carry::Move)? {
            guest::mount_proc(table, &masks, carried, e.proc_dir, e.old_proc, &boot_id)?;
        }
        Ok(())
    })();
    if let Err(Failed(c)) = prepared {
        return c;
    }
    let socket = if crate::host::provide(notify, id) { GUEST_SOCKET } else { c"NOTIFY_SOCKET=" };
    log::write_all(said, &[EXEC_NEXT]);
    guest::exec_guest(cfg, cfg.drop_caps, cmd, envp, Some(&[uuid, socket]), inherited)
}
