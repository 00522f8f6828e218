"""SIP ALG detection: does a middlebox rewrite, inspect or drop SIP on its way out of the site?

Two methods, with different confidence:

- ``mirror`` (high confidence): against ``netcheck responder``'s SIP mirror
  (:mod:`netcheck.responder.sip_mirror`) on one port and transport per run. Five
  messages, each on its own socket / connection with fresh identifiers (Call-ID, branch,
  tag, and a random even RTP port: nf_conntrack_sip keeps the media expectation of an
  earlier offer, and a later INVITE offering the same port is dropped or renumbered):

  * ``invite``: an INVITE full of the site's private address (Via, Contact, From, SDP
    o=/c=/m=), over TCP in one write, as phones send it;
  * ``register``: a REGISTER with Contact and Expires (some ALGs rewrite only these);
  * ``canary``: an INVITE whose CSeq is not a number (RFC 3261 section 20.16). A path that
    does not read SIP forwards it like any other datagram; a SIP helper that parses it
    drops it (nf_conntrack_sip: "cannot get cseq") even where it has nothing to rewrite;
  * ``large``: an INVITE of ~2.8 kB (two IPv4 fragments on UDP; on TCP two writes split
    inside the header block: ALGs that parse per segment half-rewrite or drop it);
  * ``answer``: an INVITE that asks for the mirror's SIP-shaped answer (``received``/``rport``
    of RFC 3581 on its Via, and a digest of the answer itself): an ALG that rewrites SIP
    only on its way back in changes it.

  A SIP response where the mirror's answer should be means a middlebox answered the request
  itself (a SIP proxy / B2BUA on the router).

  The mirror returns each masked (not SIP to anyone on the way back); :func:`sip.compare`
  lists every field that changed. When no masked answer comes back, the message is sent
  again asking for the SIP-shaped digest answer: a firewall that drops non-SIP on a SIP
  port lets it through, and the digest still shows whether the octets changed.
  With the responder's control port, the probe first asks which ports the mirror serves, so
  "not served" is never mistaken for "dropped on the way".
- ``options`` (no responder): an OPTIONS request to the provider's SIP server with
  ``rport`` (RFC 3581), after a STUN Binding from the same socket. The server answers with
  ``received``/``rport`` = the source it saw: the site's public address. A SIP ALG maps
  that back to the phone's private address on the way in (nf_nat_sip rewrites Via
  ``received=``), so ``received`` = our private address behind NAT proves a rewrite; the
  public (STUN-mapped) address with an unchanged Via shows none on this exchange (an ALG
  that restores both perfectly remains possible: medium confidence).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from netcheck import hostport
from netcheck.probes import _control as control
from netcheck.probes._common import Context, Timer, error, resolve
from netcheck.probes.specs import SipAlgSpec as Spec
from netcheck.result import Confidence, ErrorKind, Measurement, ProbeError, Value
from netcheck.wire import sip
from netcheck.wire.sip_mirror import (
    DIGEST_HEADER,
    REPLY_HEADER,
    answer_digest,
    auth_header,
    digest_of,
    strip_answer_digest,
    unmask,
)

#: time left that a TCP retry needs (connect + one answer wait with margin)
TCP_RETRY_MIN_S = 4.0
LARGE_PADDING = 2400  # INVITE of ~2.8 kB: two IPv4 fragments at MTU 1500
DIGEST_PAD = 200  # octets of padding in requests that ask for the SIP-shaped digest answer
MAX_READ = 65535  # one SIP message at most (the mirror's MAX_MESSAGE)
KINDS = ("invite", "register", "canary", "large", "answer")

#: Finding codes (what the middlebox did), each with the evidence that shows it.
ALG_FINDINGS = ("intercepts", "rewrites_headers", "rewrites_sdp", "stale_content_length", "mangles_message",
                "rewrites_registrations", "rewrites_answers", "rewrites_unseen", "drops_unparseable",
                "drops_invites", "drops_registrations")


async def run(spec: Spec, ctx: Context) -> Measurement:
    timer = Timer()
    label = f"{hostport.join(spec.host, spec.port)}/{spec.transport}"
    method = f"sip-{spec.mode}-{spec.transport}"
    confidence = Confidence.HIGH if spec.mode == "mirror" else Confidence.MEDIUM
    addr, err = await resolve(ctx, spec.host, socket.AF_INET)
    if addr is None:
        return timer.measurement(id=spec.id, probe="sip_alg", target=label, method=method, error=err)
    address = (addr[1], spec.port)
    test = _mirror if spec.mode == "mirror" else _options
    values, err = await test(address, spec, ctx)
    return timer.measurement(id=spec.id, probe="sip_alg", target=label, method=method,
                             values=values, error=err, confidence=confidence)


# -- mirror mode --------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One message's fate: who answered ("mirror", "digest", "middlebox" or None), the
    fields that changed (mirror answer), whether the digest matched (digest answer), the
    status line of a middlebox that answered in the mirror's place."""

    kind: str
    sent_octets: int
    answered: str | None
    rewrites: tuple[sip.Rewrite, ...] = ()
    digest_match: bool | None = None
    intercepted_by: str | None = None
    answer_intact: bool | None = None  # the digest answer's own digest still matches
    answer_via: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.rewrites) or self.digest_match is False


Builder = Callable[[str, int], bytes]


async def _mirror(dest: tuple[str, int], spec: Spec, ctx: Context) -> tuple[dict[str, Value],
                                                                          ProbeError | None]:
    served, offset_s = await _served(dest[0], spec, ctx)
    if served in ("key_rejected", "key_required"):
        note = f"the responder {'rejected our key' if spec.key else 'requires a key'}"
        return {"mirror_served": None, "mirror_reachable": False, "mirror_note": served}, error(
            ErrorKind.PERMISSION, f"{note} ({dest[0]}): give `netcheck run "
            "--responder-key-file` the file the responder was started with (`netcheck "
            "responder --key-file`)")
    if served is False:
        return {"mirror_served": False, "mirror_reachable": False}, error(
            ErrorKind.REFUSED, f"the responder at {dest[0]} does not serve the SIP mirror on "
            f"{spec.transport.upper()} {spec.port}: start it with `netcheck responder "
            f"--sip-ports {spec.port}` (plus the other SIP ports of the profile)")
    ex = await _exchanges(dest, spec, ctx, offset_s)
    values = _mirror_values(ex, served if isinstance(served, bool) else None)
    if not any(e.answered for e in ex.values()):
        return values, error(
            ErrorKind.TIMEOUT, f"no answer from the SIP mirror at {dest[0]}:{dest[1]}/"
            f"{spec.transport}" + ("" if served else ": is `netcheck responder --sip-ports "
                                   f"{spec.port}` running there, and the port open?"))
    return values, None


async def _served(host: str, spec: Spec, ctx: Context) -> tuple[bool | str | None, float]:
    """Ask the responder's control service whether the mirror serves this port (None: no
    control port given, or no usable answer: an older responder, or control blocked;
    "key_rejected" / "key_required"), and how far its clock is ahead of ours (keyed
    requests carry its time)."""
    if spec.control_port is None:
        return None, 0.0
    t0 = time.time()
    try:
        answer = await asyncio.wait_for(asyncio.to_thread(
            control.request, host, spec.control_port, "coverage", [], spec.key,
            max(ctx.timeout(3.0), 0.05)), max(ctx.timeout(4.0), 0.05))
    except (OSError, ValueError, TimeoutError):
        return None, 0.0
    if answer.get("error") == "auth":  # control's error code for a missing or wrong MAC
        return ("key_rejected" if spec.key else "key_required"), 0.0
    theirs = answer.get("time_s")
    offset = theirs - (t0 + time.time()) / 2 if isinstance(theirs, int | float) else 0.0
    ports = (answer.get("sip_mirror") or {}).get(spec.transport) if "error" not in answer else None
    return (spec.port in ports if isinstance(ports, list) else None), offset


def _builder(kind: str, spec: Spec, target: str, digest: bool, offset_s: float) -> Builder:
    # the digest answer is never larger than its request (the mirror does not amplify):
    # the request pays for the answer's received/rport and two digests with a pad header
    extra: tuple[sip.Header, ...] = ((REPLY_HEADER, "digest"), ("X-Netcheck-Pad", "x" * DIGEST_PAD)
                                     ) if digest else ()
    if spec.key:
        extra += (auth_header(spec.key, time.time() + offset_s),)
    tp = spec.transport.upper()
    if kind == "register":
        return lambda ip, port: sip.probe_register(ip, port, target, tp, extra=extra)
    padding = LARGE_PADDING if kind == "large" else 0  # "answer", "control": plain INVITEs
    cseq = "x" if kind == "canary" else "1"
    return lambda ip, port: sip.probe_invite(ip, port, target, tp, padding=padding, cseq=cseq,
                                             extra=extra)


async def _exchanges(dest: tuple[str, int], spec: Spec, ctx: Context,
                     offset_s: float) -> dict[str, Exchange]:
    """INVITE, REGISTER and the large INVITE at once, asking for masked answers, and beside
    them an INVITE asking for the SIP-shaped answer (``answer``: is it rewritten on its way
    in?); only when neither the INVITE nor the REGISTER got a masked answer (a path that
    drops non-SIP answers, or drops SIP) the unanswered ones again asking for the digest
    answer. Then the canary alone; when it goes unanswered, a fresh well-formed INVITE
    right after it (``control``) tells a parser that drops it from a path that drops
    everything at that moment (loss, a SIP rate limit)."""
    kinds = ("invite", "register", "large")
    first = await asyncio.gather(*(_exchange(dest, spec, ctx, k, False, offset_s) for k in kinds),
                                 _exchange(dest, spec, ctx, "answer", True, offset_s))
    ex = dict(zip((*kinds, "answer"), first, strict=True))
    digest = not (ex["invite"].answered or ex["register"].answered)
    if digest:
        again = [k for k in kinds if not ex[k].answered]
        second = await asyncio.gather(*(_exchange(dest, spec, ctx, k, True, offset_s)
                                        for k in again))
        ex |= dict(zip(again, second, strict=True))
    if not (ex["invite"].answered or ex["register"].answered):
        return ex | {"canary": Exchange("canary", 0, None)}  # nothing crosses: nothing to learn
    ex["canary"] = await _exchange(dest, spec, ctx, "canary", digest, offset_s)
    if ex["canary"].answered is None and ex["invite"].answered is not None:
        ex["control"] = await _exchange(dest, spec, ctx, "invite", digest, offset_s)
    return ex


async def _exchange(dest: tuple[str, int], spec: Spec, ctx: Context, kind: str,
                    digest: bool, offset_s: float = 0.0) -> Exchange:
    """One message on its own socket / connection, one answer kind."""
    send = _udp_exchange if spec.transport == "udp" else _tcp_exchange
    split = kind == "large"  # TCP: the large INVITE split in its header block
    got = await send(dest, spec, ctx, _builder(kind, spec, dest[0], digest, offset_s), split)
    if got is None:
        return Exchange(kind, 0, None)
    sent, back = got
    try:
        response = sip.parse_lenient(back) if back.startswith(b"SIP/2.0 ") else None
    except sip.SipError:
        response = None
    if response is not None and response.get(DIGEST_HEADER) is None:
        # the mirror's masked answer never starts like this: something on the path answered
        return Exchange(kind, len(sent), "middlebox", intercepted_by=response.start_line)
    if not digest:
        return Exchange(kind, len(sent), "mirror", tuple(sip.compare(sent, unmask(back))))
    if response is None:
        return Exchange(kind, len(sent), None)
    stripped, own = strip_answer_digest(back)
    return Exchange(kind, len(sent), "digest",
                    digest_match=response.get(DIGEST_HEADER) == digest_of(sent),
                    answer_intact=None if own is None else own == answer_digest(stripped),
                    answer_via=response.get("Via"))


async def _udp_exchange(dest: tuple[str, int], spec: Spec, ctx: Context, build: Builder,
                        _split: bool) -> tuple[bytes, bytes] | None:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect(dest)
        ip, port = sock.getsockname()[:2]
        msg = build(ip, port)
        for _ in range(spec.attempts):
            with contextlib.suppress(OSError):
                await loop.sock_sendall(sock, msg)
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 65535),
                                              max(ctx.timeout(spec.wait_s), 0.001))
            except (TimeoutError, OSError):
                continue
            return msg, data
    return None


async def _tcp_exchange(dest: tuple[str, int], spec: Spec, ctx: Context, build: Builder,
                        split: bool) -> tuple[bytes, bytes] | None:
    """The TCP counterpart of UDP's retransmission: TCP delivers or fails, so a message
    unanswered on one connection is sent once more on a fresh one (as a SIP client opens a
    new connection, RFC 3261 section 18.1.1) while :data:`TCP_RETRY_MIN_S` remain; an ALG
    that drops it drops both."""
    got = await _tcp_once(dest, spec, ctx, build, split)
    if got is None and ctx.remaining() > TCP_RETRY_MIN_S:
        got = await _tcp_once(dest, spec, ctx, build, split)
    return got


async def _tcp_once(dest: tuple[str, int], spec: Spec, ctx: Context, build: Builder,
                    split: bool) -> tuple[bytes, bytes] | None:
    """With ``split``: two writes 50 ms apart with Nagle off, two TCP segments, the split
    inside the header block, where a per-segment ALG parser trips. The mirror answers one
    message per connection and closes: read to the end."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*dest),
                                                max(ctx.timeout(3.0), 0.001))
    except (OSError, TimeoutError):
        return None
    try:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ip, port = sock.getsockname()[:2]
        msg = build(ip, port)
        cut = msg.index(b"\r\nContact:") + 5 if split else len(msg)
        for part in (msg[:cut], msg[cut:]):
            if part:
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.05 if split else 0)
        wait = max(ctx.timeout(spec.wait_s * spec.attempts), 0.001)
        back = await asyncio.wait_for(reader.read(MAX_READ), wait)
        while back and len(back) < MAX_READ and not reader.at_eof():
            more = await asyncio.wait_for(reader.read(MAX_READ), max(ctx.timeout(1.0), 0.001))
            if not more:
                break
            back += more
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    return (msg, back) if back else None


def _mirror_values(ex: dict[str, Exchange], served: bool | None) -> dict[str, Value]:
    invite, register, large = ex["invite"], ex["register"], ex["large"]
    findings = findings_of(ex)
    return {
        "mirror_served": served,
        "mirror_reachable": any(e.answered for e in ex.values()),
        "answered": {k: e.answered for k, e in ex.items()},
        "alg_detected": any(f in ALG_FINDINGS for f in findings),
        "findings": findings,
        "rewrites": _records(invite.rewrites),
        "register_rewrites": _records(register.rewrites),
        "large_rewrites": _records(large.rewrites),
        "answer_via": ex["answer"].answer_via if "answer" in ex else None,
        "intercepted_by": next((e.intercepted_by for e in ex.values() if e.intercepted_by), None),
        "large_message_octets": large.sent_octets or None,
        "large_message_ok": large.answered is not None and not large.changed,
    }


def _records(rewrites: tuple[sip.Rewrite, ...]) -> list[Value]:
    return [{"field": r.field, "sent": r.sent, "received": r.received} for r in rewrites]


def findings_of(ex: dict[str, Exchange]) -> list[str]:
    """What the path did, from the exchanges (codes of :data:`ALG_FINDINGS` plus
    ``drops_non_sip_answers`` and ``large_message_lost``), in a fixed order. Header and
    SDP rewrites count from the INVITE and the large INVITE (an ALG may touch only whole
    messages, or only segmented ones)."""
    invite, register, canary, large = (ex[k] for k in ("invite", "register", "canary", "large"))
    control = ex.get("control")
    fields = [r.field for r in (*invite.rewrites, *large.rewrites)]
    passed = [e for e in (invite, large) if e.answered in ("mirror", "digest")]
    found = {
        "intercepts": any(e.answered == "middlebox" for e in ex.values()),
        "rewrites_headers": any(f not in ("framing", "message", "body") and not f.startswith("sdp")
                                for f in fields),
        "rewrites_sdp": any(f.startswith("sdp") or f == "body" for f in fields),
        "stale_content_length": "framing" in fields
        or any(r.field == "framing" for r in register.rewrites),
        "mangles_message": "message" in fields,
        "rewrites_registrations": register.changed,
        "rewrites_answers": any(e.answer_intact is False for e in ex.values()),
        "rewrites_unseen": any(e.digest_match is False for e in passed),
        "drops_unparseable": canary.answered is None and invite.answered is not None
        and control is not None and control.answered is not None,
        "drops_invites": invite.answered is None and register.answered is not None,
        "drops_registrations": register.answered is None and invite.answered is not None,
        "drops_non_sip_answers": any(e.answered == "digest" for k, e in ex.items() if k != "answer"),
        "large_message_lost": invite.answered is not None and large.answered is None,
    }
    return [name for name, hit in found.items() if hit]


# -- options mode (no responder) ----------------------------------------------------------


async def _options(
    dest: tuple[str, int], spec: Spec, ctx: Context
) -> tuple[dict[str, Value], ProbeError | None]:
    local_ip = _local_ip(dest)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.bind((local_ip, 0))
        port = int(sock.getsockname()[1])
        mapped = await _stun_mapped(sock, spec, ctx)
        msg = sip.probe_options(local_ip, port, dest[0])
        t0 = time.perf_counter()
        data = await _udp_request(sock, dest, msg, spec, ctx)
    if data is None:
        return {"server_answered": False, "local_address": f"{local_ip}:{port}",
                "mapped_address": mapped}, error(
            ErrorKind.TIMEOUT, f"no answer to SIP OPTIONS from {dest[0]}:{dest[1]}/udp")
    values = {"server": f"{spec.host}:{spec.port}",
              **options_values(msg, data, f"{local_ip}:{port}", mapped, dest[0])}
    values["rtt_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    return values, None


def _local_ip(dest: tuple[str, int]) -> str:
    """The address the kernel picks towards ``dest``: what a phone would put in its Via."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(dest)
            return str(probe.getsockname()[0])
        except OSError:
            return "0.0.0.0"


async def _stun_mapped(sock: socket.socket, spec: Spec, ctx: Context) -> str | None:
    """The public address:port of ``sock`` (STUN Binding, RFC 8489), or None."""
    if not spec.stun_host:
        return None
    from netcheck.probes.stun import transact
    from netcheck.wire import stun

    addr, _err = await resolve(ctx, spec.stun_host, socket.AF_INET)
    if addr is None:
        return None
    server = (addr[1], spec.stun_port)
    resp, _rtt, _src = await transact(sock, server, stun.binding_request(), 0.5, 2, ctx)
    mapped = resp.mapped_address if resp is not None else None
    return f"{mapped[0]}:{mapped[1]}" if mapped else None


async def _udp_request(sock: socket.socket, dest: tuple[str, int], msg: bytes, spec: Spec,
                       ctx: Context) -> bytes | None:
    """Send ``msg`` up to ``spec.attempts`` times; the first SIP response from ``dest``."""
    loop = asyncio.get_running_loop()
    for _ in range(spec.attempts):
        with contextlib.suppress(OSError):
            await loop.sock_sendto(sock, msg, dest)
        end = time.monotonic() + max(ctx.timeout(spec.wait_s), 0.001)
        while (left := end - time.monotonic()) > 0:
            try:
                data, src = await asyncio.wait_for(loop.sock_recvfrom(sock, 65535), left)
            except (TimeoutError, OSError):
                break
            if src[0] == dest[0] and data.startswith(b"SIP/2.0 "):
                return bytes(data)
    return None


def options_values(sent: bytes, data: bytes, local: str, mapped: str | None,
                   server_ip: str | None = None) -> dict[str, Value]:
    """What the server's answer says about the path (RFC 3581), and the conclusion
    ``evidence``: ``private_received`` (an ALG mapped the server's view back to our private
    address), ``via_rewritten`` (our Via came back changed), ``public_received`` (the server
    saw our STUN-mapped public address and our Via unchanged), or ``inconclusive``."""
    values: dict[str, Value] = {"server_answered": True, "local_address": local,
                                "mapped_address": mapped}
    try:
        resp = sip.parse_lenient(data)
    except sip.SipError as exc:
        return {**values, "evidence": "inconclusive", "evidence_detail": "unparseable",
                "note": f"the answer is not SIP: {exc}", "parse_error": str(exc)}
    sent_by, _ = sip.via_params(sip.parse(sent).get("Via") or "")
    back_by, params = sip.via_params(resp.get("Via") or "")
    local_ip, mapped_ip = local.rsplit(":", 1)[0], mapped.rsplit(":", 1)[0] if mapped else None
    received = params.get("received") or None
    values.update(status_line=resp.start_line, via_sent_by=sent_by, via_returned_sent_by=back_by,
                  received=received, rport=params.get("rport") or None,
                  behind_nat=_behind_nat(local_ip, mapped_ip, server_ip))
    evidence, detail, note = _options_evidence(sent_by, back_by, received, local_ip, mapped_ip,
                                               server_ip)
    values.update(evidence=evidence, evidence_detail=detail, note=note)
    return values


def _behind_nat(local_ip: str, mapped_ip: str | None, server_ip: str | None) -> bool | None:
    """Known from STUN (public address differs from ours); without it, a private address of
    ours talking to a global server address can only be behind NAT (RFC 1918 / 6598)."""
    if mapped_ip is not None:
        return mapped_ip != local_ip
    with contextlib.suppress(ValueError):
        if server_ip and ipaddress.ip_address(server_ip).is_global:
            return not ipaddress.ip_address(local_ip).is_global
    return None


def _options_evidence(sent_by: str, back_by: str, received: str | None, local_ip: str,
                      mapped_ip: str | None, server_ip: str | None = None
                      ) -> tuple[str, str, str]:
    """(evidence, detail code, plain-language note) from one OPTIONS answer (RFC 3261
    section 8.2.6.2: the server copies our Via; RFC 3581 section 4: it adds received and
    rport). ``evidence`` is what the check judges; the detail says which case it was."""
    if back_by != sent_by:
        return "via_rewritten", "via_rewritten", (
            f"our Via sent-by {sent_by} came back as {back_by}: the server copies it unchanged, "
            "so a middlebox rewrote it")
    behind = _behind_nat(local_ip, mapped_ip, server_ip)
    if received is None:
        return "inconclusive", "no_received", "the server's answer has no received parameter"
    if behind is None:
        return "inconclusive", "nat_unknown", ("no STUN-mapped public address to tell whether "
                                               "this site is behind NAT")
    if not behind:
        return "inconclusive", "no_nat", (f"not behind NAT ({local_ip} is the public address): "
                                          "the server's received= cannot show a rewrite")
    if received == local_ip:
        return "private_received", "private_received", (
            f"the server's answer names our private address (received={received}), an address "
            "it cannot have seen behind NAT: a middlebox rewrote the SIP answer (SIP ALG)")
    if received == mapped_ip:
        return "public_received", "public_received", (
            f"the server saw our public address {received} (= STUN) and our Via came back "
            "unchanged")
    return "inconclusive", "other_received", (
        f"the server saw {received}, neither our address {local_ip} nor the STUN-mapped "
        f"{mapped_ip}")
