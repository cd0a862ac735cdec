"""Fixtures of the answer-loop tests: a real Dovecot and a loopback SMTP server on 127.0.0.1."""

from tests.imapserver import dovecot
from tests.smtpserver import smtp_server

__all__ = ["dovecot", "smtp_server"]
