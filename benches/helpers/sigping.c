/* sigping: W3, signal forwarding latency and a burst of queued real-time signals.
 *
 *   sigping ping ITER BURST -- [INIT [ARG...]] [:: [INIT [ARG...]]]...
 *   sigping pong FD                                 (the target, started by the measurer)
 *
 * The measurer pins itself to CPU 0 (so all its descendants run there too), then starts, for
 * each spec, `INIT ARG... <self> pong FD` as PID 1 of a fresh PID namespace; an empty spec
 * makes the pong itself PID 1 (direct delivery). The pong blocks SIGUSR1 and SIGRTMIN+6, says
 * it is ready through its pipe and loops on sigwaitinfo, writing one byte per signal received.
 *
 * Ping: ITER rounds; in each, every target in turn (the first one rotating): kill(<host pid of
 * its PID 1>, SIGUSR1), then block reading the one-byte acknowledgement. One sample = from
 * before kill to after read. Alternating targets ping by ping makes noise hit them all alike.
 * Burst, target by target: BURST times kill(<PID 1>, SIGRTMIN+6) back to back (real-time
 * signals queue, one per kill), then count acknowledgements until 300 ms pass without one.
 * Finally SIGKILL to every PID 1 ends the namespaces. Prints, per target K (0-based):
 *   ping_ns K MEDIAN P10 P90 MIN
 *   burst K SENT DELIVERED
 * or "lost K" for a target that did not acknowledge a ping within 5 s (it is not pinged again).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
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

#define PING SIGUSR1
#define BURST_SIG (SIGRTMIN + 6)
#define MAXT 32

static volatile sig_atomic_t timed_out;
static void on_alarm(int sig) { (void)sig; timed_out = 1; }

static long long now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static int pong(int fd) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, PING);
	sigaddset(&set, BURST_SIG);
	sigprocmask(SIG_BLOCK, &set, NULL);
	char c = 'R';
	if (write(fd, &c, 1) != 1) return 1;
	for (;;) {
		int s = sigwaitinfo(&set, NULL);
		if (s < 0) {
			if (errno == EINTR) continue;
			return 1;
		}
		c = s == PING ? 'p' : 'b';
		if (write(fd, &c, 1) != 1) return 1;
	}
}

int main(int argc, char **argv) {
	if (argc >= 3 && !strcmp(argv[1], "pong")) return pong(atoi(argv[2]));
	if (argc < 5 || strcmp(argv[1], "ping") || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: sigping ping ITER BURST -- [INIT [ARG...]] [:: [INIT [ARG...]]]...\n");
		return 2;
	}
	int iter = atoi(argv[2]), burst = atoi(argv[3]);
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof cpus, &cpus)) { perror("sigping: affinity"); return 1; }
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len < 0) return 1;
	self[len] = 0;

	pid_t pid[MAXT];
	int rd[MAXT], nt = 0;
	for (int start = 5; start <= argc && nt < MAXT;) {
		int end = start;
		while (end < argc && strcmp(argv[end], "::")) end++;
		int p[2];
		if (pipe(p)) return 1;
		char fdarg[16];
		snprintf(fdarg, sizeof fdarg, "%d", p[1]);
		char *cargv[64];
		int m = 0, own_ns = 0;
		/* "+ns" first: own mount namespace, / rprivate (as in pidns1). */
		if (start < end && !strcmp(argv[start], "+ns")) {
			own_ns = 1;
			start++;
		}
		for (int a = start; a < end && m < 60; a++) cargv[m++] = argv[a];
		cargv[m++] = self;
		cargv[m++] = "pong";
		cargv[m++] = fdarg;
		cargv[m] = NULL;
		long flags = CLONE_NEWPID | SIGCHLD | (own_ns ? CLONE_NEWNS : 0);
		pid_t c = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
		if (c < 0) { perror("sigping: clone"); return 1; }
		if (c == 0) {
			if (own_ns && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
				perror("sigping: make / rprivate");
				_exit(1);
			}
			for (int k = 0; k < nt; k++) close(rd[k]);
			close(p[0]);
			execv(cargv[0], cargv);
			perror("sigping: exec");
			_exit(127);
		}
		close(p[1]);
		char r;
		if (read(p[0], &r, 1) != 1 || r != 'R') {
			fprintf(stderr, "sigping: target %d not ready\n", nt);
			return 1;
		}
		pid[nt] = c;
		rd[nt++] = p[0];
		start = end + 1;
	}
	long long *t = calloc((size_t)(iter > 0 ? iter : 1) * nt, sizeof *t);
	int lost[MAXT] = {0};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: a blocked read returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	alarm(5);
	for (int i = 0; i < iter; i++) {
		for (int j = 0; j < nt; j++) {
			int k = (i + j) % nt;
			if (lost[k]) continue;
			char c;
			long long t0 = now_ns();
			kill(pid[k], PING);
			ssize_t r;
			while ((r = read(rd[k], &c, 1)) < 0 && errno == EINTR && !timed_out)
				;
			if (r != 1) {
				fprintf(stderr, "sigping: target %d did not acknowledge a signal within 5 s\n", k);
				lost[k] = 1;
				timed_out = 0;
				alarm(5);
				continue;
			}
			t[(long)k * iter + i] = now_ns() - t0;
		}
		alarm(5); /* a watchdog, re-armed outside the timed windows */
	}
	alarm(0);
	for (int k = 0; k < nt; k++) {
		if (lost[k]) {
			printf("lost %d\n", k);
			continue;
		}
		for (int i = 0; i < burst; i++) kill(pid[k], BURST_SIG);
		int got = 0;
		struct pollfd pf = {rd[k], POLLIN, 0};
		char b[4096];
		while (got < burst && poll(&pf, 1, 300) > 0) {
			ssize_t r = read(rd[k], b, sizeof b);
			if (r <= 0) break;
			got += (int)r;
		}
		if (iter > 0) {
			long long *s = t + (long)k * iter;
			qsort(s, (size_t)iter, sizeof *s, cmp);
			printf("ping_ns %d %lld %lld %lld %lld\n", k, s[iter / 2], s[iter / 10], s[iter * 9 / 10], s[0]);
		}
		printf("burst %d %d %d\n", k, burst, got);
	}
	for (int k = 0; k < nt; k++) {
		kill(pid[k], SIGKILL);
		waitpid(pid[k], NULL, 0);
	}
	return 0;
}
