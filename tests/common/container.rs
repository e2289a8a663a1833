//! Test containers for nested and chroot mode: a busybox guest rootfs in a temp dir, and `ctr`
//! (tests/helpers/ctr.c), which builds a throwaway container around the real nestinit binary
//! as its PID 1, in private mount and PID namespaces.
//!
//! Every run checks on its way out that the test process's mount table (the host's) is what
//! it was before the container started: nothing a container does may leak out.
#![allow(dead_code)]

use super::{build_helper, kill_quietly, nestinit, wait_until, TempDir, FILE_TIMEOUT, RUN_TIMEOUT};
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What `ctr` exits with when it cannot build the container (not a code nestinit uses).
pub const CTR_FAILED: i32 = 120;

/// The file in the volume's root whose content tells the guest its root is the volume.
pub const VOLUME_MARKER: &str = ".nestinit-volume";

/// Where [`Ctr::shared`] puts a host directory in the container (and so in the guest).
pub const SHARED: &str = "/shared";

struct Built {
    ctr: PathBuf,
    guest: PathBuf,
}

static BUILT: OnceLock<Result<Built, String>> = OnceLock::new();

fn built() -> &'static Built {
    let b = BUILT
        .get_or_init(|| Ok(Built { ctr: build_helper("ctr")?, guest: build_helper("guest")? }));
    match b {
        Ok(b) => b,
        Err(e) => panic!("building the container helpers: {e}"),
    }
}

/// The `ctr` helper.
pub fn ctr() -> PathBuf {
    built().ctr.clone()
}

/// The `guest` helper (installed as /bin/guest in every rootfs).
pub fn guest() -> PathBuf {
    built().guest.clone()
}

/// The static busybox the guest rootfs is made of.
pub fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox not found: apt-get install busybox-static");
}

// ---------------------------------------------------------------------------------------------
// The guest rootfs

/// A guest root volume in a temp dir: busybox as /bin/busybox with /bin/sh and a few applets,
/// the guest helper as /bin/guest, /sbin/init -> ../bin/guest, and a marker file holding a
/// random token. Nothing else: no /etc, /proc, /dev, /run... (nestinit creates its targets).
/// Beside the volume, `outside/` is a directory a hostile symlink could aim at.
pub struct Rootfs {
    dir: TempDir,
    vol: PathBuf,
    token: String,
}

impl Rootfs {
    pub fn busybox() -> Rootfs {
        let dir = TempDir::new();
        let vol = dir.join("vol");
        for d in ["bin", "sbin"] {
            mkdir(&vol.join(d));
        }
        mkdir(&dir.join("outside"));
        copy(&busybox(), &vol.join("bin/busybox"));
        copy(&guest(), &vol.join("bin/guest"));
        for applet in ["sh", "cat", "echo", "ls", "sleep", "mount", "true", "false"] {
            symlink("busybox", vol.join("bin").join(applet)).unwrap_or_else(|e| panic!("{e}"));
        }
        symlink("../bin/guest", vol.join("sbin/init")).unwrap_or_else(|e| panic!("{e}"));
        let token = format!("vol-{}-{}", std::process::id(), nanos());
        write(&vol.join(VOLUME_MARKER), &token);
        Rootfs { dir, vol, token }
    }

    /// The volume directory (the guest's `/`).
    pub fn path(&self) -> &Path {
        &self.vol
    }

    /// A path in the volume, given as the guest sees it (`/etc/hosts`).
    pub fn guest_path(&self, path: &str) -> PathBuf {
        self.vol.join(path.trim_start_matches('/'))
    }

    /// The directory beside the volume (`../outside` from the volume's root).
    pub fn outside(&self) -> PathBuf {
        self.dir.join("outside")
    }

    /// A fresh path in this rootfs's temp dir, outside the volume.
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The token in the volume's marker file.
    pub fn token(&self) -> &str {
        &self.token
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub fn mkdir(p: &Path) {
    std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
}

pub fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", to.display()));
}

// ---------------------------------------------------------------------------------------------
// The host's mount table

/// One line of /proc/self/mountinfo, reduced to what a leak would change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostMount {
    pub id: u32,
    pub parent: u32,
    pub mount_point: String,
    pub options: String,
    pub fstype: String,
    pub super_options: String,
}

/// The test process's mount table.
pub fn host_mounts() -> Vec<HostMount> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_else(|e| panic!("reading /proc/self/mountinfo: {e}"));
    let mut v: Vec<HostMount> = text
        .lines()
        .filter_map(|l| {
            let m = MountLine::parse(l)?;
            Some(HostMount {
                id: m.id,
                parent: m.parent,
                mount_point: m.mount_point,
                options: m.options,
                fstype: m.fstype,
                super_options: m.super_options,
            })
        })
        .collect();
    v.sort();
    v
}

/// Whether `m` is some other program's business: a mount below the system temp dir but not
/// below one of this test process's own temp dirs. Other sessions on the machine mount and
/// unmount their scratch trees there while the tests run; a container leaking a mount would
/// show up at a container path (/data00, /run, /proc/..., /sys/fs/cgroup/...) or in our own
/// temp dirs (the volume, the scratch root), which are all still compared.
pub fn foreign(m: &HostMount) -> bool {
    let tmp = std::env::temp_dir();
    let ours = format!("nestinit-test-{}-", std::process::id());
    match Path::new(&m.mount_point).strip_prefix(&tmp) {
        Ok(rest) => !rest
            .components()
            .next()
            .is_some_and(|c| c.as_os_str().to_string_lossy().starts_with(&ours)),
        Err(_) => false,
    }
}

fn assert_same_mounts(before: &[HostMount], after: &[HostMount]) {
    let gone: Vec<_> = before.iter().filter(|m| !after.contains(m) && !foreign(m)).collect();
    let new: Vec<_> = after.iter().filter(|m| !before.contains(m) && !foreign(m)).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "the host's mount table changed during the test:\n  gone: {gone:#?}\n  new: {new:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Mountinfo lines (the guest's, from its report, or the host's)

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountLine {
    pub id: u32,
    pub parent: u32,
    /// The path within its filesystem ("root" field), unescaped.
    pub root: String,
    /// Unescaped (`\040` is a space, `\012` a newline...).
    pub mount_point: String,
    pub options: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

impl MountLine {
    pub fn parse(line: &str) -> Option<MountLine> {
        let (left, right) = line.split_once(" - ")?;
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        Some(MountLine {
            id: l.first()?.parse().ok()?,
            parent: l.get(1)?.parse().ok()?,
            root: unescape_octal(l.get(3)?),
            mount_point: unescape_octal(l.get(4)?),
            options: (*l.get(5)?).to_string(),
            fstype: (*r.first()?).to_string(),
            source: unescape_octal(r.get(1)?),
            super_options: (*r.get(2)?).to_string(),
        })
    }

    /// Whether the per-mount options say read-only.
    pub fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// mountinfo's `\NNN` octal escapes undone.
pub fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let Some(d) = oct {
            out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// The guest's report

/// `guest report` output: `key=value` lines, values escaped (`\\`, `\n`).
#[derive(Debug, Default)]
pub struct Report {
    pub entries: Vec<(String, String)>,
}

fn unescape_report(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

impl Report {
    pub fn parse(text: &str) -> Report {
        let entries = text
            .lines()
            .filter_map(|l| {
                // Keys never hold '=' except file paths chosen by the tests, which do not.
                let (k, v) = l.split_once('=')?;
                Some((unescape_report(k), unescape_report(v)))
            })
            .collect();
        Report { entries }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The first value of `key`; fails the test if absent.
    pub fn must(&self, key: &str) -> &str {
        self.get(key).unwrap_or_else(|| panic!("no {key:?} in the guest's report: {self:#?}"))
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.entries.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// The guest's environment as (name, value) pairs, in order.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.all("env").into_iter().map(|e| e.split_once('=').unwrap_or((e, ""))).collect()
    }

    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env().into_iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// What the guest read from `path` (`!ENOENT` and the like on failure).
    pub fn file(&self, path: &str) -> &str {
        self.must(&format!("file:{path}"))
    }

    pub fn stat(&self, path: &str) -> &str {
        self.must(&format!("stat:{path}"))
    }

    /// The guest's /proc/self/mountinfo.
    pub fn mounts(&self) -> Vec<MountLine> {
        self.all("mount")
            .into_iter()
            .map(|l| MountLine::parse(l).unwrap_or_else(|| panic!("bad mountinfo line {l:?}")))
            .collect()
    }

    /// The guest's mount at exactly `path` (the top one if stacked).
    pub fn mount_at(&self, path: &str) -> Option<MountLine> {
        self.mounts().into_iter().rev().find(|m| m.mount_point == path)
    }

    /// The capability bounding set.
    pub fn capbnd(&self) -> u64 {
        u64::from_str_radix(self.must("capbnd"), 16).unwrap_or_else(|e| panic!("capbnd: {e}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Running a container

/// How a container run ended.
#[derive(Debug)]
pub struct CtrOutcome {
    /// ctr's exit status: /init's code, or 128+signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The files in the [`SHARED`] directory at the end (name, content), sorted by name.
    pub shared: Vec<(String, String)>,
}

impl CtrOutcome {
    /// The content of `name` in the [`SHARED`] directory at the end, if there was one.
    pub fn shared_file(&self, name: &str) -> Option<&str> {
        self.shared.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str())
    }

    /// stdout parsed as a `guest report`.
    pub fn report(&self) -> Report {
        Report::parse(&self.stdout)
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// stderr lines from nestinit.
    pub fn nestinit_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("nestinit:")).collect()
    }
}

/// A container to start: `ctr` options, then nestinit's own arguments (options and CMD).
pub struct Ctr {
    volume: Option<PathBuf>,
    ctr_args: Vec<OsString>,
    init_args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    shared: bool,
}

impl Ctr {
    /// A container whose /data00 is `rootfs`'s volume.
    pub fn new(rootfs: &Rootfs) -> Ctr {
        Ctr::with_volume(Some(rootfs.path()))
    }

    /// A container with no root volume at all.
    pub fn without_volume() -> Ctr {
        Ctr::with_volume(None)
    }

    fn with_volume(volume: Option<&Path>) -> Ctr {
        Ctr {
            volume: volume.map(Path::to_path_buf),
            ctr_args: Vec::new(),
            init_args: Vec::new(),
            envs: Vec::new(),
            shared: false,
        }
    }

    /// `ctr` options (see tests/helpers/ctr.c).
    pub fn opts<S: AsRef<OsStr>>(mut self, args: &[S]) -> Ctr {
        self.ctr_args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// nestinit's arguments: options, then `--` and the guest's CMD.
    pub fn init<S: AsRef<OsStr>>(mut self, args: &[S]) -> Ctr {
        self.init_args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable for /init (the environment is otherwise just PATH and HOME).
    pub fn env(mut self, name: &str, value: &str) -> Ctr {
        self.envs.push((name.into(), value.into()));
        self
    }

    /// Binds a fresh host directory at [`SHARED`] in the container, which nestinit carries
    /// into the guest: the guest's ready and result markers land there.
    pub fn shared(mut self) -> Ctr {
        self.shared = true;
        self
    }

    pub fn start(self) -> Container {
        super::probe(); // the clean-up path signals through probe
        let ctr = ctr();
        let dir = TempDir::new();
        let scratch = dir.join("root");
        mkdir(&scratch);
        let mut cmd = Command::new(ctr);
        cmd.arg("--init").arg(nestinit());
        cmd.arg("--scratch").arg(&scratch);
        cmd.arg("--pidfile").arg(dir.join("pid"));
        // A private cgroup namespace: a cgroup2 mount made from the initial one resets the
        // host's cgroup2 root flags (nsdelegate, memory_recursiveprot...).
        cmd.arg("--cgroupns");
        if let Some(v) = &self.volume {
            cmd.arg("--volume").arg(v);
        }
        if self.shared {
            let shared = dir.join("shared");
            mkdir(&shared);
            let mut spec = shared.into_os_string();
            spec.push(":");
            spec.push(SHARED);
            cmd.arg("--bind-dir").arg(spec);
        }
        cmd.args(&self.ctr_args).arg("--").args(&self.init_args);
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").env("HOME", "/");
        cmd.envs(self.envs);
        let stdout = std::fs::File::create(dir.join("stdout"));
        let stderr = std::fs::File::create(dir.join("stderr"));
        let (Ok(stdout), Ok(stderr)) = (stdout, stderr) else {
            panic!("creating output files in {}", dir.path().display());
        };
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        let mounts_before = host_mounts();
        let started = Instant::now();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawning ctr: {e}"));
        Container { child: Some(child), dir, pid: None, mounts_before, started }
    }

    /// Starts the container and waits for its end ([`RUN_TIMEOUT`] at most).
    pub fn run(self) -> CtrOutcome {
        self.start().wait()
    }
}

/// A running test container; killed (with its whole PID namespace) if dropped unwaited.
pub struct Container {
    child: Option<Child>,
    dir: TempDir,
    pid: Option<u32>,
    mounts_before: Vec<HostMount>,
    started: Instant,
}

impl Container {
    /// The host PID of the container's /init (nestinit, PID 1 inside).
    pub fn pid(&mut self) -> u32 {
        if let Some(pid) = self.pid {
            return pid;
        }
        let path = self.dir.join("pid");
        let text = super::wait_file(&path);
        let pid = text.trim().parse().unwrap_or_else(|_| panic!("bad pidfile: {text:?}"));
        self.pid = Some(pid);
        pid
    }

    /// The host side of the [`SHARED`] directory.
    pub fn shared_dir(&self) -> PathBuf {
        self.dir.join("shared")
    }

    /// Waits for the guest to write `name` in the shared directory and returns its text;
    /// fails early if the container ends first.
    pub fn wait_shared(&mut self, name: &str) -> String {
        let path = self.shared_dir().join(name);
        let start = Instant::now();
        while !path.exists() {
            if !self.is_running() {
                let out = self.stderr();
                panic!("the container ended before writing {name}; stderr:\n{out}");
            }
            assert!(start.elapsed() < FILE_TIMEOUT, "timed out waiting for {}", path.display());
            std::thread::sleep(Duration::from_millis(5));
        }
        super::read(&path)
    }

    /// Sends `sig` to the container's /init by its host PID.
    pub fn signal(&mut self, sig: i32) {
        let pid = self.pid();
        super::kill(pid, sig);
    }

    /// Waits until the container's /init has exec'd nestinit and waits for signals (before
    /// that, a SIGTERM could kill it by its default action). While nestinit sleeps in
    /// rt_sigtimedwait the kernel shows the waited signals as unblocked in SigBlk, so the
    /// wait channel counts too.
    pub fn wait_blocking(&mut self) {
        let pid = self.pid();
        wait_until("nestinit to wait for signals", FILE_TIMEOUT, || {
            let blocked = super::status_mask(pid, "SigBlk")
                .is_some_and(|m| m & super::bit(super::SIGTERM) != 0);
            let waiting = std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|w| w.contains("sigtimedwait"));
            // Its own name, or one of the states a nested supervisor shows as its name.
            let name = super::status_field(pid, "Name");
            let ours = name.is_some_and(|n| n == "init" || n.starts_with("nestinit:"));
            ours && (blocked || waiting)
        });
    }

    /// Restarts the clock that [`CtrOutcome::elapsed`] reports.
    pub fn mark(&mut self) {
        self.started = Instant::now();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    pub fn wait(self) -> CtrOutcome {
        self.wait_for(RUN_TIMEOUT)
    }

    /// Waits for the end; after `timeout` kills everything and fails the test. Then checks
    /// that the host's mount table is unchanged.
    pub fn wait_for(mut self, timeout: Duration) -> CtrOutcome {
        let deadline = Instant::now() + timeout;
        let status = loop {
            let Some(child) = self.child.as_mut() else {
                panic!("already waited");
            };
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Ok(None) => {
                    self.kill_all();
                    panic!(
                        "the container did not end within {timeout:?}; stderr:\n{}",
                        self.stderr()
                    );
                }
                Err(e) => panic!("waiting for ctr: {e}"),
            }
        };
        let elapsed = self.started.elapsed();
        self.child = None;
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        let (stdout, stderr) = (read("stdout"), read("stderr"));
        let code = status
            .code()
            .unwrap_or_else(|| panic!("ctr was killed by a signal: {status}; stderr:\n{stderr}"));
        assert!(
            !stderr.lines().any(|l| l.starts_with("ctr:")),
            "ctr failed to build the container (exit {code}):\n{stderr}"
        );
        let mut shared: Vec<(String, String)> = std::fs::read_dir(self.shared_dir())
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                        (e.file_name().to_string_lossy().into_owned(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        shared.sort();
        assert_same_mounts(&self.mounts_before, &host_mounts());
        CtrOutcome { code, stdout, stderr, elapsed, shared }
    }

    /// SIGKILLs /init (its namespace dies with it) and ctr, and reaps ctr.
    fn kill_all(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = self.pid.or_else(|| {
            std::fs::read_to_string(self.dir.join("pid")).ok().and_then(|t| t.trim().parse().ok())
        });
        if let Some(pid) = pid {
            kill_quietly(pid, super::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.kill_all();
    }
}
