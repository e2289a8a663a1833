//! Small file helpers on fixed buffers.

use core::ffi::CStr;
use nestinit::text::{Arg, Line};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Most bytes in a path nestinit builds itself, its NUL included (the mount table's limit).
pub use nestinit::mountinfo::PATH_MAX;

/// `template` with its `%`s filled in (see `nestinit::text`) as a C string in `buf`;
/// `ENAMETOOLONG` when it does not fit or holds a NUL.
pub fn path<'b>(buf: &'b mut [u8], template: &str, args: &[Arg<'_>]) -> Result<&'b CStr, Errno> {
    let mut line = Line::new(buf);
    line.fmt(template, args);
    line.into_cstr().ok_or(Errno::NAMETOOLONG)
}

/// Reads `/proc/<pid>/<file>` into `buf`.
pub fn read_proc<'b>(pid: i32, file: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut path = [0u8; 48];
    let path =
        self::path(&mut path, "/proc/%/%", &[Arg::Num(i64::from(pid)), Arg::Str(file.as_bytes())]);
    path.and_then(|path| read_file(path, buf)).ok()
}

/// Opens `path` read-only.
fn open_read(path: &CStr) -> Result<OwnedFd, Errno> {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
}

/// Reads all of `path` into `buf`; `EFBIG` when it does not fit (never a silent cut).
pub fn read_file<'b>(path: &CStr, buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let fd = open_read(path)?;
    let mut len = 0;
    loop {
        let rest = buf.get_mut(len..).unwrap_or(&mut []);
        if rest.is_empty() {
            return Err(Errno::FBIG);
        }
        match rustix::io::read(&fd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf.get(..len).unwrap_or(&[]))
}

/// Reads `path` in chunks, handing each to `f`; for files of any length.
pub fn read_chunks(path: &CStr, f: &mut dyn FnMut(&[u8])) -> Result<(), Errno> {
    let fd = open_read(path)?;
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => f(buf.get(..n).unwrap_or(&[])),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// One component, `O_PATH | O_NOFOLLOW`; a symlink (which that combination opens rather than
/// follows) is `ELOOP`.
pub fn open_nofollow(parent: rustix::fd::BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
    let fd = rustix::fs::openat(
        parent,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
        return Err(Errno::LOOP);
    }
    Ok(fd)
}
