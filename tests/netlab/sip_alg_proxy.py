"""A user-space SIP ALG for the lab router, imitating consumer-router ALGs (issue 15).

Run in the router namespace behind an nftables ``redirect`` of lan -> wan SIP traffic to
``--listen``: each request from a lan client is rewritten and forwarded to ``--upstream``
from the router's own address, answers are relayed back unchanged (conntrack turns the
redirect back, so the client sees them from the address it sent to).

Rewrites, as consumer ALGs do: the client's private ``IP:port`` (the packet's source) ->
the router's public address and the proxy's upstream port wherever it appears, and the bare
IP in SDP ``c=``/``o=``. Choices:

- ``--methods INVITE,REGISTER``: which requests are rewritten (``REGISTER`` only imitates
  ALGs that rewrite only registrations);
- ``--headers-only``: leave the body alone (a half rewrite: SDP keeps the private address);
- ``--stale-length``: do not fix Content-Length after the body changed length;
- ``--drop-unparseable``: drop requests whose CSeq is not a number (an inspecting ALG);
- ``--rewrite-answers``: map the router's public address back to the client's in SIP
  responses coming in (the inbound half of an ALG);
- ``--answer REGISTER``: answer that method itself with ``403 Forbidden`` instead of
  forwarding it (routers with a SIP proxy / registrar of their own), UDP only.

Usage: ``python -m tests.netlab.sip_alg_proxy --transport udp --listen 15060
--upstream 198.18.0.2:5060 --public 198.18.0.1 [options]``. Prints ``ready`` when serving.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import threading


def rewrite(data: bytes, private: tuple[str, int], public: tuple[str, int], args: argparse.Namespace
            ) -> bytes | None:
    """The request as the ALG forwards it; None = dropped."""
    head, sep, body = data.partition(b"\r\n\r\n")
    start = head.split(b"\r\n", 1)[0].decode("latin-1")
    method = start.split(" ", 1)[0]
    if not sep or start.startswith("SIP/2.0"):
        return data
    cseq = re.search(rb"\r\n(?:CSeq|cseq):\s*(\S+)", head)
    if args.drop_unparseable and (cseq is None or not cseq.group(1).isdigit()):
        return None
    if method not in args.methods:
        return data
    pip, pport = private
    qip, qport = public
    head = head.replace(f"{pip}:{pport}".encode(), f"{qip}:{qport}".encode())
    head = head.replace(pip.encode(), qip.encode())
    if not args.headers_only:
        new_body = body.replace(pip.encode(), qip.encode())
        if not args.stale_length and new_body != body:
            head = re.sub(rb"(\r\nContent-Length:\s*)\d+",
                          lambda m: m.group(1) + str(len(new_body)).encode(), head)
        body = new_body
    return head + sep + body


def serve_udp(args: argparse.Namespace, upstream: tuple[str, int]) -> None:
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.bind(("0.0.0.0", args.listen))
    flows: dict[tuple[str, int], socket.socket] = {}
    print("ready", flush=True)
    while True:
        data, client = listen.recvfrom(65535)
        if args.answer and data.startswith(args.answer.encode() + b" "):
            listen.sendto(forbidden(data), client)
            continue
        up = flows.get(client)
        if up is None:
            up = flows[client] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            up.bind((args.public, 0))
            up.connect(upstream)
            threading.Thread(target=_relay_udp, args=(up, listen, client, args),
                             daemon=True).start()
        out = rewrite(data, client, (args.public, up.getsockname()[1]), args)
        if out is not None:
            up.send(out)


def forbidden(request: bytes) -> bytes:
    """A ``403 Forbidden`` to ``request`` (RFC 3261 section 8.2.6: Via, From, To, Call-ID,
    CSeq copied)."""
    keep = (b"via:", b"from:", b"to:", b"call-id:", b"cseq:")
    head = request.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    lines = [b"SIP/2.0 403 Forbidden", *(ln for ln in head if ln.lower().startswith(keep)),
             b"Content-Length: 0", b"", b""]
    return b"\r\n".join(lines)


def _relay_udp(up: socket.socket, listen: socket.socket, client: tuple[str, int],
               args: argparse.Namespace) -> None:
    while True:
        try:
            data = up.recv(65535)
        except OSError:
            return
        if args.rewrite_answers and data.startswith(b"SIP/2.0 "):
            data = data.replace(args.public.encode(), client[0].encode())
        listen.sendto(data, client)


def serve_tcp(args: argparse.Namespace, upstream: tuple[str, int]) -> None:
    listen = socket.create_server(("0.0.0.0", args.listen))
    print("ready", flush=True)
    while True:
        conn, client = listen.accept()
        threading.Thread(target=_tcp_flow, args=(conn, client, upstream, args), daemon=True).start()


def _tcp_flow(conn: socket.socket, client: tuple[str, int], upstream: tuple[str, int],
              args: argparse.Namespace) -> None:
    with conn, socket.create_connection(upstream, source_address=(args.public, 0)) as up:
        conn.settimeout(0.5)
        buf = b""
        while b"\r\n\r\n" not in buf:  # a whole-message ALG: waits for the header block
            chunk = conn.recv(65535)
            if not chunk:
                return
            buf += chunk
        try:  # the rest of this message (body) if it comes soon
            while chunk := conn.recv(65535):
                buf += chunk
        except TimeoutError:
            pass
        out = rewrite(buf, client, (args.public, up.getsockname()[1]), args)
        if out is None:
            return
        up.sendall(out)
        up.settimeout(5.0)
        try:
            while data := up.recv(65535):
                conn.sendall(data)
        except OSError:
            return


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--transport", choices=("udp", "tcp"), required=True)
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--public", required=True)
    p.add_argument("--methods", default="INVITE,REGISTER", type=lambda s: set(s.split(",")))
    p.add_argument("--headers-only", action="store_true")
    p.add_argument("--stale-length", action="store_true")
    p.add_argument("--drop-unparseable", action="store_true")
    p.add_argument("--answer", default="")
    p.add_argument("--rewrite-answers", action="store_true")
    args = p.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    (serve_udp if args.transport == "udp" else serve_tcp)(args, (host, int(port)))


if __name__ == "__main__":
    main(sys.argv[1:])
