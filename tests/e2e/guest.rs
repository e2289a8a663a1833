//! What the end-to-end tiers (tests/e2e_systemd.rs, tests/e2e_docker.rs) share: a guest in
//! some container runtime ([`Guest`]) and the checks made on it, the timeouts, and the small
//! helpers for running commands and reading their output.

use super::common::nestinit;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Boot to `running`, a power-off to the container's end: generous for a loaded 2-core CI.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

/// What one command (an exec, a podman call) may take before `timeout` ends it.
pub const COMMAND_TIMEOUT: &str = "120";

pub const END_TIMEOUT: Duration = Duration::from_secs(60);

pub trait Guest {
    /// `/init ARGS` in the container (`exec ...`, `status`), as `docker exec` would run it.
    fn init(&mut self, args: &[&str]) -> Output;
    /// Asks the container to stop: SIGTERM to its PID 1, or `podman stop`.
    fn stop(&mut self);
    fn is_running(&mut self) -> bool;
    /// Waits for the container's end and returns its exit status.
    fn wait_end(&mut self, timeout: Duration) -> i32;
    /// nestinit's lines, plain.
    fn nestinit_log(&mut self) -> String;
    /// The console (systemd's status lines), plain.
    fn console(&mut self) -> String;
    fn name(&self) -> &'static str;

    /// `/init exec ARGS`.
    fn exec(&mut self, args: &[&str]) -> Output {
        let mut v = vec!["exec"];
        v.extend_from_slice(args);
        self.init(&v)
    }

    /// Everything worth printing when a check fails.
    fn dump(&mut self) -> String {
        format!("nestinit:\n{}\nconsole:\n{}", self.nestinit_log(), self.console())
    }
}

pub fn assert_end(g: &mut dyn Guest, code: i32, expect_line: &str) {
    let got = g.wait_end(END_TIMEOUT);
    let log = g.nestinit_log();
    assert_eq!(got, code, "{}: the container's exit status\n{}", g.name(), g.dump());
    assert!(
        log.contains(expect_line),
        "{}: nestinit should log {expect_line:?}\n{}",
        g.name(),
        g.dump()
    );
}

pub fn boot_id(g: &mut dyn Guest) -> Option<String> {
    let out = g.exec(&["cat", "/proc/sys/kernel/random/boot_id"]);
    let id = text(&out.stdout).trim().to_string();
    (out.status.success() && id.len() == 36).then_some(id)
}

pub fn check_status(g: &mut dyn Guest) {
    let out = g.init(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}: /init status: {}", g.name(), describe(&out));
    let s = text(&out.stdout);
    assert!(s.contains("systemd-like yes"), "{}: /init status: {s}", g.name());
    assert!(s.contains("command /sbin/init"), "{}: /init status: {s}", g.name());
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// SIGKILLs `pids`, ignoring those already gone.
pub fn kill_pids(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-9")
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn run_script(name: &str, args: &[&OsStr]) -> Result<(), String> {
    let out = Command::new("bash")
        .arg(script(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {name}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{name} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

pub fn script(name: &str) -> PathBuf {
    manifest_dir().join("tests/e2e").join(name)
}

/// `s` quoted for sh.
pub fn sh_quote(s: &OsStr) -> String {
    format!("'{}'", String::from_utf8_lossy(s.as_bytes()).replace('\'', "'\\''"))
}

/// The cargo target dir, found from the binary under test (`target/release/nestinit`).
pub fn target_dir() -> PathBuf {
    let exe = nestinit();
    exe.parent().and_then(Path::parent).map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `timeout -k 5 SECS CMD`: no command of a test can hang it.
pub fn timed(cmd: &str) -> Command {
    let mut c = Command::new("timeout");
    c.args(["-k", "5", COMMAND_TIMEOUT, cmd]);
    c.stdin(Stdio::null());
    c
}

/// Waits until `systemctl is-system-running --wait` says `running` and returns the time it
/// took; `degraded` (or any other final state) fails the test with the failed units.
pub fn wait_running(g: &mut dyn Guest) -> Duration {
    let started = Instant::now();
    loop {
        let out = g.exec(&["systemctl", "is-system-running", "--wait"]);
        let state = text(&out.stdout).trim().to_string();
        match state.as_str() {
            "running" => return started.elapsed(),
            "degraded" | "maintenance" | "stopping" => {
                let failed = g.exec(&["systemctl", "--no-pager", "--full", "--failed"]);
                let status =
                    g.exec(&["systemctl", "--no-pager", "--full", "status", "--state=failed"]);
                panic!(
                    "{}: the guest is {state}, not running. Failed units:\n{}\n{}\n{}",
                    g.name(),
                    text(&failed.stdout),
                    text(&status.stdout),
                    g.dump()
                );
            }
            // Not up yet: no guest, no bus, no answer.
            _ => {}
        }
        assert!(
            g.is_running(),
            "{}: the container ended before the guest ran; last answer: {}\n{}",
            g.name(),
            describe(&out),
            g.dump()
        );
        assert!(
            started.elapsed() < BOOT_TIMEOUT,
            "{}: not running after {BOOT_TIMEOUT:?}; last answer: {}\n{}",
            g.name(),
            describe(&out),
            g.dump()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
