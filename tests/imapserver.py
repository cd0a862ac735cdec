"""A real IMAP server for tests: Dovecot, started on 127.0.0.1 with a throw-away config.

``LoopbackDovecot`` writes a configuration of its own in a temporary folder
(a passwd-file of users, Maildir mailboxes, logs and sockets all in that
folder), starts ``dovecot -F`` as a child process listening on a free port of
127.0.0.1 only, and stops it (removing everything) at the end::

    with LoopbackDovecot(users={"ict": "pw"}) as server:
        server.append("ict", "INBOX", raw_message_bytes)
        mailbox = ImapMailbox(server.options(username="ict", password_env="PW"), ...)
        ...
        assert server.folder_messages("ict", "licensewatch.processed") == [...]

``tls`` is "none" (plaintext login allowed: loopback only), "starttls"
(plaintext login refused before STARTTLS) or "tls" (implicit TLS, IMAPS);
with TLS a throw-away CA and a certificate for 127.0.0.1/localhost are made
(``ca_file`` is the CA's PEM for the client).

Dovecot is Debian's ``dovecot-imapd``. When the ``dovecot`` binary is absent
the tests using it are skipped, unless ``LICENSEWATCH_REQUIRE_IMAP=1`` (set by
``.ci/run``, which installs the package): then they fail.

Run as root (as CI does), the login and internal processes run as Debian's
``dovenull`` and ``dovecot`` users and the mail belongs to ``dovecot``; run as
any other user, every process runs as that user.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.smtpserver import write_test_certificates

HOST = "127.0.0.1"
TLS_MODES = ("none", "starttls", "tls")
DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
)


def require_dovecot() -> None:
    """Skip the calling test when Dovecot is not installed (fail instead in CI)."""
    if DOVECOT is None:
        if os.environ.get("LICENSEWATCH_REQUIRE_IMAP") == "1":
            pytest.fail("dovecot is not installed (apt-get install dovecot-imapd); CI requires it")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class LoopbackDovecot:
    """Dovecot on 127.0.0.1 for one test or module; a context manager (see the module docstring)."""

    def __init__(self, *, users: Mapping[str, str], tls: str = "none") -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {TLS_MODES}, not {tls!r}")
        self.users = dict(users)
        self.tls = tls
        self.ca_file: Path | None = None
        self.port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> LoopbackDovecot:
        """Write the config, start Dovecot and return once it greets on its port."""
        require_dovecot()
        assert DOVECOT is not None
        self._tmp = tempfile.TemporaryDirectory(prefix="lw-dovecot-")
        root = Path(self._tmp.name)
        root.chmod(0o755)
        self.port = _free_port()
        config = root / "dovecot.conf"
        config.write_text(self._config(root), encoding="utf-8")
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            self._wait_for_greeting(root)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop Dovecot and remove its folder; safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LoopbackDovecot:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def log(self) -> str:
        """Dovecot's log so far (for assertion messages)."""
        assert self._tmp is not None
        path = Path(self._tmp.name) / "dovecot.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    # -- what a test does to the mailbox --------------------------------------------------

    def connect(self, user: str) -> imaplib.IMAP4:
        """A logged-in ``imaplib`` connection as ``user`` (the test's own, not the job's)."""
        client: imaplib.IMAP4
        if self.tls == "tls":
            client = imaplib.IMAP4_SSL(HOST, self.port, ssl_context=self._client_context())
        else:
            client = imaplib.IMAP4(HOST, self.port)
            if self.tls == "starttls":
                client.starttls(ssl_context=self._client_context())
        blob = f"\0{user}\0{self.users[user]}".encode()
        client.authenticate("PLAIN", lambda _challenge: blob)
        return client

    def append(
        self, user: str, folder: str, message: bytes, *, received: datetime | None = None
    ) -> None:
        """Deliver ``message`` (RFC 5322 bytes) into ``folder`` of ``user``, creating it.

        ``received`` is the INTERNALDATE the server records (default: now, to the second).
        """
        client = self.connect(user)
        try:
            client.create(folder)  # NO when it exists: fine
            when = None if received is None else imaplib.Time2Internaldate(received)
            typ, data = client.append(folder, None, when, message)
            if typ != "OK":
                raise AssertionError(f"APPEND to {folder} failed: {data!r}")
        finally:
            client.logout()

    def folder_messages(self, user: str, folder: str) -> list[bytes]:
        """Every message of ``folder`` (whole, in UID order); [] when the folder does not exist."""
        client = self.connect(user)
        try:
            typ, _ = client.select(folder, readonly=True)
            if typ != "OK":
                return []
            typ, data = client.uid("SEARCH", "ALL")
            uids = data[0].split() if data and data[0] else []
            found: list[bytes] = []
            for uid in uids:
                typ, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                found.extend(p[1] for p in parts if isinstance(p, tuple))
            return found
        finally:
            client.logout()

    def folders(self, user: str) -> list[str]:
        """The names of ``user``'s folders as the server lists them."""
        client = self.connect(user)
        try:
            _, data = client.list()
            names = []
            for line in data:
                if isinstance(line, bytes):
                    names.append(line.rsplit(b" ", 1)[-1].strip(b'"').decode("ascii"))
            return names
        finally:
            client.logout()

    def options(self, **overrides: Any) -> dict[str, Any]:
        """An ``[answers.imap]`` table that reaches this server (security and ca_file to match)."""
        table: dict[str, Any] = {"host": HOST, "port": self.port, "security": self.tls}
        if self.ca_file is not None:
            table["ca_file"] = str(self.ca_file)
        table.update(overrides)
        return table

    # -- internals ----------------------------------------------------------------------

    def _client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _wait_for_greeting(self, root: Path) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise RuntimeError(
                    f"dovecot exited with {self._process.returncode}: {err}{self.log}"
                )
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as probe:
                    if self.tls == "tls":
                        return
                    probe.settimeout(2)
                    if probe.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on {HOST}:{self.port} within 20 s: {self.log}")

    def _config(self, root: Path) -> str:
        passwd = root / "passwd"
        passwd.write_text(
            "".join(f"{user}:{{PLAIN}}{password}\n" for user, password in self.users.items()),
            encoding="utf-8",
        )
        mail = root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            login_user, internal_user, mail_user = "dovenull", "dovecot", "dovecot"
            entry = pwd.getpwnam(mail_user)
            os.chown(mail, entry.pw_uid, entry.pw_gid)
        else:
            login_user = internal_user = mail_user = pwd.getpwuid(os.geteuid()).pw_name
        lines = [
            "protocols = imap",
            f"listen = {HOST}",
            f"base_dir = {root}/run",
            f"state_dir = {root}/state",
            f"log_path = {root}/dovecot.log",
            f"default_login_user = {login_user}",
            f"default_internal_user = {internal_user}",
            "first_valid_uid = 0",
            "auth_mechanisms = plain login",
            f"mail_location = maildir:{mail}/%u",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {passwd}",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={mail_user} gid={mail_user} home={mail}/%u",
            "}",
            "service anvil {",
            "  chroot =",
            "}",
        ]
        if self.tls == "none":
            lines += ["ssl = no", "disable_plaintext_auth = no"]
            listeners = [("imap", self.port, False), ("imaps", 0, True)]
        else:
            self.ca_file, cert, key = write_test_certificates(root)
            lines += [
                "ssl = required" if self.tls == "tls" else "ssl = yes",
                "disable_plaintext_auth = yes",
                f"ssl_cert = <{cert}",
                f"ssl_key = <{key}",
                "ssl_min_protocol = TLSv1.2",
            ]
            if self.tls == "tls":
                listeners = [("imap", 0, False), ("imaps", self.port, True)]
            else:
                listeners = [("imap", self.port, False), ("imaps", 0, True)]
        lines += ["service imap-login {", "  chroot ="]
        for name, port, secure in listeners:
            lines += [f"  inet_listener {name} {{", f"    address = {HOST}", f"    port = {port}"]
            if secure:
                lines.append("    ssl = yes")
            lines.append("  }")
        lines.append("}")
        return "\n".join(lines) + "\n"


@pytest.fixture
def dovecot() -> Iterator[LoopbackDovecot]:
    """A started plaintext Dovecot on 127.0.0.1 with one user, ``ict`` / ``imap-pw``."""
    with LoopbackDovecot(users={"ict": "imap-pw"}) as server:
        yield server
