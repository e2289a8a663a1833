//! nestinit: a tiny static `/init` that boots a guest OS from a volume inside a container.
//!
//! This file only sequences: parse the configuration, then hand over to the mode. The pure
//! decisions live in the library (`src/lib.rs`); the modules below carry them out.
#![no_std]
#![no_main]

mod cgroup;
mod child;
mod chroot;
mod enter;
mod fsutil;
mod guest;
mod host;
mod log;
mod machine;
mod nested;
mod rt;
mod spawn;
mod supervise;
mod sys;
mod vector;

use nestinit::config::{self, Action, Mode};
use nestinit::exit::code;
use nestinit::text::Arg;
use vector::Vector;

const USAGE: &str = "\
Usage: /init [OPTIONS] [--] [CMD [ARG...]]  boot CMD (default /sbin/init) as the guest
       /init exec [--wait[=SECS]] [--] CMD [ARG...]  run CMD in the running guest, once
           it is ready with --wait (at most SECS, default 90)
       /init getshell [--wait[=SECS]] [SHELL]  login shell in the guest (bash, else sh)
       /init status [--ready]  describe the guest; exit 0 only if one runs (and is ready)
       /init --help | --version
Options [environment variable; the flag wins]:
  --mode nested|child|chroot [NESTINIT_MODE]  nested (default): guest in new mount, PID
      and cgroup namespaces; child: CMD as a child, tini-style; chroot: bind mounts, chroot,
      exec
  --root DIR [NESTINIT_ROOT]  the guest's root, default /data00; / keeps ours
  --stop-signal SIG|auto [NESTINIT_STOP_SIGNAL]  what SIGTERM/SIGINT become; auto:
      SIGRTMIN+3 if the guest blocks or catches it (systemd), else unchanged
  --stop-timeout SECS [NESTINIT_STOP_TIMEOUT]  SIGKILL after a stop, default 10
  --on-reboot restart|exit [NESTINIT_ON_REBOOT]  a guest reboot boots again, or exits 133
  --drop-caps LIST [NESTINIT_DROP_CAPS, INIT_DROP_CAP]  drop from the guest, e.g.
      cap_sys_admin,cap_net_raw
  --no-new-privs [NESTINIT_NO_NEW_PRIVS=1]  set no_new_privs for the guest
  --machine, --no-machine [NESTINIT_MACHINE=1|0]  force machine mode on or off
  -v (repeat), -q [NESTINIT_VERBOSITY=0-3]  more or less logging
Exit: the guest's status or 128+signal; 0 poweroff or halt; 133 reboot with --on-reboot
exit; 2 usage; 3 no guest; 125 setup failed; 126 cannot execute; 127 not found.
";

/// Called by the runtime with the kernel's argument and environment vectors.
fn main(argv: Vector, envp: Vector) -> i32 {
    // Borrowed, not moved out: moving the configuration out of the result costs a copy.
    let parsed = config::parse(argv.iter(), |name| config::env_lookup(envp.iter(), name));
    let cfg = match &parsed {
        Ok(cfg) => cfg,
        Err(e) => {
            log::say(
                log::ERROR,
                config::USAGE_ERROR,
                &[Arg::Str(e.what), Arg::Str(e.value), Arg::Str(e.accepted.as_bytes())],
            );
            return code::USAGE;
        }
    };
    log::set_level(cfg.verbosity);
    // `skip` stops at the end of argv (`cfg.cmd` is `usize::MAX` without CMD).
    let cmd = argv.skip(cfg.cmd);
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
        (Action::Exec | Action::GetShell | Action::Status, _) => enter::run(cfg, cmd, envp),
        (Action::Supervise, Mode::Child) => child::run(cfg, cmd, envp),
        (Action::Supervise, Mode::Nested) => nested::run(cfg, cmd, envp),
        (Action::Supervise, Mode::Chroot) => chroot::run(cfg, cmd, envp),
    }
}
