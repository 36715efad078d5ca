"""The one error type for bad input: the CLI maps it to exit code 2."""


class BadInput(ValueError):
    """Bad input from a user (a spec, a flag, a file): the message says what to change."""
