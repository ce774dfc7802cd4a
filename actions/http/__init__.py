"""The ``http`` step kind: health checks with retries and latency (:mod:`.kind`)."""

from actions.http.kind import HttpAction

__all__ = ["HttpAction"]
