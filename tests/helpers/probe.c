/* probe: a multi-call static helper that makes a supervised command's view observable.
 *
 * The black-box tests run it as nestinit's command (and as a sender of signals), and read
 * what it records in files. Every file a test waits for is written to NAME.tmp and renamed,
 * so a reader never sees half of it. Usage: probe SUBCOMMAND ARGS... (see usage() below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
    exit(99);
}

/* Writes text to path atomically (path.tmp, then rename). */
static void write_file(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(tmp);
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len)
        die("write");
    close(fd);
    if (rename(tmp, path) != 0)
        die("rename");
}

/* Creates OUT.ready: tells the test that the signal set-up is done. */
static void ready(const char *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.ready", out);
    write_file(path, "ready\n");
}

/* Appends one line with a number, unbuffered, so the test sees it at once. */
static void append_num(int fd, long n)
{
    char line[32];
    int len = snprintf(line, sizeof line, "%ld\n", n);
    if (write(fd, line, len) != len)
        die("append");
}

static int open_append(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        die(path);
    return fd;
}

/* Waits for one signal of set, retrying on EINTR. */
static int wait_in(const sigset_t *set)
{
    for (;;) {
        int s = sigwaitinfo(set, NULL);
        if (s > 0)
            return s;
        if (errno != EINTR)
            die("sigwaitinfo");
    }
}

static void sleep_forever(void)
{
    for (;;)
        pause();
}

/* "1,13,17" -> the set of those signal numbers. */
static void parse_set(const char *list, sigset_t *set)
{
    sigemptyset(set);
    char *copy = strdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        sigaddset(set, atoi(t));
    free(copy);
}

/* signals OUT N: blocks everything, appends each signal received to OUT; exits 0 after N. */
static int cmd_signals(const char *out, long n)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    int fd = open_append(out);
    ready(out);
    for (long i = 0; i < n; i++)
        append_num(fd, wait_in(&all));
    return 0;
}

static volatile sig_atomic_t caught;
static void on_signal(int sig) { caught = sig; }

/* catch OUT SIG...: handlers for these signals only (so SIGRTMIN+3 is neither blocked nor
 * caught: not systemd-like); records the first one caught in OUT and exits 0. */
static int cmd_catch(const char *out, int argc, char **argv)
{
    sigset_t mask, old;
    sigemptyset(&mask);
    struct sigaction sa = { .sa_handler = on_signal };
    for (int i = 0; i < argc; i++) {
        sigaddset(&mask, atoi(argv[i]));
        sigaction(atoi(argv[i]), &sa, NULL);
    }
    sigprocmask(SIG_BLOCK, &mask, &old);
    ready(out);
    while (!caught)
        sigsuspend(&old);
    char text[32];
    snprintf(text, sizeof text, "%d\n", (int)caught);
    write_file(out, text);
    return 0;
}

static int term_fd = -1;
static void on_term(int sig) { append_num(term_fd, sig); }

/* ignore-term OUT: catches SIGTERM, records each one in OUT and carries on, forever. */
static int cmd_ignore_term(const char *out)
{
    term_fd = open_append(out);
    struct sigaction sa = { .sa_handler = on_term, .sa_flags = SA_RESTART };
    sigaction(SIGTERM, &sa, NULL);
    ready(out);
    sleep_forever();
    return 0;
}

/* block-rtmin3 OUT: blocks SIGRTMIN+3 only and reads it from a signalfd, as systemd does;
 * writes the number received. (Not sigwaitinfo: while a task waits in it, the kernel
 * unblocks the awaited signals and SigBlk no longer shows them.) */
static int cmd_block_rtmin3(const char *out)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 3);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0)
        die("signalfd");
    ready(out);
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) != sizeof si)
        if (errno != EINTR)
            die("read signalfd");
    char text[32];
    snprintf(text, sizeof text, "%d\n", (int)si.ssi_signo);
    write_file(out, text);
    return 0;
}

/* Waits for SIGUSR1 (the test's "go on"), forwarded to us by nestinit. */
static void wait_usr1(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    wait_in(&set);
}

/* orphans N [READY]: N grandchildren that exit at once, orphaned to the init or subreaper.
 * Waits until all have exited (EOF on a pipe they all hold) or 1 s. With READY: then writes
 * READY and waits for SIGUSR1 before exiting 0, so the test can count zombies meanwhile. */
static int cmd_orphans(long n, const char *readyfile)
{
    if (readyfile) { /* block before anything can be forwarded to us */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        die("pipe");
    for (long i = 0; i < n; i++) {
        pid_t mid = fork();
        if (mid < 0) {
            if (errno == EAGAIN) { usleep(1000); i--; continue; }
            die("fork");
        }
        if (mid == 0) {
            if (fork() < 0)
                _exit(1);
            _exit(0); /* both the grandchild and the middle child */
        }
        int st;
        while (waitpid(mid, &st, 0) < 0 && errno == EINTR) {}
    }
    close(p[1]);
    struct pollfd pfd = { .fd = p[0], .events = POLLIN };
    char c;
    while (poll(&pfd, 1, 1000) > 0 && read(p[0], &c, 1) > 0) {}
    if (readyfile) {
        write_file(readyfile, "ready\n");
        wait_usr1();
    }
    return 0;
}

/* orphan-sleeper OUT CODE: one orphaned grandchild that sleeps (default dispositions, so a
 * SIGTERM ends it); writes its pid to OUT, waits for SIGUSR1, then exits CODE. */
static int cmd_orphan_sleeper(const char *out, int code)
{
    int p[2];
    if (pipe(p) != 0)
        die("pipe");
    pid_t mid = fork();
    if (mid == 0) {
        pid_t gc = fork();
        if (gc == 0) {
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            signal(SIGTERM, SIG_DFL);
            sleep_forever();
        }
        if (write(p[1], &gc, sizeof gc) != sizeof gc)
            _exit(1);
        _exit(0);
    }
    pid_t gc = 0;
    if (read(p[0], &gc, sizeof gc) != sizeof gc || gc <= 0)
        die("read grandchild pid");
    waitpid(mid, NULL, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    char text[32];
    snprintf(text, sizeof text, "%d\n", (int)gc);
    write_file(out, text);
    wait_in(&set);
    return code;
}

/* sigstate OUT [wait]: copies the SigBlk and SigIgn lines of /proc/self/status to OUT. */
static int cmd_sigstate(const char *out, int stay)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        die("/proc/self/status");
    char line[512], text[1024] = "";
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7))
            strncat(text, line, sizeof text - strlen(text) - 1);
    fclose(f);
    write_file(out, text);
    if (stay)
        sleep_forever();
    return 0;
}

/* spawn-with-state BLOCK IGNORE CMD...: exact signal state (mask = BLOCK, IGNORE ignored,
 * everything else default), then exec CMD in place. Lists are "12,17" or "-" for none.
 * Raw rt_sigaction: glibc refuses to touch 32 and 33, which a caller may have ignored. */
static int cmd_spawn_with_state(const char *block, const char *ignore, char **cmd)
{
    sigset_t bset, iset;
    parse_set(strcmp(block, "-") ? block : "", &bset);
    parse_set(strcmp(ignore, "-") ? ignore : "", &iset);
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP)
            continue;
        /* The kernel's struct sigaction starts with the handler; all else zero. */
        unsigned long ksa[4] = { (unsigned long)(sigismember(&iset, s) ? SIG_IGN : SIG_DFL) };
        if (syscall(SYS_rt_sigaction, s, ksa, NULL, 8) != 0)
            die("rt_sigaction");
    }
    /* Raw too, as glibc's sigprocmask keeps 32 and 33 out of the mask. */
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &bset, NULL, 8) != 0)
        die("rt_sigprocmask");
    execvp(cmd[0], cmd);
    die(cmd[0]);
    return 0;
}

/* sendrt PID SIG N: sigqueue()s SIG to PID N times, each with its index as the value. */
static int cmd_sendrt(pid_t pid, int sig, long n)
{
    for (long i = 0; i < n; i++) {
        union sigval v = { .sival_int = (int)i };
        while (sigqueue(pid, sig, v) != 0) {
            if (errno != EAGAIN)
                die("sigqueue");
            usleep(1000);
        }
    }
    return 0;
}

static int cmd_pgrp(const char *out)
{
    char text[96];
    snprintf(text, sizeof text, "%d %d %d\n", (int)getpid(), (int)getpgrp(), (int)getsid(0));
    write_file(out, text);
    return 0;
}

/* Dies of sig with the default action, without leaving a core file behind. */
static int die_of(int sig)
{
    prctl(PR_SET_DUMPABLE, 0);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    if (sig == SIGSEGV)
        *(volatile int *)0 = 0; /* a real fault */
    kill(getpid(), sig);
    return 98;
}

static int usage(void)
{
    fputs("usage: probe exit N | segv | kill-self SIG | kill PID SIG | sendrt PID SIG N\n"
          "     | signals OUT N | catch OUT SIG... | ignore-term OUT | block-rtmin3 OUT\n"
          "     | orphans N [READY] | orphan-sleeper OUT CODE | sigstate OUT [wait]\n"
          "     | spawn-with-state BLOCK IGNORE CMD... | pgrp OUT | sleep\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *c = argv[1];
    char **a = argv + 2;
    int n = argc - 2;
    if (!strcmp(c, "exit") && n == 1) return atoi(a[0]);
    if (!strcmp(c, "segv") && n == 0) return die_of(SIGSEGV);
    if (!strcmp(c, "kill-self") && n == 1) return die_of(atoi(a[0]));
    if (!strcmp(c, "kill") && n == 2) return kill(atoi(a[0]), atoi(a[1])) ? (perror("kill"), 1) : 0;
    if (!strcmp(c, "sendrt") && n == 3) return cmd_sendrt(atoi(a[0]), atoi(a[1]), atol(a[2]));
    if (!strcmp(c, "signals") && n == 2) return cmd_signals(a[0], atol(a[1]));
    if (!strcmp(c, "catch") && n >= 2) return cmd_catch(a[0], n - 1, a + 1);
    if (!strcmp(c, "ignore-term") && n == 1) return cmd_ignore_term(a[0]);
    if (!strcmp(c, "block-rtmin3") && n == 1) return cmd_block_rtmin3(a[0]);
    if (!strcmp(c, "orphans") && (n == 1 || n == 2)) return cmd_orphans(atol(a[0]), n == 2 ? a[1] : NULL);
    if (!strcmp(c, "orphan-sleeper") && n == 2) return cmd_orphan_sleeper(a[0], atoi(a[1]));
    if (!strcmp(c, "sigstate") && (n == 1 || n == 2)) return cmd_sigstate(a[0], n == 2);
    if (!strcmp(c, "spawn-with-state") && n >= 3) return cmd_spawn_with_state(a[0], a[1], a + 2);
    if (!strcmp(c, "pgrp") && n == 1) return cmd_pgrp(a[0]);
    if (!strcmp(c, "sleep") && n == 0) { sleep_forever(); return 0; }
    return usage();
}
