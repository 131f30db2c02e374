"""Safaricom's Daraja API, beyond the callbacks it posts: OAuth, URL registration, Pull Transactions
and Transaction Status (the client; what its answers mean is in `tuma.models`). Off unless a Daraja
secret is configured (template parameter `Daraja`)."""
