"""Far-end services of ``netcheck responder`` beyond STAMP, one module each, registered in
:data:`netcheck.responder.HANDLERS` (sip_mirror: SIP ALG detection)."""
