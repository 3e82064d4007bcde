"""Keeping credentials out of everything a run leaves behind: log records, error messages,
run records.

A backend that reads a credential (an IBM Quantum API token) registers it here. From then on
every log record is redacted as it is created (a log-record factory, so handlers and formatters
added later by Hydra or the user are covered too), and :func:`guarded` turns any exception
raised by third-party code into a one-line :class:`RemoteServiceError` with the secret masked,
so neither the record's ``error`` nor a traceback can carry it. Credentials are never accepted
as config values, so a saved config cannot hold one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from qbench.errors import QbenchError

MASK = "***"
_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


class RemoteServiceError(QbenchError):
    """A remote service (IBM Quantum) refused or failed a request; the message is redacted."""


def register(secret: str | None) -> None:
    """Treat ``secret`` as confidential for the rest of the process."""
    global _installed
    if not secret:
        return
    with _lock:
        _secrets.add(str(secret))
        if not _installed:
            _install_log_redaction()
            _installed = True


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _install_log_redaction() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not _secrets:
            return record
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            # Format the traceback now, redacted; formatters then use exc_text as it is.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        return record

    logging.setLogRecordFactory(factory)


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run third-party calls; re-raise any failure as one redacted line naming ``what``.

    User errors of qbench itself (``QbenchError``) pass through unchanged. The original
    exception is not chained (``from None``): its message may hold the secret.
    """
    try:
        yield
    except QbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the remote client, redacted
        message = " ".join(redact(f"{type(exc).__name__}: {exc}").split())
        raise RemoteServiceError(f"{what} failed: {message}") from None
