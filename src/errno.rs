//! Errno names for error lines (`nestinit: <step>: <errno name>: <what to do>`).

/// The generic Linux errno numbers (the same on x86_64, aarch64, arm and riscv64).
const NAMES: &str = "0 EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN \
    ENOMEM EACCES EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE \
    ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK \
    ENOSYS ENOTEMPTY ELOOP";

/// The symbolic name of `errno`, or `None` when it is outside the table (print the number).
pub fn name(errno: i32) -> Option<&'static [u8]> {
    match errno {
        95 => Some(b"EOPNOTSUPP"),
        // Linux error numbers above the classic table that nestinit can meet.
        61 => Some(b"ENODATA"),
        75 => Some(b"EOVERFLOW"),
        1..=40 => usize::try_from(errno).ok().and_then(|i| crate::bytes::word(NAMES, i)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::name(2), Some(&b"ENOENT"[..]));
        assert_eq!(super::name(13), Some(&b"EACCES"[..]));
        assert_eq!(super::name(38), Some(&b"ENOSYS"[..]));
        assert_eq!(super::name(40), Some(&b"ELOOP"[..]));
        assert_eq!(super::name(95), Some(&b"EOPNOTSUPP"[..]));
        assert_eq!(super::name(500), None);
        assert_eq!(super::name(0), None);
    }
}
