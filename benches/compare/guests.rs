//! W7–W9: nestinit as the init of a running guest, against the natural baselines.
//!
//! - W7: `/init exec true` into a busybox guest (nestinit nested, PID 1 of a throwaway test
//!   container built by `tests/helpers/ctr.c`) vs `nsenter -t <guest PID> -a true` vs `true`
//!   run directly; and `/init status` (and `status --ready` where supported) per call.
//! - W8: the debootstrap'd systemd guest under Docker: launch → `running`, poweroff → exit,
//!   and memory, nestinit nested vs systemd as the container's own PID 1.
//! - W9: `docker stop` → exit with the same pair (and systemd direct with
//!   `--stop-signal SIGRTMIN+3`).
//!
//! Everything runs in private namespaces: ctr makes its own mount namespace, dockerd runs in
//! one of its own (tests/e2e/dockerd.sh) and the guests' overlays are mounted there.

use super::{cell, med, progress};
use std::fmt::Write as _;
use std::io::BufRead as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SH_GUEST: &str = "trap 'exit 0' TERM; echo up > /guest-ready; sleep 100000 & wait";
const TARGET_EXEC_VS_NSENTER: f64 = 1.2;
const TARGET_LAUNCH_VS_SYSTEMD: f64 = 1.05;
const PATH_ENV: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

pub struct Knobs {
    pub w7_rounds: usize,
    pub w7_calls: usize,
    pub boot_rounds: usize,
    pub boot_timeout: Duration,
    pub install: bool,
}

/// Output of a command: exit code (-1 if killed), stdout, stderr.
fn run(cmd: &mut Command) -> (i32, String, String) {
    match cmd.stdin(Stdio::null()).output() {
        Ok(o) => (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (-1, String::new(), e.to_string()),
    }
}

fn kill(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).stderr(Stdio::null()).status();
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

fn vm_hwm(pid: u32) -> Option<f64> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    super::field(&st, "VmHWM:", 0)
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > timeout {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Median of each contender's per-round medians, ratios within rounds: the table cells.
#[derive(Default)]
struct Series {
    per_round: Vec<f64>,
    ratio: Vec<f64>,
    ratio2: Vec<f64>,
}

// ---- W7 -----------------------------------------------------------------------------------

pub fn w7(
    root: &Path,
    target: &Path,
    nestinit: &Path,
    k: &Knobs,
    notes: &mut Vec<String>,
) -> String {
    match w7_inner(root, target, nestinit, k, notes) {
        Ok(s) => s,
        Err(e) => {
            notes.push(format!("W7: {e}"));
            format!("W7 not run: {e}\n")
        }
    }
}

fn build_ctr(root: &Path, target: &Path) -> Result<PathBuf, String> {
    let dir = target.join("bench-helpers");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = dir.join("ctr");
    let src = root.join("tests/helpers/ctr.c");
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let newest =
        [mtime(&src), mtime(&root.join("tests/helpers/seccomp.h"))].into_iter().flatten().max();
    if mtime(&out).is_some_and(|t| newest.is_some_and(|s| t >= s)) {
        return Ok(out);
    }
    let (rc, _, err) = run(Command::new("gcc").args(["-static", "-O2", "-o"]).arg(&out).arg(&src));
    if rc != 0 {
        return Err(format!("gcc tests/helpers/ctr.c: {err}"));
    }
    Ok(out)
}

fn w7_inner(
    root: &Path,
    target: &Path,
    nestinit: &Path,
    k: &Knobs,
    notes: &mut Vec<String>,
) -> Result<String, String> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().find(|p| Path::new(p).exists());
    let busybox = match busybox {
        Some(b) => b,
        None if k.install => {
            let _ = run(Command::new("apt-get").args(["install", "-y", "busybox-static"]));
            "/bin/busybox"
        }
        None => return Err("no busybox (apt-get install busybox-static)".into()),
    };
    let ctr = build_ctr(root, target)?;
    let work = target.join("bench-w7");
    let _ = std::fs::remove_dir_all(&work);
    let vol = work.join("vol");
    let scratch = work.join("root");
    for d in [vol.join("bin"), scratch.clone()] {
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::copy(busybox, vol.join("bin/busybox")).map_err(|e| format!("busybox: {e}"))?;
    for applet in ["sh", "true", "sleep"] {
        std::os::unix::fs::symlink("busybox", vol.join("bin").join(applet))
            .map_err(|e| e.to_string())?;
    }
    let pidfile = work.join("pid");
    let file = |n: &str| std::fs::File::create(work.join(n)).map_err(|e| e.to_string());
    let mut cmd = Command::new(&ctr);
    cmd.arg("--init").arg(nestinit).arg("--scratch").arg(&scratch).arg("--pidfile").arg(&pidfile);
    cmd.arg("--cgroupns").arg("--volume").arg(&vol);
    cmd.args(["--", "--", "/bin/sh", "-c", SH_GUEST]);
    cmd.env_clear().env("PATH", PATH_ENV).env("HOME", "/");
    cmd.stdin(Stdio::null()).stdout(file("ctr.out")?).stderr(file("ctr.err")?);
    progress("W7: starting a busybox guest under nestinit (tests/helpers/ctr.c)");
    let mut child = cmd.spawn().map_err(|e| format!("ctr: {e}"))?;
    let result = w7_measure(&mut child, &pidfile, &vol, k, notes);
    // Clean stop: SIGTERM to ctr, which forwards it to /init; the guest's trap exits 0.
    kill(child.id(), "-TERM");
    let start = Instant::now();
    let mut ended = None;
    while start.elapsed() < Duration::from_secs(15) {
        if let Ok(Some(st)) = child.try_wait() {
            ended = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    match ended {
        Some(st) if st.success() => {}
        Some(st) => notes.push(format!("W7: the container ended with {st}")),
        None => {
            // SIGKILL to ctr: /init dies with it (PR_SET_PDEATHSIG), and its namespace.
            let _ = child.kill();
            let _ = child.wait();
            notes.push("W7: the container did not stop within 15 s: killed".into());
        }
    }
    let err = std::fs::read_to_string(work.join("ctr.err")).unwrap_or_default();
    for l in err.lines().filter(|l| l.starts_with("ctr:")).take(3) {
        notes.push(format!("W7: {l}"));
    }
    result
}

fn w7_measure(
    child: &mut Child,
    pidfile: &Path,
    vol: &Path,
    k: &Knobs,
    notes: &mut Vec<String>,
) -> Result<String, String> {
    let timeout = Duration::from_secs(20);
    let mut alive = || matches!(child.try_wait(), Ok(None));
    wait_for("the guest", timeout, || vol.join("guest-ready").exists() || !alive())?;
    if !alive() {
        return Err("the container ended before its guest was up".into());
    }
    let init: u32 = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or("no pidfile")?;
    let guest = children(init).into_iter().find(|&p| comm(p) == "sh").ok_or("no guest sh")?;
    let (ip, gp) = (init.to_string(), guest.to_string());
    let direct = vol.join("bin/true").display().to_string();
    let at_init = |args: &[&str]| {
        let mut v: Vec<String> =
            ["nsenter", "-t", &ip, "-m", "-p", "--", "/init"].map(String::from).into();
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    // status --ready: supported when it does not exit 2 (usage error).
    let ready_argv = at_init(&["status", "--ready"]);
    let (rc, _, err) = run(Command::new("nsenter").args(ready_argv.iter().skip(1)));
    let ready_note = if rc == 2 {
        Some(format!(
            "not supported by this binary (exit 2: {})",
            err.lines().next().unwrap_or("").trim()
        ))
    } else {
        None
    };
    let mut rows: Vec<(String, Vec<String>)> = vec![
        ("`nsenter -t CTR -m -p -- /init exec true`".into(), at_init(&["exec", "true"])),
        (
            "`nsenter -t GUEST -a true`".to_string(),
            ["nsenter", "-t", &gp, "-a", "true"].map(String::from).into(),
        ),
        ("`true` directly (the guest's busybox, on the host)".into(), vec![direct]),
        ("`nsenter -t CTR -m -p -- /init status`".into(), at_init(&["status"])),
    ];
    if ready_note.is_none() {
        rows.push(("`nsenter -t CTR -m -p -- /init status --ready`".into(), ready_argv));
    }
    let call = |argv: &[String]| -> (Duration, i32, String) {
        let mut c = Command::new(argv.first().map_or("", String::as_str));
        c.args(argv.iter().skip(1)).env_clear().env("PATH", PATH_ENV);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        // SAFETY: a no-op hook: std forks and execs instead of posix_spawn (see capture()).
        unsafe {
            c.pre_exec(|| Ok(()));
        }
        let t = Instant::now();
        match c.output() {
            Ok(o) => (
                t.elapsed(),
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            ),
            Err(e) => (t.elapsed(), -1, e.to_string()),
        }
    };
    for (_, argv) in &rows {
        for _ in 0..5 {
            let _ = call(argv);
        }
    }
    let n = rows.len();
    let mut series: Vec<Series> = (0..n).map(|_| Series::default()).collect();
    for round in 0..k.w7_rounds {
        progress(&format!("W7 round {}/{}: {} calls of each", round + 1, k.w7_rounds, k.w7_calls));
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
        for call_no in 0..k.w7_calls {
            for j in 0..n {
                let i = (j + call_no + round) % n;
                let Some((label, argv)) = rows.get(i) else { continue };
                let (t, rc, err) = call(argv);
                if rc != 0 || !err.trim().is_empty() {
                    let msg = format!(
                        "W7 {label}: exit {rc}: {}",
                        err.lines().next().unwrap_or("").trim()
                    );
                    if !notes.contains(&msg) && notes.len() < 20 {
                        notes.push(msg);
                    }
                }
                if let Some(s) = samples.get_mut(i) {
                    s.push(t.as_secs_f64() * 1e6);
                }
            }
        }
        let m: Vec<Option<f64>> = samples.iter_mut().map(|s| super::median(s)).collect();
        let get = |i: usize| m.get(i).copied().flatten();
        for (i, s) in series.iter_mut().enumerate() {
            let Some(v) = get(i) else { continue };
            s.per_round.push(v);
            if let Some(b) = get(1) {
                s.ratio.push(v / b);
            }
            if let Some(b) = get(2) {
                s.ratio2.push(v / b);
            }
        }
    }
    let mut s = String::new();
    let _ = writeln!(s, "| W7 one call from the host, into a running busybox guest | µs per call | × `nsenter -a` | × direct | target |");
    let _ = writeln!(s, "|---|---:|---:|---:|---|");
    for (i, ((label, _), ser)) in rows.iter().zip(&series).enumerate() {
        let target = if i == 0 {
            let ok = med(&ser.ratio).is_some_and(|r| r <= TARGET_EXEC_VS_NSENTER);
            format!("≤ 1.2× nsenter {}", if ok { "✓" } else { "✗" })
        } else {
            String::new()
        };
        let r1 = if i == 1 { "1".into() } else { cell(&ser.ratio, 2) };
        let r2 = if i == 2 { "1".into() } else { cell(&ser.ratio2, 2) };
        let _ = writeln!(s, "| {label} | {} | {r1} | {r2} | {target} |", cell(&ser.per_round, 0));
    }
    if let Some(why) = ready_note {
        let _ = writeln!(s, "| `/init status --ready` | skipped: {why} | | | |");
    }
    Ok(s)
}

// ---- W8 and W9 ----------------------------------------------------------------------------

/// A private dockerd (tests/e2e/dockerd.sh), stopped when dropped.
struct Docker {
    dir: PathBuf,
    pid: u32,
    watcher: Option<Child>,
}

impl Docker {
    fn start(root: &Path, dir: &Path) -> Result<Docker, String> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let err = std::fs::File::create(dir.join("dockerd.sh.err")).map_err(|e| e.to_string())?;
        let mut w = Command::new("bash")
            .arg(root.join("tests/e2e/dockerd.sh"))
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("dockerd.sh: {e}"))?;
        let mut line = String::new();
        if let Some(out) = w.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        let pid = line.strip_prefix("ready ").and_then(|p| p.trim().parse().ok());
        let d = Docker { dir: dir.to_path_buf(), pid: pid.unwrap_or(0), watcher: Some(w) };
        if pid.is_none() {
            let why = std::fs::read_to_string(dir.join("dockerd.sh.err")).unwrap_or_default();
            return Err(format!("dockerd.sh did not get ready: {why}"));
        }
        Ok(d)
    }

    fn cmd(&self) -> Command {
        let cli = if Path::new("/usr/bin/docker").exists() { "/usr/bin/docker" } else { "docker" };
        let mut c = Command::new(cli);
        c.env("DOCKER_HOST", format!("unix://{}", self.dir.join("docker.sock").display()));
        c.env("DOCKER_CONFIG", self.dir.join("client")).env("DOCKER_BUILDKIT", "0");
        c
    }

    fn docker(&self, args: &[&str]) -> (i32, String, String) {
        run(self.cmd().args(args))
    }

    /// A command in dockerd's mount namespace (where the overlays of nestinit's guests live).
    fn in_ns(&self, args: &[&str]) -> (i32, String, String) {
        run(Command::new("nsenter").args(["-t", &self.pid.to_string(), "-m", "--"]).args(args))
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        if let Some(mut w) = self.watcher.take() {
            drop(w.stdin.take()); // dockerd.sh removes every container and stops dockerd
            let start = Instant::now();
            while matches!(w.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(90) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = w.kill();
            let _ = w.wait();
        }
        // Shims of this daemon still alive (their command line names its socket): killed by PID.
        let needle = self.dir.display().to_string();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                kill(pid, "-KILL");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Who {
    Nestinit,
    Systemd,
    /// systemd direct with `--stop-signal SIGRTMIN+3`.
    SystemdRt,
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    Poweroff,
    Stop,
}

#[derive(Default)]
struct Boot {
    launch_s: Option<f64>,
    end_s: Option<f64>,
    exit: Option<i32>,
    hwm_pid1: Option<f64>,
    hwm_systemd: Option<f64>,
    cg_mib: Option<f64>,
    cg_rss_mib: Option<f64>,
}

/// The memory cgroup directory of container `id` (v1 memory hierarchy, or v2).
fn memory_cgroup(id: &str) -> Option<PathBuf> {
    let roots = [PathBuf::from("/sys/fs/cgroup/memory"), PathBuf::from("/sys/fs/cgroup")];
    let mut stack: Vec<(PathBuf, usize)> = roots
        .into_iter()
        .filter(|r| r.join("cgroup.procs").exists())
        .take(1)
        .map(|r| (r, 0))
        .collect();
    while let Some((d, depth)) = stack.pop() {
        if d.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(id)) {
            return Some(d);
        }
        if depth < 4 {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push((e.path(), depth + 1));
                }
            }
        }
    }
    None
}

fn cgroup_memory(dir: &Path) -> (Option<f64>, Option<f64>) {
    let num = |f: &str| {
        std::fs::read_to_string(dir.join(f)).ok().and_then(|t| t.trim().parse::<f64>().ok())
    };
    let stat = std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
    let mib = |v: f64| v / 1048576.0;
    let usage = num("memory.usage_in_bytes").or_else(|| num("memory.current")).map(mib);
    let rss =
        super::field(&stat, "total_rss ", 0).or_else(|| super::field(&stat, "anon ", 0)).map(mib);
    (usage, rss)
}

pub fn w8_w9(
    root: &Path,
    target: &Path,
    nestinit: &Path,
    k: &Knobs,
    notes: &mut Vec<String>,
) -> String {
    match w8_w9_inner(root, target, nestinit, k, notes) {
        Ok(s) => s,
        Err(e) => {
            notes.push(format!("W8/W9: {e}"));
            format!("W8/W9 not run: {e}\n")
        }
    }
}

fn w8_w9_inner(
    root: &Path,
    target: &Path,
    nestinit: &Path,
    k: &Knobs,
    notes: &mut Vec<String>,
) -> Result<String, String> {
    if k.install {
        let (rc, _, err) = run(Command::new("bash").arg(root.join("tests/e2e/setup.sh")));
        if rc != 0 {
            notes.push(format!("W8: tests/e2e/setup.sh: {}", err.trim()));
        }
    }
    let rootfs = target.join("e2e/rootfs");
    progress("W8: the systemd rootfs (tests/e2e/rootfs.sh, cached)");
    let (rc, _, err) = run(Command::new("bash").arg(root.join("tests/e2e/rootfs.sh")).arg(&rootfs));
    if rc != 0 {
        return Err(format!("tests/e2e/rootfs.sh: {}", err.trim()));
    }
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| e.to_string())?;
    progress("W8: a private dockerd (tests/e2e/dockerd.sh)");
    let dir = std::fs::canonicalize(target).map_err(|e| e.to_string())?.join("bench-docker");
    let d = Docker::start(root, &dir)?;
    // The images: nestinit's (the Dockerfile) and the rootfs itself for systemd direct.
    let ctx = dir.join("context");
    std::fs::create_dir_all(ctx.join("target/release")).map_err(|e| e.to_string())?;
    std::fs::copy(root.join("Dockerfile"), ctx.join("Dockerfile")).map_err(|e| e.to_string())?;
    std::fs::copy(nestinit, ctx.join("target/release/nestinit")).map_err(|e| e.to_string())?;
    let (rc, _, err) =
        d.docker(&["build", "-q", "-t", "nestinit-bench", &ctx.display().to_string()]);
    if rc != 0 {
        return Err(format!("docker build: {err}"));
    }
    progress("W8: docker import of the rootfs (systemd direct)");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("tar: {e}"))?;
    let mut tar = tar;
    let import = d
        .cmd()
        .args(["import", "-", "nestinit-bench-systemd"])
        .stdin(tar.stdout.take().map_or(Stdio::null(), Stdio::from))
        .output()
        .map_err(|e| format!("docker import: {e}"))?;
    let _ = tar.wait();
    if !import.status.success() {
        return Err(format!("docker import: {}", String::from_utf8_lossy(&import.stderr)));
    }
    let plan = [
        (Who::Nestinit, End::Poweroff),
        (Who::Systemd, End::Poweroff),
        (Who::Nestinit, End::Stop),
        (Who::Systemd, End::Stop),
        (Who::SystemdRt, End::Stop),
    ];
    let mut boots: Vec<Vec<(Who, End, Boot)>> = Vec::new();
    let mut n = 0;
    for round in 0..k.boot_rounds {
        progress(&format!("W8/W9 round {}/{}: 5 boots", round + 1, k.boot_rounds));
        let mut this = Vec::new();
        for j in 0..plan.len() {
            let Some(&(who, end)) = plan.get((j + round) % plan.len()) else { continue };
            n += 1;
            match boot(&d, &rootfs, who, end, n, k, notes) {
                Ok(b) => this.push((who, end, b)),
                Err(e) => {
                    if notes.len() < 20 {
                        notes.push(format!("W8/W9 boot {n}: {e}"));
                    }
                }
            }
        }
        boots.push(this);
    }
    drop(d);
    Ok(w8_w9_report(&boots))
}

fn boot(
    d: &Docker,
    rootfs: &Path,
    who: Who,
    end: End,
    n: usize,
    k: &Knobs,
    notes: &mut Vec<String>,
) -> Result<Boot, String> {
    let name = format!("nestinit-bench-{}-{n}", std::process::id());
    let guest_dir = d.dir.join("guests").join(n.to_string());
    let merged = guest_dir.join("root");
    if who == Who::Nestinit {
        for s in ["upper", "work", "root"] {
            std::fs::create_dir_all(guest_dir.join(s)).map_err(|e| e.to_string())?;
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            rootfs.display(),
            guest_dir.join("upper").display(),
            guest_dir.join("work").display()
        );
        let (rc, _, err) = d.in_ns(&[
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            &opts,
            &merged.display().to_string(),
        ]);
        if rc != 0 {
            return Err(format!("overlay: {err}"));
        }
    }
    let mut args: Vec<String> =
        ["run", "-d", "-t", "--name", &name, "--label"].map(String::from).into();
    args.push(format!("nestinit-bench={}", std::process::id()));
    if who == Who::SystemdRt {
        args.extend(["--stop-signal".into(), "SIGRTMIN+3".into()]);
    }
    for a in ["--cap-add", "SYS_ADMIN", "--cap-add", "SYS_BOOT", "--cgroupns=private"] {
        args.push(a.into());
    }
    for t in ["/run", "/run/lock", "/tmp"] {
        args.extend(["--tmpfs".into(), t.into()]);
    }
    if std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y")
    {
        args.extend(["--security-opt".into(), "apparmor=unconfined".into()]);
    }
    match who {
        Who::Nestinit => args.extend([
            "-v".into(),
            format!("{}:/data00", merged.display()),
            "nestinit-bench".into(),
        ]),
        _ => args.extend(["nestinit-bench-systemd".into(), "/sbin/init".into()]),
    }
    let result = boot_measure(d, &name, who, end, &args, k);
    let (_, logs, _) = d.docker(&["logs", "--tail", "5", &name]);
    if result.is_err() {
        for l in logs.lines().take(5) {
            notes.push(format!("W8/W9 boot {n} log: {}", l.trim()));
        }
    }
    let _ = d.docker(&["rm", "-f", "-v", &name]);
    if who == Who::Nestinit {
        let _ = d.in_ns(&["umount", "-l", &merged.display().to_string()]);
        let _ = std::fs::remove_dir_all(&guest_dir);
    }
    result
}

fn boot_measure(
    d: &Docker,
    name: &str,
    who: Who,
    end: End,
    args: &[String],
    k: &Knobs,
) -> Result<Boot, String> {
    let mut b = Boot::default();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let (rc, _, err) = d.docker(&args);
    if rc != 0 {
        return Err(format!("docker run: {}", err.trim()));
    }
    let (_, pid, _) = d.docker(&["inspect", "-f", "{{.State.Pid}}", name]);
    let pid: u32 = pid.trim().parse().map_err(|_| format!("no pid: {pid:?}"))?;
    let mut sd = if who == Who::Nestinit { 0 } else { pid };
    wait_for("the guest's systemd", k.boot_timeout, || {
        if sd == 0 {
            sd = children(pid).into_iter().find(|&c| comm(c) == "systemd").unwrap_or(0);
        }
        sd != 0 || !Path::new(&format!("/proc/{pid}")).exists()
    })?;
    let sdp = sd.to_string();
    let nsenter = |extra: &[&str]| {
        let mut c = Command::new("nsenter");
        c.args(["-t", &sdp, "-a", "--"]).args(extra).env_clear().env("PATH", PATH_ENV);
        run(&mut c)
    };
    loop {
        let (_, out, _) = nsenter(&["systemctl", "is-system-running", "--wait"]);
        let last = out.trim().to_string();
        if last == "running" {
            break;
        }
        if ["degraded", "maintenance", "stopping"].contains(&last.as_str()) {
            return Err(format!("the guest is {last}"));
        }
        if t0.elapsed() > k.boot_timeout || !Path::new(&format!("/proc/{pid}")).exists() {
            return Err(format!("not running (last answer {last:?})"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    b.launch_s = Some(t0.elapsed().as_secs_f64());
    b.hwm_pid1 = vm_hwm(pid);
    if who == Who::Nestinit {
        b.hwm_systemd = vm_hwm(sd);
    }
    let (_, id, _) = d.docker(&["inspect", "-f", "{{.Id}}", name]);
    if let Some(cg) = memory_cgroup(id.trim()) {
        (b.cg_mib, b.cg_rss_mib) = cgroup_memory(&cg);
    }
    let t1;
    match end {
        End::Poweroff => {
            let mut wait = d
                .cmd()
                .args(["wait", name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("docker wait: {e}"))?;
            std::thread::sleep(Duration::from_millis(300));
            t1 = Instant::now();
            let _ = nsenter(&["systemctl", "poweroff"]);
            let _ = wait.wait();
        }
        End::Stop => {
            t1 = Instant::now();
            let (rc, _, err) = d.docker(&["stop", name]);
            if rc != 0 {
                return Err(format!("docker stop: {}", err.trim()));
            }
        }
    }
    b.end_s = Some(t1.elapsed().as_secs_f64());
    let (_, code, _) = d.docker(&["inspect", "-f", "{{.State.ExitCode}}", name]);
    b.exit = code.trim().parse().ok();
    Ok(b)
}

fn w8_w9_report(rounds: &[Vec<(Who, End, Boot)>]) -> String {
    let who_all = [Who::Nestinit, Who::Systemd, Who::SystemdRt];
    let idx = |w: Who| who_all.iter().position(|x| *x == w).unwrap_or(0);
    // Per round: median launch per contender (systemd+RT counts as systemd direct for W8),
    // the end times; ratios nestinit ÷ systemd within the round.
    let mut launch: [Series; 2] = Default::default();
    let mut off: [Series; 2] = Default::default();
    let mut stop: [Series; 3] = Default::default();
    let mut mem: [[Vec<f64>; 4]; 2] = Default::default();
    let mut codes: [[Vec<i32>; 2]; 3] = Default::default();
    for r in rounds {
        let mut l: [Vec<f64>; 2] = Default::default();
        let mut o: [Option<f64>; 2] = [None; 2];
        let mut s: [Option<f64>; 3] = [None; 3];
        for (who, end, b) in r {
            let w2 = if *who == Who::Nestinit { 0 } else { 1 };
            if let (Some(v), Some(slot)) = (b.launch_s, l.get_mut(w2)) {
                slot.push(v);
            }
            if let Some(m) = mem.get_mut(w2) {
                for (slot, v) in
                    m.iter_mut().zip([b.hwm_pid1, b.hwm_systemd, b.cg_mib, b.cg_rss_mib])
                {
                    slot.extend(v);
                }
            }
            let e = if *end == End::Poweroff { 0 } else { 1 };
            if let Some(c) = codes.get_mut(idx(*who)).and_then(|c| c.get_mut(e)) {
                c.extend(b.exit);
            }
            match end {
                End::Poweroff => {
                    if let Some(slot) = o.get_mut(w2) {
                        *slot = b.end_s;
                    }
                }
                End::Stop => {
                    if let Some(slot) = s.get_mut(idx(*who)) {
                        *slot = b.end_s;
                    }
                }
            }
        }
        let lm: Vec<Option<f64>> = l.iter().map(|v| med(v)).collect();
        let fill = |series: &mut [Series], vals: &[Option<f64>]| {
            let base = vals.get(1).copied().flatten();
            for (ser, v) in series.iter_mut().zip(vals) {
                let Some(v) = *v else { continue };
                ser.per_round.push(v);
                if let Some(b) = base {
                    ser.ratio.push(v / b);
                }
            }
        };
        fill(&mut launch, &lm);
        fill(&mut off, &o);
        fill(&mut stop, &s);
    }
    let code_cell = |w: usize, e: usize| {
        let mut c: Vec<i32> = codes.get(w).and_then(|c| c.get(e)).cloned().unwrap_or_default();
        c.sort_unstable();
        c.dedup();
        c.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
    };
    let g = |a: &[Series], i: usize, f: fn(&Series) -> &Vec<f64>, d: usize| {
        a.get(i).map_or("—".into(), |s| cell(f(s), d))
    };
    let pr: fn(&Series) -> &Vec<f64> = |s| &s.per_round;
    let ra: fn(&Series) -> &Vec<f64> = |s| &s.ratio;
    let memc = |w: usize, k: usize, d: usize| {
        mem.get(w).and_then(|m| m.get(k)).map_or("—".into(), |v| cell(v, d))
    };
    let launch_ok =
        launch.first().and_then(|s| med(&s.ratio)).is_some_and(|r| r <= TARGET_LAUNCH_VS_SYSTEMD);
    let stop_ok = stop.first().and_then(|s| med(&s.ratio)).is_some_and(|r| r <= 1.0);
    let mark = |ok: bool| if ok { "✓" } else { "✗" };
    let mut s = String::new();
    let _ = writeln!(s, "| W8/W9: the systemd guest under Docker | nestinit nested | systemd direct | nestinit ÷ systemd | target |");
    let _ = writeln!(s, "|---|---:|---:|---:|---|");
    let _ = writeln!(
        s,
        "| W8 launch → `running` (s) | {} | {} | {} | ≤ 1.05 {} |",
        g(&launch, 0, pr, 2),
        g(&launch, 1, pr, 2),
        g(&launch, 0, ra, 3),
        mark(launch_ok)
    );
    let _ = writeln!(
        s,
        "| W8 `systemctl poweroff` → container exit (s) | {} | {} | {} | |",
        g(&off, 0, pr, 2),
        g(&off, 1, pr, 2),
        g(&off, 0, ra, 2)
    );
    let _ = writeln!(
        s,
        "| W8 exit code after poweroff | {} | {} | | |",
        code_cell(0, 0),
        code_cell(1, 0)
    );
    let _ = writeln!(
        s,
        "| W8 PID-1 VmHWM at `running` (KiB) | {} (nestinit) | {} (systemd) | | |",
        memc(0, 0, 0),
        memc(1, 0, 0)
    );
    let _ = writeln!(
        s,
        "| W8 the guest's systemd VmHWM (KiB) | {} | {} (PID 1) | | |",
        memc(0, 1, 0),
        memc(1, 0, 0)
    );
    let _ = writeln!(
        s,
        "| W8 container memory cgroup at `running`, usage (MiB) | {} | {} | | |",
        memc(0, 2, 1),
        memc(1, 2, 1)
    );
    let _ = writeln!(
        s,
        "| W8 container memory cgroup at `running`, rss (MiB) | {} | {} | | |",
        memc(0, 3, 1),
        memc(1, 3, 1)
    );
    let _ = writeln!(
        s,
        "| W9 `docker stop` (SIGTERM) → exit (s) | {} | {} | {} | ≤ 1 {} |",
        g(&stop, 0, pr, 2),
        g(&stop, 1, pr, 2),
        g(&stop, 0, ra, 2),
        mark(stop_ok)
    );
    let _ = writeln!(
        s,
        "| W9 exit code after `docker stop` | {} | {} | | |",
        code_cell(0, 1),
        code_cell(1, 1)
    );
    let _ = writeln!(
        s,
        "| W9 `docker stop` → exit, systemd direct with `--stop-signal SIGRTMIN+3` (s) | | {} (exit {}) | {} | |",
        g(&stop, 2, pr, 2),
        code_cell(2, 1),
        {
            // nestinit ÷ this row, within the round
            let mut r = Vec::new();
            if let (Some(a), Some(b)) = (stop.first(), stop.get(2)) {
                for (x, y) in a.per_round.iter().zip(&b.per_round) {
                    r.push(x / y);
                }
            }
            cell(&r, 2)
        }
    );
    s
}
