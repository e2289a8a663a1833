//! Small file helpers on fixed buffers.

use core::ffi::CStr;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Most bytes in a path nestinit builds itself.
pub const PATH_MAX: usize = 4096;

/// A path as a C string in a fixed buffer; `ENAMETOOLONG` when it does not fit.
pub struct PathBuf {
    buf: [u8; PATH_MAX],
    len: usize,
}

impl PathBuf {
    pub fn new(parts: &[&[u8]]) -> Result<PathBuf, Errno> {
        let mut p = PathBuf { buf: [0; PATH_MAX], len: 0 };
        for part in parts {
            p.push(part)?;
        }
        Ok(p)
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        let end = self.len + bytes.len();
        if end >= PATH_MAX || bytes.contains(&0) {
            return Err(Errno::NAMETOOLONG);
        }
        self.buf.get_mut(self.len..end).ok_or(Errno::NAMETOOLONG)?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    pub fn as_cstr(&mut self) -> &CStr {
        if let Some(b) = self.buf.get_mut(self.len) {
            *b = 0;
        }
        CStr::from_bytes_with_nul(self.buf.get(..=self.len).unwrap_or(b"\0")).unwrap_or(c"")
    }
}

/// Opens `path` read-only.
pub fn open_read(path: &[u8]) -> Result<rustix::fd::OwnedFd, Errno> {
    let mut p = PathBuf::new(&[path])?;
    rustix::fs::open(p.as_cstr(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
}

/// Reads all of `path` into `buf`; `EFBIG` when it does not fit (never a silent cut).
pub fn read_file<'b>(path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
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
pub fn read_chunks(path: &[u8], mut f: impl FnMut(&[u8])) -> Result<(), Errno> {
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
