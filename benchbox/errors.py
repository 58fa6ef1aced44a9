"""User-facing errors: the CLI prints their message, never a traceback."""


class BenchboxError(Exception):
    """A mistake in input or configuration, explained in the message."""


class ParamError(BenchboxError):
    """An unknown, malformed or out-of-range parameter."""


class DataError(BenchboxError):
    """Data missing, in the wrong layout or not decodable."""


class UnknownName(BenchboxError):
    """A method or dataset name nobody registered."""


class Diverged(Exception):
    """Training produced a non-finite loss. Recorded as a cell status, not a user error."""

    def __init__(self, epoch: int, loss: str, message: str | None = None):
        super().__init__(message or f"diverged at epoch {epoch}: loss '{loss}' is not finite")
        self.epoch = epoch
        self.loss = loss
