//! The cgroup v2 tier: a real container runtime (runc) on a host with ONLY the unified cgroup
//! hierarchy, which this machine (cgroup v1 hybrid) cannot give. qemu-system-x86_64 under
//! software emulation (TCG) boots Debian's own amd64 kernel with `cgroup_no_v1=all` and a small
//! initramfs (tests/cgroup2/initramfs, tests/cgroup2/vm-init) that mounts this machine's root
//! read-only over virtio-9p, gives it /proc, /sys, only cgroup2 at /sys/fs/cgroup, /dev and a
//! tmpfs /run, and runs tests/cgroup2/vm-test there. That script runs the release binary as
//! `/init` of runc containers (config from `runc spec`, edited by tests/cgroup2/bundle.py:
//! SYS_ADMIN and SYS_BOOT, a private cgroup namespace, a writable cgroup2, tmpfs /run,
//! /run/lock and /tmp, a terminal) with the debootstrap'd systemd guest of the e2e tier
//! (target/e2e/rootfs, under a tmpfs overlay) as `/data00`, drives them with `runc exec` and
//! `runc kill`, and prints one `C2-RESULT <check> PASS|FAIL <detail>` line per check on the
//! serial console, with the containers' consoles (nestinit's and systemd's lines) prefixed
//! `[c2-boot] ` and `[c2-stop] `, and the containers' cgroup trees as the VM sees them.
//!
//! One VM boot runs every check (the VM and three boots of the guest take 1.5 to 2.5 minutes
//! under TCG); each test below asserts its checks from that one run, so `cargo test` names
//! what failed. The host's mounts and cgroups are never touched: everything real happens in
//! the VM, which sees this machine's files read-only.
//!
//! Needs root (the initramfs holds a device node) and Debian's package index:
//! tests/cgroup2/setup installs qemu-system-x86, busybox-static, cpio, runc, python3, procps,
//! debootstrap; tests/cgroup2/kernel fetches the kernel and its modules into
//! target/cgroup2/kernel; tests/e2e/rootfs.sh builds the guest rootfs once. The binary under
//! test is the release build, or `CGROUP2_VM_NESTINIT=PATH` (to compare builds). The whole
//! serial console goes to stderr once the VM has stopped and is kept in
//! target/cgroup2/console.log; `cargo test --release --test cgroup2_vm -- --nocapture` also
//! shows each test's verdicts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{nestinit, say, TempDir};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// qemu's own limit (tests/cgroup2/boot, C2_QEMU_TIMEOUT), in seconds.
const QEMU_TIMEOUT: u64 = 600;
/// The test's own deadline for the whole boot, past qemu's.
const DEADLINE: Duration = Duration::from_secs(QEMU_TIMEOUT + 60);

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target dir, found from the binary under test (`target/release/nestinit`).
fn target_dir() -> PathBuf {
    let exe = nestinit();
    exe.parent().and_then(Path::parent).map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}

/// `s` quoted for sh.
fn sh_quote(s: &OsStr) -> String {
    format!("'{}'", String::from_utf8_lossy(s.as_bytes()).replace('\'', "'\\''"))
}

/// Runs `bash SCRIPT ARGS` (a path under the manifest dir) and returns its stdout; panics with
/// its output on failure.
fn script(path: &str, args: &[&OsStr]) -> String {
    let out = Command::new("bash")
        .arg(manifest().join(path))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {path}: {e}"));
    assert!(
        out.status.success(),
        "{path} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The one run of the VM.
struct Run {
    /// The serial console, without carriage returns and control characters.
    console: String,
    /// qemu's status: 0 once the machine powered itself off, 124 on qemu's timeout.
    status: i32,
    /// Where the console is kept: target/cgroup2/console.log.
    log: PathBuf,
    elapsed: Duration,
}

/// One check's verdict from the console.
struct Verdict {
    pass: bool,
    detail: String,
}

impl Run {
    /// `C2-RESULT NAME PASS|FAIL DETAIL`, the last one for NAME.
    fn verdict(&self, name: &str) -> Option<Verdict> {
        let prefix = format!("C2-RESULT {name} ");
        self.console.lines().rev().find_map(|line| {
            let rest = &line[line.find(&prefix)? + prefix.len()..];
            let (word, detail) = rest.split_once(' ').unwrap_or((rest, ""));
            Some(Verdict { pass: word == "PASS", detail: detail.to_string() })
        })
    }

    /// Every `name` passed; else the test fails with the console.
    fn assert_pass(&self, names: &[&str]) {
        self.assert_complete();
        let mut bad = Vec::new();
        for name in names {
            match self.verdict(name) {
                Some(v) if v.pass => say(&format!("  {name}: PASS {}", v.detail)),
                Some(v) => bad.push(format!("{name}: FAIL {}", v.detail)),
                None => bad.push(format!("{name}: no result on the console")),
            }
        }
        assert!(bad.is_empty(), "{}", self.failure(&bad.join("\n")));
    }

    /// The VM ran the whole script and powered itself off.
    fn assert_complete(&self) {
        assert!(
            self.status == 0 && self.console.contains("C2-END "),
            "{}",
            self.failure(&format!(
                "the VM did not run the test to its end (qemu's status {}, 124: timed out)",
                self.status
            ))
        );
        assert!(!self.console.contains("Kernel panic"), "{}", self.failure("kernel panic"));
    }

    /// `what`, pointing at the console (printed once, when the VM stopped).
    fn failure(&self, what: &str) -> String {
        format!(
            "{what}\n(the VM's serial console is printed above and saved in {})",
            self.log.display()
        )
    }
}

/// The VM's one run in this test process (a failed set-up or boot fails every test, once).
fn run() -> &'static Run {
    static RUN: OnceLock<Result<Run, String>> = OnceLock::new();
    let result = RUN.get_or_init(|| {
        std::panic::catch_unwind(boot).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the VM's set-up panicked".to_string())
        })
    });
    match result {
        Ok(run) => run,
        Err(e) => panic!("{e}"),
    }
}

/// Installs what is missing, builds what is not cached, boots the VM and returns its console.
fn boot() -> Run {
    let started = Instant::now();
    script("tests/cgroup2/setup", &[]);
    let target = target_dir();
    let rootfs = target.join("e2e/rootfs");
    script("tests/e2e/rootfs.sh", &[rootfs.as_os_str()]);
    let cache = target.join("cgroup2");
    std::fs::create_dir_all(&cache).unwrap();
    let kernel = PathBuf::from(script("tests/cgroup2/kernel", &[cache.as_os_str()]));
    let version = kernel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or_else(|| panic!("not a vmlinuz: {}", kernel.display()))
        .to_string();
    let tree = cache.join("kernel");
    let binary = std::env::var_os("CGROUP2_VM_NESTINIT").map_or_else(nestinit, PathBuf::from);
    let canon =
        |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let tmp = TempDir::new();
    // A copy for the VM to read, safe from a rebuild while it runs; removed on the way out.
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let copy = Remove(cache.join(format!("nestinit-{}", std::process::id())));
    std::fs::copy(&binary, &copy.0).unwrap_or_else(|e| panic!("copying {}: {e}", binary.display()));
    // The VM sees this machine's root read-only at the same paths.
    let mut env = String::new();
    for (name, path) in [
        ("C2_SCRIPT", manifest().join("tests/cgroup2/vm-test")),
        ("C2_DIR", manifest().join("tests/cgroup2")),
        ("C2_NESTINIT", copy.0.clone()),
        ("C2_ROOTFS", rootfs),
    ] {
        let path = canon(&path);
        // The VM mounts its own /proc, /sys, /dev and /run over the host's.
        assert!(
            !["/proc", "/sys", "/dev", "/run"].iter().any(|m| path.starts_with(m)),
            "{} is hidden in the VM: move the checkout or the target dir",
            path.display()
        );
        env.push_str(&format!("{name}={}\n", sh_quote(path.as_os_str())));
    }
    std::fs::write(tmp.join("c2.env"), &env).unwrap();
    let initrd = tmp.join("initramfs.cpio.gz");
    script(
        "tests/cgroup2/initramfs",
        &[tree.as_os_str(), version.as_ref(), tmp.join("c2.env").as_os_str(), initrd.as_os_str()],
    );
    let prepared = started.elapsed();
    say(&format!("cgroup2 VM: set-up took {:.1} s; booting:\n{env}", prepared.as_secs_f64()));

    let log = tmp.join("console.log");
    std::fs::write(&log, "").unwrap();
    let booted = Instant::now();
    let child = Command::new("bash")
        .arg(manifest().join("tests/cgroup2/boot"))
        .args([kernel.as_os_str(), initrd.as_os_str(), log.as_os_str()])
        .env("C2_QEMU_TIMEOUT", QEMU_TIMEOUT.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.join("qemu.err")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("starting tests/cgroup2/boot: {e}"));
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
    let mut guard = Guard(Some(child));
    let status = loop {
        let c = guard.0.as_mut().unwrap();
        if let Some(st) = c.try_wait().unwrap() {
            break st;
        }
        assert!(
            booted.elapsed() < DEADLINE,
            "the VM did not stop within {DEADLINE:?}:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    guard.0 = None;
    let err = std::fs::read_to_string(tmp.join("qemu.err")).unwrap_or_default();
    let console: String = String::from_utf8_lossy(&std::fs::read(&log).unwrap())
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    let code = status.code().unwrap_or(-1);
    assert!(code == 0 || code == 124, "tests/cgroup2/boot failed ({status}): {err}\n{console}");
    let kept = cache.join("console.log");
    std::fs::write(&kept, &console).unwrap();
    let run = Run { console, status: code, log: kept, elapsed: started.elapsed() };
    // Written straight to the terminal, once: the evidence of every check.
    say(&format!("---- the VM's serial console ----\n{}\n---- end ----", run.console));
    say(&format!(
        "cgroup2 VM: qemu's status {code}; the VM ran {:.1} s; the tier took {:.1} s; console kept in {}",
        booted.elapsed().as_secs_f64(),
        run.elapsed.as_secs_f64(),
        run.log.display()
    ));
    for line in run.console.lines().filter(|l| l.starts_with("C2-")) {
        say(&format!("  {line}"));
    }
    run
}

// ---------------------------------------------------------------------------------------------

/// The VM really is a cgroup v2 host: cgroup2 at /sys/fs/cgroup, no v1 hierarchy mounted,
/// `cgroup_no_v1=all` on the kernel's command line.
#[test]
fn the_vm_has_only_the_unified_hierarchy() {
    run().assert_pass(&["vm-cgroup2-only"]);
}

/// The guest's systemd reaches `running` (`degraded` fails and prints `systemctl --failed`).
#[test]
fn systemd_reaches_running() {
    run().assert_pass(&["boot-running", "stop-running"]);
}

/// The cgroup the guest sees as its root delegates memory and pids to its units, at the first
/// boot and after a reboot.
#[test]
fn the_guest_root_delegates_memory_and_pids() {
    run().assert_pass(&["subtree-control", "subtree-control-after-reboot"]);
}

/// `systemd-run -p MemoryMax=64M` gets a unit with its own memory.max of 64 MiB.
#[test]
fn a_transient_unit_gets_its_own_memory_max() {
    run().assert_pass(&["memtest-memory-max"]);
}

/// `runc exec` still works once the container's cgroup has controllers enabled for its
/// children (runc then gets EBUSY adding a process to it and falls back to the init
/// process's cgroup).
#[test]
fn runc_exec_works_after_delegation() {
    run().assert_pass(&["exec-after-delegation", "exec-cmd-after-delegation"]);
}

/// `systemctl reboot` boots the guest again in place: a new boot id, the container still
/// running, nestinit's boot 2.
#[test]
fn reboot_boots_the_guest_again() {
    run().assert_pass(&["reboot-running", "reboot"]);
}

/// `systemctl poweroff` ends the container (runc run) with status 0.
#[test]
fn poweroff_ends_the_container_with_0() {
    run().assert_pass(&["poweroff"]);
}

/// `runc kill CID TERM` ends a fresh container with 0 after a clean systemd shutdown, without
/// nestinit's stop timeout.
#[test]
fn stop_shuts_systemd_down_cleanly() {
    run().assert_pass(&["stop", "no-stop-timeout"]);
}

/// No console says that systemd could not move processes or create a v1 compat cgroup; the
/// serial console is searched here too, beside the VM-side check of the containers' consoles.
#[test]
fn no_cgroup_errors_on_the_consoles() {
    let r = run();
    r.assert_pass(&["no-couldnt-move", "no-compat-cgroup"]);
    for text in
        ["Couldn't move remaining userspace processes", "Failed to create compat systemd cgroup"]
    {
        // The result lines quote the text; every other line is evidence.
        let hits: Vec<&str> =
            r.console.lines().filter(|l| l.contains(text) && !l.contains("C2-RESULT")).collect();
        assert!(
            hits.is_empty(),
            "{}",
            r.failure(&format!("the console says {text:?}:\n{}", hits.join("\n")))
        );
    }
}
