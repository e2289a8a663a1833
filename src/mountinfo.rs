//! A streaming parser of `/proc/self/mountinfo` into a bounded table.
//!
//! Lines can be tens of KiB (overlayfs lists every lower layer in its source and options), so a
//! line is never buffered: the parser walks it byte by byte and keeps only the fields the mount
//! plan needs. Every bound is an error, never a silent truncation.

/// Well past the few hundred mounts of busy hosts with propagated mounts; the table lives in
/// static memory that is touched only as far as it is filled.
pub const MAX_MOUNTS: usize = 8192;
pub const ARENA: usize = 1024 * 1024;
/// Linux's `PATH_MAX` (`<linux/limits.h>`): most bytes in a path, its NUL included. The one
/// definition: a mount point in the table and every path nestinit builds itself stay below it.
pub const PATH_MAX: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    TooManyMounts,
    ArenaFull,
    PathTooLong,
    Malformed { line: usize },
}

impl ParseError {
    pub fn describe(&self) -> &'static str {
        match self {
            ParseError::TooManyMounts => "more than 8192 mounts",
            ParseError::ArenaFull => "mount points and fs types exceed 1 MiB",
            ParseError::PathTooLong => "a mount point exceeds 4095 bytes",
            ParseError::Malformed { .. } => "malformed line",
        }
    }
}

/// The fs type is stored right after the mount point in the arena, and for proc mounts
/// (whose `hidepid=`, `subset=` and `gid=` the guest's `/proc` must keep) the super options
/// after it.
#[derive(Clone, Copy, Debug)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub read_only: bool,
    off: u32,
    point_len: u32,
    fs_len: u32,
    super_len: u32,
}

pub struct Table {
    mounts: heapless::Vec<Mount, MAX_MOUNTS>,
    /// Mount indices sorted by path, then by table order, so that the mounts at a path are
    /// found by binary search: thousands of mounts must not make the mount plan cubic.
    order: heapless::Vec<u16, MAX_MOUNTS>,
    arena: [u8; ARENA],
    used: usize,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

impl Table {
    pub const fn new() -> Table {
        Table {
            mounts: heapless::Vec::new(),
            order: heapless::Vec::new(),
            arena: [0; ARENA],
            used: 0,
        }
    }

    /// A table on the heap, for tests (too big for a test thread's stack).
    #[cfg(test)]
    pub fn boxed() -> std::boxed::Box<Table> {
        // SAFETY: all-zero is an empty table: no mounts, nothing used.
        unsafe { std::boxed::Box::<Table>::new_zeroed().assume_init() }
    }

    pub fn clear(&mut self) {
        self.mounts.clear();
        self.order.clear();
        self.used = 0;
    }

    pub fn len(&self) -> usize {
        self.mounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty()
    }

    pub fn mount(&self, i: usize) -> Option<Mount> {
        self.mounts.get(i).copied()
    }

    pub fn path(&self, i: usize) -> &[u8] {
        self.slice(i, |m| (m.off, m.point_len))
    }

    pub fn fstype(&self, i: usize) -> &[u8] {
        self.slice(i, |m| (m.off + m.point_len, m.fs_len))
    }

    /// The super options (`rw,hidepid=invisible`) of a proc mount; empty for other types.
    pub fn super_options(&self, i: usize) -> &[u8] {
        self.slice(i, |m| (m.off + m.point_len + m.fs_len, m.super_len))
    }

    fn slice(&self, i: usize, range: impl Fn(&Mount) -> (u32, u32)) -> &[u8] {
        self.mounts
            .get(i)
            .map(range)
            .and_then(|(off, len)| self.arena.get(off as usize..(off + len) as usize))
            .unwrap_or(&[])
    }

    /// Sorts the index ([`Parser::finish`] does it once the table is complete).
    fn index(&mut self) {
        self.order.clear();
        for i in 0..self.mounts.len() {
            // MAX_MOUNTS fits in u16 and the order holds as many as the mounts.
            let _ = self.order.push(i as u16);
        }
        let mut order = core::mem::take(&mut self.order);
        heapsort(&mut order, |a, b| {
            (self.path(usize::from(a)), a) < (self.path(usize::from(b)), b)
        });
        self.order = order;
    }

    /// Several mounts can sit at one path; only the last one stacked there is visible, and it is
    /// the one that no other mount at that path has as its parent.
    pub fn find(&self, path: &[u8]) -> Option<usize> {
        let lo = self.order.partition_point(|&i| self.path(usize::from(i)) < path);
        let rest = self.order.get(lo..)?;
        let group = rest.get(..rest.partition_point(|&i| self.path(usize::from(i)) == path))?;
        let parent = |i: u16| self.mount(usize::from(i)).map(|m| m.parent);
        let covered = |i: u16| {
            let id = self.mount(usize::from(i)).map(|m| m.id);
            group.iter().any(|&j| j != i && parent(j) == id)
        };
        group.iter().rev().find(|&&i| !covered(i)).map(|&i| usize::from(i))
    }
}

/// Heapsort (Williams, 1964): O(n log n) and a few dozen instructions, where core's sort
/// would add kilobytes to a binary that counts them.
fn heapsort(v: &mut [u16], less: impl Fn(u16, u16) -> bool) {
    let sift = |v: &mut [u16], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        let at = |v: &[u16], i: usize| v.get(i).copied().unwrap_or(0);
        if child + 1 < end && less(at(v, child), at(v, child + 1)) {
            child += 1;
        }
        if !less(at(v, root), at(v, child)) {
            return;
        }
        v.swap(root, child);
        root = child;
    };
    for start in (0..v.len() / 2).rev() {
        sift(v, start, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Parent,
    Dev,
    Root,
    Point,
    Options,
    Optional,
    FsType,
    Source,
    Super,
}

/// Where matching the current item of the options field against `ro` has got to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RoItem {
    Start,
    R,
    Ro,
    Other,
}

pub struct Parser {
    line: usize,
    started: bool,
    field: Field,
    field_len: usize,
    dash: bool,
    id: u32,
    parent: u32,
    read_only: bool,
    ro: RoItem,
    escape: u8,
    escaped: u16,
    point_len: usize,
    fs_len: usize,
    /// The line's fs type is proc: its super options are kept.
    keep_super: bool,
    super_len: usize,
    failed: Option<ParseError>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    pub const fn new() -> Parser {
        Parser {
            line: 1,
            started: false,
            field: Field::Id,
            field_len: 0,
            dash: false,
            id: 0,
            parent: 0,
            read_only: false,
            ro: RoItem::Start,
            escape: 0,
            escaped: 0,
            point_len: 0,
            fs_len: 0,
            keep_super: false,
            super_len: 0,
            failed: None,
        }
    }

    /// After an error the table is incomplete; the error is returned again on every later call.
    pub fn feed(&mut self, table: &mut Table, chunk: &[u8]) -> Result<(), ParseError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        for &b in chunk {
            if let Err(e) = self.byte(table, b) {
                self.failed = Some(e);
                return Err(e);
            }
        }
        Ok(())
    }

    pub fn finish(&mut self, table: &mut Table) -> Result<(), ParseError> {
        let done =
            if self.started { self.feed(table, b"\n") } else { self.failed.map_or(Ok(()), Err) };
        if done.is_ok() {
            table.index();
        }
        done
    }

    fn malformed(&self) -> ParseError {
        ParseError::Malformed { line: self.line }
    }

    fn byte(&mut self, table: &mut Table, b: u8) -> Result<(), ParseError> {
        match b {
            b'\n' => return self.end_line(table),
            b' ' => return self.end_field(table),
            _ => {}
        }
        self.started = true;
        match self.field {
            Field::Id => self.id = self.digit(self.id, b)?,
            Field::Parent => self.parent = self.digit(self.parent, b)?,
            Field::Point => self.point_byte(table, b)?,
            Field::Options => {
                self.ro = match (self.ro, b) {
                    (_, b',') => {
                        self.read_only |= self.ro == RoItem::Ro;
                        RoItem::Start
                    }
                    (RoItem::Start, b'r') => RoItem::R,
                    (RoItem::R, b'o') => RoItem::Ro,
                    _ => RoItem::Other,
                }
            }
            Field::Optional if self.field_len == 0 => self.dash = b == b'-',
            Field::FsType => {
                self.store(table, self.point_len + self.fs_len, b)?;
                self.fs_len += 1;
            }
            Field::Super if self.keep_super => {
                self.store(table, self.point_len + self.fs_len + self.super_len, b)?;
                self.super_len += 1;
            }
            _ => {}
        }
        self.field_len += 1;
        Ok(())
    }

    fn digit(&self, n: u32, b: u8) -> Result<u32, ParseError> {
        let d = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            _ => return Err(self.malformed()),
        };
        n.checked_mul(10).and_then(|n| n.checked_add(d)).ok_or(self.malformed())
    }

    /// The kernel writes space, tab, newline and backslash as `\ooo` octal
    /// (docs/design.md#path-components); a chunk may end anywhere inside one, so the escape is
    /// decoded digit by digit.
    fn point_byte(&mut self, table: &mut Table, b: u8) -> Result<(), ParseError> {
        let out = match (self.escape, b) {
            (0, b'\\') => {
                self.escape = 1;
                self.escaped = 0;
                return Ok(());
            }
            (0, _) => b,
            (_, b'0'..=b'7') => {
                self.escaped = self.escaped * 8 + u16::from(b - b'0');
                self.escape += 1;
                if self.escape < 4 {
                    return Ok(());
                }
                self.escape = 0;
                u8::try_from(self.escaped).map_err(|_| self.malformed())?
            }
            _ => return Err(self.malformed()),
        };
        if self.point_len >= PATH_MAX - 1 {
            return Err(ParseError::PathTooLong);
        }
        self.store(table, self.point_len, out)?;
        self.point_len += 1;
        Ok(())
    }

    fn store(&self, table: &mut Table, at: usize, b: u8) -> Result<(), ParseError> {
        let slot = table.arena.get_mut(table.used + at).ok_or(ParseError::ArenaFull)?;
        *slot = b;
        Ok(())
    }

    fn end_field(&mut self, table: &Table) -> Result<(), ParseError> {
        let empty = self.field_len == 0;
        self.field = match self.field {
            Field::Id | Field::Parent | Field::Point | Field::FsType if empty => {
                return Err(self.malformed())
            }
            Field::Id => Field::Parent,
            Field::Parent => Field::Dev,
            Field::Dev => Field::Root,
            Field::Root => Field::Point,
            Field::Point if self.escape != 0 => return Err(self.malformed()),
            Field::Point => Field::Options,
            Field::Options => {
                self.read_only |= self.ro == RoItem::Ro;
                Field::Optional
            }
            Field::Optional if self.field_len == 1 && self.dash => Field::FsType,
            Field::Optional => Field::Optional,
            Field::FsType => {
                let at = table.used + self.point_len;
                self.keep_super = table.arena.get(at..at + self.fs_len) == Some(b"proc");
                Field::Source
            }
            Field::Source | Field::Super => Field::Super,
        };
        self.field_len = 0;
        Ok(())
    }

    fn end_line(&mut self, table: &mut Table) -> Result<(), ParseError> {
        if self.started {
            if self.field != Field::Super {
                return Err(self.malformed());
            }
            // The arena (1 MiB) bounds all three: `as` cannot truncate.
            let mount = Mount {
                id: self.id,
                parent: self.parent,
                read_only: self.read_only,
                off: table.used as u32,
                point_len: self.point_len as u32,
                fs_len: self.fs_len as u32,
                super_len: self.super_len as u32,
            };
            table.mounts.push(mount).map_err(|_| ParseError::TooManyMounts)?;
            table.used += self.point_len + self.fs_len + self.super_len;
        }
        *self = Parser { line: self.line + 1, ..Parser::new() };
        Ok(())
    }
}

/// Convenience for tests and small inputs.
pub fn parse_all(table: &mut Table, text: &[u8]) -> Result<(), ParseError> {
    let mut parser = Parser::new();
    parser.feed(table, text)?;
    parser.finish(table)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    type Row = (u32, u32, bool, Vec<u8>, Vec<u8>);

    fn rows(t: &Table) -> Vec<Row> {
        (0..t.len())
            .map(|i| {
                let m = t.mount(i).unwrap();
                (m.id, m.parent, m.read_only, t.path(i).to_vec(), t.fstype(i).to_vec())
            })
            .collect()
    }

    const ESCAPED: &[u8] = b"20 1 0:5 / / rw - ext4 /dev/sda1 rw\n\
        21 20 0:6 / /mnt/a\\040b\\011c\\012d\\134e ro,nosuid - tmpfs my\\040src rw\n\
        22 20 0:7 / /x rw,noatime,ro shared:1 master:2 - fuse.sshfs host:/ ro\n\
        23 20 0:8 / /y rw,errors=ro,rox - proc proc rw";

    #[test]
    fn escapes_and_fields() {
        let mut t = Table::boxed();
        parse_all(&mut t, ESCAPED).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.path(1), b"/mnt/a b\tc\nd\\e");
        assert_eq!(t.fstype(1), b"tmpfs");
        let m = t.mount(1).unwrap();
        assert_eq!((m.id, m.parent, m.read_only), (21, 20, true));
        assert!(t.mount(2).unwrap().read_only);
        assert_eq!(t.fstype(2), b"fuse.sshfs");
        assert!(!t.mount(3).unwrap().read_only);
        assert_eq!(t.path(3), b"/y");
        assert_eq!(t.path(9), b"");
        assert!(t.mount(9).is_none());
        assert_eq!(t.find(b"/mnt/a b\tc\nd\\e"), Some(1));
    }

    #[test]
    fn chunking_does_not_matter() {
        let mut whole = Table::boxed();
        parse_all(&mut whole, ESCAPED).unwrap();
        let mut t = Table::boxed();
        let mut p = Parser::new();
        for b in ESCAPED.chunks(1) {
            p.feed(&mut t, b).unwrap();
        }
        p.finish(&mut t).unwrap();
        assert_eq!(rows(&t), rows(&whole));

        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200 {
            t.clear();
            let mut p = Parser::new();
            let mut rest = ESCAPED;
            while !rest.is_empty() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let (chunk, tail) = rest.split_at((seed % 13 + 1).min(rest.len() as u64) as usize);
                p.feed(&mut t, chunk).unwrap();
                rest = tail;
            }
            p.finish(&mut t).unwrap();
            assert_eq!(rows(&t), rows(&whole));
        }
    }

    #[test]
    fn huge_super_options_are_skipped() {
        let mut line = b"30 1 0:40 / / rw - overlay overlay rw,lowerdir=".to_vec();
        line.extend(std::iter::repeat(b'x').take(100 * 1024));
        line.extend_from_slice(b"\n31 30 0:41 / /tmp rw - tmpfs tmpfs rw\n");
        let mut t = Table::boxed();
        let mut p = Parser::new();
        for chunk in line.chunks(4096) {
            p.feed(&mut t, chunk).unwrap();
        }
        p.finish(&mut t).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.fstype(0), b"overlay");
        assert_eq!(t.path(1), b"/tmp");
    }

    #[test]
    fn long_mount_point() {
        let mut t = Table::boxed();
        let mut line = b"30 1 0:40 / /".to_vec();
        line.extend(std::iter::repeat(b'a').take(4094));
        line.extend_from_slice(b" rw - tmpfs tmpfs rw\n");
        parse_all(&mut t, &line).unwrap();
        assert_eq!(t.path(0).len(), 4095);

        let mut line = b"30 1 0:40 / /".to_vec();
        line.extend(std::iter::repeat(b'a').take(4999));
        line.extend_from_slice(b" rw - tmpfs tmpfs rw\n");
        t.clear();
        assert_eq!(parse_all(&mut t, &line), Err(ParseError::PathTooLong));
    }

    fn many(n: usize, path_len: usize) -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..n {
            let path = format!("/m{i:0>width$}", width = path_len - 2);
            text.extend(format!("{} 1 0:{i} / {path} rw - tmpfs tmpfs rw\n", i + 2).bytes());
        }
        text
    }

    #[test]
    fn bounds() {
        let mut t = Table::boxed();
        parse_all(&mut t, &many(300, 10)).unwrap();
        assert_eq!(t.len(), 300);
        assert_eq!(t.mount(299).unwrap().id, 301);
        t.clear();
        parse_all(&mut t, &many(MAX_MOUNTS, 10)).unwrap();
        t.clear();
        let err = parse_all(&mut t, &many(MAX_MOUNTS + 1, 10)).unwrap_err();
        assert_eq!(err, ParseError::TooManyMounts);
        assert!(err.describe().contains("8192"));
        t.clear();
        assert_eq!(parse_all(&mut t, &many(300, 4000)), Err(ParseError::ArenaFull));
    }

    #[test]
    fn malformed_lines() {
        let mut t = Table::boxed();
        let bad: [&[u8]; 6] = [
            b"x 1 0:1 / /a rw - tmpfs t rw",
            b"2 1 0:1 / /a rw tmpfs t rw",
            b"2 1 0:1 / /a rw - tmpfs t",
            b"2 1 0:1 / /a\\09 rw - tmpfs t rw",
            b"2 1 0:1 / /a\\400 rw - tmpfs t rw",
            b"99999999999 1 0:1 / /a rw - tmpfs t rw",
        ];
        for text in bad {
            t.clear();
            let mut ok = b"1 0 0:1 / / rw - ext4 r rw\n".to_vec();
            ok.extend_from_slice(text);
            assert_eq!(parse_all(&mut t, &ok), Err(ParseError::Malformed { line: 2 }));
        }
        t.clear();
        parse_all(&mut t, b"").unwrap();
        assert!(t.is_empty());
    }

    #[test]
    fn proc_super_options_are_kept() {
        let mut t = Table::boxed();
        let text = b"1 0 0:1 / / rw - ext4 /dev/x rw,very,long,options\n\
            2 1 0:2 / /proc ro,nosuid - proc proc rw,hidepid=invisible,subset=pid\n\
            3 2 0:3 /null /proc/kcore rw - tmpfs tmpfs rw,size=1k\n";
        parse_all(&mut t, text).unwrap();
        assert_eq!(t.super_options(0), b"");
        assert_eq!(t.super_options(1), b"rw,hidepid=invisible,subset=pid");
        assert_eq!(t.super_options(2), b"");
        assert_eq!(t.path(2), b"/proc/kcore");
        assert_eq!(t.fstype(2), b"tmpfs");
        assert!(t.mount(1).unwrap().read_only);
    }

    #[test]
    fn heapsort_sorts() {
        let mut v: Vec<u16> = (0..500u16).map(|i| i.wrapping_mul(7919) % 503).collect();
        let mut want = v.clone();
        want.sort();
        heapsort(&mut v, |a, b| a < b);
        assert_eq!(v, want);
        let mut one = [3u16];
        heapsort(&mut one, |a, b| a < b);
        assert_eq!(one, [3]);
        heapsort(&mut [], |a: u16, b: u16| a < b);
    }
}
