"""Exposure: can the internet reach the site's phone admin or SIP ports? (VSE NET: "administrative
access to phones from the public internet must be prevented").

Only a host outside the site can tell, so the probe asks the ``netcheck responder``'s TCP
control service (:mod:`netcheck.responder.control`) to connect back to the address it
sees the request come from (the site's public address, after NAT) on ``ports`` (default: HTTP
80, HTTPS 443, SSH 22, Telnet 23, 8080, 8443, SIP 5060, SIPS 5061). The responder never takes a
target from the request, so it cannot be used to scan anyone else. Values: ``seen_as`` (the
public address tested), ``ports`` (port -> open / closed / filtered / unreachable), ``open``.
One vantage point and TCP only: a port forward limited to certain source addresses, or a UDP
SIP exposure, is not seen.
"""

from __future__ import annotations

import asyncio

from netcheck.probes._common import Context, Timer, error
from netcheck.probes._control import request
from netcheck.probes.specs import ExposureSpec as Spec
from netcheck.result import ErrorKind, Measurement
from netcheck.wire.control import CONNECT_TIMEOUT_S


async def run(spec: Spec, ctx: Context) -> Measurement:
    timer = Timer()
    target = f"{spec.host} tcp/{spec.control_port} connect-back"
    timeout = ctx.timeout(CONNECT_TIMEOUT_S + 5.0)
    try:
        answer = await asyncio.to_thread(request, spec.host, spec.control_port, "exposure",
                                         list(spec.ports), spec.key, timeout)
    except (OSError, ValueError) as exc:
        err = error(ErrorKind.UNREACHABLE, f"responder control service {spec.host}:"
                    f"{spec.control_port} (TCP): {exc}")
        return timer.measurement(id=spec.id, probe="exposure", target=target, method="connect-back",
                                 error=err)
    if "error" in answer or not isinstance(answer.get("ports"), dict):
        err = error(ErrorKind.REFUSED, f"responder refused: {answer.get('error', answer)}")
        return timer.measurement(id=spec.id, probe="exposure", target=target, method="connect-back",
                                 error=err)
    states = {str(p): str(s) for p, s in answer["ports"].items()}
    values = {"seen_as": answer.get("seen_as"), "ports": states,
              "open": [p for p, s in states.items() if s == "open"],
              "timeout_s": answer.get("timeout_s")}
    return timer.measurement(id=spec.id, probe="exposure", target=target, method="connect-back",
                             values=values)
