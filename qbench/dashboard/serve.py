"""``python -m qbench dashboard DIR``: serve the dashboard with ``streamlit run``.

Local only (``127.0.0.1``, never all interfaces: records hold paths and configs), headless (no
browser opened, no e-mail prompt), no usage statistics sent, no file watcher (users do not edit
the app; new records are picked up by the app's own refresh).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

from qbench.errors import ConfigError

APP = Path(__file__).resolve().parent / "app.py"
ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8501


def streamlit_command(directory: str | Path, port: int = DEFAULT_PORT) -> list[str]:
    """The ``streamlit run`` command line that serves the dashboard over ``directory``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", ADDRESS,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",
        "--", str(Path(directory).resolve()),
    ]


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be in 1..65535, got {port}")


def serve(directory: str | Path, port: int = DEFAULT_PORT) -> NoReturn:
    """Become the Streamlit server (``exec``): Ctrl-C and a terminating signal reach Streamlit
    itself, and no orphaned server outlives a killed parent."""
    path = Path(directory)
    if not path.is_dir():
        raise ConfigError(f"results directory {str(path)!r} does not exist (or is not a directory)")
    check_port(port)
    print(f"qbench dashboard over {path.resolve()} on http://{ADDRESS}:{port} (Ctrl-C stops it)", flush=True)
    command = streamlit_command(path, port)
    os.execv(command[0], command)
