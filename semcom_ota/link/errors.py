"""Errors raised by link backends."""


class LinkError(RuntimeError):
    """A link cannot carry samples (flowgraph died, device failed, peer unreachable); the message says
    which link, what happened and what to check."""
