"""Mount the repository's ``experiments/`` directory as Hydra's ``experiment`` config group.

Hydra finds a config group ``G`` as the sub-directory ``G/`` of a search-path root, so a plain
``file://`` entry for ``experiments/`` would make ``experiments/smoke.yaml`` a *primary* config,
not ``experiment=smoke``. The product's layout keeps ``experiments/`` at the repository root
(next to ``qbench/``), so this small config source (Hydra's own plugin interface, registered
programmatically rather than through a ``hydra_plugins`` package) presents that directory under
the group name ``experiment``. Everything else is Hydra's :class:`FileConfigSource`.

The path is absolute (the installed ``qbench.experiments`` package, or ``$QBENCH_EXPERIMENTS``), so sweeps behave the
same from any working directory and in launcher worker processes (Slurm jobs unpickle the config
loader; importing this module registers the scheme there too).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import List, Optional

# Hydra's file source is internal; the public ConfigSource interface would mean re-implementing
# its reading of YAML files and their @package headers.
from hydra._internal.core_plugins.file_config_source import FileConfigSource
from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.plugins.config_source import ConfigResult

GROUP = "experiment"
SCHEME = "qbench-experiments"


def experiments_dir() -> Path:
    """The directory holding the experiment configs (``$QBENCH_EXPERIMENTS`` or the repo's)."""
    override = os.environ.get("QBENCH_EXPERIMENTS")
    if override:
        return Path(override).resolve()
    # The configs ship as package data of ``qbench.experiments`` (the repository's ``experiments/``);
    # found without importing it, from an installed wheel and an editable checkout alike.
    return Path(importlib.util.find_spec("qbench.experiments").submodule_search_locations[0])


def search_path_entry() -> str:
    return f"{SCHEME}://{experiments_dir()}"


def experiment_names() -> list[str]:
    return sorted(p.stem for p in experiments_dir().glob("*.yaml"))


class ExperimentConfigSource(FileConfigSource):
    """``experiment/NAME`` -> ``<experiments dir>/NAME.yaml``; nothing else is visible."""

    @staticmethod
    def scheme() -> str:
        return SCHEME

    @staticmethod
    def _inner(config_path: str) -> str | None:
        """The path inside the experiments directory, or None outside the ``experiment`` group."""
        path = config_path.strip("/")
        if path == GROUP:
            return ""
        if path.startswith(GROUP + "/"):
            return path[len(GROUP) + 1:]
        return None

    def load_config(self, config_path: str) -> ConfigResult:
        inner = self._inner(config_path)
        return super().load_config(inner if inner is not None else config_path + ".missing")

    def available(self) -> bool:
        return os.path.isdir(self.path)

    def is_group(self, config_path: str) -> bool:
        if config_path.strip("/") == "":
            return True
        inner = self._inner(config_path)
        return inner is not None and super().is_group(inner)

    def is_config(self, config_path: str) -> bool:
        inner = self._inner(config_path)
        return bool(inner) and super().is_config(inner)

    def list(self, config_path: str, results_filter: Optional[ObjectType]) -> List[str]:
        if config_path.strip("/") == "":
            return [GROUP] if results_filter in (None, ObjectType.GROUP) else []
        inner = self._inner(config_path)
        if inner is None or not super().is_group(inner):
            return []
        files: List[str] = []
        for name in os.listdir(os.path.join(self.path, inner)):
            if name.endswith(".yaml"):
                self._list_add_result(files, f"{config_path}/{name}", name, results_filter)
        return sorted(set(files))


def register() -> None:
    """Make the ``qbench-experiments://`` scheme known to Hydra in this process (idempotent)."""
    Plugins.instance().register(ExperimentConfigSource)


register()
