"""Signed pickles: everything stackless_durable stores in Redis and later loads is a
pickle behind an HMAC-SHA256 of it, and is unpickled only when the HMAC matches, so a
store that someone else can write to never makes a worker run their code."""
import hashlib
import hmac
import os
import pickle

KEY_ENV = "STACKLESS_DURABLE_KEY"
_MAC_SIZE = hashlib.sha256().digest_size


class Incompatible(Exception):
    """A stored pickle that must not run here: its signature fails, or it refers to code
    this process does not have (changed, renamed or missing)."""


def key_from(key):
    """The signing key: the argument, else the environment's STACKLESS_DURABLE_KEY."""
    if key is None:
        key = os.environ.get(KEY_ENV)
    if not key:
        raise ValueError("stackless_durable needs a signing key: App(url, key=...) or the "
                         "environment variable " + KEY_ENV)
    return key.encode() if isinstance(key, str) else bytes(key)


class Codec:
    """Signs what it pickles and unpickles only what it signed."""

    def __init__(self, key):
        self._key = key_from(key)

    def _mac(self, data):
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def dumps(self, obj):
        return self.sign(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))

    def sign(self, data):
        """A pickle made already (bytes), signed."""
        return self._mac(data) + data

    def loads(self, blob, what):
        """Unpickle `blob` (bytes from Redis); raise Incompatible naming `what` when its
        signature fails or its code is not this process's."""
        mac, data = blob[:_MAC_SIZE], blob[_MAC_SIZE:]
        if len(blob) <= _MAC_SIZE or not hmac.compare_digest(mac, self._mac(data)):
            raise Incompatible(what + ": signature does not match (tampered with, or "
                               "signed with another key); not loaded")
        try:
            return pickle.loads(data)
        except Exception as exc:  # FrameRestoreError, ImportError, AttributeError, ...
            raise Incompatible("%s refers to code this worker does not have: %s: %s"
                               % (what, type(exc).__name__, exc)) from exc
