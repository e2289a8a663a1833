//! Child-mode black-box tests of the cross-built binaries (aarch64, armv7, riscv64), run by
//! qemu-user (`qemu-<arch>-static`) from this x86_64 test process, through the harness of the
//! other black-box tests (`tests/common`, [`Launch::emulated`]). The supervisor under test is
//! the foreign nestinit, emulated; the commands it starts are the native x86_64 test helpers
//! (qemu-user hands an execve of a native binary to the host kernel), so what is exercised is
//! the foreign build's own code: its entry point, raw system calls, signal handling and exit
//! statuses.
//!
//! Every test here is ignored by a plain `cargo test`, with the reason: it needs a cross build
//! and an emulator that the native suite does not make. `tests/cross/run ARCH` builds the
//! binary, installs qemu-user and runs ARCH's tests with `--include-ignored`; a test that runs
//! without its binary (or with one older than the sources) or its emulator then fails, never
//! passes. Features qemu-user cannot emulate are skipped for the emulated run only, inside the
//! test, with the reason printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One foreign build and the emulator that runs it.
struct Arch {
    name: &'static str,
    bin: PathBuf,
    qemu: PathBuf,
}

fn triple(arch: &str) -> &'static str {
    match arch {
        "aarch64" => "aarch64-unknown-linux-gnu",
        "armv7" => "armv7-unknown-linux-gnueabihf",
        "riscv64" => "riscv64gc-unknown-linux-gnu",
        _ => panic!("unknown architecture {arch}"),
    }
}

fn qemu_name(arch: &str) -> &'static str {
    match arch {
        "aarch64" => "qemu-aarch64-static",
        "armv7" => "qemu-arm-static",
        "riscv64" => "qemu-riscv64-static",
        _ => panic!("unknown architecture {arch}"),
    }
}

fn in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The newest modification time of the files that make the binary.
fn newest_source() -> std::time::SystemTime {
    fn walk(dir: &Path, newest: &mut std::time::SystemTime) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, newest);
            } else if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(t);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut newest = std::time::UNIX_EPOCH;
    walk(&root.join("src"), &mut newest);
    for f in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        if let Ok(t) = std::fs::metadata(root.join(f)).and_then(|m| m.modified()) {
            newest = newest.max(t);
        }
    }
    newest
}

/// The architecture's binary and emulator. Panics with what to do when either is missing or
/// the binary is older than the sources: a test that was asked to run must not pass unrun.
fn arch(name: &'static str) -> Arch {
    // <target dir>/<triple>/release/nestinit, next to the x86_64 binary's profile dir.
    let target = nestinit().parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = target.join(triple(name)).join("release/nestinit");
    let problem = if !bin.is_file() {
        format!("{} is not built", bin.display())
    } else if std::fs::metadata(&bin).and_then(|m| m.modified()).unwrap() < newest_source() {
        format!("{} is older than the sources", bin.display())
    } else if let Some(qemu) = in_path(qemu_name(name)) {
        return Arch { name, bin, qemu };
    } else {
        format!("{} not found (Debian package qemu-user-static)", qemu_name(name))
    };
    panic!("{name}: {problem}: bash tests/cross/run {name} builds and installs what it needs")
}

/// Says why a test is skipped for one architecture under qemu-user.
fn skip_emulated(arch: &Arch, test: &str, why: &str) {
    // On a line of its own, even when libtest's "test NAME ... " is waiting for its result.
    say(&format!("\nSKIPPED {}::{test} under {}: {why}", arch.name, arch.qemu.display()));
}

// ---------------------------------------------------------------------------------------------
// Running the foreign binary

impl Arch {
    /// `pidns -- qemu [-strace] BIN ARGS` (PID 1 of a new PID namespace) or `qemu [-strace]
    /// BIN ARGS` (an ordinary child of the test). With `strace`, qemu-user logs each emulated
    /// system call on stderr: the tests read readiness from it (the host's /proc shows qemu's
    /// state, not the emulated program's).
    fn launch(&self, args: &[OsString], pid1: bool, strace: bool) -> Running {
        let launch = if pid1 { Launch::pid1(args) } else { Launch::plain(args) };
        let mut emulator = vec![self.qemu.clone().into_os_string()];
        if strace {
            emulator.push("-strace".into());
        }
        launch.emulated(&self.bin, &emulator).start()
    }

    /// As PID 1 of a new PID namespace.
    fn pid1(&self, args: &[OsString]) -> Running {
        self.launch(args, true, false)
    }

    fn run_pid1(&self, args: &[OsString]) -> Outcome {
        self.pid1(args).wait()
    }
}

/// Waits until the emulated nestinit sleeps in rt_sigtimedwait: qemu's `-strace` names the
/// call, except where qemu lacks the time64 variant and nestinit falls back to the classic
/// call, which qemu 7.2 does not log: then the emulator's own wait channel shows it.
fn wait_in_sigtimedwait(run: &mut Running) {
    let pid = run.pid();
    wait_until("nestinit to wait for signals", FILE_TIMEOUT, || {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        run.output("stderr").contains("rt_sigtimedwait(")
            || wchan.contains("sigtimedwait")
            || !run.is_running()
    });
    assert!(run.is_running(), "nestinit ended early: {}", run.output("stderr"));
}

// ---------------------------------------------------------------------------------------------
// The tests, each written once and instantiated per architecture below

fn exit_statuses_pass_through(a: &Arch) {
    for (probe_args, code) in [
        (args!["exit", "0"].to_vec(), 0),
        (args!["exit", "3"].to_vec(), 3),
        (args!["kill-self", "9"].to_vec(), 128 + SIGKILL),
        (args!["segv"].to_vec(), 128 + SIGSEGV),
    ] {
        let out = a.run_pid1(&child_probe(&[], &probe_args));
        assert_eq!(out.code, code, "{}: probe {probe_args:?}: {out:?}", a.name);
    }
    let out = a.run_pid1(&args!["--mode", "child", "--", "sh", "-c", "exit 42"]);
    assert_eq!(out.code, 42, "{}: {out:?}", a.name);
    assert_eq!(out.stderr, "", "{}: nothing logged at the default verbosity", a.name);
}

fn exec_failures_give_127_and_126(a: &Arch) {
    let out = a.run_pid1(&args!["--mode", "child", "--", "/nonexistent/nestinit-test-cmd"]);
    assert_eq!(out.code, 127, "{}: {out:?}", a.name);
    assert!(out.stderr.starts_with("nestinit: exec"), "{}: {out:?}", a.name);
    let out = a.run_pid1(&args!["--mode", "child", "--", "nestinit-test-no-such-command"]);
    assert_eq!(out.code, 127, "{}: PATH lookup: {out:?}", a.name);
    let tmp = TempDir::new();
    let file = tmp.join("not-executable");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = a.run_pid1(&args!["--mode", "child", "--", &file]);
    assert_eq!(out.code, 126, "{}: {out:?}", a.name);
}

/// Run as an ordinary process: the usage path is the same code for every PID.
fn usage_errors_give_2(a: &Arch) {
    let out = a.launch(&args!["--mode", "bogus"], false, false).wait();
    assert_eq!(out.code, 2, "{}: {out:?}", a.name);
    assert!(out.stderr.contains("--mode"), "{}: names the flag: {out:?}", a.name);
    let out = a
        .launch(&args!["--stop-timeout", "soon", "--mode", "child", "--", "true"], false, false)
        .wait();
    assert_eq!(out.code, 2, "{}: {out:?}", a.name);
    let out = a.launch(&args!["--version"], false, false).wait();
    assert_eq!(out.code, 0, "{}: {out:?}", a.name);
    assert!(out.stdout.starts_with("nestinit "), "{}: {out:?}", a.name);
}

/// `probe signals OUT N` as the command; sends `sent` (in order) to nestinit and checks that
/// the child got exactly `expected`.
fn assert_forwarded(a: &Arch, options: &[&str], sent: &[i32], expected: &[i32]) {
    let tmp = TempDir::new();
    let out = tmp.join("signals");
    let n = expected.len().to_string();
    let mut run = a.pid1(&child_probe(options, &args!["signals", &out, n]));
    wait_file(&ready_file(&out));
    for (i, &sig) in sent.iter().enumerate() {
        run.signal(sig);
        // Standard signals coalesce while pending: send the next once this one arrived.
        wait_until("the child to receive it", FILE_TIMEOUT, || {
            read(&out).lines().count() > i || !run.is_running()
        });
    }
    let end = run.wait();
    assert_eq!(end.code, 0, "{}: {end:?}", a.name);
    let got: Vec<i32> = read(&out).lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(got, expected, "{}: signals the child received", a.name);
}

fn signals_are_forwarded(a: &Arch) {
    assert_forwarded(
        a,
        &[],
        &[SIGUSR1, SIGRTMIN + 5, SIGHUP, SIGWINCH],
        &[SIGUSR1, SIGRTMIN + 5, SIGHUP, SIGWINCH],
    );
    assert_forwarded(a, &["--stop-signal", "TERM"], &[SIGTERM], &[SIGTERM]);
    assert_forwarded(a, &["--stop-signal", "USR1"], &[SIGTERM], &[SIGUSR1]);
}

/// Real-time signals queue: 200 sent to the emulated nestinit reach the child 200 times; a
/// marker of a higher number (delivered after all pending lower ones) ends the count.
fn realtime_burst_arrives_exactly(a: &Arch) {
    const N: usize = 200;
    let (burst, marker) = (SIGRTMIN + 1, SIGRTMIN + 10);
    let tmp = TempDir::new();
    let out = tmp.join("signals");
    let mut run = a.pid1(&child_probe(&[], &args!["signals", &out, (N + 1).to_string()]));
    wait_file(&ready_file(&out));
    let pid = run.pid().to_string();
    for (sig, n) in [(burst, N), (marker, 1)] {
        let st = Command::new(probe())
            .args(["sendrt", &pid, &sig.to_string(), &n.to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "sendrt: {st}");
    }
    let end = run.wait_for(Duration::from_secs(20));
    let text = read(&out);
    let bursts = text.lines().filter(|l| *l == burst.to_string()).count();
    assert_eq!(end.code, 0, "{}: child still waiting with {bursts} of {N}: {end:?}", a.name);
    assert_eq!((text.lines().count(), bursts), (N + 1, N), "{}: (lines, bursts)", a.name);
    assert_eq!(text.lines().last(), Some(marker.to_string().as_str()), "{}", a.name);
}

/// As PID 1, orphans re-parent to the emulated nestinit, which reaps them all.
fn orphans_are_reaped(a: &Arch) {
    let tmp = TempDir::new();
    let ready = tmp.join("ready");
    let mut run = a.pid1(&child_probe(&[], &args!["orphans", "300", &ready]));
    let pid = run.pid();
    wait_until("the orphans to be created", Duration::from_secs(60), || {
        ready.exists() || !run.is_running()
    });
    assert!(run.is_running(), "{}: nestinit ended early: {:?}", a.name, run.wait());
    wait_until("nestinit to reap the orphans", Duration::from_secs(15), || zombies_of(pid) == 0);
    run.signal(SIGUSR1);
    let end = run.wait();
    assert_eq!(end.code, 0, "{}: {end:?}", a.name);
}

/// Without a command nestinit pauses until SIGTERM (or SIGINT), then exits 0.
fn pause_mode_stops_on_sigterm(a: &Arch) {
    for sig in [SIGTERM, SIGINT] {
        let mut run = a.launch(&args!["--mode", "child"], true, true);
        wait_in_sigtimedwait(&mut run);
        std::thread::sleep(Duration::from_millis(300));
        assert!(run.is_running(), "{}: nestinit without a command must keep running", a.name);
        run.signal(sig);
        let end = run.wait();
        assert_eq!(end.code, 0, "{}: signal {sig}: {}", a.name, end.stderr);
    }
}

/// A child that ignores SIGTERM is killed after --stop-timeout; a second SIGTERM kills at once.
fn stop_escalates_to_sigkill(a: &Arch) {
    let tmp = TempDir::new();
    let out = tmp.join("terms");
    let mut run = a.pid1(&child_probe(&["--stop-timeout", "2"], &args!["ignore-term", &out]));
    wait_file(&ready_file(&out));
    run.mark();
    run.signal(SIGTERM);
    let end = run.wait();
    assert_eq!(end.code, 128 + SIGKILL, "{}: {end:?}", a.name);
    assert!(end.elapsed >= Duration::from_millis(1500), "{}: killed too early: {end:?}", a.name);
    assert!(end.elapsed < Duration::from_secs(10), "{}: killed too late: {end:?}", a.name);
    assert_eq!(read(&out), "15\n", "{}: the child got SIGTERM first", a.name);

    let out = tmp.join("terms2");
    let mut run = a.pid1(&child_probe(&["--stop-timeout", "30"], &args!["ignore-term", &out]));
    wait_file(&ready_file(&out));
    run.signal(SIGTERM);
    wait_until("the child to get SIGTERM", FILE_TIMEOUT, || read(&out) == "15\n");
    run.mark();
    run.signal(SIGTERM);
    let end = run.wait_for(Duration::from_secs(20));
    assert_eq!(end.code, 128 + SIGKILL, "{}: {end:?}", a.name);
    assert!(end.elapsed < Duration::from_secs(5), "{}: not killed at once: {end:?}", a.name);
}

/// A child that blocks SIGRTMIN+3 (systemd) gets it on SIGTERM: the emulated nestinit reads
/// the child's /proc/PID/status.
///
/// qemu-user 7.2 maps the emulated program's real-time signals onto host signals 2 higher
/// (it keeps two host real-time signals for itself): a signal nestinit forwards keeps its
/// number both ways, but one nestinit names itself (SIGRTMIN+3 = 37) reaches a native child
/// as 39, which kills it (reported back to nestinit as 37). Under that mapping the test
/// checks the decision (the log line) and skips the delivery check.
fn systemd_like_child_gets_sigrtmin_plus_3(a: &Arch) {
    let tmp = TempDir::new();
    let out = tmp.join("rtmin3");
    let mut run = a.pid1(&child_probe(&[], &args!["block-rtmin3", &out]));
    wait_file(&ready_file(&out));
    run.signal(SIGTERM);
    let end = run.wait();
    assert!(
        end.stderr.contains("sending SIGRTMIN+3 to pid"),
        "{}: the child must be found systemd-like: {end:?}",
        a.name
    );
    if end.code == 128 + SIGRTMIN + 3 && !out.exists() {
        skip_emulated(
            a,
            "systemd_like_child_gets_sigrtmin_plus_3 (delivery)",
            "qemu-user shifts the emulated program's real-time signal numbers by 2 on the host, \
             so a native child gets SIGRTMIN+5 for the SIGRTMIN+3 nestinit sends",
        );
        return;
    }
    assert_eq!(end.code, 0, "{}: {end:?}", a.name);
    assert_eq!(read(&out), format!("{}\n", SIGRTMIN + 3), "{}", a.name);
}

/// Processes the command leaves behind are ended once it exits; its code still passes.
fn leftovers_are_ended(a: &Arch) {
    let end = a.run_pid1(&args!["--mode", "child", "--", "sh", "-c", "sleep 1000 & exit 5"]);
    assert_eq!(end.code, 5, "{}: {end:?}", a.name);
    assert!(
        end.elapsed < Duration::from_secs(8),
        "{}: the leftover was not ended: {end:?}",
        a.name
    );
}

/// Not PID 1: nestinit makes itself a child subreaper, adopts the command's orphan, ends and
/// reaps it, and passes the code on. qemu-user (7.2, Debian 12) answers
/// PR_SET_CHILD_SUBREAPER with EINVAL: nestinit then warns, and the test is skipped.
fn subreaper_adopts_orphans(a: &Arch) {
    let tmp = TempDir::new();
    let out = tmp.join("grandchild");
    let mut run = a.launch(&child_probe(&[], &args!["orphan-sleeper", &out, "7"]), false, false);
    let pid = run.pid();
    let gc: u32 = wait_file(&out).trim().parse().unwrap();
    let err = run.output("stderr");
    if err.contains("subreaper: EINVAL") {
        skip_emulated(a, "subreaper_adopts_orphans", "PR_SET_CHILD_SUBREAPER answers EINVAL");
        assert!(
            err.starts_with("nestinit: become subreaper: EINVAL"),
            "{}: one clear warning: {err}",
            a.name
        );
        run.signal(SIGUSR1);
        assert_eq!(run.wait().code, 7, "{}", a.name);
        let _ = Command::new("kill").args(["-9", &gc.to_string()]).status();
        return;
    }
    assert_eq!(status_field(gc, "PPid"), Some(pid.to_string()), "{}: orphan's parent", a.name);
    run.signal(SIGUSR1);
    let end = run.wait();
    assert_eq!(end.code, 7, "{}: {end:?}", a.name);
}

/// Nested mode clones with CLONE_NEWNS|CLONE_NEWPID, which qemu-user refuses (clone: EINVAL,
/// clone3: ENOSYS): skipped under emulation, after checking that nestinit says why it failed.
fn nested_mode_under_emulation(a: &Arch) {
    let tmp = TempDir::new();
    std::fs::create_dir_all(tmp.join("root")).unwrap();
    let out = a.run_pid1(&args!["--no-machine", "--root", tmp.join("root"), "--", "/bin/true"]);
    if out.code == 125 && out.stderr.contains("clone") {
        skip_emulated(
            a,
            "nested_mode",
            "clone(CLONE_NEWNS|CLONE_NEWPID) is not emulated (EINVAL; clone3 ENOSYS)",
        );
        return;
    }
    // An emulator that can clone into namespaces: the empty root has no /bin/true.
    assert_eq!(out.code, 127, "{}: {out:?}", a.name);
}

macro_rules! per_arch {
    ($($arch:ident: $why:literal),*) => {$(
        mod $arch {
            macro_rules! case {
                ($name:ident) => {
                    #[test]
                    #[ignore = $why]
                    fn $name() {
                        super::$name(&super::arch(stringify!($arch)));
                    }
                };
            }
            case!(exit_statuses_pass_through);
            case!(exec_failures_give_127_and_126);
            case!(usage_errors_give_2);
            case!(signals_are_forwarded);
            case!(realtime_burst_arrives_exactly);
            case!(orphans_are_reaped);
            case!(pause_mode_stops_on_sigterm);
            case!(stop_escalates_to_sigkill);
            case!(systemd_like_child_gets_sigrtmin_plus_3);
            case!(leftovers_are_ended);
            case!(subreaper_adopts_orphans);
            case!(nested_mode_under_emulation);
        }
    )*};
}

per_arch!(
    aarch64: "needs the aarch64 build and qemu-aarch64-static: bash tests/cross/run aarch64",
    armv7: "needs the armv7 build and qemu-arm-static: bash tests/cross/run armv7",
    riscv64: "needs the riscv64 build and qemu-riscv64-static: bash tests/cross/run riscv64"
);
