"""The far end (``netcheck responder``): the STAMP reflector and rate limits (``server``),
the keyed control channel (``control``), whole-range UDP echo (``udp_ranges``), the SIP
mirror (``sip_mirror``) and replay protection (``replay``). It shares only ``wire`` and
``clock`` with the near end's probes."""
