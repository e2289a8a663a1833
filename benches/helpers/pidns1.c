/* pidns1: run commands as PID 1 of fresh PID namespaces, alternating them launch by launch.
 *
 *   pidns1 [-p] [-n N] -- CMD [ARG...] [:: CMD [ARG...]]...
 *
 * N rounds; in each, every CMD is launched once (the first one rotating round by round, so
 * none always goes first): clone(CLONE_NEWPID [| CLONE_NEWNS]), execv(CMD), waitpid. The wall
 * time from clone to the end of waitpid is one sample. Launching the commands alternately in
 * one loop lets a noisy machine slow all of them alike, so ratios between them hold.
 *
 * -p  also give each namespace its own mount namespace with a fresh /proc (so /proc/1 is the
 *     init of the new namespace). Only workloads that read /proc use it: tearing a mount
 *     namespace down costs an RCU grace period per launch.
 * A command whose first word is "+ns" (dropped before the exec) always gets its own mount
 * namespace with / made rprivate (and, with -p, the fresh /proc): for an init that mounts
 * (nestinit nested), so nothing it does can reach the host's mounts.
 *
 * Output, after all launches (so it never mixes with the commands' own output):
 *   ns K T              one line per launch of command K (0-based): T nanoseconds
 *   status K exit N     how command K's PID 1 ended the last time (or "status K signal S")
 *   fails K F           launches of command K that did not exit 0 (only when F > 0)
 * A launch still running after 60 s (PIDNS1_TIMEOUT, seconds) is killed with SIGKILL and
 * counted in "fails", so a hung init cannot hang the benchmark.
 * Exit status: that of the last launch of the first command (N, or 128+S).
 * Built with gcc -static -O2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXCMD 32

static volatile sig_atomic_t timed_out;
static void on_alarm(int sig) { (void)sig; timed_out = 1; }

static long long now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
	int with_proc = 0, n = 1, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) { i++; break; }
		else if (!strcmp(argv[i], "-p")) with_proc = 1;
		else if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoi(argv[++i]);
		else { fprintf(stderr, "pidns1: bad option %s\n", argv[i]); return 2; }
	}
	/* Split the rest at "::" into commands (argv is ours to edit). */
	char **cmd[MAXCMD];
	int ncmd = 0, own_ns[MAXCMD] = {0};
	for (int start = i; start < argc && ncmd < MAXCMD;) {
		int end = start;
		while (end < argc && strcmp(argv[end], "::")) end++;
		argv[end] = NULL; /* argv[argc] is NULL already */
		if (end > start && !strcmp(argv[start], "+ns")) {
			own_ns[ncmd] = 1;
			start++;
		}
		if (end > start) cmd[ncmd++] = argv + start;
		start = end + 1;
	}
	if (ncmd == 0 || n < 1) {
		fprintf(stderr, "usage: pidns1 [-p] [-n N] -- CMD [ARG...] [:: CMD [ARG...]]...\n");
		return 2;
	}
	long long *t = calloc((size_t)n * ncmd, sizeof *t);
	int status[MAXCMD] = {0}, fails[MAXCMD] = {0};
	if (!t) return 1;
	const char *te = getenv("PIDNS1_TIMEOUT");
	unsigned timeout = te ? (unsigned)atoi(te) : 60;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	for (int r = 0; r < n; r++) {
		for (int j = 0; j < ncmd; j++) {
			int k = (r + j) % ncmd;
			int newns = with_proc || own_ns[k];
			long flags = CLONE_NEWPID | SIGCHLD | (newns ? CLONE_NEWNS : 0);
			long long t0 = now_ns();
			/* Raw clone: fork semantics; the child only mounts and execs. */
			pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
			if (pid < 0) { perror("pidns1: clone"); return 1; }
			if (pid == 0) {
				if (newns && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
					perror("pidns1: make / rprivate");
					_exit(1);
				}
				if (with_proc &&
				    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
					perror("pidns1: mount /proc");
					_exit(1);
				}
				execv(cmd[k][0], cmd[k]);
				perror("pidns1: exec");
				_exit(127);
			}
			timed_out = 0;
			alarm(timeout);
			while (waitpid(pid, &status[k], 0) < 0) {
				if (errno != EINTR) { perror("pidns1: waitpid"); return 1; }
				if (timed_out) {
					fprintf(stderr, "pidns1: %s still running after %u s: killed\n", cmd[k][0], timeout);
					kill(pid, SIGKILL);
					timed_out = 0;
				}
			}
			alarm(0);
			t[(long)r * ncmd + k] = now_ns() - t0;
			fails[k] += status[k] != 0;
		}
	}
	fflush(stdout);
	for (int r = 0; r < n; r++)
		for (int k = 0; k < ncmd; k++) printf("ns %d %lld\n", k, t[(long)r * ncmd + k]);
	for (int k = 0; k < ncmd; k++) {
		if (WIFSIGNALED(status[k])) printf("status %d signal %d\n", k, WTERMSIG(status[k]));
		else printf("status %d exit %d\n", k, WEXITSTATUS(status[k]));
		if (fails[k]) printf("fails %d %d\n", k, fails[k]);
	}
	return WIFSIGNALED(status[0]) ? 128 + WTERMSIG(status[0]) : WEXITSTATUS(status[0]);
}
