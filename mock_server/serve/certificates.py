"""The mock's own certificate authority, for ``--intercept``: made on first use with trustme,
kept in a state folder (``ca.pem``, readable by all; ``ca-key.pem``, its owner's alone) and
reused on later starts, so that a client told to trust it once goes on trusting it. A
certificate for each intercepted host name is made in memory when a tunnel first needs it.
"""

from __future__ import annotations

import datetime
import os
import ssl
import stat
from pathlib import Path

import trustme

from ..core.errors import MockError

CERT_FILE = "ca.pem"
KEY_FILE = "ca-key.pem"
# A leaf is valid for 397 days from when it is made: within what browsers accept of any
# certificate.
LEAF_DAYS = 397
ORGANIZATION = "aichat-mock"


class AuthorityError(MockError):
    """A CA folder the mock cannot use; the message says what to do, in one line."""


def default_folder() -> Path:
    """``$XDG_STATE_HOME/aichat-mock``, else ``~/.local/state/aichat-mock``."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return Path(state) / "aichat-mock"


class Authority:
    """The CA in ``folder``, made there if it holds none."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.cert_file = self.folder / CERT_FILE
        self.key_file = self.folder / KEY_FILE
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._ca = self._load() if self.cert_file.exists() or self.key_file.exists() else (
            self._make())

    def _load(self) -> trustme.CA:
        problem = f"the CA folder {self.folder}"
        try:
            key_mode = stat.S_IMODE(self.key_file.stat().st_mode)
            cert, key = self.cert_file.read_bytes(), self.key_file.read_bytes()
        except OSError as error:
            raise AuthorityError(f"{problem} cannot be read ({error.strerror or error}: "
                                 f"{error.filename}); remove {CERT_FILE} and {KEY_FILE} there "
                                 f"to make a new CA, or give --ca-dir another folder") from None
        if key_mode & 0o077:
            raise AuthorityError(f"{problem}: {KEY_FILE} can be read by others (mode "
                                 f"{key_mode:o}); chmod 600 {self.key_file}")
        try:
            return trustme.CA.from_pem(cert, key)
        except ValueError as error:
            raise AuthorityError(f"{problem} holds a {CERT_FILE} and {KEY_FILE} that are not a "
                                 f"certificate and its key ({error}); remove them to make a new "
                                 f"CA, or give --ca-dir another folder") from None

    def _make(self) -> trustme.CA:
        ca = trustme.CA(organization_name=ORGANIZATION)
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            # The key first, its owner's alone from the start; the certificate is public.
            with open(os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                      "wb") as file:
                file.write(ca.private_key_pem.bytes())
            with open(os.open(self.cert_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644),
                      "wb") as file:
                file.write(ca.cert_pem.bytes())
        except OSError as error:
            raise AuthorityError(f"cannot make the CA in {self.folder} "
                                 f"({error.strerror or error}); give --ca-dir a folder the mock "
                                 f"can write") from None
        return ca

    @property
    def pem(self) -> bytes:
        """The CA's certificate, as clients are told to trust it."""
        return self.cert_file.read_bytes()

    def context(self, host: str) -> ssl.SSLContext:
        """A server-side TLS context presenting a certificate for ``host`` signed by this CA
        (made once per name); HTTP/1.1 is the one protocol it offers, no client certificate
        is asked for."""
        context = self._contexts.get(host)
        if context is None:
            now = datetime.datetime.now(datetime.timezone.utc)
            leaf = self._ca.issue_cert(host,
                                       not_after=now + datetime.timedelta(days=LEAF_DAYS))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            leaf.configure_cert(context)
            context.set_alpn_protocols(["http/1.1"])
            self._contexts[host] = context
        return context
