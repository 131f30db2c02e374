"""The bulk-SMS provider (one white-label API sold under many Kenyan brands): client, answers, codes."""
