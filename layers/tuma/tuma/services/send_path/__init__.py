"""The send path, one step per module; `pipeline` reads it top-down (its docstring lists the steps)."""
