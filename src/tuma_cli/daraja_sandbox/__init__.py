"""A Daraja simulator on loopback: OAuth, Register URL, Pull Transactions, Transaction Status, and
the C2B confirmations a payment makes (posted, dropped or late, as a test asks)."""
