//! The streaming mountinfo parser: `Parser::feed` in arbitrary chunks, then `finish`, into a
//! `Table`; compared with a reference parser of whole lines and with a one-chunk parse.
//!
//! Input: see `common::Input` (2 header bytes choosing the chunking, then the mountinfo text,
//! or a repetition of parts of it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nestinit::mountinfo::{parse_all, ParseError, Table, MAX_MOUNTS, PATH_MAX};
use std::collections::{HashMap, HashSet};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some(input) = common::Input::new(data) else { return };
    let text = input.text(common::MAX_TEXT);
    common::with_tables(|chunked, whole| {
        let got = common::parse_chunked(chunked, &text, input.seed, input.max_chunk);
        let rows = common::rows(chunked);
        // In one chunk too (the long texts of the bounds only in theirs: they are slow).
        if text.len() <= 64 * 1024 {
            whole.clear();
            assert_eq!(parse_all(whole, &text), got, "the chunking changed the result");
            assert_eq!(common::rows(whole), rows, "the chunking changed the table");
        }

        let (want_rows, want) = common::reference(&text);
        assert_eq!(got, want, "the reference parser disagrees");
        assert_eq!(rows, want_rows, "the reference parser's table differs");

        check_table(chunked, &rows, got);
    });
});

fn check_table(t: &Table, rows: &[common::Row], result: Result<(), ParseError>) {
    assert!(t.len() <= MAX_MOUNTS);
    assert_eq!(t.is_empty(), rows.is_empty());
    assert!(t.mount(t.len()).is_none());
    assert!(t.path(t.len()).is_empty() && t.fstype(t.len()).is_empty());
    assert!(t.super_options(t.len()).is_empty());
    for (_, _, _, path, fstype, opts) in rows {
        // Mount points are stored unescaped and whole; fs types as they are; super options
        // for proc only.
        assert!(!path.is_empty() && path.len() < PATH_MAX);
        assert!(!fstype.is_empty() && !fstype.contains(&b' ') && !fstype.contains(&b'\n'));
        assert!(opts.is_empty() || fstype == b"proc");
    }
    if let Err(e) = result {
        assert!(!e.describe().is_empty());
        if let ParseError::Malformed { line } = e {
            assert!(line >= 1);
        }
        // After an error the table is incomplete: only a finished parse may be searched.
        return;
    }
    // `find`: the last mount at that path that no other mount there has as its parent (none
    // when every one is covered, which only a cycle of parents can do). Every path of a small
    // table, a sample of a large one.
    let step = if rows.len() <= 256 { 1 } else { rows.len() / 16 };
    let mut seen = HashSet::new();
    for path in rows.iter().step_by(step).map(|r| &r.3).filter(|p| seen.insert(*p)) {
        let here: Vec<usize> = (0..rows.len()).filter(|&j| rows[j].3 == *path).collect();
        let mut parents: HashMap<u32, usize> = HashMap::new();
        for &j in &here {
            *parents.entry(rows[j].1).or_default() += 1;
        }
        let covered = |i: usize| {
            let own = usize::from(rows[i].1 == rows[i].0);
            parents.get(&rows[i].0).copied().unwrap_or(0) > own
        };
        let want = here.iter().rev().copied().find(|&i| !covered(i));
        assert_eq!(t.find(path), want, "find");
        // A path that sorts right before or after this one is not this one.
        let mut longer = path.clone();
        longer.push(0);
        if !rows.iter().any(|r| r.3 == longer) {
            assert_eq!(t.find(&longer), None);
        }
        let shorter = &path[..path.len() - 1];
        if !rows.iter().any(|r| r.3 == shorter) {
            assert_eq!(t.find(shorter), None);
        }
    }
    assert_eq!(t.find(b""), None, "no mount point is empty");
}
