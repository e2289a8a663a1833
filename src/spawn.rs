//! Starting the command: the signal state it inherits, its environment, and `execve` with a
//! PATH search. Shared by every mode and by `exec`.

use crate::log;
use crate::sys;
use crate::vector::Vector;
use core::ffi::{c_char, CStr};
use nestinit::exit::code;
use nestinit::text::Arg;
use rustix::io::Errno;

/// The signal state nestinit inherited and the command must get back
/// (docs/design.md#inherited-signal-state):
/// catatonit and dumb-init leak their own mask into the child; tini captures it in one struct.
#[derive(Clone, Copy, Default)]
pub struct Inherited {
    pub mask: sys::SigSet,
    /// SIGCHLD was SIG_IGN: the supervisor resets it (it would lose exit statuses to
    /// autoreap), the command gets it back. Other ignored signals are never touched, so they
    /// pass through exec unchanged.
    pub chld_ignored: bool,
}

impl Inherited {
    /// Blocks every signal but the fault signals and resets an ignored SIGCHLD, returning what
    /// was there before. First thing the supervisor does.
    pub fn capture() -> Result<Inherited, Errno> {
        let mask = sys::sigprocmask(sys::How::SetMask, nestinit::signals::supervisor_mask())?;
        let old = sys::sigaction(nestinit::signals::SIGCHLD, sys::SIG_DFL)?;
        Ok(Inherited { mask, chld_ignored: old == sys::SIG_IGN })
    }

    /// Puts the inherited state back; called in the child right before exec.
    pub fn restore(&self) -> Result<(), Errno> {
        if self.chld_ignored {
            sys::sigaction(nestinit::signals::SIGCHLD, sys::SIG_IGN)?;
        }
        sys::sigprocmask(sys::How::SetMask, self.mask).map(|_| ())
    }
}

/// Most environment entries passed to a command; more is an error, never a silent drop.
/// Kubernetes adds seven variables per service in the namespace (service links), so
/// thousands are real; the vector is static memory, touched only as far as it is filled.
pub const MAX_ENV: usize = 16384;

/// A NULL-terminated environment vector for the command: the caller's, without `NESTINIT_*`
/// and `INIT_DROP_CAP`. A guest also gets `container=docker` unless the runtime set
/// `container` (after the root switch systemd cannot see `/.dockerenv`,
/// docs/design.md#container-env), and its own variables (`container_uuid=`, `NOTIFY_SOCKET=`)
/// in place of inherited ones; a variable given with an empty value is removed instead.
pub struct Env {
    /// NULL after the last entry: one more slot than entries.
    ptrs: [*const c_char; MAX_ENV + 1],
}

impl Env {
    /// `guest`: the guest's own `NAME=value` entries, `None` for a command that is no guest.
    /// Fails with one logged line and the setup exit code when the vector is full.
    pub fn build(envp: Vector, guest: Option<&[&CStr]>) -> crate::log::Step<&'static Env> {
        Self::fill(envp, guest).map_err(|_| {
            log::say(
                log::ERROR,
                "environment: more than % variables: pass fewer",
                &[Arg::Num(MAX_ENV as i64)],
            );
            crate::log::Failed(code::SETUP)
        })
    }

    fn fill(envp: Vector, guest: Option<&[&CStr]>) -> Result<&'static Env, ()> {
        /// Zeroed static memory rather than 128 KiB of stack.
        static mut ENV: Env = Env { ptrs: [core::ptr::null(); MAX_ENV + 1] };
        // SAFETY: only the process about to exec the command builds it, once, single-threaded
        // (a forked child, or chroot mode's only process).
        let env = unsafe { &mut *core::ptr::addr_of_mut!(ENV) };
        // The last slot stays NULL.
        let mut slots = env.ptrs.iter_mut().take(MAX_ENV);
        let mut container = false;
        for e in envp.iter() {
            let b = e.to_bytes();
            container |= b.starts_with(b"container=");
            let replaced = guest.unwrap_or(&[]).iter().any(|v| {
                let v = v.to_bytes();
                let name = v.iter().position(|&c| c == b'=').and_then(|eq| v.get(..=eq));
                name.is_some_and(|name| b.starts_with(name))
            });
            if b.starts_with(b"NESTINIT_") || b.starts_with(b"INIT_DROP_CAP=") || replaced {
                continue;
            }
            *slots.next().ok_or(())? = e.as_ptr();
        }
        if let Some(vars) = guest {
            if !container {
                *slots.next().ok_or(())? = c"container=docker".as_ptr();
            }
            for v in vars.iter().filter(|v| !v.to_bytes().ends_with(b"=")) {
                *slots.next().ok_or(())? = v.as_ptr();
            }
        }
        Ok(env)
    }

    pub fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

/// Like tini: a process group of our own in the terminal's foreground, so that Ctrl-C and job
/// control reach the command and not the supervisor. Called with signals still blocked, so
/// `tcsetpgrp` from a background group does not stop us with SIGTTOU.
pub fn take_terminal() {
    let _ = rustix::process::setpgid(None, None);
    match rustix::termios::tcsetpgrp(log::stdio(0), rustix::process::getpid()) {
        // No terminal, or not ours: nothing to hand over (catatonit's errno triage).
        Ok(()) | Err(Errno::NOTTY) | Err(Errno::NXIO) | Err(Errno::BADF) | Err(Errno::PERM) => {}
        Err(e) => log::fail(e, "take the terminal: %: job control may not work"),
    }
}

const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Executes `argv[0]` like `execvp(3)`: a name with a slash is run as is, others are looked up
/// in `path` (the command's PATH, or the usual default). Returns only on failure, with the
/// exit code the contract gives it (126 cannot be executed, 127 not found) after printing one
/// line.
pub fn exec(argv: Vector, envp: *const *const c_char, path: Option<&CStr>) -> i32 {
    let Some(cmd) = argv.iter().next() else {
        log::say(log::ERROR, "exec: no command: pass one after the options", &[]);
        return code::NOT_FOUND;
    };
    let name = cmd.to_bytes();
    // Not `contains`, which pulls in core's 500-byte memchr for this one call.
    #[allow(clippy::manual_contains)]
    let has_slash = name.iter().any(|&c| c == b'/');
    let err = if has_slash || name.is_empty() {
        sys::execve(cmd, argv.as_ptr(), envp)
    } else {
        search(cmd, argv, envp, path.map_or(DEFAULT_PATH, CStr::to_bytes))
    };
    let (status, template) = match err {
        Errno::NOENT | Errno::NOTDIR => {
            (code::NOT_FOUND, "exec %: %: not found: check its path, PATH and the root")
        }
        Errno::NAMETOOLONG => (code::NOT_FOUND, "exec %: %: use a shorter path"),
        Errno::ACCESS | Errno::PERM => {
            (code::NOT_EXECUTABLE, "exec %: %: check its mode and that its mount is not noexec")
        }
        Errno::NOEXEC => (code::NOT_EXECUTABLE, "exec %: %: not a binary or a script with #!"),
        Errno::ISDIR => (code::NOT_EXECUTABLE, "exec %: %: name an executable file"),
        _ => (code::NOT_EXECUTABLE, "exec %: %: check the file and the system's limits"),
    };
    log::fail_on(name, err, template);
    status
}

/// The PATH walk of `execvp(3)`: remembers EACCES so that a non-executable match anywhere
/// yields 126 rather than 127.
fn search(cmd: &CStr, argv: Vector, envp: *const *const c_char, path: &[u8]) -> Errno {
    let mut result = Errno::NOENT;
    for dir in nestinit::text::split(path, b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let mut buf = [0u8; crate::fsutil::PATH_MAX];
        let Ok(full) =
            crate::fsutil::path(&mut buf, "%/%", &[Arg::Str(dir), Arg::Str(cmd.to_bytes())])
        else {
            result = Errno::NAMETOOLONG;
            continue;
        };
        match sys::execve(full, argv.as_ptr(), envp) {
            Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG => {}
            Errno::ACCESS => result = Errno::ACCESS,
            other => return other,
        }
    }
    result
}
