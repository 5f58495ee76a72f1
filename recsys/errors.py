"""One exception type for bad input, so the CLI can print it as a single line and exit non-zero."""


class InputError(Exception):
    """Bad user input: the message names the file, the row or key, and what was expected."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem
