"""Errors of bench's own (bad input); the CLI turns them, and the harness's
HarnessError, into one sentence on stderr and exit status 2."""

EXIT_OK = 0
EXIT_BENCH_FAILURE = 1
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad input from the user: str(error) says what and how to fix it."""
