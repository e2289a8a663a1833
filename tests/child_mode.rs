//! Black-box tests of `--mode child` (tini-style): the real release binary, run as PID 1 of a
//! new PID namespace through `pidns` unless a test says otherwise, with `probe` as the command
//! to make exit statuses, signals, reaping and signal state observable. Needs root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn assert_one_line_starting(out: &Outcome, prefix: &str) {
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "expected one stderr line, got {:?}", out.stderr);
    assert!(lines[0].starts_with(prefix), "stderr {:?} should start with {prefix:?}", lines[0]);
}

// ---------------------------------------------------------------------------------------------
// Exit status

#[test]
fn exit_code_zero_passes_through() {
    let out = run_pid1(&child_probe(&[], &args!["exit", "0"]));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr, "", "nothing logged at the default verbosity");
}

#[test]
fn exit_code_three_passes_through() {
    let out = run_pid1(&child_probe(&[], &args!["exit", "3"]));
    assert_eq!(out.code, 3, "{out:?}");
}

#[test]
fn child_killed_by_sigkill_gives_137() {
    let out = run_pid1(&child_probe(&[], &args!["kill-self", "9"]));
    assert_eq!(out.code, 137, "{out:?}");
    let out = run_pid1(&args!["--mode", "child", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(out.code, 137, "{out:?}");
}

#[test]
fn child_segfault_gives_139() {
    let out = run_pid1(&child_probe(&[], &args!["segv"]));
    assert_eq!(out.code, 128 + SIGSEGV, "{out:?}");
}

#[test]
fn missing_command_gives_127_and_one_exec_line() {
    let out = run_pid1(&args!["--mode", "child", "--", "/nonexistent/nestinit-test-cmd"]);
    assert_eq!(out.code, 127, "{out:?}");
    assert_one_line_starting(&out, "nestinit: exec");
    // Looked up in PATH.
    let out = run_pid1(&args!["--mode", "child", "--", "nestinit-test-no-such-command"]);
    assert_eq!(out.code, 127, "{out:?}");
    assert_one_line_starting(&out, "nestinit: exec");
}

#[test]
fn non_executable_file_gives_126() {
    let tmp = TempDir::new();
    let file = tmp.join("not-executable");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_pid1(&args!["--mode", "child", "--", &file]);
    assert_eq!(out.code, 126, "{out:?}");
    assert_one_line_starting(&out, "nestinit: exec");
}

#[test]
fn bad_flag_value_gives_2_and_names_it() {
    for (args, bad) in [
        (args!["--mode", "child", "--stop-timeout", "banana", "--", "true"].to_vec(), "banana"),
        (args!["--mode", "child", "--stop-signal", "SIGNOPE", "--", "true"].to_vec(), "SIGNOPE"),
        (args!["--mode", "sideways", "--", "true"].to_vec(), "sideways"),
        (args!["--mode", "child", "--frobnicate", "--", "true"].to_vec(), "--frobnicate"),
    ] {
        let out = run_pid1(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: one line expected: {:?}", out.stderr);
        assert!(lines[0].contains(bad), "{args:?}: {:?} should name {bad}", lines[0]);
    }
}

#[test]
fn help_exits_0() {
    let out = run_pid1(&["--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Usage"), "{out:?}");
    assert!(out.stdout.contains("--mode"), "{out:?}");
}

#[test]
fn version_prints_name() {
    let out = run_pid1(&["--version"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("nestinit "), "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// Signal forwarding

/// Starts `probe signals OUT 1` under nestinit with `options`, sends `sent` to nestinit and
/// checks that the child got `expected` and nestinit ended with the child's 0.
fn assert_child_receives(options: &[&str], sent: i32, expected: i32) {
    let tmp = TempDir::new();
    let out = tmp.join("signals");
    let mut run = Launch::pid1(&child_probe(options, &args!["signals", &out, "1"])).start();
    wait_file(&ready_file(&out));
    run.signal(sent);
    let end = run.wait();
    assert_eq!(end.code, 0, "{end:?}");
    assert_eq!(read(&out), format!("{expected}\n"), "signals the child received");
}

#[test]
fn sigterm_reaches_child_with_stop_signal_term() {
    assert_child_receives(&["--stop-signal", "TERM"], SIGTERM, SIGTERM);
}

#[test]
fn sigusr1_is_forwarded() {
    assert_child_receives(&[], SIGUSR1, SIGUSR1);
}

#[test]
fn sighup_is_forwarded() {
    assert_child_receives(&[], SIGHUP, SIGHUP);
}

#[test]
fn sigwinch_is_forwarded() {
    assert_child_receives(&[], SIGWINCH, SIGWINCH);
}

#[test]
fn sigrtmin_plus_5_is_forwarded() {
    assert_child_receives(&[], SIGRTMIN + 5, SIGRTMIN + 5);
}

/// A child that only catches SIGTERM/SIGINT is not systemd-like: auto sends what came in.
#[test]
fn auto_stop_signal_is_the_received_one_for_a_plain_child() {
    for sig in [SIGTERM, SIGINT] {
        let tmp = TempDir::new();
        let out = tmp.join("caught");
        let probe_args = args!["catch", &out, SIGTERM.to_string(), SIGINT.to_string()];
        let mut run = Launch::pid1(&child_probe(&[], &probe_args)).start();
        wait_file(&ready_file(&out));
        run.signal(sig);
        let end = run.wait();
        assert_eq!(end.code, 0, "{end:?}");
        assert_eq!(read(&out), format!("{sig}\n"));
    }
}

/// Real-time signals queue: 1000 sent to nestinit must reach the child 1000 times. A marker
/// of a higher number (delivered after all pending lower ones) ends the count.
#[test]
fn burst_of_1000_realtime_signals_arrives_exactly() {
    const N: usize = 1000;
    let burst = SIGRTMIN + 1;
    let marker = SIGRTMIN + 10;
    let tmp = TempDir::new();
    let out = tmp.join("signals");
    let mut run =
        Launch::pid1(&child_probe(&[], &args!["signals", &out, (N + 1).to_string()])).start();
    wait_file(&ready_file(&out));
    let pid = run.pid().to_string();
    for (sig, n) in [(burst, N), (marker, 1)] {
        let st = std::process::Command::new(probe())
            .args(["sendrt", &pid, &sig.to_string(), &n.to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "sendrt: {st}");
    }
    let counts = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        let bursts = lines.iter().filter(|l| **l == burst.to_string()).count();
        (lines.len(), bursts)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while run.is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let finished = !run.is_running();
    let text = read(&out);
    assert!(finished, "child still waiting: (lines, bursts) received = {:?}", counts(&text));
    let end = run.wait();
    assert_eq!(end.code, 0, "{end:?}");
    assert_eq!(counts(&text), (N + 1, N), "(lines, bursts) received");
    assert_eq!(text.lines().last(), Some(marker.to_string().as_str()));
}

// ---------------------------------------------------------------------------------------------
// Reaping

/// 20,000 orphans re-parent to nestinit as PID 1; none stays a zombie.
#[test]
fn twenty_thousand_orphans_are_all_reaped() {
    let _heavy = heavy_lock();
    let tmp = TempDir::new();
    let ready = tmp.join("ready");
    let mut run = Launch::pid1(&child_probe(&[], &args!["orphans", "20000", &ready])).start();
    let pid = run.pid();
    wait_until("the orphans to be created", Duration::from_secs(60), || {
        ready.exists() || !run.is_running()
    });
    assert!(run.is_running(), "nestinit ended early: {:?}", run.wait());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut left = zombies_of(pid);
    while left > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        left = zombies_of(pid);
    }
    assert_eq!(left, 0, "zombies left under nestinit (pid {pid}) after 10 s");
    run.signal(SIGUSR1);
    let end = run.wait_for(Duration::from_secs(60));
    assert_eq!(end.code, 0, "{end:?}");
}

// ---------------------------------------------------------------------------------------------
// Signal state

/// The child gets the mask and ignored SIGCHLD/SIGPIPE nestinit inherited; nestinit itself
/// reads SIGCHLD (not ignored) and installs no handlers.
#[test]
fn child_gets_the_inherited_signal_mask_and_ignores() {
    let tmp = TempDir::new();
    let out = tmp.join("sigstate");
    let wrapper = args![probe(), "spawn-with-state", SIGUSR2.to_string(), "13,17"];
    let mut run =
        Launch::pid1(&child_probe(&[], &args!["sigstate", &out, "wait"])).wrapper(&wrapper).start();
    let state = wait_file(&out);
    let field = |name: &str| {
        state
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap_or_else(|| panic!("{name} missing in {state:?}"))
    };
    assert_eq!(field("SigBlk:"), bit(SIGUSR2), "child's blocked mask: {state}");
    assert_eq!(field("SigIgn:"), bit(SIGPIPE) | bit(SIGCHLD), "child's ignored set: {state}");
    let pid = run.pid();
    let ign = status_mask(pid, "SigIgn").unwrap();
    assert_eq!(ign & bit(SIGCHLD), 0, "nestinit must not ignore SIGCHLD: SigIgn {ign:x}");
    assert_eq!(status_mask(pid, "SigCgt"), Some(0), "nestinit installs no handlers");
    run.signal(SIGTERM);
    let end = run.wait();
    assert_eq!(end.code, 128 + SIGTERM, "{end:?}");
}

/// nestinit's own full mask never leaks into the child.
#[test]
fn child_gets_an_empty_mask_when_nestinit_inherited_none() {
    let tmp = TempDir::new();
    let out = tmp.join("sigstate");
    let wrapper = args![probe(), "spawn-with-state", "-", "-"];
    let end = Launch::pid1(&child_probe(&[], &args!["sigstate", &out])).wrapper(&wrapper).run();
    assert_eq!(end.code, 0, "{end:?}");
    let state = read(&out);
    assert!(state.contains("SigBlk:\t0000000000000000"), "{state}");
    assert!(state.contains("SigIgn:\t0000000000000000"), "{state}");
}

#[test]
fn child_runs_in_its_own_process_group() {
    let tmp = TempDir::new();
    let out = tmp.join("pgrp");
    let end = run_pid1(&child_probe(&[], &args!["pgrp", &out]));
    assert_eq!(end.code, 0, "{end:?}");
    let text = read(&out);
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(ids[0], "2", "the command is PID 2, nestinit's child: {text}");
    assert_eq!(ids[1], ids[0], "pgid equals pid: {text}");
}

// ---------------------------------------------------------------------------------------------
// Stop sequence

/// Starts `probe ignore-term` (catches and records SIGTERM) under nestinit with `options`.
fn start_ignoring_term(options: &[&str]) -> (TempDir, std::path::PathBuf, Running) {
    let tmp = TempDir::new();
    let out = tmp.join("terms");
    let run = Launch::pid1(&child_probe(options, &args!["ignore-term", &out])).start();
    wait_file(&ready_file(&out));
    (tmp, out, run)
}

#[test]
fn stop_timeout_escalates_to_sigkill() {
    let (_tmp, out, mut run) = start_ignoring_term(&["--stop-timeout", "2"]);
    run.mark();
    run.signal(SIGTERM);
    let end = run.wait();
    assert_eq!(end.code, 128 + SIGKILL, "{end:?}");
    assert!(end.elapsed >= Duration::from_millis(1500), "killed too early: {end:?}");
    assert!(end.elapsed < Duration::from_secs(10), "killed too late: {end:?}");
    assert_eq!(read(&out), "15\n", "the child got SIGTERM first");
}

#[test]
fn stop_timeout_from_environment() {
    let tmp = TempDir::new();
    let out = tmp.join("terms");
    let mut run = Launch::pid1(&child_probe(&[], &args!["ignore-term", &out]))
        .env("NESTINIT_STOP_TIMEOUT", "1")
        .start();
    wait_file(&ready_file(&out));
    run.mark();
    run.signal(SIGTERM);
    let end = run.wait();
    assert_eq!(end.code, 128 + SIGKILL, "{end:?}");
    assert!(end.elapsed >= Duration::from_millis(700), "killed too early: {end:?}");
    assert!(end.elapsed < Duration::from_secs(8), "the default 10 s was used: {end:?}");
}

#[test]
fn second_sigterm_kills_at_once() {
    let (_tmp, out, mut run) = start_ignoring_term(&["--stop-timeout", "30"]);
    run.signal(SIGTERM);
    // Standard signals coalesce: the second may only be sent once the first was handled.
    wait_until("the child to get SIGTERM", FILE_TIMEOUT, || read(&out) == "15\n");
    run.mark();
    run.signal(SIGTERM);
    let end = run.wait_for(Duration::from_secs(20));
    assert_eq!(end.code, 128 + SIGKILL, "{end:?}");
    assert!(end.elapsed < Duration::from_secs(5), "not killed at once: {end:?}");
}

/// A child that blocks SIGRTMIN+3 (as systemd does) gets it under the default auto setting.
#[test]
fn systemd_like_child_gets_sigrtmin_plus_3() {
    let tmp = TempDir::new();
    let out = tmp.join("rtmin3");
    let mut run = Launch::pid1(&child_probe(&[], &args!["block-rtmin3", &out])).start();
    wait_file(&ready_file(&out));
    run.signal(SIGTERM);
    let end = run.wait();
    assert_eq!(end.code, 0, "{end:?}");
    assert_eq!(read(&out), format!("{}\n", SIGRTMIN + 3));
}

/// Catching SIGRTMIN+3 (SigCgt) makes a child systemd-like too, even if it catches SIGTERM.
#[test]
fn child_catching_sigrtmin_plus_3_gets_it() {
    let tmp = TempDir::new();
    let out = tmp.join("caught");
    let probe_args = args!["catch", &out, SIGTERM.to_string(), (SIGRTMIN + 3).to_string()];
    let mut run = Launch::pid1(&child_probe(&[], &probe_args)).start();
    wait_file(&ready_file(&out));
    run.signal(SIGTERM);
    let end = run.wait();
    assert_eq!(end.code, 0, "{end:?}");
    assert_eq!(read(&out), format!("{}\n", SIGRTMIN + 3));
}

#[test]
fn stop_signal_usr1_is_sent_on_sigterm() {
    assert_child_receives(&["--stop-signal", "USR1"], SIGTERM, SIGUSR1);
}

// ---------------------------------------------------------------------------------------------
// After the command: the rest of the namespace is ended

/// As PID 1, processes left behind by the command get SIGTERM once it exits, and its exit
/// code still passes through.
#[test]
fn leftover_processes_are_terminated_after_the_command_exits() {
    let end = run_pid1(&args!["--mode", "child", "--", "sh", "-c", "sleep 1000 & exit 5"]);
    assert_eq!(end.code, 5, "{end:?}");
    assert!(end.elapsed < Duration::from_secs(5), "the leftover was not ended: {end:?}");
}

/// Leftovers that ignore SIGTERM are killed after the stop timeout.
#[test]
fn leftover_processes_ignoring_sigterm_are_killed_after_the_timeout() {
    let tmp = TempDir::new();
    let out = tmp.join("terms");
    let (probe, out_s) = (probe().display().to_string(), out.display().to_string());
    let script = format!(
        "{probe} ignore-term {out_s} & while [ ! -e {out_s}.ready ]; do sleep 0.01; done; exit 6"
    );
    let end = run_pid1(&args!["--mode", "child", "--stop-timeout", "1", "--", "sh", "-c", script]);
    assert_eq!(end.code, 6, "{end:?}");
    assert_eq!(read(&out), "15\n", "the leftover got SIGTERM first");
    assert!(end.elapsed >= Duration::from_millis(900), "killed too early: {end:?}");
    assert!(end.elapsed < Duration::from_secs(8), "killed too late: {end:?}");
}

// ---------------------------------------------------------------------------------------------
// Pause mode

fn assert_pause_stops_on(sig: i32) {
    let mut run = Launch::pid1(&["--mode", "child"]).start();
    run.wait_blocking();
    std::thread::sleep(Duration::from_millis(300));
    assert!(run.is_running(), "nestinit without a command must keep running");
    run.signal(sig);
    let end = run.wait();
    assert_eq!(end.code, 0, "{end:?}");
}

#[test]
fn no_command_pauses_until_sigterm() {
    assert_pause_stops_on(SIGTERM);
}

#[test]
fn no_command_pauses_until_sigint() {
    assert_pause_stops_on(SIGINT);
}

// ---------------------------------------------------------------------------------------------
// Subreaper mode (nestinit as an ordinary process, not PID 1)

/// The command's orphan re-parents to nestinit, is ended and reaped when the command exits,
/// and the command's exit code passes through.
#[test]
fn subreaper_adopts_orphans_and_passes_the_exit_code() {
    let tmp = TempDir::new();
    let out = tmp.join("grandchild");
    let mut run = Launch::plain(&child_probe(&[], &args!["orphan-sleeper", &out, "7"])).start();
    let pid = run.pid();
    let gc: u32 = wait_file(&out).trim().parse().unwrap();
    assert_eq!(
        status_field(gc, "PPid"),
        Some(pid.to_string()),
        "the orphan's parent must be nestinit"
    );
    run.signal(SIGUSR1);
    let end = run.wait();
    assert_eq!(end.code, 7, "{end:?}");
    // nestinit exits only once it has no children, so the orphan was reaped by it. The pid
    // may have been reused since, but not by a copy of this very probe.
    let cmdline = std::fs::read(format!("/proc/{gc}/cmdline")).unwrap_or_default();
    let still_there = String::from_utf8_lossy(&cmdline).contains(out.to_str().unwrap());
    assert!(!still_there, "the orphan {gc} survived nestinit");
}

#[test]
fn subreaper_leaves_no_zombies() {
    let tmp = TempDir::new();
    let ready = tmp.join("ready");
    let mut run = Launch::plain(&child_probe(&[], &args!["orphans", "300", &ready])).start();
    let pid = run.pid();
    wait_until("the orphans to be created", Duration::from_secs(30), || {
        ready.exists() || !run.is_running()
    });
    assert!(run.is_running(), "nestinit ended early: {:?}", run.wait());
    wait_until("nestinit to reap the orphans", Duration::from_secs(10), || zombies_of(pid) == 0);
    run.signal(SIGUSR1);
    let end = run.wait();
    assert_eq!(end.code, 0, "{end:?}");
}

// ---------------------------------------------------------------------------------------------
// Environment

#[test]
fn nestinit_mode_variable_selects_child_mode() {
    let tmp = TempDir::new();
    let out = tmp.join("pgrp");
    let end = Launch::pid1(&args!["--", probe(), "pgrp", &out]).env("NESTINIT_MODE", "child").run();
    assert_eq!(end.code, 0, "{end:?}");
    let text = read(&out);
    assert!(text.starts_with("2 "), "the command runs as nestinit's child: {text}");
}

#[test]
fn mode_flag_wins_over_the_variable() {
    let end =
        Launch::pid1(&child_probe(&[], &args!["exit", "4"])).env("NESTINIT_MODE", "chroot").run();
    assert_eq!(end.code, 4, "{end:?}");
}

#[test]
fn nestinit_variables_are_hidden_from_the_child() {
    let end = Launch::pid1(&args!["--", "env"])
        .env("NESTINIT_MODE", "child")
        .env("NESTINIT_STOP_TIMEOUT", "5")
        .env("NESTINIT_VERBOSITY", "1")
        .env("NESTINIT_TEST_EXTRA", "x")
        .env("INIT_DROP_CAP", "")
        .env("PROBE_TEST_SEEN", "yes")
        .run();
    assert_eq!(end.code, 0, "{end:?}");
    assert!(end.stdout.lines().any(|l| l == "PROBE_TEST_SEEN=yes"), "{}", end.stdout);
    let leaked: Vec<&str> = end
        .stdout
        .lines()
        .filter(|l| l.starts_with("NESTINIT_") || l.starts_with("INIT_DROP_CAP="))
        .collect();
    assert!(leaked.is_empty(), "leaked to the child: {leaked:?}");
}

// ---------------------------------------------------------------------------------------------
// The debug log names a signal's sender (the kernel's siginfo_t layout, not a guessed one: on
// 64-bit targets si_pid follows padding)

#[test]
fn debug_log_names_the_sender_of_a_signal() {
    let out = run_pid1(&args![
        "-vvv",
        "--mode",
        "child",
        "--",
        "sh",
        "-c",
        "trap '' USR1; kill -USR1 1; sleep 0.3; exit 0"
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.lines().any(|l| l == "nestinit: received SIGUSR1 from pid 2"),
        "the command is PID 2 of the namespace; stderr:\n{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// The drain as a subreaper: orphans that re-parent to nestinit while it ends the rest

/// `sh -c SCRIPT` for `--mode child`: the command leaves a shell that ignores SIGTERM, whose
/// own child (a `sleep 29` that ignores it too, its PID in `gc`) becomes nestinit's only once
/// that shell is killed. Both are set up before the command exits.
fn orphan_chain(tmp: &TempDir) -> (Vec<OsString>, std::path::PathBuf) {
    let (ready, gc) = (tmp.join("ready"), tmp.join("gc"));
    let (ready, gc_s) = (ready.display().to_string(), gc.display().to_string());
    let inner = format!("trap '' TERM; sleep 29 & echo $! > {gc_s}; : > {ready}; wait");
    let script = format!(
        "sh -c \"{inner}\" & while [ ! -e {ready} ]; do sleep 0.01; done; exit 0",
        inner = inner.replace('"', "\\\"").replace('$', "\\$")
    );
    let args = args!["-vv", "--mode", "child", "--stop-timeout", "1", "--", "sh", "-c", script];
    (args.to_vec(), gc)
}

/// The orphan chain's end: nestinit exited 0 soon after the stop timeout (SIGKILL for the
/// shell, then for its orphan), and the orphan is gone.
fn assert_chain_ended(end: &Outcome, gc: &std::path::Path) {
    assert_eq!(end.code, 0, "{end:?}");
    assert!(end.elapsed >= Duration::from_millis(900), "killed before the timeout: {end:?}");
    assert!(end.elapsed < Duration::from_secs(4), "the drain took too long: {end:?}");
    let gc: u32 = read(gc).trim().parse().unwrap();
    let cmdline = std::fs::read(format!("/proc/{gc}/cmdline")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&cmdline).contains("29"), "the orphan {gc} survived");
}

/// As a subreaper (not PID 1), the orphan a killed leftover leaves behind is signalled too:
/// the drain ends within the stop timeout and a few seconds, not when the orphan would.
#[test]
fn subreaper_drain_kills_orphans_of_killed_leftovers() {
    let tmp = TempDir::new();
    let (args, gc) = orphan_chain(&tmp);
    let end = Launch::plain(&args).start().wait_for(Duration::from_secs(8));
    assert_chain_ended(&end, &gc);
}

/// Without `/proc/thread-self/children` (a kernel without CONFIG_PROC_CHILDREN), the drain
/// finds nestinit's children by scanning /proc. The file is hidden here by a tmpfs over
/// nestinit's `/proc/PID/task`, mounted in pidns's private mount namespace by a shell that
/// then execs nestinit (PID 2: a subreaper, not PID 1).
#[test]
fn subreaper_drain_without_the_children_file_scans_proc() {
    let tmp = TempDir::new();
    let (args, gc) = orphan_chain(&tmp);
    let hide = "sh -c 'mount -t tmpfs nestinit-test-hide /proc/$$/task && exec \"$@\"' sh \"$@\"; \
                exit $?";
    let end = Launch::pid1(&args).wrapper(&["sh", "-c", hide, "sh"]).start();
    let end = end.wait_for(Duration::from_secs(8));
    assert!(
        end.stderr.contains("nestinit: list children: ENOENT: scanning /proc instead"),
        "the children file was not hidden: {end:?}"
    );
    assert_chain_ended(&end, &gc);
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains("nestinit-test-hide"), "the tmpfs leaked to the host: {host}");
}

// ---------------------------------------------------------------------------------------------
// A refused rt_sigtimedwait (a seccomp filter answering EPERM)

/// The supervisor still reaps its command and exits with its status, with one line, and does
/// not spin: PID 1's CPU time (utime + stime in ticks of 1/100 s, from /proc/1/stat read by
/// the command after a second) stays far below the 100 ticks of a busy second.
#[test]
fn refused_sigtimedwait_reaps_without_spinning() {
    let script = "sleep 1; cut -d' ' -f14,15 /proc/1/stat; exit 3";
    let wrapper = args![pidns(), "--seccomp", "rt_sigtimedwait:EPERM", "--"];
    let end =
        Launch::plain(&args!["--mode", "child", "--", "sh", "-c", script]).wrapper(&wrapper).run();
    assert_eq!(end.code, 3, "{end:?}");
    let ticks: u64 = end.stdout.split_whitespace().map(|t| t.parse::<u64>().unwrap()).sum();
    assert!(ticks < 20, "PID 1 used {ticks} ticks of CPU in a second: {end:?}");
    assert_one_line_starting(&end, "nestinit: sigtimedwait: EPERM: ");
}

// ---------------------------------------------------------------------------------------------
// --machine when nestinit is not PID 1

/// `--machine` (or NESTINIT_MACHINE=1) as PID 2 of a throwaway PID namespace, whose seccomp
/// filter kills any caller of reboot(2): nestinit says it ignores the flag and boots the guest
/// (root `/`) as a container's init, with the guest's status. Mounting what a machine lacks,
/// turning Ctrl-Alt-Del off or powering off would all be wrong here; a reboot(2) call would
/// end it by SIGSYS (status 159). (In a child PID namespace reboot(2) cannot reach the host.)
#[test]
fn machine_flag_is_ignored_when_not_pid1() {
    let wrapper =
        args![pidns(), "--seccomp", "reboot:KILL", "--", "sh", "-c", "\"$@\"; exit $?", "sh"];
    let guest = args!["--", "sh", "-c", "exit 5"];
    for (flag, var) in [(Some("--machine"), None), (None, Some("1"))] {
        let mut args = args!["--root", "/"].to_vec();
        args.extend(flag.map(OsString::from));
        args.extend_from_slice(&guest);
        let mut launch = Launch::plain(&args).wrapper(&wrapper);
        if let Some(v) = var {
            launch = launch.env("NESTINIT_MACHINE", v);
        }
        let end = launch.run();
        assert_eq!(end.code, 5, "{flag:?} {var:?}: {end:?}");
        assert_eq!(
            end.stderr_lines().first().copied(),
            Some("nestinit: warning: --machine: not PID 1: ignored"),
            "{flag:?} {var:?}: {end:?}"
        );
        assert!(!end.stderr.contains("machine mode"), "{end:?}");
    }
}
