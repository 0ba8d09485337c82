"""Accounts: who a user is, as identity knows it."""
