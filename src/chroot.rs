//! `--mode chroot`: the namespace-less variant of nested mode. The container's mounts are bound
//! into the root, which becomes the root by chroot, and the guest init is exec'd in place of
//! nestinit: it is the container's PID 1, and there is no supervisor.

use crate::fsutil::PATH_MAX;
use crate::guest::{self, Carry, Failed};
use crate::nested;
use crate::spawn::Inherited;
use crate::sys;
use crate::vector::Vector;
use nestinit::config::Config;

/// `--mode chroot`: bind the container's mounts into the root, bind `/proc`, chroot and exec
/// the guest in place of nestinit, so it becomes the container's PID 1. Returns only on
/// failure.
#[inline(never)]
pub fn run(cfg: &Config<'_>, cmd: Vector, envp: Vector) -> i32 {
    let mut rootbuf = [0u8; PATH_MAX];
    let root = match nested::normal_root(cfg, &mut rootbuf) {
        Ok(r) => r,
        Err(Failed(c)) => return c,
    };
    let id = guest::uuid();
    let mut uuid = [0u8; 52];
    let uuid = nested::uuid_var(&id, &mut uuid);
    // Nothing is blocked or reset in this mode: the guest inherits our state unchanged.
    let mask = sys::sigprocmask(sys::How::Block, 0).unwrap_or(0);
    let inherited = Inherited { mask, chld_ignored: false };
    // SAFETY: chroot mode runs no other process that could use the table.
    let table = unsafe { nested::table() };
    if root != c"/" {
        if let Err(Failed(c)) = guest::read_mounts(table)
            .and_then(|()| guest::enter_root(table, root, Carry::Bind).map(drop))
        {
            return c;
        }
    }
    guest::exec_guest(cfg, cfg.drop_caps, nested::command(cmd), envp, Some(&[uuid]), &inherited)
}
