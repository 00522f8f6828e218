"""The responder services' stop flag wakes their selector loops at once (issue 22: each
service used to notice a stop only at its next 0.2 s poll, one after the other)."""

from __future__ import annotations

import selectors
import threading

from netcheck.responder.stopper import Stopper


def test_stop_wakes_a_selector_that_would_wait_forever() -> None:
    stopper, woke = Stopper(), []
    with selectors.DefaultSelector() as sel:
        stopper.register(sel)

        def loop() -> None:
            while not stopper.is_set():
                woke.extend(stopper.is_wake(key) for key, _ in sel.select(None))  # no timeout at all

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        thread.join(0.2)
        assert thread.is_alive() and not woke  # nothing wakes it but the stop
        stopper.stop()
        thread.join(5.0)
        assert not thread.is_alive() and woke == [True]
    stopper.stop()  # twice, and after the loop ended: harmless
    stopper.close()
    stopper.stop()  # after close: still harmless (a signal handler may call it late)
