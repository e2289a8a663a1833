//! The host's side of the end-to-end tests: what must be unchanged afterwards (mounts, the
//! cgroup tree, cgroup mount options), the cgroups the tests put their containers in, and the
//! lock that keeps e2e tests of every checkout on the machine from overlapping.

use super::{kill_pids, Child, Command, Stdio};
use crate::common::container::{host_mounts, HostMount};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The host's state: mounts, cgroup tree, cgroup mount options

/// The host's cgroup hierarchies (mount points of cgroup and cgroup2 file systems), each with
/// the test's own cgroup in it ("/" when it cannot be told).
fn hierarchies() -> Vec<(PathBuf, String)> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    // "ID:CONTROLLERS:PATH"; cgroup2's line has no controllers.
    let own: Vec<(Vec<&str>, &str)> = own
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, c, p) = (f.next()?, f.next()?, f.next()?);
            Some((c.split(',').filter(|c| !c.is_empty()).collect(), p))
        })
        .collect();
    let mut v: Vec<(PathBuf, String)> = host_mounts()
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| {
            let opts: Vec<&str> = m.super_options.split(',').collect();
            let path = own
                .iter()
                .find(|(ctls, _)| {
                    if m.fstype == "cgroup2" {
                        ctls.is_empty()
                    } else {
                        !ctls.is_empty() && ctls.iter().all(|c| opts.contains(c))
                    }
                })
                .map_or("/", |(_, p)| *p);
            (PathBuf::from(&m.mount_point), path.to_string())
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// `hierarchy` + `path` (a cgroup path, absolute within the hierarchy).
fn cgroup_dir(hierarchy: &Path, path: &str) -> PathBuf {
    hierarchy.join(path.trim_start_matches('/'))
}

/// Subdirectories of `dir`, as paths, sorted.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[derive(Debug, PartialEq)]
pub struct HostState {
    mounts: Vec<HostMount>,
    /// "MOUNT_POINT OPTIONS FSTYPE SUPER_OPTIONS" of the mounts at and under /sys/fs/cgroup.
    cgroup_options: Vec<String>,
    /// The cgroup directories at depth 1 of every hierarchy and of the test's own cgroup.
    cgroup_dirs: Vec<PathBuf>,
}

impl HostState {
    pub fn capture() -> HostState {
        let mounts = host_mounts();
        let cgroup_options = mounts
            .iter()
            .filter(|m| Path::new(&m.mount_point).starts_with("/sys/fs/cgroup"))
            .map(|m| format!("{} {} {} {}", m.mount_point, m.options, m.fstype, m.super_options))
            .collect();
        let mut cgroup_dirs = Vec::new();
        for (h, own) in hierarchies() {
            cgroup_dirs.extend(subdirs(&h));
            if own != "/" {
                cgroup_dirs.extend(subdirs(&cgroup_dir(&h, &own)));
            }
        }
        cgroup_dirs.sort();
        cgroup_dirs.dedup();
        HostState { mounts, cgroup_options, cgroup_dirs }
    }

    pub fn assert_unchanged(&self) {
        let now = HostState::capture();
        if *self == now {
            return;
        }
        fn diff<T: PartialEq + std::fmt::Debug>(what: &str, before: &[T], after: &[T]) -> String {
            let gone: Vec<_> = before.iter().filter(|x| !after.contains(x)).collect();
            let new: Vec<_> = after.iter().filter(|x| !before.contains(x)).collect();
            if gone.is_empty() && new.is_empty() {
                return String::new();
            }
            format!("{what}:\n  gone: {gone:#?}\n  new: {new:#?}\n")
        }
        panic!(
            "the host changed during the test:\n{}{}{}",
            diff("cgroup mount options", &self.cgroup_options, &now.cgroup_options),
            diff("cgroup directories", &self.cgroup_dirs, &now.cgroup_dirs),
            diff("mounts", &self.mounts, &now.mounts),
        );
    }
}

/// One e2e test at a time on the whole machine, whichever checkout or `cargo test` runs it:
/// the host checks compare the machine's cgroup tree and mounts before and after. Held by a
/// `flock` child process for as long as its stdin is open, so a dying test releases it.
pub struct MachineLock(Child);

impl MachineLock {
    pub fn take() -> MachineLock {
        use std::io::BufRead;
        let path = std::env::temp_dir().join("nestinit-e2e.lock");
        let mut child = Command::new("flock")
            .args(["-w", "900"])
            .arg(&path)
            .args(["sh", "-c", "echo locked; exec cat >/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running flock: {e}"));
        let mut line = String::new();
        let out = child.stdout.take().expect("piped");
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        assert_eq!(
            line,
            "locked\n",
            "another end-to-end run held {} for 15 minutes",
            path.display()
        );
        MachineLock(child)
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Cgroups the tests create, removed with everything in them

/// Cgroup subtrees to clean up on drop: every process in them is SIGKILLed, then they are
/// removed deepest first.
pub struct CgroupTrees {
    roots: Vec<PathBuf>,
}

/// The prefix of the cgroups the tests create: `nestinit-e2e-PID-N`.
const CGROUP_PREFIX: &str = "nestinit-e2e-";

impl CgroupTrees {
    /// A fresh cgroup `nestinit-e2e-PID-N` in every hierarchy: below the test's own cgroup
    /// of each, or, `at_top`, at the top of every hierarchy (a runtime's `--cgroup-parent`
    /// is one path for all of them). No other directory is created on the way. Returns it
    /// with its path within the hierarchies when `at_top`.
    pub fn fresh(at_top: bool) -> (CgroupTrees, String) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name =
            format!("{CGROUP_PREFIX}{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let mut trees = CgroupTrees { roots: Vec::new() };
        for (h, own) in hierarchies() {
            let parent = if at_top { h.clone() } else { cgroup_dir(&h, &own) };
            let p = parent.join(&name);
            std::fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
            trees.roots.push(p.clone());
            // A new v1 cpuset cgroup has no CPUs or memory nodes: nothing could join it.
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(parent.join(f)) {
                    let _ = std::fs::write(p.join(f), v.trim());
                }
            }
        }
        (trees, format!("/{name}"))
    }

    /// The `NAME` cgroups at the top of the hierarchies where there is none yet (podman's
    /// `libpod_parent`, which `kube play` uses with no way to choose another).
    pub fn absent_at_top(name: &str) -> CgroupTrees {
        let roots =
            hierarchies().into_iter().map(|(h, _)| h.join(name)).filter(|p| !p.exists()).collect();
        CgroupTrees { roots }
    }

    /// The cgroups of earlier runs that died before cleaning up: `nestinit-e2e-PID-N` where
    /// no process PID runs.
    pub fn stale() -> CgroupTrees {
        let mut roots = Vec::new();
        for (h, own) in hierarchies() {
            for d in subdirs(&h).into_iter().chain(subdirs(&cgroup_dir(&h, &own))) {
                let name =
                    d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let pid = name.strip_prefix(CGROUP_PREFIX).and_then(|r| r.split('-').next());
                if pid.is_some_and(|p| !Path::new("/proc").join(p).exists()) && !roots.contains(&d)
                {
                    roots.push(d);
                }
            }
        }
        CgroupTrees { roots }
    }

    /// cgroup.procs of each root, for tests/e2e/in-cgroup.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.roots.iter().map(|r| r.join("cgroup.procs")).collect()
    }

    /// `root` and every cgroup below it, parents first.
    fn tree(root: &Path) -> Vec<PathBuf> {
        let mut all = vec![root.to_path_buf()];
        let mut i = 0;
        while let Some(d) = all.get(i).cloned() {
            all.extend(subdirs(&d));
            i += 1;
        }
        all
    }

    /// Every process in the trees.
    fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = Vec::new();
        for root in &self.roots {
            for d in CgroupTrees::tree(root) {
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                pids.extend(procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
            }
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }
}

impl Drop for CgroupTrees {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let pids = self.pids();
            kill_pids(&pids);
            let mut left = false;
            for root in &self.roots {
                for d in CgroupTrees::tree(root).into_iter().rev() {
                    if std::fs::remove_dir(&d).is_err() && d.exists() {
                        left = true;
                    }
                }
            }
            if !left || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
