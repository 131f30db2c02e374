"""Safaricom's Daraja API, beyond the callbacks it posts: OAuth, URL registration, Pull Transactions
and Transaction Status. Off unless a Daraja secret is configured (template parameter `Daraja`)."""
