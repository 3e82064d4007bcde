"""Memory available to this process, for refusing runs that cannot fit before they allocate."""

from __future__ import annotations

import os
import resource


def available_bytes() -> int:
    """Bytes this process can still allocate: the physical memory available (``MemAvailable``
    on Linux), or less when an address-space limit (``RLIMIT_AS``, what a sweep's
    ``sweep.memory_limit_mb`` sets) leaves less room above what the process already maps."""
    available = _physical_available()
    headroom = _address_space_headroom()
    return available if headroom is None else min(available, headroom)


def describe_available() -> str:
    """``available_bytes`` in words, naming the address-space limit when that is what binds."""
    available, headroom = _physical_available(), _address_space_headroom()
    if headroom is None or headroom >= available:
        return f"{format_bytes(available)} is available"
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    return (f"{format_bytes(headroom)} is available under the process's address-space limit of "
            f"{format_bytes(limit)} (sweep.memory_limit_mb)")


def _physical_available() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _address_space_headroom() -> int | None:
    """The address-space limit minus the address space in use (``VmSize``); None without a limit."""
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    return max(limit - _address_space_used(), 0)


def _address_space_used() -> int:
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
