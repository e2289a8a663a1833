//! Preparing the guest: its mounts, its root, its `/proc`, and the process that execs its init.
//!
//! Runs in the child that nestinit clones into new mount and PID namespaces (nested mode) or
//! in nestinit itself just before it execs the guest (chroot mode). Each step reports its own
//! failure as one line and returns the exit code the contract gives it.

use crate::fsutil::PATH_MAX;
use crate::log;
use crate::spawn::{self, Env, Inherited};
use crate::vector::Vector;
use core::ffi::CStr;
use nestinit::config::{env_lookup, Config};
use nestinit::exit::code;
use nestinit::mountinfo::{Parser, Table};
use nestinit::plan::{self, Mask};
use nestinit::text::Arg;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{self as m, MountFlags, MoveMountFlags, OpenTreeFlags};

pub use crate::log::{Failed, Step};

/// Reports a setup error about `subject` (`template` as in [`log::fail_on`]): exit 125.
pub fn setup_err(subject: &[u8], e: Errno, template: &str) -> Failed {
    log::fail_on(subject, e, template);
    Failed(code::SETUP)
}

/// Reads `/proc/self/mountinfo` into `table` with the streaming parser: any line length, a
/// bounded table, and a clear error when a bound is hit.
pub fn read_mounts(table: &mut Table) -> Step {
    const MOUNTINFO: &CStr = c"/proc/self/mountinfo";
    table.clear();
    let mut parser = Parser::new();
    let mut result = Ok(());
    let read = crate::fsutil::read_chunks(MOUNTINFO, &mut |chunk| {
        if result.is_ok() {
            result = parser.feed(table, chunk);
        }
    });
    if let Err(e) = read {
        return Err(setup_err(MOUNTINFO.to_bytes(), e, "read %: %: mount /proc in the container"));
    }
    if let Err(e) = result.and_then(|()| parser.finish(table)) {
        log::say(
            log::ERROR,
            "read %: %: report this limit",
            &[Arg::Str(MOUNTINFO.to_bytes()), Arg::Str(e.describe().as_bytes())],
        );
        return Err(Failed(code::SETUP));
    }
    Ok(())
}

/// How container mounts reach the root: moved (nested mode, our own mount namespace) or
/// bound recursively (chroot mode, the container's namespace, like a bash `/init` that binds
/// and chroots).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Carry {
    Move,
    Bind,
}

/// Opens the guest root as a directory. `ENOENT` here is the commonest setup error: no volume.
fn open_root(root: &CStr) -> Step<OwnedFd> {
    rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| {
            setup_err(
                root.to_bytes(),
                e,
                "open root %: %: mount the guest's volume there or set --root",
            )
        })
}

/// Where the guest's `/proc` goes, and, after a chroot fallback ([`switch_root`]), the
/// container's `/proc`, held open so that [`mount_proc`] can detach it.
pub struct Entered {
    pub proc_dir: OwnedFd,
    pub old_proc: Option<OwnedFd>,
}

/// Carries the container's mounts (those of `table` the plan selects, and `/proc` in chroot
/// mode) into `root`, then makes `root` the process's `/`. Nothing to do for `/` (`None`).
pub fn enter_root(table: &Table, root: &CStr, how: Carry) -> Step<Option<Entered>> {
    let bytes = root.to_bytes();
    if bytes == b"/" {
        if how == Carry::Bind {
            return Ok(None);
        }
        // The container's root: the fresh proc goes over its /proc. A tmpfs /run for
        // /run/host, unless something is mounted at or below /run already (it stays in place).
        let rootfd = open_root(root)?;
        let mounted = (0..table.len()).any(|i| plan::is_under(table.path(i), b"/run"));
        crate::host::mount_run(rootfd.as_fd(), mounted);
        let proc_dir = open_target(rootfd.as_fd(), b"/proc", true)?.ok_or(Failed(code::SETUP))?;
        return Ok(Some(Entered { proc_dir, old_proc: None }));
    }
    // pivot_root needs a mount point: bind the root onto itself (recursively, keeping the
    // volume's own submounts) when it is a plain directory.
    if how == Carry::Move && table.find(bytes).is_none() {
        open_root(root)?;
        m::mount_bind_recursive(root, root).map_err(|e| {
            mount_err(bytes, "mount", e, "bind % onto itself: %: needs CAP_SYS_ADMIN")
        })?;
    }
    let rootfd = open_root(root)?;
    if how == Carry::Move {
        let mut run = [0u8; PATH_MAX];
        let run = crate::fsutil::path(&mut run, "%/run", &[Arg::Str(bytes)]);
        // One of the volume's own, or the container's, carried there next.
        let mounted = run.map_or(true, |run| table.find(run.to_bytes()).is_some())
            || table.find(b"/run").is_some();
        crate::host::mount_run(rootfd.as_fd(), mounted);
    }
    carry_mounts(table, bytes, rootfd.as_fd(), how)?;
    let proc_dir = open_target(rootfd.as_fd(), b"/proc", true)?.ok_or(Failed(code::SETUP))?;
    if how == Carry::Bind {
        carry(c"/proc", proc_dir.as_fd(), how)
            .map_err(|e| mount_err(b"/proc", "open_tree", e, "bind %: %: needs CAP_SYS_ADMIN"))?;
    }
    let old_proc = switch_root(rootfd.as_fd(), how)?;
    Ok(Some(Entered { proc_dir, old_proc }))
}

/// Reports a failed mount operation (`call`, the system call) about `subject`: exit 125. We
/// hold CAP_SYS_ADMIN here (the namespaces were created), so EACCES or EPERM is a security
/// module or seccomp profile saying no: Docker's default AppArmor profile (docker-default)
/// denies every mount whatever the capabilities (apparmor.d(5), "Mount rules"), and older
/// seccomp profiles know nothing of the new mount API. ENOSYS is an old kernel or such a
/// profile. The line names the call that was refused, and how to allow it.
pub fn mount_err(subject: &[u8], call: &str, e: Errno, template: &str) -> Failed {
    let template = match e {
        Errno::ACCESS | Errno::PERM => {
            "% %: %: refused by a security profile (seccomp or AppArmor): allow % \
             (examples/seccomp.json), or --security-opt apparmor=unconfined"
        }
        Errno::NOSYS => {
            "% %: %: not in this kernel, or refused by a seccomp profile: % needs Linux 5.2+ \
             and a profile that allows it (examples/seccomp.json)"
        }
        _ => return setup_err(subject, e, template),
    };
    let call = Arg::Str(call.as_bytes());
    log::say(log::ERROR, template, &[call, Arg::Str(subject), log::errno(e), call]);
    Failed(code::SETUP)
}

/// Carries every container mount the plan selects onto the same path inside the root,
/// creating missing targets without following symlinks.
fn carry_mounts(table: &Table, root: &[u8], rootfd: BorrowedFd<'_>, how: Carry) -> Step {
    for i in 0..table.len() {
        let path = table.path(i);
        match plan::classify(table, i, root) {
            Ok(()) => {}
            Err(plan::Skip::AncestorOfVolume) => {
                log::say(
                    log::NOTICE,
                    "warning: % holds the root volume: not carried into it",
                    &[Arg::Str(path)],
                );
                continue;
            }
            Err(_) => continue,
        }
        let mut buf = [0u8; PATH_MAX];
        let src = crate::fsutil::path(&mut buf, "%", &[Arg::Str(path)]);
        let (src, is_dir) = match src.and_then(|src| Ok((src, rustix::fs::stat(src)?))) {
            Ok((src, st)) => (src, FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            Err(e) => {
                return Err(setup_err(path, e, "stat mount %: %: check the container's mounts"))
            }
        };
        let Some(target) = open_target(rootfd, path, is_dir)? else {
            log::say(
                log::NOTICE,
                "% is a symlink in the guest: left alone, the guest's own file wins",
                &[Arg::Str(path)],
            );
            continue;
        };
        carry(src, target.as_fd(), how).map_err(|e| {
            let call = if how == Carry::Move { "move_mount" } else { "open_tree" };
            mount_err(path, call, e, "carry mount %: %: check the target is of the same type")
        })?;
        log::say(log::DEBUG, "carried % into the root", &[Arg::Str(path)]);
    }
    Ok(())
}

/// Moves the mount at `src` onto the opened `target`, or binds a recursive copy of it there.
fn carry(src: &CStr, target: BorrowedFd<'_>, how: Carry) -> Result<(), Errno> {
    let to = MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    match how {
        Carry::Move => m::move_mount(CWD, src, target, c"", to),
        Carry::Bind => {
            let tree = m::open_tree(
                CWD,
                src,
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::AT_RECURSIVE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC,
            )?;
            m::move_mount(&tree, c"", target, c"", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | to)
        }
    }
}

/// Opens `path` (absolute, normalised) below `rootfd` as an `O_PATH` descriptor, one component
/// at a time with `O_NOFOLLOW`, creating what is missing: directories, and the last component
/// as a directory or an empty file. A symlink on the way is refused: a hostile rootfs must not
/// redirect a mount (docs/design.md#bind-targets). Equivalent to openat2's RESOLVE_IN_ROOT |
/// RESOLVE_NO_SYMLINKS, and works on kernels without openat2. A file target that is itself a
/// symlink is the guest's choice (systemd-resolved links `/etc/resolv.conf` into `/run`,
/// where the runtime has no business, docs/design.md#resolv-conf-symlink): `None`, nothing is
/// followed and the caller leaves it alone.
fn open_target(rootfd: BorrowedFd<'_>, path: &[u8], dir: bool) -> Step<Option<OwnedFd>> {
    let open = || -> Result<Option<OwnedFd>, Errno> {
        let mut cur = rustix::io::fcntl_dupfd_cloexec(rootfd, 0)?;
        let mut comps = nestinit::text::tokens(path, b'/');
        let mut next = comps.next();
        while let Some(comp) = next {
            next = comps.next();
            // A component is at most NAME_MAX (255) bytes.
            let mut buf = [0u8; 256];
            let name = crate::fsutil::path(&mut buf, "%", &[Arg::Str(comp)])?;
            let parent = cur.as_fd();
            let created = match crate::fsutil::open_nofollow(parent, name) {
                Err(Errno::LOOP) if !dir && next.is_none() => return Ok(None),
                Err(Errno::NOENT) if dir || next.is_some() => {
                    rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o755))
                }
                Err(Errno::NOENT) => rustix::fs::openat(
                    parent,
                    name,
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )
                .map(drop),
                opened => {
                    cur = opened?;
                    continue;
                }
            };
            match created {
                Ok(()) | Err(Errno::EXIST) => cur = crate::fsutil::open_nofollow(parent, name)?,
                Err(e) => return Err(e),
            }
        }
        Ok(Some(cur))
    };
    open().map_err(|e| {
        let template = match e {
            Errno::LOOP => "mount target %: %: a symlink in the root: refusing to mount over it",
            Errno::ROFS => "mount target %: %: read-only root: create it in the volume",
            _ => "mount target %: %: check the root volume",
        };
        setup_err(path, e, template)
    })
}

/// Makes `root` the new `/`. Moved mounts (nested mode): pivot_root and detach the old root,
/// as runc does with `pivot_root(".", ".")`. Where that is impossible, the root is moved onto
/// `/` and chrooted into, with a warning: on rootfs (initramfs, EINVAL; pivot_root(2)), and
/// where a seccomp profile refuses the call (EPERM: Docker's and containerd's default
/// profiles, so Kubernetes' RuntimeDefault, allow mount but not pivot_root;
/// docs/design.md#pivot-root-refused). Bound mounts (chroot mode): chroot. Returns the old `/proc`, held, after a fallback.
fn switch_root(rootfd: BorrowedFd<'_>, how: Carry) -> Step<Option<OwnedFd>> {
    let fail = |step: &str, e| {
        setup_err(step.as_bytes(), e, "%: %: check the root volume and CAP_SYS_ADMIN")
    };
    rustix::process::fchdir(rootfd).map_err(|e| fail("chdir root", e))?;
    let mut old_proc = None;
    if how == Carry::Move {
        match rustix::process::pivot_root(c".", c".") {
            Ok(()) => {
                m::unmount(c".", m::UnmountFlags::DETACH)
                    .map_err(|e| fail("detach old root", e))?;
                rustix::process::chdir(c"/").map_err(|e| fail("chdir /", e))?;
                return Ok(None);
            }
            Err(e @ (Errno::INVAL | Errno::PERM | Errno::ACCESS)) => {
                log::fail(
                    e,
                    if e == Errno::INVAL {
                        "warning: pivot_root: %: the root is on rootfs: moving it onto / and \
                         chrooting"
                    } else {
                        "warning: pivot_root: %: refused by the runtime's seccomp profile: \
                         moving the root onto / and chrooting; for full isolation run with \
                         --security-opt seccomp=examples/seccomp.json"
                    },
                );
                old_proc = Some(seal_old_root().map_err(|e| fail("seal old root", e))?);
                m::mount_move(c".", c"/").map_err(|e| fail("move root", e))?;
            }
            Err(e) => return Err(fail("pivot_root", e)),
        }
    }
    rustix::process::chroot(c".").map_err(|e| fail("chroot", e))?;
    rustix::process::chdir(c"/").map_err(|e| fail("chdir /", e))?;
    Ok(old_proc)
}

/// Before a chroot fallback, shrinks what a guest that escapes the chroot could reach: the
/// container's own root (the image, holding `/init`) becomes read-only, nosuid, nodev and
/// noexec in the guest's mount namespace, and its `/proc` (which shows the supervisor) is
/// held to be detached once the guest's `/proc` is up ([`mount_proc`]). The root volume is then mounted on
/// top of `/`, so `..` out of the chroot lands back on the volume (path_resolution(7):
/// a walk up to a mount point continues in the mount on top).
fn seal_old_root() -> Result<OwnedFd, Errno> {
    let proc = rustix::fs::open(c"/proc", OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
    let sealed = MountFlags::BIND
        | MountFlags::RDONLY
        | MountFlags::NOSUID
        | MountFlags::NODEV
        | MountFlags::NOEXEC;
    m::mount_remount(c"/", sealed, c"")?;
    Ok(proc)
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
            log::say(log::ERROR, "read /proc masks: more than 64: report this limit", &[]);
            Err(Failed(code::SETUP))
        }
    }
}

/// One detached copy of each carried mask (`/dev/null` over `/proc/kcore`, a tmpfs over
/// `/proc/acpi`, LXCFS's `/proc/meminfo`), taken from the container's `/proc` before the root
/// switch hides it, in the order of `masks` (`None` for the masks made again from proc).
pub type Carried = heapless::Vec<Option<OwnedFd>, 64>;

pub fn clone_masks(table: &Table, masks: &Masks) -> Step<Carried> {
    let mut carried = Carried::new();
    for &(i, mask) in masks {
        let path = table.path(usize::from(i));
        let tree = match mask {
            Mask::ReadOnly => None,
            Mask::Carry => {
                let mut buf = [0u8; PATH_MAX];
                let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
                let tree = crate::fsutil::path(&mut buf, "%", &[Arg::Str(path)])
                    .and_then(|p| m::open_tree(CWD, p, flags));
                Some(tree.map_err(|e| {
                    mount_err(path, "open_tree", e, "copy the mask on %: %: report this")
                })?)
            }
        };
        // As many as masks, which hold 64 at most.
        let _ = carried.push(tree);
    }
    Ok(carried)
}

/// The guest's `/proc`: a fresh proc for its PID namespace, made with the new mount API and
/// attached to `dir` (the guest's `/proc`, held open since the root switch), so that no path
/// in the volume, which another writer may change while the guest boots, ever decides where
/// it lands. It keeps the container's `/proc` options (read-only, `hidepid=`, `subset=`,
/// `gid=`), then gets the container's masks, each found through the fresh proc itself: a
/// read-only bind made again from it, or the copy from `carried`. A mask whose path the
/// fresh proc lacks (another kernel, `subset=pid`) is verified absent there. Then the
/// container's `/proc` (`old`, after a chroot fallback) is detached and the boot id bound.
pub fn mount_proc(
    table: &Table,
    masks: &Masks,
    carried: Carried,
    dir: OwnedFd,
    old: Option<OwnedFd>,
    boot_id: &[u8; 36],
) -> Step {
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let call = |call: &'static str| {
        move |e| mount_err(b"/proc", call, e, "mount %: %: needs CAP_SYS_ADMIN (Linux 5.2+)")
    };
    let (read_only, kept) = plan::proc_options(table);
    let fs = m::fsopen(c"proc", m::FsOpenFlags::FSOPEN_CLOEXEC).map_err(call("fsopen"))?;
    for (key, value) in kept {
        let (mut k, mut v) = ([0u8; 16], [0u8; 64]);
        let k = crate::fsutil::path(&mut k, "%", &[Arg::Str(key)]);
        let v = crate::fsutil::path(&mut v, "%", &[Arg::Str(value)]);
        k.and_then(|k| v.and_then(|v| m::fsconfig_set_string(&fs, k, v)))
            .map_err(|e| setup_err(key, e, "keep the /proc option %: %: report this"))?;
    }
    m::fsconfig_create(&fs).map_err(call("fsconfig"))?;
    let mut attrs = m::MountAttrFlags::MOUNT_ATTR_NOSUID
        | m::MountAttrFlags::MOUNT_ATTR_NODEV
        | m::MountAttrFlags::MOUNT_ATTR_NOEXEC;
    if read_only {
        attrs |= m::MountAttrFlags::MOUNT_ATTR_RDONLY;
    }
    let proc = m::fsmount(&fs, m::FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(call("fsmount"))?;
    let both = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    m::move_mount(&proc, c"", &dir, c"", both).map_err(call("move_mount"))?;
    // From here on, paths are taken relative to the fresh proc's root, and `self/fd/N` names
    // what a descriptor holds.
    rustix::process::fchdir(&proc).map_err(call("fchdir"))?;
    for (&(i, mask), tree) in masks.iter().zip(carried) {
        let path = table.path(usize::from(i));
        let rel = path.strip_prefix(b"/proc/").unwrap_or(path);
        let done = in_proc(&proc, rel).and_then(|target| {
            let Some(target) = target else { return Ok(()) };
            match (mask, tree) {
                (Mask::Carry, Some(tree)) => m::move_mount(&tree, c"", &target, c"", both),
                _ => fd_path(&target, |t| m::mount_bind(t, t))
                    .and_then(|()| remount_read_only(&proc, rel, flags)),
            }
        });
        let call = if mask == Mask::Carry { "move_mount" } else { "mount" };
        done.map_err(|e| {
            mount_err(path, call, e, "mask %: %: cannot mask the guest's /proc like ours")
        })?;
    }
    if let Some(old) = old {
        fd_path(&old, |p| m::unmount(p, m::UnmountFlags::DETACH)).map_err(|e| {
            setup_err(b"/proc", e, "detach the container's %: %: check CAP_SYS_ADMIN")
        })?;
    }
    if let Err(e) = mount_boot_id(&proc, boot_id) {
        log::fail_on(
            b"/proc/sys/kernel/random/boot_id",
            e,
            "boot id %: %: continuing; the journal may merge boots",
        );
    }
    rustix::process::chdir(c"/").map_err(call("chdir"))
}

/// `rel` inside the fresh proc, through its descriptor (never a path in the volume), without
/// following a symlink; `None` when proc has no such entry.
fn in_proc(proc: &OwnedFd, rel: &[u8]) -> Result<Option<OwnedFd>, Errno> {
    let mut buf = [0u8; PATH_MAX];
    let rel = crate::fsutil::path(&mut buf, "%", &[Arg::Str(rel)])?;
    match rustix::fs::openat(
        proc,
        rel,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Calls `f` with `self/fd/N` for `fd`: relative to the fresh proc, our working directory,
/// it names exactly what the descriptor holds (as runc names mount targets).
fn fd_path<T>(fd: &OwnedFd, f: impl FnOnce(&CStr) -> Result<T, Errno>) -> Result<T, Errno> {
    let mut buf = [0u8; 32];
    let n = i64::from(rustix::fd::AsRawFd::as_raw_fd(fd));
    f(crate::fsutil::path(&mut buf, "self/fd/%", &[Arg::Num(n)])?)
}

/// Makes the mount now on top of `rel` in the fresh proc read-only.
fn remount_read_only(proc: &OwnedFd, rel: &[u8], flags: MountFlags) -> Result<(), Errno> {
    let top = in_proc(proc, rel)?.ok_or(Errno::NOENT)?;
    fd_path(&top, |t| m::mount_remount(t, MountFlags::BIND | MountFlags::RDONLY | flags, c""))
}

/// Gives this boot its own `/proc/sys/kernel/random/boot_id`, as systemd-nspawn does, so the
/// guest's journal tells its boots apart. The file lives on a small tmpfs attached for a
/// moment over the target's directory: the target, held open beforehand, is bound from it,
/// then the tmpfs is detached. Cloning a file out of a detached mount (`open_tree`) would be
/// simpler but is refused by Linux 6.1. Runs with the fresh proc as working directory.
fn mount_boot_id(proc: &OwnedFd, id: &[u8; 36]) -> Result<(), Errno> {
    let rel = b"sys/kernel/random/boot_id";
    let target = in_proc(proc, rel)?.ok_or(Errno::NOENT)?;
    let dir = in_proc(proc, b"sys/kernel/random")?.ok_or(Errno::NOENT)?;
    let fs = m::fsopen(c"tmpfs", m::FsOpenFlags::FSOPEN_CLOEXEC)?;
    m::fsconfig_set_string(&fs, c"size", c"4k")?;
    m::fsconfig_create(&fs)?;
    let attrs = m::MountAttrFlags::MOUNT_ATTR_NOSUID
        | m::MountAttrFlags::MOUNT_ATTR_NODEV
        | m::MountAttrFlags::MOUNT_ATTR_NOEXEC;
    let tmp = m::fsmount(&fs, m::FsMountFlags::FSMOUNT_CLOEXEC, attrs)?;
    let file = rustix::fs::openat(
        &tmp,
        c"boot_id",
        OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o444),
    )?;
    log::write_all(file.as_fd(), id);
    log::write_all(file.as_fd(), b"\n");
    let both = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    m::move_mount(&tmp, c"", &dir, c"", both)?;
    let bound = fd_path(&file, |src| fd_path(&target, |t| m::mount_bind(src, t)));
    fd_path(&tmp, |t| m::unmount(t, m::UnmountFlags::DETACH))?;
    bound?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    remount_read_only(proc, rel, flags)
}

/// A random (version 4) UUID in its 36-character text form.
pub fn uuid() -> [u8; 36] {
    let mut r = [0u8; 16];
    if rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty()).is_err() {
        // Without randomness, the time still makes each boot's id different.
        let t = crate::sys::monotonic_ns();
        r = (u128::from(t) << 64 | u128::from(!t)).to_le_bytes();
    }
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    // Hex digits from the last one back, skipping the dashes.
    let mut v = u128::from_be_bytes(r);
    let mut out = [b'-'; 36];
    for (i, slot) in out.iter_mut().enumerate().rev() {
        if !matches!(i, 8 | 13 | 18 | 23) {
            let n = (v & 15) as u8;
            *slot = if n < 10 { b'0' + n } else { b'a' - 10 + n };
            v >>= 4;
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
    let fail = |e| {
        log::fail(e, "drop capabilities: %: needs CAP_SETPCAP");
        Failed(code::SETUP)
    };
    // 9 to 63, then 0 to 8: CAP_SETPCAP (8) last.
    for i in 0..64 {
        let n = (i + 9) % 64;
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

/// The last steps before exec, shared by every way of starting a guest or a command: its
/// environment ([`Env`]; `guest` holds a guest's own variables), dropping the capabilities in `drop`,
/// no_new_privs, a process group in the terminal's foreground, the inherited signal state,
/// then exec with a PATH search. Returns only on failure, with the exit code. Out of line: the
/// environment vector (8 KiB) must live on the stack of the process that execs, only.
#[inline(never)]
pub fn exec_guest(
    cfg: &Config<'_>,
    drop: u64,
    cmd: Vector,
    envp: Vector,
    guest: Option<&[&CStr]>,
    inherited: &Inherited,
) -> i32 {
    let env = match Env::build(envp, guest) {
        Ok(env) => env,
        Err(Failed(c)) => return c,
    };
    if let Err(Failed(c)) = drop_caps(drop) {
        return c;
    }
    if cfg.no_new_privs {
        if let Err(e) = rustix::thread::set_no_new_privs(true) {
            log::fail(e, "no_new_privs: %: the kernel refused it");
            return code::SETUP;
        }
    }
    spawn::take_terminal();
    if let Err(e) = inherited.restore() {
        log::fail(e, "restore signal mask: %: not starting the command");
        return code::SETUP;
    }
    spawn::exec(cmd, env.as_ptr(), env_lookup(envp.iter(), b"PATH"))
}
