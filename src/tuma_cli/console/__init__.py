"""`tuma console`: the operator's web page (messages, a message's story, health, templates)."""
