//! Black-box tests of `/init exec`, `/init getshell` and `/init status`: the real release
//! binary as PID 1 of a throwaway test container (tests/helpers/ctr.c) with a busybox guest
//! running, entered the way `docker exec` does it: `nsenter -t <host pid of /init> -m -p --
//! /init exec ...`. Needs root. Every container is stopped cleanly at the end of its test and
//! the host's mount table is checked to be unchanged (a failing test kills it instead).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::container::*;
use common::*;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;

/// How long one `nsenter ... /init ...` may take.
const CMD_TIMEOUT: Duration = Duration::from_secs(20);

/// The guest init of most tests: a shell that stays up, ends with 0 on SIGTERM (so the
/// container stops at once and cleanly) and says when its trap is set.
const SH_GUEST: &str = "trap 'exit 0' TERM; echo up > /guest-ready; sleep 1000 & wait";

/// How a command ended.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with stdin from /dev/null, failing the test after [`CMD_TIMEOUT`] (whatever is
/// left of it runs in the container and dies with it).
fn run_timed(mut cmd: Command) -> Out {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CMD_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within {CMD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (stdout, stderr) = (t_out.join().unwrap(), t_err.join().unwrap());
    let code = status.code().unwrap_or_else(|| panic!("{cmd:?} killed: {status}; {stderr}"));
    Out { code, stdout, stderr }
}

/// A running container with a guest, stopped cleanly by [`Guest::stop`] (or killed, with
/// everything in it, when a failing test drops it).
struct Guest {
    ctr: Container,
    fs: Rootfs,
    pid: u32,
}

impl Guest {
    /// A container whose guest init is `/bin/sh -c SH_GUEST`, up and with its trap set.
    fn sh() -> Guest {
        let fs = Rootfs::busybox();
        let ctr = Ctr::new(&fs).init(&["--", "/bin/sh", "-c", SH_GUEST]);
        let mut g = Guest::start(fs, ctr);
        let ready = g.fs.guest_path("/guest-ready");
        let start = Instant::now();
        while !ready.exists() {
            assert!(g.ctr.is_running(), "the container ended before the guest was up");
            assert!(start.elapsed() < FILE_TIMEOUT, "the guest did not come up");
            std::thread::sleep(Duration::from_millis(5));
        }
        g
    }

    fn start(fs: Rootfs, ctr: Ctr) -> Guest {
        let mut ctr = ctr.start();
        let pid = ctr.pid();
        ctr.wait_blocking();
        Guest { ctr, fs, pid }
    }

    /// `nsenter -t PID -m -p -- /init ARGS...`, as `docker exec` does, with only PATH set.
    fn init_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-m", "-p", "--", "/init"]).args(args);
        c.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        c
    }

    fn init(&self, args: &[&str]) -> Out {
        run_timed(self.init_cmd(args))
    }

    /// `/init exec ARGS...`.
    fn exec(&self, args: &[&str]) -> Out {
        let mut v = vec!["exec"];
        v.extend_from_slice(args);
        self.init(&v)
    }

    /// Stops the container with SIGTERM and checks it ends with `code` (and, through
    /// [`Container::wait`], that the host's mount table is unchanged).
    fn stop(mut self, code: i32) {
        self.ctr.signal(SIGTERM);
        let out = self.ctr.wait();
        assert_eq!(out.code, code, "container exit; stderr:\n{}", out.stderr);
    }
}

fn assert_ok(out: &Out) {
    assert_eq!(out.code, 0, "exit status; {out:#?}");
}

/// Polls for a file in the volume and returns its text.
fn wait_volume_file(g: &Guest, name: &str) -> String {
    wait_file(&g.fs.guest_path(name))
}

/// The host PID of the `/init exec` process started by the nsenter process `nsenter_pid`
/// (nsenter forks to enter the PID namespace; its child execs /init).
fn exec_parent_of(nsenter_pid: u32) -> u32 {
    let mut found = None;
    wait_until("nsenter's child to become /init exec", FILE_TIMEOUT, || {
        found = all_processes().into_iter().find(|&(pid, _, ppid)| {
            ppid == nsenter_pid
                && status_field(pid, "Name").is_some_and(|n| n == "init")
                && !descendants(pid).is_empty()
        });
        found.is_some()
    });
    found.unwrap().0
}

// ---------------------------------------------------------------------------------------------
// exec: where the command runs, what comes back

#[test]
fn exec_runs_in_the_guest_with_its_proc_root_and_pid_namespace() {
    let g = Guest::sh();
    let out = g.exec(&["/bin/guest", "report"]);
    assert_ok(&out);
    let r = Report::parse(&out.stdout);
    assert_eq!(r.must("cmdline1"), format!("/bin/sh -c {SH_GUEST}"), "/proc is the guest's");
    assert_eq!(r.must("root_marker"), g.fs.token(), "/ is the volume");
    assert_eq!(r.must("proc1_root"), "/");
    // Its PID is one of the guest's namespace: a small number, alone in NSpid (the guest's
    // /proc shows no outer level), and not a host PID of anything ours.
    let pid: u32 = r.must("pid").parse().unwrap();
    assert!(pid > 1 && pid < 100, "pid {pid} is not a fresh guest PID");
    assert_eq!(r.must("nspid"), pid.to_string(), "one PID namespace level in the guest's /proc");
    // Its parent (the exec process) stays outside the guest's PID namespace.
    assert_eq!(r.must("ppid"), "0");
    // $$ of a shell run through PATH (no leading slash) is a guest PID too.
    let out = g.exec(&["sh", "-c", "echo pid=$$; pwd"]);
    assert_ok(&out);
    let mut lines = out.stdout.lines();
    let sh_pid: u32 = lines.next().unwrap().strip_prefix("pid=").unwrap().parse().unwrap();
    assert!(sh_pid > 1 && sh_pid < 100, "{out:?}");
    assert_eq!(lines.next(), Some("/"), "cwd is the guest's root");
    g.stop(0);
}

#[test]
fn exec_exit_codes_come_back() {
    let g = Guest::sh();
    assert_eq!(g.exec(&["true"]).code, 0);
    assert_eq!(g.exec(&["/bin/guest", "exit", "0"]).code, 0);
    let out = g.exec(&["/bin/sh", "-c", "exit 5"]);
    assert_eq!(out.code, 5, "{out:?}");
    let out = g.exec(&["/bin/sh", "-c", "kill -TERM $$; sleep 5"]);
    assert_eq!(out.code, 128 + SIGTERM, "killed by SIGTERM: {out:?}");
    let out = g.exec(&["/no/such/command"]);
    assert_eq!(out.code, 127, "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line: {out:?}");
    assert!(lines[0].starts_with("nestinit: exec"), "{out:?}");
    let out = g.exec(&["no-such-command-on-path"]);
    assert_eq!(out.code, 127, "{out:?}");
    assert!(out.stderr.starts_with("nestinit: exec"), "{out:?}");
    g.stop(0);
}

#[test]
fn signals_to_exec_reach_the_command() {
    let g = Guest::sh();
    let script = "trap 'echo usr1 >> /sigs' USR1; trap 'echo term >> /sigs; exit 7' TERM; \
                  echo ready > /sig-ready; while :; do sleep 0.05; done";
    let mut cmd = g.init_cmd(&["exec", "/bin/sh", "-c", script]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    wait_volume_file(&g, "/sig-ready");
    let exec_pid = exec_parent_of(child.id());
    let sigs = g.fs.guest_path("/sigs");
    kill(exec_pid, SIGUSR1);
    wait_until("the command to record SIGUSR1", FILE_TIMEOUT, || {
        std::fs::read_to_string(&sigs).is_ok_and(|s| s == "usr1\n")
    });
    kill(exec_pid, SIGTERM);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(started.elapsed() < CMD_TIMEOUT, "exec did not end after SIGTERM");
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(7), "the command's trap exit; stderr: {err}");
    assert_eq!(read(&sigs), "usr1\nterm\n");
    g.stop(0);
}

#[test]
fn twenty_concurrent_execs() {
    let g = Guest::sh();
    let children: Vec<_> = (0..20)
        .map(|i| {
            let mut c =
                g.init_cmd(&["exec", "/bin/sh", "-c", "echo out-$0-$((1+$0))", &i.to_string()]);
            c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            (i, c.spawn().unwrap())
        })
        .collect();
    let started = Instant::now();
    for (i, mut child) in children {
        while child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < CMD_TIMEOUT, "exec {i} did not end");
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), out.stderr.len());
        assert_eq!(out.status.code(), Some(0), "exec {i}: {out:?}");
        assert_eq!(stdout, format!("out-{i}-{}\n", i + 1), "exec {i}");
        assert_eq!(stderr, 0, "exec {i}: {out:?}");
    }
    g.stop(0);
}

// ---------------------------------------------------------------------------------------------
// exec: what the command does not get

#[test]
fn exec_command_gets_only_fds_0_1_2() {
    let g = Guest::sh();
    // The caller leaks fds 7 and 9 (no CLOEXEC): they reach nsenter and /init exec...
    let leak = "exec 7</dev/null 9>/dev/null; exec \"$@\"";
    let mut control = Command::new("sh");
    control.args(["-c", leak, "sh", &guest().display().to_string(), "fds"]);
    let out = run_timed(control);
    let fds: Vec<&str> = out.stdout.trim_end().trim_start_matches("fds=").split(' ').collect();
    assert!(fds.contains(&"7") && fds.contains(&"9"), "control: the leak works; {out:?}");
    // ...but not the command.
    let inner = g.init_cmd(&["exec", "/bin/guest", "fds"]);
    let mut leaky = Command::new("sh");
    leaky.arg("-c").arg(leak).arg("sh").arg(inner.get_program()).args(inner.get_args());
    leaky.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    let out = run_timed(leaky);
    assert_ok(&out);
    assert_eq!(out.stdout, "fds=0 1 2\n", "{out:?}");
    // A shell's own descriptors say the same.
    let out = g.exec(&["/bin/sh", "-c", "ls /proc/$$/fd; true"]);
    assert_ok(&out);
    let fds: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2"], "{out:?}");
    g.stop(0);
}

/// The exec process stays non-dumpable while it waits for the command (a guest process
/// cannot ptrace it or open its /proc/PID/exe, the CVE-2019-5736 path). The kernel shows
/// dumpability nowhere directly, so this uses what it changes: following /proc/PID/exe (the
/// escape path itself) needs PTRACE_MODE_READ. A reader with root's credentials but without
/// CAP_SYS_PTRACE passes that check for a dumpable process whose capabilities are a subset
/// of its own, and fails it for a non-dumpable one. (/proc/PID/environ is no use: this
/// kernel let such a reader open it for a non-dumpable process.) So the whole container (and with it the guest) and the
/// exec process run with CAP_SYS_PTRACE dropped from their bounding sets (the exec process
/// itself must read PID 1's and the guest's /proc/PID/ns, the same check), and the reader
/// is `setpriv --bounding-set -sys_ptrace readlink`. The command, dumpable again after its
/// execve, is the control.
#[test]
fn exec_parent_is_not_dumpable_and_the_container_root_is_out_of_reach() {
    const CAP_SYS_PTRACE: &str = "19";
    let fs = Rootfs::busybox();
    let ctr = Ctr::new(&fs)
        .opts(&["--marker", "/marker-ctr:in-the-container-root"])
        .init(&["--", "/bin/sh", "-c", SH_GUEST]);
    // Bounding sets are per thread and inherited: ctr starts from a thread without it.
    let g = std::thread::spawn(move || {
        use rustix::thread::{remove_capability_from_bounding_set, CapabilitySet};
        remove_capability_from_bounding_set(CapabilitySet::SYS_PTRACE).unwrap();
        Guest::start(fs, ctr)
    })
    .join()
    .unwrap();
    wait_volume_file(&g, "/guest-ready");

    // The container's root is out of reach: its marker is not in the guest, / is the
    // volume, the guest init's root is / and /.. is / too.
    let out = g.exec(&["/bin/guest", "report", "/marker-ctr", "/proc/1/root/marker-ctr"]);
    assert_ok(&out);
    let r = Report::parse(&out.stdout);
    assert_eq!(r.file("/marker-ctr"), "!ENOENT");
    assert_eq!(r.file("/proc/1/root/marker-ctr"), "!ENOENT");
    assert_eq!(r.must("proc1_root"), "/");
    assert_eq!(r.must("root_marker"), g.fs.token());
    let out = g.exec(&["/bin/sh", "-c", "cd /../../..; cat .nestinit-volume"]);
    assert_eq!(out.stdout, g.fs.token(), "/.. is /: {out:?}");

    let script = "echo ready > /dump-ready; sleep 30; true";
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &g.pid.to_string(), "-m", "-p", "--"]);
    cmd.args(["/data00/bin/guest", "drop-bnd", CAP_SYS_PTRACE, "/init", "exec"]);
    cmd.args(["/bin/sh", "-c", script]);
    cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let ready = g.fs.guest_path("/dump-ready");
    let start = Instant::now();
    while !ready.exists() {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("exec ended ({st}) before the command was up: {err}");
        }
        assert!(start.elapsed() < FILE_TIMEOUT, "the command did not come up");
        std::thread::sleep(Duration::from_millis(5));
    }
    let exec_pid = exec_parent_of(child.id());
    let command = descendants(exec_pid)[0];
    let can_open_exe = |pid: u32| {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set", "-sys_ptrace", "--", "readlink", "-v"]);
        c.arg(format!("/proc/{pid}/exe"));
        let out = run_timed(c);
        if out.code != 0 {
            assert!(out.stderr.contains("Permission denied"), "{out:?}");
        }
        out.code == 0
    };
    assert!(can_open_exe(command), "control: the command is dumpable after its exec");
    // Same uid and user namespace, capabilities within the reader's: only dumpability is left
    // to refuse.
    let prm = status_mask(exec_pid, "CapPrm").unwrap();
    assert_eq!(prm & (1 << 19), 0, "the exec process lacks CAP_SYS_PTRACE: {prm:x}");
    assert!(!can_open_exe(exec_pid), "the exec process must be non-dumpable");
    kill(exec_pid, SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
    g.stop(0);
}

// ---------------------------------------------------------------------------------------------
// exec: capabilities

#[test]
fn exec_drops_capabilities_by_flag_and_by_init_drop_cap() {
    let g = Guest::sh();
    let has = |bnd: u64, cap: u32| bnd & (1u64 << cap) != 0;
    let capbnd = |out: &Out| {
        assert_ok(out);
        Report::parse(&out.stdout).capbnd()
    };
    let full = capbnd(&g.exec(&["/bin/guest", "report"]));
    assert!(has(full, CAP_SYS_ADMIN), "control: the guest init has CAP_SYS_ADMIN");
    let flag = capbnd(&g.exec(&["--drop-caps", "cap_sys_admin", "/bin/guest", "report"]));
    assert!(!has(flag, CAP_SYS_ADMIN), "--drop-caps: {flag:x}");
    assert_eq!(flag, full & !(1u64 << CAP_SYS_ADMIN), "only that one is dropped");
    let mut cmd = g.init_cmd(&["exec", "/bin/guest", "report"]);
    cmd.env("INIT_DROP_CAP", "cap_sys_admin,cap_net_raw");
    let env = capbnd(&run_timed(cmd));
    assert!(!has(env, CAP_SYS_ADMIN) && !has(env, CAP_NET_RAW), "INIT_DROP_CAP: {env:x}");
    assert_eq!(env, full & !(1u64 << CAP_SYS_ADMIN) & !(1u64 << CAP_NET_RAW));
    g.stop(0);
}

// ---------------------------------------------------------------------------------------------
// No guest; a read-only container root

#[test]
fn no_guest_exits_3_for_exec_getshell_and_status() {
    let fs = Rootfs::busybox();
    // Child mode: PID 1 has a child, but in its own PID namespace: not a guest.
    let ctr = Ctr::new(&fs).init(&["--mode", "child", "--", "/data00/bin/sleep", "1000"]);
    let g = Guest::start(fs, ctr);
    wait_until("the child-mode command", FILE_TIMEOUT, || !descendants(g.pid).is_empty());
    for args in [&["exec", "true"][..], &["getshell"], &["status"]] {
        let out = g.init(args);
        assert_eq!(out.code, 3, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line: {out:?}");
        assert!(
            lines[0].starts_with("nestinit: ") && lines[0].contains("no guest is running"),
            "{args:?}: {out:?}"
        );
    }
    g.stop(128 + SIGTERM);
}

#[test]
fn a_caller_without_the_containers_privileges_is_told_why() {
    // Without CAP_SYS_PTRACE the caller may not look at the guest's namespaces (the guest
    // keeps it): that is a setup error naming the file, not "no guest".
    let g = Guest::sh();
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &g.pid.to_string(), "-m", "-p", "--"]);
    cmd.args(["/data00/bin/guest", "drop-bnd", "19", "/init", "exec", "true"]);
    cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    let out = run_timed(cmd);
    assert_eq!(out.code, 125, "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {out:?}");
    let line = lines[0];
    assert!(
        line.starts_with("nestinit: read /proc/") && line.contains("/ns/pid: EACCES: "),
        "{out:?}"
    );
    g.stop(0);
}

#[test]
fn exec_works_with_a_read_only_container_root() {
    let g = Guest::sh();
    // Read-only in the container's mount namespace only (the host's table is checked at
    // the end); the mount binary is the guest's busybox, reached through /data00.
    let mut c = Command::new("nsenter");
    c.args(["-t", &g.pid.to_string(), "-m", "-p", "--"]);
    c.args(["/data00/bin/mount", "-o", "remount,bind,ro", "/"]);
    let out = run_timed(c);
    assert_ok(&out);
    let mountinfo = read(std::path::Path::new(&format!("/proc/{}/mountinfo", g.pid)));
    let root = mountinfo
        .lines()
        .filter_map(MountLine::parse)
        .rfind(|m| m.mount_point == "/")
        .expect("a / mount");
    assert!(root.read_only(), "the container root is read-only: {root:?}");
    let out = g.exec(&["/bin/sh", "-c", "cat /.nestinit-volume"]);
    assert_ok(&out);
    assert_eq!(out.stdout, g.fs.token());
    let out = g.init(&["status"]);
    assert_ok(&out);
    g.stop(0);
}

// ---------------------------------------------------------------------------------------------
// getshell under a pseudo-terminal

/// Drives `getshell` on a pty: prints `marker-ok`, `interrupt-secs=S` and `code=N`, or fails
/// with the transcript.
const PTY_SCRIPT: &str = r#"
import os, pty, select, sys, time
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b""
def fail(what):
    sys.stderr.write("%s; transcript:\n%r\n" % (what, buf))
    sys.exit(1)
def expect(needle, timeout):
    global buf
    end = time.monotonic() + timeout
    while needle not in buf:
        left = end - time.monotonic()
        if left <= 0:
            fail("timed out waiting for %r" % needle)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                fail("EOF waiting for %r" % needle)
            buf += data
    buf = buf[buf.index(needle) + len(needle):]
os.write(fd, b"echo marker-$((1+2))\n")
expect(b"marker-3", 10)
print("marker-ok")
os.write(fd, b"echo sleep-$((2+2)); sleep 30\n")
expect(b"sleep-4", 10)
time.sleep(0.3)
t = time.monotonic()
os.write(fd, b"\x03")
os.write(fd, b"echo after-$((3+4))\n")
expect(b"after-7", 10)
print("interrupt-secs=%.2f" % (time.monotonic() - t))
os.write(fd, b"exit 4\n")
end = time.monotonic() + 10
while True:
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try:
            os.read(fd, 4096)
        except OSError:
            pass
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > end:
        fail("getshell did not end after exit 4")
print("code=%d" % os.waitstatus_to_exitcode(status))
"#;

#[test]
fn getshell_on_a_pty_runs_commands_takes_ctrl_c_and_returns_the_exit_code() {
    let g = Guest::sh();
    let nsenter = g.init_cmd(&["getshell"]);
    let mut c = Command::new("python3");
    c.args(["-c", PTY_SCRIPT]).arg(nsenter.get_program()).args(nsenter.get_args());
    c.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for var in ["HOME", "PYENV_ROOT", "PYENV_VERSION"] {
        if let Some(v) = std::env::var_os(var) {
            c.env(var, v);
        }
    }
    let out = run_timed(c);
    assert_eq!(out.code, 0, "{out:#?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"marker-ok"), "{out:#?}");
    let secs: f64 = lines[1].strip_prefix("interrupt-secs=").unwrap().parse().unwrap();
    assert!(secs < 5.0, "Ctrl-C did not interrupt sleep 30 ({secs} s)");
    assert_eq!(lines[2], "code=4", "getshell returns the shell's exit code: {out:#?}");
    g.stop(0);
}

// ---------------------------------------------------------------------------------------------
// status

#[test]
fn status_describes_a_shell_guest() {
    let g = Guest::sh();
    let out = g.init(&["status"]);
    assert_ok(&out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{out:?}");
    let pid: u32 = lines[0].strip_prefix("guest pid ").expect("guest pid").parse().unwrap();
    assert!(pid > 1 && pid < 100, "the guest's PID in the container: {out:?}");
    // A shell announces no readiness: ready once it runs.
    assert_eq!(lines[1], "state ready");
    assert_eq!(lines[2], format!("command /bin/sh -c {SH_GUEST}"));
    assert_eq!(lines[3], "systemd-like no");
    let up = lines[4].strip_prefix("uptime ").and_then(|s| s.strip_suffix(" s")).expect("uptime");
    assert!(up.parse::<u64>().unwrap() < 60, "{out:?}");
    assert_eq!(out.stderr, "");
    g.stop(0);
}

#[test]
fn status_says_systemd_like_for_a_guest_blocking_sigrtmin3() {
    let fs = Rootfs::busybox();
    let ctr = Ctr::new(&fs).shared().init(&["--", "/bin/guest", "block-rtmin3", SHARED]);
    let mut g = Guest::start(fs, ctr);
    g.ctr.wait_shared("ready");
    let out = g.init(&["status"]);
    assert_ok(&out);
    assert!(out.stdout.contains(&format!("\ncommand /bin/guest block-rtmin3 {SHARED}\n")));
    assert!(out.stdout.contains("\nsystemd-like yes\n"), "{out:?}");
    // A stop becomes SIGRTMIN+3, which the guest answers by halting: exit 0.
    g.ctr.signal(SIGTERM);
    let end = g.ctr.wait();
    assert_eq!(end.code, 0, "{}", end.stderr);
    assert_eq!(end.shared_file("got"), Some(format!("got {}", SIGRTMIN + 3).as_str()));
}

/// The guest's command line is the guest's choice: its control bytes (an escape sequence that
/// would recolour or retitle the terminal) come out escaped.
#[test]
fn status_escapes_the_guests_command_line() {
    let fs = Rootfs::busybox();
    let script =
        "trap 'exit 0' TERM; echo up > /guest-ready; sleep 1000 & wait; : \x1b]0;pwned\x07\\";
    let ctr = Ctr::new(&fs).init(&["--", "/bin/sh", "-c", script]);
    let mut g = Guest::start(fs, ctr);
    let ready = g.fs.guest_path("/guest-ready");
    let start = Instant::now();
    while !ready.exists() {
        assert!(g.ctr.is_running() && start.elapsed() < FILE_TIMEOUT, "the guest did not come up");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = g.init(&["status"]);
    assert_ok(&out);
    assert!(!out.stdout.contains('\x1b') && !out.stdout.contains('\x07'), "{out:?}");
    assert!(out.stdout.contains(r"; : \x1b]0;pwned\x07\x5c"), "{out:?}");
    g.stop(0);
}

/// `exec` gets no more than the guest init: a guest with no_new_privs passes it on.
#[test]
fn exec_mirrors_the_guests_no_new_privs() {
    let fs = Rootfs::busybox();
    let ctr = Ctr::new(&fs).init(&["--no-new-privs", "--", "/bin/sh", "-c", SH_GUEST]);
    let g = Guest::start(fs, ctr);
    wait_volume_file(&g, "/guest-ready");
    let out = g.exec(&["/bin/sh", "-c", "grep NoNewPrivs /proc/1/status /proc/self/status"]);
    assert_ok(&out);
    assert_eq!(
        out.stdout, "/proc/1/status:NoNewPrivs:\t1\n/proc/self/status:NoNewPrivs:\t1\n",
        "the guest init and the exec'd command; {out:?}"
    );
    g.stop(0);
}

/// Descriptors the caller leaked are closed before the exec process joins the guest, not
/// only in the command: while the command runs, the exec process holds 0-2 and its pidfd.
#[test]
fn exec_process_holds_no_leaked_descriptor_inside_the_guest() {
    let g = Guest::sh();
    let leak = "exec 7</dev/null 9>/dev/null; exec \"$@\"";
    let inner = g.init_cmd(&["exec", "/bin/sh", "-c", "echo > /exec-up; sleep 30"]);
    let mut leaky = Command::new("sh");
    leaky.arg("-c").arg(leak).arg("sh").arg(inner.get_program()).args(inner.get_args());
    leaky.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    leaky.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = leaky.spawn().unwrap();
    wait_volume_file(&g, "/exec-up");
    let exec_pid = exec_parent_of(child.id());
    let fds: Vec<u32> = std::fs::read_dir(format!("/proc/{exec_pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(!fds.contains(&7) && !fds.contains(&9), "leaked fds reached the guest: {fds:?}");
    assert_eq!(fds.len(), 4, "0, 1, 2 and the pidfd: {fds:?}");
    g.stop(0);
}

/// The supervisor is non-dumpable in nested mode (as is the exec process): a process without
/// CAP_SYS_PTRACE may not follow its /proc/PID/exe, while the guest init is the control.
#[test]
fn supervisor_is_not_dumpable() {
    let fs = Rootfs::busybox();
    let ctr = Ctr::new(&fs).init(&["--", "/bin/sh", "-c", SH_GUEST]);
    // Without CAP_SYS_PTRACE anywhere in the container, the reader's capabilities cover the
    // processes' own, so only dumpability decides.
    let g = std::thread::spawn(move || {
        use rustix::thread::{remove_capability_from_bounding_set, CapabilitySet};
        remove_capability_from_bounding_set(CapabilitySet::SYS_PTRACE).unwrap();
        Guest::start(fs, ctr)
    })
    .join()
    .unwrap();
    wait_volume_file(&g, "/guest-ready");
    let guest_init = descendants(g.pid)[0];
    let readlink = |pid: u32| {
        let mut c = Command::new("setpriv");
        c.args(["--bounding-set", "-sys_ptrace", "readlink", &format!("/proc/{pid}/exe")]);
        run_timed(c)
    };
    assert_eq!(readlink(guest_init).code, 0, "control: the guest init is dumpable");
    let out = readlink(g.pid);
    assert_ne!(out.code, 0, "PID 1's exe was readable: {out:?}");
    g.stop(0);
}

/// `/init exec` under a seccomp profile that refuses pidfd_open (older profiles, Linux before
/// 5.3) names the call rather than claiming no guest runs; one that refuses close_range still
/// gets a command with only 0-2 (the fallback closes what /proc/self/fd lists).
#[test]
fn exec_under_profiles_refusing_newer_calls() {
    let g = Guest::sh();
    for errno in ["ENOSYS", "EPERM"] {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &g.pid.to_string(), "-m", "-p", "--"]);
        cmd.args(["/data00/bin/guest", "seccomp", &format!("pidfd_open:{errno}"), "/init"]);
        cmd.args(["exec", "true"]);
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        let out = run_timed(cmd);
        assert_eq!(out.code, 125, "{errno}: {out:?}");
        let want = format!("nestinit: pin the guest: pidfd_open: {errno}: ");
        assert!(out.stderr.starts_with(&want) && out.stderr.lines().count() == 1, "{out:?}");

        let leak = "exec 7</dev/null 9>/dev/null; exec \"$@\"";
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &g.pid.to_string(), "-m", "-p", "--", "/data00/bin/sh", "-c", leak, "sh"]);
        cmd.args(["/data00/bin/guest", "seccomp", &format!("close_range:{errno}"), "/init"]);
        cmd.args(["exec", "/bin/guest", "fds"]);
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        let out = run_timed(cmd);
        assert_ok(&out);
        assert_eq!(out.stdout, "fds=0 1 2\n", "{errno}: {out:?}");
    }
    g.stop(0);
}

/// `exec` while the guest reboots over and over: each call runs in a guest (0), finds none
/// (3), or has its command killed with the guest's PID namespace (137); it never enters a
/// half-made guest, fails otherwise or hangs.
#[test]
fn exec_during_guest_reboots() {
    let fs = Rootfs::busybox();
    let guest_sh = "n=$(cat /run/n 2>/dev/null || echo 0); echo $((n+1)) > /run/n; \
        [ $n -ge 60 ] && exec /bin/guest poweroff; sleep 0.02; exec /bin/guest reboot";
    let ctr = Ctr::new(&fs).init(&["--", "/bin/sh", "-c", guest_sh]);
    let mut g = Guest::start(fs, ctr);
    let (mut ran, mut none, mut killed) = (0, 0, 0);
    while g.ctr.is_running() {
        let probe = format!("test -e /{VOLUME_MARKER}");
        let out = g.init_cmd(&["exec", "/bin/sh", "-c", &probe]).output().unwrap();
        if !g.ctr.is_running() {
            break; // the container's end may take nsenter with it
        }
        match out.status.code() {
            Some(0) => ran += 1,
            Some(3) => none += 1,
            Some(137) => killed += 1,
            c => {
                // The container's own end (the last power-off) takes nsenter with it.
                std::thread::sleep(Duration::from_millis(300));
                assert!(!g.ctr.is_running(), "exec during reboots ended with {c:?}: {out:?}");
                break;
            }
        }
    }
    let end = g.ctr.wait();
    assert_eq!(end.code, 0, "{}", end.stderr);
    assert!(ran > 0, "no exec ran ({none} found no guest)");
    eprintln!("{ran} execs ran, {none} found no guest, {killed} killed with their guest");
}

// ---------------------------------------------------------------------------------------------
// Readiness and the notify socket (/run/host/notify)

/// Where the guest helper passes for systemd: nestinit waits for the readiness of a guest init
/// of that name.
const FAKE_SYSTEMD: &str = "/usr/lib/systemd/systemd";

impl Guest {
    /// A container whose guest init is the helper installed as systemd, running `guest
    /// notify /shared STEPS...` (tests/helpers/guest.c), with `opts` for nestinit.
    fn notifying(opts: &[&str], steps: &[&str]) -> Guest {
        let fs = Rootfs::busybox();
        mkdir(&fs.guest_path("/usr/lib/systemd"));
        std::fs::copy(guest(), fs.guest_path(FAKE_SYSTEMD)).unwrap();
        let mut args: Vec<&str> = opts.to_vec();
        args.extend(["--", FAKE_SYSTEMD, "notify", SHARED, "mark:started"]);
        args.extend(steps);
        let ctr = Ctr::new(&fs).shared().init(&args);
        let mut g = Guest::start(fs, ctr);
        g.ctr.wait_shared("started");
        g
    }

    /// Creates `name` in the shared directory (a `wait:NAME` step goes on).
    fn go(&self, name: &str) {
        write(&self.ctr.shared_dir().join(name), "go");
    }

    fn state(&self) -> String {
        let out = self.init(&["status"]);
        out.stdout.lines().find_map(|l| l.strip_prefix("state ")).unwrap_or("").to_string()
    }
}

#[test]
fn status_ready_and_exec_wait_follow_the_guests_ready() {
    let g = Guest::notifying(&[], &["wait:go", "send:READY=1|STATUS=up", "term:stopped"]);
    assert_eq!(g.state(), "starting");
    let out = g.init(&["status", "--ready"]);
    assert_eq!(out.code, 1, "not ready yet: {out:#?}");
    assert!(out.stdout.contains("state starting"), "{out:#?}");
    // A short wait ends with no guest to run in, saying why.
    let out = g.exec(&["--wait=1", "true"]);
    assert_eq!(out.code, 3, "{out:#?}");
    assert!(out.stderr.contains("the guest is still starting after 1 s"), "{out:#?}");
    // `exec --wait` started now returns only after READY=1, with the command's own status.
    let mut waiting = g.init_cmd(&["exec", "--wait", "/bin/sh", "-c", "exit 7"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiting.try_wait().unwrap().is_none(), "exec --wait ran before READY=1");
    g.go("go");
    let waited = Instant::now();
    let status = loop {
        if let Some(st) = waiting.try_wait().unwrap() {
            break st;
        }
        assert!(waited.elapsed() < CMD_TIMEOUT, "exec --wait still waiting after READY=1");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(status.code(), Some(7));
    let out = g.init(&["status", "--ready"]);
    assert_ok(&out);
    assert!(out.stdout.contains("state ready"), "{out:#?}");
    // A stop: the guest's handler ran, and the state said so meanwhile.
    g.stop(0);
}

#[test]
fn a_guest_that_announces_nothing_is_ready_once_it_runs() {
    let g = Guest::sh();
    let out = g.init(&["status", "--ready"]);
    assert_ok(&out);
    assert!(out.stdout.contains("state ready"), "{out:#?}");
    assert_ok(&g.exec(&["--wait=1", "true"]));
    g.stop(0);
}

#[test]
fn the_guest_gets_run_host_and_its_notify_socket() {
    let fs = Rootfs::busybox();
    let files = ["/run/host/container-manager", "/run/host/container-uuid"];
    let mut args = vec!["--", "/bin/guest", "report"];
    args.extend(files);
    let out = Ctr::new(&fs).init(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = out.report();
    assert_eq!(r.file(files[0]), "nestinit\n");
    let uuid = r.env_var("container_uuid").expect("container_uuid").to_string();
    assert_eq!(r.file(files[1]), format!("{uuid}\n"));
    assert_eq!(r.env_var("NOTIFY_SOCKET"), Some("/run/host/notify"));
    let host = r.mount_at("/run/host").expect("/run/host mounted");
    assert!(host.options.split(',').any(|o| o == "ro"), "{host:?}");
}

/// What the guest announced before it exited 0 decides: a reboot, a power-off, an exit
/// status. Without an announcement (or after a failure) the exit status stands.
#[test]
fn an_announced_shutdown_decides_without_cap_sys_boot() {
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["send:X_SYSTEMD_SHUTDOWN=reboot", "exit:0"],
            133,
            "guest rebooted: exiting with status 133",
        ),
        (&["send:X_SYSTEMD_SHUTDOWN=poweroff", "exit:0"], 0, "guest powered off or halted"),
        (
            &["send:X_SYSTEMD_SHUTDOWN=exit|EXIT_STATUS=7", "exit:0"],
            7,
            "guest exited with status 7",
        ),
        (&["send:X_SYSTEMD_SHUTDOWN=reboot", "exit:1"], 1, "guest exited with status 1"),
        (&["exit:0"], 0, "guest exited with status 0"),
    ];
    for (steps, code, line) in cases {
        let fs = Rootfs::busybox();
        mkdir(&fs.guest_path("/usr/lib/systemd"));
        std::fs::copy(guest(), fs.guest_path(FAKE_SYSTEMD)).unwrap();
        let mut args = vec!["--on-reboot", "exit", "--drop-caps", "cap_sys_boot", "--"];
        args.extend([FAKE_SYSTEMD, "notify", "/"]);
        args.extend(steps);
        let out = Ctr::new(&fs).init(&args).run();
        assert_eq!(out.code, code, "{steps:?}: {}", out.stderr);
        assert!(out.stderr.contains(line), "{steps:?}: {}", out.stderr);
    }
}

#[test]
fn a_stop_before_the_guest_has_a_handler_is_held_not_lost() {
    let mut g = Guest::notifying(&[], &["sleep:1000", "term:stopped", "mark:handler"]);
    g.ctr.signal(SIGTERM);
    let out = g.ctr.wait();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(9), "the stop timeout struck: {:?}", out.elapsed);
    assert_eq!(out.shared_file("stopped"), Some("term"), "{}", out.stderr);
    assert!(out.stderr.contains("holding it until the guest can take it"), "{}", out.stderr);
    assert!(out.stderr.contains("the guest can take the stop request now: sending SIGTERM"));
}

#[test]
fn a_flood_on_the_notify_socket_changes_nothing() {
    let steps = ["flood:100000", "fds", "big", "child:READY=1", "mark:flooded"];
    let steps = [&steps[..], &["wait:go", "send:READY=1", "term:x"]].concat();
    let mut g = Guest::notifying(&["-v"], &steps);
    wait_until("the flood to end", Duration::from_secs(120), || {
        assert!(g.ctr.is_running(), "the container ended during the flood");
        g.ctr.shared_dir().join("flooded").exists()
    });
    // Nothing in it counted: no READY from a child, an oversized one or junk.
    assert_eq!(g.init(&["status", "--ready"]).code, 1);
    // The 25,000 messages with descriptors attached left none open in PID 1.
    let fds = std::fs::read_dir(format!("/proc/{}/fd", g.pid)).unwrap().count();
    assert!(fds <= 8, "PID 1 holds {fds} descriptors after the flood");
    g.go("go");
    assert_ok(&g.exec(&["--wait=20", "true"]));
    g.ctr.signal(SIGTERM);
    let out = g.ctr.wait();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let drops = out.stderr.matches("notify socket: dropped a message").count();
    assert_eq!(drops, 1, "one line for every dropped message: {}", out.stderr);
}

#[test]
fn readiness_is_reported_to_nestinits_own_notify_socket() {
    let fs = Rootfs::busybox();
    mkdir(&fs.guest_path("/usr/lib/systemd"));
    std::fs::copy(guest(), fs.guest_path(FAKE_SYSTEMD)).unwrap();
    // podman --sdnotify=container binds its socket into the container the same way.
    let outside = TempDir::new();
    let sock = std::os::unix::net::UnixDatagram::bind(outside.join("sock")).unwrap();
    sock.set_read_timeout(Some(FILE_TIMEOUT)).unwrap();
    let mut bind = outside.join("").into_os_string();
    bind.push(":/notify");
    let steps = [FAKE_SYSTEMD, "notify", SHARED, "wait:go", "send:STATUS=almost"];
    let ctr = Ctr::new(&fs).shared().opts(&[std::ffi::OsString::from("--bind-dir"), bind]);
    let ctr = ctr.env("NOTIFY_SOCKET", "/notify/sock").init(&["--"]).init(&steps);
    let mut ctr = ctr.init(&["send:READY=1", "term:x"]).start();
    ctr.wait_blocking();
    let next = || {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).expect("a message on NOTIFY_SOCKET");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(next(), "STATUS=guest starting");
    write(&ctr.shared_dir().join("go"), "go");
    assert_eq!(next(), "STATUS=almost");
    assert_eq!(next(), "READY=1\nSTATUS=guest ready");
    ctr.signal(SIGTERM);
    assert_eq!(next(), "STOPPING=1\nSTATUS=guest stopping");
    assert_eq!(ctr.wait().code, 0);
}

/// `--root /`: the guest runs on the container's own root, and gets /run/host there too (on
/// the container's /run, in the guest's mount namespace only).
#[test]
fn a_guest_on_the_containers_root_gets_run_host_too() {
    let fs = Rootfs::busybox();
    let args = ["--root", "/", "--", "/data00/bin/guest", "report", "/run/host/container-manager"];
    let out = Ctr::new(&fs).init(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = out.report();
    assert_eq!(r.file("/run/host/container-manager"), "nestinit\n");
    assert_eq!(r.env_var("NOTIFY_SOCKET"), Some("/run/host/notify"));
}
