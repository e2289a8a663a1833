/* guest: the static helper the tests put into the busybox guest rootfs as /bin/guest (and
 * /sbin/init, a symlink: called as ".../init" with no arguments it acts as "guest report").
 *
 *   guest report [FILE...]    print what the guest sees, one "key=value" line each (below)
 *   guest exit N              exit with N
 *   guest segv                die of a real SIGSEGV (a fault, which even a namespace init
 *                             cannot ignore)
 *   guest reboot | poweroff | halt
 *                             reboot(2) with RESTART / POWER_OFF / HALT: inside a PID
 *                             namespace the kernel kills the namespace's init, and its parent
 *                             sees SIGHUP (restart) or SIGINT (power-off, halt)
 *   guest count-boots FILE N  append "boot BOOT_ID" to FILE, print boot_count=LINES and
 *                             boots_file=CONTENT; reboot while FILE holds fewer than N
 *                             lines, then power off
 *   guest block-rtmin3 DIR    block SIGRTMIN+3 and read it from a signalfd like systemd;
 *                             write DIR/ready, wait for it, write "got SIG" to DIR/got, halt
 *   guest ignore-term DIR     ignore SIGTERM (SIGRTMIN+3 left alone), write DIR/ready, sleep
 *   guest clone3              print "clone3=ERRNO" for an (invalid, harmless) clone3 call
 *   guest drop-bnd CAP PROG [ARG...]
 *                             drop capability number CAP from the bounding set, exec PROG
 *   guest fds                 print "fds=N N ..." : its open descriptors, ascending, without
 *                             the one it reads /proc/self/fd through
 *   guest seccomp CALL:ERRNO PROG [ARG...]
 *                             exec PROG with CALL (pidfd_open, close_range) answered ERRNO
 *                             (ENOSYS, EPERM) by a seccomp filter, as a runtime's profile would
 *   guest escape              try to leave its root as a root process could: the classic
 *                             chroot escape (chroot into a subdirectory, walk ".." from
 *                             outside it) prints escape_dotdot=<sorted names at "/">; then,
 *                             with CAP_SYS_ADMIN, detach "/" and re-enter its own mount
 *                             namespace, which lands on what lies under the root:
 *                             escape_ns=<names or !ERRNO>, escape_write=<!ERRNO of creating a
 *                             file there, or "ok">, escape_proc=<entries in its proc, or
 *                             !ERRNO>
 *   guest notify DIR STEP...  a guest init that speaks on $NOTIFY_SOCKET (sd_notify(3)), step
 *                             by step: send:TEXT sends TEXT ("|" for a newline); child:TEXT
 *                             sends it from a child process; big sends 8 KiB; fds sends with
 *                             three descriptors attached (SCM_RIGHTS); flood:N sends N
 *                             datagrams, a quarter each of junk, wrong sender (a child),
 *                             oversized and attached descriptors, blocking when the queue is
 *                             full; term:NAME catches SIGTERM from now on, writing DIR/NAME
 *                             and exiting 0 when it comes; mark:NAME writes DIR/NAME;
 *                             wait:NAME waits for DIR/NAME; sleep:MS; exit:N. After the last
 *                             step it waits for signals. Installed as .../systemd, it passes
 *                             for systemd, whose readiness nestinit waits for.
 *
 * Files in DIR are written as DIR/.NAME.tmp and renamed, so a reader sees them whole.
 *
 * report keys: pid, ppid, nspid, cmdline1 (/proc/1/cmdline, NULs as spaces), root_marker
 * (content of /.nestinit-volume), proc1_root (readlink /proc/1/root), capbnd, capeff, nnp,
 * env (one line per variable), proc_sys (rw, ro, or err:ERRNO for opening
 * /proc/sys/kernel/hostname for writing), boot_id, clone3, file:PATH (content, or
 * !ERRNO) for /run/marker, /tmp/marker, /etc/hosts and each FILE, stat:PATH for a few /proc
 * entries, and mount (each line of /proc/self/mountinfo). Values are escaped: "\\" for a
 * backslash, "\n" for a newline.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

extern char **environ;

static void put_escaped(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            fputs("\\\\", stdout);
        else if (s[i] == '\n')
            fputs("\\n", stdout);
        else
            putchar(s[i]);
    }
}

static void kv(const char *key, const char *value)
{
    put_escaped(key, strlen(key));
    putchar('=');
    put_escaped(value, strlen(value));
    putchar('\n');
}

static void kv_prefixed(const char *prefix, const char *key, const char *value)
{
    char buf[8192];
    snprintf(buf, sizeof buf, "%s%s", prefix, key);
    kv(buf, value);
}

/* The whole file (at most 1 MiB) into a malloc'd buffer; NULL with errno set on failure. */
static char *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return NULL;
        }
        if (r == 0 || (n += r) == cap)
            break;
    }
    close(fd);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

static const char *errname(int e)
{
    switch (e) {
    case ENOENT: return "ENOENT";
    case EROFS: return "EROFS";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case EFAULT: return "EFAULT";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
    }
}

static void report_file(const char *path)
{
    size_t n;
    char *text = slurp(path, &n);
    if (!text) {
        char buf[64];
        snprintf(buf, sizeof buf, "!%s", errname(errno));
        kv_prefixed("file:", path, buf);
        return;
    }
    kv_prefixed("file:", path, text);
    free(text);
}

static void report_stat(const char *path)
{
    struct stat st;
    char buf[256];
    if (lstat(path, &st) != 0) {
        snprintf(buf, sizeof buf, "!%s", errname(errno));
    } else if (S_ISCHR(st.st_mode)) {
        snprintf(buf, sizeof buf, "chr %u:%u", major(st.st_rdev), minor(st.st_rdev));
    } else if (S_ISDIR(st.st_mode)) {
        int entries = 0;
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                entries++;
        if (d)
            closedir(d);
        struct statfs sf;
        unsigned long magic = statfs(path, &sf) == 0 ? (unsigned long)sf.f_type : 0;
        snprintf(buf, sizeof buf, "dir entries=%d fs=0x%lx", entries, magic);
    } else if (S_ISREG(st.st_mode)) {
        size_t n = 0;
        char *text = slurp(path, &n);
        if (text)
            snprintf(buf, sizeof buf, "reg read=%zu", n);
        else
            snprintf(buf, sizeof buf, "reg !%s", errname(errno));
        free(text);
    } else if (S_ISLNK(st.st_mode)) {
        snprintf(buf, sizeof buf, "lnk");
    } else {
        snprintf(buf, sizeof buf, "other");
    }
    kv_prefixed("stat:", path, buf);
}

static void status_field(const char *key, const char *field)
{
    char *text = slurp("/proc/self/status", NULL);
    char value[256] = "?";
    size_t flen = strlen(field);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (!strncmp(line, field, flen) && line[flen] == ':') {
            const char *v = line + flen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(value, sizeof value, "%s", v);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    kv(key, value);
}

static const char *clone3_result(void)
{
    /* A size below CLONE_ARGS_SIZE_VER0 is EINVAL for an allowed clone3: no process made. */
    long r = syscall(__NR_clone3, NULL, 0);
    return r == 0 ? "0" : errname(errno);
}

static int cmd_report(int nfiles, char **files)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%d", (int)getpid());
    kv("pid", buf);
    snprintf(buf, sizeof buf, "%d", (int)getppid());
    kv("ppid", buf);
    status_field("nspid", "NSpid");

    size_t n = 0;
    char *cmdline = slurp("/proc/1/cmdline", &n);
    if (cmdline) {
        while (n > 0 && cmdline[n - 1] == 0)
            n--;
        for (size_t i = 0; i < n; i++)
            if (cmdline[i] == 0)
                cmdline[i] = ' ';
        cmdline[n] = 0;
        kv("cmdline1", cmdline);
        free(cmdline);
    } else {
        kv("cmdline1", errname(errno));
    }

    char *marker = slurp("/.nestinit-volume", NULL);
    kv("root_marker", marker ? marker : "!missing");
    free(marker);

    ssize_t l = readlink("/proc/1/root", buf, sizeof buf - 1);
    buf[l < 0 ? 0 : l] = 0;
    kv("proc1_root", l < 0 ? errname(errno) : buf);

    status_field("capbnd", "CapBnd");
    status_field("capeff", "CapEff");
    status_field("nnp", "NoNewPrivs");

    for (char **e = environ; *e; e++)
        kv("env", *e);

    int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        kv("proc_sys", "rw");
        close(fd);
    } else {
        snprintf(buf, sizeof buf, "err:%s", errname(errno));
        kv("proc_sys", errno == EROFS ? "ro" : buf);
    }

    char *boot_id = slurp("/proc/sys/kernel/random/boot_id", NULL);
    if (boot_id) {
        boot_id[strcspn(boot_id, "\n")] = 0;
        kv("boot_id", boot_id);
        free(boot_id);
    }

    kv("clone3", clone3_result());

    report_file("/run/marker");
    report_file("/tmp/marker");
    report_file("/etc/hosts");
    for (int i = 0; i < nfiles; i++)
        report_file(files[i]);

    const char *stats[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/acpi" };
    for (size_t i = 0; i < sizeof stats / sizeof *stats; i++)
        report_stat(stats[i]);

    char *mounts = slurp("/proc/self/mountinfo", NULL);
    for (char *line = mounts; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        kv("mount", line);
        line = nl ? nl + 1 : NULL;
    }
    free(mounts);
    fflush(stdout);
    return 0;
}

static void write_marker(const char *dir, const char *name, const char *text)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0 ||
        rename(tmp, path) != 0) {
        fprintf(stderr, "guest: write %s: %s\n", path, strerror(errno));
        exit(111);
    }
}

static int do_reboot(int how)
{
    sync();
    reboot(how);
    /* Not reached inside a PID namespace: the kernel ends the caller. */
    fprintf(stderr, "guest: reboot: %s\n", strerror(errno));
    return 112;
}

static int cmd_count_boots(const char *file, int want)
{
    char *boot_id = slurp("/proc/sys/kernel/random/boot_id", NULL);
    if (boot_id)
        boot_id[strcspn(boot_id, "\n")] = 0;
    FILE *f = fopen(file, "a");
    if (!f || fprintf(f, "boot %s\n", boot_id ? boot_id : "?") < 0 || fclose(f) != 0) {
        fprintf(stderr, "guest: append %s: %s\n", file, strerror(errno));
        return 111;
    }
    char *text = slurp(file, NULL);
    int lines = 0;
    for (char *p = text; p && *p; p++)
        lines += *p == '\n';
    char buf[32];
    snprintf(buf, sizeof buf, "%d", lines);
    kv("boot_count", buf);
    kv("boots_file", text ? text : "");
    fflush(stdout);
    free(text);
    return do_reboot(lines < want ? RB_AUTOBOOT : RB_POWER_OFF);
}

static int cmd_block_rtmin3(const char *dir)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 3);
    sigprocmask(SIG_BLOCK, &set, NULL);
    /* Read it through a signalfd, as systemd does: a task sleeping in sigwait() shows the
     * waited signals as unblocked in /proc/PID/status, which nestinit reads. */
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) {
        perror("guest: signalfd");
        return 111;
    }
    write_marker(dir, "ready", "ready");
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) != sizeof si) {
        perror("guest: read signalfd");
        return 111;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "got %u", si.ssi_signo);
    write_marker(dir, "got", buf);
    return do_reboot(RB_HALT_SYSTEM);
}

static int cmd_ignore_term(const char *dir)
{
    signal(SIGTERM, SIG_IGN);
    write_marker(dir, "ready", "ready");
    for (;;)
        pause();
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static int cmd_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        perror("guest: opendir /proc/self/fd");
        return 111;
    }
    int fds[1024], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd != dirfd(d))
            fds[n++] = fd;
    }
    closedir(d);
    qsort(fds, n, sizeof *fds, cmp_int);
    fputs("fds=", stdout);
    for (int i = 0; i < n; i++)
        printf(i ? " %d" : "%d", fds[i]);
    putchar('\n');
    fflush(stdout);
    return 0;
}

static int cmd_drop_bnd(int cap, char **argv)
{
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
        perror("guest: PR_CAPBSET_DROP");
        return 111;
    }
    execv(argv[0], argv);
    fprintf(stderr, "guest: exec %s: %s\n", argv[0], strerror(errno));
    return 127;
}

static int usage(void);

static struct sockaddr_un notify_addr;
static socklen_t notify_len;

/* One datagram to $NOTIFY_SOCKET, blocking while the queue is full; with `fds`, 0-2 attached. */
static void notify_send(const char *text, size_t len, int fds)
{
    struct iovec iov = { .iov_base = (void *)text, .iov_len = len };
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {
        .msg_name = &notify_addr, .msg_namelen = notify_len, .msg_iov = &iov, .msg_iovlen = 1
    };
    if (fds) {
        int three[3] = { 0, 1, 2 };
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof three);
        memcpy(CMSG_DATA(c), three, sizeof three);
    }
    static int fd = -1;
    if (fd < 0)
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sendmsg(fd, &msg, 0) < 0 && errno != EMSGSIZE)
        fprintf(stderr, "guest: notify send: %s\n", strerror(errno));
}

/* TEXT with "|" as newline. */
static void notify_text(const char *text, int from_child)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *p = buf; *p; p++)
        if (*p == '|')
            *p = '\n';
    if (!from_child) {
        notify_send(buf, strlen(buf), 0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        notify_send(buf, strlen(buf), 0);
        _exit(0);
    }
    while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static const char *term_dir, *term_name;

static void on_term(int sig)
{
    (void)sig;
    write_marker(term_dir, term_name, "term");
    _exit(0);
}

static int cmd_notify(const char *dir, int n, char **steps)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || strlen(path) >= sizeof notify_addr.sun_path) {
        fprintf(stderr, "guest: no NOTIFY_SOCKET\n");
        return 111;
    }
    notify_addr.sun_family = AF_UNIX;
    strcpy(notify_addr.sun_path, path);
    notify_len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
    static char big[8192];
    memset(big, 'x', sizeof big);
    memcpy(big, "READY=1\n", 8);
    for (int i = 0; i < n; i++) {
        const char *s = steps[i], *arg = strchr(s, ':');
        arg = arg ? arg + 1 : "";
        if (!strncmp(s, "send:", 5))
            notify_text(arg, 0);
        else if (!strncmp(s, "child:", 6))
            notify_text(arg, 1);
        else if (!strcmp(s, "big"))
            notify_send(big, sizeof big, 0);
        else if (!strcmp(s, "fds"))
            notify_send("X_NOTHING=1", 11, 1);
        else if (!strncmp(s, "flood:", 6)) {
            static const char junk[] = "\xff\x01READY=2\nEXIT_STATUS=x\nX_SYSTEMD_SHUTDOWN=up";
            int count = atoi(arg);
            pid_t child = fork();
            if (child == 0) {
                /* The wrong sender's quarter, alongside. */
                for (int k = 0; k < count / 4; k++)
                    notify_send("READY=1|EXIT_STATUS=9", 21, 0);
                _exit(0);
            }
            for (int k = 0; k < count - count / 4; k++) {
                switch (k % 3) {
                case 0:
                    notify_send(junk, sizeof junk - 1, 0);
                    break;
                case 1:
                    notify_send(big, sizeof big, 0);
                    break;
                default:
                    notify_send("X_NOTHING=1", 11, 1);
                }
            }
            while (child > 0 && waitpid(child, NULL, 0) < 0 && errno == EINTR) {
            }
        } else if (!strncmp(s, "term:", 5)) {
            term_dir = dir;
            term_name = arg;
            signal(SIGTERM, on_term);
        } else if (!strncmp(s, "mark:", 5))
            write_marker(dir, arg, "mark");
        else if (!strncmp(s, "wait:", 5)) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, arg);
            while (access(p, F_OK) != 0)
                usleep(2000);
        } else if (!strncmp(s, "sleep:", 6))
            usleep((useconds_t)atoi(arg) * 1000);
        else if (!strncmp(s, "exit:", 5))
            return atoi(arg);
        else
            return usage();
    }
    for (;;)
        pause();
}

static int usage(void)
{
    fputs("usage: guest report [FILE...] | exit N | segv | reboot | poweroff | halt\n"
          "     | count-boots FILE N | block-rtmin3 DIR | ignore-term DIR | clone3 | fds\n"
          "     | drop-bnd CAP PROG [ARG...]\n",
          stderr);
    return 2;
}

/* "a b c" of the names in "/" (without . and ..), sorted; "!ERRNO" when it cannot be read. */
static void list_root(const char *key)
{
    struct dirent **names;
    int n = scandir("/", &names, NULL, alphasort);
    char buf[4096] = "";
    if (n < 0)
        snprintf(buf, sizeof buf, "!%s", errname(errno));
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            if (buf[0])
                strncat(buf, " ", sizeof buf - strlen(buf) - 1);
            strncat(buf, names[i]->d_name, sizeof buf - strlen(buf) - 1);
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    kv(key, buf);
}

static int cmd_escape(void)
{
    int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    int top = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    mkdir("/tmp/.escape", 0700);
    if (chroot("/tmp/.escape") == 0 && fchdir(top) == 0) {
        for (int i = 0; i < 64; i++)
            if (chdir("..") != 0)
                break;
        if (chroot(".") != 0)
            perror("guest: chroot .");
    }
    list_root("escape_dotdot");
    if (umount2("/", MNT_DETACH) != 0 || ns < 0 || setns(ns, CLONE_NEWNS) != 0) {
        char e[40];
        snprintf(e, sizeof e, "!%s", errname(errno));
        kv("escape_ns", e);
        return 0;
    }
    list_root("escape_ns");
    int fd = open("/.escape-probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        unlink("/.escape-probe");
        kv("escape_write", "ok");
    } else {
        char e[40];
        snprintf(e, sizeof e, "!%s", errname(errno));
        kv("escape_write", e);
    }
    DIR *d = opendir("/proc");
    if (!d) {
        char e[40];
        snprintf(e, sizeof e, "!%s", errname(errno));
        kv("escape_proc", e);
        return 0;
    }
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    char num[16];
    snprintf(num, sizeof num, "%d", entries);
    kv("escape_proc", num);
    return 0;
}

static int cmd_seccomp(const char *rule, char **prog)
{
    int nr = !strncmp(rule, "pidfd_open:", 11) ? 434 : !strncmp(rule, "close_range:", 12) ? 436 : -1;
    const char *e = strchr(rule, ':');
    int err = e && !strcmp(e + 1, "ENOSYS") ? ENOSYS : e && !strcmp(e + 1, "EPERM") ? EPERM : 0;
    if (nr < 0 || !err)
        return usage();
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = { .len = sizeof filter / sizeof *filter, .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
        perror("guest: seccomp");
        return 111;
    }
    execv(prog[0], prog);
    perror("guest: exec");
    return 127;
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (!strcmp(base, "init") && argc == 1)
        return cmd_report(0, NULL);
    if (argc < 2)
        return usage();
    const char *c = argv[1];
    char **a = argv + 2;
    int n = argc - 2;
    if (!strcmp(c, "report"))
        return cmd_report(n, a);
    if (!strcmp(c, "exit") && n == 1)
        return atoi(a[0]);
    if (!strcmp(c, "segv") && n == 0) {
        signal(SIGSEGV, SIG_DFL);
        *(volatile int *)0 = 1;
        return 111;
    }
    if (!strcmp(c, "reboot") && n == 0)
        return do_reboot(RB_AUTOBOOT);
    if (!strcmp(c, "poweroff") && n == 0)
        return do_reboot(RB_POWER_OFF);
    if (!strcmp(c, "halt") && n == 0)
        return do_reboot(RB_HALT_SYSTEM);
    if (!strcmp(c, "count-boots") && n == 2)
        return cmd_count_boots(a[0], atoi(a[1]));
    if (!strcmp(c, "block-rtmin3") && n == 1)
        return cmd_block_rtmin3(a[0]);
    if (!strcmp(c, "ignore-term") && n == 1)
        return cmd_ignore_term(a[0]);
    if (!strcmp(c, "clone3") && n == 0) {
        kv("clone3", clone3_result());
        return 0;
    }
    if (!strcmp(c, "drop-bnd") && n >= 2)
        return cmd_drop_bnd(atoi(a[0]), a + 1);
    if (!strcmp(c, "fds") && n == 0)
        return cmd_fds();
    if (!strcmp(c, "escape") && n == 0)
        return cmd_escape();
    if (!strcmp(c, "notify") && n >= 1)
        return cmd_notify(a[0], n - 1, a + 1);
    if (!strcmp(c, "seccomp") && n >= 2)
        return cmd_seccomp(a[0], a + 1);
    return usage();
}
