"""Ed25519 signatures (RFC 8032) of result documents and reports, so that a provider can
check that a customer's report is the integrator's, byte for byte.

A signature is detached: ``FILE.sig`` next to ``FILE``, one text line
``netcheck-ed25519:<base64 signature over the file's bytes>``. Keys are PEM files
(PKCS#8 private key, SubjectPublicKeyInfo public key), as ``openssl genpkey -algorithm
ed25519`` writes them; ``netcheck report keygen`` makes a pair. The private key file is
written 0600. Signing uses the ``cryptography`` package (already a dependency).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

PREFIX = "netcheck-ed25519:"


class SigningError(ValueError):
    """A key or signature file is unusable (one line, names the file)."""


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    message: str


def keygen(private_path: Path, public_path: Path) -> None:
    """A new Ed25519 key pair as PEM files (the private one readable by its owner only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    public_path.write_bytes(public)


def sign(data: bytes, private_key: Path) -> str:
    """The signature line for ``data``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = _load(private_key, lambda raw: load_pem_private_key(raw, password=None))
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{private_key}: not an Ed25519 private key")
    return PREFIX + base64.b64encode(key.sign(data)).decode() + "\n"


def sign_file(path: Path, private_key: Path) -> Path:
    """Write ``path.sig`` for ``path``; returns the signature's path."""
    sig = path.with_name(path.name + ".sig")
    sig.write_text(sign(path.read_bytes(), private_key))
    return sig


def verify(data: bytes, signature_line: str, public_key: Path) -> SignatureCheck:
    """Does ``signature_line`` sign exactly ``data`` under ``public_key``?"""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = _load(public_key, load_pem_public_key)
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{public_key}: not an Ed25519 public key")
    line = signature_line.strip()
    if not line.startswith(PREFIX):
        return SignatureCheck(False, "bad signature: not a netcheck Ed25519 signature")
    try:
        key.verify(base64.b64decode(line[len(PREFIX):], validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        return SignatureCheck(False, "bad signature: the file was changed after signing, or another key signed it")
    return SignatureCheck(True, "good signature (Ed25519)")


def verify_file(path: Path, public_key: Path, signature: Path | None = None) -> SignatureCheck:
    sig = signature or path.with_name(path.name + ".sig")
    try:
        line = sig.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return SignatureCheck(False, f"no signature: cannot read {sig} ({exc})")
    outcome = verify(path.read_bytes(), line, public_key)
    return SignatureCheck(outcome.ok, f"{path.name}: {outcome.message}")


def _load(path: Path, loader: object) -> object:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read key: {exc.strerror}") from None
    try:
        return loader(raw)  # type: ignore[operator]
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not a PEM key: {exc}") from None
