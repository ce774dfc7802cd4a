"""A stand-in for the war room console in SSH hardening tests: the SSH server runs it as its session
entry (``main(argv)``, in a child of the fork server) so tests measure the server, not Textual.

It prints ``READY <cols>x<rows> COLORTERM=<value>`` and then obeys its keyboard: ``size`` prints the
terminal size again, ``flood`` writes without end, ``deaf`` stops reading its keyboard; anything
else is echoed.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time
import tty


def _size() -> str:
    rows, cols = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    return f"{cols}x{rows}"


def main(argv: list[str]) -> int:
    tty.setraw(0)
    os.write(1, f"READY {_size()} COLORTERM={os.environ.get('COLORTERM', '')}\r\n".encode())
    while data := os.read(0, 4096):
        if b"flood" in data:
            while True:
                os.write(1, b"x" * 65536)
        if b"deaf" in data:
            os.write(1, b"DEAF\r\n")
            time.sleep(3600)
        os.write(1, f"SIZE {_size()}\r\n".encode() if b"size" in data else data)
    return 0
