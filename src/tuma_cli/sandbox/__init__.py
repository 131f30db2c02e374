"""A faithful simulator of the bulk-SMS provider, served on loopback (`tuma sandbox`)."""
