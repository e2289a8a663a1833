//! The tiny runtime: process entry, exit, and the few symbols a no-libc binary must provide.
//!
//! The kernel starts `_start` with the stack pointer at `argc`, followed by the `argv` pointers,
//! a NULL, the `envp` pointers and another NULL (see the System V ABI, "Process Initialization").
//! `_start` hands that pointer to [`entry`], which never returns.

use core::ffi::{c_char, CStr};

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "mov x29, #0",
    "mov x30, #0",
    "mov x0, sp",
    "and sp, x0, #-16",
    "bl {entry}",
    "udf #0",
    entry = sym entry,
);

#[cfg(target_arch = "arm")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "mov fp, #0",
    "mov lr, #0",
    "mov r0, sp",
    "bic sp, r0, #15",
    "bl {entry}",
    "udf #0",
    entry = sym entry,
);

#[cfg(target_arch = "riscv64")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    ".option push",
    ".option norelax",
    "lla gp, __global_pointer$",
    ".option pop",
    "mv fp, zero",
    "mv ra, zero",
    "mv a0, sp",
    "andi sp, sp, -16",
    "call {entry}",
    "unimp",
    entry = sym entry,
);

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

/// Called by `_start` with the initial stack pointer; never returns.
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: the kernel's initial stack starts with argc, then argv[argc + 1], then envp.
    let (argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const c_char;
        (argv, argv.add(argc + 1))
    };
    let code = crate::main(Vector(argv), Vector(envp));
    crate::machine::exit(code)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Only reachable through a bug: the binary denies unwrap, expect, panic and unchecked
    // indexing. Say so and die loudly rather than hang PID 1 (a machine's PID 1 powers off).
    crate::log::raw(b"nestinit: internal error: aborting\n");
    crate::machine::exit(125)
}

// The compiler may emit calls to these; without libc we provide them. Volatile accesses keep
// LLVM from turning the loops back into calls to the functions themselves.

/// `memcpy(3)`
#[no_mangle]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees both ranges are valid for `n` bytes.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
        i += 1;
    }
    dst
}

/// `memmove(3)`
#[no_mangle]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) {
        // SAFETY: copying forward is safe when the destination starts before the source.
        return unsafe { memcpy(dst, src, n) };
    }
    let mut i = n;
    while i > 0 {
        i -= 1;
        // SAFETY: the caller guarantees both ranges are valid for `n` bytes.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
    }
    dst
}

/// `memset(3)`
#[no_mangle]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees the range is valid for `n` bytes.
        unsafe { dst.add(i).write_volatile(c as u8) };
        i += 1;
    }
    dst
}

/// `memcmp(3)`
#[no_mangle]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees both ranges are valid for `n` bytes.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// `bcmp(3)`, which LLVM emits for equality-only comparisons.
#[no_mangle]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// `strlen(3)`, used by `CStr::from_ptr`.
#[no_mangle]
unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller guarantees `s` is NUL-terminated.
    while unsafe { s.add(n).read_volatile() } != 0 {
        n += 1;
    }
    n
}

/// Unoptimised builds, and every 32-bit ARM build, link precompiled code whose unwind tables
/// name this symbol. With `panic = "abort"` nothing ever unwinds, so it is never called.
#[cfg(any(debug_assertions, target_arch = "arm"))]
#[no_mangle]
extern "C" fn rust_eh_personality() {}

/// 32-bit ARM unwind tables (`.ARM.exidx`) name these personality routines even with
/// `panic = "abort"`; nothing ever unwinds, so they are never called.
#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr0() {}

#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr1() {}
