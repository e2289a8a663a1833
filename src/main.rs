//! nestinit: a tiny static `/init` that boots a guest OS from a volume inside a container.
//!
//! This file only sequences: parse the configuration, then hand over to the mode. The pure
//! decisions live in the library (`src/lib.rs`); the modules below carry them out.
#![no_std]
#![no_main]

mod child;
mod enter;
mod fsutil;
mod guest;
mod log;
mod machine;
mod nested;
mod rt;
mod spawn;
mod supervise;
mod sys;

use nestinit::config::{self, Action, Mode};
use nestinit::exit::code;
use rt::Vector;

const USAGE: &str = "\
Usage: /init [OPTIONS] [--] [CMD [ARG...]]   supervise CMD (default /sbin/init) as the guest
       /init exec [OPTIONS] [--] CMD [ARG...] run CMD inside the running guest
       /init getshell [SHELL]                  interactive shell in the guest (bash, else sh)
       /init status                            describe the guest; exit 0 only if one runs
       /init --help | --version

Options (each also read from the environment variable in brackets; the flag wins):
  --mode nested|child|chroot  nested: guest in new mount+PID namespaces; child: run CMD as a
                              child, reap and forward (tini-style); chroot: bind the mounts into
                              ROOT, chroot and exec CMD in place      [NESTINIT_MODE, nested]
  --root DIR                  the guest's root volume; / keeps ours   [NESTINIT_ROOT, /data00]
  --stop-signal SIG|auto      what SIGTERM/SIGINT become; auto sends SIGRTMIN+3 to a guest
                              that blocks or catches it (systemd)     [NESTINIT_STOP_SIGNAL]
  --stop-timeout SECS         SIGKILL this long after a stop request  [NESTINIT_STOP_TIMEOUT, 10]
  --on-reboot restart|exit    a guest reboot boots it again, or exits 133 [NESTINIT_ON_REBOOT]
  --drop-caps LIST            capabilities to drop from the guest     [NESTINIT_DROP_CAPS,
                              e.g. cap_sys_admin,cap_net_raw           INIT_DROP_CAP]
  --no-new-privs              set no_new_privs for the guest          [NESTINIT_NO_NEW_PRIVS=1]
  --machine | --no-machine    force machine mode on or off            [NESTINIT_MACHINE=1|0]
  -v (repeat), -q             more or less logging                    [NESTINIT_VERBOSITY 0-3]

Exit status: the guest's code, or 128+signal; 0 after a guest poweroff or halt; 133 after a
reboot with --on-reboot exit; 2 usage; 3 no guest (exec, getshell, status); 125 setup failed;
126 cannot execute; 127 not found.
";

/// Called by the runtime with the kernel's argument and environment vectors.
fn main(argv: Vector, envp: Vector) -> i32 {
    let cfg = match config::parse(argv.iter(), |name| config::env_lookup(envp.iter(), name)) {
        Ok(cfg) => cfg,
        Err(e) => {
            log::emit(log::ERROR, |m| {
                m.str("usage: bad ")
                    .str(e.what)
                    .str(" '")
                    .push(e.value)
                    .str("': expected ")
                    .str(e.accepted);
                m.str(" (see --help)");
            });
            return machine::refuse_to_exit(code::USAGE);
        }
    };
    log::set_level(cfg.verbosity);
    let cmd = argv.skip(cfg.cmd.min(argv.iter().count()));
    match (cfg.action, cfg.mode) {
        (Action::Help, _) => {
            log::write_all(log::stdio(1), USAGE.as_bytes());
            0
        }
        (Action::Version, _) => {
            log::write_all(
                log::stdio(1),
                concat!("nestinit ", env!("CARGO_PKG_VERSION"), "\n").as_bytes(),
            );
            0
        }
        (Action::Exec | Action::GetShell | Action::Status, _) => enter::run(&cfg, cmd, envp),
        (Action::Supervise, Mode::Child) => child::run(&cfg, cmd, envp),
        (Action::Supervise, Mode::Nested) => nested::run(&cfg, cmd, envp),
        (Action::Supervise, Mode::Chroot) => nested::chroot(&cfg, cmd, envp),
    }
}
