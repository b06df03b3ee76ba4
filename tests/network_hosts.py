"""Hosts of their own on one machine: Linux network namespaces, each joined to
this one by a virtual cable (a veth pair), as separate GPU machines would be
joined to Studio's by a network. A process started in one (`command()`)
sees only its own loopback and the cable: it reaches Studio and the catalog
at the address of this end of the cable, as a remote host reaches a server,
never at 127.0.0.1.

Needs root (CAP_NET_ADMIN) and `ip` from iproute2, which `make install`
installs where it is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SUBNET = "10.213"  # 10.213.<host>.0/30 per host: .1 this side, .2 the host's


@dataclass(frozen=True)
class Host:
    namespace: str
    address: str  # the host's own address
    server: str  # the address this machine has on the host's cable

    def command(self, *argv: str) -> list[str]:
        """argv, run inside the host."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def available() -> str | None:
    """Why hosts cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    """`count` hosts, removed again on exit (their processes must be gone first)."""
    tag = f"{os.getpid() % 10000}"
    made: list[Host] = []
    try:
        for index in range(count):
            namespace = f"gts{tag}h{index}"
            outside, inside = f"gts{tag}o{index}", f"gts{tag}i{index}"
            prefix = f"{SUBNET}.{(os.getpid() + index) % 250}"
            _ip("netns", "add", namespace)
            made.append(Host(namespace, f"{prefix}.2", f"{prefix}.1"))
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", namespace)
            _ip("addr", "add", f"{prefix}.1/30", "dev", outside)
            _ip("link", "set", outside, "up")
            _ip("-n", namespace, "addr", "add", f"{prefix}.2/30", "dev", inside)
            _ip("-n", namespace, "link", "set", inside, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        yield made
    finally:
        for index, host in enumerate(made):
            # Deleting the namespace deletes its end of the cable, and with it ours.
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
            subprocess.run(["ip", "link", "del", f"gts{tag}o{index}"], capture_output=True)
