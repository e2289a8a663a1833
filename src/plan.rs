//! The mount plan: which container mounts move into the guest's root, and which `/proc` masks the
//! runtime set up that the guest's fresh `/proc` must get again.

use crate::mountinfo::{Table, MAX_MOUNTS};
use crate::text::Line;

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    crate::text::tokens(path, b'/')
}

/// Byte prefixes lie: "/run2" starts with "/run" but is not below it
/// (docs/design.md#path-components).
pub fn is_under(path: &[u8], base: &[u8]) -> bool {
    let mut p = components(path);
    components(base).all(|b| p.next() == Some(b))
}

fn is_strictly_under(path: &[u8], base: &[u8]) -> bool {
    is_under(path, base) && !is_under(base, path)
}

/// The root option comes from the user; comparing it with mount points needs one spelling:
/// appends `path` to `out` with single slashes and no `.`. `false` for a relative path or one
/// with `..` (a path that does not fit leaves `out` cut).
pub fn normalize(path: &[u8], out: &mut Line<'_>) -> bool {
    if path.first() != Some(&b'/') {
        return false;
    }
    let mut empty = true;
    for c in components(path).filter(|&c| c != b".") {
        if c == b".." {
            return false;
        }
        out.push(b"/").push(c);
        empty = false;
    }
    if empty {
        out.push(b"/");
    }
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    Root,
    Proc,
    Volume,
    AncestorOfVolume,
    Covered,
    Stacked,
}

/// Everything but coverage by a moved ancestor, which needs this answer for the ancestors.
fn eligible(table: &Table, i: usize, root: &[u8]) -> Result<(), Skip> {
    let path = table.path(i);
    if i >= table.len() || is_under(b"/", path) {
        Err(Skip::Root)
    } else if is_under(path, b"/proc") {
        Err(Skip::Proc)
    } else if is_under(path, root) {
        Err(Skip::Volume)
    } else if is_under(root, path) {
        Err(Skip::AncestorOfVolume)
    } else if table.find(path) != Some(i) {
        Err(Skip::Stacked)
    } else {
        Ok(())
    }
}

/// The proper ancestors of `path` ("/a" and "/a/b" for "/a/b/c"), nearest last.
fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.iter()
        .enumerate()
        .skip(1)
        .filter(|&(_, &b)| b == b'/')
        .filter_map(move |(n, _)| path.get(..n))
}

/// `MS_MOVE` carries a mount's whole subtree, so a mount below a moved one must not be moved
/// again; with root "/" every mount is under the volume and nothing moves. Each ancestor path
/// is looked up in the table's index: linear in the depth, logarithmic in the mounts.
pub fn classify(table: &Table, i: usize, root: &[u8]) -> Result<(), Skip> {
    eligible(table, i, root)?;
    let covered = ancestors(table.path(i))
        .any(|a| table.find(a).is_some_and(|j| eligible(table, j, root).is_ok()));
    if covered {
        Err(Skip::Covered)
    } else {
        Ok(())
    }
}

pub fn moves(table: &Table, root: &[u8], out: &mut heapless::Vec<u16, { MAX_MOUNTS }>) {
    out.clear();
    for i in (0..table.len()).filter(|&i| classify(table, i, root).is_ok()) {
        // Cannot fail: the table holds at most MAX_MOUNTS mounts.
        let _ = out.push(i as u16);
    }
}

/// How a mount the runtime put under the container's `/proc` reaches the guest's fresh one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// A bind of proc itself (`/proc/sys` read-only): made again from the fresh proc.
    ReadOnly,
    /// Anything else (`/dev/null` over `/proc/kcore`, a read-only tmpfs over `/proc/acpi`,
    /// LXCFS's `/proc/meminfo`): the same mount, carried as it is.
    Carry,
}

fn is_mask(table: &Table, i: usize) -> bool {
    let path = table.path(i);
    is_strictly_under(path, b"/proc") && table.find(path) == Some(i)
}

/// Most mounts under the container's `/proc` that reach the guest's fresh one: runtimes mask a
/// dozen or two.
pub const MAX_MASKS: usize = 64;

/// The masks [`proc_masks`] lists: a mount's index in the table and how it reaches the guest.
pub type Masks = heapless::Vec<(u16, Mask), MAX_MASKS>;

/// The guest gets a fresh `/proc` for its PID namespace, which would drop the runtime's masks
/// (read-only `/proc/sys`, `/dev/null` over `/proc/kcore`, ...); this lists them to re-apply.
/// A proc bind is made read-only whatever it was: never less restricted than the container.
#[allow(clippy::result_unit_err)] // the only failure is "more than MAX_MASKS", the caller words it
pub fn proc_masks(table: &Table, out: &mut Masks) -> Result<(), ()> {
    out.clear();
    for i in (0..table.len()).filter(|&i| is_mask(table, i)) {
        if ancestors(table.path(i)).any(|a| table.find(a).is_some_and(|j| is_mask(table, j))) {
            continue;
        }
        let mask = if table.fstype(i) == b"proc" { Mask::ReadOnly } else { Mask::Carry };
        out.push((i as u16, mask)).map_err(|_| ())?;
    }
    Ok(())
}

/// The container's own `/proc`: whether it is read-only, and the options of its proc
/// (`hidepid=`, `subset=`, `gid=`) that the guest's fresh one must keep, as (key, value).
pub fn proc_options(table: &Table) -> (bool, impl Iterator<Item = (&[u8], &[u8])>) {
    let i = table.find(b"/proc").filter(|&i| table.fstype(i) == b"proc");
    let read_only = i.and_then(|i| table.mount(i)).is_some_and(|m| m.read_only);
    let opts = i.map_or(&[][..], |i| table.super_options(i));
    let kept = crate::text::tokens(opts, b',').filter_map(|o| {
        let eq = o.iter().position(|&b| b == b'=')?;
        let (key, value) = (o.get(..eq)?, o.get(eq + 1..)?);
        matches!(key, b"hidepid" | b"subset" | b"gid").then_some((key, value))
    });
    (read_only, kept)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::mountinfo::parse_all;

    const DOCKER: &[u8] = b"\
1046 993 0:186 / / rw,relatime master:479 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/var/lib/docker/overlay2/c/diff,workdir=/var/lib/docker/overlay2/c/work
1047 1046 0:189 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1048 1046 0:190 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
1049 1048 0:191 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
1050 1046 0:192 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
1051 1050 0:193 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755,inode64
1052 1051 0:31 /docker/abc /sys/fs/cgroup/systemd ro,nosuid,nodev,noexec,relatime master:11 - cgroup cgroup rw,xattr,name=systemd
1053 1051 0:34 /docker/abc /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:16 - cgroup cgroup rw,memory
1054 1051 0:35 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid,nodev,noexec,relatime master:17 - cgroup cgroup rw,cpu,cpuacct
1055 1048 0:188 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw
1056 1048 0:194 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k,inode64
1057 1046 259:2 /var/lib/docker/volumes/guest/_data /data00 rw,relatime master:1 - ext4 /dev/nvme0n1p2 rw
1058 1057 0:195 / /data00/sub rw,relatime - tmpfs tmpfs rw
1059 1046 259:2 /var/lib/docker/containers/abc/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/nvme0n1p2 rw
1060 1046 259:2 /var/lib/docker/containers/abc/hostname /etc/hostname rw,relatime - ext4 /dev/nvme0n1p2 rw
1061 1046 259:2 /var/lib/docker/containers/abc/hosts /etc/hosts rw,relatime - ext4 /dev/nvme0n1p2 rw
1062 1046 0:196 / /run rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,inode64
1063 1062 0:197 / /run/lock rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,inode64
1064 1046 0:198 / /run2 rw,relatime - tmpfs tmpfs rw,inode64
1065 1046 0:199 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,inode64
994 1047 0:189 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw
995 1047 0:189 /fs /proc/fs ro,nosuid,nodev,noexec,relatime - proc proc rw
996 1047 0:189 /irq /proc/irq ro,nosuid,nodev,noexec,relatime - proc proc rw
997 1047 0:189 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
998 1047 0:189 /sysrq-trigger /proc/sysrq-trigger ro,nosuid,nodev,noexec,relatime - proc proc rw
999 1047 0:200 / /proc/acpi ro,relatime - tmpfs tmpfs ro,inode64
1000 1047 0:6 /null /proc/kcore rw,nosuid - devtmpfs udev rw,size=8119792k,mode=755
1001 1047 0:190 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
1002 1047 0:190 /null /proc/timer_list rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
1003 1047 0:201 / /proc/scsi ro,relatime - tmpfs tmpfs ro,inode64
1004 997 0:50 / /proc/sys/fs/binfmt_misc rw,relatime - binfmt_misc binfmt_misc rw
";

    fn table(text: &[u8]) -> Box<crate::mountinfo::Table> {
        let mut t = crate::mountinfo::Table::boxed();
        parse_all(&mut t, text).unwrap();
        t
    }

    fn moved(t: &Table, root: &[u8]) -> Vec<String> {
        let mut out = heapless::Vec::new();
        moves(t, root, &mut out);
        out.iter().map(|&i| String::from_utf8(t.path(i.into()).to_vec()).unwrap()).collect()
    }

    fn skip(t: &Table, path: &[u8], root: &[u8]) -> Result<(), Skip> {
        classify(t, t.find(path).unwrap(), root)
    }

    #[test]
    fn docker_moves() {
        let t = table(DOCKER);
        assert_eq!(
            moved(&t, b"/data00"),
            [
                "/dev",
                "/sys",
                "/etc/resolv.conf",
                "/etc/hostname",
                "/etc/hosts",
                "/run",
                "/run2",
                "/tmp"
            ]
        );
        assert_eq!(skip(&t, b"/", b"/data00"), Err(Skip::Root));
        assert_eq!(skip(&t, b"/proc", b"/data00"), Err(Skip::Proc));
        assert_eq!(skip(&t, b"/proc/kcore", b"/data00"), Err(Skip::Proc));
        assert_eq!(skip(&t, b"/data00", b"/data00"), Err(Skip::Volume));
        assert_eq!(skip(&t, b"/data00/sub", b"/data00"), Err(Skip::Volume));
        for covered in
            ["/dev/pts", "/dev/shm", "/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/run/lock"]
        {
            assert_eq!(skip(&t, covered.as_bytes(), b"/data00"), Err(Skip::Covered), "{covered}");
        }
        assert_eq!(skip(&t, b"/run2", b"/data00"), Ok(()));
    }

    #[test]
    fn docker_proc_masks() {
        let t = table(DOCKER);
        let mut out = heapless::Vec::new();
        proc_masks(&t, &mut out).unwrap();
        let got: Vec<(&[u8], Mask)> = out.iter().map(|&(i, m)| (t.path(i.into()), m)).collect();
        let want: [(&[u8], Mask); 10] = [
            (b"/proc/bus", Mask::ReadOnly),
            (b"/proc/fs", Mask::ReadOnly),
            (b"/proc/irq", Mask::ReadOnly),
            (b"/proc/sys", Mask::ReadOnly),
            (b"/proc/sysrq-trigger", Mask::ReadOnly),
            (b"/proc/acpi", Mask::Carry),
            (b"/proc/kcore", Mask::Carry),
            (b"/proc/keys", Mask::Carry),
            (b"/proc/timer_list", Mask::Carry),
            (b"/proc/scsi", Mask::Carry),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn too_many_masks() {
        let mut text = b"1 0 0:1 / / rw - ext4 r rw\n2 1 0:2 / /proc rw - proc proc rw\n".to_vec();
        for i in 0..65 {
            text.extend(format!("{} 2 0:3 /null /proc/m{i} rw - tmpfs tmpfs rw\n", i + 3).bytes());
        }
        let t = table(&text);
        let mut out = heapless::Vec::new();
        assert_eq!(proc_masks(&t, &mut out), Err(()));
    }

    #[test]
    fn root_slash_moves_nothing() {
        let t = table(DOCKER);
        assert!(moved(&t, b"/").is_empty());
        assert_eq!(skip(&t, b"/dev", b"/"), Err(Skip::Volume));
    }

    #[test]
    fn stacked_mounts_move_once() {
        let t = table(
            b"1 0 0:1 / / rw - ext4 r rw\n11 10 0:3 / /run rw - tmpfs t rw\n\
              10 1 0:2 / /run rw - tmpfs t rw\n12 11 0:4 / /run/lock rw - tmpfs t rw\n",
        );
        assert_eq!(moved(&t, b"/data00"), ["/run"]);
        assert_eq!(t.find(b"/run"), Some(1));
        assert_eq!(classify(&t, 2, b"/data00"), Err(Skip::Stacked));
        assert_eq!(classify(&t, 3, b"/data00"), Err(Skip::Covered));
        assert_eq!(classify(&t, 7, b"/data00"), Err(Skip::Root));
    }

    #[test]
    fn ancestor_of_volume() {
        let t = table(
            b"1 0 0:1 / / rw - ext4 r rw\n10 1 0:2 / /mnt rw - tmpfs t rw\n\
              11 10 8:1 / /mnt/vol rw - ext4 /dev/sdb rw\n12 10 0:3 / /mnt/other rw - tmpfs t rw\n",
        );
        assert_eq!(skip(&t, b"/mnt", b"/mnt/vol"), Err(Skip::AncestorOfVolume));
        assert_eq!(skip(&t, b"/mnt/vol", b"/mnt/vol"), Err(Skip::Volume));
        assert_eq!(moved(&t, b"/mnt/vol"), ["/mnt/other"]);
    }

    #[test]
    fn component_comparison() {
        assert!(is_under(b"/run", b"/run"));
        assert!(is_under(b"/run/lock", b"/run/"));
        assert!(!is_under(b"/run2", b"/run"));
        assert!(!is_under(b"/run", b"/run/lock"));
        assert!(is_under(b"/anything", b"/"));
        assert!(is_under(b"/", b"/"));
        assert!(!is_under(b"/", b"/run"));
        assert!(is_strictly_under(b"/run/lock", b"/run"));
        assert!(!is_strictly_under(b"/run/", b"/run"));
    }

    #[test]
    fn normalize_cases() {
        let cases: [(&[u8], Option<&[u8]>); 10] = [
            (b"/", Some(b"/")),
            (b"//", Some(b"/")),
            (b"/data00", Some(b"/data00")),
            (b"//data00//sub/", Some(b"/data00/sub")),
            (b"/./a/./b/.", Some(b"/a/b")),
            (b"/a/..b/c..", Some(b"/a/..b/c..")),
            (b"data00", None),
            (b"", None),
            (b"/a/../b", None),
            (b"/0123456789abcdef", None),
        ];
        for (input, want) in cases {
            let mut buf = [0u8; 16];
            let mut out = Line::new(&mut buf);
            let got = (normalize(input, &mut out) && !out.is_cut())
                .then(|| out.as_bytes().to_vec())
                .filter(|v| v.len() < 16);
            assert_eq!(got, want.map(<[u8]>::to_vec), "{input:?}");
        }
    }

    #[test]
    fn proc_options_keep_what_restricts() {
        let t = table(
            b"1 0 0:1 / / rw - ext4 /dev/x rw\n\
            2 1 0:2 / /proc ro,nosuid - proc proc rw,hidepid=invisible,subset=pid,gid=5\n",
        );
        let (ro, opts) = proc_options(&t);
        assert!(ro);
        let opts: Vec<_> = opts.collect();
        assert_eq!(
            opts,
            [(&b"hidepid"[..], &b"invisible"[..]), (b"subset", b"pid"), (b"gid", b"5")]
        );
        let docker = table(DOCKER);
        let (ro, opts) = proc_options(&docker);
        assert!(!ro);
        assert_eq!(opts.count(), 0);
    }
}
