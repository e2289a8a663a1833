//! Preparing the guest: its mounts, its root, its `/proc`, and the process that execs its init.
//!
//! Runs in the child that nestinit clones into new mount and PID namespaces (nested mode) or
//! in nestinit itself just before it execs the guest (chroot mode). Each step reports its own
//! failure as one line and returns the exit code the contract gives it.

use crate::fsutil::PathBuf;
use crate::log;
use crate::rt::Vector;
use crate::spawn::{self, Env, Inherited};
use core::ffi::CStr;
use nestinit::config::{env_lookup, Config};
use nestinit::exit::code;
use nestinit::mountinfo::{Parser, Table};
use nestinit::plan::{self, Mask};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{self as m, MountFlags, MoveMountFlags, OpenTreeFlags};

/// A failure already reported on stderr; carries the exit code.
pub struct Failed(pub i32);

type Step<T = ()> = Result<T, Failed>;

fn setup_err(step: &str, subject: &[u8], e: Errno, hint: &str) -> Failed {
    log::fail_on(step, subject, e, hint);
    Failed(code::SETUP)
}

/// Reads `/proc/self/mountinfo` into `table` with the streaming parser: any line length, a
/// bounded table, and a clear error when a bound is hit.
pub fn read_mounts(table: &mut Table) -> Step {
    table.clear();
    let mut parser = Parser::new();
    let mut result = Ok(());
    let read = crate::fsutil::read_chunks(b"/proc/self/mountinfo", |chunk| {
        if result.is_ok() {
            result = parser.feed(table, chunk);
        }
    });
    if let Err(e) = read {
        return Err(setup_err("read", b"/proc/self/mountinfo", e, "mount /proc in the container"));
    }
    if let Err(e) = result.and_then(|()| parser.finish(table)) {
        log::emit(log::ERROR, |m| {
            m.str("read /proc/self/mountinfo: ").str(e.describe()).str(": report this limit");
        });
        return Err(Failed(code::SETUP));
    }
    Ok(())
}

/// How container mounts reach the root: moved (nested mode, our own mount namespace) or
/// bound recursively (chroot mode, the container's namespace, like the seed's bash init).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Carry {
    Move,
    Bind,
}

/// Opens the guest root as a directory. `ENOENT` here is the commonest setup error: no volume.
pub fn open_root(root: &CStr) -> Step<OwnedFd> {
    rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| {
            setup_err(
                "open root",
                root.to_bytes(),
                e,
                "mount the guest's root volume there or set --root",
            )
        })
}

/// Carries every container mount the plan selects onto the same path inside the root,
/// creating missing targets without following symlinks.
pub fn carry_mounts(table: &Table, root: &[u8], rootfd: BorrowedFd<'_>, how: Carry) -> Step {
    for i in 0..table.len() {
        match plan::classify(table, i, root) {
            Ok(()) => {}
            Err(plan::Skip::AncestorOfVolume) => {
                log::emit(log::NOTICE, |m| {
                    m.str("warning: ").push(table.path(i));
                    m.str(" contains the root volume and cannot be carried into it; left out");
                });
                continue;
            }
            Err(_) => continue,
        }
        let path = table.path(i);
        let mut src =
            PathBuf::new(&[path]).map_err(|e| setup_err("mount path", path, e, "shorten it"))?;
        let is_dir = match rustix::fs::stat(src.as_cstr()) {
            Ok(st) => FileType::from_raw_mode(st.st_mode) == FileType::Directory,
            Err(e) => return Err(setup_err("stat mount", path, e, "check the container's mounts")),
        };
        let target = open_target(rootfd, path, is_dir)?;
        let moved = match how {
            Carry::Move => m::move_mount(
                CWD,
                src.as_cstr(),
                target.as_fd(),
                c"",
                MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
            ),
            Carry::Bind => m::open_tree(
                CWD,
                src.as_cstr(),
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::AT_RECURSIVE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC,
            )
            .and_then(|tree| {
                m::move_mount(
                    tree.as_fd(),
                    c"",
                    target.as_fd(),
                    c"",
                    MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
                        | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
                )
            }),
        };
        moved.map_err(|e| {
            setup_err(
                "carry mount",
                path,
                e,
                "check that the target's type matches (file or directory)",
            )
        })?;
        log::emit(log::DEBUG, |m| {
            m.str("carried ").push(path).str(" into the root");
        });
    }
    Ok(())
}

/// Opens `path` (absolute, normalised) below `rootfd` as an `O_PATH` descriptor, one component
/// at a time with `O_NOFOLLOW`, creating what is missing: directories, and the last component
/// as a directory or an empty file. A symlink anywhere is refused: a hostile rootfs must not
/// redirect a mount (DESIGN.md fact 10). Equivalent to openat2's RESOLVE_IN_ROOT |
/// RESOLVE_NO_SYMLINKS, and works on kernels without openat2.
pub fn open_target(rootfd: BorrowedFd<'_>, path: &[u8], dir: bool) -> Step<OwnedFd> {
    let comps = || path.split(|&c| c == b'/').filter(|c| !c.is_empty());
    let count = comps().count();
    let mut cur: Option<OwnedFd> = None;
    for (n, comp) in comps().enumerate() {
        let want_dir = dir || n + 1 < count;
        let parent = cur.as_ref().map_or(rootfd, |fd| fd.as_fd());
        let fail = |e: Errno| {
            let hint = match e {
                Errno::LOOP => "it is a symlink in the root: refusing to mount over it; make it a real file or directory",
                Errno::ROFS => "the root is read-only: create the target in the volume",
                _ => "check the root volume",
            };
            setup_err("mount target", path, e, hint)
        };
        let mut name = PathBuf::new(&[comp]).map_err(fail)?;
        let name = name.as_cstr();
        let opened = match open_nofollow(parent, name) {
            Err(Errno::NOENT) => {
                let created = if want_dir {
                    rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o755))
                } else {
                    rustix::fs::openat(
                        parent,
                        name,
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::WRONLY
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o644),
                    )
                    .map(drop)
                };
                match created {
                    Ok(()) | Err(Errno::EXIST) => open_nofollow(parent, name),
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        cur = Some(opened.map_err(fail)?);
    }
    match cur {
        Some(fd) => Ok(fd),
        None => rustix::io::fcntl_dupfd_cloexec(rootfd, 0)
            .map_err(|e| setup_err("dup", path, e, "check fd limits")),
    }
}

/// One component, `O_PATH | O_NOFOLLOW`; a symlink (which that combination opens rather than
/// follows) is `ELOOP`.
fn open_nofollow(parent: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
    let fd = rustix::fs::openat(
        parent,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Err(Errno::LOOP);
    }
    Ok(fd)
}

/// Makes `root` the new `/`: pivot_root and detach the old root, as runc does with
/// `pivot_root(".", ".")`. A root on rootfs (initramfs) cannot be pivoted away from
/// (EINVAL): then the root is moved onto `/` and chrooted into, with a warning.
pub fn switch_root(rootfd: BorrowedFd<'_>) -> Step {
    let fail = |step, e| setup_err(step, b"", e, "check the root volume and CAP_SYS_ADMIN");
    rustix::process::fchdir(rootfd).map_err(|e| fail("chdir root", e))?;
    match rustix::process::pivot_root(c".", c".") {
        Ok(()) => {
            m::unmount(c".", m::UnmountFlags::DETACH).map_err(|e| fail("detach old root", e))?;
        }
        Err(Errno::INVAL) => {
            log::emit(log::NOTICE, |m| {
                m.str("warning: pivot_root impossible (root on rootfs?): moving the root onto / and chrooting");
            });
            m::mount_move(c".", c"/").map_err(|e| fail("move root", e))?;
            rustix::process::chroot(c".").map_err(|e| fail("chroot", e))?;
        }
        Err(e) => return Err(fail("pivot_root", e)),
    }
    rustix::process::chdir(c"/").map_err(|e| fail("chdir /", e))
}

/// Most `/proc` masks re-applied; runc puts about a dozen.
pub type Masks = heapless::Vec<(u16, Mask), 64>;

/// The masks the runtime put under the container's `/proc`, from the table read before any
/// change: the guest's `/proc` must never be less masked than the container's.
pub fn proc_masks(table: &Table) -> Step<Masks> {
    let mut masks = Masks::new();
    match plan::proc_masks(table, &mut masks) {
        Ok(()) => Ok(masks),
        Err(()) => {
            log::emit(log::ERROR, |m| {
                m.str("read /proc masks: more than 64 mounts under /proc: report this limit");
            });
            Err(Failed(code::SETUP))
        }
    }
}

/// Mounts a fresh proc for the new PID namespace on `/proc` and re-applies `masks`.
pub fn mount_proc(table: &Table, masks: &Masks) -> Step {
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    m::mount(c"proc", c"/proc", c"proc", flags, None).map_err(|e| {
        setup_err(
            "mount",
            b"/proc",
            e,
            "needs CAP_SYS_ADMIN and an unmasked /proc in the container",
        )
    })?;
    for &(i, mask) in masks {
        let path = table.path(usize::from(i));
        let mut p = PathBuf::new(&[path]).map_err(|e| setup_err("mask", path, e, "shorten it"))?;
        let p = p.as_cstr();
        let done = match mask {
            Mask::ReadOnly => m::mount_bind(p, p).and_then(|()| {
                m::mount_remount(p, MountFlags::BIND | MountFlags::RDONLY | flags, c"")
            }),
            Mask::Hide => match rustix::fs::stat(p) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                    m::mount(c"tmpfs", p, c"tmpfs", flags | MountFlags::RDONLY, None)
                }
                Ok(_) => m::mount_bind(c"/dev/null", p),
                Err(e) => Err(e),
            },
        };
        match done {
            // Not on this kernel: nothing to hide.
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => {
                return Err(setup_err(
                    "mask",
                    path,
                    e,
                    "the guest's /proc cannot be masked like the container's",
                ))
            }
        }
    }
    Ok(())
}

/// Gives this boot its own `/proc/sys/kernel/random/boot_id`, as systemd-nspawn does, so the
/// guest's journal tells its boots apart. The file lives on a detached tmpfs (new mount API),
/// so nothing is left anywhere else. Failure only warns: the guest can run without it.
pub fn mount_boot_id(id: &[u8; 36]) {
    let target = c"/proc/sys/kernel/random/boot_id";
    let result = (|| -> Result<(), Errno> {
        let fs = m::fsopen(c"tmpfs", m::FsOpenFlags::FSOPEN_CLOEXEC)?;
        m::fsconfig_set_string(&fs, c"size", c"4k")?;
        m::fsconfig_create(&fs)?;
        let mnt = m::fsmount(&fs, m::FsMountFlags::FSMOUNT_CLOEXEC, m::MountAttrFlags::empty())?;
        let file = rustix::fs::openat(
            &mnt,
            c"boot_id",
            OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o444),
        )?;
        log::write_all(file.as_fd(), id);
        log::write_all(file.as_fd(), b"\n");
        let tree = m::open_tree(
            &mnt,
            c"boot_id",
            OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )?;
        m::move_mount(&tree, c"", CWD, target, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)?;
        m::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, c"")
    })();
    if let Err(e) = result {
        log::fail_on(
            "boot id",
            target.to_bytes(),
            e,
            "continuing; the guest's journal may merge boots",
        );
    }
}

/// A random (version 4) UUID in its 36-character text form.
pub fn uuid() -> [u8; 36] {
    let mut r = [0u8; 16];
    if rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty()).is_err() {
        // Without randomness, the time still makes each boot's id different.
        let t = crate::sys::monotonic_ns().to_le_bytes();
        r.iter_mut().zip(t.iter().cycle()).enumerate().for_each(|(i, (b, t))| *b = t ^ (i as u8));
    }
    if let Some(b) = r.get_mut(6) {
        *b = (*b & 0x0f) | 0x40;
    }
    if let Some(b) = r.get_mut(8) {
        *b = (*b & 0x3f) | 0x80;
    }
    let mut out = [b'-'; 36];
    let hex = b"0123456789abcdef";
    let mut o = 0;
    for (i, b) in r.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            o += 1;
        }
        for nib in [b >> 4, b & 15] {
            if let (Some(slot), Some(&h)) = (out.get_mut(o), hex.get(usize::from(nib))) {
                *slot = h;
            }
            o += 1;
        }
    }
    out
}

/// Drops `mask` from all five capability sets (bounding, ambient, effective, permitted,
/// inheritable). CAP_SETPCAP, needed to shrink the bounding set, goes last.
pub fn drop_caps(mask: u64) -> Step {
    use rustix::thread::{self as t, CapabilitySet};
    if mask == 0 {
        return Ok(());
    }
    let fail = |e| setup_err("drop capabilities", b"", e, "needs CAP_SETPCAP");
    for n in (0..64).filter(|&n| n != 8).chain(core::iter::once(8)) {
        let cap = CapabilitySet::from_bits_retain(1u64 << n);
        if mask & (1u64 << n) == 0 {
            continue;
        }
        // EINVAL: a capability this kernel does not know; nothing to drop.
        match t::remove_capability_from_bounding_set(cap) {
            Ok(()) | Err(Errno::INVAL) => {}
            Err(e) => return Err(fail(e)),
        }
        // Lowering an ambient capability needs no privilege and cannot fail for a known one.
        let _ = t::configure_capability_in_ambient_set(cap, false);
    }
    let mut sets = t::capabilities(None).map_err(fail)?;
    let keep = CapabilitySet::from_bits_retain(!mask);
    sets.effective &= keep;
    sets.permitted &= keep;
    sets.inheritable &= keep;
    t::set_capabilities(None, sets).map_err(fail)
}

/// The last steps before exec, shared by every way of starting a guest or a command: drop
/// capabilities, no_new_privs, a process group in the terminal's foreground, the inherited
/// signal state, then exec with a PATH search. Returns only on failure, with the exit code.
pub fn exec_guest(
    cfg: &Config<'_>,
    cmd: Vector,
    env: &Env,
    envp: Vector,
    inherited: &Inherited,
) -> i32 {
    if let Err(Failed(c)) = drop_caps(cfg.drop_caps) {
        return c;
    }
    if cfg.no_new_privs {
        if let Err(e) = rustix::thread::set_no_new_privs(true) {
            log::fail("no_new_privs", e, "the kernel refused it");
            return code::SETUP;
        }
    }
    spawn::take_terminal();
    if let Err(e) = inherited.restore() {
        log::fail("restore signal mask", e, "cannot start the command safely");
        return code::SETUP;
    }
    spawn::exec(cmd, env.as_ptr(), env_lookup(envp.iter(), b"PATH"))
}
