//! Black-box tests of `--mode nested` (the default) and `--mode chroot`: the real release
//! binary as PID 1 of a throwaway test container (tests/helpers/ctr.c) whose /data00 is a
//! busybox guest rootfs with the `guest` helper (tests/helpers/guest.c) as its init. Needs
//! root. Every run checks that the host's mount table is unchanged afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::container::*;
use common::*;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;

/// `-- /bin/guest ARGS...`: the guest's command line for nestinit.
fn guest_cmd(args: &[&str]) -> Vec<String> {
    let mut v = vec!["--".to_string(), "/bin/guest".to_string()];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

fn assert_code(out: &CtrOutcome, code: i32) {
    assert_eq!(out.code, code, "exit status; stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

/// A host file to bind-mount into the container at /etc/hosts.
fn hosts_file(fs: &Rootfs, text: &str) -> String {
    let p = fs.scratch_path("hosts");
    write(&p, text);
    format!("{}:/etc/hosts", p.display())
}

/// Exactly one stderr line, from nestinit, naming `path`: the failure and nothing else.
fn assert_one_error_naming(out: &CtrOutcome, path: &str) {
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected exactly one stderr line, got:\n{}", out.stderr);
    assert!(lines[0].starts_with("nestinit: "), "not a nestinit line: {:?}", lines[0]);
    assert!(lines[0].contains(path), "the error should name {path}: {:?}", lines[0]);
    assert_eq!(out.stdout, "", "the guest must not have run");
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

fn dir_entries(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Isolation: PID namespace, /proc, root, carried mounts

#[test]
fn guest_is_pid1_with_its_own_proc_and_the_volume_as_root() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--marker-run", "run-marker", "--marker-tmp", "tmp-marker", "--devpts"])
        .opts(&["--bind-file", &hosts_file(&fs, "10.1.2.3 bound\n")])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.must("pid"), "1", "the guest is PID 1 of its namespace");
    assert_eq!(r.must("ppid"), "0", "its parent (nestinit) is outside its namespace");
    assert_eq!(r.must("cmdline1"), "/bin/guest report", "/proc is the guest's own");
    assert_eq!(r.must("root_marker"), fs.token(), "the guest's / is the volume");
    assert_eq!(r.must("proc1_root"), "/");
    let root = r.mount_at("/").expect("a / mount");
    assert!(
        root.root.ends_with(&fs.path().display().to_string()),
        "the guest's / is the volume's bind mount: {root:?}"
    );
    let proc = r.mount_at("/proc").expect("a /proc mount");
    assert_eq!(proc.fstype, "proc");
    assert_eq!(r.file("/run/marker"), "run-marker");
    assert_eq!(r.file("/tmp/marker"), "tmp-marker");
    assert_eq!(r.file("/etc/hosts"), "10.1.2.3 bound\n");
    // The container's mounts are in the guest, each on its own path.
    for path in ["/dev", "/dev/null", "/sys", "/run", "/run/lock", "/tmp", "/etc/hosts"] {
        assert!(r.mount_at(path).is_some(), "{path} is not mounted in the guest");
    }
    let dev = r.mount_at("/dev").unwrap();
    let pts = r.mount_at("/dev/pts").expect("/dev/pts");
    assert_eq!((pts.fstype.as_str(), pts.parent), ("devpts", dev.id), "moved with /dev: {pts:?}");
    assert!(out.stderr.contains("guest started"), "{}", out.stderr);
}

/// A container's /proc is mounted in the container's PID namespace, so its
/// /proc/self/status lists one NSpid, as on a machine: that must not make nestinit a
/// machine's PID 1 (which "powers the machine off" when the guest ends).
#[test]
fn a_container_is_not_mistaken_for_a_machine() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["exit", "7"])).run();
    assert!(!out.stderr.contains("machine"), "machine mode in a container:\n{}", out.stderr);
    assert_code(&out, 7);
}

#[test]
fn default_command_is_sbin_init() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.must("pid"), "1");
    assert_eq!(r.must("cmdline1"), "/sbin/init");
    assert_eq!(r.must("root_marker"), fs.token());
}

#[test]
fn busybox_shell_runs_as_the_guest_init() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .init(&["--", "/bin/sh", "-c", "echo shell-pid=$$; cat /.nestinit-volume; echo; exit 7"])
        .run();
    assert_code(&out, 7);
    assert_eq!(out.stdout, format!("shell-pid=1\n{}\n", fs.token()));
}

#[test]
fn missing_etc_hosts_target_is_created() {
    let fs = Rootfs::busybox();
    assert!(!fs.guest_path("/etc").exists(), "the volume has no /etc at all");
    let out = Ctr::new(&fs)
        .opts(&["--bind-file", &hosts_file(&fs, "127.0.0.1 created\n")])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.file("/etc/hosts"), "127.0.0.1 created\n");
    assert!(r.mount_at("/etc/hosts").is_some());
    // Created in the volume: /etc a directory, /etc/hosts an empty file (the mount target).
    let etc = std::fs::symlink_metadata(fs.guest_path("/etc")).unwrap();
    assert!(etc.is_dir());
    let hosts = std::fs::symlink_metadata(fs.guest_path("/etc/hosts")).unwrap();
    assert!(hosts.is_file(), "{hosts:?}");
    assert_eq!(hosts.len(), 0, "the target is an empty file; the content came from the mount");
}

#[test]
fn mount_paths_with_space_tab_newline_and_backslash() {
    let fs = Rootfs::busybox();
    let paths = ["/with space", "/new\nline", "/tab\there", "/back\\slash", "/deep/er sub/x"];
    let mut ctr = Ctr::new(&fs);
    for (i, p) in paths.iter().enumerate() {
        ctr = ctr.opts(&["--tmpfs", p]).opts(&["--marker", &format!("{p}/marker:m{i}")]);
    }
    let files: Vec<String> = paths.iter().map(|p| format!("{p}/marker")).collect();
    let mut args = vec!["report"];
    args.extend(files.iter().map(String::as_str));
    let out = ctr.init(&guest_cmd(&args)).run();
    assert_code(&out, 0);
    let r = out.report();
    for (i, p) in paths.iter().enumerate() {
        assert_eq!(r.file(&format!("{p}/marker")), format!("m{i}"), "{p:?}");
        let m = r.mount_at(p).unwrap_or_else(|| panic!("{p:?} not mounted in the guest"));
        assert_eq!(m.fstype, "tmpfs");
    }
}

#[test]
fn run_and_run2_are_each_carried_to_their_own_place() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--tmpfs", "/run2", "--tmpfs", "/run2/sub", "--marker-run", "in-run"])
        .opts(&["--marker", "/run2/marker:in-run2", "--marker", "/run/lock/marker:in-lock"])
        .opts(&["--marker", "/run2/sub/marker:in-sub"])
        .init(&guest_cmd(&["report", "/run2/marker", "/run/lock/marker", "/run2/sub/marker"]))
        .run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.file("/run/marker"), "in-run");
    assert_eq!(r.file("/run2/marker"), "in-run2");
    assert_eq!(r.file("/run/lock/marker"), "in-lock");
    assert_eq!(r.file("/run2/sub/marker"), "in-sub");
    let root = r.mount_at("/").unwrap();
    let run = r.mount_at("/run").expect("/run");
    let run2 = r.mount_at("/run2").expect("/run2");
    let lock = r.mount_at("/run/lock").expect("/run/lock");
    let sub = r.mount_at("/run2/sub").expect("/run2/sub");
    assert_eq!(run.parent, root.id, "/run hangs off the root: {run:?}");
    assert_eq!(run2.parent, root.id, "/run2 hangs off the root, not /run: {run2:?}");
    assert_eq!(lock.parent, run.id, "/run/lock moved with /run: {lock:?}");
    assert_eq!(sub.parent, run2.id, "/run2/sub moved with /run2: {sub:?}");
    // Nothing mounted twice, nothing stray.
    assert!(!r.mounts().iter().any(|m| m.mount_point.starts_with("/run2/run")));
    assert_eq!(r.mounts().iter().filter(|m| m.mount_point == "/run2").count(), 1);
}

#[test]
fn sys_moves_with_its_cgroup_subtree() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--cgroup-tmpfs"])
        .init(&guest_cmd(&["report", "/sys/fs/cgroup/a/marker", "/sys/fs/cgroup/b/marker"]))
        .run();
    assert_code(&out, 0);
    let r = out.report();
    let root = r.mount_at("/").unwrap();
    let sys = r.mount_at("/sys").expect("/sys");
    let cg = r.mount_at("/sys/fs/cgroup").expect("/sys/fs/cgroup");
    let a = r.mount_at("/sys/fs/cgroup/a").expect("/sys/fs/cgroup/a");
    let b = r.mount_at("/sys/fs/cgroup/b").expect("/sys/fs/cgroup/b");
    assert_eq!(sys.fstype, "sysfs");
    assert!(sys.read_only(), "/sys stays read-only: {sys:?}");
    assert_eq!(sys.parent, root.id);
    assert_eq!(cg.parent, sys.id, "{cg:?}");
    assert!(cg.read_only(), "/sys/fs/cgroup stays read-only: {cg:?}");
    assert_eq!(a.parent, cg.id, "{a:?}");
    assert_eq!(b.parent, cg.id, "{b:?}");
    assert_eq!(r.file("/sys/fs/cgroup/a/marker"), "a");
    assert_eq!(r.file("/sys/fs/cgroup/b/marker"), "b");
    for path in ["/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/a", "/sys/fs/cgroup/b"] {
        assert_eq!(r.mounts().iter().filter(|m| m.mount_point == path).count(), 1, "{path}");
    }
}

#[test]
fn three_hundred_extra_mounts_are_all_visible() {
    let _heavy = heavy_lock();
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--many", "300", "--marker", "/mnt/many/299/marker:last"])
        .init(&guest_cmd(&["report", "/mnt/many/299/marker"]))
        .run();
    assert_code(&out, 0);
    let r = out.report();
    let mounts = r.mounts();
    for i in 0..300 {
        let p = format!("/mnt/many/{i}");
        assert_eq!(
            mounts.iter().filter(|m| m.mount_point == p).count(),
            1,
            "{p} should be mounted once in the guest"
        );
    }
    assert_eq!(r.file("/mnt/many/299/marker"), "last");
    assert!(out.elapsed < Duration::from_secs(5), "took {:?}", out.elapsed);
}

#[test]
fn root_volume_elsewhere_with_root_option() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--root-at", "/srv/guest root", "--marker-run", "elsewhere"])
        .init(&["--root", "/srv//guest root/", "--", "/bin/guest", "report"])
        .run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.must("pid"), "1");
    assert_eq!(r.must("root_marker"), fs.token());
    assert_eq!(r.file("/run/marker"), "elsewhere");
    assert!(r.mount_at("/srv/guest root").is_none(), "the volume is not carried into itself");
}

// ---------------------------------------------------------------------------------------------
// Set-up failures

/// The volume's /etc/hosts is a symlink aiming at the container's /outside, a host directory
/// bound there; following it would create the mount target outside the root. A guest's
/// symlinked file (systemd-resolved's /etc/resolv.conf) is its own choice: the runtime's file
/// is not mounted, the link is not followed, and the guest boots.
fn assert_symlink_left_alone(link: &str, target: &str) {
    let fs = Rootfs::busybox();
    let outside = fs.outside();
    mkdir(&fs.guest_path("/etc"));
    let link_path = fs.guest_path(link);
    symlink(target, &link_path).unwrap();
    let out = Ctr::new(&fs)
        // /etc/hosts is mounted (and so carried) before /outside.
        .opts(&["--bind-file", &hosts_file(&fs, "evil\n")])
        .opts(&["--bind-dir", &format!("{}:/outside", outside.display())])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 0);
    assert_eq!(
        out.nestinit_lines()
            .iter()
            .filter(|l| l.contains(link) && l.contains("symlink"))
            .collect::<Vec<_>>(),
        [&format!(
            "nestinit: {link} is a symlink in the guest: left alone, the guest's own file wins"
        )],
        "one notice naming the link; stderr:\n{}",
        out.stderr
    );
    let r = out.report();
    assert!(r.mount_at(link).is_none(), "the runtime's file is not mounted over the link");
    assert_eq!(r.file(link), "!ENOENT", "the guest reads its own (dangling) link");
    assert!(is_symlink(&link_path), "the symlink itself is left alone");
    assert_eq!(dir_entries(&outside), Vec::<String>::new(), "created at the symlink's destination");
    assert!(!fs.guest_path("/outside/evil").exists());
    assert!(!fs.guest_path("/outside/hosts").exists());
    assert!(!Path::new("/outside").exists(), "created on the host");
}

#[test]
fn symlinked_file_target_is_left_alone_absolute() {
    assert_symlink_left_alone("/etc/hosts", "/outside/evil");
}

#[test]
fn symlinked_file_target_is_left_alone_relative() {
    assert_symlink_left_alone("/etc/hosts", "../../outside/evil");
}

#[test]
fn symlinked_parent_directory_is_refused() {
    let fs = Rootfs::busybox();
    let outside = fs.outside();
    symlink("/outside", fs.guest_path("/etc")).unwrap();
    let out = Ctr::new(&fs)
        .opts(&["--bind-file", &hosts_file(&fs, "evil\n")])
        .opts(&["--bind-dir", &format!("{}:/outside", outside.display())])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 125);
    assert_one_error_naming(&out, "/etc/hosts");
    assert!(is_symlink(&fs.guest_path("/etc")));
    assert_eq!(dir_entries(&outside), Vec::<String>::new(), "created through the symlink");
}

#[test]
fn missing_root_gives_125() {
    let out = Ctr::without_volume().init(&guest_cmd(&["report"])).run();
    assert_code(&out, 125);
    assert_one_error_naming(&out, "/data00");
}

#[test]
fn missing_root_given_by_option_gives_125() {
    let fs = Rootfs::busybox();
    let out =
        Ctr::new(&fs).init(&["--root", "/no/such/volume", "--", "/bin/guest", "report"]).run();
    assert_code(&out, 125);
    assert_one_error_naming(&out, "/no/such/volume");
}

/// Everything nestinit needs in a root, so that a read-only one can boot.
fn make_targets(fs: &Rootfs) {
    for d in ["proc", "dev", "sys", "run", "tmp"] {
        mkdir(&fs.guest_path(d));
    }
}

#[test]
fn read_only_root_lacking_a_target_gives_125() {
    let fs = Rootfs::busybox();
    make_targets(&fs);
    let out = Ctr::new(&fs)
        .opts(&["--ro-root", "--bind-file", &hosts_file(&fs, "x\n")])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 125);
    assert_one_error_naming(&out, "/etc/hosts");
    assert!(!fs.guest_path("/etc").exists());
}

#[test]
fn read_only_root_with_every_target_boots() {
    let fs = Rootfs::busybox();
    make_targets(&fs);
    let out = Ctr::new(&fs)
        .opts(&["--ro-root", "--marker-run", "ro-ok"])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.must("pid"), "1");
    assert_eq!(r.file("/run/marker"), "ro-ok");
    assert!(r.mount_at("/").unwrap().read_only(), "the guest's root stays read-only");
}

// ---------------------------------------------------------------------------------------------
// How the guest ends

#[test]
fn guest_reboot_boots_it_again() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["count-boots", "/run/boots", "3"])).run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.all("boot_count"), ["1", "2", "3"], "three boots, counted in /run");
    let last = *r.all("boots_file").last().unwrap();
    let ids: Vec<&str> = last.lines().map(|l| l.strip_prefix("boot ").unwrap()).collect();
    assert_eq!(ids.len(), 3, "{last:?}");
    for id in &ids {
        assert_eq!(id.len(), 36, "a boot id per boot: {id:?}");
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "boot ids differ: {ids:?}");
    assert_eq!(out.stderr.matches("booting it again").count(), 2, "{}", out.stderr);
}

#[test]
fn guest_reboot_with_on_reboot_exit_gives_133() {
    let fs = Rootfs::busybox();
    let mut args = vec!["--on-reboot".to_string(), "exit".to_string()];
    args.extend(guest_cmd(&["count-boots", "/run/boots", "5"]));
    let out = Ctr::new(&fs).init(&args).run();
    assert_code(&out, 133);
    assert_eq!(out.report().all("boot_count"), ["1"], "booted once only");
}

#[test]
fn guest_reboot_with_on_reboot_exit_from_environment_gives_133() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).env("NESTINIT_ON_REBOOT", "exit").init(&guest_cmd(&["reboot"])).run();
    assert_code(&out, 133);
}

#[test]
fn guest_poweroff_gives_0() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["poweroff"])).run();
    assert_code(&out, 0);
    assert!(out.stderr.contains("powered off"), "{}", out.stderr);
}

#[test]
fn guest_halt_gives_0() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["halt"])).run();
    assert_code(&out, 0);
}

#[test]
fn guest_exit_7_gives_7() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["exit", "7"])).run();
    assert_code(&out, 7);
}

#[test]
fn guest_segfault_gives_139() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["segv"])).run();
    assert_code(&out, 128 + SIGSEGV);
}

#[test]
fn missing_guest_init_gives_127() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&["--", "/sbin/no-such-init"]).run();
    assert_code(&out, 127);
}

// ---------------------------------------------------------------------------------------------
// Stopping

#[test]
fn sigterm_becomes_sigrtmin3_for_a_systemd_like_guest() {
    let fs = Rootfs::busybox();
    let mut c = Ctr::new(&fs).shared().init(&guest_cmd(&["block-rtmin3", SHARED])).start();
    c.wait_shared("ready");
    c.wait_blocking();
    c.mark();
    c.signal(SIGTERM);
    let out = c.wait();
    assert_code(&out, 0); // the guest halts on SIGRTMIN+3
    let got = format!("got {}", SIGRTMIN + 3);
    assert_eq!(out.shared_file("got"), Some(got.as_str()), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(5), "took {:?}", out.elapsed);
}

#[test]
fn a_guest_ignoring_the_stop_is_killed_after_the_timeout() {
    let fs = Rootfs::busybox();
    let mut args = vec!["--stop-timeout".to_string(), "2".to_string()];
    args.extend(guest_cmd(&["ignore-term", SHARED]));
    let mut c = Ctr::new(&fs).shared().init(&args).start();
    c.wait_shared("ready");
    c.wait_blocking();
    c.mark();
    c.signal(SIGTERM);
    let out = c.wait();
    assert_code(&out, 128 + SIGKILL);
    assert!(
        out.elapsed >= Duration::from_millis(1900) && out.elapsed < Duration::from_secs(6),
        "killed after {:?}, expected about 2 s",
        out.elapsed
    );
}

// ---------------------------------------------------------------------------------------------
// What the guest gets: /proc masks, capabilities, environment

#[test]
fn read_only_proc_sys_stays_read_only() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).opts(&["--ro-proc-sys"]).init(&guest_cmd(&["report"])).run();
    assert_code(&out, 0);
    assert_eq!(out.report().must("proc_sys"), "ro");
    // Control: without the runtime's read-only bind, the guest's /proc/sys is writable.
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["report"])).run();
    assert_code(&out, 0);
    assert_eq!(out.report().must("proc_sys"), "rw");
}

#[test]
fn proc_masks_are_reapplied() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).opts(&["--mask-proc"]).init(&guest_cmd(&["report"])).run();
    assert_code(&out, 0);
    let r = out.report();
    for p in ["/proc/kcore", "/proc/keys", "/proc/timer_list"] {
        if Path::new(p).exists() {
            assert_eq!(r.stat(p), "chr 1:3", "{p} is /dev/null in the guest");
        }
    }
    if Path::new("/proc/acpi").exists() {
        assert!(r.stat("/proc/acpi").starts_with("dir entries=0 fs=0x1021994"), "{r:#?}");
    }
    // Control: unmasked, /proc/timer_list is the real one.
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["report"])).run();
    assert_code(&out, 0);
    let stat = out.report().stat("/proc/timer_list").to_string();
    assert!(stat.starts_with("reg read=") && stat != "reg read=0", "{stat}");
}

#[test]
fn drop_caps_removes_cap_sys_admin_from_the_bounding_set() {
    let fs = Rootfs::busybox();
    let control = Ctr::new(&fs).init(&guest_cmd(&["report"])).run();
    assert_code(&control, 0);
    let all = control.report().capbnd();
    assert_ne!(all & (1 << CAP_SYS_ADMIN), 0, "the control guest has CAP_SYS_ADMIN");
    let fs = Rootfs::busybox();
    let mut args = vec!["--drop-caps".to_string(), "cap_sys_admin".to_string()];
    args.extend(guest_cmd(&["report"]));
    let out = Ctr::new(&fs).init(&args).run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.capbnd(), all & !(1 << CAP_SYS_ADMIN), "only bit 21 goes");
    let eff = u64::from_str_radix(r.must("capeff"), 16).unwrap();
    assert_eq!(eff & (1 << CAP_SYS_ADMIN), 0, "nor is it effective");
}

#[test]
fn no_new_privs_reaches_the_guest() {
    let fs = Rootfs::busybox();
    let mut args = vec!["--no-new-privs".to_string()];
    args.extend(guest_cmd(&["report"]));
    let out = Ctr::new(&fs).init(&args).run();
    assert_code(&out, 0);
    assert_eq!(out.report().must("nnp"), "1");
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["report"])).run();
    assert_code(&out, 0);
    assert_eq!(out.report().must("nnp"), "0", "control");
}

fn assert_uuid(s: &str) {
    assert_eq!(s.len(), 36, "{s:?}");
    for (i, c) in s.chars().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            assert_eq!(c, '-', "{s:?}");
        } else {
            assert!(c.is_ascii_hexdigit(), "{s:?}");
        }
    }
}

#[test]
fn guest_environment() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .env("NESTINIT_VERBOSITY", "2")
        .env("NESTINIT_STOP_TIMEOUT", "5")
        .env("INIT_DROP_CAP", "cap_net_raw")
        .env("FOO", "bar baz")
        .env("LANG", "C.UTF-8")
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 0);
    let r = out.report();
    let env = r.env();
    assert_eq!(r.env_var("container"), Some("docker"));
    assert_uuid(r.env_var("container_uuid").expect("container_uuid"));
    assert_eq!(env.iter().filter(|(k, _)| *k == "container").count(), 1);
    assert_eq!(env.iter().filter(|(k, _)| *k == "container_uuid").count(), 1);
    for (k, _) in &env {
        assert!(!k.starts_with("NESTINIT_") && *k != "INIT_DROP_CAP", "{k} leaked: {env:?}");
    }
    assert_eq!(r.env_var("FOO"), Some("bar baz"));
    assert_eq!(r.env_var("LANG"), Some("C.UTF-8"));
    assert_eq!(r.env_var("HOME"), Some("/"));
    assert_eq!(r.env_var("PATH"), Some("/usr/sbin:/usr/bin:/sbin:/bin"));
    // The removed variables still took effect.
    assert_eq!(r.capbnd() & (1 << CAP_NET_RAW), 0, "INIT_DROP_CAP=cap_net_raw applied");
    assert_ne!(r.capbnd() & (1 << CAP_SYS_ADMIN), 0);
}

#[test]
fn runtime_container_variable_is_kept() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).env("container", "podman").init(&guest_cmd(&["report"])).run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.env().iter().filter(|(k, _)| *k == "container").count(), 1);
    assert_eq!(r.env_var("container"), Some("podman"));
    assert_uuid(r.env_var("container_uuid").expect("container_uuid"));
}

#[test]
fn container_uuid_differs_between_containers() {
    let a = Ctr::new(&Rootfs::busybox()).init(&guest_cmd(&["report"])).run();
    let b = Ctr::new(&Rootfs::busybox()).init(&guest_cmd(&["report"])).run();
    assert_code(&a, 0);
    assert_code(&b, 0);
    assert_ne!(a.report().env_var("container_uuid"), b.report().env_var("container_uuid"));
}

// ---------------------------------------------------------------------------------------------
// clone3 refused by seccomp (docs/design.md#clone3-seccomp)

fn assert_boots_with_clone3_refused(errno: &str) {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--seccomp-clone3", errno])
        .init(&["--", "/bin/sh", "-c", "/bin/guest report; exit 7"])
        .run();
    assert_code(&out, 7);
    let r = out.report();
    assert_eq!(r.must("clone3"), errno, "the filter reached the guest");
    assert_eq!(r.must("root_marker"), fs.token());
    assert_eq!(r.must("cmdline1"), "/bin/sh -c /bin/guest report; exit 7");
}

#[test]
fn boots_when_clone3_gives_enosys() {
    assert_boots_with_clone3_refused("ENOSYS");
}

#[test]
fn boots_when_clone3_gives_eperm() {
    assert_boots_with_clone3_refused("EPERM");
}

#[test]
fn clone3_allowed_without_the_filter() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&guest_cmd(&["clone3"])).run();
    assert_code(&out, 0);
    assert_eq!(out.report().must("clone3"), "EINVAL", "the probe's control value");
}

// ---------------------------------------------------------------------------------------------
// --mode chroot

#[test]
fn chroot_mode_boots_the_guest_as_the_containers_pid1() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--marker-run", "chroot-run", "--marker-tmp", "chroot-tmp", "--tmpfs", "/run2"])
        .opts(&["--bind-file", &hosts_file(&fs, "10.9.8.7 chroot\n")])
        .opts(&["--marker", "/run2/marker:chroot-run2"])
        .init(&["--mode", "chroot", "--", "/bin/sh", "-c", "exec /bin/guest report /run2/marker"])
        .run();
    assert_code(&out, 0);
    let r = out.report();
    assert_eq!(r.must("pid"), "1", "the guest replaced nestinit as the container's PID 1");
    assert_eq!(r.must("cmdline1"), "/bin/guest report /run2/marker");
    assert_eq!(r.must("root_marker"), fs.token());
    assert_eq!(r.file("/run/marker"), "chroot-run");
    assert_eq!(r.file("/tmp/marker"), "chroot-tmp");
    assert_eq!(r.file("/run2/marker"), "chroot-run2");
    assert_eq!(r.file("/etc/hosts"), "10.9.8.7 chroot\n");
    assert_eq!(r.env_var("container"), Some("docker"));
    assert_uuid(r.env_var("container_uuid").expect("container_uuid"));
    // The guest's /proc is the container's: PID 1 is the guest itself.
    assert_eq!(r.mount_at("/proc").map(|m| m.fstype), Some("proc".to_string()));
    assert!(fs.guest_path("/etc/hosts").is_file(), "target created in the volume");
}

#[test]
fn chroot_mode_passes_the_exit_status_through() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .init(&["--mode", "chroot", "--", "/bin/sh", "-c", "echo pid=$$; exit 9"])
        .run();
    assert_code(&out, 9);
    assert_eq!(out.stdout, "pid=1\n");
}

#[test]
fn chroot_mode_leaves_a_symlinked_file_target_alone() {
    let fs = Rootfs::busybox();
    let outside = fs.outside();
    mkdir(&fs.guest_path("/etc"));
    symlink("/outside/evil", fs.guest_path("/etc/hosts")).unwrap();
    let out = Ctr::new(&fs)
        .opts(&["--bind-file", &hosts_file(&fs, "evil\n")])
        .opts(&["--bind-dir", &format!("{}:/outside", outside.display())])
        .init(&["--mode", "chroot", "--", "/bin/guest", "report"])
        .run();
    assert_code(&out, 0);
    assert!(out.report().mount_at("/etc/hosts").is_none(), "not mounted over the link");
    assert!(is_symlink(&fs.guest_path("/etc/hosts")));
    assert_eq!(dir_entries(&outside), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// The harness itself

/// The runner's mount check ignores other programs' scratch mounts under the temp dir, and
/// nothing else.
#[test]
fn mount_check_ignores_only_other_programs_temp_dirs() {
    let tmp = std::env::temp_dir();
    let at = |p: &Path| HostMount {
        id: 1,
        parent: 0,
        mount_point: p.display().to_string(),
        options: "rw".into(),
        fstype: "tmpfs".into(),
        super_options: "rw".into(),
    };
    assert!(foreign(&at(&tmp.join("e2e-exp/pm/root/overlay"))));
    let ours = tmp.join(format!("nestinit-test-{}-7/vol/run", std::process::id()));
    assert!(!foreign(&at(&ours)));
    for p in ["/data00", "/run", "/sys/fs/cgroup/systemd", "/proc/sys", "/"] {
        assert!(!foreign(&at(Path::new(p))), "{p}");
    }
}

// ---------------------------------------------------------------------------------------------
// Security profiles: pivot_root refused (Docker's and containerd's default seccomp profiles),
// mount refused (AppArmor's docker-default)

const CHROOT_WARNING: &str = "nestinit: warning: pivot_root: EPERM: refused by the runtime's \
    seccomp profile: moving the root onto / and chrooting; for full isolation run with \
    --security-opt seccomp=examples/seccomp.json";

/// The names at the guest's "/", as `guest escape` prints them.
fn root_names(fs: &Rootfs) -> String {
    let mut names: Vec<String> = dir_entries(fs.path());
    names.push("proc".into());
    names.sort();
    names.dedup();
    names.join(" ")
}

#[test]
fn boots_by_chroot_when_pivot_root_is_refused() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&[
            "--seccomp",
            "pivot_root:EPERM",
            "--mask-proc",
            "--ro-proc-sys",
            "--marker-run",
            "run",
        ])
        .init(&["--", "/bin/sh", "-c", "/bin/guest report; /bin/guest escape; exit 7"])
        .run();
    assert_code(&out, 7);
    let warnings: Vec<_> =
        out.nestinit_lines().into_iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings, [CHROOT_WARNING], "stderr:\n{}", out.stderr);
    let r = out.report();
    assert_eq!(r.must("nspid"), "2", "the guest's sh is PID 1 of its own namespace");
    assert_eq!(r.must("root_marker"), fs.token());
    assert_eq!(r.must("proc_sys"), "ro", "the masks of the container's /proc still apply");
    assert_eq!(r.file("/run/marker"), "run", "mounts are carried as with pivot_root");
    // `..` out of a chroot stops at the volume, which is mounted on top of "/".
    assert_eq!(r.must("escape_dotdot"), root_names(&fs));
    // A root with CAP_SYS_ADMIN can detach the volume and re-enter its mount namespace: it
    // finds the container's image root, read-only, with an empty /proc (the container's,
    // which shows the supervisor, is detached).
    let ns = r.must("escape_ns");
    assert!(ns.split(' ').any(|n| n == "init"), "escape_ns={ns}");
    assert_eq!(r.must("escape_write"), "!EROFS", "the image root is read-only to the guest");
    assert_eq!(r.must("escape_proc"), "0", "the container's /proc is detached");
}

#[test]
fn pivot_root_leaves_nothing_under_the_root() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).init(&["--", "/bin/sh", "-c", "/bin/guest escape; exit 7"]).run();
    assert_code(&out, 7);
    assert!(!out.stderr.contains("warning"), "stderr:\n{}", out.stderr);
    let r = out.report();
    assert_eq!(r.must("escape_dotdot"), root_names(&fs));
    let ns = r.must("escape_ns");
    assert!(!ns.split(' ').any(|n| n == "init"), "the image root is gone after pivot_root: {ns}");
}

fn assert_mount_refused_by_profile(errno: &str) {
    let fs = Rootfs::busybox();
    let before = host_mounts();
    let out = Ctr::new(&fs)
        .opts(&["--seccomp", &format!("mount:{errno}")])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 125);
    let lines = out.nestinit_lines();
    assert_eq!(
        lines,
        [format!(
            "nestinit: mount /: {errno}: refused by a security profile (seccomp or AppArmor): \
             allow mount (examples/seccomp.json), or --security-opt apparmor=unconfined"
        )],
        "one line naming the profile; stderr:\n{}",
        out.stderr
    );
    assert_eq!(host_mounts(), before, "nothing left half-mounted");
}

#[test]
fn mount_refused_with_eacces_names_the_security_profile() {
    assert_mount_refused_by_profile("EACCES");
}

#[test]
fn mount_refused_with_eperm_names_the_security_profile() {
    assert_mount_refused_by_profile("EPERM");
}

// ---------------------------------------------------------------------------------------------
// cgroup v2: the supervisor leaves the guest's cgroup

/// A cgroup of the host's cgroup2 hierarchy for one test (below the test's own), removed with
/// everything below it on drop. `None` on a host without the unified hierarchy.
struct TestCgroup(std::path::PathBuf);

impl TestCgroup {
    fn new() -> Option<TestCgroup> {
        let mount =
            ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].into_iter().map(Path::new).find(|p| {
                p.join("cgroup.subtree_control").exists()
                    || p.join("cgroup.procs").exists() && p.join("cgroup.controllers").exists()
            })?;
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let own = own.lines().find_map(|l| l.strip_prefix("0::"))?;
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = mount
            .join(own.trim_start_matches('/'))
            .join(format!("nestinit-test-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        Some(TestCgroup(dir))
    }

    fn procs(&self, sub: &str) -> Vec<u32> {
        std::fs::read_to_string(self.0.join(sub).join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        fn remove(dir: &Path) {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        remove(&e.path());
                    }
                }
            }
            for _ in 0..200 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        remove(&self.0);
    }
}

/// The guest: on its first boot, reports its cgroup, makes a child cgroup (a writable tree)
/// and waits for `go`, then reboots; on the second, reports what its fresh tree holds.
const CGROUP_GUEST: &str = "if [ -e /shared/first ]; then \
      ls /sys/fs/cgroup > /shared/.second; mv /shared/.second /shared/second; exit 0; fi; \
    cat /proc/self/cgroup > /shared/.cg; \
    /bin/busybox mkdir /sys/fs/cgroup/unit && echo ok > /shared/.mk || echo failed > /shared/.mk; \
    mv /shared/.mk /shared/mk; mv /shared/.cg /shared/first; \
    while [ ! -e /shared/go ]; do sleep 0.05; done; exec /bin/guest reboot";

fn assert_cgroup2_split(mode: &str) {
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: no cgroup2 hierarchy on this host");
        return;
    };
    let fs = Rootfs::busybox();
    let mut c = Ctr::new(&fs)
        .shared()
        .opts(&["--cgroup", cg.0.to_str().unwrap(), "--cgroup2", mode])
        .init(&["--", "/bin/sh", "-c", CGROUP_GUEST])
        .start();
    let nestinit_pid = c.pid();
    let own = c.wait_shared("first");
    assert_eq!(
        own.lines().find(|l| l.starts_with("0::")),
        Some("0::/"),
        "the guest is at its namespace's root"
    );
    assert_eq!(c.wait_shared("mk").trim(), "ok", "the guest's cgroup tree is writable");
    assert_eq!(cg.procs(""), Vec::<u32>::new(), "the container's cgroup holds no process");
    assert_eq!(cg.procs("supervisor"), [nestinit_pid], "nestinit sits in its own leaf");
    let guest = cg.procs("payload");
    assert!(!guest.is_empty() && !guest.contains(&nestinit_pid), "the guest: {guest:?}");
    assert!(cg.0.join("payload/unit").is_dir(), "the guest's cgroup is the payload");
    write(&c.shared_dir().join("go"), "");
    let out = c.wait();
    assert_code(&out, 0);
    let second = out.shared_file("second").unwrap_or_default();
    assert!(!second.split_whitespace().any(|n| n == "unit"), "a fresh payload per boot: {second}");
    // On a hybrid host the usual controllers are bound to v1: nestinit names those missing.
    let have = std::fs::read_to_string(cg.0.join("cgroup.controllers")).unwrap_or_default();
    let missing: Vec<_> = ["cpu", "io", "memory", "pids"]
        .into_iter()
        .filter(|c| !have.split_whitespace().any(|h| h == *c))
        .collect();
    let expected: Vec<String> = if missing.is_empty() {
        vec![]
    } else {
        vec![format!(
            "nestinit: warning: cgroup2: no {}: the runtime did not delegate them to the container",
            missing.join(" ")
        )]
    };
    let warnings: Vec<_> =
        out.nestinit_lines().into_iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings, expected, "stderr:\n{}", out.stderr);
}

#[test]
fn cgroup2_splits_supervisor_and_guest() {
    assert_cgroup2_split("rw");
}

#[test]
fn cgroup2_read_only_in_the_container_still_gives_the_guest_a_writable_tree() {
    assert_cgroup2_split("ro");
}

// ---------------------------------------------------------------------------------------------
// Descriptors

/// A descriptor the runtime leaked to PID 1 (here one of the host's root directory, the
/// CVE-2024-21626 pattern) never reaches the guest: fchdir to it would leave the root.
#[test]
fn guest_inherits_only_stdio_from_a_leaky_runtime() {
    let fs = Rootfs::busybox();
    let mut c = Ctr::new(&fs)
        .shared()
        .opts(&["--leak-host-root"])
        .init(&[
            "--",
            "/bin/sh",
            "-c",
            "echo > /shared/up; while [ ! -e /shared/go ]; do sleep 0.05; done; exec /bin/guest fds",
        ])
        .start();
    let pid = c.pid();
    c.wait_shared("up");
    let leaked = std::fs::read_link(format!("/proc/{pid}/fd/9"));
    assert_eq!(leaked.ok(), Some("/".into()), "the control: PID 1 holds the host's root");
    write(&c.shared_dir().join("go"), "");
    let out = c.wait();
    assert_code(&out, 0);
    assert_eq!(out.report().must("fds"), "0 1 2");
}

// ---------------------------------------------------------------------------------------------
// A boot process that dies before the exec is no started guest

#[test]
fn boot_process_dying_before_exec_is_a_setup_failure() {
    let fs = Rootfs::busybox();
    let out =
        Ctr::new(&fs).opts(&["--seccomp", "pivot_root:KILL"]).init(&guest_cmd(&["report"])).run();
    assert_code(&out, 125);
    assert_eq!(
        out.nestinit_lines(),
        ["nestinit: boot the guest: the boot process died before exec (status 159): report this"],
        "SIGSYS (31) killed it; no \"guest started\""
    );
}

/// The mount table is not on the boot process's stack: a small stack limit still boots.
#[test]
fn boots_under_a_256_kib_stack_limit() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs).opts(&["--stack-kib", "256"]).init(&guest_cmd(&["report"])).run();
    assert_code(&out, 0);
    assert_eq!(out.report().must("root_marker"), fs.token());
}

// ---------------------------------------------------------------------------------------------
// The guest's /proc: never less restricted than the container's, and what LXCFS binds stays

/// An LXCFS-style bind of a real file over /proc/meminfo (what shows a container its memory
/// limit) is carried as it is, not replaced by /dev/null.
#[test]
fn file_bound_over_proc_is_carried_as_it_is() {
    let fs = Rootfs::busybox();
    let meminfo = fs.scratch_path("meminfo");
    write(&meminfo, "MemTotal:         262144 kB\n");
    let out = Ctr::new(&fs)
        .opts(&[
            "--bind-file",
            &format!("{}:/proc/meminfo", meminfo.display()),
            "--mask-proc",
            "--ro-proc-sys",
        ])
        .init(&["--", "/bin/sh", "-c", "cat /proc/meminfo; /bin/guest report"])
        .run();
    assert_code(&out, 0);
    assert!(out.stdout.starts_with("MemTotal:         262144 kB\n"), "{}", out.stdout);
    let r = out.report();
    assert_eq!(r.must("proc_sys"), "ro", "the other masks still apply");
    assert!(r.stat("/proc/kcore").starts_with("chr") || r.stat("/proc/kcore") == "!ENOENT");
}

/// The container's /proc options reach the guest's fresh /proc: read-only, hidepid, subset.
#[test]
fn proc_options_of_the_container_are_kept() {
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--proc-opts", "hidepid=2", "--ro-proc"])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 0);
    let proc = out.report().mount_at("/proc").expect("a /proc mount");
    assert!(proc.read_only(), "read-only like the container's: {proc:?}");
    assert!(proc.super_options.contains("hidepid=invisible"), "{proc:?}");
    let out = Ctr::new(&fs)
        .opts(&["--proc-opts", "subset=pid", "--mask-proc"])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 0);
    let r = out.report();
    assert!(r.mount_at("/proc").expect("a /proc mount").super_options.contains("subset=pid"));
    assert_eq!(r.must("proc_sys"), "err:ENOENT", "no /proc/sys with subset=pid");
}

/// A writer of the volume (another pod on the same hostPath) swaps `proc` for a symlink to an
/// empty directory and back, as fast as it can, while guests boot. Every boot must end with
/// the masks in place (a read-only /proc/sys where the guest finds a real proc) or a refusal,
/// never a real proc without them.
#[test]
fn proc_swapped_for_a_symlink_during_boot_never_loses_the_masks() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let fs = Rootfs::busybox();
    let vol = fs.path().to_path_buf();
    mkdir(&vol.join("proc"));
    mkdir(&vol.join("empty"));
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (stop, vol) = (stop.clone(), vol.clone());
        std::thread::spawn(move || {
            let (proc, aside) = (vol.join("proc"), vol.join("proc.aside"));
            while !stop.load(Ordering::Relaxed) {
                if std::fs::rename(&proc, &aside).is_ok() {
                    let _ = symlink("empty", &proc);
                    let _ = std::fs::remove_file(&proc);
                    let _ = std::fs::rename(&aside, &proc);
                }
            }
        })
    };
    let (mut masked, mut refused) = (0, 0);
    for _ in 0..150 {
        let out = Ctr::new(&fs)
            .opts(&["--ro-proc-sys", "--mask-proc"])
            .init(&guest_cmd(&["report"]))
            .run();
        match out.code {
            125 => refused += 1,
            0 => {
                let proc_sys = out.report().must("proc_sys").to_string();
                assert_ne!(
                    proc_sys, "rw",
                    "a real /proc without its masks; stderr:\n{}",
                    out.stderr
                );
                masked += 1;
            }
            c => panic!("exit {c}; stderr:\n{}", out.stderr),
        }
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    eprintln!("{masked} boots masked, {refused} refused");
}

// ---------------------------------------------------------------------------------------------
// Newer system calls refused by a seccomp profile (or missing from an old kernel): a fallback
// with the same safety, or one line naming the call

/// Each new mount API call nestinit needs, refused with ENOSYS and with EPERM: exit 125 and one
/// line naming the call and how to allow it, never a misleading hint.
#[test]
fn refused_mount_api_calls_are_named() {
    for (call, subject) in [("move_mount", "/dev"), ("open_tree", "/proc/"), ("fsopen", "/proc")] {
        for errno in ["ENOSYS", "EPERM"] {
            let fs = Rootfs::busybox();
            let out = Ctr::new(&fs)
                .opts(&["--seccomp", &format!("{call}:{errno}"), "--mask-proc"])
                .init(&guest_cmd(&["report"]))
                .run();
            assert_code(&out, 125);
            let lines = out.nestinit_lines();
            assert_eq!(lines.len(), 1, "{call} {errno}: one line; stderr:\n{}", out.stderr);
            let prefix = format!("nestinit: {call} {subject}");
            assert!(lines[0].starts_with(&prefix), "{call} {errno}: {:?}", lines[0]);
            assert!(lines[0].contains(&format!(": {errno}: ")), "{call} {errno}: {:?}", lines[0]);
            assert!(
                lines[0].contains(&format!("allow {call}"))
                    || lines[0].contains(&format!(": {call} needs")),
                "{:?}",
                lines[0]
            );
        }
    }
}

/// Without close_range (Linux before 5.9, or a profile that refuses it) the guest still
/// inherits nothing: the descriptors listed in /proc/self/fd are closed one by one.
#[test]
fn guest_inherits_only_stdio_without_close_range() {
    for errno in ["ENOSYS", "EPERM"] {
        let fs = Rootfs::busybox();
        let out = Ctr::new(&fs)
            .opts(&["--leak-host-root", "--seccomp", &format!("close_range:{errno}")])
            .init(&guest_cmd(&["fds"]))
            .run();
        assert_code(&out, 0);
        assert_eq!(out.report().must("fds"), "0 1 2", "{errno}");
    }
}

/// 5000 mounts (1024 was the old bound, cubic plan) are all carried, in bounded time.
#[test]
fn five_thousand_mounts_are_all_carried() {
    let _heavy = heavy_lock();
    let fs = Rootfs::busybox();
    let out = Ctr::new(&fs)
        .opts(&["--many", "5000", "--marker", "/mnt/many/4999/marker:last"])
        .init(&[
            "--",
            "/bin/sh",
            "-c",
            "grep -c ' /mnt/many/' /proc/self/mountinfo; cat /mnt/many/4999/marker",
        ])
        .run();
    assert_code(&out, 0);
    assert_eq!(out.stdout, "5000\nlast", "stderr:\n{}", out.stderr);
    eprintln!("5000 mounts: container up and down in {:?}", out.elapsed);
}

/// 5000 environment variables (Kubernetes service links add seven per service) reach the
/// guest, with nestinit's own removed and container_uuid added.
#[test]
fn five_thousand_environment_variables_reach_the_guest() {
    let fs = Rootfs::busybox();
    let mut ctr = Ctr::new(&fs).init(&guest_cmd(&["report"]));
    for i in 0..5000 {
        ctr = ctr.env(&format!("SVC_{i}_SERVICE_HOST"), &format!("10.0.{}.{}", i / 256, i % 256));
    }
    let out = ctr.env("NESTINIT_VERBOSITY", "1").run();
    assert_code(&out, 0);
    let r = out.report();
    let env = r.env();
    assert_eq!(env.iter().filter(|(k, _)| k.starts_with("SVC_")).count(), 5000);
    assert_eq!(r.env_var("SVC_4999_SERVICE_HOST"), Some("10.0.19.135"));
    assert!(r.env_var("NESTINIT_VERBOSITY").is_none());
    assert!(r.env_var("container_uuid").is_some());
}

// ---------------------------------------------------------------------------------------------
// Hostile volumes: what a guest's root may hold where the container's mounts go

/// `/proc` or `/dev` as a symlink (here to the container's /outside) is refused: one line,
/// exit 125, nothing mounted or created through the link.
#[test]
fn proc_or_dev_as_a_symlink_is_refused() {
    for dir in ["/proc", "/dev"] {
        let fs = Rootfs::busybox();
        let outside = fs.outside();
        symlink("/outside", fs.guest_path(dir)).unwrap();
        let out = Ctr::new(&fs)
            .opts(&["--bind-dir", &format!("{}:/outside", outside.display())])
            .init(&guest_cmd(&["report"]))
            .run();
        assert_code(&out, 125);
        assert_one_error_naming(&out, dir);
        assert!(out.stderr.contains("ELOOP"), "{}", out.stderr);
        assert_eq!(dir_entries(&outside), Vec::<String>::new(), "{dir}: through the link");
    }
}

/// A file the runtime binds where the guest has a directory, and a directory mount where the
/// guest has a file: the types differ, so the boot stops with one line naming the path.
#[test]
fn mount_target_of_the_wrong_type_is_refused() {
    let fs = Rootfs::busybox();
    mkdir(&fs.guest_path("/etc/hosts"));
    let out = Ctr::new(&fs)
        .opts(&["--bind-file", &hosts_file(&fs, "h\n")])
        .init(&guest_cmd(&["report"]))
        .run();
    assert_code(&out, 125);
    assert_one_error_naming(&out, "/etc/hosts");
    let fs = Rootfs::busybox();
    write(&fs.guest_path("/run"), "a file where /run goes");
    let out = Ctr::new(&fs).init(&guest_cmd(&["report"])).run();
    assert_code(&out, 125);
    assert_one_error_naming(&out, "/run");
    assert_eq!(std::fs::read_to_string(fs.guest_path("/run")).unwrap(), "a file where /run goes");
}

// ---------------------------------------------------------------------------------------------
// Signals while the guest is being set up

/// The host PID of the container's boot process (named `nestinit-boot` until the guest's
/// exec), frozen with SIGSTOP as soon as it appears: a setup that hangs (a mount on a dead NFS
/// server, say). The container has 3000 mounts to carry, a second or so of setup.
fn freeze_boot(c: &mut Container) -> u32 {
    let init = c.pid();
    let mut boot = None;
    wait_until("the boot process", FILE_TIMEOUT, || {
        boot = descendants(init).into_iter().find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|n| n == "nestinit-boot\n")
        });
        boot.is_some()
    });
    let boot = boot.unwrap();
    kill(boot, 19); // SIGSTOP
    boot
}

/// A stop request while the setup hangs ends it at once: the boot process is killed and the
/// container exits with 128+SIGTERM, not after the setup or never.
#[test]
fn stop_request_during_a_hung_setup_ends_it() {
    let _heavy = heavy_lock();
    let fs = Rootfs::busybox();
    let mut c =
        Ctr::new(&fs).opts(&["--many", "3000"]).init(&["--", "/bin/sh", "-c", "exit 0"]).start();
    freeze_boot(&mut c);
    std::thread::sleep(Duration::from_millis(100));
    c.mark();
    c.signal(SIGTERM);
    let out = c.wait();
    assert_code(&out, 128 + SIGTERM);
    assert!(
        out.stderr.contains(
            "nestinit: stop requested by SIGTERM while the guest was being set up: ending the setup"
        ),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(5), "took {:?}", out.elapsed);
}

/// Other signals sent while the setup runs stay pending for nestinit (not dequeued, so
/// nothing is lost), and are forwarded once the guest runs.
#[test]
fn signals_during_setup_stay_pending_then_go_to_the_guest() {
    let _heavy = heavy_lock();
    let fs = Rootfs::busybox();
    let mut c = Ctr::new(&fs)
        .shared()
        .opts(&["--many", "3000"])
        .env("NESTINIT_VERBOSITY", "3")
        .init(&["--", "/bin/sh", "-c", "sleep 0.5; exit 0"])
        .start();
    let init = c.pid();
    let boot = freeze_boot(&mut c);
    c.signal(SIGUSR1);
    wait_until("SIGUSR1 pending for nestinit", FILE_TIMEOUT, || {
        status_mask(init, "ShdPnd").is_some_and(|m| m & bit(SIGUSR1) != 0)
    });
    kill(boot, 18); // SIGCONT
    let out = c.wait();
    assert_code(&out, 0);
    let started = out.stderr.find("guest started").expect("guest started");
    let received = out.stderr.find("received SIGUSR1").expect("SIGUSR1 read by the loop");
    assert!(received > started, "forwarded once the guest runs:\n{}", out.stderr);
}

/// A cgroup tree nestinit may not write (another owner, no CAP_DAC_OVERRIDE) gets one warning
/// line; the guest boots in the container's cgroup as before.
#[test]
fn cgroup2_not_writable_is_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let Some(cg) = TestCgroup::new() else {
        eprintln!("skipped: no cgroup2 hierarchy on this host");
        return;
    };
    std::os::unix::fs::chown(&cg.0, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&cg.0, std::fs::Permissions::from_mode(0o555)).unwrap();
    let fs = Rootfs::busybox();
    let dir = cg.0.to_str().unwrap().to_string();
    let out = std::thread::spawn(move || {
        use rustix::thread::{remove_capability_from_bounding_set, CapabilitySet};
        for cap in
            [CapabilitySet::DAC_OVERRIDE, CapabilitySet::DAC_READ_SEARCH, CapabilitySet::FOWNER]
        {
            remove_capability_from_bounding_set(cap).unwrap();
        }
        Ctr::new(&fs)
            .opts(&["--cgroup", &dir, "--cgroup2", "rw"])
            .init(&["--", "/bin/sh", "-c", "cat /proc/self/cgroup"])
            .run()
    })
    .join()
    .unwrap();
    assert_code(&out, 0);
    let warnings: Vec<_> =
        out.nestinit_lines().into_iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(
        warnings,
        ["nestinit: warning: cgroup2: EACCES: the container's cgroup is not writable, so a \
          systemd guest cannot delegate controllers: give the container a writable cgroup of \
          its own"],
        "stderr:\n{}",
        out.stderr
    );
    assert!(out.stdout.lines().any(|l| l == "0::/"), "{}", out.stdout);
    std::fs::set_permissions(&cg.0, std::fs::Permissions::from_mode(0o755)).unwrap();
}
