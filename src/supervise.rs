//! The supervisor loop: PID 1's whole life once the command runs.
//!
//! Lifecycle rule (as in catatonit): before the loop, any failure is fatal with one clear line.
//! Inside it, nothing survivable ends PID 1, because PID 1 dying kills the container: errors
//! are logged and the loop goes on.
//!
//! No signal handlers (docs/design.md#pid1-signals): every signal is blocked and read
//! synchronously with `rt_sigtimedwait`, whose timeout also drives the stop deadline. SIGCHLD
//! coalesces (docs/design.md#sigchld-coalesces), so every wake reaps with `waitpid(-1, WNOHANG)`
//! until nothing is left.

use crate::log;
use crate::sys;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use nestinit::config::Config;
use nestinit::exit::Ended;
use nestinit::notify::{self, Said, State};
use nestinit::signals::{self, SIGCHLD, SIGKILL, SIGTERM};
use nestinit::text::Arg;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions};

#[derive(Default)]
pub struct Supervisor {
    stop_signal: Option<i32>,
    stop_timeout: u32,
    pub is_pid1: bool,
    /// The main child (command or guest init) while it runs.
    main: Option<i32>,
    ended: Option<Ended>,
    /// A stop request (SIGTERM or SIGINT) has been received.
    pub stopping: bool,
    /// The signal of the first stop request, which a machine's PID 1 acts on.
    pub requested: Option<i32>,
    /// nestinit is a machine's PID 1 (SIGPWR is a stop request too).
    pub machine: bool,
    /// Monotonic nanoseconds after which the stop escalates to SIGKILL.
    deadline: Option<u64>,
    /// Set once `waitpid` answers ECHILD: we have no children at all.
    childless: bool,
    warned: bool,
    /// `exec` and `getshell`: every signal is passed on as is, stop requests included.
    relay: bool,
    /// The signal state the command must get back ([`start`] captures it).
    pub inherited: crate::spawn::Inherited,
    /// Nested mode: the main child is the init of its own PID namespace, which gets no signal
    /// it neither blocks nor catches, so a stop request it cannot take yet is held. Its state
    /// is published as our process name ([`State::comm`]).
    pub guest_init: bool,
    /// Our end of this boot's notify socket, bound in the guest (see `crate::host`).
    pub notify: Option<OwnedFd>,
    /// Where the guest's readiness is reported outward.
    pub outward: Option<crate::host::Outward>,
    /// What the guest init said in this boot.
    pub said: Said,
    state: Option<State>,
    /// A stop request (its signal) the guest cannot take yet.
    held: Option<i32>,
    /// The last read of the notify socket stopped at its batch limit.
    unread: bool,
    /// Messages dropped in this boot (said once, then counted).
    dropped: u32,
}

/// What woke the loop.
enum Wake {
    Signal(i32),
    /// The notify socket is readable (SIGIO raised by the kernel).
    Notify,
    Deadline,
    Nothing,
}

/// Why [`Supervisor::wait_main`] returned.
pub enum Event {
    /// The main child ended.
    Ended(Ended),
    /// A stop request arrived while there was no main child (pause mode).
    StopRequested,
}

impl Supervisor {
    pub fn new(cfg: &Config<'_>, is_pid1: bool) -> Supervisor {
        Supervisor {
            stop_signal: cfg.stop_signal,
            stop_timeout: cfg.stop_timeout,
            is_pid1,
            ..Supervisor::default()
        }
    }

    /// A supervisor that only relays signals to the command it waits for.
    pub fn relay() -> Supervisor {
        Supervisor { relay: true, ..Supervisor::default() }
    }

    /// Starts supervising `pid` as the main child (again, after a guest reboot).
    pub fn set_main(&mut self, pid: i32) {
        self.main = Some(pid);
        self.ended = None;
        self.childless = false;
        self.said = Said::default();
        self.held = None;
        self.dropped = 0;
        // The launch consumed the SIGIOs raised until now, the socket's among them.
        self.unread = self.notify.is_some();
    }

    /// Publishes the guest's state (nested mode only): as our process name, which `status`
    /// and `exec --wait` read from `/proc/1/comm`, and to the outward `NOTIFY_SOCKET`.
    pub fn publish(&mut self, state: State) {
        if !self.guest_init || self.state == Some(state) {
            return;
        }
        self.state = Some(state);
        if let Err(e) = rustix::thread::set_name(state.comm()) {
            log::fail(e, "publish the guest's state: %: status will not see it");
        }
        if let Some(out) = &self.outward {
            out.send(match state {
                State::Starting => b"STATUS=guest starting",
                State::Ready => b"READY=1\nSTATUS=guest ready",
                State::Stopping => b"STOPPING=1\nSTATUS=guest stopping",
            });
        }
    }

    /// Waits, forwarding signals and reaping, until the main child ends (or, without one,
    /// until a stop request).
    pub fn wait_main(&mut self) -> Event {
        loop {
            self.wait_one();
            self.reap();
            if let Some(e) = self.ended.take() {
                self.deadline = None;
                // What the guest said just before it ended (`X_SYSTEMD_SHUTDOWN=`): SIGCHLD
                // is dequeued before SIGIO, so it may not have been read yet.
                for _ in 0..16 {
                    self.read_notify();
                    if !self.unread {
                        break;
                    }
                }
                return Event::Ended(e);
            }
            if self.main.is_none() && self.stopping {
                return Event::StopRequested;
            }
        }
    }

    /// After the main child ended: signals every remaining process (SIGTERM, then SIGKILL
    /// after the stop timeout or a second stop request) and reaps them all. As PID 1, kill(-1)
    /// reaches the whole namespace. As a subreaper only our children can be named, and an
    /// orphan re-parents to us only once its parent is gone (PR_SET_CHILD_SUBREAPER in
    /// prctl(2)), with no SIGCHLD to us when that parent was not our child: so the children are
    /// listed again on every wake and at least every [`TICK_NS`], each new one getting SIGTERM
    /// (SIGKILL once the stop escalated), until none is left.
    pub fn drain(&mut self) {
        if !self.childless {
            self.reap();
        }
        if self.childless {
            return;
        }
        log::say(log::INFO, "sending SIGTERM to the remaining processes", &[]);
        if self.is_pid1 {
            self.kill_all(SIGTERM);
        }
        self.arm_deadline();
        self.stopping = false;
        let mut sig = SIGTERM;
        loop {
            if !self.is_pid1 {
                for_each_child(|pid| {
                    if sig == SIGKILL || first_term(pid) {
                        self.send(pid, sig);
                    }
                });
            }
            let escalate = match self.next_signal(!self.is_pid1) {
                Wake::Signal(s) => signals::is_stop_request(s, self.machine),
                Wake::Deadline => true,
                Wake::Notify | Wake::Nothing => false,
            };
            if escalate && sig != SIGKILL {
                log::say(log::NOTICE, "remaining processes did not exit: sending SIGKILL", &[]);
                self.deadline = None;
                sig = SIGKILL;
            }
            if self.is_pid1 && sig == SIGKILL {
                self.kill_all(SIGKILL);
            }
            self.reap();
            if self.childless {
                return;
            }
        }
    }

    fn kill_all(&mut self, sig: i32) {
        match sys::kill_all(sig) {
            Ok(()) | Err(Errno::SRCH) => {}
            Err(e) => log::fail(e, "kill(-1): %: continuing"),
        }
    }

    /// One wait in `rt_sigtimedwait` and the handling of what it returned.
    fn wait_one(&mut self) {
        match self.next_signal(false) {
            Wake::Signal(sig) => self.on_signal(sig),
            Wake::Deadline => self.on_deadline(),
            Wake::Notify => self.unread = true,
            Wake::Nothing => {}
        }
        if self.unread {
            self.read_notify();
        }
        if self.held.is_some() {
            self.try_stop(false);
        }
    }

    /// The next signal, or the deadline passing (it is then cleared); with `tick`, nothing
    /// after [`TICK_NS`] at the latest. A refused `rt_sigtimedwait` (a seccomp filter, say)
    /// would return at once every time: then the loop sleeps instead, so that it still reaps
    /// and meets its deadline without spinning.
    fn next_signal(&mut self, tick: bool) -> Wake {
        let left = self.deadline.map(|d| d.saturating_sub(now()));
        // Unread messages: no wait. A held stop: a look at the guest every HOLD_NS.
        let tick = match (self.unread, self.held, tick) {
            (true, _, _) => Some(0),
            (_, Some(_), _) => Some(HOLD_NS),
            (_, _, true) => Some(TICK_NS),
            _ => None,
        };
        let wait = match (left, tick) {
            (Some(l), Some(t)) => Some(l.min(t)),
            (l, t) => l.or(t),
        };
        let timeout = wait.map(|ns| linux_raw_sys::general::__kernel_timespec {
            tv_sec: (ns / 1_000_000_000) as _,
            tv_nsec: (ns % 1_000_000_000) as _,
        });
        match sys::sigtimedwait(signals::supervisor_mask(), timeout.as_ref()) {
            // Raised by the kernel for our notify socket, not sent by anyone: not forwarded.
            Ok(info)
                if info.signo == linux_raw_sys::general::SIGIO as i32
                    && info.code > 0
                    && self.notify.is_some() =>
            {
                return Wake::Notify;
            }
            Ok(info) => {
                if info.signo != SIGCHLD {
                    log::say(
                        log::DEBUG,
                        "received % from pid %",
                        &[Arg::Sig(info.signo), Arg::Num(i64::from(info.pid))],
                    );
                }
                return Wake::Signal(info.signo);
            }
            Err(Errno::AGAIN) => {}
            Err(Errno::INTR) => return Wake::Nothing,
            Err(e) => {
                if !self.warned {
                    self.warned = true;
                    log::fail(
                        e,
                        "sigtimedwait: %: allow it in the seccomp profile; reaping every 0.1 s, \
                         signals unread",
                    );
                }
                pause(wait.unwrap_or(TICK_NS).min(TICK_NS));
            }
        }
        match self.deadline {
            Some(d) if now() >= d => {
                self.deadline = None;
                Wake::Deadline
            }
            _ => Wake::Nothing,
        }
    }

    fn on_signal(&mut self, sig: i32) {
        if sig == SIGCHLD {
            return;
        }
        let Some(main) = self.main else {
            if signals::is_stop_request(sig, self.machine) {
                self.stopping = true;
            }
            return;
        };
        if self.relay || !signals::is_stop_request(sig, self.machine) {
            self.send(main, sig);
            return;
        }
        if self.stopping {
            self.kill_main(main, "second stop request");
            return;
        }
        self.stopping = true;
        self.requested = Some(sig);
        self.held = Some(sig);
        self.arm_deadline();
        self.publish(State::Stopping);
        self.try_stop(true);
    }

    /// Sends the held stop request on to the main child, as the signal it becomes
    /// ([`signals::stop_signal`]), once the child can take it: at once for a command, and for
    /// a guest init as soon as it blocks or catches that signal or has said
    /// `X_SYSTEMD_SIGNALS_LEVEL=2`. Until then it stays held (the deadline runs meanwhile);
    /// sent earlier, the kernel would drop it. `first`: the request just arrived.
    fn try_stop(&mut self, first: bool) {
        let (Some(sig), Some(main)) = (self.held, self.main) else { return };
        let mut buf = [0u8; 4096];
        let status = crate::fsutil::read_proc(main, "status", &mut buf);
        let auto = self.stop_signal.is_none() || self.machine;
        let systemd_like = auto && status.is_some_and(signals::handles_rtmin3);
        let stop = signals::stop_signal(self.stop_signal, sig, systemd_like, self.machine);
        let takes = !self.guest_init
            || self.said.signals_level >= 2
            || status.map_or(true, |s| notify::takes(s, stop));
        let timeout = Arg::Num(i64::from(self.stop_timeout));
        if !takes {
            if first {
                log::say(
                    log::NOTICE,
                    "stop requested by %: holding it until the guest can take it, SIGKILL in % s",
                    &[Arg::Sig(sig), timeout],
                );
            }
            return;
        }
        self.held = None;
        let (s, to) = (Arg::Sig(stop), Arg::Num(i64::from(main)));
        if first {
            log::say(
                log::NOTICE,
                "stop requested by %: sending % to pid %, SIGKILL in % s",
                &[Arg::Sig(sig), s, to, timeout],
            );
        } else {
            log::say(
                log::NOTICE,
                "the guest can take the stop request now: sending % to pid %",
                &[s, to],
            );
        }
        self.send(main, stop);
    }

    /// Reads what the notify socket holds, at most [`BATCH`] messages a wake (a guest
    /// flooding it cannot starve signals and reaping). A message counts only from the guest
    /// init itself, as the kernel vouches (SCM_CREDENTIALS), whole and within the buffer; any
    /// other is dropped.
    fn read_notify(&mut self) {
        self.unread = false;
        let Some(sock) = self.notify.take() else { return };
        let mut buf = [0u8; 4096];
        let mut left = BATCH;
        while left > 0 {
            left -= 1;
            match crate::host::receive(sock.as_fd(), &mut buf) {
                Ok(None) => break,
                Ok(Some(m)) if !m.oversized && m.pid.is_some() && m.pid == self.main => {
                    self.heard(buf.get(..m.len).unwrap_or(&[]));
                }
                Ok(Some(m)) => {
                    self.dropped = self.dropped.saturating_add(1);
                    if self.dropped == 1 {
                        log::say(
                            log::NOTICE,
                            "notify socket: dropped a message from pid % (% bytes): only the \
                             guest init's, up to 4096 bytes, count",
                            &[Arg::Num(i64::from(m.pid.unwrap_or(0))), Arg::Num(m.len as i64)],
                        );
                    }
                }
                Err(e) => {
                    log::fail(e, "notify socket: %: continuing");
                    break;
                }
            }
        }
        self.unread = left == 0;
        self.notify = Some(sock);
    }

    /// One message from the guest init.
    fn heard(&mut self, msg: &[u8]) {
        log::say(log::DEBUG, "guest init says: %", &[Arg::Str(msg)]);
        let before = self.said;
        let status = notify::apply(msg, &mut self.said);
        if self.said.ready && !before.ready && self.state != Some(State::Stopping) {
            log::say(log::NOTICE, "guest ready", &[]);
            self.publish(State::Ready);
        }
        if self.said.stopping && !before.stopping {
            self.publish(State::Stopping);
        }
        if let (Some(text), Some(out)) = (status, &self.outward) {
            let mut line = [0u8; 4200];
            let mut line = nestinit::text::Line::new(&mut line);
            out.send(line.fmt("STATUS=%", &[Arg::Str(text)]).as_bytes());
        }
    }

    /// The stop escalates to SIGKILL after the stop timeout.
    fn arm_deadline(&mut self) {
        self.deadline = Some(now().saturating_add(u64::from(self.stop_timeout) * 1_000_000_000));
    }

    fn kill_main(&mut self, main: i32, why: &str) {
        log::say(
            log::NOTICE,
            "%: killing pid % with SIGKILL",
            &[Arg::Str(why.as_bytes()), Arg::Num(i64::from(main))],
        );
        self.deadline = None;
        self.send(main, SIGKILL);
    }

    fn on_deadline(&mut self) {
        if let Some(main) = self.main {
            self.kill_main(main, "stop timeout reached");
        }
    }

    fn send(&mut self, pid: i32, sig: i32) {
        match sys::kill(pid, sig) {
            Ok(()) | Err(Errno::SRCH) => {}
            Err(e) => log::fail(e, "forward signal: %: not delivered; continuing"),
        }
    }

    /// Reaps every child that has ended; records the main child's end.
    fn reap(&mut self) {
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, status))) => {
                    let pid = pid.as_raw_nonzero().get();
                    forget(pid);
                    if Some(pid) == self.main {
                        if let Some(e) = Ended::from_wait_status(status.as_raw()) {
                            self.main = None;
                            self.ended = Some(e);
                        }
                    }
                }
                Ok(None) => return,
                Err(Errno::CHILD) => {
                    self.childless = true;
                    return;
                }
                Err(Errno::INTR) => {}
                Err(e) => {
                    log::fail(e, "waitpid: %: continuing; report this if it repeats");
                    return;
                }
            }
        }
    }
}

/// What every supervising mode does first: block signals (keeping what was inherited for the
/// command), become subreaper unless PID 1. Failures here are fatal (exit 125).
pub fn start(cfg: &Config<'_>) -> log::Step<Supervisor> {
    let inherited = crate::spawn::Inherited::capture()
        .map_err(|e| log::setup_failed(e, "block signals: %: check seccomp rules"))?;
    let pid1 = is_pid1();
    if !pid1 {
        // Orphans of the command re-parent to us rather than to the system's init, so we
        // can reap them and see them at shutdown.
        if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
            log::fail(e, "become subreaper: %: orphans will go to the system's init");
        }
    }
    Ok(Supervisor { inherited, ..Supervisor::new(cfg, pid1) })
}

/// The supervisor keeps no directory busy (a volume it sits in could not be unmounted).
/// Done after the command started, so the command keeps the working directory it was given.
pub fn leave_cwd() {
    if let Err(e) = rustix::process::chdir(c"/") {
        log::fail(e, "chdir /: %: continuing in the current directory");
    }
}

/// Most notify messages read in one wake.
const BATCH: u32 = 64;

/// How often a held stop request looks at the guest again: 20 ms.
const HOLD_NS: u64 = 20_000_000;

/// How often the drain lists our children again, and how long a refused `rt_sigtimedwait`
/// sleeps before the next try: 0.1 s.
const TICK_NS: u64 = 100_000_000;

/// Sleeps `ns` nanoseconds (signals stay blocked: nothing cuts it short).
pub fn pause(ns: u64) {
    let _ = rustix::thread::nanosleep(&rustix::thread::Timespec {
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as _,
    });
}

/// One bit per possible PID (PID_MAX_LIMIT, 2^22, include/linux/threads.h): set when the drain
/// sent that child SIGTERM, cleared when it is reaped, as its PID may then come back for
/// another process. Zeroed static memory: only the pages of PIDs in use are ever touched.
static TERMED: [AtomicU32; 1 << 17] = [const { AtomicU32::new(0) }; 1 << 17];

/// Whether `pid` has not had the drain's SIGTERM yet; it counts as having had it from now on.
fn first_term(pid: i32) -> bool {
    let (word, bit) = (pid as u32 as usize / 32, 1u32 << (pid as u32 % 32));
    // Load and store, not fetch_or: nestinit has one thread, and read-modify-write atomics
    // would pull in aarch64's outline-atomics helpers, which need libc's getauxval.
    TERMED.get(word).map_or(true, |w| {
        let old = w.load(Ordering::Relaxed);
        w.store(old | bit, Ordering::Relaxed);
        old & bit == 0
    })
}

/// `pid` was reaped: a new process may get its number. Written only when the bit is set, so
/// reaping (every orphan goes through here) touches no page of TERMED the drain did not.
fn forget(pid: i32) {
    if let Some(w) = TERMED.get(pid as u32 as usize / 32) {
        let (old, bit) = (w.load(Ordering::Relaxed), 1u32 << (pid as u32 % 32));
        if old & bit != 0 {
            w.store(old & !bit, Ordering::Relaxed);
        }
    }
}

/// Set once the children file failed us (said once; the drain lists children every tick).
static SCANNING: AtomicBool = AtomicBool::new(false);

/// Our direct children, from `/proc/thread-self/children` (`/proc/self/task/<tid>/children`;
/// we have one thread, so its children are all of ours). That file exists only with
/// CONFIG_PROC_CHILDREN (proc(5)); without it, or when it cannot be read, every
/// `/proc/PID/stat` naming us as the parent.
fn for_each_child(mut f: impl FnMut(i32)) {
    // Streamed: a subreaper can have more children than any buffer holds.
    let mut pid: i32 = 0;
    let listed = crate::fsutil::read_chunks(c"/proc/thread-self/children", &mut |chunk| {
        for &c in chunk {
            if c.is_ascii_digit() {
                pid = pid.saturating_mul(10).saturating_add(i32::from(c - b'0'));
            } else if pid != 0 {
                f(pid);
                pid = 0;
            }
        }
    });
    match listed {
        // A number cut short by a failed read could name another process.
        Ok(()) if pid != 0 => f(pid),
        Ok(()) => {}
        Err(e) => {
            if !SCANNING.load(Ordering::Relaxed) {
                SCANNING.store(true, Ordering::Relaxed);
                log::say(log::INFO, "list children: %: scanning /proc instead", &[log::errno(e)]);
            }
            scan_children(&mut f);
        }
    }
}

/// Every process whose `/proc/PID/stat` names us as its parent. Out of line: its buffers are
/// on the stack only while it runs.
#[inline(never)]
fn scan_children(f: &mut dyn FnMut(i32)) {
    use rustix::fs::OFlags;
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let Ok(dir) = rustix::fs::open(c"/proc", flags, rustix::fs::Mode::empty()) else {
        return;
    };
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 2048];
    let mut stat = [0u8; 2048];
    let mut entries = rustix::fs::RawDir::new(dir, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let Some(pid) = signals::parse_int(entry.file_name().to_bytes()) else {
            continue;
        };
        let text = crate::fsutil::read_proc(pid, "stat", &mut stat);
        if text.is_some_and(|text| nestinit::procfs::is_child_of(text, me)) {
            f(pid);
        }
    }
}

/// Whether `pid` blocks or catches SIGRTMIN+3, the way systemd does.
pub fn is_systemd_like(pid: i32) -> bool {
    let mut buf = [0u8; 4096];
    crate::fsutil::read_proc(pid, "status", &mut buf).is_some_and(signals::handles_rtmin3)
}

/// Monotonic time in nanoseconds.
pub fn now() -> u64 {
    sys::monotonic_ns()
}

/// Whether this process is PID 1 of its PID namespace.
pub fn is_pid1() -> bool {
    rustix::process::getpid() == Pid::INIT
}
