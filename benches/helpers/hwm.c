/* hwm: print the peak and current resident memory of PID 1 (the init of our PID namespace,
 * with a fresh /proc: run under `pidns1 -p`), then exit. Run as the init's only child, right
 * before it exits, this samples the init's VmHWM at the end of its life: afterwards it only
 * reaps us and exits. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
	char line[256];
	FILE *f = fopen("/proc/1/status", "r");
	if (!f) { perror("hwm: /proc/1/status"); return 1; }
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6) || !strncmp(line, "VmRSS:", 6) || !strncmp(line, "Name:", 5))
			fputs(line, stdout);
	fclose(f);
	fflush(stdout);
	_exit(0);
}
