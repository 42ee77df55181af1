"""heapd - the Python binding of libheapd, the client library of heapd.

heapd hosts a garbage-collected object heap for local processes; this
package calls libheapd (through the extension module heapd._heapd) for
every request, blocking, pipelined or batched. docs/python.md is the guide.

    import heapd
    with heapd.connect() as conn:
        ref = conn.alloc(nrefs=1, data=b"hello")
        conn.root_set("greeting", ref)
        print(conn.read(ref))

Errors are exceptions carrying .code (libheapd's HEAPD_E* value) and
.message (the daemon's or libheapd's words): heapd.Error and one subclass
per code, some also subclasses of the built-in exception they mean
(RangeError is an IndexError, InvalidArgument a ValueError, ...).
"""

from __future__ import annotations

import builtins
import dataclasses
import os
from typing import Any, Iterable, Iterator, NamedTuple, Optional, Tuple, Union

from . import _heapd
from ._heapd import Batch, Pipeline, Placeholder, View

DEFAULT_SOCKET: str = _heapd.DEFAULT_SOCKET

# ---- exceptions ----


class Error(Exception):
    """A heapd request failed: .code is libheapd's HEAPD_E* value (negative),
    .message what the daemon or libheapd said. Pipelines and batches add
    .results (every op's value or exception) and batches .index (the op that
    failed, or -1 when the batch was refused whole)."""

    code: int = 0
    message: str = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class BadRef(Error):
    """A null, stale or forged ref (HEAPD_EBADREF)."""


class RangeError(Error, IndexError):
    """An offset, length or slot past the object (HEAPD_ERANGE)."""


class NoMemory(Error):
    """The daemon's heap is at its hard maximum (HEAPD_ENOMEM)."""


class InvalidArgument(Error, ValueError):
    """A bad argument, found by the daemon, libheapd or this binding (HEAPD_EINVAL)."""


class NotFound(Error, LookupError):
    """No such root, or no hold on that object (HEAPD_ENOTFOUND)."""


class PermissionDenied(Error, builtins.PermissionError):
    """Not allowed for this peer, or by the root's owner and mode, or a
    change to a sealed object (HEAPD_EPERM)."""


class LimitError(Error):
    """A daemon limit: clients, holds, roots, object or frame size (HEAPD_ELIMIT)."""


class ProtocolError(Error):
    """The daemon broke the protocol or said the request did (HEAPD_EPROTO);
    the connection is unusable: close it."""


class ConnectionError(Error, builtins.ConnectionError):
    """The connection failed or is closed (HEAPD_EIO); close it."""


class TimeoutError(Error, builtins.TimeoutError):
    """No reply in time (HEAPD_ETIMEDOUT); the connection is closed."""


class Skipped(Error):
    """A batch op not run: an earlier op of the batch failed (HEAPD_ESKIPPED)."""


class Failed(Error):
    """It ran and could not complete, e.g. a save's disk error (HEAPD_EFAILED)."""


class Conflict(Error):
    """A compare-and-swap whose condition did not hold (HEAPD_ECONFLICT):
    nothing changed. .was is what the slot or root held instead (None: an
    empty slot, an absent root), without a hold of its own."""

    was: Optional[int] = None


# libheapd's name of each code -> its class; a code libheapd has and this
# table lacks raises Error (HEAPD_ENOBUFS: libheapd itself out of memory).
_CLASSES = {
    "HEAPD_EBADREF": BadRef,
    "HEAPD_ERANGE": RangeError,
    "HEAPD_ENOMEM": NoMemory,
    "HEAPD_EINVAL": InvalidArgument,
    "HEAPD_ENOTFOUND": NotFound,
    "HEAPD_EPERM": PermissionDenied,
    "HEAPD_ELIMIT": LimitError,
    "HEAPD_EPROTO": ProtocolError,
    "HEAPD_EIO": ConnectionError,
    "HEAPD_ETIMEDOUT": TimeoutError,
    "HEAPD_ESKIPPED": Skipped,
    "HEAPD_EFAILED": Failed,
    "HEAPD_ECONFLICT": Conflict,
}

# Every code of libheapd (its HEAPD_ERRORS list): the module constants
# HEAPD_OK, HEAPD_EBADREF, ... and each class's .code.
ERRORS: Tuple[Tuple[str, int, str], ...] = _heapd.ERRORS
for _name, _code, _text in ERRORS:
    globals()[_name] = _code
    if _name in _CLASSES:
        _CLASSES[_name].code = _code


def strerror(code: int) -> str:
    """libheapd's text for an error code (heapd_strerror)."""
    return _heapd.strerror(code)


# ---- what replies hold ----

# (name, kind, help) for each figure of <heapd/stats.h>, in its order.
STATS: Tuple[Tuple[str, str, str], ...] = _heapd.STATS


def _stat_type(kind: str) -> Any:
    return {"FRACTION": float, "PAUSES": Tuple[int, ...]}.get(kind, int)


Stats = dataclasses.make_dataclass(
    "Stats",
    [(name, _stat_type(kind)) for name, kind, _ in STATS],
    frozen=True,
    namespace={
        "__doc__": "The daemon's figures, one field per row of <heapd/stats.h> "
        "(docs/stats.md); pause_ns is the ring of the latest pauses.",
        "__module__": __name__,
    },
)


@dataclasses.dataclass(frozen=True)
class UidStat:
    """What one uid has of the daemon (a row of heapd_uid_stats)."""

    uid: int
    connections: int
    holds: int
    named_roots: int
    root_name_bytes: int
    output_bytes: int
    heap_bytes: int
    roots_refused: int
    holds_refused: int
    output_stalls: int


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """What an object is (heapd_object_info): its reference slots, its data
    bytes, the heap bytes it takes (its size class, or its pages), whether
    it is sealed, and the collections it has survived."""

    nrefs: int
    nbytes: int
    size: int
    sealed: bool
    age: int


@dataclasses.dataclass(frozen=True)
class RootInfo:
    """A named root with its owner, group and mode (0644 is rw-r--r--), and
    from root_info() its object's ObjectInfo (None from roots() and a scan)."""

    name: str
    uid: int
    gid: int
    mode: int
    object: Optional[ObjectInfo] = None


class Retained(NamedTuple):
    """What an object reaches, itself included, each object once
    (heapd_retained): the objects, and the heap bytes they take."""

    objects: int
    bytes: int


@dataclasses.dataclass(frozen=True)
class ClientInfo:
    """A connection to the daemon (heapd_client_list): its session id, its
    peer's pid, uid and gid, its command and the name it gave, when it
    connected, its holds and the bytes they hold, its requests and frame
    bytes; is_self for the connection that asked."""

    id: int
    pid: int
    uid: int
    gid: int
    comm: str
    name: str
    connected_unix_ns: int
    holds: int
    held_bytes: int
    requests: int
    bytes_in: int
    bytes_out: int
    is_self: bool


class Listing(list):
    """A list the daemon may have cut to fit one frame: .truncated is True
    when there was more."""

    truncated: bool = False

    def __init__(self, items: Iterable[Any] = (), truncated: bool = False) -> None:
        super().__init__(items)
        self.truncated = truncated


_heapd._register(
    {
        "errors": {code: _CLASSES[name] for name, code, _ in ERRORS if name in _CLASSES},
        "Error": Error,
        "Stats": Stats,
        "UidStat": UidStat,
        "RootInfo": RootInfo,
        "ObjectInfo": ObjectInfo,
        "ClientInfo": ClientInfo,
        "Retained": Retained,
    }
)

# ---- connections ----

Ref = int


class Hold:
    """with conn.hold(ref) as ref: ... releases the hold on ref at the end
    (unless the connection closed, which dropped its holds already)."""

    def __init__(self, conn: "Connection", ref: Ref) -> None:
        self.conn = conn
        self.ref = ref

    def __enter__(self) -> Ref:
        return self.ref

    def __exit__(self, *exc: object) -> None:
        if not self.conn.closed:
            self.conn.release(self.ref)


class Connection(_heapd.Connection):
    """A connection to heapd (heapd.connect()). Its calls block; pipeline()
    and batch() make many requests per round trip. Use it from one thread
    at a time (calls from others wait for it); close() it, or use it in a
    with block, and its holds and views go with it (BufferError while a
    memoryview of one of its views exists)."""

    def hold(self, ref: Ref) -> Hold:
        """A context manager that releases one hold on ref when it ends."""
        return Hold(self, ref)

    def pipeline(self) -> Pipeline:
        """Requests sent at once, replies taken by execute() (docs/python.md)."""
        return Pipeline(self)

    def batch(self) -> Batch:
        """Operations run by the daemon as one request (docs/python.md)."""
        return Batch(self)

    def roots(self, info: bool = False) -> Listing:
        """The names of the roots this caller may read, or with info=True
        their RootInfo; .truncated when more did not fit in a frame."""
        items, truncated = self._roots(info)
        return Listing(items, truncated)

    def uid_stats(self) -> Listing:
        """A UidStat for each uid with a connection, a root or a hold;
        .truncated when more did not fit in a frame."""
        rows, truncated = self._uid_stats()
        return Listing(rows, truncated)

    def clients(self) -> Listing:
        """A ClientInfo for each connection (an admin), or each of the
        caller's uid (anyone else), by id; .truncated when more did not fit
        in a frame."""
        rows, truncated = self._clients()
        return Listing(rows, truncated)

    def scan_roots(self, pattern: Optional[Union[str, bytes]] = None, count: int = 0) -> Iterator[RootInfo]:
        """Every root this caller may read whose name matches pattern (a glob
        as fnmatch(3); None: all), as RootInfo (object None), a root_scan at
        a time of about count table slots (0: the daemon's default). A root
        there from start to end is given at least once; one made or deleted
        meanwhile may or may not be."""
        cursor = 0
        while True:
            cursor, roots = self.root_scan(pattern, cursor, count)
            yield from roots
            if not cursor:
                return

    def __repr__(self) -> str:
        if self.closed:
            return "<heapd.Connection closed>"
        return f"<heapd.Connection session {self.session_id} to heapd {self.server_version}>"


def connect(path: Optional[Union[str, bytes, "os.PathLike[str]"]] = None, timeout: Optional[float] = None) -> Connection:
    """Connects to heapd at path (None: $HEAPD_SOCKET, else DEFAULT_SOCKET)
    and says hello. timeout: seconds that the connect and hello, then each
    call, may wait (None: $HEAPD_TIMEOUT_MS, else for ever); past it,
    TimeoutError and the connection is closed. Raises ConnectionError when
    nothing answers there, or the daemon's refusal (PermissionDenied,
    LimitError)."""
    return Connection(path, timeout)


__all__ = [
    "connect", "Connection", "Pipeline", "Batch", "Placeholder", "View", "Hold", "Stats", "UidStat", "RootInfo",
    "ObjectInfo", "ClientInfo", "Retained",
    "Listing", "STATS", "ERRORS", "DEFAULT_SOCKET", "strerror", "Ref",
    "Error", "BadRef", "RangeError", "NoMemory", "InvalidArgument", "NotFound", "PermissionDenied",
    "LimitError", "ProtocolError", "ConnectionError", "TimeoutError", "Skipped", "Failed", "Conflict",
]  # fmt: skip
