"""`launch()`: the Streamlit command it runs, the URL it prints, the port it picks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import ClassVar

import pytest

import ecom_assets.dashboard as dashboard


class FakeServer:
    """Stands in for the Streamlit process: records its command, exits with a code."""

    commands: ClassVar[list[list[str]]] = []
    interrupt = False

    def __init__(self, command: list[str]) -> None:
        FakeServer.commands.append(command)
        self.terminated = False

    def wait(self) -> int:
        if FakeServer.interrupt and not self.terminated:
            raise KeyboardInterrupt
        return -15 if self.terminated else 3

    def terminate(self) -> None:
        self.terminated = True


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeServer]]:
    FakeServer.commands = []
    FakeServer.interrupt = False
    monkeypatch.setattr(dashboard.subprocess, "Popen", FakeServer)
    monkeypatch.setenv("ECOM_LAKE_ROOT", "/tmp/some-lake")
    yield FakeServer


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_launch_runs_streamlit_headless_on_localhost_and_prints_the_url(
    fake_server: type[FakeServer], capsys: pytest.CaptureFixture[str]
) -> None:
    assert dashboard.launch(4321) == 3
    (command,) = fake_server.commands
    assert command[1:5] == ["-m", "streamlit", "run", str(dashboard.APP_PATH)]
    assert dashboard.APP_PATH.is_file()
    assert _option(command, "--server.address") == "127.0.0.1"
    assert _option(command, "--server.port") == "4321"
    assert _option(command, "--server.headless") == "true"
    assert _option(command, "--browser.gatherUsageStats") == "false"
    assert capsys.readouterr().out.startswith(
        "Dashboard: http://127.0.0.1:4321  (lake /tmp/some-lake;"
    )


def test_without_a_port_a_busy_default_port_is_skipped(
    fake_server: type[FakeServer], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        try:
            busy.bind(("127.0.0.1", dashboard.DEFAULT_PORT))
            busy.listen()
        except OSError:
            pass
        dashboard.launch(None)
    port = int(_option(fake_server.commands[0], "--server.port"))
    assert port != dashboard.DEFAULT_PORT
    assert f"http://127.0.0.1:{port} " in capsys.readouterr().out


def test_ctrl_c_stops_the_server(fake_server: type[FakeServer]) -> None:
    fake_server.interrupt = True
    assert dashboard.launch(4322) == -15
