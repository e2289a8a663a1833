//! `cargo bench --bench compare` (harness = false): nestinit against the inits people use today.
//!
//! Every init runs as PID 1 of a fresh PID namespace (the `pidns1` helper, or `sigping` for
//! W3) with a small static C workload as its command. The inits are alternated in this one
//! process — launch by launch (W1), ping by ping (W3), run by run with a rotating start (W2) —
//! so a noisy neighbour hits every init alike and the ratios computed within a round hold. See
//! `benches/README.md` for what each workload measures, how, and the environment variables.
//!
//! Output: a markdown report on stdout and in `target/bench/report.md`.
//!
//! Std only. Needs root (namespaces, mounting /proc in a private mount namespace), gcc with a
//! static libc (the helpers), and apt-get to install missing peers and strace.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[path = "compare/guests.rs"]
mod guests;

/// Where an init comes from.
#[derive(Clone, Copy)]
enum Exe {
    /// No init: the baseline. The workload itself is PID 1 (W1, W4), the kernel autoreaps
    /// (W2), the signal goes straight to the target (W3).
    None,
    /// This crate's binary.
    Nestinit,
    /// A system binary and the Debian package that provides it.
    System { path: &'static str, package: &'static str },
}

/// One row of the comparison: how to run CMD under this init.
struct Init {
    name: &'static str,
    exe: Exe,
    /// Arguments between the init and CMD.
    args: &'static [&'static str],
    /// Extra environment for the init.
    env: &'static [(&'static str, &'static str)],
}

/// In an init's arguments: the guest root directory (`target/bench-guest`), which makes the
/// entry a nested one: the workload programs are copied into that directory at the absolute
/// paths they have on the host, the init gets its own mount namespace with / rprivate (`+ns`
/// for pidns1 and sigping), and the command runs as PID 1 of the guest's namespaces.
const GUEST: &str = "{guest}";

/// The inits compared, in report order. Adding one is adding an entry. Nestinit entries are
/// checked against the targets below.
const INITS: &[Init] = &[
    Init { name: "none", exe: Exe::None, args: &[], env: &[] },
    Init { name: "nestinit child", exe: Exe::Nestinit, args: &["--mode", "child", "--"], env: &[] },
    // Nested mode booting the guest directory: `-q` keeps its lifecycle lines off stderr.
    Init {
        name: "nestinit nested",
        exe: Exe::Nestinit,
        args: &["--mode", "nested", "--root", GUEST, "-q", "--"],
        env: &[],
    },
    Init {
        name: "tini-static",
        exe: Exe::System { path: "/usr/bin/tini-static", package: "tini" },
        args: &["--"],
        env: &[],
    },
    Init {
        name: "catatonit",
        exe: Exe::System { path: "/usr/bin/catatonit", package: "catatonit" },
        args: &["--"],
        env: &[],
    },
    Init {
        name: "dumb-init",
        exe: Exe::System { path: "/usr/bin/dumb-init", package: "dumb-init" },
        args: &["--"],
        env: &[],
    },
];

/// The init whose startup overhead is the yardstick of the startup target.
const REFERENCE: &str = "tini-static";

// Targets for nestinit (the promise).
const TARGET_SIZE: u64 = 16_384;
const TARGET_HWM_KIB: f64 = 32.0;
const TARGET_STARTUP_VS_REF: f64 = 0.3;
const TARGET_REAP_RATIO: f64 = 1.05;
const TARGET_FORWARD_RATIO: f64 = 1.5;
const TARGET_SYSCALLS: f64 = 15.0;

const HELPERS: &[&str] = &["pidns1", "true", "hwm", "exitwith", "autoreap", "orphans", "sigping"];

/// Counts and switches, all overridable from the environment (documented in the README).
struct Settings {
    rounds: usize,
    launches: usize,
    pings: usize,
    burst: usize,
    orphans: usize,
    orphan_rounds: usize,
    orphan_timeout_ms: usize,
    mem_runs: usize,
    strace_runs: usize,
    filter: Option<String>,
    install: bool,
    /// `BENCH_WORKLOADS`: lower-case names (w1..w9, mem) to run; None: all.
    workloads: Option<Vec<String>>,
    w7_rounds: usize,
    w7_calls: usize,
    boot_rounds: usize,
    boot_timeout_s: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let num = |name: &str, default: usize| {
            std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
        };
        Settings {
            rounds: num("BENCH_ROUNDS", 10).max(1),
            launches: num("BENCH_LAUNCHES", 100).max(1),
            pings: num("BENCH_PINGS", 5000).max(1),
            burst: num("BENCH_BURST", 1000),
            orphans: num("BENCH_ORPHANS", 20_000),
            orphan_rounds: num("BENCH_ORPHAN_ROUNDS", 3),
            orphan_timeout_ms: num("BENCH_ORPHAN_TIMEOUT_MS", 30_000),
            mem_runs: num("BENCH_MEM_RUNS", 5),
            strace_runs: num("BENCH_STRACE_RUNS", 3),
            filter: std::env::var("BENCH_INITS").ok().filter(|s| !s.is_empty()),
            install: std::env::var("BENCH_NO_INSTALL").map_or(true, |v| v.is_empty() || v == "0"),
            workloads: std::env::var("BENCH_WORKLOADS").ok().filter(|s| !s.trim().is_empty()).map(
                |s| {
                    s.split(',')
                        .map(|w| w.trim().to_lowercase())
                        .filter(|w| !w.is_empty())
                        .collect()
                },
            ),
            w7_rounds: num("BENCH_W7_ROUNDS", 5).max(1),
            w7_calls: num("BENCH_W7_CALLS", 60).max(1),
            boot_rounds: num("BENCH_BOOT_ROUNDS", 5).max(1),
            boot_timeout_s: num("BENCH_BOOT_TIMEOUT_S", 120).max(1),
        }
    }

    /// Whether workload `w` (`w1`..`w9`, `mem`) is selected by `BENCH_WORKLOADS`.
    fn wants(&self, w: &str) -> bool {
        self.workloads.as_ref().map_or(true, |l| l.iter().any(|x| x == w))
    }

    /// Whether any of W1–W6 (the init comparison) is selected.
    fn wants_inits(&self) -> bool {
        ["w1", "w2", "w3", "w4", "w5", "w6", "mem"].iter().any(|w| self.wants(w))
    }
}

impl Init {
    /// Whether the init boots a guest from [`GUEST`] (its command is the guest's PID 1).
    fn nested(&self) -> bool {
        self.args.contains(&GUEST)
    }
}

/// An init ready to run: its spec and resolved binary (None for the baseline).
struct Ready {
    spec: &'static Init,
    bin: Option<PathBuf>,
    /// The spec's arguments with [`GUEST`] resolved.
    args: Vec<String>,
}

impl Ready {
    fn is_baseline(&self) -> bool {
        self.bin.is_none()
    }

    fn nested(&self) -> bool {
        self.spec.nested()
    }

    /// `INIT ARGS... CMD...` (just `CMD...` for the baseline), after `+ns` for a nested init
    /// (pidns1 and sigping then give it a mount namespace of its own, / rprivate).
    fn argv(&self, cmd: &[String]) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(bin) = &self.bin {
            if self.nested() {
                v.push("+ns".into());
            }
            v.push(bin.display().to_string());
            v.extend(self.args.iter().cloned());
        }
        v.extend(cmd.iter().cloned());
        v
    }
}

/// What one helper run printed.
struct RunOut {
    stdout: String,
    ok: bool,
}

/// Per-init results, one value per round (or run) in each vector.
#[derive(Default)]
struct Results {
    w1_us: Vec<f64>,
    w1_ratio: Vec<f64>,
    w1_over_us: Vec<f64>,
    w1_over_vs_ref: Vec<f64>,
    hwm_kib: Vec<f64>,
    w2_ms: Vec<f64>,
    w2_ratio: Vec<f64>,
    w2_left: Vec<f64>,
    w2_cpu_us: Vec<f64>,
    w3_us: Vec<f64>,
    w3_ratio: Vec<f64>,
    w3_burst: Vec<f64>,
    w6_calls: Vec<f64>,
    w6_names: BTreeMap<String, usize>,
    w4: Vec<String>,
    size: Option<u64>,
    linking: String,
    /// Failures and unexpected stderr output, deduplicated.
    notes: Vec<String>,
}

impl Results {
    fn note(&mut self, what: &str, text: &str) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()).take(3) {
            let n = format!("{what}: {line}");
            if !self.notes.contains(&n) && self.notes.len() < 12 {
                self.notes.push(n);
            }
        }
    }
}

struct Bench {
    root: PathBuf,
    target: PathBuf,
    helpers: PathBuf,
    /// The guest root of nested inits.
    guest: PathBuf,
    set: Settings,
    inits: Vec<Ready>,
    res: Vec<Results>,
    /// Notes of runs that drive every init at once.
    general: Results,
    skipped: Vec<String>,
}

fn main() {
    // `cargo bench` passes `--bench` (and maybe a filter): nothing to do with them.
    if let Err(e) = run() {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let root = option_env!("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .ok_or("cannot find the project directory")?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let helpers = target.join("bench-helpers");
    let guest = target.join("bench-guest");
    let mut b = Bench {
        root,
        target,
        helpers,
        guest,
        set: Settings::from_env(),
        inits: Vec::new(),
        res: Vec::new(),
        general: Results::default(),
        skipped: Vec::new(),
    };
    let mut report = String::new();
    if b.set.wants_inits() {
        b.prepare()?;
        if b.set.wants("w5") {
            b.static_facts();
        }
        if b.set.wants("w4") {
            b.exit_statuses();
        }
        if b.set.wants("w6") {
            b.syscalls();
        }
        if ["w1", "w3", "mem"].iter().any(|w| b.set.wants(w)) {
            b.timed_rounds();
        }
        if b.set.wants("w2") {
            b.orphan_rounds();
        }
        report = b.report();
    } else if !is_root() {
        return Err("run as root: namespaces and /proc mounts need it".into());
    } else {
        let _ = writeln!(report, "# nestinit compared with the inits in use today\n");
        let _ = writeln!(report, "{}\n", machine());
    }
    if ["w7", "w8", "w9"].iter().any(|w| b.set.wants(w)) {
        report.push_str(&b.guest_workloads()?);
    }
    let dir = b.target.join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("report.md");
    std::fs::write(&path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
    print!("{report}");
    eprintln!("compare: report written to {}", path.display());
    Ok(())
}

fn progress(msg: &str) {
    eprintln!("compare: {msg}");
}

/// Runs a command to completion, capturing stdout and stderr.
fn capture(argv: &[String], env: &[(&str, &str)]) -> Result<(RunOut, String), String> {
    let (prog, args) = argv.split_first().ok_or("empty command")?;
    let mut cmd = Command::new(prog);
    cmd.args(args).envs(env.iter().copied()).stdin(Stdio::null());
    // A pre_exec hook makes std fork and exec instead of using glibc's posix_spawn, which
    // leaves glibc's internal signals 32 and 33 ignored in the child (and so in every init
    // and command below it): the inits must inherit a clean signal state.
    // SAFETY: the hook does nothing, so it is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
    let out = cmd.output().map_err(|e| format!("{prog}: {e}"))?;
    Ok((
        RunOut {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            ok: out.status.success(),
        },
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Whether a command runs and succeeds (quietly).
fn succeeds(prog: &str, args: &[&str]) -> bool {
    Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn have(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

impl Bench {
    fn helper(&self, name: &str) -> String {
        self.helpers.join(name).display().to_string()
    }

    /// Builds the helpers, finds nestinit, installs missing peers (and strace).
    fn prepare(&mut self) -> Result<(), String> {
        if !is_root() {
            return Err("run as root: namespaces and /proc mounts need it".into());
        }
        let mut packages: Vec<&str> = Vec::new();
        if !have("gcc") {
            packages.extend(["gcc", "libc6-dev"]);
        }
        if !have("strace") {
            packages.push("strace");
        }
        for init in INITS.iter().filter(|i| self.wanted(i)) {
            if let Exe::System { path, package } = init.exe {
                if !Path::new(path).exists() && !packages.contains(&package) {
                    packages.push(package);
                }
            }
        }
        if !packages.is_empty() {
            if self.set.install {
                progress(&format!("installing {}", packages.join(" ")));
                let mut args = vec!["install", "-y", "--no-install-recommends"];
                args.extend(packages.iter().copied());
                if !succeeds("apt-get", &args) {
                    let _ = succeeds("apt-get", &["update"]);
                    if !succeeds("apt-get", &args) {
                        progress("apt-get install failed: missing inits are skipped");
                    }
                }
            } else {
                progress(&format!("BENCH_NO_INSTALL set: not installing {}", packages.join(" ")));
            }
        }
        self.build_helpers()?;
        if INITS.iter().any(|i| i.nested() && self.wanted(i)) {
            self.build_guest()?;
        }
        let nestinit = self.nestinit()?;
        let wanted: Vec<&'static Init> = INITS.iter().filter(|i| self.wanted(i)).collect();
        for init in wanted {
            let bin = match init.exe {
                Exe::None => None,
                Exe::Nestinit => Some(nestinit.clone()),
                Exe::System { path, .. } => {
                    if !Path::new(path).exists() {
                        self.skipped.push(format!("{} ({path} missing)", init.name));
                        continue;
                    }
                    Some(PathBuf::from(path))
                }
            };
            let guest = self.guest.display().to_string();
            let args =
                init.args.iter().map(|a| if *a == GUEST { guest.clone() } else { a.to_string() });
            self.inits.push(Ready { spec: init, bin, args: args.collect() });
            self.res.push(Results::default());
        }
        if !self.inits.iter().any(Ready::is_baseline) {
            return Err("the baseline init \"none\" is missing from INITS".into());
        }
        Ok(())
    }

    fn wanted(&self, init: &Init) -> bool {
        matches!(init.exe, Exe::None)
            || self.set.filter.as_deref().map_or(true, |f| {
                f.split(',').any(|w| !w.is_empty() && init.name.contains(w.trim()))
            })
    }

    fn build_helpers(&self) -> Result<(), String> {
        let src = self.root.join("benches/helpers");
        std::fs::create_dir_all(&self.helpers)
            .map_err(|e| format!("{}: {e}", self.helpers.display()))?;
        for name in HELPERS {
            let c = src.join(format!("{name}.c"));
            let bin = self.helpers.join(name);
            let fresh = match (std::fs::metadata(&c), std::fs::metadata(&bin)) {
                (Ok(s), Ok(b)) => matches!((s.modified(), b.modified()), (Ok(s), Ok(b)) if b >= s),
                _ => false,
            };
            if fresh {
                continue;
            }
            let out = Command::new("gcc")
                .args(["-static", "-O2", "-Wall", "-o"])
                .arg(&bin)
                .arg(&c)
                .output()
                .map_err(|e| format!("gcc: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "gcc {}: {}",
                    c.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(())
    }

    /// The guest root of nested inits: `target/bench-guest`, holding every helper at the
    /// absolute path it has on the host (so one command line works in and out of the guest).
    /// Nested mode creates the mount points of the moved mounts in it (empty directories and
    /// files, left in place); the mounts themselves live and die in the init's namespaces.
    fn build_guest(&mut self) -> Result<(), String> {
        let abs = |p: &Path| {
            let a = std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok::<PathBuf, String>(a)
        };
        std::fs::create_dir_all(&self.guest)
            .map_err(|e| format!("{}: {e}", self.guest.display()))?;
        self.guest = abs(&self.guest)?;
        if self.guest == Path::new("/") {
            return Err("the guest root must not be the host's root".into());
        }
        let helpers = abs(&self.helpers)?;
        self.helpers = helpers.clone();
        let rel = helpers.strip_prefix("/").map_err(|e| e.to_string())?;
        let dir = self.guest.join(rel);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for name in HELPERS {
            let (from, to) = (helpers.join(name), dir.join(name));
            std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", to.display()))?;
        }
        Ok(())
    }

    /// The nestinit binary: `NESTINIT_BIN`, else the one cargo built for this bench, else
    /// `target/release/nestinit` (built with `cargo build --release` when missing).
    fn nestinit(&self) -> Result<PathBuf, String> {
        if let Some(p) = std::env::var_os("NESTINIT_BIN") {
            return Ok(PathBuf::from(p));
        }
        if let Some(p) = option_env!("CARGO_BIN_EXE_nestinit") {
            if Path::new(p).exists() {
                return Ok(PathBuf::from(p));
            }
        }
        let p = self.target.join("release/nestinit");
        if !p.exists() {
            progress("building nestinit (cargo build --release)");
            let ok = Command::new("cargo")
                .args(["build", "--release", "--bin", "nestinit"])
                .current_dir(&self.root)
                .status()
                .is_ok_and(|s| s.success());
            if !ok || !p.exists() {
                return Err(format!("{} missing and cargo build failed", p.display()));
            }
        }
        Ok(p)
    }

    /// The indexes of the inits in round `round`'s order: rotated so no init always runs first.
    fn order(&self, round: usize) -> Vec<usize> {
        let n = self.inits.len();
        (0..n).map(|k| (k + round) % n).collect()
    }

    fn baseline(&self) -> Option<usize> {
        self.inits.iter().position(Ready::is_baseline)
    }

    fn reference(&self) -> Option<usize> {
        self.inits.iter().position(|i| i.spec.name == REFERENCE)
    }

    /// Runs `argv` under init `i`'s environment; failures and stray stderr become notes.
    fn run_for(&mut self, i: usize, what: &str, argv: &[String]) -> Option<RunOut> {
        let env = self.inits.get(i).map_or(&[][..], |r| r.spec.env);
        let res = self.res.get_mut(i)?;
        match capture(argv, env) {
            Ok((out, err)) => {
                res.note(what, &err);
                Some(out)
            }
            Err(e) => {
                res.note(what, &e);
                None
            }
        }
    }

    fn pidns1(&self, i: usize, flags: &[&str], cmd: &[String]) -> Vec<String> {
        let mut v = vec![self.helper("pidns1")];
        v.extend(flags.iter().map(|s| s.to_string()));
        v.push("--".into());
        if let Some(r) = self.inits.get(i) {
            v.extend(r.argv(cmd));
        }
        v
    }

    // ---- W5: size and linking -------------------------------------------------------------

    fn static_facts(&mut self) {
        for (r, res) in self.inits.iter().zip(self.res.iter_mut()) {
            if let Some(bin) = &r.bin {
                res.size = std::fs::metadata(bin).ok().map(|m| m.len());
                res.linking = elf_linking(bin);
            }
        }
    }

    // ---- W4: exit statuses ----------------------------------------------------------------

    fn exit_statuses(&mut self) {
        progress("W4 exit statuses");
        let Some(base) = self.baseline() else { return };
        // The baseline first: its signal state is what the command gets without an init.
        let mut order = vec![base];
        order.extend((0..self.inits.len()).filter(|&i| i != base));
        let mut given: Option<String> = None;
        for i in order {
            let nested = self.inits.get(i).is_some_and(Ready::nested);
            for case in W4_CASES {
                let argv = self.pidns1(i, &[], &[self.helper("exitwith"), case.arg.to_string()]);
                let cell = match self.run_for(i, "W4", &argv) {
                    Some(out) if case.arg == "mask" => {
                        let sets = signal_sets(&out.stdout);
                        match &given {
                            None => {
                                given = Some(sets.clone());
                                sets
                            }
                            Some(g) if *g == sets => format!("{sets} ✓"),
                            Some(_) => format!("{sets} ✗"),
                        }
                    }
                    Some(out) => w4_cell(case, &out.stdout, i == base, nested),
                    None => "error".into(),
                };
                if let Some(res) = self.res.get_mut(i) {
                    res.w4.push(cell);
                }
            }
        }
    }

    // ---- W6: PID-1 syscalls ---------------------------------------------------------------

    fn syscalls(&mut self) {
        if !have("strace") {
            progress("W6 skipped: no strace");
            return;
        }
        progress("W6 syscalls of PID 1 (strace)");
        let trace = self.target.join("bench/strace.txt");
        let _ = std::fs::create_dir_all(self.target.join("bench"));
        for _ in 0..self.set.strace_runs {
            for i in 0..self.inits.len() {
                let Some(bin) = self.inits.get(i).and_then(|r| r.bin.clone()) else {
                    continue;
                };
                let mut argv: Vec<String> =
                    ["strace", "-f", "-qq", "-s", "4096", "-o"].map(String::from).into();
                argv.push(trace.display().to_string());
                argv.extend(self.pidns1(i, &[], &[self.helper("true")]));
                let Some(out) = self.run_for(i, "W6", &argv) else {
                    continue;
                };
                let text = std::fs::read_to_string(&trace).unwrap_or_default();
                let counted = count_syscalls(&text, &bin.display().to_string());
                let Some(res) = self.res.get_mut(i) else { continue };
                match counted {
                    Some((n, names)) if out.ok => {
                        res.w6_calls.push(n as f64);
                        res.w6_names = names;
                    }
                    _ => res.note("W6", "could not find the init's syscalls in the strace output"),
                }
            }
        }
        let _ = std::fs::remove_file(&trace);
    }

    // ---- W1, PID-1 memory and W3, alternated round by round -------------------------------

    fn timed_rounds(&mut self) {
        let Some(base) = self.baseline() else { return };
        let reference = self.reference();
        let rounds = self.set.rounds;
        let n = self.inits.len();
        // Warm-up: one untimed pass of everything (page cache, first-exec costs).
        let argv = self.pidns1_all(&["-n", "2"], &[self.helper("true")]);
        let _ = self.run_all("warm-up", &argv);
        let argv = self.sigping_all(20, 0);
        let _ = self.run_all("warm-up", &argv);
        for round in 0..rounds {
            progress(&format!("W1/W3/memory round {}/{rounds}", round + 1));
            // W1: every init launched once per pass, `launches` passes, in one process.
            let mut w1 = vec![None; n];
            let argv =
                self.pidns1_all(&["-n", &self.set.launches.to_string()], &[self.helper("true")]);
            if let Some(out) = self.run_all("W1", &argv) {
                for (i, slot) in w1.iter_mut().enumerate() {
                    let mut ns = per_command(&out.stdout, "ns", i);
                    *slot = median(&mut ns).map(|m| m / 1e3);
                    if let Some(f) = field(&out.stdout, &format!("fails {i} "), 0) {
                        self.note(i, "W1", &format!("{f} launches did not exit 0"));
                    }
                }
            }
            // W3: every target pinged in turn, `pings` passes, then the bursts.
            let mut w3 = vec![None; n];
            let argv = self.sigping_all(self.set.pings, self.set.burst);
            if let Some(out) = self.run_all("W3", &argv) {
                for (i, slot) in w3.iter_mut().enumerate() {
                    *slot = field(&out.stdout, &format!("ping_ns {i} "), 0).map(|p| p / 1e3);
                    match field(&out.stdout, &format!("burst {i} "), 1) {
                        Some(b) => self.push(i, |r| &mut r.w3_burst, b),
                        None if out.stdout.lines().any(|l| l == format!("lost {i}")) => {
                            self.note(i, "W3", "did not forward SIGUSR1 within 5 s")
                        }
                        None => self.note(i, "W3", "no result"),
                    }
                }
            }
            // Memory: one init at a time (the sample names no init).
            if round < self.set.mem_runs {
                for i in self.order(round) {
                    if self.inits.get(i).is_some_and(Ready::is_baseline) {
                        continue;
                    }
                    if self.inits.get(i).is_some_and(Ready::nested) {
                        match self.nested_hwm(i) {
                            Ok(kib) => self.push(i, |r| &mut r.hwm_kib, kib),
                            Err(e) => self.note(i, "memory", &e),
                        }
                        continue;
                    }
                    let argv = self.pidns1(i, &["-p"], &[self.helper("hwm")]);
                    if let Some(out) = self.run_for(i, "memory", &argv) {
                        match field(&out.stdout, "VmHWM:", 0) {
                            Some(kib) => self.push(i, |r| &mut r.hwm_kib, kib),
                            None => self.note(i, "memory", "no VmHWM line"),
                        }
                    }
                }
            }
            // Ratios within the round.
            let b1 = w1.get(base).copied().flatten();
            let b3 = w3.get(base).copied().flatten();
            let ref_over = reference.and_then(|r| Some(w1.get(r).copied().flatten()? - b1?));
            for i in 0..n {
                let Some(res) = self.res.get_mut(i) else { continue };
                if let Some(t) = w1.get(i).copied().flatten() {
                    res.w1_us.push(t);
                    if let Some(b) = b1 {
                        res.w1_ratio.push(t / b);
                        res.w1_over_us.push(t - b);
                        if let Some(r) = ref_over.filter(|r| *r > 0.0) {
                            res.w1_over_vs_ref.push((t - b) / r);
                        }
                    }
                }
                if let Some(t) = w3.get(i).copied().flatten() {
                    res.w3_us.push(t);
                    if let Some(b) = b3 {
                        res.w3_ratio.push(t / b);
                    }
                }
            }
        }
    }

    /// PID-1 memory of a nested init: its command, `hwm wait`, is the guest's PID 1 and cannot
    /// see the init, so the runner reads the init's `VmHWM` from the host's `/proc/PID/status`
    /// (PID = pidns1's child, the init) while the command waits, then closes its stdin so it
    /// exits. As in the other rows the init is then idle in its wait: reaping and exiting is
    /// all that is left of its life.
    fn nested_hwm(&self, i: usize) -> Result<f64, String> {
        use std::io::{BufRead as _, BufReader, Read as _};
        let argv = self.pidns1(i, &[], &[self.helper("hwm"), "wait".into()]);
        let (prog, args) = argv.split_first().ok_or("empty command")?;
        let mut cmd = Command::new(prog);
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // SAFETY: a no-op hook (fork+exec, as in `capture`).
        unsafe {
            cmd.pre_exec(|| Ok(()));
        }
        let mut child = cmd.spawn().map_err(|e| format!("{prog}: {e}"))?;
        let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let kib = if line.trim() == "ready" {
            let pid = child.id();
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .ok()
                .and_then(|c| c.split_whitespace().next().map(str::to_string))
                .and_then(|init| std::fs::read_to_string(format!("/proc/{init}/status")).ok())
                .and_then(|st| field(&st, "VmHWM:", 0))
        } else {
            None
        };
        drop(child.stdin.take());
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        match kib {
            Some(k) if status.success() => Ok(k),
            _ => Err(format!("no VmHWM of the init ({status}; stdout {line:?}; stderr {err:?})")),
        }
    }

    /// `pidns1 FLAGS -- <init 0> CMD :: <init 1> CMD :: ...`: all inits, alternated.
    fn pidns1_all(&self, flags: &[&str], cmd: &[String]) -> Vec<String> {
        let mut v = vec![self.helper("pidns1")];
        v.extend(flags.iter().map(|s| s.to_string()));
        v.push("--".into());
        for (k, r) in self.inits.iter().enumerate() {
            if k > 0 {
                v.push("::".into());
            }
            v.extend(r.argv(cmd));
        }
        v
    }

    /// `sigping ping PINGS BURST -- <init 0> :: <init 1> :: ...` (the baseline's spec is empty).
    fn sigping_all(&self, pings: usize, burst: usize) -> Vec<String> {
        let mut v = vec![
            self.helper("sigping"),
            "ping".into(),
            pings.to_string(),
            burst.to_string(),
            "--".into(),
        ];
        for (k, r) in self.inits.iter().enumerate() {
            if k > 0 {
                v.push("::".into());
            }
            v.extend(r.argv(&[]));
        }
        v
    }

    /// Runs a helper that drives every init; its failures and stderr go to the general notes.
    /// The inits' own environments are merged (they must not conflict).
    fn run_all(&mut self, what: &str, argv: &[String]) -> Option<RunOut> {
        let env: Vec<(&str, &str)> =
            self.inits.iter().flat_map(|r| r.spec.env.iter().copied()).collect();
        match capture(argv, &env) {
            Ok((out, err)) => {
                self.general.note(what, &err);
                if !out.ok {
                    self.general.note(what, "the helper failed");
                }
                Some(out)
            }
            Err(e) => {
                self.general.note(what, &e);
                None
            }
        }
    }

    fn note(&mut self, i: usize, what: &str, text: &str) {
        if let Some(r) = self.res.get_mut(i) {
            r.note(what, text);
        }
    }

    fn push(&mut self, i: usize, slot: impl FnOnce(&mut Results) -> &mut Vec<f64>, v: f64) {
        if let Some(r) = self.res.get_mut(i) {
            slot(r).push(v);
        }
    }

    // ---- W2: orphans ----------------------------------------------------------------------

    fn orphan_rounds(&mut self) {
        let Some(base) = self.baseline() else { return };
        let rounds = self.set.orphan_rounds;
        for round in 0..rounds {
            progress(&format!(
                "W2 round {}/{rounds}: {} orphans per init",
                round + 1,
                self.set.orphans
            ));
            let mut ms = vec![None; self.inits.len()];
            for i in self.order(round) {
                if self.inits.get(i).is_some_and(Ready::nested) {
                    // Not comparable: the orphans re-parent to the guest's PID 1, the workload
                    // itself, which never reaps them (and its /proc/1 is itself).
                    continue;
                }
                let mut cmd = Vec::new();
                if i == base {
                    cmd.push(self.helper("autoreap"));
                }
                cmd.extend([
                    self.helper("orphans"),
                    self.set.orphans.to_string(),
                    self.set.orphan_timeout_ms.to_string(),
                ]);
                let argv = self.pidns1(i, &["-p"], &cmd);
                let Some(out) = self.run_for(i, "W2", &argv) else { continue };
                match (field(&out.stdout, "reap_ns", 0), field(&out.stdout, "reap_ns", 2)) {
                    (Some(t), Some(left)) => {
                        if left == 0.0 {
                            set(&mut ms, i, t / 1e6);
                        } else {
                            self.note(i, "W2", &format!("timed out with {left} orphans unreaped"));
                        }
                        self.push(i, |r| &mut r.w2_left, left);
                        let orphans = self.set.orphans.max(1) as f64;
                        if let Some(cpu) = field(&out.stdout, "pid1_cpu_ns", 0) {
                            self.push(i, |r| &mut r.w2_cpu_us, cpu / 1e3 / orphans);
                        }
                    }
                    _ => self.note(i, "W2", "no result"),
                }
            }
            let b = ms.get(base).copied().flatten();
            for i in 0..self.inits.len() {
                let Some(t) = ms.get(i).copied().flatten() else { continue };
                let Some(res) = self.res.get_mut(i) else { continue };
                res.w2_ms.push(t);
                if let Some(b) = b {
                    res.w2_ratio.push(t / b);
                }
            }
        }
    }

    // ---- W7, W8, W9: nestinit as a guest's init (benches/compare/guests.rs) -----------------

    fn guest_workloads(&self) -> Result<String, String> {
        let nestinit = self.nestinit()?;
        let nestinit =
            std::fs::canonicalize(&nestinit).map_err(|e| format!("{}: {e}", nestinit.display()))?;
        let k = guests::Knobs {
            w7_rounds: self.set.w7_rounds,
            w7_calls: self.set.w7_calls,
            boot_rounds: self.set.boot_rounds,
            boot_timeout: std::time::Duration::from_secs(self.set.boot_timeout_s as u64),
            install: self.set.install,
        };
        let mut notes = Vec::new();
        let mut s = String::new();
        let _ = writeln!(s, "\n## W7–W9: nestinit as the init of a running guest\n");
        let _ = writeln!(
            s,
            "Settings: W7 {} rounds × {} calls of each command (alternated call by call); \
             W8/W9 {} rounds of 5 boots (nestinit poweroff, systemd poweroff, nestinit stop, \
             systemd stop, systemd+SIGRTMIN+3 stop; the start rotating). Cells: median \
             (min–max) over rounds; ratios within each round. Method: `benches/README.md`.\n",
            k.w7_rounds, k.w7_calls, k.boot_rounds
        );
        if self.set.wants("w7") {
            s.push_str(&guests::w7(&self.root, &self.target, &nestinit, &k, &mut notes));
        }
        if self.set.wants("w8") || self.set.wants("w9") {
            s.push('\n');
            s.push_str(&guests::w8_w9(&self.root, &self.target, &nestinit, &k, &mut notes));
        }
        if !notes.is_empty() {
            let _ = writeln!(s, "\n### Notes (W7–W9)\n");
            for n in notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        Ok(s)
    }

    // ---- the report -----------------------------------------------------------------------

    fn report(&self) -> String {
        let mut s = String::new();
        let names: Vec<&str> = self.inits.iter().map(|r| r.spec.name).collect();
        let nest: Vec<usize> = (0..self.inits.len())
            .filter(|&i| self.inits.get(i).is_some_and(|r| matches!(r.spec.exe, Exe::Nestinit)))
            .collect();
        let _ = writeln!(s, "# nestinit compared with the inits in use today\n");
        let _ = writeln!(s, "{}\n", machine());
        let _ = writeln!(
            s,
            "Settings: {} rounds × {} launches (W1), {} pings and a burst of {} (W3), {} memory runs; \
             W2: {} rounds × {} orphans; W6: {} strace runs. Cells: median (min–max) over rounds; \
             ratios are taken within each round, then summarised. Method: `benches/README.md`.\n",
            self.set.rounds,
            self.set.launches,
            self.set.pings,
            self.set.burst,
            self.set.mem_runs.min(self.set.rounds),
            self.set.orphan_rounds,
            self.set.orphans,
            self.set.strace_runs
        );
        let peers = peer_versions(&self.inits);
        if !peers.is_empty() {
            let _ = writeln!(s, "Peers: {peers}.\n");
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(s, "Skipped: {}.\n", self.skipped.join(", "));
        }

        // The main table: one row per metric, one column per init, the targets last.
        let _ = write!(s, "| metric |");
        for n in &names {
            let _ = write!(s, " {n} |");
        }
        let _ = writeln!(s, " nestinit target |");
        let _ = write!(s, "|---|");
        for _ in &names {
            let _ = write!(s, "---:|");
        }
        let _ = writeln!(s, "---|");

        let row = |s: &mut String, label: &str, cells: Vec<String>, target: String| {
            let _ = write!(s, "| {label} |");
            for c in cells {
                let _ = write!(s, " {c} |");
            }
            let _ = writeln!(s, " {target} |");
        };
        let per = |f: &dyn Fn(&Results, bool) -> String| -> Vec<String> {
            self.inits.iter().zip(&self.res).map(|(r, res)| f(res, r.is_baseline())).collect()
        };
        // W2 cells of nested inits: not run (see the note under the table).
        let w2 = |cells: Vec<String>| -> Vec<String> {
            cells
                .into_iter()
                .zip(&self.inits)
                .map(|(c, r)| if r.nested() { "n/a (orphans go to guest PID 1)".into() } else { c })
                .collect()
        };
        let check = |metric: &dyn Fn(&Results) -> Option<f64>,
                     ok: &dyn Fn(f64) -> bool,
                     what: &str| {
            let marks: Vec<String> = nest
                .iter()
                .filter_map(|&i| {
                    let res = self.res.get(i)?;
                    let nested = self.inits.get(i).is_some_and(Ready::nested);
                    let mark = match metric(res) {
                        Some(v) if ok(v) => "✓",
                        Some(_) => "✗",
                        None if nested => "n/a",
                        None => "?",
                    };
                    let name = self.inits.get(i)?.spec.name;
                    Some(if nest.len() > 1 { format!("{mark} ({name})") } else { mark.to_string() })
                })
                .collect();
            format!("{what} {}", marks.join(" "))
        };

        row(
            &mut s,
            "W5 binary size (bytes)",
            per(&|r, base| if base { "—".into() } else { r.size.map_or("?".into(), thousands) }),
            check(&|r| r.size.map(|v| v as f64), &|v| v <= TARGET_SIZE as f64, "≤ 16,384"),
        );
        row(
            &mut s,
            "W5 linking",
            per(&|r, base| if base { "—".into() } else { r.linking.clone() }),
            "static".into(),
        );
        row(
            &mut s,
            "PID-1 peak RSS, VmHWM (KiB)",
            per(&|r, base| if base { "—".into() } else { cell(&r.hwm_kib, 0) }),
            check(&|r| med(&r.hwm_kib), &|v| v <= TARGET_HWM_KIB, "≤ 32"),
        );
        row(
            &mut s,
            "W1 launch + exit, trivial static child (µs)",
            per(&|r, _| cell(&r.w1_us, 0)),
            String::new(),
        );
        row(
            &mut s,
            "W1 × no init",
            per(&|r, base| if base { "1".into() } else { cell(&r.w1_ratio, 2) }),
            String::new(),
        );
        row(
            &mut s,
            "W1 overhead over no init (µs)",
            per(&|r, base| if base { "0".into() } else { signed_cell(&r.w1_over_us, 0) }),
            String::new(),
        );
        row(
            &mut s,
            &format!("W1 overhead × {REFERENCE}'s"),
            per(&|r, base| if base { "—".into() } else { cell(&r.w1_over_vs_ref, 2) }),
            check(&|r| med(&r.w1_over_vs_ref), &|v| v <= TARGET_STARTUP_VS_REF, "≤ 0.3"),
        );
        row(
            &mut s,
            &format!("W2 {} orphans all reaped (ms)", thousands(self.set.orphans as u64)),
            w2(per(&|r, base| {
                let c = cell(&r.w2_ms, 0);
                if base {
                    format!("{c} (kernel autoreap)")
                } else {
                    c
                }
            })),
            String::new(),
        );
        row(
            &mut s,
            "W2 × kernel autoreap",
            w2(per(&|r, base| if base { "1".into() } else { cell(&r.w2_ratio, 2) })),
            check(&|r| med(&r.w2_ratio), &|v| v <= TARGET_REAP_RATIO, "≤ 1.05"),
        );
        row(
            &mut s,
            "W2 PID-1 CPU time per orphan (µs)",
            w2(per(&|r, _| cell(&r.w2_cpu_us, 1))),
            String::new(),
        );
        row(
            &mut s,
            "W2 zombies left (max)",
            w2(per(&|r, _| {
                r.w2_left
                    .iter()
                    .copied()
                    .reduce(f64::max)
                    .map_or("—".into(), |v| format!("{v:.0}"))
            })),
            "0".into(),
        );
        row(
            &mut s,
            "W3 signal round trip, pinned to CPU 0 (µs)",
            per(&|r, base| {
                let c = cell(&r.w3_us, 1);
                if base {
                    format!("{c} (direct)")
                } else {
                    c
                }
            }),
            String::new(),
        );
        row(
            &mut s,
            "W3 × direct delivery",
            per(&|r, base| if base { "1".into() } else { cell(&r.w3_ratio, 2) }),
            check(&|r| med(&r.w3_ratio), &|v| v <= TARGET_FORWARD_RATIO, "≤ 1.5"),
        );
        row(
            &mut s,
            &format!("W3 burst of {} queued RT signals delivered (min)", self.set.burst),
            per(&|r, _| {
                r.w3_burst
                    .iter()
                    .copied()
                    .reduce(f64::min)
                    .map_or("—".into(), |v| format!("{v:.0}"))
            }),
            format!("{}", self.set.burst),
        );
        row(
            &mut s,
            "W6 PID-1 syscalls, exec to exit",
            per(&|r, base| if base { "—".into() } else { cell(&r.w6_calls, 0) }),
            check(&|r| med(&r.w6_calls), &|v| v <= TARGET_SYSCALLS, "≤ 15"),
        );

        if self.inits.iter().any(Ready::nested) {
            let _ = writeln!(
                s,
                "\nNested rows (`--mode nested --root {}`: the workload binaries copied into that \
                 directory at their host paths; the init in its own mount namespace, / rprivate): \
                 the command is PID 1 of the guest's PID namespace, one clone (mount+PID+cgroup \
                 namespaces, mounts moved, pivot_root, fresh /proc) below the init. VmHWM is the \
                 init's, read by the runner from the host's /proc/PID/status while the command \
                 waits (the command cannot see the init). W1 includes the guest's preparation. \
                 W2 is not run: the orphans re-parent to the guest's PID 1, the workload itself, \
                 not to nestinit. W3: the signal goes to the init, which forwards it to the guest's \
                 PID 1. W4: a command that is PID 1 survives its own SIGKILL/SIGTERM, as with no \
                 init. W6 counts the supervisor's syscalls only (the guest's preparation runs in \
                 the cloned child).",
                self.guest.display()
            );
        }

        // W4: a correctness table.
        let _ = writeln!(s, "\n### W4 exit status of the init when its command ends\n");
        let _ = write!(s, "| command | expected |");
        for n in &names {
            let _ = write!(s, " {n} |");
        }
        let _ = write!(s, "\n|---|---:|");
        for _ in &names {
            let _ = write!(s, "---:|");
        }
        let _ = writeln!(s);
        for (k, case) in W4_CASES.iter().enumerate() {
            let _ = write!(s, "| {} | {} |", case.label, case.expected);
            for res in &self.res {
                let _ = write!(s, " {} |", res.w4.get(k).map_or("?", String::as_str));
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "\n\"none\": the command is PID 1 itself, which the kernel does not let die from its own \
             SIGKILL or SIGTERM (it exits 99 after 200 ms instead): one reason to have an init."
        );

        // W6 details.
        let _ = writeln!(s, "\n### W6 syscalls of PID 1, by name (last strace run)\n");
        for (r, res) in self.inits.iter().zip(&self.res) {
            if r.is_baseline() || res.w6_names.is_empty() {
                continue;
            }
            let list: Vec<String> = res
                .w6_names
                .iter()
                .map(|(n, c)| if *c > 1 { format!("{n}×{c}") } else { n.clone() })
                .collect();
            let _ = writeln!(s, "- {}: {}", r.spec.name, list.join(", "));
        }

        let notes: Vec<String> = self
            .inits
            .iter()
            .zip(&self.res)
            .flat_map(|(r, res)| res.notes.iter().map(move |n| format!("- {}: {n}", r.spec.name)))
            .chain(self.general.notes.iter().map(|n| format!("- all inits: {n}")))
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(s, "\n### Notes (failures, stderr of the runs)\n");
            for n in notes {
                let _ = writeln!(s, "{n}");
            }
        }
        s
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn set(v: &mut [Option<f64>], i: usize, x: f64) {
    if let Some(slot) = v.get_mut(i) {
        *slot = Some(x);
    }
}

/// The `index`-th number after `key` on the first line starting with `key`.
fn field(text: &str, key: &str, index: usize) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(key))?
        .split_whitespace()
        .nth(index)?
        .parse()
        .ok()
}

/// The last number of every `KEY K ...` line for command `k`.
fn per_command(text: &str, key: &str, k: usize) -> Vec<f64> {
    let prefix = format!("{key} {k} ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix)?.split_whitespace().last()?.parse().ok())
        .collect()
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v.get(n / 2).copied()
    } else {
        Some((v.get(n / 2 - 1)? + v.get(n / 2)?) / 2.0)
    }
}

fn med(v: &[f64]) -> Option<f64> {
    median(&mut v.to_vec())
}

fn fmt_num(v: f64, decimals: usize) -> String {
    if decimals == 0 {
        let sign = if v.round() < 0.0 { "-" } else { "" };
        format!("{sign}{}", thousands(v.round().abs() as u64))
    } else {
        format!("{v:.decimals$}")
    }
}

/// "median (min–max)", or just the value when every sample agrees.
fn cell(v: &[f64], decimals: usize) -> String {
    let Some(m) = med(v) else { return "—".into() };
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (m_s, lo_s, hi_s) = (fmt_num(m, decimals), fmt_num(lo, decimals), fmt_num(hi, decimals));
    if lo_s == hi_s {
        m_s
    } else {
        format!("{m_s} ({lo_s}–{hi_s})")
    }
}

fn signed_cell(v: &[f64], decimals: usize) -> String {
    let c = cell(v, decimals);
    if med(v).is_some_and(|m| m >= 0.0) {
        format!("+{c}")
    } else {
        c
    }
}

fn thousands(v: u64) -> String {
    let d = v.to_string();
    let mut out = String::new();
    for (k, ch) in d.chars().enumerate() {
        if k > 0 && (d.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// "static", "static-pie" or "dynamic (interpreter)", from the ELF program headers.
fn elf_linking(path: &Path) -> String {
    let Ok(b) = std::fs::read(path) else { return "?".into() };
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    if b.get(0..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return "not ELF64 LE".into();
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return "?".into();
    };
    let mut dynamic = false;
    for k in 0..usize::from(phnum) {
        let o = phoff as usize + k * usize::from(phentsize);
        match u32_at(o) {
            Some(2) => dynamic = true,
            Some(3) => {
                let (Some(off), Some(size)) = (u64_at(o + 8), u64_at(o + 32)) else {
                    return "dynamic".into();
                };
                let interp = b
                    .get(off as usize..(off + size) as usize)
                    .map(|s| String::from_utf8_lossy(s).trim_end_matches('\0').to_string())
                    .unwrap_or_default();
                let short = interp.rsplit('/').next().unwrap_or("").to_string();
                return format!("dynamic ({short})");
            }
            _ => {}
        }
    }
    if dynamic {
        "static-pie".into()
    } else {
        "static".into()
    }
}

/// Counts the syscalls of the process that execs `init`, from its execve to its exit_group
/// (both included), in `strace -f` output (lines start with the pid). Resumed halves of
/// interrupted calls, signal and exit notices are not counted.
fn count_syscalls(trace: &str, init: &str) -> Option<(usize, BTreeMap<String, usize>)> {
    let needle = format!("execve(\"{init}\"");
    let mut pid: Option<&str> = None;
    let mut n = 0;
    let mut names = BTreeMap::new();
    for line in trace.lines() {
        let Some((p, rest)) = line.split_once(' ') else { continue };
        let rest = rest.trim_start();
        match pid {
            None if rest.starts_with(&needle) => pid = Some(p),
            None => continue,
            Some(q) if q != p => continue,
            Some(_) => {}
        }
        if rest.starts_with("<...") || rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        let name = rest.split('(').next().unwrap_or("?").to_string();
        n += 1;
        *names.entry(name.clone()).or_insert(0) += 1;
        if name == "exit_group" || name == "exit" {
            return Some((n, names));
        }
    }
    pid.map(|_| (n, names))
}

struct W4Case {
    label: &'static str,
    arg: &'static str,
    expected: &'static str,
}

const W4_CASES: &[W4Case] = &[
    W4Case { label: "exit 0", arg: "0", expected: "0" },
    W4Case { label: "exit 3", arg: "3", expected: "3" },
    W4Case { label: "killed by SIGKILL", arg: "-9", expected: "137" },
    W4Case { label: "killed by SIGTERM", arg: "-15", expected: "143" },
    W4Case {
        label: "signals blocked or ignored at the command's start",
        arg: "mask",
        expected: "as with no init",
    },
];

fn w4_cell(case: &W4Case, out: &str, baseline: bool, nested: bool) -> String {
    let status = out.lines().find_map(|l| l.strip_prefix("status 0 "));
    let code = match status.and_then(|s| s.split_once(' ')) {
        Some(("exit", n)) => n.trim().to_string(),
        Some(("signal", n)) => format!("killed by signal {}", n.trim()),
        _ => return "?".into(),
    };
    if code == case.expected {
        format!("{code} ✓")
    } else if code == "99" {
        if baseline {
            "99 (survived: PID 1)".into()
        } else if nested {
            "99 (survived: guest PID 1)".into()
        } else {
            "99 (survived: signal blocked) ✗".into()
        }
    } else {
        format!("{code} ✗")
    }
}

/// "blocked 0x380000, ignored 0x0" from the `SigBlk:` and `SigIgn:` lines `exitwith mask`
/// printed ("none" when both are empty).
fn signal_sets(out: &str) -> String {
    let hex = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    match (hex("SigBlk:"), hex("SigIgn:")) {
        (Some(0), Some(0)) => "none".into(),
        (Some(b), Some(i)) => format!("blocked {b:#x}, ignored {i:#x}"),
        _ => "?".into(),
    }
}

/// nproc, CPU model, kernel and date.
fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "Machine: nproc {nproc}, {cpu}, kernel {}, {}; run {date}.",
        kernel.trim(),
        std::env::consts::ARCH
    )
}

/// "tini 0.19.0-1+b3, ..." from dpkg.
fn peer_versions(inits: &[Ready]) -> String {
    inits
        .iter()
        .filter_map(|r| match r.spec.exe {
            Exe::System { package, .. } => {
                let out = Command::new("dpkg-query")
                    .args(["-W", "-f", "${Version}", package])
                    .output()
                    .ok()?;
                let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
                Some(format!("{} (Debian {package} {v})", r.spec.name))
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}
