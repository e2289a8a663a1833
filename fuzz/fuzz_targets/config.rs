//! Arguments and environment: `config::parse` over a fuzzed argv and an environment looked up
//! with `config::env_lookup` in fuzzed `NAME=VALUE` entries; `parse_caps` against a reference.
//!
//! Input: byte 0 is argc (argv[0] included), the rest is NUL-separated: the first argc pieces
//! are argv, the others the environment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nestinit::config::{
    cmd_len, env_lookup, parse, parse_caps, Config, UsageError, CAPS, CAP_COUNT, DEFAULT_ROOT,
    MAX_STOP_TIMEOUT,
};
use std::ffi::{CStr, CString};

const FLAGS: [&CStr; 6] =
    [c"--mode", c"--root", c"--stop-signal", c"--stop-timeout", c"--on-reboot", c"--drop-caps"];
const VARS: [&str; 10] = [
    "NESTINIT_MODE",
    "NESTINIT_ROOT",
    "NESTINIT_STOP_SIGNAL",
    "NESTINIT_STOP_TIMEOUT",
    "NESTINIT_ON_REBOOT",
    "NESTINIT_DROP_CAPS",
    "NESTINIT_NO_NEW_PRIVS",
    "NESTINIT_VERBOSITY",
    "NESTINIT_MACHINE",
    "INIT_DROP_CAP",
];

fuzz_target!(|data: &[u8]| {
    let Some((&argc, rest)) = data.split_first() else { return };
    let pieces: Vec<CString> =
        rest.split(|&b| b == 0).map(|p| CString::new(p).expect("no NUL in a piece")).collect();
    let argc = usize::from(argc).min(pieces.len());
    let argv: Vec<&CStr> = pieces[..argc].iter().map(|c| c.as_c_str()).collect();
    let envp: Vec<&CStr> = pieces[argc..].iter().map(|c| c.as_c_str()).collect();

    check_env_lookup(&envp);
    // parse_caps on its own, on a few words: the values of `--drop-caps` are among them.
    for a in argv.iter().take(6) {
        check_caps(a.to_bytes());
    }

    let got = run(&argv, &envp);
    assert_eq!(got, run(&argv, &envp), "parse is a function of its input");
    let inside = |s: &[u8]| s.is_empty() || pieces.iter().any(|p| within(s, p.as_bytes_with_nul()));
    match got {
        Ok(cfg) => {
            check_config(&cfg, argv.len());
            assert!(cfg.root == DEFAULT_ROOT || inside(cfg.root.to_bytes()), "root from the input");
            check_command_words_ignored(&cfg, &argv, &envp);
            check_inline_values(&cfg, &argv, &envp);
        }
        Err(e) => check_error(&e, inside),
    }
    for a in &argv {
        check_verbose_cluster(a, &envp);
    }
});

/// As `main` does: the environment through `env_lookup`.
fn run<'a>(argv: &[&'a CStr], envp: &[&'a CStr]) -> Result<Config<'a>, UsageError<'a>> {
    parse(argv.iter().copied(), |name| env_lookup(envp.iter().copied(), name))
}

fn within(s: &[u8], buf: &[u8]) -> bool {
    let (start, end) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len());
    (start..end).contains(&(s.as_ptr() as usize)) && s.as_ptr() as usize + s.len() <= end
}

fn check_env_lookup(envp: &[&CStr]) {
    // The variables parse looks up, and a few names from the entries themselves (whole
    // entries too: a name never matches without its `=`).
    let mut names: Vec<&[u8]> = VARS.iter().map(|v| v.as_bytes()).collect();
    let some = envp.iter().take(4).map(|e| e.to_bytes());
    names.extend(some.clone().map(|e| e.split(|&b| b == b'=').next().unwrap_or(b"")));
    names.extend(some.take(2));
    for name in names {
        let want = envp.iter().find_map(|e| {
            let b = e.to_bytes();
            (b.len() > name.len() && b.starts_with(name) && b[name.len()] == b'=')
                .then(|| (e.as_ptr() as usize + name.len() + 1, &b[name.len() + 1..]))
        });
        let got = env_lookup(envp.iter().copied(), name);
        assert_eq!(got.map(|c| (c.as_ptr() as usize, c.to_bytes())), want, "env_lookup");
    }
}

fn check_config(cfg: &Config<'_>, argc: usize) {
    assert!(cfg.verbosity <= 3);
    assert!(cfg.stop_timeout <= MAX_STOP_TIMEOUT);
    assert_eq!(cfg.drop_caps >> CAP_COUNT, 0, "only known capabilities");
    if let Some(s) = cfg.stop_signal {
        assert!((1..=64).contains(&s) && ![9, 17, 19].contains(&s), "stop signal {s}");
    }
    assert!(cfg.cmd == usize::MAX || (1..=argc).contains(&cfg.cmd), "cmd {} of {argc}", cfg.cmd);
    for n in [0, 1, argc, argc + 1, usize::MAX] {
        let want = n.saturating_sub(cfg.cmd);
        assert_eq!(cmd_len(cfg, n), want);
    }
}

/// Options end where CMD starts: CMD's words change nothing.
fn check_command_words_ignored<'a>(cfg: &Config<'a>, argv: &[&'a CStr], envp: &[&'a CStr]) {
    if cfg.cmd >= argv.len() {
        return;
    }
    let cut = run(&argv[..cfg.cmd], envp).expect("the options alone parse");
    // CMD after `--` (then the options alone end with it), or at the first non-option.
    assert!(cut.cmd == usize::MAX || cut.cmd == cfg.cmd);
    if cut.cmd == cfg.cmd {
        assert_eq!(argv[cfg.cmd - 1].to_bytes(), b"--");
    }
    assert_eq!(Config { cmd: cfg.cmd, ..cut }, *cfg, "command words changed the options");
}

/// `--flag=value` is `--flag value`.
fn check_inline_values<'a>(cfg: &Config<'a>, argv: &[&'a CStr], envp: &[&'a CStr]) {
    let options = argv.len().min(cfg.cmd);
    let is_flag = |a: &[u8]| FLAGS.iter().find(|f| f.to_bytes() == a).copied();
    // An argument after a bare flag may be that flag's value: left alone.
    let Some((i, flag, eq)) = (1..options).find_map(|i| {
        let a = argv[i].to_bytes();
        let eq = a.iter().position(|&c| c == b'=')?;
        let flag = is_flag(&a[..eq])?;
        is_flag(argv[i - 1].to_bytes()).is_none().then_some((i, flag, eq))
    }) else {
        return;
    };
    let value = CStr::from_bytes_with_nul(&argv[i].to_bytes_with_nul()[eq + 1..])
        .expect("the tail of a C string");
    let mut split: Vec<&CStr> = argv[..i].to_vec();
    split.push(flag);
    split.push(value);
    split.extend_from_slice(&argv[i + 1..]);
    let again = run(&split, envp).expect("the split form parses");
    let cmd = if cfg.cmd == usize::MAX { usize::MAX } else { cfg.cmd + 1 };
    assert_eq!(again, Config { cmd, ..*cfg }, "--flag=value and --flag value differ");
}

fn check_error(e: &UsageError<'_>, inside: impl Fn(&[u8]) -> bool) {
    let known = FLAGS.iter().any(|f| f.to_bytes() == e.what)
        || VARS.iter().any(|v| v.as_bytes() == e.what)
        || e.what == b"option"
        || e.what == b"capability";
    assert!(known, "error about {:?}", String::from_utf8_lossy(e.what));
    assert!(inside(e.value), "the bad value is a piece of the input");
    assert!(!e.accepted.is_empty());
}

/// `-v`, `-vv`, ...: each `v` adds one to the default of 1, up to 3.
fn check_verbose_cluster(a: &CStr, envp: &[&CStr]) {
    let b = a.to_bytes();
    if b.len() < 2 || b[0] != b'-' || !b[1..].iter().all(|&c| c == b'v') {
        return;
    }
    let env = |name: &[u8]| env_lookup(envp.iter().copied(), name);
    let want = (1 + (b.len() - 1)).min(3) as u8;
    if let Ok(cfg) = parse([c"/init", a], env) {
        assert_eq!(cfg.verbosity, want, "verbosity of {} v", b.len() - 1);
    }
    if let Ok(cfg) = parse([c"/init", c"-q", a], env) {
        assert_eq!(cfg.verbosity, (b.len() - 1).min(3) as u8, "-q then {} v", b.len() - 1);
    }
}

/// capsh-style lists: items between commas, trimmed, `cap_` optional in any case, a name or a
/// number below 41.
fn check_caps(list: &[u8]) {
    let names: Vec<&str> = CAPS.split(' ').collect();
    assert_eq!(names.len(), CAP_COUNT);
    let mut want: Result<u64, &[u8]> = Ok(0);
    for item in list.split(|&b| b == b',') {
        let item = item.trim_ascii();
        if item.is_empty() {
            continue;
        }
        let name = match item.get(..4) {
            Some(p) if p.eq_ignore_ascii_case(b"cap_") => &item[4..],
            _ => item,
        };
        let n = if !name.is_empty() && name.len() <= 9 && name.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(name)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|&n| n < CAP_COUNT)
        } else {
            names.iter().position(|w| w.as_bytes().eq_ignore_ascii_case(name))
        };
        match n {
            Some(n) => want = want.map(|m| m | 1 << n),
            None => {
                want = Err(item);
                break;
            }
        }
    }
    match (parse_caps(list), want) {
        (Ok(got), Ok(want)) => assert_eq!(got, want, "caps mask"),
        (Err(e), Err(item)) => {
            assert_eq!(e.value, item, "the bad capability");
            assert_eq!(e.what, b"capability");
        }
        (got, want) => panic!("parse_caps: {got:?}, want {want:?}"),
    }
}
