"""The browser dashboard: a Streamlit app over the lake's Delta tables.

`launch()` starts it (`make dashboard`, `ecom dashboard`); `app.py` is the Streamlit entry
point and `views/` holds one script per page. The pages get their numbers from `data` (pure
Polars queries) through `lake` (cached table reads); nothing here imports the Dagster assets.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from ecom_assets import settings

APP_PATH = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at `host` right now, chosen by the operating system."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The `streamlit run` command line that serves the dashboard on `host:port`, headless."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def launch(port: int | None = None, host: str = "127.0.0.1") -> int:
    """Serve the dashboard until interrupted; print its URL first. Returns Streamlit's exit code.

    Without a port it uses 8501 when that is free, else any free port.
    """
    if port is None:
        port = DEFAULT_PORT if _port_is_free(host, DEFAULT_PORT) else free_port(host)
    print(f"Dashboard: http://{host}:{port}  (lake {settings.lake_root()}; Ctrl+C stops it)")
    sys.stdout.flush()
    server = subprocess.Popen(command(port, host))
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()
