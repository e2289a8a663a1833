//! Machine mode on a real (emulated) machine: qemu-system-x86_64 under TCG boots Debian's own
//! amd64 kernel with an initramfs that holds only nestinit as `/init`, `/dev/console` and a
//! busybox guest under `/data00` (tests/qemu/initramfs). nestinit is then PID 1 of the initial
//! PID namespace: it mounts what a container runtime would, boots the guest in nested mode,
//! and turns the guest's end into the machine's power-off or reboot. The serial console is
//! the evidence: the guest's lines, nestinit's lines, and the kernel's own last words
//! ("reboot: Power down" or "reboot: Restarting system"; never "Kernel panic").
//!
//! The kernel is fetched once into target/qemu/ (tests/qemu/kernel); each case is one boot of
//! 10–20 s, ended by qemu's own timeout (tests/qemu/boot, 120 s) if it hangs. Needs root (the
//! initramfs holds a device node), qemu-system-x86_64, cpio, busybox-static and Debian's
//! package index: see tests/setup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test's own deadline, past qemu's 120 s in tests/qemu/boot.
const BOOT_DEADLINE: Duration = Duration::from_secs(150);

const POWER_DOWN: &str = "reboot: Power down";
const RESTARTING: &str = "reboot: Restarting system";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `<target dir>/qemu`, next to the profile directory holding the binary under test.
fn cache_dir() -> PathBuf {
    let target = nestinit().parent().and_then(Path::parent).unwrap().to_path_buf();
    target.join("qemu")
}

struct Vm {
    kernel: PathBuf,
    initrd: PathBuf,
}

/// Runs `bash tests/qemu/SCRIPT ARGS` and returns its stdout; panics with its stderr.
fn script(name: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new("bash")
        .arg(manifest().join("tests/qemu").join(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running tests/qemu/{name}: {e}"));
    assert!(
        out.status.success(),
        "tests/qemu/{name} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The kernel and this build's initramfs, made once per test process.
fn vm() -> &'static Vm {
    static VM: OnceLock<Vm> = OnceLock::new();
    VM.get_or_init(|| {
        let found = Command::new("sh")
            .args(["-c", "command -v qemu-system-x86_64"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(found, "qemu-system-x86_64 not found: install qemu-system-x86 (bash tests/setup)");
        let dir = cache_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let kernel = PathBuf::from(script("kernel", &[dir.as_os_str()]));
        let initrd = dir.join("initramfs.cpio.gz");
        let (nestinit, probe) = (nestinit(), probe());
        script("initramfs", &[nestinit.as_os_str(), probe.as_os_str(), initrd.as_os_str()]);
        Vm { kernel, initrd }
    })
}

/// One boot of the machine.
struct Boot {
    /// qemu's exit status: 0 once the machine powered off or (with -no-reboot) reset.
    status: i32,
    /// The serial console, without carriage returns and escape characters.
    console: String,
    elapsed: Duration,
}

impl Boot {
    /// The console, for messages.
    fn text(&self) -> &str {
        &self.console
    }

    fn count(&self, needle: &str) -> usize {
        self.console.matches(needle).count()
    }

    /// Each of `lines` appears, in this order.
    fn assert_in_order(&self, lines: &[&str]) {
        let mut rest = self.console.as_str();
        for line in lines {
            match rest.find(line) {
                Some(i) => rest = &rest[i + line.len()..],
                None => panic!("console lacks {line:?} (in order {lines:#?}):\n{}", self.text()),
            }
        }
    }

    /// What every boot must show: machine mode, a clean end by qemu itself, no kernel panic
    /// (PID 1 must never exit), and `last` as the kernel's final word.
    fn assert_clean_end(&self, last: &str) {
        let text = self.text();
        assert_eq!(self.status, 0, "qemu's status (124: timed out):\n{text}");
        assert!(text.contains("nestinit: machine mode: "), "machine mode not detected:\n{text}");
        assert!(!text.contains("Kernel panic"), "kernel panic:\n{text}");
        assert!(!text.contains("Attempted to kill init"), "PID 1 exited:\n{text}");
        let (power_down, restarting) = (self.count(POWER_DOWN), self.count(RESTARTING));
        let expected = if last == POWER_DOWN { (1, 0) } else { (0, 1) };
        assert_eq!((power_down, restarting), expected, "(power-offs, restarts):\n{text}");
        say(&format!("  boot took {:.1} s", self.elapsed.as_secs_f64()));
    }
}

/// Boots the machine with the guest acting out `case`; `init_args` go to nestinit.
fn boot(case: &str, init_args: &[&str]) -> Boot {
    boot_with(case, init_args, |_, _| {})
}

/// Like [`boot`]; `during` runs while the machine is up, with the console log and the path of
/// qemu's monitor socket.
fn boot_with(case: &str, init_args: &[&str], during: impl FnOnce(&Path, &Path)) -> Boot {
    let vm = vm();
    let tmp = TempDir::new();
    let log = tmp.join("console.log");
    let monitor = tmp.join("monitor.sock");
    std::fs::write(&log, "").unwrap();
    let started = Instant::now();
    let mut child = Command::new("bash")
        .arg(manifest().join("tests/qemu/boot"))
        .arg("--monitor")
        .arg(&monitor)
        .args([&vm.kernel, &vm.initrd, &log])
        .arg(case)
        .args(init_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting tests/qemu/boot: {e}"));
    // Ends qemu (through timeout(1), which the boot script execs) if the test gives up.
    struct Guard(Option<std::process::Child>);
    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(mut c) = self.0.take() {
                let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
                std::thread::sleep(Duration::from_millis(500));
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let stderr = child.stderr.take();
    let mut guard = Guard(Some(child));
    during(&log, &monitor);
    let status = loop {
        let c = guard.0.as_mut().unwrap();
        if let Some(st) = c.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < BOOT_DEADLINE,
            "the machine did not stop within {BOOT_DEADLINE:?}:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    guard.0 = None;
    let mut err = String::new();
    if let Some(mut s) = stderr {
        let _ = s.read_to_string(&mut err);
    }
    // Without carriage returns and the firmware's escape sequences.
    let console: String = String::from_utf8_lossy(&std::fs::read(&log).unwrap())
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    let code = status.code().unwrap_or(-1);
    assert!(code == 0 || code == 124, "tests/qemu/boot failed ({status}): {err}\n{console}");
    Boot { status: code, console, elapsed: started.elapsed() }
}

// ---------------------------------------------------------------------------------------------

/// (a) The guest prints a marker and powers off: the machine powers off, and qemu ends by
/// itself. The guest also shows what machine mode mounted and that it is PID 1 on the console.
#[test]
fn guest_poweroff_powers_the_machine_off() {
    let b = boot("poweroff", &[]);
    b.assert_clean_end(POWER_DOWN);
    b.assert_in_order(&[
        "nestinit: guest started (pid ",
        "guest: case poweroff, pid 1\n",
        "guest: marker NITEST-POWEROFF-MARKER",
        "nestinit: guest powered off or halted: powering the machine off",
        POWER_DOWN,
    ]);
    for mount in [
        "guest: mount proc /proc",
        "guest: mount sysfs /sys",
        "guest: mount devtmpfs /dev",
        "guest: mount devpts /dev/pts",
        "guest: mount tmpfs /dev/shm",
        "guest: mount tmpfs /run",
        "guest: mount tmpfs /tmp",
        "guest: mount cgroup2 /sys/fs/cgroup",
    ] {
        assert!(b.console.contains(mount), "the guest lacks {mount:?}:\n{}", b.text());
    }
    assert!(b.console.contains("guest: stdin is /dev/console"), "{}", b.text());
    assert_eq!(b.count("nestinit: guest started"), 1, "{}", b.text());
}

/// (b) The guest reboots: the machine reboots (qemu's -no-reboot then ends it).
#[test]
fn guest_reboot_reboots_the_machine() {
    let b = boot("reboot", &[]);
    b.assert_clean_end(RESTARTING);
    b.assert_in_order(&[
        "guest: marker NITEST-REBOOT-MARKER",
        "nestinit: guest rebooted: rebooting the machine",
        RESTARTING,
    ]);
    assert_eq!(b.count("nestinit: guest started"), 1, "{}", b.text());
}

/// (c) `--on-reboot restart` (after `--` on the kernel command line): a guest reboot boots the
/// guest again on the same machine. The guest counts its boots in /run, the tmpfs nestinit
/// mounted, which outlives the guest: boot 1 reboots, boot 2 powers off.
#[test]
fn on_reboot_restart_boots_the_guest_again() {
    let b = boot("restart", &["--on-reboot", "restart"]);
    b.assert_clean_end(POWER_DOWN);
    b.assert_in_order(&[
        "nestinit: guest started (pid ",
        ", boot 1)",
        "guest: boot number 1\n",
        "nestinit: guest rebooted: booting it again",
        "nestinit: guest started (pid ",
        ", boot 2)",
        "guest: boot number 2\n",
        "nestinit: guest powered off or halted: powering the machine off",
        POWER_DOWN,
    ]);
    assert_eq!(b.count("nestinit: guest started"), 2, "{}", b.text());
    assert!(!b.console.contains("rebooting the machine"), "{}", b.text());
}

/// (d) A guest init that exits: logged, then a power-off; PID 1 never returns to the kernel.
#[test]
fn guest_exit_powers_off_without_a_panic() {
    let b = boot("exit", &[]);
    b.assert_clean_end(POWER_DOWN);
    b.assert_in_order(&[
        "guest: exiting with 3",
        "nestinit: guest exited with status 3: powering the machine off",
        POWER_DOWN,
    ]);
}

/// (d) A guest init that crashes (a real segmentation fault): logged, then a power-off.
#[test]
fn guest_crash_powers_off_without_a_panic() {
    let b = boot("segv", &[]);
    b.assert_clean_end(POWER_DOWN);
    b.assert_in_order(&[
        "guest: init crashing with a segmentation fault",
        "nestinit: guest killed by SIGSEGV: powering the machine off",
        POWER_DOWN,
    ]);
}

/// Ctrl-Alt-Del on the machine's keyboard (qemu's `sendkey`): nestinit turned the kernel's
/// immediate reboot off, so it gets SIGINT, stops the guest with it and, the guest gone,
/// reboots the machine (Ctrl-Alt-Del asks for a reboot).
#[test]
fn ctrl_alt_del_stops_the_guest_and_reboots() {
    let b = boot_with("cad", &[], |log, monitor| {
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("guest: waiting for Ctrl-Alt-Del") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(110),
                "the guest never got ready:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut mon = UnixStream::connect(monitor)
            .unwrap_or_else(|e| panic!("connecting to qemu's monitor {}: {e}", monitor.display()));
        mon.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        mon.write_all(b"sendkey ctrl-alt-delete\n").unwrap();
        // The command is done when the monitor prompts again after echoing it.
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("delete\u{1b}[K\r\n(qemu)") {
            match mon.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    });
    b.assert_clean_end(RESTARTING);
    b.assert_in_order(&[
        "guest: waiting for Ctrl-Alt-Del",
        "nestinit: stop requested by SIGINT: sending SIGINT to pid ",
        "guest: got SIGINT, exiting",
        "nestinit: guest exited with status 0: rebooting the machine",
        RESTARTING,
    ]);
}

// ---------------------------------------------------------------------------------------------
// Every other end of nestinit as the machine's PID 1: a logged power-off, never an exit (the
// kernel panics when init exits). No guest runs in these cases.

/// The machine powers off after `lines` (in order) and nestinit's line for the status it
/// would have exited with.
fn assert_powers_off_instead_of_exiting(b: &Boot, lines: &[&str], status: i32) {
    assert!(!b.console.contains("Attempted to kill init"), "PID 1 exited:\n{}", b.text());
    b.assert_clean_end(POWER_DOWN);
    let said = format!("nestinit: machine mode: PID 1 must not exit (status {status}): powering");
    let mut all = lines.to_vec();
    all.extend([said.as_str(), POWER_DOWN]);
    b.assert_in_order(&all);
    assert!(!b.console.contains("guest: case"), "no guest was to run:\n{}", b.text());
}

/// `/init --help` (init arguments follow `--` on the kernel command line).
#[test]
fn help_powers_off_without_a_panic() {
    let b = boot("none", &["--help"]);
    assert_powers_off_instead_of_exiting(&b, &["Usage: /init [OPTIONS]"], 0);
}

/// A relative `--root`: a usage error, found before machine mode starts.
#[test]
fn relative_root_powers_off_without_a_panic() {
    let b = boot("none", &["--root", "data00"]);
    let usage = "nestinit: usage: bad --root 'data00': expected an absolute path without ..";
    assert_powers_off_instead_of_exiting(&b, &[usage], 2);
}

/// `--mode child`: the command runs and ends with 4; the machine powers off. (No `--` before
/// it: the kernel drops init arguments after a second `--`.)
#[test]
fn child_mode_powers_off_without_a_panic() {
    let b = boot("none", &["--mode", "child", "/data00/bin/probe", "exit", "4"]);
    assert_powers_off_instead_of_exiting(&b, &[], 4);
}

/// `/init exec`: no guest runs (status 3); the machine powers off.
#[test]
fn exec_powers_off_without_a_panic() {
    let b = boot("none", &["exec", "/data00/bin/true"]);
    assert_powers_off_instead_of_exiting(&b, &["nestinit: no guest is running"], 3);
}
