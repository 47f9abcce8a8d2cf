"""Errors a user can act on.  Each message is one sentence saying what is
wrong and how to fix it; the CLI prints it and exits with status 2."""


class HarnessError(Exception):
    """Base class: str(error) is the sentence shown to the user."""


class CapabilityError(HarnessError):
    """The kernel, the machine or a tool lacks something a run needs."""


class TopologyError(HarnessError):
    """A topology could not be built (and what was built was removed)."""


class WorkerError(HarnessError):
    """A worker process could not be started or did not answer."""
