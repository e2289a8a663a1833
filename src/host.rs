//! What a container manager provides inside the guest, after systemd's container interface
//! (docs/design.md#container-interface): a tmpfs on `/run`, and a read-only `/run/host`
//! with `container-manager`, `container-uuid` and `notify`, the socket on which the guest init
//! reports its state to PID 1. Also PID 1's own reports outward, to the `NOTIFY_SOCKET` it
//! was given (podman `--sdnotify=container`, a systemd unit of `Type=notify`).
//!
//! The boot process sets the guest's side up; the supervisor holds the socket's other end. A
//! failure here is a warning, never the end of a boot: a guest without the socket boots as
//! it would without nestinit's help.

use crate::log;
use crate::vector::Vector;
use core::mem::MaybeUninit;
use nestinit::text::Arg;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{self as m, MountAttrFlags as A, MountFlags, MoveMountFlags};
use rustix::net::{self, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SocketAddrUnix};

/// The supervisor's end of one boot's notify socket: a datagram socket, unbound until the
/// boot process binds it at `/run/host/notify` in the guest ([`provide`]), which receives each
/// message with its sender's credentials (SO_PASSCRED) and raises SIGIO when readable.
pub fn socket() -> Result<OwnedFd, Errno> {
    let fd = net::socket_with(
        net::AddressFamily::UNIX,
        net::SocketType::DGRAM,
        net::SocketFlags::CLOEXEC | net::SocketFlags::NONBLOCK,
        None,
    )?;
    net::sockopt::set_socket_passcred(&fd, true)?;
    crate::sys::signal_when_readable(fd.as_fd())?;
    Ok(fd)
}

/// A detached tmpfs with `options` (`key=value` words) and `attrs`.
fn tmpfs(options: &'static str, attrs: A) -> Result<OwnedFd, Errno> {
    let fs = m::fsopen(c"tmpfs", m::FsOpenFlags::FSOPEN_CLOEXEC)?;
    for option in nestinit::text::words(options) {
        let eq = option.iter().position(|&c| c == b'=').unwrap_or(option.len());
        let (key, value) = (option.get(..eq).unwrap_or(b""), option.get(eq + 1..).unwrap_or(b""));
        let (mut k, mut v) = ([0u8; 16], [0u8; 16]);
        let k = crate::fsutil::path(&mut k, "%", &[Arg::Str(key)])?;
        let v = crate::fsutil::path(&mut v, "%", &[Arg::Str(value)])?;
        m::fsconfig_set_string(&fs, k, v)?;
    }
    m::fsconfig_create(&fs)?;
    m::fsmount(&fs, m::FsMountFlags::FSMOUNT_CLOEXEC, attrs)
}

const BOTH: MoveMountFlags =
    MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH.union(MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH);

/// In the boot process, before the container's mounts are carried into the root (so that
/// those below `/run`, such as Kubernetes' `/run/secrets`, land on it): a tmpfs on the
/// guest's `/run`, unless the volume mounts one there itself. systemd mounts its own on a
/// `/run` that is no mount point, which would hide `/run/host`; systemd-nspawn mounts it for
/// the same reason. The options are systemd's own for `/run` (mount-setup.c).
pub fn mount_run(rootfd: BorrowedFd<'_>, mounted: bool) {
    if mounted {
        return;
    }
    let done = (|| {
        let run = match crate::fsutil::open_nofollow(rootfd, c"run") {
            Err(Errno::NOENT) => {
                rustix::fs::mkdirat(rootfd, c"run", Mode::from_raw_mode(0o755))?;
                crate::fsutil::open_nofollow(rootfd, c"run")?
            }
            other => other?,
        };
        // Not a directory: the carrying that follows says what is wrong with it.
        if !rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(&run)?.st_mode).is_dir() {
            return Ok(());
        }
        // mount(2), through the descriptor: the mount API's calls may be refused by a
        // seccomp profile, which the carrying that follows reports.
        let mut path = [0u8; 32];
        let fd = i64::from(rustix::fd::AsRawFd::as_raw_fd(&run));
        let at = crate::fsutil::path(&mut path, "/proc/self/fd/%", &[Arg::Num(fd)])?;
        let flags = MountFlags::NOSUID | MountFlags::NODEV;
        m::mount(c"tmpfs", at, c"tmpfs", flags, c"mode=0755,size=20%,nr_inodes=800k")
    })();
    if let Err(e) = done {
        log::fail_on(b"/run", e, "warning: tmpfs on the guest's %: %: no /run/host for the guest");
    }
}

/// In the boot process, in the guest's root with its own `/proc`: a read-only tmpfs on
/// `/run/host` holding `container-manager`, `container-uuid` and the notify socket `sock`
/// (bound there, so the guest connects to the supervisor's socket). Returns whether the
/// guest has the socket.
pub fn provide(sock: Option<BorrowedFd<'_>>, uuid: &[u8; 36]) -> bool {
    let done = (|| {
        let run = rustix::fs::openat(
            CWD,
            c"/run",
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        match rustix::fs::mkdirat(&run, c"host", Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
        let target = crate::fsutil::open_nofollow(run.as_fd(), c"host")?;
        let attrs = A::MOUNT_ATTR_NOSUID | A::MOUNT_ATTR_NODEV | A::MOUNT_ATTR_NOEXEC;
        let host = tmpfs("mode=0755 size=64k nr_inodes=16", attrs)?;
        for (name, content) in
            [(c"container-manager", &b"nestinit"[..]), (c"container-uuid", &uuid[..])]
        {
            let file = rustix::fs::openat(
                &host,
                name,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o444),
            )?;
            log::write_all(file.as_fd(), content);
            log::write_all(file.as_fd(), b"\n");
        }
        let mut path = [0u8; 48];
        let fd = i64::from(rustix::fd::AsRawFd::as_raw_fd(&host));
        if let Some(sock) = sock {
            let at = crate::fsutil::path(&mut path, "/proc/self/fd/%/notify", &[Arg::Num(fd)])?;
            net::bind(sock, &SocketAddrUnix::new(at)?)?;
        }
        m::move_mount(&host, c"", &target, c"", BOTH)?;
        let root = crate::fsutil::path(&mut path, "/proc/self/fd/%", &[Arg::Num(fd)])?;
        let ro = MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID;
        m::mount_remount(root, ro | MountFlags::NODEV | MountFlags::NOEXEC, c"")
    })();
    match done {
        Ok(()) => sock.is_some(),
        Err(e) => {
            log::fail_on(
                b"/run/host",
                e,
                "warning: the guest's %: %: no notify socket, no readiness for this boot",
            );
            false
        }
    }
}

/// One message taken off the socket.
pub struct Received {
    pub len: usize,
    /// The sender's PID as the kernel vouches for it (SCM_CREDENTIALS).
    pub pid: Option<i32>,
    /// Longer than the buffer: dropped whole, never read in part.
    pub oversized: bool,
}

/// Takes the next message off `sock` into `buf`; `None` when nothing is queued. Descriptors
/// sent along (SCM_RIGHTS) are closed at once.
pub fn receive(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<Option<Received>, Errno> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1), ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [rustix::io::IoSliceMut::new(buf)];
    let flags = RecvFlags::DONTWAIT | RecvFlags::TRUNC | RecvFlags::CMSG_CLOEXEC;
    let msg = match net::recvmsg(sock, &mut iov, &mut control, flags) {
        Ok(msg) => msg,
        Err(Errno::AGAIN) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut pid = None;
    for cmsg in control.drain() {
        if let RecvAncillaryMessage::ScmCredentials(cred) = cmsg {
            pid = Some(cred.pid.as_raw_nonzero().get());
        }
    }
    Ok(Some(Received { len: msg.bytes, pid, oversized: msg.bytes > buf.len() }))
}

/// Where PID 1 reports the guest's readiness: its own `NOTIFY_SOCKET` (a path, or `@name` for
/// an abstract socket), as `sd_notify(3)` reads it.
pub struct Outward {
    fd: OwnedFd,
    addr: SocketAddrUnix,
}

impl Outward {
    pub fn from_env(envp: Vector) -> Option<Outward> {
        let path = nestinit::config::env_lookup(envp.iter(), b"NOTIFY_SOCKET")?;
        let bytes = path.to_bytes();
        let addr = match bytes.first() {
            Some(b'/') => SocketAddrUnix::new(path),
            Some(b'@') => SocketAddrUnix::new_abstract_name(bytes.get(1..).unwrap_or(b"")),
            _ => Err(Errno::INVAL),
        };
        let fd = addr.and_then(|addr| {
            let fd = net::socket_with(
                net::AddressFamily::UNIX,
                net::SocketType::DGRAM,
                net::SocketFlags::CLOEXEC | net::SocketFlags::NONBLOCK,
                None,
            )?;
            Ok(Outward { fd, addr })
        });
        fd.map_err(|e| {
            log::fail_on(bytes, e, "warning: NOTIFY_SOCKET %: %: readiness not reported")
        })
        .ok()
    }

    /// Sends `msg`; a full or missing listener costs a line, never a wait.
    pub fn send(&self, msg: &[u8]) {
        if let Err(e) = net::sendto(&self.fd, msg, net::SendFlags::NOSIGNAL, &self.addr) {
            log::fail(e, "warning: report to NOTIFY_SOCKET: %: continuing");
        }
    }
}

/// Whether the guest init `pid` announces its readiness (is systemd): see
/// [`nestinit::notify::announces_readiness`].
pub fn announces_readiness(pid: i32) -> bool {
    let mut path = [0u8; 48];
    let mut exe = [0u8; 256];
    let Ok(path) = crate::fsutil::path(&mut path, "/proc/%/exe", &[Arg::Num(i64::from(pid))])
    else {
        return false;
    };
    rustix::fs::readlinkat_raw(rustix::fs::CWD, path, &mut exe[..])
        .ok()
        .and_then(|n| exe.get(..n))
        .is_some_and(nestinit::notify::announces_readiness)
}
