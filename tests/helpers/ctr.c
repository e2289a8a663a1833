/* ctr: a throwaway test container with nestinit as its PID 1, built the way
 * docs/design.md#testing ("Testing without harming the machine") describes.
 *
 *   ctr --init NESTINIT [options] -- ARGS...
 *
 * The parent unshares a new PID namespace (and cgroup namespace with --cgroupns) and forks.
 * The child, PID 1 of that namespace, unshares a mount namespace of its own and makes it
 * recursively private, so nothing it mounts reaches the host and its pivot_root leaves the
 * parent's root alone. It then builds the container root on a tmpfs mounted over a scratch
 * directory: /init (a copy of NESTINIT), /proc, read-only /sys, a small /dev, tmpfs /run,
 * /run/lock and /tmp, the guest volume bound at /data00, and whatever the options add; it
 * pivots into that root, detaches the old one and execs "/init ARGS..." as PID 1.
 *
 * The parent writes the host PID of /init to --pidfile (FILE.tmp, then rename), forwards
 * SIGTERM and SIGINT to it and exits with its code, or 128+signal. /init is SIGKILLed if the
 * parent dies (PR_SET_PDEATHSIG), which ends the whole namespace. Set-up failures print one
 * "ctr: ..." line and exit 120 (not a code nestinit uses).
 *
 * Options (mounts are made in this order: standard ones, then the options in the order given,
 * then --many, then the /proc options; markers are written last, after pivot_root):
 *   --init FILE            the nestinit binary, copied to /init (required)
 *   --volume DIR           the guest rootfs, bound (recursively) at /data00; none: no volume
 *   --root-at PATH         where the volume goes instead of /data00
 *   --ro-root              make the volume mount read-only
 *   --scratch DIR          an empty directory to mount the container root on (default: a
 *                          mkdtemp directory under $TMPDIR or /tmp, removed at the end)
 *   --bind-file HOST:PATH  bind a file (target created as an empty file)
 *   --bind-dir HOST:PATH   bind a directory (recursively; target created)
 *   --tmpfs PATH           a tmpfs at PATH (any bytes but NUL; parents created)
 *   --many N               N tmpfs mounts at /mnt/many/0 .. /mnt/many/N-1
 *   --cgroup-tmpfs         a tmpfs at /sys/fs/cgroup holding tmpfs mounts "a" and "b" (a
 *                          file "marker" in each says its name), then made read-only
 *   --devpts               a new devpts instance at /dev/pts, /dev/ptmx -> pts/ptmx
 *   --ro-proc-sys          bind /proc/sys read-only over itself, as runc does
 *   --mask-proc            runc's masks: /dev/null over /proc/kcore, /proc/keys,
 *                          /proc/timer_list; read-only tmpfs over /proc/acpi, /proc/scsi;
 *                          read-only binds of /proc/bus, /proc/fs, /proc/irq,
 *                          /proc/sysrq-trigger (each only where it exists)
 *   --marker PATH:TEXT     write TEXT to PATH inside the container before exec
 *   --marker-run TEXT      same as --marker /run/marker:TEXT
 *   --marker-tmp TEXT      same as --marker /tmp/marker:TEXT
 *   --seccomp-clone3 ENOSYS|EPERM
 *                          answer clone3 with that errno (no_new_privs + a BPF filter)
 *   --seccomp CALL:ERRNO   answer CALL (clone3, pivot_root, mount, move_mount, open_tree,
 *                          fsopen, umount2, close_range, pidfd_open) with ERRNO (ENOSYS, EPERM, EACCES), as a runtime's
 *                          seccomp profile or a security module would, or kill the caller
 *                          (KILL); repeatable (8 at most)
 *   --stack-kib N          RLIMIT_STACK of N KiB for /init (ulimit -s N)
 *   --proc-opts DATA       mount /proc with DATA (hidepid=2, subset=pid, ...)
 *   --ro-proc              mount /proc read-only
 *   --leak-host-root       leave a descriptor of the host's root directory open (fd 9, not
 *                          close-on-exec) for /init, as runc's CVE-2024-21626 leaked one
 *   --cgroupns             also a new cgroup namespace
 *   --cgroup DIR           move into the cgroup DIR (its cgroup.procs) before the namespaces
 *                          are made, as a runtime puts a container into its cgroup
 *   --cgroup2 rw|ro        mount cgroup2 at /sys/fs/cgroup (rooted at the container's cgroup
 *                          with --cgroupns), read-write or read-only as Docker does on v2
 *   --pidfile FILE         host PID of /init
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp.h"

#define FAIL 120

#ifndef __NR_clone3
#define __NR_clone3 435
#endif


static void die(const char *what, const char *subject)
{
    int e = errno;
    fprintf(stderr, "ctr: %s%s%s: %s\n", what, subject ? " " : "", subject ? subject : "",
            strerror(e));
    exit(FAIL);
}

static void usage(const char *why)
{
    fprintf(stderr, "ctr: usage: %s (see tests/helpers/ctr.c)\n", why);
    exit(FAIL);
}

/* ------------------------------------------------------------------------------------------ */
/* Paths inside the container root, which is the current directory until pivot_root. */

static char *in_root(const char *path)
{
    /* "./" + path without its leading slashes. */
    while (*path == '/')
        path++;
    size_t n = strlen(path);
    char *p = malloc(n + 3);
    if (!p)
        die("malloc", NULL);
    memcpy(p, "./", 2);
    memcpy(p + 2, path, n + 1);
    return p;
}

static void mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        die("malloc", NULL);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            die("mkdir", p);
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        die("mkdir", p);
    free(p);
}

static void parent_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        die("malloc", NULL);
    char *slash = strrchr(p, '/');
    if (slash && slash != p) {
        *slash = 0;
        mkdirs(p);
    }
    free(p);
}

static void touch(const char *path)
{
    parent_dirs(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        die("create", path);
    close(fd);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die("create", path);
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n || close(fd) != 0)
        die("write", path);
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        die("open", from);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0)
        die("create", to);
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0)
            die("read", from);
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, n - off);
            if (w < 0)
                die("write", to);
            off += w;
        }
    }
    close(in);
    if (close(out) != 0)
        die("write", to);
}

static void do_mount(const char *src, const char *target, const char *type, unsigned long flags,
                     const char *data)
{
    if (mount(src, target, type, flags, data) != 0)
        die("mount", target);
}

static void tmpfs(const char *target, const char *opts)
{
    mkdirs(target);
    do_mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts ? opts : "mode=755,size=4m");
}

static void bind(const char *host, const char *target, int dir)
{
    if (dir)
        mkdirs(target);
    else
        touch(target);
    do_mount(host, target, NULL, MS_BIND | (dir ? MS_REC : 0), NULL);
}

static void remount_ro(const char *target, unsigned long extra)
{
    do_mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | extra, NULL);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ------------------------------------------------------------------------------------------ */

struct action {
    enum { A_BIND_FILE, A_BIND_DIR, A_TMPFS, A_MARKER } kind;
    char *a, *b;
};

static struct action actions[256];
static int nactions;

static void add(int kind, const char *arg, int split)
{
    if (nactions >= (int)(sizeof actions / sizeof *actions))
        usage("too many options");
    char *a = strdup(arg), *b = NULL;
    if (!a)
        die("malloc", NULL);
    if (split) {
        char *colon = strchr(a, ':');
        if (!colon)
            usage("expected HOST:PATH or PATH:TEXT");
        *colon = 0;
        b = colon + 1;
    }
    actions[nactions].kind = kind;
    actions[nactions].a = a;
    actions[nactions].b = b;
    nactions++;
}

static struct {
    const char *init, *volume, *root_at, *scratch, *pidfile;
    const char *cgroup, *cgroup2;
    int ro_root, many, cgroup_tmpfs, devpts, ro_proc_sys, mask_proc, cgroupns, leak;
    long stack_kib;
    const char *proc_opts;
    int ro_proc;
} opt = { .root_at = "/data00" };

/* Builds the container on the scratch directory, pivots into it and execs /init. */
static void child(char **cmd)
{
    if (opt.cgroup) {
        char procs[PATH_MAX];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", opt.cgroup);
        write_file(procs, "0");
        if (opt.cgroupns && unshare(CLONE_NEWCGROUP) != 0)
            die("unshare", "CLONE_NEWCGROUP");
    }
    if (unshare(CLONE_NEWNS) != 0)
        die("unshare", "CLONE_NEWNS");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        die("make / private", NULL);

    if (opt.leak) {
        int fd = open("/", O_RDONLY | O_DIRECTORY);
        if (fd < 0 || dup2(fd, 9) != 9)
            die("leak", "/");
    }

    /* Host paths are resolved before the chdir into the container root. */
    char *init = realpath(opt.init, NULL);
    if (!init)
        die("realpath", opt.init);
    char *volume = NULL;
    if (opt.volume && !(volume = realpath(opt.volume, NULL)))
        die("realpath", opt.volume);
    for (int i = 0; i < nactions; i++) {
        if (actions[i].kind == A_BIND_FILE || actions[i].kind == A_BIND_DIR) {
            char *r = realpath(actions[i].a, NULL);
            if (!r)
                die("realpath", actions[i].a);
            actions[i].a = r;
        }
    }

    do_mount("tmpfs", opt.scratch, "tmpfs", 0, "mode=755,size=64m");
    if (chdir(opt.scratch) != 0)
        die("chdir", opt.scratch);

    copy_file(init, "./init", 0755);

    mkdirs("./proc");
    do_mount("proc", "./proc", "proc",
             MS_NOSUID | MS_NODEV | MS_NOEXEC | (opt.ro_proc ? MS_RDONLY : 0), opt.proc_opts);

    tmpfs("./dev", "mode=755,size=64k");
    const char *nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
        char host[64], target[64];
        snprintf(host, sizeof host, "/dev/%s", nodes[i]);
        snprintf(target, sizeof target, "./dev/%s", nodes[i]);
        bind(host, target, 0);
    }
    if (opt.devpts) {
        mkdirs("./dev/pts");
        do_mount("devpts", "./dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=620");
        if (symlink("pts/ptmx", "./dev/ptmx") != 0)
            die("symlink", "/dev/ptmx");
    }

    mkdirs("./sys");
    do_mount("sysfs", "./sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    if (opt.cgroup_tmpfs) {
        do_mount("tmpfs", "./sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "mode=755,size=64k");
        const char *subs[] = { "a", "b" };
        for (size_t i = 0; i < 2; i++) {
            char path[64];
            snprintf(path, sizeof path, "./sys/fs/cgroup/%s", subs[i]);
            tmpfs(path, "mode=755,size=64k");
            snprintf(path, sizeof path, "./sys/fs/cgroup/%s/marker", subs[i]);
            write_file(path, subs[i]);
        }
        remount_ro("./sys/fs/cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    }
    if (opt.cgroup2) {
        unsigned long ro = strcmp(opt.cgroup2, "ro") ? 0 : MS_RDONLY;
        do_mount("cgroup2", "./sys/fs/cgroup", "cgroup2", ro | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 NULL);
    }

    if (volume) {
        char *at = in_root(opt.root_at);
        mkdirs(at);
        do_mount(volume, at, NULL, MS_BIND | MS_REC, NULL);
        if (opt.ro_root)
            remount_ro(at, 0);
        free(at);
    }

    tmpfs("./run", "mode=755,size=4m");
    tmpfs("./run/lock", "mode=1777,size=64k");
    tmpfs("./tmp", "mode=1777,size=4m");

    for (int i = 0; i < nactions; i++) {
        struct action *a = &actions[i];
        if (a->kind == A_MARKER)
            continue;
        char *target = in_root(a->kind == A_TMPFS ? a->a : a->b);
        if (a->kind == A_TMPFS)
            tmpfs(target, NULL);
        else
            bind(a->a, target, a->kind == A_BIND_DIR);
        free(target);
    }

    if (opt.many > 0) {
        mkdirs("./mnt/many");
        for (int i = 0; i < opt.many; i++) {
            char path[64];
            snprintf(path, sizeof path, "./mnt/many/%d", i);
            tmpfs(path, "mode=755,size=16k,nr_inodes=16");
        }
    }

    if (opt.mask_proc) {
        const char *nulled[] = { "./proc/kcore", "./proc/keys", "./proc/timer_list" };
        for (size_t i = 0; i < sizeof nulled / sizeof *nulled; i++)
            if (exists(nulled[i]))
                do_mount("./dev/null", nulled[i], NULL, MS_BIND, NULL);
        const char *hidden[] = { "./proc/acpi", "./proc/scsi" };
        for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++)
            if (exists(hidden[i]))
                do_mount("tmpfs", hidden[i], "tmpfs", MS_RDONLY, NULL);
        const char *ro[] = { "./proc/bus", "./proc/fs", "./proc/irq", "./proc/sysrq-trigger" };
        for (size_t i = 0; i < sizeof ro / sizeof *ro; i++) {
            if (!exists(ro[i]))
                continue;
            do_mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL);
            remount_ro(ro[i], MS_NOSUID | MS_NODEV | MS_NOEXEC);
        }
    }
    if (opt.ro_proc_sys) {
        do_mount("./proc/sys", "./proc/sys", NULL, MS_BIND | MS_REC, NULL);
        remount_ro("./proc/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    }

    if (syscall(SYS_pivot_root, ".", ".") != 0)
        die("pivot_root", opt.scratch);
    if (umount2(".", MNT_DETACH) != 0)
        die("detach old root", NULL);
    if (chdir("/") != 0)
        die("chdir", "/");

    for (int i = 0; i < nactions; i++)
        if (actions[i].kind == A_MARKER)
            write_file(actions[i].a, actions[i].b);

    if (opt.stack_kib) {
        struct rlimit lim = { .rlim_cur = (rlim_t)opt.stack_kib * 1024,
                              .rlim_max = (rlim_t)opt.stack_kib * 1024 };
        if (setrlimit(RLIMIT_STACK, &lim) != 0)
            die("setrlimit", "RLIMIT_STACK");
    }
    if (seccomp_nrules && seccomp_install() != 0)
        die("prctl", "seccomp");

    execv("/init", cmd);
    int e = errno;
    fprintf(stderr, "ctr: exec /init: %s\n", strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

static void write_pidfile(const char *path, pid_t pid)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0)
        die("write", tmp);
    if (rename(tmp, path) != 0)
        die("rename", tmp);
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--")) {
            i++;
            break;
        }
#define VAL()                                                                                     \
    do {                                                                                          \
        if (!v)                                                                                   \
            usage("an option lacks its value");                                                  \
        i++;                                                                                      \
    } while (0)
        if (!strcmp(o, "--init")) {
            VAL();
            opt.init = v;
        } else if (!strcmp(o, "--volume")) {
            VAL();
            opt.volume = v;
        } else if (!strcmp(o, "--root-at")) {
            VAL();
            opt.root_at = v;
        } else if (!strcmp(o, "--scratch")) {
            VAL();
            opt.scratch = v;
        } else if (!strcmp(o, "--pidfile")) {
            VAL();
            opt.pidfile = v;
        } else if (!strcmp(o, "--bind-file")) {
            VAL();
            add(A_BIND_FILE, v, 1);
        } else if (!strcmp(o, "--bind-dir")) {
            VAL();
            add(A_BIND_DIR, v, 1);
        } else if (!strcmp(o, "--tmpfs")) {
            VAL();
            add(A_TMPFS, v, 0);
        } else if (!strcmp(o, "--marker")) {
            VAL();
            add(A_MARKER, v, 1);
        } else if (!strcmp(o, "--marker-run") || !strcmp(o, "--marker-tmp")) {
            VAL();
            char buf[4096];
            snprintf(buf, sizeof buf, "%s:%s", o[9] == 'r' ? "/run/marker" : "/tmp/marker", v);
            add(A_MARKER, buf, 1);
        } else if (!strcmp(o, "--many")) {
            VAL();
            opt.many = atoi(v);
        } else if (!strcmp(o, "--seccomp-clone3") || !strcmp(o, "--seccomp")) {
            VAL();
            char rule[64];
            snprintf(rule, sizeof rule, "%s%s", o[9] == '-' ? "clone3:" : "", v);
            if (!seccomp_rule(rule))
                usage("--seccomp CALL:ENOSYS|EPERM|EACCES|KILL (" SECCOMP_CALLS "; 8 at most)");
        } else if (!strcmp(o, "--ro-root")) {
            opt.ro_root = 1;
        } else if (!strcmp(o, "--cgroup-tmpfs")) {
            opt.cgroup_tmpfs = 1;
        } else if (!strcmp(o, "--devpts")) {
            opt.devpts = 1;
        } else if (!strcmp(o, "--ro-proc-sys")) {
            opt.ro_proc_sys = 1;
        } else if (!strcmp(o, "--mask-proc")) {
            opt.mask_proc = 1;
        } else if (!strcmp(o, "--proc-opts")) {
            VAL();
            opt.proc_opts = v;
        } else if (!strcmp(o, "--ro-proc")) {
            opt.ro_proc = 1;
        } else if (!strcmp(o, "--stack-kib")) {
            VAL();
            opt.stack_kib = atol(v);
        } else if (!strcmp(o, "--leak-host-root")) {
            opt.leak = 1;
        } else if (!strcmp(o, "--cgroup")) {
            VAL();
            opt.cgroup = v;
        } else if (!strcmp(o, "--cgroup2")) {
            VAL();
            if (strcmp(v, "rw") && strcmp(v, "ro"))
                usage("--cgroup2 rw|ro");
            opt.cgroup2 = v;
        } else if (!strcmp(o, "--cgroupns")) {
            opt.cgroupns = 1;
        } else {
            fprintf(stderr, "ctr: unknown option %s\n", o);
            return FAIL;
        }
    }
    if (!opt.init)
        usage("--init is required");

    /* argv[i - 1] becomes the new argv[0], "/init". */
    char **cmd = argv + i - 1;
    cmd[0] = "/init";

    char scratch_buf[PATH_MAX];
    int made_scratch = 0;
    if (!opt.scratch) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch_buf, sizeof scratch_buf, "%s/ctr-root.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(scratch_buf))
            die("mkdtemp", scratch_buf);
        opt.scratch = scratch_buf;
        made_scratch = 1;
    }

    sigset_t fwd, old;
    sigemptyset(&fwd);
    sigaddset(&fwd, SIGTERM);
    sigaddset(&fwd, SIGINT);
    sigaddset(&fwd, SIGCHLD);
    sigprocmask(SIG_BLOCK, &fwd, &old);

    /* With --cgroup the child moves itself and makes the cgroup namespace: the runtime (this
     * parent) stays out of the container's cgroup. */
    if (unshare(CLONE_NEWPID | (opt.cgroupns && !opt.cgroup ? CLONE_NEWCGROUP : 0)) != 0)
        die("unshare", "CLONE_NEWPID");

    pid_t pid = fork();
    if (pid < 0)
        die("fork", NULL);
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        child(cmd);
    }
    if (opt.pidfile)
        write_pidfile(opt.pidfile, pid);

    int code = FAIL;
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&fwd, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            die("sigwaitinfo", NULL);
        }
        if (sig != SIGCHLD) {
            kill(pid, sig);
            continue;
        }
        int status;
        pid_t r;
        int done = 0;
        while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
            if (r != pid)
                continue;
            if (WIFEXITED(status))
                code = WEXITSTATUS(status), done = 1;
            else if (WIFSIGNALED(status))
                code = 128 + WTERMSIG(status), done = 1;
        }
        if (done)
            break;
    }
    if (made_scratch)
        rmdir(opt.scratch);
    return code;
}
