"""The ``docker`` step kind: a compose project's status, stop, start, logs and compose CLI (:mod:`.kind`)."""

from actions.docker.kind import DockerAction

__all__ = ["DockerAction"]
