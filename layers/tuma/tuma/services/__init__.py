"""The flow, one module per step: intake (events → outbox messages), planning (message → deliveries),
dispatcher (deliveries → provider → ledger), delivery_reports (provider reports → ledger), balance.

Services talk to the world only through the interfaces in `tuma.ports`.
"""
