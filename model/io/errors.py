"""Error types for bad input. The CLI turns any of them into a message and exit code 2."""


class ModelInputError(ValueError):
    """Bad input from a user: a file, a parameter or an option. The message is for people."""
