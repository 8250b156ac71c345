"""The exceptions passk raises on purpose.

Every error meant for a user derives from `PasskError`; its message is one line that says what
is wrong and where. The CLI turns it into that line on stderr and a non-zero exit status
(`PASSK_DEBUG=1` re-raises it with its traceback instead).
"""


class PasskError(Exception):
    """Base of the errors passk reports to users."""

    exit_code = 1


class InputError(PasskError):
    """An input file or argument is malformed: names the file (and line) or the flag."""

    exit_code = 2


class BenchmarkError(PasskError):
    """A benchmark is unknown, or a sample names a problem the benchmark does not have."""

    exit_code = 2


class OutputError(PasskError):
    """An output path cannot be written."""


class ExecutionError(PasskError):
    """The execution engine cannot run samples (workers fail to start or keep dying)."""


class Interrupted(PasskError):
    """The user stopped a run (Ctrl-C or SIGTERM); what was finished is kept for --resume."""

    exit_code = 130
