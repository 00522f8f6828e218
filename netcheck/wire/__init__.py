"""Sans-I/O wire formats (STAMP, STUN, SIP, LLDP/CDP, DHCP, port echo): bytes in, typed
messages out, no sockets.

Every decoder raises a subclass of :class:`WireError` for bytes it cannot accept. The bytes
came from the far end, so the runner reports such an error as the far end's invalid answer
(``ErrorKind.MALFORMED``), never as an internal error of netcheck.
"""

from __future__ import annotations

__all__ = ["WireError"]


class WireError(ValueError):
    """Bytes received from the network that a decoder cannot accept."""
