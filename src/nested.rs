//! `--mode nested` (the default) and `--mode chroot`.
//!
//! Nested: the supervisor clones a child into new mount and PID namespaces; the child carries
//! the container's mounts into the root volume, switches root, mounts a fresh `/proc` with the
//! container's masks and execs the guest init, which becomes PID 1 of the new namespace. The
//! supervisor then reads the guest's end: exit, crash, reboot (boot again or exit 133) or
//! power-off (exit 0).
//!
//! Chroot: the seed's namespace-less variant: bind the mounts into the root, chroot, and exec
//! the guest in place of nestinit.

use crate::guest::{self, Carry, Failed};
use crate::log;
use crate::machine;
use crate::rt::Vector;
use crate::spawn::{Env, Inherited};
use crate::supervise::{self, Event};
use crate::sys;
use core::ffi::CStr;
use nestinit::config::{env_lookup, Config};
use nestinit::exit::{self, code, GuestEnd, MachineAction, OnReboot, Verdict};
use nestinit::mountinfo::Table;
use nestinit::plan;
use rustix::fd::AsFd;
use rustix::io::Errno;

/// The guest init when no CMD is given.
const DEFAULT_INIT: [*const core::ffi::c_char; 2] = [c"/sbin/init".as_ptr(), core::ptr::null()];

fn command(cmd: Vector) -> Vector {
    if cmd.iter().next().is_some() {
        cmd
    } else {
        Vector::from_ptr(DEFAULT_INIT.as_ptr())
    }
}

/// The environment variables nestinit adds for the guest: `container=` (the runtime's value
/// kept, else `docker`: after the root switch systemd cannot see `/.dockerenv`, DESIGN.md
/// fact 9) and `container_uuid=`.
struct GuestVars {
    uuid: [u8; 52],
}

impl GuestVars {
    fn new(id: &[u8; 36]) -> GuestVars {
        let mut uuid = [0u8; 52];
        let prefix = b"container_uuid=";
        for (slot, b) in uuid.iter_mut().zip(prefix.iter().chain(id.iter())) {
            *slot = *b;
        }
        GuestVars { uuid }
    }

    fn env(&self, envp: Vector) -> Result<Env, i32> {
        let uuid = CStr::from_bytes_until_nul(&self.uuid).unwrap_or(c"container_uuid=");
        if env_lookup(envp.iter(), b"container").is_some() {
            Env::build(envp, &[uuid])
        } else {
            Env::build(envp, &[c"container=docker", uuid])
        }
    }
}

/// The normalised root path, or exit 2 for a relative or odd one.
fn normal_root<'b>(cfg: &Config<'_>, buf: &'b mut [u8]) -> Result<&'b [u8], i32> {
    plan::normalize(cfg.root.to_bytes(), buf).ok_or_else(|| {
        log::emit(log::ERROR, |m| {
            m.str("usage: bad --root '").push(cfg.root.to_bytes());
            m.str("': expected an absolute path without ..");
        });
        code::USAGE
    })
}

pub fn run(cfg: &Config<'_>, cmd: Vector, envp: Vector) -> i32 {
    let mut rootbuf = [0u8; crate::fsutil::PATH_MAX];
    let root = match normal_root(cfg, &mut rootbuf) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let (inherited, mut sup) = match supervise::start(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    sup.machine = machine::detect(cfg, supervise::is_pid1());
    if sup.machine {
        log::emit(log::NOTICE, |m| {
            m.str("machine mode: nestinit is the machine's PID 1");
        });
        machine::prepare();
    }
    let vars = GuestVars::new(&guest::uuid());
    let cmd = command(cmd);
    let mut boots: u32 = 0;
    loop {
        boots += 1;
        let pid = match launch(cfg, root, cmd, envp, &inherited, &vars) {
            Ok(pid) => pid,
            Err(_) if sup.machine => {
                log::emit(log::NOTICE, |m| {
                    m.str("the guest could not start: powering the machine off");
                });
                machine::act(MachineAction::PowerOff)
            }
            Err(c) => {
                sup.drain();
                return c;
            }
        };
        log::emit(log::NOTICE, |m| {
            m.str("guest started (pid ")
                .num(i64::from(pid))
                .str(", boot ")
                .num(i64::from(boots))
                .str(")");
        });
        sup.set_main(pid);
        if boots == 1 {
            supervise::leave_cwd();
        }
        let Event::Ended(ended) = sup.wait_main() else {
            continue;
        };
        let end = exit::classify_guest(ended);
        if sup.machine {
            let action = exit::machine_verdict(end, cfg.on_reboot, sup.requested);
            log_end(end, |m| {
                m.str(match action {
                    MachineAction::Restart => ": booting it again",
                    MachineAction::Reboot => ": rebooting the machine",
                    MachineAction::PowerOff => ": powering the machine off",
                });
            });
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
        log_end(end, |m| {
            match verdict {
                Verdict::Restart => m.str(": booting it again"),
                Verdict::Exit(c) => m.str(": exiting with status ").num(i64::from(c)),
            };
        });
        if let Verdict::Exit(c) = verdict {
            sup.drain();
            return c;
        }
    }
}

/// One lifecycle line: how the guest ended, then what `then` says happens next.
fn log_end(end: GuestEnd, then: impl FnOnce(&mut log::Msg)) {
    log::emit(log::NOTICE, |m| {
        match end {
            GuestEnd::Exited(n) => {
                m.str("guest exited with status ").num(i64::from(n));
            }
            GuestEnd::Crashed(s) => {
                m.str("guest killed by ");
                log::push_signal(m, s);
            }
            GuestEnd::Reboot => {
                m.str("guest rebooted");
            }
            GuestEnd::PowerOffOrHalt => {
                m.str("guest powered off or halted");
            }
        }
        then(m);
    });
}

/// Clones the guest into new mount and PID namespaces and waits until it has exec'd its init
/// (or failed: the child writes its exit code on a close-on-exec pipe, which an exec closes
/// silently). Returns the guest's PID, or the exit code of a failed setup.
fn launch(
    cfg: &Config<'_>,
    root: &[u8],
    cmd: Vector,
    envp: Vector,
    inherited: &Inherited,
    vars: &GuestVars,
) -> Result<i32, i32> {
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| {
        log::fail("pipe", e, "check the file descriptor limit");
        code::SETUP
    })?;
    let flags =
        u64::from(linux_raw_sys::general::CLONE_NEWNS | linux_raw_sys::general::CLONE_NEWPID);
    match sys::fork(flags, true) {
        Ok(sys::Forked::Child) => {
            drop(rd);
            let c = boot(cfg, root, cmd, envp, inherited, vars);
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
            let mut byte = [0u8; 1];
            let n = loop {
                match rustix::io::read(&rd, &mut byte) {
                    Err(Errno::INTR) => {}
                    other => break other,
                }
            };
            match n {
                Ok(1) => {
                    let _ = rustix::process::waitpid(
                        rustix::process::Pid::from_raw(pid),
                        rustix::process::WaitOptions::empty(),
                    );
                    Err(i32::from(byte[0]))
                }
                _ => Ok(pid),
            }
        }
        Err(e) => {
            let hint = match e {
                Errno::PERM => "new namespaces need CAP_SYS_ADMIN: run with --cap-add SYS_ADMIN (or --mode child)",
                Errno::NOSPC | Errno::USERS => "namespace limit reached: raise user.max_*_namespaces",
                _ => "check the pids limit and memory",
            };
            log::fail("clone namespaces", e, hint);
            Err(code::SETUP)
        }
    }
}

/// In the child, PID 1 of the new PID namespace: prepare the guest and exec its init.
/// Returns only on failure, with the exit code. Out of line: the mount table (about 270 KiB)
/// must live on the child's stack only; inlined, the supervisor's every start would touch it.
#[inline(never)]
fn boot(
    cfg: &Config<'_>,
    root: &[u8],
    cmd: Vector,
    envp: Vector,
    inherited: &Inherited,
    vars: &GuestVars,
) -> i32 {
    let mut table = Table::new();
    let env = match vars.env(envp) {
        Ok(env) => env,
        Err(c) => return c,
    };
    let boot_id = guest::uuid();
    let prepared = (|| -> Result<(), Failed> {
        // MS_MOVE fails with EINVAL under a shared parent (DESIGN.md fact 1).
        m_private()?;
        guest::read_mounts(&mut table)?;
        let masks = guest::proc_masks(&table)?;
        if root != b"/" {
            let mut rootc =
                crate::fsutil::PathBuf::new(&[root]).map_err(|_| Failed(code::SETUP))?;
            let rootc = rootc.as_cstr();
            // pivot_root needs a mount point: bind the root onto itself (recursively, keeping
            // the volume's own submounts) when it is a plain directory.
            if table.find(root).is_none() {
                guest::open_root(rootc)?;
                rustix::mount::mount_bind_recursive(rootc, rootc)
                    .map_err(|e| setup("bind root onto itself", root, e))?;
            }
            let rootfd = guest::open_root(rootc)?;
            guest::carry_mounts(&table, root, rootfd.as_fd(), Carry::Move)?;
            drop(guest::open_target(rootfd.as_fd(), b"/proc", true)?);
            guest::switch_root(rootfd.as_fd())?;
        }
        guest::mount_proc(&table, &masks)?;
        guest::mount_boot_id(&boot_id);
        Ok(())
    })();
    if let Err(Failed(c)) = prepared {
        return c;
    }
    guest::exec_guest(cfg, cmd, &env, envp, inherited)
}

fn m_private() -> Result<(), Failed> {
    use rustix::mount::{mount_change, MountPropagationFlags};
    mount_change(c"/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
        .map_err(|e| setup("make / private", b"", e))
}

fn setup(step: &str, subject: &[u8], e: Errno) -> Failed {
    log::fail_on(step, subject, e, "needs CAP_SYS_ADMIN; check the root volume");
    Failed(code::SETUP)
}

/// `--mode chroot`: bind the container's mounts into the root, bind `/proc`, chroot and exec
/// the guest in place of nestinit, so it becomes the container's PID 1. Returns only on
/// failure.
#[inline(never)]
pub fn chroot(cfg: &Config<'_>, cmd: Vector, envp: Vector) -> i32 {
    let mut rootbuf = [0u8; crate::fsutil::PATH_MAX];
    let root = match normal_root(cfg, &mut rootbuf) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let vars = GuestVars::new(&guest::uuid());
    let env = match vars.env(envp) {
        Ok(env) => env,
        Err(c) => return c,
    };
    // Nothing is blocked or reset in this mode: the guest inherits our state unchanged.
    let inherited = Inherited { mask: 0, chld_ignored: false };
    let inherited = match sys::sigprocmask(sys::How::SetMask, 0) {
        Ok(mask) => {
            let _ = sys::sigprocmask(sys::How::SetMask, mask);
            Inherited { mask, ..inherited }
        }
        Err(_) => inherited,
    };
    let mut table = Table::new();
    let prepared = (|| -> Result<(), Failed> {
        if root == b"/" {
            return Ok(());
        }
        guest::read_mounts(&mut table)?;
        let mut rootc = crate::fsutil::PathBuf::new(&[root]).map_err(|_| Failed(code::SETUP))?;
        let rootc = rootc.as_cstr();
        let rootfd = guest::open_root(rootc)?;
        guest::carry_mounts(&table, root, rootfd.as_fd(), Carry::Bind)?;
        let procfd = guest::open_target(rootfd.as_fd(), b"/proc", true)?;
        let tree = rustix::mount::open_tree(
            rustix::fs::CWD,
            c"/proc",
            rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
                | rustix::mount::OpenTreeFlags::AT_RECURSIVE
                | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )
        .map_err(|e| setup("bind /proc", b"", e))?;
        rustix::mount::move_mount(
            tree.as_fd(),
            c"",
            procfd.as_fd(),
            c"",
            rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
                | rustix::mount::MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
        )
        .map_err(|e| setup("bind /proc", b"", e))?;
        rustix::process::fchdir(rootfd.as_fd()).map_err(|e| setup("chdir", root, e))?;
        rustix::process::chroot(c".").map_err(|e| setup("chroot", root, e))?;
        rustix::process::chdir(c"/").map_err(|e| setup("chdir", b"/", e))
    })();
    if let Err(Failed(c)) = prepared {
        return c;
    }
    guest::exec_guest(cfg, command(cmd), &env, envp, &inherited)
}
