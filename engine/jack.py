"""The JACK graph as a listener sees it, through a passive client of the engine's own.

rtmidi reports nothing about JACK beyond port names, and after the server dies even those are stale
(libjack reads them from shared memory the dead server left behind), so on JACK the engine also
opens one plain libjack client, through ctypes: opened, never activated — no process thread, no cost
per period, not part of the graph. Through it the engine learns that the server went away (libjack's
shutdown callback, on libjack's own thread, within milliseconds), which ports exist, and what its
ports are connected to; and it makes connections by name (a virtual port restoring the listeners it
had, a named port whose connection was dropped).

The library is the libjack python-rtmidi itself is linked with (its wheel bundles one), so both speak
to the server the same way; else the system's. Without either, ``open_graph`` returns None and the
ports fall back to comparing names.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from collections.abc import Callable

_NO_START_SERVER = 0x01
_EEXIST = 17

_Shutdown = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "jack_client_open": (ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]),
    "jack_client_close": (ctypes.c_int, [ctypes.c_void_p]),
    "jack_on_info_shutdown": (None, [ctypes.c_void_p, _Shutdown, ctypes.c_void_p]),
    "jack_get_ports": (ctypes.POINTER(ctypes.c_char_p), [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]),
    "jack_port_by_name": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]),
    "jack_port_get_all_connections": (ctypes.POINTER(ctypes.c_char_p), [ctypes.c_void_p, ctypes.c_void_p]),
    "jack_connect": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]),
    "jack_free": (None, [ctypes.c_void_p]),
}


def _library() -> ctypes.CDLL | None:
    candidates = []
    try:
        import rtmidi

        here = os.path.dirname(os.path.dirname(rtmidi.__file__))
        candidates += sorted(glob.glob(os.path.join(here, "python_rtmidi*", "libjack*.so*")))
    except ImportError:
        pass
    if found := ctypes.util.find_library("jack"):
        candidates.append(found)
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
            for name, (restype, argtypes) in _SIGNATURES.items():
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = restype, argtypes
            return lib
        except (OSError, AttributeError):
            continue
    return None


class JackGraph:
    """A passive client: ``alive`` until the server goes away; ports and connections by name."""

    def __init__(self, lib: ctypes.CDLL, client: int, on_shutdown: Callable[[], None]) -> None:
        self._lib, self._client = lib, client
        self.alive = True
        self.reason = ""
        """Why the server went away, as libjack said it."""
        self._on_shutdown = on_shutdown
        self._callback = _Shutdown(self._shutdown)  # kept: libjack holds only the raw pointer
        lib.jack_on_info_shutdown(client, self._callback, None)

    def _shutdown(self, code: int, reason: bytes | None, arg: object) -> None:  # libjack's thread
        self.alive = False
        self.reason = (reason or b"").decode(errors="replace")
        self._on_shutdown()

    def _names(self, array: ctypes.Array | None) -> list[str]:
        if not array:
            return []
        names, i = [], 0
        while array[i]:
            names.append(array[i].decode(errors="replace"))
            i += 1
        self._lib.jack_free(array)
        return names

    def ports(self) -> set[str]:
        """Every port's full name (empty once the server is gone: its shared memory is stale)."""
        if not self.alive:
            return set()
        return set(self._names(self._lib.jack_get_ports(self._client, None, None, 0)))

    def connections(self, port: str) -> set[str]:
        """The ports ``port`` is connected to, as the graph is now (empty if there is no such port)."""
        if not self.alive:
            return set()
        handle = self._lib.jack_port_by_name(self._client, port.encode())
        if not handle:
            return set()
        return set(self._names(self._lib.jack_port_get_all_connections(self._client, handle)))

    def connect(self, source: str, destination: str) -> bool:
        """Connect two ports by name; True if they are (or already were) connected."""
        if not self.alive:
            return False
        return self._lib.jack_connect(self._client, source.encode(), destination.encode()) in (0, _EEXIST)

    def close(self) -> None:
        """Close the client (while the server lives: a dead server's clients are never touched again)."""
        if self.alive and self._client:
            self._lib.jack_client_close(self._client)
        self._client = 0


def open_graph(name: str, on_shutdown: Callable[[], None]) -> JackGraph | None:
    """A passive client named ``name``, or None where libjack cannot be loaded or no server runs."""
    lib = _library()
    if lib is None:
        return None
    status = ctypes.c_int()
    client = lib.jack_client_open(name.encode(), _NO_START_SERVER, ctypes.byref(status))
    if not client:
        return None
    return JackGraph(lib, client, on_shutdown)
