"""`aurora run` refuses to start on a port another process holds, before starting anything."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from aurora_cli.dev_run import RunOptions, run


def test_busy_gateway_port_fails_fast_and_restores_signal_handlers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = signal.getsignal(signal.SIGINT)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        code = run(RunOptions(tmp_path / "state", busy, 39_101, use_nginx=False))
    assert code == 1
    err = capsys.readouterr().err
    assert f"port {busy} (gateway) is in use" in err
    assert not (tmp_path / "state" / "pg").exists()  # nothing was started
    assert signal.getsignal(signal.SIGINT) is before
