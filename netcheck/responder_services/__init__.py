"""Far-end services of ``netcheck responder`` beyond STAMP, one module each, opened beside
the STAMP socket by :func:`netcheck.responder_services.control.open_side`: UDP range echo
(udp_ranges), TCP control (control), SIP mirror on UDP + TCP (sip_mirror: SIP ALG detection)."""
