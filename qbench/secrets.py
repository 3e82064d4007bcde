"""Keeping credentials out of everything a run leaves behind: log records, error messages,
run records, Hydra's saved configs, the terminal.

Secrets are registered here: the credential environment variables (:data:`CREDENTIAL_ENV`, read
at start-up by :func:`register_environment` and again on every redaction, so a process that never
called it is covered too), the token of a saved account when a backend reads it, and any value a
user puts in a field named like a credential (:func:`is_credential_name`). From then on

- every log record is redacted as it is created (a log-record factory, so handlers and
  formatters added later by Hydra or the user are covered too);
- :func:`redact` masks text (error messages, summaries) and :func:`redact_data` a record's
  values (strings holding a secret, any value under a credential-like name);
- :func:`guarded` turns any exception raised by third-party code into a one-line
  :class:`RemoteServiceError` with the secret masked, so neither the record's ``error`` nor a
  traceback can carry it;
- :func:`check_overrides` and :func:`check_config` refuse a credential given as a config value
  (by field name, or a value holding a registered secret) before anything is written, and
  :func:`redact_yaml_files` cleans Hydra's ``.hydra/*.yaml`` should one slip through.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qbench.errors import ConfigError, QbenchError

MASK = "***"
#: Environment variables holding credentials that qbench or a library it drives reads
#: (qiskit-ibm-runtime: the IBM Quantum API key; Ray: the cluster's token in token mode).
CREDENTIAL_ENV = ("QISKIT_IBM_TOKEN", "RAY_AUTH_TOKEN")
#: Field names that hold credentials (matched anywhere in the last part of a dotted name, any
#: case). A bare ``key`` is not one: ``sweep.key`` is the run's public identity.
_CREDENTIAL_NAME = re.compile(r"token|secret|passw(or)?d|credential|(api|access|private|auth)[_-]?key",
                              re.IGNORECASE)
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


def register_environment() -> None:
    """Register the credentials of :data:`CREDENTIAL_ENV` that are set (call at start-up)."""
    for name in CREDENTIAL_ENV:
        register(os.environ.get(name))


def _all_secrets() -> list[str]:
    found = set(_secrets)
    found.update(v for name in CREDENTIAL_ENV if (v := os.environ.get(name)))
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _all_secrets():
        text = text.replace(secret, MASK)
    return text


def is_credential_name(name: str) -> bool:
    """Whether a config field called ``name`` (dotted or not) holds a credential."""
    last = str(name).lstrip("+~").rpartition(".")[2]
    return bool(_CREDENTIAL_NAME.search(last))


def redact_data(value: Any) -> Any:
    """A copy of ``value`` (JSON-like data) with secrets masked: every string holding a
    registered secret, and every non-null value under a credential-like key."""
    if isinstance(value, Mapping):
        return {k: (MASK if is_credential_name(str(k)) and v is not None else redact_data(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def check_overrides(overrides: list[str]) -> None:
    """Refuse command-line overrides that carry a credential, before Hydra saves them.

    A value given to a credential-like field is registered first, so the message and any
    record of the refusal mask it. Raises :class:`ConfigError` naming the field.
    """
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and is_credential_name(key):
            register(value)
            register(value.strip("'\""))
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and is_credential_name(key):
            raise ConfigError(_refusal(key.lstrip("+~")))
        if redact(override) != override:
            raise ConfigError(_refusal(key.lstrip("+~"), "holds a registered credential"))


def check_config(config: Any, where: str = "") -> None:
    """Refuse a resolved config that holds a credential (by field name or by value)."""
    if isinstance(config, Mapping):
        for k, v in config.items():
            path = f"{where}.{k}" if where else str(k)
            if is_credential_name(str(k)) and v is not None:
                raise ConfigError(_refusal(path))
            check_config(v, path)
    elif isinstance(config, (list, tuple)):
        for i, v in enumerate(config):
            check_config(v, f"{where}[{i}]")
    elif isinstance(config, str) and redact(config) != config:
        raise ConfigError(_refusal(where, "holds a registered credential"))


def _refusal(field: str, what: str = "is a credential") -> str:
    return (f"{field}: {what}; credentials are never config values (a run's config is saved "
            f"with it): pass them in the environment ({CREDENTIAL_ENV[0]}) or a saved account")


def redact_yaml_files(directory: str | Path) -> None:
    """Rewrite the YAML files directly in ``directory`` (Hydra's ``.hydra/``) that hold a
    secret, masked as :func:`redact_data` masks a record."""
    import yaml

    for path in Path(directory).glob("*.yaml"):
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        clean = redact_data(data)
        if clean != data:
            path.write_text(yaml.safe_dump(clean, sort_keys=False))


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
