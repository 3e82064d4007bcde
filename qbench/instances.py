"""Named benchmark instances: the manifest, local resolution and checksummed downloads.

Third-party data is never committed. Each problem class ships a manifest
(``problems/<kind>.toml``) naming, for every instance, the files it needs with their public
source URL and sha256, and its reference optimum with the source of that value. A named
instance resolves from ``$QBENCH_INSTANCES/<kind>/`` first, then from the download cache
(``$QBENCH_CACHE`` or the platform cache directory), into which
``python -m qbench instances fetch`` downloads with checksum verification (pooch).
"""

from __future__ import annotations

import hashlib
import os
import importlib.util
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from qbench.errors import InputFileError, InstanceNotFoundError, QbenchError

#: The manifests ship inside the ``qbench.problems`` package (the repository's ``problems/``).
MANIFEST_DIR = Path(importlib.util.find_spec("qbench.problems").submodule_search_locations[0])
RAW_GITHUB = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class InstanceFile:
    """One file of an instance: its local name, download URL and sha256."""

    name: str
    url: str
    sha256: str


@dataclass(frozen=True)
class ManifestEntry:
    """A named instance: where its files come from and what its optimum is."""

    kind: str
    name: str
    files: tuple[InstanceFile, ...]
    reference: Any = None
    reference_source: str = "unknown"
    proven: bool = False
    license: str = ""
    citation: str = ""
    homepage: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def main_file(self) -> InstanceFile:
        return self.files[0]


def instances_dir() -> Path | None:
    """The local instance directory from ``QBENCH_INSTANCES``, if set."""
    value = os.environ.get("QBENCH_INSTANCES")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Where downloads go: ``QBENCH_CACHE`` or the platform's user cache directory."""
    value = os.environ.get("QBENCH_CACHE")
    if value:
        return Path(value).expanduser()
    import pooch

    return Path(pooch.os_cache("qbench"))


@cache
def manifest(kind: str) -> dict[str, ManifestEntry]:
    """All named instances of one problem class, by name."""
    path = MANIFEST_DIR / f"{kind}.toml"
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"invalid TOML: {exc}") from None
    sources = data.get("sources", {})
    entries: dict[str, ManifestEntry] = {}
    for raw in data.get("instances", []):
        source = sources.get(raw.get("source", ""), {})
        files = tuple(_file(f, source) for f in raw["files"])
        entry = ManifestEntry(
            kind=kind,
            name=raw["name"],
            files=files,
            reference=raw.get("reference"),
            reference_source=raw.get("reference_source", source.get("reference_source", "unknown")),
            proven=bool(raw.get("proven", source.get("proven", False))),
            license=raw.get("license", source.get("license", "")),
            citation=raw.get("citation", source.get("citation", "")),
            homepage=raw.get("homepage", source.get("homepage", "")),
            options=dict(raw.get("options", {})),
        )
        entries[entry.name] = entry
    return entries


def _file(raw: dict[str, str], source: dict[str, str]) -> InstanceFile:
    url = raw.get("url")
    if url is None:
        url = f"{RAW_GITHUB}/{source['repository']}/{source['commit']}/{raw['path']}"
    return InstanceFile(name=raw["name"], url=url, sha256=raw["sha256"])


def all_entries() -> list[ManifestEntry]:
    """Every manifest entry of every problem class."""
    kinds = sorted(p.stem for p in MANIFEST_DIR.glob("*.toml"))
    return [e for k in kinds for e in manifest(k).values()]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate(entry: ManifestEntry, verify: bool = True) -> Path | None:
    """Directory holding all of ``entry``'s files (local directory first, then the cache)."""
    candidates = [d / entry.kind for d in (instances_dir(), cache_dir()) if d is not None]
    for directory in candidates:
        if all((directory / f.name).is_file() for f in entry.files):
            if verify:
                for f in entry.files:
                    actual = sha256_of(directory / f.name)
                    if actual != f.sha256:
                        raise QbenchError(
                            f"{directory / f.name}: sha256 {actual[:12]}… does not match the "
                            f"manifest's {f.sha256[:12]}… for instance {entry.name!r}"
                        )
            return directory
    return None


@dataclass(frozen=True)
class ResolvedInstance:
    """An instance file on disk and, when it is a known instance, its manifest entry."""

    path: Path
    entry: ManifestEntry | None


def resolve(kind: str, spec: str) -> ResolvedInstance:
    """Turn ``problem.instance`` (a shipped name or a file path) into a file on disk."""
    entries = manifest(kind)
    if spec in entries:
        entry = entries[spec]
        directory = locate(entry)
        if directory is None:
            local = instances_dir()
            where = f"{local / kind}" if local else "QBENCH_INSTANCES (unset)"
            raise InstanceNotFoundError(
                f"instance {spec!r} ({kind}) is not in {where} nor in the cache {cache_dir() / kind}; "
                f"run `python -m qbench instances fetch {spec}` or set QBENCH_INSTANCES to a "
                f"directory holding {kind}/{entry.main_file.name}"
            )
        return ResolvedInstance(directory / entry.main_file.name, entry)
    path = Path(spec).expanduser()
    if path.is_file():
        return ResolvedInstance(path, identify(kind, path))
    known = ", ".join(sorted(entries)) or "none"
    raise InstanceNotFoundError(
        f"unknown {kind} instance {spec!r}: not a shipped name and no such file; shipped: {known}"
    )


def identify(kind: str, path: Path) -> ManifestEntry | None:
    """The manifest entry whose main file has exactly this content, if any.

    A user's copy of ``nug12.dat`` gets nug12's reference optimum only if the bytes match.
    """
    digest = sha256_of(path)
    matches = [e for e in manifest(kind).values() if e.main_file.sha256 == digest]
    # Multi-instance files (mknap1) match several entries; those need an explicit index.
    return matches[0] if len(matches) == 1 else None


def fetch(entry: ManifestEntry, mirror: str | None = None) -> Path:
    """Download ``entry``'s files into the cache, verifying each sha256; returns the directory.

    ``mirror`` replaces the source URLs by ``{mirror}/{kind}/{file}`` (a local copy, a proxy).
    """
    import pooch

    target = cache_dir() / entry.kind
    for f in entry.files:
        url = f"{mirror.rstrip('/')}/{entry.kind}/{f.name}" if mirror else f.url
        try:
            pooch.retrieve(
                url, known_hash=f"sha256:{f.sha256}", fname=f.name, path=target, progressbar=False
            )
        except ValueError as exc:  # pooch's hash mismatch
            raise QbenchError(f"{entry.name}: {f.name} from {url}: {str(exc).splitlines()[0]}") from None
        except Exception as exc:  # network errors of every kind
            raise QbenchError(f"{entry.name}: cannot download {url}: {type(exc).__name__}: {exc}") from None
    return target
