"""The bulk-SMS provider (one white-label API sold under many Kenyan brands): the client that talks
to it, the learnt `sendbulk` limit, failover. What its codes and answers mean is in `tuma.models`."""
