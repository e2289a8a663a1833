//! Child-mode black-box tests of the cross-built binaries (aarch64, armv7, riscv64), run by
//! qemu-user (`qemu-<arch>-static`) from this x86_64 test process. The supervisor under test is
//! the foreign nestinit, emulated; the commands it starts are the native x86_64 test helpers
//! (qemu-user hands an execve of a native binary to the host kernel), so what is exercised is
//! the foreign build's own code: its entry point, raw system calls, signal handling and exit
//! statuses.
//!
//! Each architecture's tests skip, with a reason printed on the terminal, when its binary is
//! not built (or older than the sources) or its qemu is missing; `tests/cross/run ARCH` builds
//! the binary first and sets `NITEST_CROSS_REQUIRE=ARCH`, which turns those skips into failures.
//! Features qemu-user cannot emulate are skipped for the emulated run only, with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A vector of arguments from strings and paths.
macro_rules! args {
    ($($x:expr),* $(,)?) => { [$(OsString::from($x)),*] };
}

/// Slower than native: each run starts an emulator.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Writes straight to the terminal: libtest captures only print!/eprint! of passing tests, and
/// a skip must be seen.
fn say(text: &str) {
    // On a line of its own, even when libtest's "test NAME ... " is waiting for its result.
    let _ = writeln!(std::io::stderr(), "\n{text}");
}

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

/// The architecture's binary and emulator, or None (with the reason printed) when the test
/// cannot run here. Panics instead when `NITEST_CROSS_REQUIRE` names the architecture.
fn arch(name: &'static str, test: &str) -> Option<Arch> {
    // <target dir>/<triple>/release/nestinit, next to the x86_64 binary's profile dir.
    let target = nestinit().parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = target.join(triple(name)).join("release/nestinit");
    let problem = if !bin.is_file() {
        Some(format!("{} is not built (bash tests/cross/run {name})", bin.display()))
    } else if std::fs::metadata(&bin).and_then(|m| m.modified()).unwrap() < newest_source() {
        Some(format!("{} is older than the sources (bash tests/cross/run {name})", bin.display()))
    } else if in_path(qemu_name(name)).is_none() {
        Some(format!("{} not found (Debian package qemu-user-static)", qemu_name(name)))
    } else {
        None
    };
    let required = std::env::var("NITEST_CROSS_REQUIRE")
        .is_ok_and(|v| v.split([',', ' ']).any(|a| a == name || a == "all"));
    match problem {
        Some(p) if required => panic!("{name}: {p}"),
        Some(p) => {
            // Once per architecture: every one of its tests skips for the same reason.
            static SAID: std::sync::Mutex<Vec<&str>> = std::sync::Mutex::new(Vec::new());
            let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
            if !said.contains(&name) {
                said.push(name);
                say(&format!("SKIPPED {name}::* (from {name}::{test} on): {p}"));
            }
            None
        }
        None => Some(Arch { name, bin, qemu: in_path(qemu_name(name)).unwrap() }),
    }
}

/// Says why a test is skipped for one architecture under qemu-user.
fn skip_emulated(arch: &Arch, test: &str, why: &str) {
    say(&format!("SKIPPED {}::{test} under {}: {why}", arch.name, arch.qemu.display()));
}

// ---------------------------------------------------------------------------------------------
// Running the foreign binary

/// A running emulated nestinit: `pidns -- qemu BIN ARGS` (PID 1 of a new PID namespace) or
/// `qemu BIN ARGS` (an ordinary child of the test). Killed with its namespace on drop.
struct Run {
    child: Option<Child>,
    in_pidns: bool,
    dir: TempDir,
    pid: Option<u32>,
    started: Instant,
}

impl Arch {
    fn command(&self, pid1: bool, strace: bool, dir: &TempDir) -> Command {
        let mut cmd = if pid1 {
            let mut c = Command::new(pidns());
            c.arg("--pidfile").arg(dir.join("pid")).arg("--").arg(&self.qemu);
            c
        } else {
            Command::new(&self.qemu)
        };
        if strace {
            // qemu-user logs each emulated system call on stderr: the tests read readiness
            // from it (the host's /proc shows qemu's state, not the emulated program's).
            cmd.arg("-strace");
        }
        cmd.arg(&self.bin);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("NESTINIT_") || name == "INIT_DROP_CAP" {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    fn launch(&self, args: &[OsString], pid1: bool, strace: bool) -> Run {
        probe(); // built before the clock starts
        let dir = TempDir::new();
        let mut cmd = self.command(pid1, strace, &dir);
        cmd.args(args);
        let out = std::fs::File::create(dir.join("stdout")).unwrap();
        let err = std::fs::File::create(dir.join("stderr")).unwrap();
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let started = Instant::now();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {}: {e}", self.qemu.display()));
        let pid = (!pid1).then(|| child.id());
        Run { child: Some(child), in_pidns: pid1, dir, pid, started }
    }

    /// As PID 1 of a new PID namespace.
    fn pid1(&self, args: &[OsString]) -> Run {
        self.launch(args, true, false)
    }

    fn run_pid1(&self, args: &[OsString]) -> Outcome {
        self.pid1(args).wait()
    }
}

impl Run {
    /// The emulator's host PID (nestinit's, as the kernel sees it).
    fn pid(&mut self) -> u32 {
        if let Some(pid) = self.pid {
            return pid;
        }
        let pidfile = self.dir.join("pid");
        wait_until("the pidfile", FILE_TIMEOUT, || pidfile.exists() || !self.is_running());
        assert!(pidfile.exists(), "pidns ended early: {}", self.output("stderr"));
        let pid = read(&pidfile).trim().parse().unwrap();
        self.pid = Some(pid);
        pid
    }

    fn signal(&mut self, sig: i32) {
        let pid = self.pid();
        kill(pid, sig);
    }

    fn mark(&mut self) {
        self.started = Instant::now();
    }

    fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn output(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Waits until the emulated nestinit sleeps in rt_sigtimedwait: qemu's `-strace` names the
    /// call, except where qemu lacks the time64 variant and nestinit falls back to the classic
    /// call, which qemu 7.2 does not log: then the emulator's own wait channel shows it.
    fn wait_in_sigtimedwait(&mut self) {
        let pid = self.pid();
        wait_until("nestinit to wait for signals", FILE_TIMEOUT, || {
            let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
            self.output("stderr").contains("rt_sigtimedwait(")
                || wchan.contains("sigtimedwait")
                || !self.is_running()
        });
        assert!(self.is_running(), "nestinit ended early: {}", self.output("stderr"));
    }

    fn wait(self) -> Outcome {
        self.wait_for(TIMEOUT)
    }

    fn wait_for(mut self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.as_mut().unwrap().try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) => {
                    self.kill_all();
                    panic!("nestinit did not end within {timeout:?}: {}", self.output("stderr"));
                }
                Err(e) => panic!("waiting: {e}"),
            }
        };
        let elapsed = self.started.elapsed();
        self.child = None;
        let code = status.code().unwrap_or_else(|| {
            panic!("the emulator was killed: {status}; stderr:\n{}", self.output("stderr"))
        });
        if self.in_pidns && code == 125 {
            let err = self.output("stderr");
            assert!(!err.contains("pidns:"), "pidns failed: {err}");
        }
        Outcome { code, stdout: self.output("stdout"), stderr: self.output("stderr"), elapsed }
    }

    fn kill_all(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = self.pid.or_else(|| {
            std::fs::read_to_string(self.dir.join("pid")).ok().and_then(|t| t.trim().parse().ok())
        });
        if let Some(pid) = pid {
            if !self.in_pidns {
                for d in descendants(pid).into_iter().rev() {
                    let _ = Command::new("kill").args(["-9", &d.to_string()]).status();
                }
            }
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// `--mode child [OPTIONS] -- probe ARGS...`
fn child_probe(options: &[&str], probe_args: &[OsString]) -> Vec<OsString> {
    let mut v = args!["--mode", "child"].to_vec();
    v.extend(options.iter().map(OsString::from));
    v.push("--".into());
    v.push(probe().into());
    v.extend_from_slice(probe_args);
    v
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
        run.wait_in_sigtimedwait();
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
    ($($arch:ident),*) => {$(
        mod $arch {
            macro_rules! case {
                ($name:ident) => {
                    #[test]
                    fn $name() {
                        if let Some(a) = super::arch(stringify!($arch), stringify!($name)) {
                            super::$name(&a);
                        }
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

per_arch!(aarch64, armv7, riscv64);
