//! The tiny runtime: process entry, exit, and the few symbols a no-libc binary must provide.
//!
//! The kernel starts `_start` with the stack pointer at `argc`, followed by the `argv` pointers,
//! a NULL, the `envp` pointers and another NULL (see the System V ABI, "Process Initialization").
//! `_start` hands that pointer to [`entry`], which never returns.

use crate::vector::Vector;
use core::ffi::c_char;

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

/// Called by `_start` with the initial stack pointer; never returns.
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: the kernel's initial stack starts with argc, then argv[argc + 1], then envp.
    let (argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const c_char;
        (argv, argv.add(argc + 1))
    };
    // SAFETY: the kernel's vectors: NULL-terminated, alive and unchanged for the whole process.
    let (argv, envp) = unsafe { (Vector::from_ptr(argv), Vector::from_ptr(envp)) };
    let code = crate::main(argv, envp);
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
