#!/usr/bin/env python3
"""Runs CMD with a new pseudo-terminal as its stdin, stdout, stderr and controlling terminal
(200 columns, so that systemd shortens few status lines), as a terminal emulator would, and
copies what CMD writes there to stdout. Exits with CMD's status (128+N when killed by
signal N) once CMD has ended and its output is drained. Nothing is written to the terminal.

The cgroup v2 tier runs `runc run` of a container with a terminal under it: runc proxies the
container's console (its /dev/console, where systemd prints) to this terminal, as `docker run
-t` shows it. (script(1) of util-linux 2.38 kept spinning there after runc had put its terminal
in raw mode and exited, with stdin at end of file.)

Usage: with-pty.py CMD [ARG...]
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios


def main():
    argv = sys.argv[1:]
    if not argv:
        sys.exit(__doc__)
    pid, master = pty.fork()
    if pid == 0:
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(2, f"with-pty.py: exec {argv[0]}: {e}\n".encode())
            os._exit(127)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    status = None
    while True:
        # Once CMD has ended, whatever is still buffered comes within a moment.
        ready, _, _ = select.select([master], [], [], 0.2 if status is not None else 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: no process has the terminal open any more
                data = b""
            if data:
                os.write(1, data)
                continue
        if status is not None:
            break
        if not ready:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            continue
        # End of output: wait for CMD itself.
        _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
