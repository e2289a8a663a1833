/* exitwith: end in a chosen way (W4).
 *   exitwith N      exit with status N
 *   exitwith -S     raise signal S on ourselves; if we are still alive 200 ms later (the signal
 *                   was blocked or ignored: PID 1 of a namespace, or an init that leaked its
 *                   signal mask), exit 99
 *   exitwith mask   print our blocked and ignored signal sets (SigBlk/SigIgn) and exit 0 if
 *                   both are empty, 1 if not: an init must restore them before exec
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc < 2) return 2;
	if (!strcmp(argv[1], "mask")) {
		char line[256];
		int dirty = 0;
		FILE *f = fopen("/proc/self/status", "r");
		if (!f) return 2;
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7)) {
				fputs(line, stdout);
				if (strtoull(line + 7, NULL, 16) != 0) dirty = 1;
			}
		return dirty;
	}
	if (argv[1][0] == '-') {
		kill(getpid(), atoi(argv[1] + 1));
		struct timespec ts = {0, 200000000};
		nanosleep(&ts, NULL);
		return 99;
	}
	return atoi(argv[1]);
}
