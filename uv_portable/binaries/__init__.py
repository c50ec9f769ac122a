"""Read-only binary analysis (ELF, Mach-O) and the narrow patching interface."""


class BinaryFormatError(ValueError):
    """A binary this package cannot read or rewrite. Callers decide what it means: the
    planner and the verifier turn it into a finding, the export into a refusal."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
