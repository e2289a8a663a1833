//! End-to-end tests with a real systemd: a Debian bookworm guest (debootstrap, built once and
//! cached under `target/e2e/rootfs` by tests/e2e/rootfs.sh) booted by the release binary in
//! nested mode, in three environments:
//!
//! - the project's own test container (tests/helpers/ctr.c) with a private cgroup namespace
//!   (`--cgroupns`), a pty from `script` as its `/dev/console`, in a cgroup of its own;
//! - podman with runc, from the image that the top-level `Dockerfile` builds, with the flags of
//!   docs/design.md#testing and its storage in a temp dir;
//! - `podman kube play` of examples/pod.yaml, its hostPath pointed at the cached rootfs.
//!
//! In each the guest boots to `running` (`degraded` fails and prints the failed units), `/init
//! status` sees a systemd-like guest, `systemctl poweroff` and `halt` end the container with 0,
//! `systemctl reboot` boots it again in place with a new boot id (or ends it with 133 under
//! `--on-reboot exit`), and a stop request shuts systemd down cleanly, without the SIGKILL of
//! nestinit's stop timeout. Every test checks that the host's mount table, its cgroup tree (the
//! directories at depth 1 of each hierarchy, and of the test's own cgroup) and the options of
//! its cgroup mounts are unchanged afterwards, and cleans up on every path (Drop guards).
//!
//! Needs root. tests/e2e/setup.sh installs debootstrap, podman, runc and catatonit when
//! missing. The tests run one at a time, on the whole machine (a file lock); each one that
//! boots prints its timings on stderr (`cargo test --release --test e2e_systemd --
//! --nocapture` shows them). tests/e2e/host.rs holds the host checks and the cgroups the
//! containers live in, tests/e2e/runtimes.rs the three environments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
#[path = "e2e/guest.rs"]
mod guest;
#[path = "e2e/host.rs"]
mod host;
#[path = "e2e/runtimes.rs"]
mod runtimes;

use common::heavy_lock;
use guest::*;
use host::{CgroupTrees, HostState, MachineLock};
use runtimes::{ctr_guest, KubeGuest, PodmanGuest};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The image the tests build from the Dockerfile; examples/pod.yaml names it too.
const IMAGE: &str = "localhost/nestinit:test";
/// The Pod's name and its container's in examples/pod.yaml; podman names the container
/// `POD-CONTAINER`.
const POD: &str = "debian-guest";
const POD_CONTAINER: &str = "debian-guest-guest";
/// The rootfs path examples/pod.yaml holds, replaced by the cached rootfs in the played copy.
const POD_HOST_PATH: &str = "/srv/guests/debian";
/// The guest's command line in the test container and under podman. No getty on the console
/// (docs/design.md#testing: `systemd.getty_auto=0` when there is a terminal).
const GUEST: [&str; 2] = ["/sbin/init", "systemd.getty_auto=0"];

// ---------------------------------------------------------------------------------------------
// Set-up: packages and the cached rootfs

struct Setup {
    rootfs: PathBuf,
}

static SETUP: OnceLock<Result<Setup, String>> = OnceLock::new();

/// Installs the packages (when missing) and builds the rootfs (when missing or incomplete),
/// once per test binary.
fn setup() -> &'static Setup {
    let s = SETUP.get_or_init(|| {
        run_script("setup.sh", &[])?;
        let rootfs = target_dir().join("e2e/rootfs");
        let started = Instant::now();
        run_script("rootfs.sh", &[rootfs.as_os_str()])?;
        eprintln!("e2e: rootfs ready in {:.1?}: {}", started.elapsed(), rootfs.display());
        Ok(Setup { rootfs })
    });
    match s {
        Ok(s) => s,
        Err(e) => panic!("e2e set-up failed: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Text without ANSI escape sequences and carriage returns (the console is a terminal).
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
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Runs `body` under the e2e locks with the set-up done, then checks the host. The body's
/// guards (containers, cgroups, storage) are dropped before the check.
fn e2e(body: impl FnOnce(&Setup)) {
    let _lock = heavy_lock();
    let _machine = MachineLock::take();
    let s = setup();
    drop(CgroupTrees::stale());
    let before = HostState::capture();
    body(s);
    before.assert_unchanged();
}

static TRIXIE: OnceLock<Result<Setup, String>> = OnceLock::new();

/// The Debian 13 rootfs (SUITE=trixie tests/e2e/rootfs.sh), cached under target/e2e too.
fn setup_trixie() -> &'static Setup {
    let s = TRIXIE.get_or_init(|| {
        let rootfs = target_dir().join("e2e/rootfs-trixie");
        let started = Instant::now();
        let out = Command::new("bash")
            .arg(script("rootfs.sh"))
            .arg(&rootfs)
            .env("SUITE", "trixie")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("rootfs.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!("rootfs.sh trixie: {}", String::from_utf8_lossy(&out.stderr)));
        }
        eprintln!("e2e: trixie rootfs ready in {:.1?}: {}", started.elapsed(), rootfs.display());
        Ok(Setup { rootfs })
    });
    match s {
        Ok(s) => s,
        Err(e) => panic!("e2e set-up failed: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// A guest in one of the environments

/// Boots to running, checks `/init status`, then `systemctl VERB` (poweroff or halt) ends the
/// container with 0.
fn scenario_power(g: &mut dyn Guest, verb: &str) {
    let booted = wait_running(g);
    check_status(g);
    let asked = Instant::now();
    let _ = g.exec(&["systemctl", verb]);
    assert_end(g, 0, "guest powered off or halted: exiting with status 0");
    let console = g.console();
    let target = if verb == "halt" { "System Halt" } else { "System Power Off" };
    assert!(
        console.contains(target),
        "{}: the console should show {target:?}\n{console}",
        g.name()
    );
    eprintln!(
        "e2e: {}: running after {booted:.2?}; {verb} to exit {:.2?}",
        g.name(),
        asked.elapsed()
    );
}

/// `systemctl reboot` boots the guest again in place: a new boot id, the container still up.
fn scenario_reboot(g: &mut dyn Guest) {
    let booted = wait_running(g);
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
    assert!(g.is_running());
    let log = g.nestinit_log();
    // nestinit's lines around the reboot are not asserted: the new systemd flushes the
    // console as it starts (TCFLSH), which can discard them before the runtime has read them
    // on a loaded machine. The new boot id in the same running container is the proof.
    if !log.contains("guest rebooted: booting it again") {
        eprintln!("e2e: {}: the reboot's lines were flushed from the console", g.name());
    }
    assert_ne!(first, second);
    let _ = g.exec(&["systemctl", "poweroff"]);
    assert_end(g, 0, "guest powered off or halted: exiting with status 0");
    eprintln!(
        "e2e: {}: running after {booted:.2?}; reboot to a new boot id {new_boot:.2?}, to running again {rebooted:.2?}",
        g.name()
    );
}

/// Under `--on-reboot exit`, `systemctl reboot` ends the container with 133.
fn scenario_reboot_exit(g: &mut dyn Guest) {
    wait_running(g);
    let _ = g.exec(&["systemctl", "reboot"]);
    assert_end(g, 133, "guest rebooted: exiting with status 133");
}

/// A stop request halts systemd cleanly: its shutdown targets on the console, no SIGKILL.
fn scenario_stop(g: &mut dyn Guest) {
    let booted = wait_running(g);
    scenario_stop_now(g);
    eprintln!("e2e: {}: running after {booted:.2?}", g.name());
}

/// A stop request now halts systemd cleanly, however far it got.
fn scenario_stop_now(g: &mut dyn Guest) {
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
    for want in ["Reached target shutdown.target", "System Shutdown"] {
        assert!(console.contains(want), "{}: the console lacks {want:?}\n{console}", g.name());
    }
    assert!(
        console.contains("System Halt") || console.contains("System Power Off"),
        "{}: the console shows no halt or power-off\n{console}",
        g.name()
    );
    let held = log.contains("holding it until the guest can take it");
    eprintln!(
        "e2e: {}: stop to exit {stopped:.2?}; held until systemd could take it: {held}",
        g.name()
    );
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn ctr_boots_to_running_and_powers_off() {
    e2e(|s| scenario_power(&mut ctr_guest(s, &[]), "poweroff"));
}

#[test]
fn ctr_halt_ends_the_container_with_0() {
    e2e(|s| scenario_power(&mut ctr_guest(s, &[]), "halt"));
}

#[test]
fn ctr_reboot_boots_the_guest_again() {
    e2e(|s| scenario_reboot(&mut ctr_guest(s, &[])));
}

#[test]
fn ctr_reboot_with_on_reboot_exit_ends_with_133() {
    e2e(|s| scenario_reboot_exit(&mut ctr_guest(s, &["--on-reboot", "exit"])));
}

#[test]
fn ctr_sigterm_shuts_systemd_down_cleanly() {
    e2e(|s| scenario_stop(&mut ctr_guest(s, &[])));
}

/// Readiness in the test container: `/init status --ready` fails while systemd boots, and
/// `/init exec --wait systemctl is-system-running` answers `running` on its first call.
#[test]
fn ctr_status_ready_and_exec_wait_follow_systemds_ready() {
    e2e(|s| {
        let mut g = ctr_guest(s, &[]);
        let early = g.init(&["status", "--ready"]);
        let asked = Instant::now();
        let out = g.init(&["exec", "--wait", "systemctl", "is-system-running"]);
        let waited = asked.elapsed();
        assert_eq!(text(&out.stdout).trim(), "running", "{}", describe(&out));
        assert_eq!(g.init(&["status", "--ready"]).status.code(), Some(0), "{}", g.dump());
        assert_eq!(
            early.status.code(),
            Some(1),
            "not ready right after launch: {}",
            describe(&early)
        );
        assert!(text(&early.stdout).contains("state starting"), "{}", describe(&early));
        let _ = g.exec(&["systemctl", "poweroff"]);
        assert_end(&mut g, 0, "guest powered off or halted: exiting with status 0");
        eprintln!("e2e: ctr: exec --wait answered running after {waited:.2?}");
    });
}

/// A SIGTERM 50 ms after launch, before systemd has its signal handlers, is held and then
/// halts systemd cleanly rather than waiting for the stop timeout's SIGKILL.
#[test]
fn ctr_sigterm_50_ms_after_launch_shuts_systemd_down_cleanly() {
    e2e(|s| {
        let mut g = ctr_guest(s, &[]);
        std::thread::sleep(Duration::from_millis(50));
        scenario_stop_now(&mut g);
    });
}

/// Debian 13's systemd (257) announces its shutdown on the notify socket: without
/// CAP_SYS_BOOT, `systemctl reboot` boots the guest again with a new boot id and `systemctl
/// poweroff` exits 0 (bookworm's 252 announces nothing: there CAP_SYS_BOOT still tells them
/// apart). CAP_SYS_MODULE goes too, as in Docker, so that systemd-modules-load is skipped.
#[test]
fn ctr_trixie_reboots_and_powers_off_without_cap_sys_boot() {
    e2e(|_| {
        let s = setup_trixie();
        let mut g = ctr_guest(s, &["--drop-caps", "cap_sys_boot,cap_sys_module"]);
        let caps = g.exec(&["grep", "CapBnd", "/proc/1/status"]);
        let bnd = u64::from_str_radix(text(&caps.stdout).split_whitespace().nth(1).unwrap(), 16);
        assert_eq!(bnd.unwrap() & (1 << 22), 0, "the guest has CAP_SYS_BOOT: {}", describe(&caps));
        scenario_reboot(&mut g);
    });
}

/// `podman run --sdnotify=container` with podman's own `NOTIFY_SOCKET` (what a systemd unit of
/// `Type=notify` around the container gives it): the READY=1 that reaches that socket (from
/// nestinit, through conmon) comes once the guest is up, not when the container starts.
#[test]
fn podman_sdnotify_container_reports_ready_when_the_guest_is() {
    e2e(|s| {
        let dir = common::TempDir::new();
        let sock = std::os::unix::net::UnixDatagram::bind(dir.join("notify")).unwrap();
        sock.set_read_timeout(Some(BOOT_TIMEOUT)).unwrap();
        let asked = Instant::now();
        let listener = std::thread::spawn(move || loop {
            let mut buf = [0u8; 4096];
            let n = sock.recv(&mut buf).expect("READY=1 on podman's NOTIFY_SOCKET");
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.lines().any(|l| l == "READY=1") {
                return (asked.elapsed(), msg);
            }
        });
        let opts = ["--sdnotify=container"];
        let mut g = PodmanGuest::start_with(s, &opts, &[], Some(&dir.join("notify")));
        let returned = asked.elapsed();
        let (ready_at, msg) = listener.join().unwrap();
        let out = g.init(&["status", "--ready"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "READY=1 came before the guest was: {}",
            describe(&out)
        );
        let state = g.exec(&["systemctl", "is-system-running"]);
        assert_eq!(text(&state.stdout).trim(), "running", "{}", describe(&state));
        let analyze = g.exec(&["systemd-analyze"]);
        let _ = g.exec(&["systemctl", "poweroff"]);
        assert_end(&mut g, 0, "guest powered off or halted: exiting with status 0");
        eprintln!(
            "e2e: podman --sdnotify=container: podman run returned after {returned:.2?}, READY=1 \
             ({msg:?}) after {ready_at:.2?}; the guest: {}",
            text(&analyze.stdout).lines().next().unwrap_or("").trim()
        );
    });
}

#[test]
fn podman_boots_to_running_and_powers_off() {
    e2e(|s| scenario_power(&mut PodmanGuest::start(s, &[]), "poweroff"));
}

#[test]
fn podman_halt_ends_the_container_with_0() {
    e2e(|s| scenario_power(&mut PodmanGuest::start(s, &[]), "halt"));
}

#[test]
fn podman_reboot_boots_the_guest_again() {
    e2e(|s| scenario_reboot(&mut PodmanGuest::start(s, &[])));
}

#[test]
fn podman_reboot_with_on_reboot_exit_ends_with_133() {
    e2e(|s| scenario_reboot_exit(&mut PodmanGuest::start(s, &["--on-reboot", "exit"])));
}

#[test]
fn podman_stop_shuts_systemd_down_cleanly() {
    e2e(|s| scenario_stop(&mut PodmanGuest::start(s, &[])));
}

#[test]
fn kube_play_pod_boots_to_running_and_powers_off() {
    e2e(|s| {
        let mut k = KubeGuest::play(s);
        scenario_power(&mut k.guest, "poweroff");
        k.down();
    });
}
