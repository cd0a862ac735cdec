"""Fixtures of the answer-loop tests: a real Dovecot on 127.0.0.1."""

from tests.imapserver import dovecot

__all__ = ["dovecot"]
