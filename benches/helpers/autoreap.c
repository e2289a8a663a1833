/* autoreap: the "no init" baseline of W2: the kernel's own cost of reaping.
 *
 *   autoreap CMD [ARG...]
 *
 * As PID 1 it sets SIGCHLD to SIG_IGN, so the kernel frees every child that re-parents to it
 * the moment it exits: no zombie, no SIGCHLD, no wait. It starts CMD (with SIGCHLD back at its
 * default) and sleeps in poll() on a pidfd of CMD, so nothing wakes it until CMD ends; it then
 * exits. (Sleeping in wait() instead would be woken, and scan its children, at every orphan's
 * exit: the kernel wakes a waiting parent even for children it autoreaps.) Kernels without
 * pidfd_open (< 5.3) fall back to wait().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	signal(SIGCHLD, SIG_IGN);
	pid_t pid = fork();
	if (pid < 0) { perror("autoreap: fork"); return 1; }
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		execv(argv[1], argv + 1);
		perror("autoreap: exec");
		_exit(127);
	}
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0) {
		struct pollfd p = {fd, POLLIN, 0};
		while (poll(&p, 1, -1) < 0 && errno == EINTR)
			;
		return 0;
	}
	while (wait(NULL) >= 0 || errno == EINTR)
		;
	return 0;
}
