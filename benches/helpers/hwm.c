/* hwm: print the peak and current resident memory of PID 1 (the init of our PID namespace,
 * with a fresh /proc: run under `pidns1 -p`), then exit. Run as the init's only child, right
 * before it exits, this samples the init's VmHWM at the end of its life: afterwards it only
 * reaps us and exits.
 *
 * hwm wait: for an init whose /proc/1 is not visible to us (nestinit nested: we are the
 * guest's PID 1): print "ready", then wait for EOF on stdin and exit; the runner reads the
 * init's /proc/PID/status from the host meanwhile. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
	char line[256];
	if (argc > 1 && !strcmp(argv[1], "wait")) {
		fputs("ready\n", stdout);
		fflush(stdout);
		while (read(0, line, sizeof line) > 0) {}
		_exit(0);
	}
	FILE *f = fopen("/proc/1/status", "r");
	if (!f) { perror("hwm: /proc/1/status"); return 1; }
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6) || !strncmp(line, "VmRSS:", 6) || !strncmp(line, "Name:", 5))
			fputs(line, stdout);
	fclose(f);
	fflush(stdout);
	_exit(0);
}
