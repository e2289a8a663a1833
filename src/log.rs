//! Messages on stderr, one line each: `nestinit: <text>`. Errors read
//! `nestinit: <step>: <errno name>: <what to do>`.
//!
//! Levels follow the contract: 0 errors, 1 + warnings and lifecycle, 2 info, 3 debug. A
//! message is a template with a `%` for each value (`nestinit::text`), so every call site is
//! one call.

use core::sync::atomic::{AtomicU8, Ordering};
use nestinit::text::{Arg, Line};
use rustix::io::Errno;

/// A failure before the supervisor loop runs, already reported as its one line on stderr;
/// carries the exit code the contract gives it. Every setup step returns [`Step`].
pub struct Failed(pub i32);

pub type Step<T = ()> = Result<T, Failed>;

/// Reports `e` with `template` (as [`fail`]) and fails the setup: exit 125.
pub fn setup_failed(e: Errno, template: &str) -> Failed {
    fail(e, template);
    Failed(nestinit::exit::code::SETUP)
}

pub const ERROR: u8 = 0;
pub const NOTICE: u8 = 1;
pub const INFO: u8 = 2;
pub const DEBUG: u8 = 3;

/// The verbosity in force; set once from the configuration.
static LEVEL: AtomicU8 = AtomicU8::new(NOTICE);

pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn enabled(level: u8) -> bool {
    level <= LEVEL.load(Ordering::Relaxed)
}

/// Writes all of `bytes` to stderr; errors are ignored, as there is nowhere else to report them.
/// A guest's getty calls vhangup(2) on the console it shares with us (`docker run -t`), after
/// which our descriptor of the terminal only returns EIO: then `/dev/console` is opened
/// again onto fds 1 and 2, and the line is written there.
pub fn raw(bytes: &[u8]) {
    if try_write_all(stdio(2), bytes) == Err(Errno::IO) {
        let reopened = rustix::fs::open(
            c"/dev/console",
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        );
        if let Ok(console) = reopened {
            let _ = rustix::stdio::dup2_stdout(&console);
            let _ = rustix::stdio::dup2_stderr(&console);
            write_all(stdio(2), bytes);
        }
    }
}

/// Standard input, output or error (0, 1, 2).
pub fn stdio(n: i32) -> rustix::fd::BorrowedFd<'static> {
    // SAFETY: nestinit never closes 0, 1 or 2; if one was closed at startup the calls on it
    // fail with EBADF, which every caller handles.
    unsafe { rustix::fd::BorrowedFd::borrow_raw(n) }
}

/// Writes all of `bytes` to `fd`, ignoring errors.
pub fn write_all(fd: rustix::fd::BorrowedFd<'_>, bytes: &[u8]) {
    let _ = try_write_all(fd, bytes);
}

#[inline(never)]
fn try_write_all(fd: rustix::fd::BorrowedFd<'_>, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Ok(()),
            Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Emits `nestinit: <template with args>` and a newline when `level` is enabled.
#[inline(never)]
pub fn say(level: u8, template: &str, args: &[Arg<'_>]) {
    if !enabled(level) {
        return;
    }
    let mut buf = [0u8; 512];
    let mut m = Line::new(&mut buf);
    m.push(b"nestinit: ").fmt(template, args);
    raw(m.as_bytes());
    raw(b"\n");
}

/// An errno for a template.
pub fn errno(e: Errno) -> Arg<'static> {
    Arg::Errno(e.raw_os_error())
}

/// An error whose one value is the errno: `fail(e, "pipe: %: check the descriptor limit")`.
#[inline(never)]
pub fn fail(e: Errno, template: &str) {
    say(ERROR, template, &[errno(e)]);
}

/// An error about a path or command, then the errno: `fail_on(path, e, "open %: %: hint")`.
#[inline(never)]
pub fn fail_on(subject: &[u8], e: Errno, template: &str) {
    say(ERROR, template, &[Arg::Str(subject), errno(e)]);
}
