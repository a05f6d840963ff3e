"""Ed25519 signatures for bundles passed hand to hand: who made this zip, and is it as they made it?

A bundle's ``bundle.json`` holds the size and SHA-256 of every file in it, so a signature over
those bytes covers the whole bundle. Anyone can recompute checksums after changing a GGUF;
only the holder of the secret key can sign the new manifest. The crypto is PyNaCl's
(libsodium), never our own; this module only reads and writes key files and names keys.

Key files are two short text files: ``NAME`` (secret, mode 0600) and ``NAME.pub``::

    taalkit ed25519 secret key
    <base64 of the 32-byte seed>

A key is named by its fingerprint, ``ed25519:`` and the first 16 hex digits of the SHA-256 of
the public key, which is what ``taalkit open`` prints and what a maker tells the receivers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from .errors import TaalkitError
from .fsutil import atomic_path

SECRET_HEADER = "taalkit ed25519 secret key"
PUBLIC_HEADER = "taalkit ed25519 public key"
ALGORITHM = "ed25519"


def _nacl():
    try:
        import nacl.exceptions
        import nacl.signing
    except ImportError:  # pragma: no cover - a dependency of the runtime tier
        raise TaalkitError("signing bundles needs PyNaCl: pip install pynacl") from None
    return nacl.signing, nacl.exceptions


def fingerprint(public_key: bytes) -> str:
    return f"{ALGORITHM}:{hashlib.sha256(public_key).hexdigest()[:16]}"


def keygen(path: os.PathLike | str) -> tuple[Path, Path, str]:
    """Write a new key pair ``path`` (secret) and ``path.pub``; return both paths and the fingerprint."""
    signing, _ = _nacl()
    secret_path = Path(path).expanduser()
    public_path = secret_path.with_name(secret_path.name + ".pub")
    for p in (secret_path, public_path):
        if p.exists():
            raise TaalkitError(f"{p} already exists; choose another name (a key is never overwritten)")
    key = signing.SigningKey.generate()
    public = bytes(key.verify_key)
    with atomic_path(secret_path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{SECRET_HEADER}\n{base64.b64encode(bytes(key)).decode()}\n")
    with atomic_path(public_path) as tmp:
        tmp.write_text(f"{PUBLIC_HEADER}\n{base64.b64encode(public).decode()}\n", encoding="utf-8")
    return secret_path, public_path, fingerprint(public)


def _read_key(path: os.PathLike | str, header: str) -> bytes:
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        raise TaalkitError(f"{path}: no such key file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TaalkitError(f"{path}: cannot read the key file ({err})") from None
    text = " ".join(lines)
    if not text.startswith(header):
        other = PUBLIC_HEADER if header == SECRET_HEADER else SECRET_HEADER
        hint = " (this is the other half of the pair)" if text.startswith(other) else ""
        raise TaalkitError(f"{path}:1: expected a '{header}' file{hint}; make a pair with 'taalkit keygen'")
    try:
        raw = base64.b64decode(text[len(header):].strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise TaalkitError(f"{path}:2: expected a 32-byte base64 key, the file is damaged")
    return raw


def public_key_of(path: os.PathLike | str) -> bytes:
    """The public key in ``path``: a ``.pub`` file, or the secret key file (its public half)."""
    signing, _ = _nacl()
    try:
        return _read_key(path, PUBLIC_HEADER)
    except TaalkitError:
        try:
            return bytes(signing.SigningKey(_read_key(path, SECRET_HEADER)).verify_key)
        except TaalkitError:
            pass
        raise


def sign(data: bytes, secret_path: os.PathLike | str) -> dict:
    """The signature record stored beside ``bundle.json`` (``bundle.sig``)."""
    signing, _ = _nacl()
    key = signing.SigningKey(_read_key(secret_path, SECRET_HEADER))
    signature = key.sign(data).signature
    return {"algorithm": ALGORITHM, "public_key": base64.b64encode(bytes(key.verify_key)).decode(),
            "signature": base64.b64encode(signature).decode()}


def verify(data: bytes, record, where: str) -> str:
    """Check ``record`` (a parsed ``bundle.sig``) signs ``data``; return the signer's fingerprint."""
    signing, exceptions = _nacl()
    try:
        if not isinstance(record, dict) or record.get("algorithm") != ALGORITHM:
            raise ValueError("not an ed25519 signature record")
        public = base64.b64decode(record["public_key"], validate=True)
        signature = base64.b64decode(record["signature"], validate=True)
        if len(public) != 32 or len(signature) != 64:
            raise ValueError("wrong key or signature length")
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        raise TaalkitError(f"{where}: the signature file is damaged ({err}); ask the maker for a new copy") from None
    try:
        signing.VerifyKey(public).verify(data, signature)
    except exceptions.BadSignatureError:
        raise TaalkitError(f"{where}: the signature does not match: the bundle was changed after "
                           f"{fingerprint(public)} signed it; do not use it") from None
    return fingerprint(public)


__all__ = ["keygen", "sign", "verify", "fingerprint", "public_key_of"]
