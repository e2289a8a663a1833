//! The NUL-terminated pointer vectors of `execve(2)`: the kernel's argv and envp, and the
//! few nestinit builds itself. A leaf: the runtime hands them to `main`, the modes pass them on.

use core::ffi::{c_char, CStr};

/// The NUL-terminated argument or environment vector the kernel handed us.
#[derive(Clone, Copy)]
pub struct Vector(*const *const c_char);

impl Vector {
    /// A vector of our own (a static default command, the shell's arguments).
    ///
    /// # Safety
    ///
    /// `p` points to an array of pointers ended by a null pointer. Each entry before it is a
    /// NUL-terminated string that is never freed or changed ([`Vector::iter`] hands them out as
    /// `&'static CStr`), and the array stays valid and unchanged for as long as the vector, a
    /// copy of it or an iterator over it is used.
    pub unsafe fn from_ptr(p: *const *const c_char) -> Vector {
        Vector(p)
    }

    /// The raw `NULL`-terminated pointer array, as `execve(2)` wants it.
    pub fn as_ptr(self) -> *const *const c_char {
        self.0
    }

    /// The vector without its first `n` entries (stops at the terminating NULL).
    pub fn skip(self, n: usize) -> Vector {
        let mut p = self.0;
        for _ in 0..n {
            // SAFETY: `p` points into the kernel's NULL-terminated vector and we stop at NULL.
            if unsafe { (*p).is_null() } {
                break;
            }
            // SAFETY: not at the terminator, so the next slot exists.
            p = unsafe { p.add(1) };
        }
        Vector(p)
    }

    pub fn iter(self) -> VectorIter {
        VectorIter(self.0)
    }
}

#[derive(Clone)]
pub struct VectorIter(*const *const c_char);

impl Iterator for VectorIter {
    type Item = &'static CStr;
    fn next(&mut self) -> Option<&'static CStr> {
        // SAFETY: the vector is NULL-terminated and lives for the whole process.
        let s = unsafe { *self.0 };
        if s.is_null() {
            return None;
        }
        // SAFETY: each entry is a NUL-terminated string that is never freed.
        self.0 = unsafe { self.0.add(1) };
        // SAFETY: as above.
        Some(unsafe { CStr::from_ptr(s) })
    }
}
