//! End-to-end tests under real Docker and containerd: the image the top-level `Dockerfile`
//! builds boots a Debian bookworm systemd guest (tests/e2e/rootfs.sh, cached under
//! `target/e2e/`) from a throwaway writable copy of it (an overlay, so the cache is never
//! written), in a dockerd of the test binary's own (tests/e2e/dockerd.sh):
//!
//! - the README's `docker run` line ([`README_RUN`]) under Docker's default seccomp profile,
//!   which refuses pivot_root, so nestinit falls back to moving the root onto `/` and
//!   chrooting, with a one-line warning: the guest boots to `running`, `/init status` sees a
//!   systemd-like guest, `systemctl reboot` boots it again in the same container with a new
//!   boot id, `systemctl poweroff` ends the container with 0, and `docker stop` halts systemd
//!   cleanly (its shutdown on the console, no SIGKILL from nestinit's stop timeout);
//! - the same boot with examples/seccomp.json (Docker's profile plus pivot_root) and with
//!   `seccomp=unconfined`, both without the fallback;
//! - a guest with systemd-resolved (its `/etc/resolv.conf` a symlink into `/run`, which
//!   nestinit leaves alone) under the default profile;
//! - examples/pod.yaml as `ctr run --seccomp` in dockerd's containerd (containerd's default
//!   profile, Kubernetes' RuntimeDefault): to `running`, then SIGTERM to the task halts
//!   systemd cleanly and the task exits 0.
//!
//! dockerd runs in a private mount namespace (its mounts never reach the host's table) and in
//! cgroups of its own; every container gets a fresh `--cgroup-parent` (or `ctr run
//! --cgroup`) that is emptied and removed afterwards. Each test checks that the host's mount
//! table, cgroup tree and cgroup mount options are unchanged (tests/e2e/host.rs) and cleans
//! up on every path (Drop guards). dockerd starts once per test binary, before the first
//! test's host check, and is stopped, with its cgroups and state removed, at the binary's exit.
//!
//! systemd, as it starts, resets `/dev/console` and flushes it, which now and then discards
//! nestinit's first lines before the runtime has read them: the fallback-warning check is then
//! inconclusive for that boot and says so. Without `systemd.getty_auto=0` (the README's line
//! has no command) the guest's console-getty hangs the terminal up (vhangup(2)); nestinit then
//! opens `/dev/console` again, so its later lines (reboot, stop, exit) are checked strictly.
//!
//! Needs root. tests/e2e/setup.sh installs debootstrap and docker.io (with containerd and
//! runc) when missing. The tests run one at a time on the whole machine (the e2e file lock,
//! shared with tests/e2e_systemd.rs) and print their timings on stderr: `cargo test --release
//! --test e2e_docker -- --nocapture --test-threads 1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
#[path = "e2e/docker.rs"]
mod docker;
#[path = "e2e/guest.rs"]
mod guest;
#[path = "e2e/host.rs"]
#[allow(dead_code)]
mod host;

use common::heavy_lock;
use docker::{ContainerdGuest, Docker, DockerGuest, Profile};
use guest::*;
use host::{CgroupTrees, HostState, MachineLock};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The README's docker command ("Use"), word for word: `ROOT` is the guest's root. The tests
/// add only a name and their clean-up flags (`--name`, `--cgroup-parent`, `--label`), the
/// seccomp profile, and on AppArmor hosts `apparmor=unconfined`, right after `run`;
/// [`readme_shows_the_tested_docker_run_line`] keeps the two in step.
const README_RUN: &str = "docker run -d -t --cap-add SYS_ADMIN --cap-add SYS_BOOT --tmpfs /run \
                          --tmpfs /run/lock --tmpfs /tmp -v ROOT:/data00 nestinit";
/// The image the README's line runs, built from the Dockerfile into the private dockerd.
const IMAGE: &str = "nestinit";
/// Docker's default profile plus pivot_root.
const SECCOMP_JSON: &str = "examples/seccomp.json";

// ---------------------------------------------------------------------------------------------
// Set-up: packages and the cached rootfs

/// The guests: Debian with systemd (tests/e2e_systemd.rs's), and the same with
/// systemd-resolved.
#[derive(Clone, Copy)]
enum Os {
    Debian,
    Resolved,
}

impl Os {
    /// Its cache dir under the target dir and the packages beyond rootfs.sh's default.
    fn recipe(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Os::Debian => ("e2e/rootfs", &[]),
            Os::Resolved => ("e2e/rootfs-resolved", &["systemd-resolved"]),
        }
    }
}

static PACKAGES: OnceLock<Result<(), String>> = OnceLock::new();
static ROOTFS: [OnceLock<Result<PathBuf, String>>; 2] = [OnceLock::new(), OnceLock::new()];

/// Installs the packages (when missing) and builds the rootfs (when missing or incomplete),
/// once per test binary.
fn rootfs(os: Os) -> PathBuf {
    if let Err(e) = PACKAGES.get_or_init(|| run_script("setup.sh", &[])) {
        panic!("e2e set-up failed: {e}");
    }
    let built = ROOTFS[os as usize].get_or_init(|| {
        let (dir, packages) = os.recipe();
        let rootfs = target_dir().join(dir);
        let started = Instant::now();
        let mut args = vec![rootfs.as_os_str()];
        args.extend(packages.iter().map(OsStr::new));
        run_script("rootfs.sh", &args)?;
        eprintln!("e2e-docker: rootfs ready in {:.1?}: {}", started.elapsed(), rootfs.display());
        Ok(rootfs)
    });
    match built {
        Ok(r) => r.clone(),
        Err(e) => panic!("e2e set-up failed: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Text without ANSI escape sequences, carriage returns and NULs (the console is a terminal).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' | '\0' => {}
            c => out.push(c),
        }
    }
    out
}

/// Runs `body` under the e2e locks with the set-up done and the test binary's dockerd up,
/// then checks the host. The body's guards (containers, roots, cgroups) are dropped before
/// the check.
fn e2e(os: Os, body: impl FnOnce(&'static Docker, &Path)) {
    let _lock = heavy_lock();
    let _machine = MachineLock::take();
    drop(CgroupTrees::stale());
    let root = rootfs(os);
    let docker = Docker::get();
    let started = Instant::now();
    let before = HostState::capture();
    body(docker, &root);
    before.assert_unchanged();
    eprintln!("e2e-docker: test done in {:.2?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// A guest under Docker or containerd

/// nestinit's warning that it chrooted because a seccomp profile refused pivot_root.
fn fallback_warning(g: &mut dyn Guest) -> Option<String> {
    g.nestinit_log()
        .lines()
        .find(|l| {
            l.starts_with("nestinit: warning:") && l.contains("pivot_root") && l.contains("seccomp")
        })
        .map(str::to_string)
}

/// The fallback warning is there when the profile refuses pivot_root, and only then.
///
/// Unless the console lost nestinit's first lines: systemd, starting as the guest's PID 1,
/// resets `/dev/console` and ends with `tcflush(TCIOFLUSH)`, which discards what the runtime
/// (the containerd shim, for Docker too) has not read from the terminal yet, a few
/// milliseconds after nestinit wrote its warning and `guest started`. Now and then, on a
/// loaded machine, both are gone; the check is then inconclusive for this boot, and says so.
fn assert_fallback(g: &mut dyn Guest, expected: bool) {
    let found = fallback_warning(g);
    if found.is_none() && !g.nestinit_log().contains("guest started (pid") {
        eprintln!(
            "e2e-docker: {}: the console lost nestinit's first lines (systemd flushed \
             /dev/console before the runtime read them): the pivot_root fallback warning \
             cannot be checked on this boot",
            g.name()
        );
        return;
    }
    assert_eq!(
        found.is_some(),
        expected,
        "{}: the pivot_root fallback warning should be {}: {found:?}\n{}",
        g.name(),
        if expected { "there" } else { "absent" },
        g.dump()
    );
}

/// `systemctl poweroff` ends the container with 0; returns the time it took.
fn power_off(g: &mut dyn Guest) -> Duration {
    let asked = Instant::now();
    let _ = g.exec(&["systemctl", "poweroff"]);
    assert_end(g, 0, "guest powered off or halted: exiting with status 0");
    let took = asked.elapsed();
    let console = g.console();
    assert!(
        console.contains("System Power Off"),
        "{}: the console should show \"System Power Off\"\n{console}",
        g.name()
    );
    took
}

/// `systemctl reboot` boots the guest again in place: a new boot id, the container still up,
/// `running` again. Returns the times to the new boot id and to `running`.
fn reboot(g: &mut dyn Guest) -> (Duration, Duration) {
    let first = boot_id(g).unwrap_or_else(|| panic!("{}: no boot id\n{}", g.name(), g.dump()));
    let asked = Instant::now();
    let _ = g.exec(&["systemctl", "reboot"]);
    let second = loop {
        assert!(g.is_running(), "{}: the container ended on reboot\n{}", g.name(), g.dump());
        assert!(
            asked.elapsed() < BOOT_TIMEOUT,
            "{}: no new boot after {BOOT_TIMEOUT:?}\n{}",
            g.name(),
            g.dump()
        );
        match boot_id(g) {
            Some(id) if id != first => break id,
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let new_boot = asked.elapsed();
    wait_running(g);
    let rebooted = asked.elapsed();
    assert!(g.is_running(), "{}: the container ended after the reboot", g.name());
    // nestinit's lines around the reboot are not asserted: the new systemd flushes the
    // console as it starts (TCFLSH), which can discard them before the runtime has read them
    // on a loaded machine. The new boot id in the same running container is the proof.
    if !g.nestinit_log().contains("guest rebooted: booting it again") {
        eprintln!("e2e-docker: {}: the reboot's lines were flushed from the console", g.name());
    }
    assert_ne!(first, second);
    (new_boot, rebooted)
}

/// A stop request halts systemd cleanly: its shutdown on the console, no SIGKILL from
/// nestinit's stop timeout. Returns the time from the request to the container's end.
fn stop_cleanly(g: &mut dyn Guest) -> Duration {
    stop_cleanly_from(g, true)
}

/// [`stop_cleanly`]; `booted`: the guest had started its services (which then stop).
fn stop_cleanly_from(g: &mut dyn Guest, booted: bool) -> Duration {
    let asked = Instant::now();
    g.stop();
    assert_end(g, 0, "guest powered off or halted: exiting with status 0");
    let stopped = asked.elapsed();
    let log = g.nestinit_log();
    assert!(log.contains("stop requested by SIGTERM"), "{}: {}", g.name(), g.dump());
    assert!(
        !log.contains("stop timeout reached"),
        "{}: SIGKILL was needed\n{}",
        g.name(),
        g.dump()
    );
    let console = g.console();
    let wants = ["Stopping", "Reached target shutdown.target", "System Shutdown"];
    for want in &wants[usize::from(!booted)..] {
        assert!(console.contains(want), "{}: the console lacks {want:?}\n{console}", g.name());
    }
    assert!(
        console.contains("System Halt") || console.contains("System Power Off"),
        "{}: the console shows no halt or power-off\n{console}",
        g.name()
    );
    stopped
}

/// Boots to `running` (with or without the pivot_root fallback), checks `/init status` and
/// an `/init exec`, powers off to exit 0.
fn boot_and_power_off(g: &mut dyn Guest, fallback: bool) {
    let booted = wait_running(g);
    assert_fallback(g, fallback);
    check_status(g);
    let out = g.exec(&["cat", "/proc/1/comm"]);
    assert_eq!(text(&out.stdout).trim(), "systemd", "{}: {}", g.name(), describe(&out));
    let off = power_off(g);
    eprintln!("e2e-docker: {}: running after {booted:.2?}; poweroff to exit {off:.2?}", g.name());
}

// ---------------------------------------------------------------------------------------------
// The tests

/// The README shows the line the Docker tests run.
#[test]
fn readme_shows_the_tested_docker_run_line() {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    assert!(
        readme.lines().any(|l| l.trim() == README_RUN),
        "README.md no longer shows the docker command the tests run:\n{README_RUN}"
    );
}

/// The README's line under Docker's default seccomp profile: the fallback warning, `running`,
/// `/init status`, reboot in place with a new boot id, poweroff to exit 0.
#[test]
fn docker_readme_run_boots_reboots_and_powers_off() {
    e2e(Os::Debian, |d, rootfs| {
        let mut g = DockerGuest::start(d, rootfs, &Profile::Default);
        let booted = wait_running(&mut g);
        assert_fallback(&mut g, true);
        check_status(&mut g);
        let (new_boot, rebooted) = reboot(&mut g);
        let off = power_off(&mut g);
        g.remove();
        eprintln!(
            "e2e-docker: {}: running after {booted:.2?}; reboot to a new boot id {new_boot:.2?}, \
             to running again {rebooted:.2?}; poweroff to exit {off:.2?}",
            g.name()
        );
    });
}

/// `docker stop -t 30` of the README's container: systemd halts cleanly, exit 0, no SIGKILL.
#[test]
fn docker_stop_halts_systemd_cleanly() {
    e2e(Os::Debian, |d, rootfs| {
        let mut g = DockerGuest::start(d, rootfs, &Profile::Default);
        let booted = wait_running(&mut g);
        assert_fallback(&mut g, true);
        let stopped = stop_cleanly(&mut g);
        g.remove();
        eprintln!(
            "e2e-docker: {}: running after {booted:.2?}; docker stop to exit {stopped:.2?}",
            g.name()
        );
    });
}

/// `docker stop` 50 ms after `docker run -d` returned, before systemd has its signal handlers:
/// the stop is held until systemd can take it, then systemd halts cleanly (no SIGKILL).
/// Readiness meanwhile: `/init status --ready` fails while the guest boots, `/init exec
/// --wait` answers `running` on its first call.
#[test]
fn docker_stop_right_after_run_halts_systemd_cleanly() {
    e2e(Os::Debian, |d, rootfs| {
        let mut g = DockerGuest::start(d, rootfs, &Profile::Default);
        let launched = Instant::now();
        std::thread::sleep(Duration::from_millis(50));
        let stopped = stop_cleanly_from(&mut g, false);
        let log = g.nestinit_log();
        let held = log.contains("holding it until the guest can take it");
        g.remove();
        eprintln!(
            "e2e-docker: {}: docker stop 50 ms after run, held: {held}; exit after {stopped:.2?} \
             ({:.2?} from run)",
            g.name(),
            launched.elapsed()
        );
        let mut g = DockerGuest::start(d, rootfs, &Profile::Default);
        let early = g.init(&["status", "--ready"]);
        let asked = Instant::now();
        let out = g.init(&["exec", "--wait", "systemctl", "is-system-running"]);
        assert_eq!(text(&out.stdout).trim(), "running", "{}: {}", g.name(), describe(&out));
        let ready = asked.elapsed();
        assert_eq!(g.init(&["status", "--ready"]).status.code(), Some(0), "{}", g.dump());
        power_off(&mut g);
        g.remove();
        eprintln!(
            "e2e-docker: {}: status --ready right after run: {:?}; exec --wait answered running \
             after {ready:.2?}",
            g.name(),
            early.status.code()
        );
    });
}

/// With examples/seccomp.json (Docker's default profile plus pivot_root): no fallback.
#[test]
fn docker_seccomp_json_boots_without_fallback() {
    let profile = manifest_dir().join(SECCOMP_JSON);
    assert!(profile.is_file(), "{SECCOMP_JSON} is missing");
    e2e(Os::Debian, |d, rootfs| {
        let mut g = DockerGuest::start(d, rootfs, &Profile::File(profile));
        boot_and_power_off(&mut g, false);
        g.remove();
    });
}

/// With `--security-opt seccomp=unconfined`: no fallback.
#[test]
fn docker_unconfined_boots_without_fallback() {
    e2e(Os::Debian, |d, rootfs| {
        let mut g = DockerGuest::start(d, rootfs, &Profile::Unconfined);
        boot_and_power_off(&mut g, false);
        g.remove();
    });
}

/// A guest with systemd-resolved, whose `/etc/resolv.conf` is a symlink into `/run`, under
/// the default profile: it boots to `running` and keeps its symlink and its resolver.
#[test]
fn docker_resolved_guest_keeps_its_resolv_conf_symlink() {
    const STUB: &str = "../run/systemd/resolve/stub-resolv.conf";
    e2e(Os::Resolved, |d, rootfs| {
        let cached = std::fs::read_link(rootfs.join("etc/resolv.conf"));
        assert_eq!(cached.ok(), Some(PathBuf::from(STUB)), "the cached rootfs's resolv.conf");
        let mut g = DockerGuest::start(d, rootfs, &Profile::Default);
        let booted = wait_running(&mut g);
        assert_fallback(&mut g, true);
        let link = g.exec(&["readlink", "/etc/resolv.conf"]);
        assert_eq!(
            text(&link.stdout).trim(),
            STUB,
            "the guest's /etc/resolv.conf: {}",
            describe(&link)
        );
        let active = g.exec(&["systemctl", "is-active", "systemd-resolved"]);
        assert_eq!(
            text(&active.stdout).trim(),
            "active",
            "systemd-resolved: {}",
            describe(&active)
        );
        let conf = g.exec(&["cat", "/etc/resolv.conf"]);
        assert!(
            text(&conf.stdout).contains("nameserver 127.0.0.53"),
            "the guest resolves through its own stub: {}",
            describe(&conf)
        );
        let off = power_off(&mut g);
        g.remove();
        eprintln!(
            "e2e-docker: {} (systemd-resolved): running after {booted:.2?}; poweroff to exit \
             {off:.2?}",
            g.name()
        );
    });
}

/// examples/pod.yaml as `ctr run --seccomp` in dockerd's containerd: the fallback (containerd's
/// default profile refuses pivot_root too), `running`, `/init status`, then SIGTERM to the task
/// halts systemd cleanly and the task exits 0.
#[test]
fn containerd_pod_boots_and_sigterm_halts_cleanly() {
    e2e(Os::Debian, |d, rootfs| {
        let mut g = ContainerdGuest::start(d, rootfs);
        let booted = wait_running(&mut g);
        assert_fallback(&mut g, true);
        check_status(&mut g);
        let stopped = stop_cleanly(&mut g);
        let tasks = d.ctr(&["task", "ls", "-q"]);
        assert!(tasks.status.success() && tasks.stdout.is_empty(), "tasks: {}", describe(&tasks));
        g.remove();
        let namespaces = d.ctr(&["namespaces", "ls", "-q"]);
        assert!(
            !text(&namespaces.stdout).lines().any(|n| n == docker::NAMESPACE),
            "the namespace is left: {}",
            describe(&namespaces)
        );
        eprintln!(
            "e2e-docker: {}: running after {booted:.2?}; SIGTERM to exit {stopped:.2?}",
            g.name()
        );
    });
}
