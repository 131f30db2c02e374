"""Signed webhooks and log redaction: what keeps secrets and phone numbers where they belong."""
