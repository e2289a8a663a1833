//! `--mode child`: run CMD as our child, tini-style. No namespaces: we reap every process that
//! re-parents to us (as PID 1, or as a registered child subreaper otherwise), forward signals
//! and exit with the command's status. Without CMD we pause until a stop request.

use crate::log;
use crate::rt::Vector;
use crate::spawn::{self, Env, Inherited};
use crate::supervise::{self, Event, Supervisor};
use crate::sys;
use nestinit::config::{env_lookup, Config};
use nestinit::exit::code;
use rustix::io::Errno;

pub fn run(cfg: &Config<'_>, cmd: Vector, envp: Vector) -> i32 {
    let inherited = match Inherited::capture() {
        Ok(i) => i,
        Err(e) => {
            log::fail(
                "block signals",
                e,
                "cannot supervise without it; check seccomp rules",
            );
            return code::SETUP;
        }
    };
    let pid1 = supervise::is_pid1();
    if !pid1 {
        // Orphans of the command re-parent to us rather than to the real init, so we can reap
        // them and see them at shutdown.
        if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
            log::fail(
                "become subreaper",
                e,
                "orphans will re-parent to the system's init",
            );
        }
    }
    let mut sup = Supervisor::new(cfg, pid1);
    if cmd.iter().next().is_some() {
        let env = match Env::build(envp, &[]) {
            Ok(env) => env,
            Err(e) => {
                log::fail("environment", e, "too many variables: pass fewer than 1024");
                return code::SETUP;
            }
        };
        match sys::fork(0, false) {
            Ok(sys::Forked::Child) => start_command(&inherited, cmd, &env, envp),
            Ok(sys::Forked::Parent { pid, .. }) => {
                log::emit(log::INFO, |m| {
                    m.str("started pid ").num(i64::from(pid));
                });
                sup.set_main(pid);
            }
            Err(e) => {
                log::fail("fork", e, "check the pids limit and memory");
                return code::SETUP;
            }
        }
    } else {
        log::emit(log::INFO, |m| {
            m.str("no command: pausing until a stop signal");
        });
    }
    if let Err(e) = rustix::process::chdir(c"/") {
        log::fail("chdir /", e, "continuing in the current directory");
    }
    let status = match sup.wait_main() {
        Event::Ended(e) => {
            log::emit(log::INFO, |m| {
                m.str("command ended with status ").num(i64::from(e.code()));
            });
            e.code()
        }
        Event::StopRequested => 0,
    };
    sup.drain();
    status
}

/// In the forked child: own process group, the terminal's foreground when there is one, the
/// inherited signal state, then exec. Never returns.
fn start_command(inherited: &Inherited, cmd: Vector, env: &Env, envp: Vector) -> ! {
    // Like tini: a process group of its own, in the terminal's foreground, so that Ctrl-C and
    // job control reach the command and not us. Signals are still blocked here, so
    // tcsetpgrp from the background does not stop us with SIGTTOU.
    let _ = rustix::process::setpgid(None, None);
    match rustix::termios::tcsetpgrp(log::stdio(0), rustix::process::getpid()) {
        // No terminal, or not ours: nothing to hand over (catatonit's triage).
        Ok(()) | Err(Errno::NOTTY) | Err(Errno::NXIO) | Err(Errno::BADF) | Err(Errno::PERM) => {}
        Err(e) => log::fail("take the terminal", e, "job control may not work"),
    }
    if let Err(e) = inherited.restore() {
        log::fail("restore signal mask", e, "cannot start the command safely");
        sys::exit_group(code::SETUP);
    }
    let path = env_lookup(envp.iter(), b"PATH");
    sys::exit_group(spawn::exec(cmd, env.as_ptr(), path))
}
