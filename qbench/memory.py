"""Memory available to this process, for refusing runs that cannot fit before they allocate."""

from __future__ import annotations

import os
import resource


def available_bytes() -> int:
    """Memory available for new allocations: physical memory available (``MemAvailable`` on
    Linux), or less where an address-space limit (``RLIMIT_AS``, which sweeps set from
    ``memory_limit_mb``) leaves less room above what the process has mapped already."""
    physical = _physical_available()
    limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    if limit == resource.RLIM_INFINITY:
        return physical
    return max(0, min(physical, limit - _address_space_in_use()))


def _physical_available() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _address_space_in_use() -> int:
    """Virtual memory the process has mapped (``VmSize``), which ``RLIMIT_AS`` bounds."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(count) < 1024 or unit == "PiB":
            return f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} PiB"
