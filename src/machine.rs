//! Machine mode: nestinit as the first process of a VM or board (`/init` of an initramfs).
//!
//! A PID 1 that exits panics the kernel, so this mode never returns: the guest's end becomes
//! the machine's power-off or reboot. Before the guest runs, nestinit mounts what a container
//! runtime would otherwise have provided.

use crate::log;
use crate::sys;
use nestinit::config::Config;
use nestinit::exit::MachineAction;
use nestinit::text::Arg;
use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;
use rustix::mount::{self as m, MountFlags};

/// Whether nestinit is a machine's PID 1: PID 1 of the initial PID namespace
/// ([`in_initial_pid_ns`]). `--machine` / `--no-machine` force it, but never make a process
/// that is not PID 1 a machine's init: it would power off the machine it runs on.
pub fn detect(cfg: &Config<'_>, pid1: bool) -> bool {
    match cfg.machine {
        Some(true) if !pid1 => {
            log::say(log::NOTICE, "warning: --machine: not PID 1: ignored", &[]);
            false
        }
        Some(forced) => forced,
        None => pid1 && in_initial_pid_ns(),
    }
}

/// Whether we run in the initial PID namespace. `NSpid` in `/proc/self/status` cannot tell:
/// runtimes mount `/proc` inside the container's PID namespace, where it lists one PID as on a
/// machine. The initial PID namespace has a fixed inode number instead (PROC_PID_INIT_INO,
/// include/linux/proc_ns.h). A kernel-started init has no `/proc` yet, and a `/proc` of
/// another PID namespace has no `self`: a proc of our own, attached nowhere (fsopen(2)),
/// answers then. No answer means no machine.
fn in_initial_pid_ns() -> bool {
    const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
    let ns = c"self/ns/pid";
    let st = rustix::fs::stat(c"/proc/self/ns/pid").or_else(|_| {
        let fs = m::fsopen(c"proc", m::FsOpenFlags::FSOPEN_CLOEXEC)?;
        m::fsconfig_create(&fs)?;
        let proc = m::fsmount(&fs, m::FsMountFlags::FSMOUNT_CLOEXEC, m::MountAttrFlags::empty())?;
        rustix::fs::statat(&proc, ns, AtFlags::empty())
    });
    st.is_ok_and(|st| st.st_ino == PROC_PID_INIT_INO)
}

/// Every end of nestinit comes here. The kernel panics when the machine's PID 1 exits
/// ("Attempted to kill init!", kernel/exit.c), whatever the mode and the reason (a usage
/// error, `--help`, `--mode child`, `exec`, an internal error, `--no-machine`): that PID 1 says
/// so and powers the machine off instead.
pub fn exit(code: i32) -> ! {
    if crate::supervise::is_pid1() && in_initial_pid_ns() {
        log::say(
            log::ERROR,
            "machine mode: PID 1 must not exit (status %): powering the machine off",
            &[Arg::Num(i64::from(code))],
        );
        act(MachineAction::PowerOff)
    }
    sys::exit_group(code)
}

/// What the kernel leaves to init, mounted where nothing is yet: source, target, type and data
/// of each mount, as C strings one after another (a table of `&CStr` would cost 64 bytes a
/// row), with its flags in [`MOUNT_FLAGS`]. cgroup2 last: it needs /sys.
const MOUNTS: &[u8] = b"\
    proc\0/proc\0proc\0\0\
    sysfs\0/sys\0sysfs\0\0\
    devtmpfs\0/dev\0devtmpfs\0mode=755\0\
    devpts\0/dev/pts\0devpts\0gid=5,mode=620,ptmxmode=666\0\
    tmpfs\0/dev/shm\0tmpfs\0mode=1777\0\
    tmpfs\0/run\0tmpfs\0mode=755\0\
    tmpfs\0/tmp\0tmpfs\0mode=1777\0\
    cgroup2\0/sys/fs/cgroup\0cgroup2\0\0";
const MOUNT_FLAGS: [u32; 8] = [
    NOSUID_NODEV_NOEXEC,
    NOSUID_NODEV_NOEXEC,
    NOSUID,
    NOSUID | NOEXEC,
    NOSUID_NODEV,
    NOSUID_NODEV,
    NOSUID_NODEV,
    NOSUID_NODEV_NOEXEC,
];

const NOSUID: u32 = MountFlags::NOSUID.bits();
const NOEXEC: u32 = MountFlags::NOEXEC.bits();
const NOSUID_NODEV: u32 = NOSUID | MountFlags::NODEV.bits();
const NOSUID_NODEV_NOEXEC: u32 = NOSUID_NODEV | NOEXEC;

/// Mounts `/proc`, `/sys`, `/dev` (with `/dev/pts` and `/dev/shm`), `/run`, `/tmp` and cgroup2
/// where they are missing, gives PID 1 a console on fds 0–2 when the kernel could not, and
/// makes Ctrl-Alt-Del a SIGINT to us rather than an immediate reboot. Failures only warn: the
/// guest may not need everything.
pub fn prepare() {
    let mut rest = MOUNTS;
    let mut next = || {
        let s = nestinit::text::cstr_in(rest);
        rest = rest.get(s.to_bytes().len() + 1..).unwrap_or(&[]);
        s
    };
    for flags in MOUNT_FLAGS {
        let (src, target, fstype, data) = (next(), next(), next(), next());
        mount_missing(src, target, fstype, flags, data);
    }
    if rustix::io::fcntl_getfd(log::stdio(1)) == Err(Errno::BADF) {
        open_console();
    }
    if let Err(e) = rustix::system::reboot(rustix::system::RebootCommand::CadOff) {
        log::fail(e, "disable Ctrl-Alt-Del: %: it will reboot at once");
    }
}

/// Puts `/dev/console` on fds 0, 1 and 2 (the kernel does so only when the initramfs has
/// `/dev/console`; devtmpfs provides it now).
fn open_console() {
    use rustix::fd::{AsRawFd, IntoRawFd};
    let Ok(console) = rustix::fs::open(
        c"/dev/console",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY,
        Mode::empty(),
    ) else {
        return;
    };
    // Each is a no-op for the descriptor that already is the console.
    let _ = rustix::stdio::dup2_stdin(&console);
    let _ = rustix::stdio::dup2_stdout(&console);
    let _ = rustix::stdio::dup2_stderr(&console);
    if console.as_raw_fd() <= 2 {
        // The console landed on a closed 0-2 itself: keep it open there.
        let _ = console.into_raw_fd();
    }
}

fn mount_missing(
    src: &core::ffi::CStr,
    target: &core::ffi::CStr,
    fstype: &core::ffi::CStr,
    flags: u32,
    data: &core::ffi::CStr,
) {
    if is_mounted(target) {
        return;
    }
    let _ = rustix::fs::mkdir(target, Mode::from_raw_mode(0o755));
    let flags = MountFlags::from_bits_retain(flags);
    match m::mount(src, target, fstype, flags, Some(data)) {
        Ok(()) => log::say(log::INFO, "mounted %", &[Arg::Str(target.to_bytes())]),
        Err(e) => log::fail_on(target.to_bytes(), e, "mount %: %: continuing without it"),
    }
}

/// Whether `path` is a mount point: its device differs from its parent's, or it is the same
/// inode as its parent (`/`). `..` below a mount crosses back over it.
fn is_mounted(path: &core::ffi::CStr) -> bool {
    use rustix::fs::{fstat, open, statat, AtFlags, OFlags};
    let Ok(dir) = open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    else {
        return false;
    };
    match (fstat(&dir), statat(&dir, c"..", AtFlags::empty())) {
        (Ok(here), Ok(parent)) => here.st_dev != parent.st_dev || here.st_ino == parent.st_ino,
        _ => false,
    }
}

/// Carries out `action` on the machine; never returns. The file systems are synced first.
pub fn act(action: MachineAction) -> ! {
    let cmd = match action {
        MachineAction::Reboot => rustix::system::RebootCommand::Restart,
        _ => rustix::system::RebootCommand::PowerOff,
    };
    rustix::fs::sync();
    if let Err(e) = rustix::system::reboot(cmd) {
        log::fail(e, "reboot(2): %: needs CAP_SYS_BOOT; halting here instead");
    }
    // PID 1 must not exit: wait forever, reaping whatever remains (every 0.1 s when
    // rt_sigtimedwait is refused).
    loop {
        if sys::sigtimedwait(nestinit::signals::supervisor_mask(), None).is_err() {
            crate::supervise::pause(100_000_000);
        }
        while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
    }
}
