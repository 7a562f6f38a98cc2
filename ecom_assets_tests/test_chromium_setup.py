"""`make test` on a machine without chromium: .ci/install-chromium installs it or says how."""

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "install-chromium"


def _fake_bin(tmp_path: Path, uid: str) -> Path:
    """A PATH holding only `id` (answering `uid`): no sudo, no apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "id").chmod(0o755)
    return bin_dir


def _run(tmp_path: Path, uid: str, chromium: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": str(_fake_bin(tmp_path, uid)), "CHROMIUM": str(chromium)}
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )


def test_an_installed_chromium_needs_nothing(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    completed = _run(tmp_path, "1000", chromium)
    assert completed.returncode == 0
    assert completed.stderr == ""


def test_a_user_who_cannot_install_chromium_is_told_how(tmp_path: Path) -> None:
    missing = tmp_path / "no-chromium"
    completed = _run(tmp_path, "1000", missing)
    assert completed.returncode == 1
    assert f"need chromium at {missing}" in completed.stderr
    assert "sudo apt-get install -y chromium" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_root_without_apt_get_is_told_to_use_its_package_manager(tmp_path: Path) -> None:
    completed = _run(tmp_path, "0", tmp_path / "no-chromium")
    assert completed.returncode == 1
    assert "has no" in completed.stderr and "apt-get" in completed.stderr
