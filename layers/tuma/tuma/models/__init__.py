"""What Tuma reads and writes: outbox messages, payments, Daraja callbacks, alerts, ledger entries.

Pure data and validation; nothing here does I/O.
"""
