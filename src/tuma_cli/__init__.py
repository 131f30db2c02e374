"""The `tuma` command: operator commands, the provider simulator and the local topology."""
