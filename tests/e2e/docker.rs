//! Docker and containerd for tests/e2e_docker.rs: a private dockerd started once per test
//! binary and stopped when it exits, throwaway guest roots, and the two kinds of guest, a
//! `docker run` of the README's line and a `ctr run` of examples/pod.yaml. Each cleans up
//! after itself on drop.

use super::host::{CgroupTrees, MachineLock};
use super::{
    describe, manifest_dir, plain, script, sh_quote, target_dir, text, timed, Guest, IMAGE,
    README_RUN,
};
use crate::common::nestinit;
use std::fs::File;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The containerd namespace the containerd test imports the image into and runs it in.
pub const NAMESPACE: &str = "nestinit-test";
/// The name `docker save IMAGE | ctr images import` gives the image in containerd.
const IMAGE_REF: &str = "docker.io/library/nestinit:latest";

/// A container of any test, named `nestinit-e2e-PID-N`, N counting them in the test binary.
fn fresh_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("nestinit-e2e-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Whether `path` is a directory `target/docker/PID` of a test process that is gone.
fn is_stale(path: &Path) -> bool {
    let pid = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<u32>().ok());
    pid.is_some_and(|p| p != std::process::id() && !Path::new("/proc").join(p.to_string()).exists())
}

// ---------------------------------------------------------------------------------------------
// The daemon

/// A dockerd of the test binary's own (tests/e2e/dockerd.sh): all its state in
/// `target/docker/PID`, its mounts in a private mount namespace, dockerd, its containerd and
/// the shims in cgroups of their own. Started by the first test that needs it, before that
/// test captures the host's state, and stopped when the test binary exits: the script stops
/// dockerd when its stdin closes, which the exit (or the death) of the test process does;
/// [`Docker::get`] also registers [`Docker::shut_down`] to run at exit, so that everything is
/// gone, cgroups and state included, before `cargo test` goes on.
pub struct Docker {
    dir: PathBuf,
    /// dockerd's PID: its mount namespace is where containers find the host's files.
    pid: u32,
    cli: PathBuf,
    watcher: Mutex<Option<Child>>,
    cgroup: Mutex<Option<CgroupTrees>>,
}

static DOCKER: OnceLock<Result<Docker, String>> = OnceLock::new();

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
}

/// Runs at the test binary's exit: stops dockerd and removes its cgroups and state, under the
/// machine lock (the cgroups are in the test's own, which other e2e runs compare).
extern "C" fn shut_down_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(Ok(d)) = DOCKER.get() {
            let _machine = MachineLock::take();
            let started = Instant::now();
            d.shut_down();
            eprintln!(
                "e2e-docker: dockerd stopped and its state removed in {:.2?}",
                started.elapsed()
            );
        }
    });
}

impl Docker {
    /// The test binary's dockerd, started with the nestinit image built on first use.
    pub fn get() -> &'static Docker {
        let d = DOCKER.get_or_init(|| {
            let d = Docker::start()?;
            // SAFETY: registers a function without arguments that catches its own panics;
            // libc runs it once, on the thread that calls exit(3), after main has returned.
            let rc = unsafe { atexit(shut_down_at_exit) };
            if rc != 0 {
                return Err("atexit failed".to_string());
            }
            d.build_image()?;
            Ok(d)
        });
        match d {
            Ok(d) => d,
            Err(e) => panic!("the test binary's dockerd: {e}"),
        }
    }

    fn start() -> Result<Docker, String> {
        let base = target_dir().join("docker");
        // What runs of tests that died left behind: their dockerd was stopped by the script,
        // or killed with its cgroups (CgroupTrees::stale); the state is left.
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            if is_stale(&e.path()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = base.join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let longest = dir.join("run/containerd/containerd.sock.ttrpc");
        if longest.as_os_str().len() >= 108 {
            return Err(format!("{} is too long for a unix socket path", longest.display()));
        }
        let cli = if Path::new("/usr/bin/docker").exists() {
            PathBuf::from("/usr/bin/docker")
        } else {
            PathBuf::from("docker")
        };
        let (cgroup, _) = CgroupTrees::fresh(false);
        let started = Instant::now();
        let err = File::create(dir.join("dockerd.sh.err")).map_err(|e| e.to_string())?;
        let mut watcher = Command::new(script("in-cgroup"))
            .args(cgroup.procs_files())
            .arg("--")
            .arg("bash")
            .arg(script("dockerd.sh"))
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("running tests/e2e/dockerd.sh: {e}"))?;
        let mut line = String::new();
        if let Some(out) = watcher.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        let pid = line.strip_prefix("ready ").and_then(|p| p.trim().parse::<u32>().ok());
        let d = Docker {
            dir,
            pid: pid.unwrap_or(0),
            cli,
            watcher: Mutex::new(Some(watcher)),
            cgroup: Mutex::new(Some(cgroup)),
        };
        if pid.is_none() {
            let why = std::fs::read_to_string(d.dir.join("dockerd.sh.err")).unwrap_or_default();
            return Err(format!("dockerd.sh did not get ready ({line:?}):\n{why}"));
        }
        eprintln!("e2e-docker: dockerd (pid {}) up in {:.2?}", d.pid, started.elapsed());
        Ok(d)
    }

    /// `docker build -t nestinit` of the top-level Dockerfile, offline (FROM scratch), in a
    /// context holding the binary under test where the Dockerfile COPYs it from.
    fn build_image(&self) -> Result<(), String> {
        let ctx = self.dir.join("context");
        std::fs::create_dir_all(ctx.join("target/release")).map_err(|e| e.to_string())?;
        std::fs::copy(manifest_dir().join("Dockerfile"), ctx.join("Dockerfile"))
            .map_err(|e| format!("copying the Dockerfile: {e}"))?;
        std::fs::copy(nestinit(), ctx.join("target/release/nestinit"))
            .map_err(|e| format!("copying the binary: {e}"))?;
        let started = Instant::now();
        let out = self.run(&["build", "-q", "-t", IMAGE, ctx.to_str().unwrap_or_default()]);
        if !out.status.success() {
            return Err(format!("docker build: {}", describe(&out)));
        }
        eprintln!("e2e-docker: docker build -t {IMAGE} in {:.2?}", started.elapsed());
        Ok(())
    }

    /// Points a docker client run by `c` at this daemon, with a configuration of its own.
    fn client_env(&self, c: &mut Command) {
        c.env("DOCKER_HOST", format!("unix://{}", self.dir.join("docker.sock").display()));
        c.env("DOCKER_CONFIG", self.dir.join("client"));
        // The classic builder: no buildx plugin needed, whichever client runs.
        c.env("DOCKER_BUILDKIT", "0");
        for v in ["DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] {
            c.env_remove(v);
        }
    }

    /// `docker ARGS` against this daemon, bounded by `timeout`.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = timed(self.cli.to_str().unwrap_or("docker"));
        c.args(args);
        self.client_env(&mut c);
        c.output().unwrap_or_else(|e| panic!("running docker: {e}"))
    }

    /// dockerd's own containerd.
    pub fn containerd_sock(&self) -> PathBuf {
        self.dir.join("run/containerd/containerd.sock")
    }

    /// `ctr -a SOCK -n nestinit-test ARGS`, bounded by `timeout`.
    pub fn ctr(&self, args: &[&str]) -> Output {
        let mut c = timed("ctr");
        c.arg("-a").arg(self.containerd_sock()).args(["-n", NAMESPACE]).args(args);
        c.output().unwrap_or_else(|e| panic!("running ctr: {e}"))
    }

    /// `CMD` in dockerd's mount namespace, where the containers' bind sources are looked up.
    fn in_mount_ns(&self, cmd: &[&str]) -> Output {
        let mut c = timed("nsenter");
        c.args(["-t", &self.pid.to_string(), "-m", "--"]).args(cmd);
        c.output().unwrap_or_else(|e| panic!("running nsenter: {e}"))
    }

    /// Stops dockerd (the script removes every container first), then kills what is left in
    /// its cgroups and removes them, then its state. Idempotent.
    pub fn shut_down(&self) {
        let watcher = self.watcher.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut w) = watcher {
            drop(w.stdin.take());
            let started = Instant::now();
            while matches!(w.try_wait(), Ok(None)) && started.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = w.kill();
            let _ = w.wait();
        }
        drop(self.cgroup.lock().unwrap_or_else(|e| e.into_inner()).take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Docker {
    /// Only a Docker that failed to get ready is ever dropped; the static one is shut down at
    /// exit.
    fn drop(&mut self) {
        self.shut_down();
    }
}

// ---------------------------------------------------------------------------------------------
// A throwaway guest root

/// A writable copy of a cached rootfs, free: an overlay whose lower layer is the rootfs,
/// mounted in dockerd's mount namespace (never the host's), under `target/docker/PID/guests`.
/// The cached rootfs is never written. Unmounted and removed on drop.
pub struct GuestRoot {
    docker: &'static Docker,
    dir: PathBuf,
    merged: PathBuf,
}

impl GuestRoot {
    pub fn new(docker: &'static Docker, lower: &Path) -> GuestRoot {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = docker.dir.join("guests").join(N.fetch_add(1, Ordering::Relaxed).to_string());
        let merged = dir.join("root");
        for d in ["upper", "work", "root"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let root = GuestRoot { docker, dir, merged };
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            root.dir.join("upper").display(),
            root.dir.join("work").display()
        );
        assert!(!lower.to_string_lossy().contains([',', ':']), "overlay: {opts}");
        let merged = root.merged.to_str().unwrap();
        let out = docker.in_mount_ns(&["mount", "-t", "overlay", "overlay", "-o", &opts, merged]);
        assert!(out.status.success(), "mounting the guest's overlay: {}", describe(&out));
        root
    }

    pub fn path(&self) -> &Path {
        &self.merged
    }
}

impl Drop for GuestRoot {
    fn drop(&mut self) {
        let _ = self.docker.in_mount_ns(&["umount", "-l", self.merged.to_str().unwrap_or("")]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// docker run

/// The seccomp profile a Docker guest runs under.
pub enum Profile {
    /// Docker's default: no `--security-opt`.
    Default,
    /// `--security-opt seccomp=FILE`.
    File(PathBuf),
    /// `--security-opt seccomp=unconfined`.
    Unconfined,
}

impl Profile {
    fn flags(&self) -> Vec<String> {
        match self {
            Profile::Default => Vec::new(),
            Profile::File(p) => vec!["--security-opt".into(), format!("seccomp={}", p.display())],
            Profile::Unconfined => vec!["--security-opt".into(), "seccomp=unconfined".into()],
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Profile::Default => "docker, default seccomp",
            Profile::File(_) => "docker, examples/seccomp.json",
            Profile::Unconfined => "docker, seccomp=unconfined",
        }
    }
}

/// `--security-opt apparmor=unconfined` where the kernel enforces AppArmor (Debian's and
/// Ubuntu's default): Docker then applies its docker-default profile, which denies mount
/// whatever the capabilities, and the README ("Runtimes") says to add this there.
fn apparmor_flags() -> Vec<String> {
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y");
    if !enabled {
        return Vec::new();
    }
    eprintln!("e2e-docker: AppArmor is enabled: adding --security-opt apparmor=unconfined");
    vec!["--security-opt".into(), "apparmor=unconfined".into()]
}

/// The README's `docker run` line as arguments to the docker client: `ROOT` becomes the
/// guest's root, and `extra` goes right after `run`.
pub fn readme_run(root: &Path, extra: &[String]) -> Vec<String> {
    let words: Vec<&str> = README_RUN.split_whitespace().collect();
    assert_eq!(words.get(..2), Some(&["docker", "run"][..]), "README_RUN: {README_RUN}");
    assert_eq!(words.last(), Some(&IMAGE), "README_RUN runs {IMAGE}: {README_RUN}");
    let mut v = vec!["run".to_string()];
    v.extend_from_slice(extra);
    for w in &words[2..] {
        v.push(match *w {
            "ROOT:/data00" => format!("{}:/data00", root.display()),
            w => w.to_string(),
        });
    }
    v
}

/// A container run by the README's line from the nestinit image, a throwaway copy of a guest
/// rootfs as ROOT, in a cgroup of its own (`--cgroup-parent`); `docker rm -f` on drop, then
/// the root is unmounted and the cgroup emptied and removed.
pub struct DockerGuest {
    docker: &'static Docker,
    name: String,
    label: &'static str,
    removed: bool,
    _root: GuestRoot,
    _cgroup: CgroupTrees,
}

impl DockerGuest {
    pub fn start(docker: &'static Docker, rootfs: &Path, profile: &Profile) -> DockerGuest {
        let (cgroup, parent) = CgroupTrees::fresh(true);
        let root = GuestRoot::new(docker, rootfs);
        let name = fresh_name();
        let mut extra = vec!["--name".to_string(), name.clone()];
        extra.extend(["--cgroup-parent".to_string(), parent]);
        extra.extend(["--label".to_string(), format!("nestinit-e2e={}", std::process::id())]);
        extra.extend(profile.flags());
        extra.extend(apparmor_flags());
        let args = readme_run(root.path(), &extra);
        let g = DockerGuest {
            docker,
            name,
            label: profile.label(),
            removed: false,
            _root: root,
            _cgroup: cgroup,
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = docker.run(&args);
        assert!(out.status.success(), "docker {}: {}", args.join(" "), describe(&out));
        g
    }

    fn state(&mut self) -> (String, i32) {
        let format = "{{.State.Status}} {{.State.ExitCode}}";
        let out = self.docker.run(&["inspect", "--format", format, &self.name]);
        let t = text(&out.stdout);
        let mut f = t.split_whitespace();
        let status = f.next().unwrap_or("gone").to_string();
        let code = f.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
        (status, code)
    }

    /// `docker rm -f -v`, which must succeed and leave no container of this test process.
    pub fn remove(&mut self) {
        self.removed = true;
        let out = self.docker.run(&["rm", "-f", "-v", &self.name]);
        assert!(out.status.success(), "docker rm: {}", describe(&out));
        let label = format!("label=nestinit-e2e={}", std::process::id());
        let out = self.docker.run(&["ps", "-aq", "--filter", &label]);
        assert!(out.status.success() && out.stdout.is_empty(), "left: {}", describe(&out));
    }
}

impl Guest for DockerGuest {
    fn init(&mut self, args: &[&str]) -> Output {
        let mut v = vec!["exec", &self.name, "/init"];
        v.extend_from_slice(args);
        self.docker.run(&v)
    }

    fn stop(&mut self) {
        // Longer than nestinit's own 10 s stop timeout: a SIGKILL would be nestinit's, and
        // show in its log.
        let out = self.docker.run(&["stop", "-t", "30", &self.name]);
        assert!(out.status.success(), "docker stop: {}", describe(&out));
    }

    fn is_running(&mut self) -> bool {
        self.state().0 == "running"
    }

    fn wait_end(&mut self, timeout: Duration) -> i32 {
        let started = Instant::now();
        loop {
            let (status, code) = self.state();
            if status == "exited" {
                return code;
            }
            if started.elapsed() > timeout {
                let dump = self.dump();
                panic!("{}: the container is {status} after {timeout:?}\n{dump}", self.label);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn nestinit_log(&mut self) -> String {
        let console = self.console();
        console.lines().filter(|l| l.starts_with("nestinit:")).collect::<Vec<_>>().join("\n")
    }

    /// `docker logs`: with `-t` the container's terminal, nestinit's lines and systemd's.
    fn console(&mut self) -> String {
        let out = self.docker.run(&["logs", &self.name]);
        plain(&format!("{}{}", text(&out.stdout), text(&out.stderr)))
    }

    fn name(&self) -> &'static str {
        self.label
    }
}

impl Drop for DockerGuest {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.docker.run(&["rm", "-f", "-v", &self.name]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// containerd: examples/pod.yaml as `ctr run`

/// What the containerd test takes from examples/pod.yaml: the guest's command line, the
/// added capabilities, its seccomp profile, that it has a terminal, and its volumes (the
/// guest's root as a hostPath at /data00, memory-backed emptyDirs elsewhere).
#[derive(Debug)]
pub struct Pod {
    pub args: Vec<String>,
    pub caps: Vec<String>,
    /// The `seccompProfile` type: `RuntimeDefault` is `ctr run --seccomp`.
    pub seccomp: String,
    pub root_path: String,
    pub tmpfs: Vec<String>,
}

/// `["a", "b"]` as words.
fn yaml_list(s: &str) -> Vec<String> {
    let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|w| w.trim().trim_matches('"').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

impl Pod {
    pub fn read() -> Pod {
        let path = manifest_dir().join("examples/pod.yaml");
        let src = std::fs::read_to_string(&path).unwrap();
        let value = |key: &str| {
            src.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .find_map(|l| l.trim().strip_prefix(key).map(str::to_string))
                .unwrap_or_else(|| panic!("examples/pod.yaml has no {key:?}"))
        };
        let mounts: Vec<String> = src
            .lines()
            .filter_map(|l| l.trim().strip_prefix("mountPath:").map(|p| p.trim().to_string()))
            .collect();
        assert_eq!(value("tty:").trim(), "true", "examples/pod.yaml: tty");
        assert!(src.contains("hostPath:"), "examples/pod.yaml: the root as a hostPath");
        let memory = src.lines().filter(|l| l.trim() == "medium: Memory").count();
        let root_path = "/data00".to_string();
        let tmpfs: Vec<String> = mounts.iter().filter(|m| **m != root_path).cloned().collect();
        assert!(mounts.contains(&root_path), "examples/pod.yaml mounts no {root_path}");
        assert_eq!(memory, tmpfs.len(), "examples/pod.yaml: one memory emptyDir per other mount");
        // `seccompProfile:` and its `type:` on the next line that is not a comment.
        let mut lines = src.lines().map(str::trim).filter(|l| !l.starts_with('#'));
        let seccomp = lines
            .by_ref()
            .find(|l| *l == "seccompProfile:")
            .and_then(|_| lines.next())
            .and_then(|l| l.strip_prefix("type:"))
            .map(|t| t.trim().to_string())
            .unwrap_or_else(|| panic!("examples/pod.yaml states no seccompProfile type"));
        let args = yaml_list(&value("args:"));
        Pod { args, caps: yaml_list(&value("add:")), seccomp, root_path, tmpfs }
    }
}

/// The Pod of examples/pod.yaml run by dockerd's containerd with `ctr run --seccomp`
/// (containerd's default profile, Kubernetes' RuntimeDefault), as the kubelet would through
/// CRI: the image imported from Docker into the namespace `nestinit-test`, the Pod's
/// capabilities, its hostPath as a bind of a throwaway guest root, its memory emptyDirs as
/// tmpfs, the cgroup mount CRI adds on cgroup v1 (read-only), a cgroup of its own, and a
/// terminal: `ctr run -t` runs under `script`, which gives it a pty and copies the console to
/// a file. `ctr run` ends with the task's exit status. On drop: the task killed and deleted,
/// the container with its snapshot, the image and the namespace removed.
pub struct ContainerdGuest {
    docker: &'static Docker,
    id: String,
    child: Option<Child>,
    dir: PathBuf,
    execs: usize,
    removed: bool,
    _root: GuestRoot,
    _cgroup: CgroupTrees,
}

impl ContainerdGuest {
    pub fn start(docker: &'static Docker, rootfs: &Path) -> ContainerdGuest {
        let pod = Pod::read();
        assert_eq!(pod.seccomp, "RuntimeDefault", "examples/pod.yaml's seccompProfile");
        let (cgroup, parent) = CgroupTrees::fresh(true);
        let root = GuestRoot::new(docker, rootfs);
        let id = fresh_name();
        let dir = docker.dir.join("containerd").join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut g = ContainerdGuest {
            docker,
            id,
            child: None,
            dir,
            execs: 0,
            removed: false,
            _root: root,
            _cgroup: cgroup,
        };
        let started = Instant::now();
        let import = format!(
            "set -o pipefail; {} save {IMAGE} | ctr -a {} -n {NAMESPACE} images import -",
            sh_quote(docker.cli.as_os_str()),
            sh_quote(docker.containerd_sock().as_os_str())
        );
        let mut c = timed("bash");
        c.args(["-c", &import]);
        docker.client_env(&mut c);
        let out = c.output().unwrap();
        assert!(out.status.success(), "docker save | ctr images import: {}", describe(&out));
        eprintln!("e2e-docker: containerd: image imported in {:.2?}", started.elapsed());

        let mut words: Vec<String> = vec!["ctr".into(), "-a".into()];
        words.push(docker.containerd_sock().to_string_lossy().into_owned());
        words.extend(["-n", NAMESPACE, "run", "-t", "--seccomp"].map(String::from));
        words.extend(["--cgroup".to_string(), format!("{parent}/{}", g.id)]);
        for cap in &pod.caps {
            words.extend(["--cap-add".to_string(), format!("CAP_{cap}")]);
        }
        let root = g._root.path().display();
        words.push("--mount".into());
        words.push(format!("type=bind,src={root},dst={},options=rbind:rw", pod.root_path));
        for t in &pod.tmpfs {
            words.push("--mount".into());
            // A memory emptyDir: a tmpfs with tmpfs's own defaults (mode 1777).
            words.push(format!("type=tmpfs,src=tmpfs,dst={t},options=nosuid:nodev"));
        }
        words.push("--mount".into());
        words.push(
            "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev".into(),
        );
        words.extend([IMAGE_REF.to_string(), g.id.clone(), "/init".to_string()]);
        words.extend(pod.args.iter().cloned());
        let mut line = String::from("exec");
        for w in &words {
            line.push(' ');
            line.push_str(&sh_quote(w.as_ref()));
        }
        line.push_str(&format!(" 2>{}", sh_quote(g.dir.join("ctr.err").as_os_str())));
        let console = File::create(g.dir.join("console")).unwrap();
        let script_err = File::create(g.dir.join("script.err")).unwrap();
        let child = Command::new("script")
            .args(["-q", "-e", "-f", "-c", &line, "/dev/null"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/")
            .env("SHELL", "/bin/sh")
            // Held open for the guest's life: at EOF script would type an end-of-file into
            // ctr's terminal, which ctr forwards to the guest's console.
            .stdin(Stdio::piped())
            .stdout(console)
            .stderr(script_err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning script (bsdutils): {e}"));
        g.child = Some(child);
        g
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Kills and deletes the task, deletes the container (and its snapshot), removes the
    /// image and the namespace. Errors of the last two steps are returned.
    fn clean_up(&mut self) -> Result<(), String> {
        self.removed = true;
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = self.docker.ctr(&["task", "kill", "-s", "SIGKILL", &self.id]);
                let started = Instant::now();
                while matches!(child.try_wait(), Ok(None))
                    && started.elapsed() < Duration::from_secs(20)
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.docker.ctr(&["task", "delete", "-f", &self.id]);
        let mut errors = String::new();
        let steps: [&[&str]; 3] = [
            &["containers", "delete", &self.id],
            &["images", "rm", "--sync", IMAGE_REF],
            &["namespaces", "rm", NAMESPACE],
        ];
        for args in steps {
            let mut c = timed("ctr");
            c.arg("-a").arg(self.docker.containerd_sock());
            if args.first() != Some(&"namespaces") {
                c.args(["-n", NAMESPACE]);
            }
            let out = c.args(args).output().unwrap();
            if !out.status.success() {
                errors.push_str(&format!("ctr {}: {}\n", args.join(" "), describe(&out)));
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    /// Removes everything the test put in containerd, which must succeed.
    pub fn remove(&mut self) {
        if let Err(e) = self.clean_up() {
            panic!("containerd: clean-up failed:\n{e}");
        }
    }
}

impl Guest for ContainerdGuest {
    fn init(&mut self, args: &[&str]) -> Output {
        self.execs += 1;
        let exec_id = format!("e2e-{}", self.execs);
        let mut v = vec!["task", "exec", "--exec-id", &exec_id, &self.id, "/init"];
        v.extend_from_slice(args);
        self.docker.ctr(&v)
    }

    fn stop(&mut self) {
        let out = self.docker.ctr(&["task", "kill", "-s", "SIGTERM", &self.id]);
        assert!(out.status.success(), "ctr task kill: {}", describe(&out));
    }

    fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn wait_end(&mut self, timeout: Duration) -> i32 {
        let started = Instant::now();
        let child = self.child.as_mut().expect("already cleaned up");
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                // script -e: ctr run's status, which is the task's.
                return st.code().unwrap_or_else(|| panic!("script killed: {st}"));
            }
            if started.elapsed() > timeout {
                let dump = self.dump();
                panic!("containerd: the task did not end within {timeout:?}\n{dump}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn nestinit_log(&mut self) -> String {
        let console = self.console();
        console.lines().filter(|l| l.starts_with("nestinit:")).collect::<Vec<_>>().join("\n")
    }

    /// The pty's output; a NUL that `ctr run -t` writes first is echoed as `^@`.
    fn console(&mut self) -> String {
        let console = plain(&self.read("console"));
        console.lines().map(|l| l.trim_start_matches("^@")).collect::<Vec<_>>().join("\n")
    }

    fn name(&self) -> &'static str {
        "containerd, RuntimeDefault seccomp"
    }

    fn dump(&mut self) -> String {
        format!(
            "nestinit:\n{}\nconsole:\n{}\nctr run's stderr:\n{}",
            self.nestinit_log(),
            self.console(),
            self.read("ctr.err")
        )
    }
}

impl Drop for ContainerdGuest {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.clean_up();
        }
    }
}
