//! Shared by the mountinfo and plan targets: the input format, chunked parsing and a reference
//! parser of mountinfo written independently of `nestinit::mountinfo` (whole lines, `split`,
//! std integer parsing), to compare the streaming parser with.
#![allow(dead_code)]

use nestinit::mountinfo::{ParseError, Parser, Table, ARENA, MAX_MOUNTS, PATH_MAX};
use std::cell::RefCell;

/// The longest text an input may expand to: past every bound (the mounts, the arena, a mount
/// point).
pub const MAX_TEXT: usize = ARENA + 64 * 1024;

/// An input of the mountinfo and plan targets:
///
/// ```text
/// byte 0  seed of the chunk lengths
/// byte 1  longest chunk (0: the whole text in one chunk)
/// rest    body: the text, or REP:<count, one byte>A\0B\0C
/// ```
///
/// The second form stands for `A`, `B` repeated `count` times, `C`: the bounds need long lines
/// or many of them, far past libFuzzer's input length. A count of at most 255 keeps most of
/// these texts short (the fuzzer keeps finding the form); the long ones the bounds need come
/// from a long `B`.
pub struct Input<'a> {
    pub seed: u8,
    pub max_chunk: u8,
    pub body: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Option<Input<'a>> {
        let (&[seed, max_chunk], body) = data.split_first_chunk::<2>()?;
        Some(Input { seed, max_chunk, body })
    }

    /// The text the body stands for, at most `max` bytes.
    pub fn text(&self, max: usize) -> Vec<u8> {
        let mut text = match self.body.strip_prefix(b"REP:").and_then(|r| r.split_first()) {
            Some((&count, rest)) => expand(rest, count, max),
            None => self.body.to_vec(),
        };
        text.truncate(max);
        text
    }
}

fn expand(body: &[u8], count: u8, max: usize) -> Vec<u8> {
    let mut parts = body.splitn(3, |&b| b == 0);
    let (Some(a), Some(b), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
        return body.to_vec();
    };
    let room = max.saturating_sub(a.len() + c.len());
    let count = if b.is_empty() { 0 } else { usize::from(count).min(room / b.len()) };
    let mut text = Vec::with_capacity(a.len() + b.len() * count + c.len());
    text.extend_from_slice(a);
    for _ in 0..count {
        text.extend_from_slice(b);
    }
    text.extend_from_slice(c);
    text
}

/// Chunk lengths from a seed: 1..=max, xorshift; `max == 0` is one chunk.
pub fn chunks(text: &[u8], seed: u8, max: u8) -> impl Iterator<Item = &[u8]> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(seed) ^ (u64::from(max) << 8);
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if max == 0 {
            rest.len()
        } else {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % u64::from(max)) as usize + 1
        };
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        Some(chunk)
    })
}

/// Feeds `text` in the chunks [`chunks`] gives, then finishes. Checks the parser's contract on
/// the way: an error sticks, and is returned again by every later call.
pub fn parse_chunked(table: &mut Table, text: &[u8], seed: u8, max: u8) -> Result<(), ParseError> {
    table.clear();
    let mut parser = Parser::new();
    let mut failed = None;
    for chunk in chunks(text, seed, max) {
        let r = parser.feed(table, chunk);
        match failed {
            Some(e) => {
                assert_eq!(r, Err(e), "an error must stick");
                break;
            }
            None => failed = r.err(),
        }
    }
    let r = parser.finish(table);
    if let Some(e) = failed {
        assert_eq!(r, Err(e), "finish after an error must return it");
        assert_eq!(parser.feed(table, b"1 1 0:1 / /x rw - t t rw\n"), Err(e));
    }
    // A second finish changes nothing (checked on small tables: it sorts the index again).
    if table.len() <= 1024 {
        let len = table.len();
        assert_eq!(parser.finish(table), r, "a second finish");
        assert_eq!(table.len(), len);
    }
    r
}

/// id, parent, read-only, mount point, fs type, super options (kept for proc only).
pub type Row = (u32, u32, bool, Vec<u8>, Vec<u8>, Vec<u8>);

pub fn rows(t: &Table) -> Vec<Row> {
    (0..t.len())
        .map(|i| {
            let m = t.mount(i).expect("a mount below len");
            let (path, fstype, opts) = (t.path(i), t.fstype(i), t.super_options(i));
            (m.id, m.parent, m.read_only, path.to_vec(), fstype.to_vec(), opts.to_vec())
        })
        .collect()
}

fn number(field: &[u8]) -> Option<u32> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// One line of mountinfo (proc(5)): `id parent dev root point options [optional...] - fstype
/// source super...`, fields separated by single spaces. `used` is the arena already taken by
/// earlier lines. Errors come in the order the bytes reach them.
fn reference_line(line: &[u8], lineno: usize, used: usize) -> Result<Row, ParseError> {
    let bad = ParseError::Malformed { line: lineno };
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let ended = |k: usize| k + 1 < fields.len(); // a space follows field k
    let field = |k: usize| fields.get(k).copied().ok_or(bad);
    let id = number(field(0)?).ok_or(bad)?;
    let parent = number(field(1)?).ok_or(bad)?;
    let raw = field(4)?;
    let mut point = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let b = if raw[i] == b'\\' {
            let digits = raw.get(i + 1..i + 4).ok_or(bad)?;
            if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                return Err(bad);
            }
            let v = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
            i += 4;
            u8::try_from(v).map_err(|_| bad)?
        } else {
            i += 1;
            raw[i - 1]
        };
        if point.len() >= PATH_MAX - 1 {
            return Err(ParseError::PathTooLong);
        }
        if used + point.len() >= ARENA {
            return Err(ParseError::ArenaFull);
        }
        point.push(b);
    }
    if raw.is_empty() || !ended(4) || !ended(5) {
        return Err(bad);
    }
    let read_only = fields[5].split(|&b| b == b',').any(|item| item == b"ro");
    let dash = (6..fields.len()).find(|&k| fields[k] == b"-").ok_or(bad)?;
    if !ended(dash) {
        return Err(bad);
    }
    let fstype = fields[dash + 1];
    let mut end = used + point.len() + fstype.len();
    if end > ARENA {
        return Err(ParseError::ArenaFull);
    }
    if fstype.is_empty() || !ended(dash + 1) || !ended(dash + 2) {
        return Err(bad);
    }
    // A proc mount keeps its super options, the fields after the source (spaces dropped).
    let opts = if fstype == b"proc" { fields[dash + 3..].concat() } else { Vec::new() };
    end += opts.len();
    if end > ARENA {
        return Err(ParseError::ArenaFull);
    }
    Ok((id, parent, read_only, point, fstype.to_vec(), opts))
}

/// What the table should hold after parsing `text`, and the parser's result.
pub fn reference(text: &[u8]) -> (Vec<Row>, Result<(), ParseError>) {
    let mut rows = Vec::new();
    let mut used = 0;
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match reference_line(line, n + 1, used) {
            Ok(_) if rows.len() == MAX_MOUNTS => return (rows, Err(ParseError::TooManyMounts)),
            Ok(row) => {
                used += row.3.len() + row.4.len() + row.5.len();
                rows.push(row);
            }
            Err(e) => return (rows, Err(e)),
        }
    }
    (rows, Ok(()))
}

/// Two tables (over 1 MiB each), made once: a fresh one per input would spend the time
/// zeroing it.
pub fn with_tables<R>(f: impl FnOnce(&mut Table, &mut Table) -> R) -> R {
    thread_local! {
        static TABLES: RefCell<(Box<Table>, Box<Table>)> =
            RefCell::new((Box::new(Table::new()), Box::new(Table::new())));
    }
    TABLES.with(|t| {
        let mut t = t.borrow_mut();
        let (a, b) = &mut *t;
        f(a, b)
    })
}
