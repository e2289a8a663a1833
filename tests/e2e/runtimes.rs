//! The three environments the guest boots in: the project's own test container (ctr), podman
//! with runc, and `podman kube play` of examples/pod.yaml. Each is a [`Guest`] that cleans up
//! after itself on drop.

use super::host::CgroupTrees;
use super::{
    describe, kill_pids, manifest_dir, plain, script, sh_quote, text, timed, Guest, Setup, GUEST,
    IMAGE, POD, POD_CONTAINER, POD_HOST_PATH,
};
use crate::common::container::{ctr, host_mounts};
use crate::common::{nestinit, TempDir};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The project's own test container

/// ctr around nestinit and the cached rootfs, with a private cgroup namespace, a devpts of its
/// own, and a pty as /dev/console: `script` gives ctr a pty on stdin, which ctr binds at
/// /dev/console (its path from realpath("/dev/stdin")); systemd prints its status there, and
/// script copies it to the `console` file. ctr's own stdout and stderr go to files.
pub struct CtrGuest {
    cgroup: CgroupTrees,
    child: Option<Child>,
    pid: u32,
    dir: TempDir,
}

impl CtrGuest {
    pub fn start(s: &Setup, init_args: &[&str]) -> CtrGuest {
        let (cgroup, _) = CgroupTrees::fresh(false);
        let dir = TempDir::new();
        let scratch = dir.join("root");
        std::fs::create_dir(&scratch).unwrap();
        let mut words: Vec<OsString> = vec![script("in-cgroup").into()];
        words.extend(cgroup.procs_files().into_iter().map(PathBuf::into_os_string));
        words.push("--".into());
        words.push(ctr().into());
        for a in
            ["--init".as_ref(), nestinit().as_os_str(), "--scratch".as_ref(), scratch.as_os_str()]
        {
            words.push(a.to_owned());
        }
        words.extend(["--pidfile".into(), dir.join("pid").into_os_string()]);
        words.extend(["--volume".into(), s.rootfs.clone().into_os_string()]);
        words.extend(
            ["--cgroupns", "--devpts", "--bind-file", "/dev/stdin:/dev/console"]
                .map(OsString::from),
        );
        words.push("--".into());
        words.extend(init_args.iter().map(OsString::from));
        let mut line = String::from("exec");
        for w in &words {
            line.push(' ');
            line.push_str(&sh_quote(w));
        }
        line.push_str(&format!(
            " >{} 2>{}",
            sh_quote(dir.join("stdout").as_os_str()),
            sh_quote(dir.join("stderr").as_os_str())
        ));
        let console = File::create(dir.join("console")).unwrap();
        let script_err = File::create(dir.join("script.err")).unwrap();
        let mut child = Command::new("script")
            .args(["-q", "-e", "-f", "-c", &line, "/dev/null"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/")
            .env("SHELL", "/bin/sh")
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(script_err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning script (bsdutils): {e}"));
        let pidfile = dir.join("pid");
        let started = Instant::now();
        while !pidfile.exists() {
            if let Ok(Some(st)) = child.try_wait() {
                let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
                panic!(
                    "ctr ended ({st}) before writing its pidfile:\n{}{}",
                    read("stderr"),
                    read("script.err")
                );
            }
            assert!(started.elapsed() < Duration::from_secs(15), "no pidfile from ctr");
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        CtrGuest { cgroup, child: Some(child), pid, dir }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Guest for CtrGuest {
    fn init(&mut self, args: &[&str]) -> Output {
        // As `docker exec` does: the container's cgroup, then its mount and PID namespaces
        // (where PID 1 is nestinit and /init is on the root).
        let mut c = timed(script("in-cgroup").to_str().unwrap());
        c.args(self.cgroup.procs_files()).arg("--");
        c.args(["nsenter", "-t", &self.pid.to_string(), "-m", "-p", "--", "/init"]).args(args);
        c.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        c.output().unwrap()
    }

    fn stop(&mut self) {
        crate::common::kill(self.pid, crate::common::SIGTERM);
    }

    fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn wait_end(&mut self, timeout: Duration) -> i32 {
        let started = Instant::now();
        let child = self.child.as_mut().expect("already waited");
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                // script -e: ctr's status, which is /init's.
                return st.code().unwrap_or_else(|| panic!("script killed: {st}"));
            }
            if started.elapsed() > timeout {
                let dump = self.dump();
                panic!("ctr: the container did not end within {timeout:?}\n{dump}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn nestinit_log(&mut self) -> String {
        plain(&self.read("stderr"))
    }

    fn console(&mut self) -> String {
        plain(&self.read("console"))
    }

    fn name(&self) -> &'static str {
        "ctr"
    }
}

impl Drop for CtrGuest {
    fn drop(&mut self) {
        // The container's PID 1 takes its PID namespace with it; the cgroup guard then kills
        // anything left (ctr itself) and removes the cgroup.
        kill_pids(&[self.pid]);
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn ctr_guest(s: &Setup, nestinit_opts: &[&str]) -> CtrGuest {
    let mut args = nestinit_opts.to_vec();
    args.extend(GUEST);
    CtrGuest::start(s, &args)
}

// ---------------------------------------------------------------------------------------------
// podman with runc

/// A podman with all its state in a temp dir (`--root`, `--runroot`, `--tmpdir`, its own
/// containers.conf), the nestinit image built into it from the Dockerfile, and a cgroup of its
/// own for the containers (`--cgroup-parent`). On drop: every container and pod removed, what
/// is left in its cgroups killed, the cgroups and the storage removed.
pub struct Podman {
    _cgroup: CgroupTrees,
    cgroup_rel: String,
    /// For `kube play`: the `libpod_parent` cgroups podman creates for pods.
    pod_cgroups: Option<CgroupTrees>,
    dir: TempDir,
}

impl Podman {
    pub fn new(for_pods: bool) -> Podman {
        let (_cgroup, cgroup_rel) = CgroupTrees::fresh(true);
        let pod_cgroups = for_pods.then(|| CgroupTrees::absent_at_top("libpod_parent"));
        let dir = TempDir::new();
        for d in ["root", "runroot", "tmp", "context/target/release"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        // `podman kube play` takes no --ulimit: the defaults say it. Containers get no
        // private cgroup namespace from containers.conf on a cgroup v1 host (podman 4.3 reads
        // `cgroupns` only on v2), hence none here.
        std::fs::write(
            dir.join("containers.conf"),
            "[containers]\n\
             default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
             [engine]\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             runtime = \"runc\"\n",
        )
        .unwrap();
        let p = Podman { _cgroup, cgroup_rel, pod_cgroups, dir };
        p.build_image();
        p
    }

    /// `podman build` of the top-level Dockerfile, offline (FROM scratch), in a context that
    /// holds the binary under test where the Dockerfile COPYs it from.
    fn build_image(&self) {
        let ctx = self.dir.join("context");
        std::fs::copy(manifest_dir().join("Dockerfile"), ctx.join("Dockerfile")).unwrap();
        std::fs::copy(nestinit(), ctx.join("target/release/nestinit")).unwrap();
        let started = Instant::now();
        let out =
            self.run(&["build", "--network", "none", "-q", "-t", IMAGE, ctx.to_str().unwrap()]);
        assert!(out.status.success(), "podman build: {}", describe(&out));
        eprintln!("e2e: podman build {IMAGE} in {:.2?}", started.elapsed());
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = timed("podman");
        let d = |n: &str| self.dir.join(n).into_os_string();
        c.arg("--root").arg(d("root")).arg("--runroot").arg(d("runroot"));
        c.arg("--tmpdir").arg(d("tmp"));
        c.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]);
        c.args(args);
        c.env("CONTAINERS_CONF", d("containers.conf"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap_or_else(|e| panic!("running podman: {e}"))
    }

    /// Unmounts what podman could leave under its storage (overlays, shm) before removal.
    fn unmount_leftovers(&self) {
        let root = self.dir.path().to_path_buf();
        let mut under: Vec<String> = host_mounts()
            .into_iter()
            .map(|m| m.mount_point)
            .filter(|m| Path::new(m).starts_with(&root))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = Command::new("umount").args(["-l", &m]).stderr(Stdio::null()).status();
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd(&["pod", "rm", "-a", "-f", "-t", "0"]).output();
        let _ = self.cmd(&["rm", "-a", "-f", "-t", "0"]).output();
        if let Some(pods) = self.pod_cgroups.take() {
            drop(pods);
        }
        self.unmount_leftovers();
        // Then the fields: the cgroup guard kills and removes, the temp dir goes.
    }
}

/// A container run from the nestinit image with the flags of docs/design.md#testing, a terminal
/// (its /dev/console) and the cached rootfs as /data00.
pub struct PodmanGuest {
    podman: Podman,
    name: String,
    /// "podman" or "kube", for messages.
    label: &'static str,
}

impl PodmanGuest {
    pub fn start(s: &Setup, nestinit_opts: &[&str]) -> PodmanGuest {
        PodmanGuest::start_with(s, &[], nestinit_opts, None)
    }

    /// With `podman_opts` for `podman run` besides the usual ones, and podman's own
    /// `NOTIFY_SOCKET` (as a systemd unit of `Type=notify` gives it) when `notify` is given.
    pub fn start_with(
        s: &Setup,
        podman_opts: &[&str],
        nestinit_opts: &[&str],
        notify: Option<&Path>,
    ) -> PodmanGuest {
        let podman = Podman::new(false);
        let name = format!("nestinit-e2e-{}", std::process::id());
        let volume = format!("{}:/data00", s.rootfs.display());
        let parent = podman.cgroup_rel.clone();
        let mut args = vec!["run", "-d", "-t", "--name", &name, "--network", "none"];
        args.extend(["--cgroupns=private", "--cgroup-parent", &parent]);
        args.extend(["--cap-add", "SYS_ADMIN,SYS_BOOT"]);
        args.extend(["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]);
        args.extend(["--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp"]);
        args.extend(podman_opts);
        args.extend(["-v", &volume, IMAGE]);
        args.extend(nestinit_opts);
        args.extend(GUEST);
        let mut run = podman.cmd(&args);
        if let Some(n) = notify {
            run.env("NOTIFY_SOCKET", n);
        }
        let out = run.output().unwrap_or_else(|e| panic!("running podman: {e}"));
        assert!(out.status.success(), "podman run: {}", describe(&out));
        PodmanGuest { podman, name, label: "podman" }
    }

    fn state(&mut self) -> (String, i32) {
        let out = self.podman.run(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            &self.name,
        ]);
        let t = text(&out.stdout);
        let mut f = t.split_whitespace();
        let status = f.next().unwrap_or("gone").to_string();
        let code = f.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
        (status, code)
    }

    fn logs(&mut self) -> String {
        let out = self.podman.run(&["logs", &self.name]);
        plain(&format!("{}{}", text(&out.stdout), text(&out.stderr)))
    }
}

impl Guest for PodmanGuest {
    fn init(&mut self, args: &[&str]) -> Output {
        let mut v = vec!["exec", &self.name, "/init"];
        v.extend_from_slice(args);
        self.podman.run(&v)
    }

    fn stop(&mut self) {
        // Longer than nestinit's own 10 s stop timeout: a SIGKILL would be nestinit's, and
        // show in its log.
        let out = self.podman.run(&["stop", "-t", "30", &self.name]);
        assert!(out.status.success(), "podman stop: {}", describe(&out));
    }

    fn is_running(&mut self) -> bool {
        self.state().0 == "running"
    }

    fn wait_end(&mut self, timeout: Duration) -> i32 {
        let started = Instant::now();
        loop {
            let (status, code) = self.state();
            if status == "exited" || status == "stopped" {
                return code;
            }
            if started.elapsed() > timeout {
                let dump = self.dump();
                panic!("podman: the container is {status} after {timeout:?}\n{dump}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn nestinit_log(&mut self) -> String {
        self.logs().lines().filter(|l| l.starts_with("nestinit:")).collect::<Vec<_>>().join("\n")
    }

    fn console(&mut self) -> String {
        self.logs()
    }

    fn name(&self) -> &'static str {
        self.label
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes: examples/pod.yaml under `podman kube play`

/// The Pod of examples/pod.yaml, played with its hostPath pointed at the cached rootfs;
/// `podman kube down` on drop.
pub struct KubeGuest {
    pub guest: PodmanGuest,
    yaml: PathBuf,
}

/// Whether nestinit gives the guest a cgroup namespace of its own, seen from a guest command
/// (`readlink /proc/self/ns/cgroup`) in a test container that has none.
fn guest_has_own_cgroupns(s: &Setup) -> bool {
    let mut c = timed(ctr().to_str().unwrap());
    c.arg("--init").arg(nestinit()).arg("--volume").arg(&s.rootfs);
    c.args(["--", "/usr/bin/readlink", "/proc/self/ns/cgroup"]);
    let out = c.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").output().unwrap();
    let host = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    assert!(out.status.success(), "readlink in a guest: {}", describe(&out));
    text(&out.stdout).trim() != host.to_string_lossy()
}

impl KubeGuest {
    pub fn play(s: &Setup) -> KubeGuest {
        // podman 4.3 gives a pod's containers no private cgroup namespace on a cgroup v1 host
        // (it reads containers.conf's `cgroupns` on v2 only) and kube play has no flag for
        // it. In the host's namespace systemd cannot find its cgroup ("Failed to allocate
        // manager object") and, worse, mounts cgroup2 with nsdelegate, which changes the
        // host's cgroup2 for everyone (docs/design.md#testing). Only a guest in a cgroup
        // namespace of its own is safe to play.
        assert!(
            guest_has_own_cgroupns(s),
            "nestinit gives the guest no cgroup namespace of its own: the pod is not played, \
             since its systemd would set nsdelegate on the host's cgroup2 (see KubeGuest::play)"
        );
        let podman = Podman::new(true);
        let src = std::fs::read_to_string(manifest_dir().join("examples/pod.yaml")).unwrap();
        assert!(src.contains(&format!("image: {IMAGE}")), "examples/pod.yaml must run {IMAGE}");
        assert!(src.contains(&format!("path: {POD_HOST_PATH}")), "examples/pod.yaml hostPath");
        assert!(src.contains(&format!("name: {POD}")), "examples/pod.yaml's Pod name");
        let yaml = podman.dir.join("pod.yaml");
        let played = src
            .replace(&format!("path: {POD_HOST_PATH}"), &format!("path: {}", s.rootfs.display()));
        std::fs::write(&yaml, played).unwrap();
        let out = podman.run(&["kube", "play", "--network", "none", yaml.to_str().unwrap()]);
        let guest = PodmanGuest { podman, name: POD_CONTAINER.to_string(), label: "kube" };
        let k = KubeGuest { guest, yaml };
        assert!(out.status.success(), "podman kube play: {}", describe(&out));
        k
    }

    /// `podman kube down`, which must succeed.
    pub fn down(&mut self) {
        let out = self.guest.podman.run(&["kube", "down", self.yaml.to_str().unwrap()]);
        assert!(out.status.success(), "podman kube down: {}", describe(&out));
    }
}

impl Drop for KubeGuest {
    fn drop(&mut self) {
        let _ = self.guest.podman.run(&["kube", "down", self.yaml.to_str().unwrap_or("")]);
    }
}
