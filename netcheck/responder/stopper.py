"""A stop flag that wakes a selector loop at once.

Each responder service serves from a selector loop in its own thread. Polling a
``threading.Event`` at the selector's timeout made every stop wait up to that timeout per
service, one service after the other (0.15 s of each demo run's end: issue 22). A
:class:`Stopper` also registers one end of a socket pair in the loop's selector and writes
a byte on stop, so the loop returns from ``select`` immediately (a service with no timed
work of its own waits in ``select`` without a timeout at all). ``socket.socketpair``
exists on every platform Python supports (emulated over loopback TCP on Windows).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class Stopper:
    """``stop()`` sets the flag and wakes every selector it is registered with. The socket
    pair is made on :meth:`register`, so a service that is built and closed without ever
    serving (a failed start, a test of its handlers) holds no descriptors."""

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._pair: tuple[socket.socket, socket.socket] | None = None

    def register(self, sel: selectors.BaseSelector) -> None:
        """Wake ``sel`` on stop; its key's ``data`` is this stopper (:meth:`is_wake`). The
        loop checks :meth:`is_set` after this: a stop before it is seen there."""
        if self._pair is None:
            rx, tx = socket.socketpair()
            rx.setblocking(False)
            tx.setblocking(False)
            self._pair = (rx, tx)
        sel.register(self._pair[0], selectors.EVENT_READ, self)

    def is_wake(self, key: selectors.SelectorKey) -> bool:
        return key.data is self

    def stop(self) -> None:
        self._flag.set()
        if (pair := self._pair) is not None:
            with contextlib.suppress(OSError):  # already closed, or the buffer full of wake bytes
                pair[1].send(b"\0")

    def is_set(self) -> bool:
        return self._flag.is_set()

    def close(self) -> None:
        if (pair := self._pair) is not None:
            self._pair = None
            for sock in pair:
                sock.close()
