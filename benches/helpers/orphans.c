/* orphans: W2. Creates N double-forked orphans and waits until PID 1 has reaped them all.
 *
 *   orphans N TIMEOUT_MS
 *
 * For each orphan: fork an intermediate that forks a grandchild and exits at once; we reap the
 * intermediate, so the grandchild (exiting at once too) re-parents to PID 1, which must reap
 * it. After the last one we poll /proc/1/task/1/children (run under `pidns1 -p`: a fresh /proc
 * of our namespace) every 50 us until PID 1 has no child but us: every orphan then has exited
 * and been reaped (zombies stay on that list until reaped). Prints
 *   reap_ns T left Z
 * T: from the first fork until then; Z: children of PID 1 other than us still there (0, unless
 * TIMEOUT_MS passed first; T is then the timeout). Then
 *   pid1_cpu_ns C
 * C: CPU time PID 1 has used so far (first field of /proc/1/schedstat), its own cost of
 * reaping; far less sensitive to a noisy machine than T. Absent when schedstat is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static char buf[1 << 20];

/* Children of PID 1 other than `self`, or -1 when the list cannot be read. */
static long others(pid_t self) {
	int fd = open("/proc/1/task/1/children", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	long n = 0, pid = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)) {
		for (ssize_t i = 0; i < r; i++) {
			char c = buf[i];
			if (c >= '0' && c <= '9') pid = pid * 10 + (c - '0');
			else if (pid) { n += pid != self; pid = 0; }
		}
	}
	if (pid) n += pid != self;
	close(fd);
	return n;
}

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	long n = atol(argv[1]);
	long long timeout = atoll(argv[2]) * 1000000LL;
	pid_t self = getpid();
	if (others(self) < 0) { perror("orphans: /proc/1/task/1/children"); return 1; }
	long long t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pid_t mid = fork();
		if (mid < 0) { perror("orphans: fork"); return 1; }
		if (mid == 0) {
			if (fork() < 0) _exit(1);
			_exit(0);
		}
		int st;
		while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
			;
	}
	long left;
	long long t;
	struct timespec nap = {0, 50000};
	for (;;) {
		left = others(self);
		t = now_ns() - t0;
		if (left <= 0 || t > timeout) break;
		nanosleep(&nap, NULL);
	}
	printf("reap_ns %lld left %ld\n", t, left);
	FILE *f = fopen("/proc/1/schedstat", "r");
	unsigned long long cpu;
	if (f && fscanf(f, "%llu", &cpu) == 1) printf("pid1_cpu_ns %llu\n", cpu);
	if (f) fclose(f);
	return left == 0 ? 0 : 1;
}
