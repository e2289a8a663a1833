//! The system calls rustix keeps private, on linux-raw-sys numbers and structures.
//!
//! rustix 1.x exposes no clone3, rt_sigprocmask, rt_sigtimedwait, rt_sigaction, execve or
//! exit_group outside its hidden runtime module (docs/design.md#raw-syscalls), so these few
//! calls go through [`syscall`], one small asm block per architecture. Everything else uses
//! rustix.

use core::ffi::{c_char, CStr};
use linux_raw_sys::general as k;
use rustix::io::Errno;

/// A signal set as the `rt_*` calls take it: one bit per signal, 64 signals on every
/// architecture we build for (`_NSIG / 8` bytes).
pub type SigSet = u64;

/// The calls that take a `__kernel_timespec` (64-bit seconds everywhere). On 32-bit
/// architectures the classic numbers take the old 32-bit timespec, so the `*_time64` ones
/// are used there (Linux 5.1+).
#[cfg(target_pointer_width = "64")]
const NR_CLOCK_GETTIME: u32 = k::__NR_clock_gettime;
#[cfg(target_pointer_width = "64")]
const NR_RT_SIGTIMEDWAIT: u32 = k::__NR_rt_sigtimedwait;
#[cfg(target_pointer_width = "32")]
const NR_CLOCK_GETTIME: u32 = k::__NR_clock_gettime64;
#[cfg(target_pointer_width = "32")]
const NR_RT_SIGTIMEDWAIT: u32 = k::__NR_rt_sigtimedwait_time64;

/// Raw system call with up to six arguments; returns the kernel's value (`-errno` on error).
///
/// # Safety
/// The caller guarantees that the arguments are valid for system call `nr`.
#[inline(always)]
unsafe fn syscall(nr: u32, a: [usize; 6]) -> isize {
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the x86_64 syscall ABI: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9;
    // the kernel clobbers rcx and r11.
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") nr as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2], in("r10") a[3], in("r8") a[4],
            in("r9") a[5], lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the aarch64 syscall ABI: number in x8, arguments and result in x0..x5.
    unsafe {
        core::arch::asm!("svc 0", in("x8") nr as usize, inlateout("x0") a[0] as isize => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack));
    }
    #[cfg(target_arch = "riscv64")]
    // SAFETY: the riscv64 syscall ABI: number in a7, arguments and result in a0..a5.
    unsafe {
        core::arch::asm!("ecall", in("a7") nr as usize, inlateout("a0") a[0] as isize => ret,
            in("a1") a[1], in("a2") a[2], in("a3") a[3], in("a4") a[4], in("a5") a[5],
            options(nostack));
    }
    #[cfg(target_arch = "arm")]
    // SAFETY: the ARM EABI syscall ABI: number in r7, arguments and result in r0..r5. r7 may
    // be reserved by LLVM, so it is saved and restored around the call through r6's slot.
    unsafe {
        core::arch::asm!("mov {tmp}, r7", "mov r7, {nr}", "svc 0", "mov r7, {tmp}",
            nr = in(reg) nr as usize, tmp = out(reg) _,
            inlateout("r0") a[0] as isize => ret,
            in("r1") a[1], in("r2") a[2], in("r3") a[3], in("r4") a[4], in("r5") a[5],
            options(nostack));
    }
    ret
}

fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// `exit_group(code)` — ends every thread of the process.
///
/// <https://man7.org/linux/man-pages/man2/exit_group.2.html>
pub fn exit_group(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes a plain integer and does not return.
        unsafe { syscall(k::__NR_exit_group, [code as usize, 0, 0, 0, 0, 0]) };
    }
}

/// `execve(path, argv, envp)` — replaces the process image; returns only on failure.
///
/// <https://man7.org/linux/man-pages/man2/execve.2.html>
pub fn execve(path: &CStr, argv: *const *const c_char, envp: *const *const c_char) -> Errno {
    // SAFETY: `path` is NUL-terminated; argv and envp are NULL-terminated vectors of
    // NUL-terminated strings that outlive the call (they come from the kernel or from buffers
    // owned by the caller).
    let r = unsafe {
        syscall(k::__NR_execve, [path.as_ptr() as usize, argv as usize, envp as usize, 0, 0, 0])
    };
    match check(r) {
        Err(e) => e,
        Ok(_) => Errno::INVAL,
    }
}

/// How to change the signal mask in [`sigprocmask`].
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum How {
    SetMask = k::SIG_SETMASK,
    /// Adds the set to the mask; with an empty set, only reads the mask.
    Block = k::SIG_BLOCK,
}

/// `rt_sigprocmask(how, set, old)` — changes the signal mask and returns the previous one.
///
/// <https://man7.org/linux/man-pages/man2/rt_sigprocmask.2.html>
pub fn sigprocmask(how: How, set: SigSet) -> Result<SigSet, Errno> {
    let mut old: SigSet = 0;
    // SAFETY: both pointers refer to 8-byte sets that live across the call.
    let r = unsafe {
        syscall(
            k::__NR_rt_sigprocmask,
            [
                how as usize,
                &set as *const SigSet as usize,
                &mut old as *mut SigSet as usize,
                8,
                0,
                0,
            ],
        )
    };
    check(r).map(|_| old)
}

/// Signal disposition values for [`sigaction`].
pub const SIG_DFL: usize = 0;
pub const SIG_IGN: usize = 1;

/// `rt_sigaction(sig, act, old)` — sets the disposition of `sig` to SIG_DFL or SIG_IGN and
/// returns the previous handler value (never installs a handler: nestinit has none).
///
/// <https://man7.org/linux/man-pages/man2/rt_sigaction.2.html>
pub fn sigaction(sig: i32, disposition: usize) -> Result<usize, Errno> {
    // The kernel's layout for this architecture (the restorer field exists on some only, and
    // the mask follows it unpadded on 32-bit ARM): linux-raw-sys's, never a hand-written one.
    // SAFETY: all-zero is a valid kernel_sigaction (SIG_DFL, no flags, empty mask).
    let mut new: k::kernel_sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: SIG_DFL (0) and SIG_IGN (1) are the kernel's handler values, never called.
    new.sa_handler_kernel =
        unsafe { core::mem::transmute::<usize, k::__kernel_sighandler_t>(disposition) };
    let mut old = new;
    // SAFETY: both structures have the kernel's layout and live across the call; the sigset
    // size is 8 bytes.
    let r = unsafe {
        syscall(
            k::__NR_rt_sigaction,
            [
                sig as usize,
                &new as *const k::kernel_sigaction as usize,
                &mut old as *mut k::kernel_sigaction as usize,
                8,
                0,
                0,
            ],
        )
    };
    check(r)?;
    // SAFETY: the handler field is a pointer-sized value whatever it holds.
    Ok(unsafe { core::mem::transmute::<k::__kernel_sighandler_t, usize>(old.sa_handler_kernel) })
}

/// What [`sigtimedwait`] reports about a dequeued signal.
#[derive(Clone, Copy)]
pub struct SigInfo {
    pub signo: i32,
    /// The sender's PID for user-sent signals, 0 when the kernel sent it.
    pub pid: i32,
    /// `si_code`: above 0 for a signal the kernel raised (SIGIO's `POLL_IN`, say), 0 or
    /// below for one a process sent (sigaction(2)).
    pub code: i32,
}

/// `rt_sigtimedwait(set, info, timeout)` — dequeues one pending signal from `set`, waiting at
/// most `timeout` (forever when `None`). `Err(EAGAIN)` on timeout, `Err(EINTR)` when interrupted.
///
/// <https://man7.org/linux/man-pages/man2/rt_sigtimedwait.2.html>
pub fn sigtimedwait(set: SigSet, timeout: Option<&k::__kernel_timespec>) -> Result<SigInfo, Errno> {
    // The kernel's siginfo_t: si_pid sits after padding on 64-bit targets, so no offsets are
    // assumed here.
    // SAFETY: all-zero is a valid siginfo_t (plain integers and a padding array).
    let mut info: k::siginfo_t = unsafe { core::mem::zeroed() };
    let info_ptr = &mut info as *mut k::siginfo_t as usize;
    let ts = match timeout {
        Some(t) => t as *const k::__kernel_timespec as usize,
        None => 0,
    };
    // SAFETY: `info` is a writable siginfo_t, `set` an 8-byte set, `ts` NULL or a valid
    // timespec.
    let r = unsafe {
        syscall(NR_RT_SIGTIMEDWAIT, [&set as *const SigSet as usize, info_ptr, ts, 8, 0, 0])
    };
    // 32-bit: an emulator or kernel without the time64 call (qemu-user 7.2 has none) gets the
    // classic one with a 32-bit timespec, which holds any stop timeout.
    #[cfg(target_pointer_width = "32")]
    let r = match (check(r), timeout) {
        (Err(Errno::NOSYS), t) => {
            let old = t.map(|t| [t.tv_sec as i32, t.tv_nsec as i32]);
            let ts = old.as_ref().map_or(0, |o| o.as_ptr() as usize);
            // SAFETY: as above, with `ts` NULL or a valid 32-bit timespec.
            unsafe {
                syscall(
                    k::__NR_rt_sigtimedwait,
                    [&set as *const SigSet as usize, info_ptr, ts, 8, 0, 0],
                )
            }
        }
        _ => r,
    };
    check(r)?;
    // SAFETY: the kernel filled the common head; `_kill._pid` is where kill(2), sigqueue(3)
    // and tkill senders' PID lands (0 for signals the kernel raises itself).
    let (signo, pid, code) = unsafe {
        let head = &info.__bindgen_anon_1.__bindgen_anon_1;
        (head.si_signo, head._sifields._kill._pid, head.si_code)
    };
    Ok(SigInfo { signo, pid, code })
}

/// Result of [`fork`] in each process.
pub enum Forked {
    /// In the parent: the child's PID and, when asked for, its pidfd.
    Parent {
        pid: i32,
        pidfd: Option<i32>,
    },
    Child,
}

/// `clone3(args)` — creates a child that continues here, like `fork(2)`, with `flags` (new
/// namespaces, CLONE_PIDFD). Falls back to `clone(2)` when clone3 is refused with ENOSYS or
/// EPERM, as container seccomp profiles do (docs/design.md#clone3-seccomp).
///
/// <https://man7.org/linux/man-pages/man2/clone3.2.html>
pub fn fork(flags: u64, want_pidfd: bool) -> Result<Forked, Errno> {
    let mut pidfd: i32 = -1;
    let flags = if want_pidfd { flags | u64::from(k::CLONE_PIDFD) } else { flags };
    let args = k::clone_args {
        flags,
        pidfd: &mut pidfd as *mut i32 as u64,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: u64::from(k::SIGCHLD),
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: 0,
    };
    // SAFETY: `args` is a complete clone_args; without a new stack the child continues on a
    // copy of ours exactly as after fork(2), and `pidfd` is writable.
    let r = unsafe {
        syscall(
            k::__NR_clone3,
            [
                &args as *const k::clone_args as usize,
                core::mem::size_of::<k::clone_args>(),
                0,
                0,
                0,
                0,
            ],
        )
    };
    let r = match check(r) {
        Err(Errno::NOSYS) | Err(Errno::PERM) => {
            // clone(flags | SIGCHLD, stack = 0, parent_tid = &pidfd, ...): with CLONE_PIDFD
            // the pidfd is stored through the parent_tid argument. The child_tid and tls
            // arguments swap places between architectures but are unused here.
            let cflags = (flags as usize) | k::SIGCHLD as usize;
            // SAFETY: a fork-like clone with no new stack; `pidfd` is writable.
            check(unsafe {
                syscall(k::__NR_clone, [cflags, 0, &mut pidfd as *mut i32 as usize, 0, 0, 0])
            })
        }
        other => other,
    }?;
    if r == 0 {
        Ok(Forked::Child)
    } else {
        Ok(Forked::Parent { pid: r as i32, pidfd: want_pidfd.then_some(pidfd) })
    }
}

/// `kill(-1, sig)` — signals every process we may signal except ourselves. Only meaningful
/// as PID 1 of a PID namespace, where "every process" is the namespace; rustix's `kill`
/// takes a positive PID, so this one call is raw.
///
/// <https://man7.org/linux/man-pages/man2/kill.2.html>
pub fn kill_all(sig: i32) -> Result<(), Errno> {
    // SAFETY: kill takes two integers.
    check(unsafe { syscall(k::__NR_kill, [usize::MAX, sig as usize, 0, 0, 0, 0]) }).map(|_| ())
}

/// `kill(pid, sig)` for any signal number 1..=64, real-time ones included (rustix's
/// `Signal` would need an unsafe conversion for each of them).
///
/// <https://man7.org/linux/man-pages/man2/kill.2.html>
pub fn kill(pid: i32, sig: i32) -> Result<(), Errno> {
    if pid <= 0 {
        return Err(Errno::SRCH);
    }
    // SAFETY: kill takes two integers; `pid` is positive so it names one process.
    check(unsafe { syscall(k::__NR_kill, [pid as usize, sig as usize, 0, 0, 0, 0]) }).map(|_| ())
}

/// `clock_gettime(clock)` in nanoseconds, as a plain system call. rustix's public
/// `clock_gettime` always goes through its vDSO loader, which is 1.5 KiB of code for a clock
/// nestinit reads only when a stop deadline is pending or `status` is asked.
///
/// <https://man7.org/linux/man-pages/man2/clock_gettime.2.html>
fn clock_ns(clock: u32) -> u64 {
    let mut ts = k::__kernel_timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a writable __kernel_timespec; the clocks used here cannot fail.
    let r = unsafe {
        syscall(NR_CLOCK_GETTIME, [clock as usize, &mut ts as *mut _ as usize, 0, 0, 0, 0])
    };
    // 32-bit without the time64 call: the classic one with a 32-bit timespec.
    #[cfg(target_pointer_width = "32")]
    if r == -(Errno::NOSYS.raw_os_error() as isize) {
        let mut old = [0i32; 2];
        // SAFETY: `old` is a writable 32-bit timespec.
        unsafe {
            syscall(k::__NR_clock_gettime, [clock as usize, old.as_mut_ptr() as usize, 0, 0, 0, 0])
        };
        let [sec, nsec] = old;
        ts = k::__kernel_timespec { tv_sec: sec.into(), tv_nsec: nsec.into() };
    }
    #[cfg(target_pointer_width = "64")]
    let _ = r;
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

/// CLOCK_MONOTONIC in nanoseconds: the stop deadline's clock.
pub fn monotonic_ns() -> u64 {
    clock_ns(k::CLOCK_MONOTONIC)
}

/// `close_range(first, last, 0)` — closes the descriptors from `first` to `last`. rustix has
/// no wrapper for it.
///
/// <https://man7.org/linux/man-pages/man2/close_range.2.html>
fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: close_range takes integers; the caller no longer uses those descriptors.
    check(unsafe { syscall(k::__NR_close_range, [first as usize, last as usize, 0, 0, 0, 0]) })
        .map(|_| ())
}

/// Closes every descriptor above 2 except those in `keep`, so that a command started in the
/// guest inherits nothing else (runc's CVE-2024-21626 leaked a host descriptor this way).
/// Where close_range is missing (Linux before 5.9) or refused by a seccomp profile, the
/// descriptors listed in `/proc/self/fd` are closed one by one: callers run while `/proc` is
/// still the container's own.
pub fn close_except(keep: &[i32]) -> Result<(), Errno> {
    let kept = |fd: i32| keep.contains(&fd);
    let ranges = || -> Result<(), Errno> {
        let mut sorted = [i32::MAX; 4];
        for (s, &k) in sorted.iter_mut().zip(keep) {
            *s = k;
        }
        sorted.sort_unstable();
        let mut first = 3u32;
        for k in sorted.into_iter().filter_map(|k| u32::try_from(k).ok()).filter(|&k| k >= 3) {
            if k == i32::MAX as u32 {
                break;
            }
            if k > first {
                close_range(first, k - 1)?;
            }
            first = first.max(k + 1);
        }
        close_range(first, u32::MAX)
    };
    match ranges() {
        Err(Errno::NOSYS | Errno::PERM) => {}
        other => return other,
    }
    let dir = rustix::fs::open(
        c"/proc/self/fd",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let own = rustix::fd::AsRawFd::as_raw_fd(&dir);
    // Closing while listing: list again until a pass closes nothing.
    loop {
        rustix::fs::seek(&dir, rustix::fs::SeekFrom::Start(0))?;
        let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
        let mut entries = rustix::fs::RawDir::new(&dir, &mut buf);
        let mut closed = false;
        while let Some(entry) = entries.next() {
            let Some(fd) = nestinit::signals::parse_int(entry?.file_name().to_bytes()) else {
                continue;
            };
            if fd > 2 && fd != own && !kept(fd) {
                // SAFETY: a descriptor we own and, like every other above 2, no longer use.
                drop(unsafe { <rustix::fd::OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd) });
                closed = true;
            }
        }
        if !closed {
            return Ok(());
        }
    }
}

/// Sends SIGIO to us whenever `fd` becomes readable or its writer closes: `fcntl(fd,
/// F_SETOWN, getpid())` and `O_ASYNC | O_NONBLOCK`, so that a pipe is waited for in
/// `rt_sigtimedwait` with every other signal (fcntl(2), "Signal-driven I/O").
pub fn signal_when_readable(fd: rustix::fd::BorrowedFd<'_>) -> Result<(), Errno> {
    let raw = rustix::fd::AsRawFd::as_raw_fd(&fd) as usize;
    let pid = rustix::process::getpid().as_raw_nonzero().get() as usize;
    // SAFETY: fcntl on a descriptor we hold, with integer arguments.
    check(unsafe { syscall(k::__NR_fcntl, [raw, k::F_SETOWN as usize, pid, 0, 0, 0]) })?;
    let flags = (k::FASYNC | k::O_NONBLOCK) as usize;
    // SAFETY: as above; F_SETFL takes the new status flags.
    check(unsafe { syscall(k::__NR_fcntl, [raw, k::F_SETFL as usize, flags, 0, 0, 0]) }).map(|_| ())
}

/// CLOCK_BOOTTIME in clock ticks of 1/100 s, the unit of a process's start time in
/// `/proc/PID/stat` (USER_HZ is 100 on every Linux architecture).
pub fn boottime_ticks() -> u64 {
    clock_ns(k::CLOCK_BOOTTIME) / 10_000_000
}
