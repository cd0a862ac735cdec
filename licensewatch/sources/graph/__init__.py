"""Accounts from Microsoft Graph: live, a saved pull, the usage report."""
