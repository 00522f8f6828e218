"""TLS listeners for the field lab: ``python -m tests.netlab.tls_listen ADDR CERT KEY PORT...``.

Each port completes a real TLS handshake (Python's ``ssl`` module, the given certificate)
and then closes, which is what a TCP-connect check and the TLS inspection probe need from a
provider's HTTPS / LDAPS / H.323-TLS port. Runs until SIGTERM (the lab stops it by PID).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading


def _serve(sock: socket.socket, ctx: ssl.SSLContext) -> None:
    while True:
        conn, _ = sock.accept()
        conn.settimeout(5.0)
        with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)
        conn.close()


def main(argv: list[str]) -> None:
    addr, cert, key, *ports = argv
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    threads = []
    for port in ports:
        sock = socket.create_server((addr, int(port)), backlog=64)
        t = threading.Thread(target=_serve, args=(sock, ctx), daemon=True)
        t.start()
        threads.append(t)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1:])
