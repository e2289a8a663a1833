//! Shared harness for the black-box tests: the small static C helpers (built here with gcc),
//! temp dirs, and running the real nestinit binary as PID 1 of a new PID namespace (through
//! `pidns`) or as an ordinary process, with timeouts and clean-up on every path. The cross
//! tier runs another architecture's build through the same harness, under an emulator
//! ([`Launch::emulated`]).
//!
//! Signals to a namespaced nestinit are sent from outside by its host PID: a PID-namespace
//! init gets, from an ancestor namespace, every signal it blocks, which is what nestinit relies
//! on (docs/design.md#pid1-signals). std cannot send signals, so `probe kill` does it.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long a whole nestinit run may take before the test kills it and fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// The same for a run under an emulator, which starts slower and runs slower.
pub const EMULATED_RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for a file a helper writes (ready, pid, output).
pub const FILE_TIMEOUT: Duration = Duration::from_secs(15);

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGWINCH: i32 = 28;
/// glibc's and musl's SIGRTMIN is 34, so users' SIGRTMIN+N is 34+N.
pub const SIGRTMIN: i32 = 34;

/// A vector of arguments from strings and paths: `args!["--root", dir.path()]`.
#[allow(unused_macros)] // not every test binary that includes this module needs it
macro_rules! args {
    ($($x:expr),* $(,)?) => { [$(std::ffi::OsString::from($x)),*] };
}
#[allow(unused_imports)]
pub(crate) use args;

/// `--mode child [OPTIONS] -- probe PROBE_ARGS...`: nestinit's arguments for the `probe` helper
/// as the command of child mode.
pub fn child_probe(options: &[&str], probe_args: &[OsString]) -> Vec<OsString> {
    let mut v = args!["--mode", "child"].to_vec();
    v.extend(options.iter().map(OsString::from));
    v.push("--".into());
    v.push(probe().into());
    v.extend_from_slice(probe_args);
    v
}

/// Writes a line straight to the terminal: libtest captures only the `print!`s and `eprint!`s
/// of passing tests, and what is said here (a skipped check, a measurement) must be seen.
pub fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The bit of `sig` in a /proc/PID/status signal mask.
pub fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// The release binary under test.
pub fn nestinit() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nestinit"))
}

/// Serialises the heavy tests (thousands of processes) against each other.
pub fn heavy_lock() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// C helpers

/// `<target dir>/test-helpers`, next to the profile directory holding the binary under test.
fn helpers_dir() -> PathBuf {
    let exe = nestinit();
    let target = exe
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf);
    target.join("test-helpers")
}

/// Builds `tests/helpers/NAME.c` statically unless an up-to-date binary exists. Several test
/// binaries may race here: each builds into a name of its own and renames it into place.
fn build_helper(name: &str) -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers").join(format!("{name}.c"));
    let dir = helpers_dir();
    let out = dir.join(name);
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let src_time = mtime(&src).ok_or_else(|| format!("cannot read {}", src.display()))?;
    // The helpers' shared header counts as source too.
    let header = src.with_file_name("seccomp.h");
    let src_time = mtime(&header).map_or(src_time, |h| h.max(src_time));
    if mtime(&out).is_some_and(|t| t >= src_time) {
        return Ok(out);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = Command::new("gcc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(&tmp)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run gcc: {e}"))?;
    if !result.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "gcc failed on {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&result.stderr)
        ));
    }
    std::fs::rename(&tmp, &out).map_err(|e| format!("rename to {}: {e}", out.display()))?;
    Ok(out)
}

struct Helpers {
    probe: PathBuf,
    pidns: PathBuf,
}

static HELPERS: OnceLock<Result<Helpers, String>> = OnceLock::new();

fn helpers() -> &'static Helpers {
    let built = HELPERS.get_or_init(|| {
        Ok(Helpers { probe: build_helper("probe")?, pidns: build_helper("pidns")? })
    });
    match built {
        Ok(h) => h,
        Err(e) => panic!("building the test helpers: {e}"),
    }
}

/// The `probe` helper (see tests/helpers/probe.c).
pub fn probe() -> PathBuf {
    helpers().probe.clone()
}

/// The `pidns` helper (see tests/helpers/pidns.c).
pub fn pidns() -> PathBuf {
    helpers().pidns.clone()
}

/// Sends `sig` to `pid` (a host PID).
pub fn kill(pid: u32, sig: i32) {
    let st = Command::new(probe())
        .args(["kill", &pid.to_string(), &sig.to_string()])
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("running probe kill: {e}"));
    assert!(st.success(), "probe kill {pid} {sig} failed: {st}");
}

/// Like [`kill`], for clean-up paths: never fails, never panics (it may run while a test
/// panics), so it falls back to kill(1) when probe was not built.
fn kill_quietly(pid: u32, sig: i32) {
    let mut cmd = match HELPERS.get() {
        Some(Ok(h)) => {
            let mut c = Command::new(&h.probe);
            c.args(["kill", &pid.to_string(), &sig.to_string()]);
            c
        }
        _ => {
            let mut c = Command::new("kill");
            c.args([format!("-{sig}"), pid.to_string()]);
            c
        }
    };
    let _ = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

// ---------------------------------------------------------------------------------------------
// Temp dirs and files

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("nestinit-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls until `cond` holds; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for `path` to exist (helpers create their files atomically) and returns its text.
pub fn wait_file(path: &Path) -> String {
    wait_until(&format!("{}", path.display()), FILE_TIMEOUT, || path.exists());
    read(path)
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `OUT.ready`, the file `probe` writes once its signal set-up is done.
pub fn ready_file(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".ready");
    PathBuf::from(p)
}

// ---------------------------------------------------------------------------------------------
// /proc

/// One field (`SigBlk`, `PPid`, ...) of /proc/PID/status, or None if the process is gone.
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// A /proc/PID/status signal mask field as a number.
pub fn status_mask(pid: u32, field: &str) -> Option<u64> {
    u64::from_str_radix(&status_field(pid, field)?, 16).ok()
}

/// (state, ppid) of every process, from /proc/*/stat (the comm field may hold spaces and ')').
pub fn all_processes() -> Vec<(u32, char, u32)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push((pid, state, ppid));
    }
    out
}

/// Zombies whose parent is `ppid`.
pub fn zombies_of(ppid: u32) -> usize {
    all_processes().iter().filter(|&&(_, state, parent)| state == 'Z' && parent == ppid).count()
}

/// Every descendant of `root`, deepest last.
pub fn descendants(root: u32) -> Vec<u32> {
    let procs = all_processes();
    let mut found = vec![root];
    let mut i = 0;
    while let Some(&parent) = found.get(i) {
        for &(pid, _, ppid) in &procs {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether /proc/PID is nestinit itself (after exec) with its signals blocked: only then may
/// a test signal it without killing it by a default action. While a task sleeps in
/// rt_sigtimedwait the kernel unblocks the awaited signals, so SigBlk reads 0 there: the
/// wait channel tells that case.
pub fn is_blocking_nestinit(pid: u32) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let ours = std::fs::canonicalize(nestinit()).ok();
    if exe.is_none() || exe != ours {
        return false;
    }
    let blocked = status_mask(pid, "SigBlk").is_some_and(|m| m & bit(SIGTERM) != 0);
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    blocked || wchan.contains("sigtimedwait")
}

// ---------------------------------------------------------------------------------------------
// Running nestinit

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// From start (or from [`Running::mark`]) to the end.
    pub elapsed: Duration,
}

impl Outcome {
    /// stderr's lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// A running nestinit (directly, or through `pidns`), killed with everything under it if the
/// test ends without waiting for it.
pub struct Running {
    child: Option<Child>,
    /// Whether `child` is `pidns` (nestinit is then its child, PID 1 of the namespace).
    in_pidns: bool,
    /// Whether nestinit runs under an emulator (the process the kernel sees is the emulator).
    emulated: bool,
    dir: TempDir,
    pid: Option<u32>,
    started: Instant,
    /// What [`Running::wait`] allows.
    timeout: Duration,
}

/// Builds a command that runs nestinit with `args`, and how.
pub struct Launch {
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    wrapper: Vec<OsString>,
    in_pidns: bool,
    /// The binary under test: the native release build unless [`Launch::emulated`].
    binary: PathBuf,
    /// The program prefix that runs `binary` (an emulator and its options), or empty.
    emulator: Vec<OsString>,
}

impl Launch {
    /// nestinit as PID 1 of a new PID namespace.
    pub fn pid1<S: AsRef<OsStr>>(args: &[S]) -> Launch {
        Launch {
            args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
            envs: Vec::new(),
            wrapper: Vec::new(),
            in_pidns: true,
            binary: nestinit(),
            emulator: Vec::new(),
        }
    }

    /// nestinit as an ordinary child of the test (it registers as a child subreaper).
    pub fn plain<S: AsRef<OsStr>>(args: &[S]) -> Launch {
        Launch { in_pidns: false, ..Launch::pid1(args) }
    }

    pub fn env(mut self, name: &str, value: &str) -> Launch {
        self.envs.push((name.into(), value.into()));
        self
    }

    /// Runs nestinit through this command (which must exec it in place), e.g. probe
    /// spawn-with-state.
    pub fn wrapper<S: AsRef<OsStr>>(mut self, cmd: &[S]) -> Launch {
        self.wrapper = cmd.iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// Runs `binary`, a build for another architecture, under `emulator`: a program prefix
    /// such as `qemu-aarch64-static -strace` (qemu-user emulates in its own process, so the
    /// emulator's PID is nestinit's). A [`Launch::wrapper`] still comes first.
    pub fn emulated<S: AsRef<OsStr>>(mut self, binary: &Path, emulator: &[S]) -> Launch {
        self.binary = binary.to_path_buf();
        self.emulator = emulator.iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    pub fn start(self) -> Running {
        helpers(); // the clean-up path needs probe
        let dir = TempDir::new();
        // [pidns --pidfile FILE --] [WRAPPER...] [EMULATOR...] BINARY ARGS...
        let mut program: Vec<OsString> = Vec::new();
        if self.in_pidns {
            program.extend([
                pidns().into(),
                "--pidfile".into(),
                dir.join("pid").into(),
                "--".into(),
            ]);
        }
        program.extend(self.wrapper);
        program.extend(self.emulator.iter().cloned());
        program.push(self.binary.into());
        program.extend(self.args);
        let Some((first, rest)) = program.split_first() else { unreachable!("never empty") };
        let mut cmd = Command::new(first);
        cmd.args(rest);
        // Hermetic: no NESTINIT_* from the caller's environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("NESTINIT_") || name == "INIT_DROP_CAP" {
                cmd.env_remove(name);
            }
        }
        cmd.envs(self.envs);
        let stdout = std::fs::File::create(dir.join("stdout"));
        let stderr = std::fs::File::create(dir.join("stderr"));
        let (Ok(stdout), Ok(stderr)) = (stdout, stderr) else {
            panic!("creating output files in {}", dir.path().display());
        };
        // Never a terminal on stdin: the command would take its foreground from the test.
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        let started = Instant::now();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {first:?}: {e}"));
        let pid = (!self.in_pidns).then(|| child.id());
        let emulated = !self.emulator.is_empty();
        let timeout = if emulated { EMULATED_RUN_TIMEOUT } else { RUN_TIMEOUT };
        Running {
            child: Some(child),
            in_pidns: self.in_pidns,
            emulated,
            dir,
            pid,
            started,
            timeout,
        }
    }

    /// Starts and waits for the end (failing the test after [`RUN_TIMEOUT`], or
    /// [`EMULATED_RUN_TIMEOUT`] under an emulator).
    pub fn run(self) -> Outcome {
        self.start().wait()
    }
}

/// Runs nestinit with `args` as PID 1 of a new PID namespace and waits for it.
pub fn run_pid1<S: AsRef<OsStr>>(args: &[S]) -> Outcome {
    Launch::pid1(args).run()
}

impl Running {
    /// nestinit's host PID (from the pidfile when it runs in a PID namespace).
    pub fn pid(&mut self) -> u32 {
        if let Some(pid) = self.pid {
            return pid;
        }
        let pidfile = self.dir.join("pid");
        wait_until("the pidfile", FILE_TIMEOUT, || pidfile.exists() || !self.is_running());
        if !pidfile.exists() {
            panic!("pidns ended before writing its pidfile: {}", self.output("stderr"));
        }
        let text = read(&pidfile);
        let pid = text.trim().parse().unwrap_or_else(|_| panic!("bad pidfile: {text:?}"));
        self.pid = Some(pid);
        pid
    }

    /// A path in this run's private temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Waits until nestinit runs and blocks its signals: it can then be signalled safely.
    pub fn wait_blocking(&mut self) {
        let pid = self.pid();
        wait_until("nestinit to block its signals", FILE_TIMEOUT, || is_blocking_nestinit(pid));
    }

    /// Sends `sig` to nestinit by its host PID.
    pub fn signal(&mut self, sig: i32) {
        let pid = self.pid();
        kill(pid, sig);
    }

    /// Restarts the clock that [`Outcome::elapsed`] reports.
    pub fn mark(&mut self) {
        self.started = Instant::now();
    }

    /// Whether nestinit (or pidns) is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Waits for the end, at most [`RUN_TIMEOUT`] ([`EMULATED_RUN_TIMEOUT`] under an emulator).
    pub fn wait(self) -> Outcome {
        let timeout = self.timeout;
        self.wait_for(timeout)
    }

    /// Waits for the end; after `timeout`, kills everything and fails the test.
    pub fn wait_for(mut self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        let status: ExitStatus = loop {
            let Some(child) = self.child.as_mut() else {
                panic!("already waited");
            };
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(None) => {
                    self.kill_all();
                    panic!(
                        "nestinit did not end within {timeout:?}; stderr:\n{}",
                        self.output("stderr")
                    );
                }
                Err(e) => panic!("waiting for nestinit: {e}"),
            }
        };
        let elapsed = self.started.elapsed();
        self.child = None;
        let code = status.code().unwrap_or_else(|| {
            panic!(
                "{} was killed by a signal: {status}; stderr:\n{}",
                match (self.in_pidns, self.emulated) {
                    (true, _) => "pidns",
                    (false, true) => "the emulator",
                    (false, false) => "nestinit",
                },
                self.output("stderr")
            )
        });
        if self.in_pidns && code == 125 {
            let err = self.output("stderr");
            assert!(!err.contains("pidns:"), "pidns failed: {err}");
        }
        Outcome { code, stdout: self.output("stdout"), stderr: self.output("stderr"), elapsed }
    }

    /// What the run wrote so far to `stdout` or `stderr` (empty when there is nothing).
    pub fn output(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// SIGKILLs nestinit's descendants (outside a PID namespace nothing else would), then
    /// nestinit (which ends its whole PID namespace), then pidns; reaps our child.
    fn kill_all(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = self.pid.or_else(|| {
            std::fs::read_to_string(self.dir.join("pid")).ok().and_then(|t| t.trim().parse().ok())
        });
        if let Some(pid) = pid {
            if !self.in_pidns {
                for d in descendants(pid).into_iter().rev() {
                    kill_quietly(d, SIGKILL);
                }
            }
            kill_quietly(pid, SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill_all();
    }
}
pub mod container;
