"""A loopback-only network namespace for everything that enables Ableton Link.

Link discovers peers by multicast on every interface, so its tests and benchmarks never run in the
machine's own network: they re-run themselves under ``unshare -n`` (``unshare -rn`` when not root, where
unprivileged user namespaces are allowed) with only the loopback interface up, multicast on, and the
224.0.0.0/4 route on it, so two Link peers in the namespace find each other and nothing leaves it.

The namespace also gets a private ``/dev/shm`` (a mount namespace with a fresh tmpfs there): the JACK
server a Link benchmark starts inside registers in it, never in the machine's JACK registry (whose few
server slots stale entries of killed servers can use up).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Sequence

SETUP = ("ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
         " && mount -t tmpfs -o mode=1777 tmpfs /dev/shm")
MARK = "BACKBEAT_LOOPBACK_NETNS"
"""Set in the environment of a process that runs inside such a namespace."""


class NamespaceError(RuntimeError):
    """A loopback-only network namespace cannot be made here (why, in one line)."""


def inside() -> bool:
    """True in a network namespace whose only interface is loopback (and we made it)."""
    names = {name for _, name in socket.if_nameindex()}
    return os.environ.get(MARK) == "1" and names <= {"lo"}


def _unshare() -> list[str]:
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare is None or ip is None:
        raise NamespaceError("needs unshare (util-linux) and ip (iproute2) to make a loopback-only network namespace")
    return [unshare, "-n", "-m"] if os.geteuid() == 0 else [unshare, "-r", "-n", "-m"]


def check() -> None:
    """Raise NamespaceError unless a namespace can be made and set up here."""
    try:
        result = subprocess.run([*_unshare(), "sh", "-c", SETUP], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NamespaceError(f"cannot make a network namespace: {error}") from None
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise NamespaceError(f"network namespaces are not permitted here ({why})")


def command(argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped to run inside a fresh loopback-only namespace."""
    script = f'{SETUP} && exec "$@"'
    return [*_unshare(), "sh", "-c", script, "netns", *argv]


def run(argv: Sequence[str], *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """Run ``argv`` inside a fresh loopback-only namespace (``MARK`` set in its environment)."""
    env = {**os.environ, **kwargs.pop("env", {}), MARK: "1"}
    return subprocess.run(command(argv), env=env, timeout=timeout, **kwargs)
