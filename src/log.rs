//! Messages on stderr, one line each: `nestinit: <text>`. Errors read
//! `nestinit: <step>: <errno name>: <what to do>`.
//!
//! Levels follow the contract: 0 errors, 1 + warnings and lifecycle, 2 info, 3 debug.

use core::sync::atomic::{AtomicU8, Ordering};
use nestinit::text::Line;
use rustix::io::Errno;

pub const ERROR: u8 = 0;
pub const NOTICE: u8 = 1;
pub const INFO: u8 = 2;
pub const DEBUG: u8 = 3;

/// The verbosity in force; set once from the configuration.
static LEVEL: AtomicU8 = AtomicU8::new(NOTICE);

pub type Msg = Line<512>;

pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn enabled(level: u8) -> bool {
    level <= LEVEL.load(Ordering::Relaxed)
}

/// Writes all of `bytes` to stderr; errors are ignored, as there is nowhere else to report them.
pub fn raw(bytes: &[u8]) {
    write_all(stdio(2), bytes);
}

/// Standard input, output or error (0, 1, 2).
pub fn stdio(n: i32) -> rustix::fd::BorrowedFd<'static> {
    // SAFETY: nestinit never closes 0, 1 or 2; if one was closed at startup the calls on it
    // fail with EBADF, which every caller handles.
    unsafe { rustix::fd::BorrowedFd::borrow_raw(n) }
}

pub fn write_all(fd: rustix::fd::BorrowedFd<'_>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return,
            Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// Emits `nestinit: <what f writes>` when `level` is enabled.
pub fn emit(level: u8, f: impl FnOnce(&mut Msg)) {
    if !enabled(level) {
        return;
    }
    let mut m = Msg::new();
    m.str("nestinit: ");
    f(&mut m);
    write_line(&mut m);
}

/// Writes a message and its newline.
#[inline(never)]
fn write_line(m: &mut Msg) {
    raw(m.as_bytes());
    raw(b"\n");
}

/// Appends an errno as its symbolic name (or `errno N`).
pub fn push_errno(m: &mut Msg, e: Errno) {
    let n = e.raw_os_error();
    match nestinit::errno::name(n) {
        Some(name) => m.str(name),
        None => m.str("errno ").num(i64::from(n)),
    };
}

/// `nestinit: <step>: <errno>: <hint>` at error level.
pub fn fail(step: &str, e: Errno, hint: &str) {
    emit(ERROR, |m| {
        m.str(step).str(": ");
        push_errno(m, e);
        m.str(": ").str(hint);
    });
}

/// Like [`fail`], with a subject (a path or command) after the step: `<step> <subject>: ...`.
pub fn fail_on(step: &str, subject: &[u8], e: Errno, hint: &str) {
    emit(ERROR, |m| {
        m.str(step).str(" ").push(subject).str(": ");
        push_errno(m, e);
        m.str(": ").str(hint);
    });
}

/// Appends a signal as `SIGTERM` or `SIGRTMIN+3`.
pub fn push_signal(m: &mut Msg, sig: i32) {
    match nestinit::signals::name(sig) {
        Some(n) => m.str("SIG").str(n),
        None if sig >= nestinit::signals::SIGRTMIN => {
            m.str("SIGRTMIN+").num(i64::from(sig - nestinit::signals::SIGRTMIN))
        }
        None => m.str("signal ").num(i64::from(sig)),
    };
}
