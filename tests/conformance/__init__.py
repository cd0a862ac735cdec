"""Conformance tests: what the clients send and read, checked against the vendors' own schemas."""
