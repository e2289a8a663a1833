/* pidns [--pidfile FILE] [--seccomp CALL:ERRNO]... [--] CMD ARGS...: runs CMD as PID 1 of a
 * new PID namespace.
 *
 * The tests use it to run the real nestinit binary as a container's init would run. A new mount
 * namespace, made recursively private, gets a fresh /proc so that /proc shows the new PID
 * namespace while the host's mount table stays untouched. The parent stays in the old
 * namespace: it writes CMD's host PID to FILE (FILE.tmp, then rename), forwards SIGTERM,
 * SIGINT, SIGHUP, SIGUSR1 and SIGUSR2, and exits with CMD's code or 128+signal.
 * CMD is killed (PR_SET_PDEATHSIG) if this process dies, which ends the whole namespace.
 * --seccomp CALL:ERRNO makes the kernel answer CALL (rt_sigtimedwait, reboot) with ERRNO
 * (ENOSYS, EPERM, EACCES) or kill the caller (KILL), in CMD and everything it starts, as a
 * runtime's seccomp profile would (no_new_privs + a BPF filter, as in ctr.c); repeatable (8 at
 * most). Exit 125 when the set-up fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp.h"


#define USAGE "usage: pidns [--pidfile FILE] [--seccomp CALL:ERRNO]... [--] CMD ARGS...\n"

static void die(const char *what)
{
    fprintf(stderr, "pidns: %s: %s\n", what, strerror(errno));
    exit(125);
}


static void write_pidfile(const char *path, pid_t pid)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0)
        die(tmp);
    if (rename(tmp, path) != 0)
        die("rename pidfile");
}

int main(int argc, char **argv)
{
    const char *pidfile = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--pidfile") && i + 1 < argc) {
            pidfile = argv[++i];
        } else if (!strcmp(argv[i], "--seccomp") && i + 1 < argc) {
            if (!seccomp_rule(argv[++i])) {
                fprintf(stderr, "pidns: --seccomp CALL:ENOSYS|EPERM|EACCES|KILL (" SECCOMP_CALLS
                                "; 8 at most)\n");
                exit(125);
            }
        } else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else {
            fprintf(stderr, USAGE);
            return 125;
        }
    }
    if (i >= argc) {
        fprintf(stderr, USAGE);
        return 125;
    }
    char **cmd = argv + i;

    /* Signals to forward are blocked from here on and read with sigwaitinfo. */
    sigset_t fwd, old;
    sigemptyset(&fwd);
    int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
    for (size_t k = 0; k < sizeof forwarded / sizeof *forwarded; k++)
        sigaddset(&fwd, forwarded[k]);
    sigaddset(&fwd, SIGCHLD);
    sigprocmask(SIG_BLOCK, &fwd, &old);

    if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0)
        die("unshare");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        die("make / private");

    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            die("mount /proc");
        if (seccomp_nrules && seccomp_install() != 0)
            die("seccomp");
        execvp(cmd[0], cmd);
        fprintf(stderr, "pidns: exec %s: %s\n", cmd[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    if (pidfile)
        write_pidfile(pidfile, child);

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&fwd, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            die("sigwaitinfo");
        }
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t r;
        while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
            if (r != child)
                continue;
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        }
    }
}
