//! cgroup v2: a cgroup the guest can delegate from.
//!
//! The kernel's "no internal process" rule (Documentation/admin-guide/cgroup-v2.rst, "No
//! Internal Process Constraint"; docs/design.md#cgroup-no-internal-processes): a non-root
//! cgroup that holds processes cannot enable domain controllers (memory, cpu, io, pids) for its
//! children. Left in the container's cgroup,
//! nestinit would keep the guest's systemd, whose cgroup namespace is rooted there, from
//! delegating any controller to its units (`MemoryMax=` would silently do nothing), and a
//! process the runtime adds later (`docker exec`) would get EBUSY. So, as systemd-nspawn does,
//! the container's cgroup C is split: nestinit moves into the leaf `C/supervisor`, C's
//! controllers are enabled for its children, and every boot of the guest starts in a fresh
//! `C/payload`, the root of the guest's cgroup namespace, with a cgroup2 mount of its own.
//! runc puts a later `exec` into the init process's cgroup when C refuses it (EBUSY), so
//! `docker exec` lands in `C/supervisor` too.
//!
//! Nothing changes on cgroup v1, without a cgroup tree, in machine mode (the root cgroup is
//! exempt from the rule) or when nestinit is not the container's PID 1.

use crate::log;
use nestinit::text::Arg;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount as m;

const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;
const TREE: &core::ffi::CStr = c"/sys/fs/cgroup";

const NOT_WRITABLE: &str = "warning: cgroup2: %: the container's cgroup is not writable, so a \
    systemd guest cannot delegate controllers: give the container a writable cgroup of its own";

/// The container's cgroup, split: the directory of `C/payload`, where each boot starts.
pub struct Split {
    container: OwnedFd,
}

/// Whether the guest needs a cgroup2 tree of its own: `/sys/fs/cgroup` is a cgroup2 mount, or
/// we live on a cgroup v2 only host (`/proc/self/cgroup` holds nothing but the `0::` line)
/// whatever the runtime mounted, so the guest gets a tree even where none was mounted.
pub fn unified() -> bool {
    // f_type is signed on some architectures, 32 bits on others.
    let mounted = rustix::fs::statfs(TREE)
        .is_ok_and(|s| s.f_type as u64 & 0xffff_ffff == CGROUP2_SUPER_MAGIC);
    let mut buf = [0u8; 256];
    mounted
        || crate::fsutil::read_file(c"/proc/self/cgroup", &mut buf)
            .is_ok_and(|c| c.starts_with(b"0::") && nestinit::text::tokens(c, b'\n').count() == 1)
}

/// In the supervisor, before the first boot: moves nestinit into `C/supervisor` and enables
/// C's controllers for its children. `None` (with one line saying why, unless there is
/// nothing to do) when the guest has to make do with C as it is.
pub fn split() -> Option<Split> {
    let container = match open_own() {
        Ok(Some(fd)) => fd,
        Ok(None) => return None,
        Err(e) => {
            log::fail(e, NOT_WRITABLE);
            return None;
        }
    };
    let c = container.as_fd();
    let moved =
        mkdir(c, c"supervisor").and_then(|()| write_at(c, c"supervisor/cgroup.procs", b"0"));
    if let Err(e) = moved {
        log::fail(e, NOT_WRITABLE);
        return None;
    }
    delegate(c);
    Some(Split { container })
}

/// A cgroup2 tree of our own (the new mount API: no path, nothing in the mount table, and
/// writable even where the runtime mounted `/sys/fs/cgroup` read-only) opened at our cgroup;
/// `None` for the root cgroup, which has no `cgroup.type` and no rule to work around.
fn open_own() -> Result<Option<OwnedFd>, Errno> {
    let fs = m::fsopen(c"cgroup2", m::FsOpenFlags::FSOPEN_CLOEXEC)?;
    m::fsconfig_create(&fs)?;
    let tree = m::fsmount(&fs, m::FsMountFlags::FSMOUNT_CLOEXEC, m::MountAttrFlags::empty())?;
    // "0::PATH", relative to the root of our cgroup namespace, which is the new mount's root.
    let mut buf = [0u8; 4096];
    let own = crate::fsutil::read_file(c"/proc/self/cgroup", &mut buf)?;
    let path = nestinit::text::split(own, b'\n')
        .find_map(|l| l.strip_prefix(b"0::"))
        .ok_or(Errno::NOENT)?;
    let rel = path.strip_prefix(b"/").unwrap_or(path);
    let mut pbuf = [0u8; crate::fsutil::PATH_MAX];
    let rel =
        if rel.is_empty() { c"." } else { crate::fsutil::path(&mut pbuf, "%", &[Arg::Str(rel)])? };
    let dir = rustix::fs::openat(
        &tree,
        rel,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    match rustix::fs::statat(&dir, c"cgroup.type", rustix::fs::AtFlags::empty()) {
        Err(Errno::NOENT) => Ok(None),
        Ok(_) => Ok(Some(dir)),
        Err(e) => Err(e),
    }
}

/// Enables, for C's children, every controller C has (`+name` one at a time: one the kernel
/// refuses must not keep the others off), and says which of the usual ones the runtime did
/// not give the container.
fn delegate(c: BorrowedFd<'_>) {
    let mut buf = [0u8; 512];
    let Ok(have) = read_at(c, c"cgroup.controllers", &mut buf) else { return };
    let mut missing = [0u8; 64];
    let mut missing = nestinit::text::Line::new(&mut missing);
    for name in nestinit::text::words("cpu io memory pids") {
        if !nestinit::text::tokens(have, b' ').any(|h| h == name) {
            missing.push(b" ").push(name);
        }
    }
    for name in nestinit::text::tokens(have, b' ') {
        let mut cmd = [0u8; 64];
        let mut line = nestinit::text::Line::new(&mut cmd);
        line.push(b"+").push(name.strip_suffix(b"\n").unwrap_or(name));
        if let Err(e) = write_at(c, c"cgroup.subtree_control", line.as_bytes()) {
            log::say(
                log::NOTICE,
                "warning: cgroup2 controller %: %: the guest cannot use it",
                &[Arg::Str(name), log::errno(e)],
            );
        }
    }
    if !missing.as_bytes().is_empty() {
        log::say(
            log::NOTICE,
            "warning: cgroup2: no%: the runtime did not delegate them to the container",
            &[Arg::Str(missing.as_bytes())],
        );
    }
}

impl Split {
    /// Before each boot: a fresh, empty `C/payload` (a previous boot's cgroups, with the
    /// controllers its systemd enabled, would refuse the new guest with EBUSY).
    pub fn fresh_payload(&self) -> Result<OwnedFd, Errno> {
        let c = self.container.as_fd();
        match remove(c, c"payload", 0) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(e),
        }
        mkdir(c, c"payload")?;
        rustix::fs::openat(
            c,
            c"payload",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }
}

/// In the boot child: moves itself into `payload`, roots a new cgroup namespace there, and
/// mounts the guest's own cgroup2 on `/sys/fs/cgroup` (read-write: the guest manages only
/// its subtree, and a read-only tree makes systemd exit). Runs before the mount table is read,
/// on the container's own `/sys`, so the new mount is carried into the root like the others.
/// Without the move (an error), the namespace is still made, rooted where the child is.
pub fn enter_payload(payload: BorrowedFd<'_>) -> Result<(), Errno> {
    let moved = write_at(payload, c"cgroup.procs", b"0");
    // SAFETY: the boot child has one thread; CLONE_NEWCGROUP shares no descriptor table.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWCGROUP) }?;
    moved?;
    let _ = m::unmount(TREE, m::UnmountFlags::DETACH);
    let flags = m::MountFlags::NOSUID | m::MountFlags::NODEV | m::MountFlags::NOEXEC;
    m::mount(c"cgroup2", TREE, c"cgroup2", flags, None)
}

fn mkdir(dir: BorrowedFd<'_>, name: &core::ffi::CStr) -> Result<(), Errno> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

fn write_at(dir: BorrowedFd<'_>, name: &core::ffi::CStr, bytes: &[u8]) -> Result<(), Errno> {
    let fd = rustix::fs::openat(dir, name, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::io::write(&fd, bytes).map(drop)
}

fn read_at<'b>(
    dir: BorrowedFd<'_>,
    name: &core::ffi::CStr,
    buf: &'b mut [u8],
) -> Result<&'b [u8], Errno> {
    let fd = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let n = rustix::io::read(&fd, &mut *buf)?;
    Ok(buf.get(..n).unwrap_or(&[]))
}

/// Removes the empty cgroup `name` below `dir` and its descendants, deepest first. The
/// processes of a guest that ended are gone, but the kernel may still count them for a moment
/// (EBUSY): retried for up to a second. Bounded depth: systemd's trees are a few levels deep.
fn remove(dir: BorrowedFd<'_>, name: &core::ffi::CStr, depth: u32) -> Result<(), Errno> {
    if depth > 32 {
        return Err(Errno::MLINK);
    }
    // A directory changing under getdents may skip entries: list again until a pass
    // finds no subdirectory left.
    loop {
        let sub = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
        let mut entries = rustix::fs::RawDir::new(&sub, &mut buf);
        let mut removed = false;
        while let Some(entry) = entries.next() {
            let entry = entry?;
            let n = entry.file_name();
            if entry.file_type() == rustix::fs::FileType::Directory && n != c"." && n != c".." {
                remove(sub.as_fd(), n, depth + 1)?;
                removed = true;
            }
        }
        if !removed {
            break;
        }
    }
    for _ in 0..100 {
        match rustix::fs::unlinkat(dir, name, rustix::fs::AtFlags::REMOVEDIR) {
            Err(Errno::BUSY) => {
                let _ = rustix::thread::nanosleep(&rustix::thread::Timespec {
                    tv_sec: 0,
                    tv_nsec: 10_000_000,
                });
            }
            other => return other,
        }
    }
    Err(Errno::BUSY)
}
