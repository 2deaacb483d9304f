"""The pages' routes, one module per page group; each holds a ``router``."""
