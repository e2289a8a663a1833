//! The mount plan: `normalize` of a fuzzed root, then `classify`, `moves`, `proc_masks` and
//! `proc_options` over the table parsed from fuzzed mountinfo text, with `is_under` checked
//! against a reference on the way.
//!
//! Input: the header of `common::Input` (2 bytes), then the root path up to the first newline,
//! then the mountinfo body as `common::Input` has it (at most `MAX_TEXT` bytes of text).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nestinit::mountinfo::{Table, MAX_MOUNTS, PATH_MAX};
use nestinit::plan::{classify, is_under, moves, normalize, proc_masks, proc_options, Mask, Skip};
use nestinit::text::Line;

#[path = "common.rs"]
mod common;

/// Small tables: the checks here are quadratic in the mounts, and the plan's logic needs only a
/// few dozen to show.
const MAX_TEXT: usize = 8 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some(input) = common::Input::new(data) else { return };
    let (root, body) = match input.body.iter().position(|&b| b == b'\n') {
        Some(n) => (&input.body[..n], &input.body[n + 1..]),
        None => (input.body, &[][..]),
    };
    let text = common::Input { body, ..input }.text(MAX_TEXT);

    let mut buf = [0u8; PATH_MAX];
    let normal = check_normalize(root, &mut buf, usize::from(input.seed % 24));
    // The binary refuses a root that does not normalise; the plan must still not panic.
    let root = normal.as_deref().unwrap_or(root);

    common::with_tables(|chunked, whole| {
        let parsed = common::parse_chunked(chunked, &text, input.seed, input.max_chunk);
        whole.clear();
        assert_eq!(nestinit::mountinfo::parse_all(whole, &text), parsed);
        // The binary stops at a parse error: only a whole table is planned.
        if parsed.is_err() {
            return;
        }
        let plan = plan(chunked, root);
        check_plan(chunked, root, &plan);
        assert!(plan == self::plan(whole, root), "the chunking changed the plan");
        if let Some(normal) = &normal {
            // Slashes do not matter: the same root with each doubled and one more at the end.
            let mut odd: Vec<u8> = normal
                .iter()
                .flat_map(|&b| if b == b'/' { vec![b'/'; 2] } else { vec![b] })
                .collect();
            odd.push(b'/');
            assert!(plan == self::plan(whole, &odd), "another spelling of the root");
        }
    });
});

/// The reference: components, `.` dropped; `None` for a relative path or one with `..`.
fn reference_normalize(path: &[u8]) -> Option<Vec<u8>> {
    if path.first() != Some(&b'/') {
        return None;
    }
    let mut out = Vec::new();
    for c in path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".") {
        if c == b".." {
            return None;
        }
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Some(out)
}

fn components(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect()
}

/// `is_under`, checked against the reference on the way.
fn under(path: &[u8], base: &[u8]) -> bool {
    let got = is_under(path, base);
    assert_eq!(got, components(path).starts_with(&components(base)), "is_under");
    got
}

/// `normalize` into the whole buffer (as the binary does) and into a small one, which must cut
/// exactly when the result does not fit. Returns the normalised root when it fits with its NUL.
fn check_normalize(root: &[u8], buf: &mut [u8; PATH_MAX], small: usize) -> Option<Vec<u8>> {
    let want = reference_normalize(root);
    let mut tiny = [0u8; 24];
    let mut line = Line::new(&mut tiny[..small]);
    let ok = normalize(root, &mut line);
    assert_eq!(ok, want.is_some(), "normalize accepts exactly absolute paths without ..");
    if let Some(want) = &want {
        assert_eq!(line.is_cut(), want.len() > small, "normalize cuts exactly when it must");
        if !line.is_cut() {
            assert_eq!(line.as_bytes(), &want[..]);
        }
    }

    let mut line = Line::new(buf);
    let ok = normalize(root, &mut line);
    let want = want?;
    assert!(ok);
    assert_eq!(line.is_cut(), want.len() > PATH_MAX);
    let fits = !line.is_cut() && want.len() < PATH_MAX && !want.contains(&0);
    let got = line.into_cstr().map(|c| c.to_bytes().to_vec());
    assert_eq!(got.is_some(), fits, "into_cstr");
    let got = got?;
    assert_eq!(got, want);
    // Normal form: idempotent, with the input's components but its `.`.
    assert_eq!(reference_normalize(&got).as_deref(), Some(&got[..]));
    let dotless = |p: &[u8]| components(p).into_iter().filter(|&c| c != b".").count();
    assert!(under(&got, &got) && components(&got).len() == dotless(root));
    Some(got)
}

/// `proc_options`: read-only, and the kept (key, value) pairs.
type ProcOptions = (bool, Vec<(Vec<u8>, Vec<u8>)>);

#[derive(PartialEq)]
struct Plan {
    classes: Vec<Result<(), Skip>>,
    moved: Vec<u16>,
    masks: Result<Vec<(u16, Mask)>, ()>,
    proc: ProcOptions,
}

/// The kernel spells every mount point one way: absolute, no `//`, `.`, `..` or trailing `/`.
/// The plan's promises about nesting hold for such paths.
fn canonical(p: &[u8]) -> bool {
    p == b"/"
        || (p.first() == Some(&b'/')
            && p[1..].split(|&b| b == b'/').all(|c| !c.is_empty() && c != b"." && c != b".."))
}

/// What the binary would do with this table and root.
fn plan(t: &Table, root: &[u8]) -> Plan {
    let n = t.len();
    let mut out = heapless::Vec::<u16, MAX_MOUNTS>::new();
    moves(t, root, &mut out);
    let mut masks = heapless::Vec::<(u16, Mask), 64>::new();
    let masks = proc_masks(t, &mut masks).map(|()| masks.to_vec());
    let (read_only, kept) = proc_options(t);
    let kept = kept.map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
    Plan {
        classes: (0..n).map(|i| classify(t, i, root)).collect(),
        moved: out.to_vec(),
        masks,
        proc: (read_only, kept),
    }
}

/// Whether `p` is strictly below `q`, by components (precomputed).
fn below(p: &[&[u8]], q: &[&[u8]]) -> bool {
    p.len() > q.len() && p.starts_with(q)
}

fn check_plan(t: &Table, root: &[u8], plan: &Plan) {
    let n = t.len();
    let paths: Vec<&[u8]> = (0..n).map(|i| t.path(i)).collect();
    let comps: Vec<Vec<&[u8]>> = paths.iter().map(|p| components(p)).collect();
    let kernel = paths.iter().all(|p| canonical(p));
    assert_eq!(classify(t, n, root), Err(Skip::Root), "past the end");
    assert_eq!(classify(t, usize::MAX, root), Err(Skip::Root), "past the end");
    let Plan { classes, moved, masks, proc } = plan;
    let want: Vec<u16> = (0..n).filter(|&i| classes[i].is_ok()).map(|i| i as u16).collect();
    assert_eq!(*moved, want, "moves lists what classify accepts, in table order");

    // Why each mount stays.
    for (i, class) in classes.iter().enumerate() {
        let p = paths[i];
        match class {
            Err(Skip::Root) => assert!(under(b"/", p)),
            Err(Skip::Proc) => assert!(under(p, b"/proc")),
            Err(Skip::Volume) => assert!(under(p, root)),
            Err(Skip::AncestorOfVolume) => assert!(under(root, p)),
            Err(Skip::Stacked) => assert_ne!(t.find(p), Some(i)),
            // Something moved carries it (MS_MOVE takes the subtree).
            Err(Skip::Covered) if kernel => assert!(
                moved.iter().any(|&m| below(&comps[i], &comps[usize::from(m)])),
                "a covered mount is under a moved one"
            ),
            Err(Skip::Covered) | Ok(()) => {}
        }
    }
    for &m in moved {
        let (i, p) = (usize::from(m), paths[usize::from(m)]);
        assert!(!under(b"/", p), "the root is never moved");
        assert!(!under(p, b"/proc"), "/proc is never moved");
        assert!(!under(p, root) && !under(root, p), "the volume and its ancestors stay");
        assert_eq!(t.find(p), Some(i), "only the visible mount at a path moves");
        if kernel {
            for &o in moved {
                let other = &comps[usize::from(o)];
                assert!(o == m || !comps[i].starts_with(other), "a moved mount under a moved one");
            }
        }
    }
    // With "/" as the root every mount is under the volume.
    let mut none = heapless::Vec::<u16, MAX_MOUNTS>::new();
    moves(t, b"/", &mut none);
    assert!(none.is_empty(), "root / moves nothing");

    check_masks(t, &comps, kernel, masks);
    for (i, _) in masks.iter().flatten() {
        assert!(!moved.contains(i), "a mask is never moved");
    }
    check_proc_options(t, proc);
}

fn check_masks(t: &Table, comps: &[Vec<&[u8]>], kernel: bool, got: &Result<Vec<(u16, Mask)>, ()>) {
    let proc: &[&[u8]] = &[b"proc"];
    let is_mask = |i: usize| below(&comps[i], proc) && t.find(t.path(i)) == Some(i);
    let candidates: Vec<usize> = (0..comps.len()).filter(|&i| is_mask(i)).collect();
    let top: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| !candidates.iter().any(|&j| below(&comps[i], &comps[j])))
        .collect();
    let got = match got {
        Ok(got) => got,
        Err(()) => {
            assert!(!kernel || top.len() > 64, "64 masks or fewer fit");
            return;
        }
    };
    assert!(!kernel || top.len() <= 64, "more than 64 masks is an error");
    let indices: Vec<usize> = got.iter().map(|&(i, _)| usize::from(i)).collect();
    if kernel {
        assert_eq!(indices, top, "the masks are the outermost visible mounts below /proc");
    }
    for &(i, mask) in got {
        let i = usize::from(i);
        assert!(is_mask(i), "a mask is a visible mount below /proc");
        // A bind of proc is made again, read-only; anything else is carried as it is.
        let want = if t.fstype(i) == b"proc" { Mask::ReadOnly } else { Mask::Carry };
        assert_eq!(mask, want);
    }
}

/// The container's /proc: read-only or not, and its `hidepid=`, `subset=` and `gid=` options.
fn check_proc_options(t: &Table, (read_only, kept): &ProcOptions) {
    let proc = t.find(b"/proc").filter(|&i| t.fstype(i) == b"proc");
    let want_ro = proc.and_then(|i| t.mount(i)).is_some_and(|m| m.read_only);
    assert_eq!(*read_only, want_ro, "proc_options: read-only");
    let opts = proc.map_or(&[][..], |i| t.super_options(i));
    let want: Vec<(Vec<u8>, Vec<u8>)> = opts
        .split(|&b| b == b',')
        .filter_map(|o| {
            let eq = o.iter().position(|&b| b == b'=')?;
            let key = &o[..eq];
            [&b"hidepid"[..], b"subset", b"gid"]
                .contains(&key)
                .then(|| (key.to_vec(), o[eq + 1..].to_vec()))
        })
        .collect();
    assert_eq!(*kept, want, "proc_options: kept options");
}
