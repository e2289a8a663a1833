//! `--mode child`: run CMD as our child, tini-style. No namespaces: we reap every process that
//! re-parents to us (as PID 1, or as a registered child subreaper otherwise), forward signals
//! and exit with the command's status. Without CMD we pause until a stop request.

use crate::guest;
use crate::log;
use crate::supervise::{self, Event};
use crate::sys;
use crate::vector::Vector;
use nestinit::config::Config;
use nestinit::exit::code;
use nestinit::text::Arg;

pub fn run(cfg: &Config<'_>, cmd: Vector, envp: Vector) -> i32 {
    let mut sup = match supervise::start(cfg) {
        Ok(s) => s,
        Err(crate::log::Failed(c)) => return c,
    };
    if cmd.iter().next().is_some() {
        match sys::fork(0, false) {
            Ok(sys::Forked::Child) => sys::exit_group(guest::exec_guest(
                cfg,
                cfg.drop_caps,
                cmd,
                envp,
                None,
                &sup.inherited,
            )),
            Ok(sys::Forked::Parent { pid, .. }) => {
                log::say(log::INFO, "started pid %", &[Arg::Num(i64::from(pid))]);
                sup.set_main(pid);
            }
            Err(e) => {
                log::fail(e, "fork: %: check the pids limit and memory");
                return code::SETUP;
            }
        }
    } else {
        log::say(log::INFO, "no command: pausing until a stop signal", &[]);
    }
    supervise::leave_cwd();
    let status = match sup.wait_main() {
        Event::Ended(e) => {
            log::say(log::INFO, "command ended with status %", &[Arg::Num(i64::from(e.code()))]);
            e.code()
        }
        Event::StopRequested => 0,
    };
    sup.drain();
    status
}
