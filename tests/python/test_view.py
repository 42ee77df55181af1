"""Zero-copy: seal, and View, a sealed object's bytes read in place through
the buffer protocol. The daemon runs as this test's uid, so zero-copy is
granted (zero_copy_uids' default)."""

import ctypes
import gc
import os
import signal
import threading
import weakref

import pytest

import heapd


class PyBuffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p)]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(PyBuffer), ctypes.c_int]
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(PyBuffer)]


def address(obj):
    """Where obj's buffer starts in this process."""
    b = PyBuffer()
    assert _get_buffer(obj, ctypes.byref(b), 0) == 0
    try:
        return b.buf
    finally:
        _release_buffer(ctypes.byref(b))


def mapping_of(addr):
    """The line of /proc/self/maps that holds addr, or None."""
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= addr < hi:
                return line
    return None


def sealed(conn, data):
    ref = conn.alloc(data=data)
    conn.seal(ref)
    return ref


def views(conn):
    """The daemon's open views, after every request conn sent before."""
    return conn.stats().views


def test_seal_then_changes_raise(conn):
    ref = conn.alloc(nrefs=1, data=b"frozen")
    other = conn.alloc()
    assert not conn.object_info(ref).sealed
    conn.seal(ref)
    conn.seal(ref)  # idempotent
    assert conn.object_info(ref).sealed
    with pytest.raises(heapd.PermissionDenied) as e:
        conn.write(ref, 0, b"x")
    assert e.value.code == heapd.HEAPD_EPERM
    with pytest.raises(heapd.PermissionDenied):
        conn.set_ref(ref, 0, other)
    with pytest.raises(heapd.PermissionDenied):
        conn.cas_ref(ref, 0, None, other)
    with pytest.raises(heapd.PermissionDenied):
        conn.alloc(data=b"y", into=ref, slot=0)
    assert conn.read(ref) == b"frozen"
    with pytest.raises(heapd.BadRef):
        conn.seal(0)


def test_view_bytes(conn):
    data = b"the bytes in place " * 50
    ref = sealed(conn, data)
    before = views(conn)
    v = conn.view(ref)
    assert isinstance(v, heapd.View)
    assert views(conn) == before + 1
    assert v.ref == ref and len(v) == len(data) and not v.released
    assert bytes(v) == data
    assert repr(v) == "<heapd.View of %#x, %d bytes>" % (ref, len(data))
    v.release()
    assert v.released and repr(v).endswith(", released>")
    assert views(conn) == before


def test_memoryview_is_read_only_and_zero_copy(conn):
    data = os.urandom(10000)
    ref = sealed(conn, data)
    with conn.view(ref) as v, memoryview(v) as m1, memoryview(v) as m2:
        assert m1.readonly and m1.obj is v and m1.nbytes == len(data)
        assert m1 == data and m1[100:200].tobytes() == data[100:200]
        with pytest.raises(TypeError):
            m1[0] = 0
        with pytest.raises(BufferError, match="not writable"):  # PyBUF_WRITABLE
            _get_buffer(v, ctypes.byref(PyBuffer()), 1)
        # Both memoryviews point at the same bytes, in the daemon's arena
        # (its memfd, mapped shared), not at a copy.
        a = address(m1)
        assert a == address(m2) == address(v)
        line = mapping_of(a)
        assert line and "memfd:heapd-arena" in line and line.split()[1].startswith("r--s"), line
        assert ctypes.string_at(a, len(data)) == data


def test_release_with_an_export(conn):
    ref = sealed(conn, b"exported")
    before = views(conn)
    v = conn.view(ref)
    m = memoryview(v)
    with pytest.raises(BufferError, match="1 exported"):
        v.release()
    assert not v.released and m.tobytes() == b"exported"
    del m
    v.release()
    assert v.released and views(conn) == before
    v.release()  # again: nothing
    for use in (memoryview, bytes, len):
        with pytest.raises(ValueError, match="released"):
            use(v)


def test_context_manager(conn):
    ref = sealed(conn, b"with")
    before = views(conn)
    with conn.view(ref) as v:
        assert bytes(v) == b"with"
        assert views(conn) == before + 1
    assert v.released and views(conn) == before
    with pytest.raises(BufferError):
        with conn.view(ref) as v:
            kept = memoryview(v)
    kept.release()
    v.release()
    assert views(conn) == before


def test_close_with_an_export(daemon):
    c = daemon.connect()
    ref = sealed(c, b"mapped")
    v = c.view(ref)
    w = c.view(ref)  # unreleased, no export: ends with the connection
    m = memoryview(v)
    with pytest.raises(BufferError, match="exported"):
        c.close()
    with pytest.raises(BufferError):
        c.__exit__(None, None, None)
    assert not c.closed and m.tobytes() == b"mapped"
    m.release()
    c.close()
    assert c.closed and v.released and w.released
    v.release()
    w.release()
    with pytest.raises(ValueError):
        memoryview(v)


def test_dropped_view_is_released(conn):
    ref = sealed(conn, b"dropped")
    before = views(conn)
    v = conn.view(ref)
    assert views(conn) == before + 1
    del v
    assert views(conn) == before


def test_view_keeps_its_connection(daemon):
    c = daemon.connect()
    ref = sealed(c, b"kept")
    v = c.view(ref)
    alive = weakref.ref(c)
    del c
    gc.collect()
    assert alive() is not None and bytes(v) == b"kept"
    del v
    gc.collect()
    assert alive() is None


def test_views_of_one_ref_are_apart(conn):
    ref = sealed(conn, b"twice")
    before = views(conn)
    a, b = conn.view(ref), conn.view(ref)
    assert views(conn) == before + 2
    a.release()
    assert bytes(b) == b"twice" and views(conn) == before + 1
    b.release()
    assert views(conn) == before


def test_view_errors(conn):
    ref = conn.alloc(data=b"not sealed")
    with pytest.raises(heapd.InvalidArgument, match="not sealed") as e:
        conn.view(ref)
    assert isinstance(e.value, ValueError) and e.value.code == heapd.HEAPD_EINVAL
    gone = sealed(conn, b"gone")
    conn.release(gone)
    conn.gc()
    with pytest.raises(heapd.BadRef):
        conn.view(gone)
    with pytest.raises(heapd.BadRef):
        conn.view(0x123456789ABCDEF0)
    with pytest.raises(TypeError):
        conn.view("1")
    with pytest.raises(heapd.InvalidArgument):
        conn.view(-1)
    with pytest.raises(TypeError):
        heapd.View()


def test_empty_object(conn):
    ref = sealed(conn, b"")
    with conn.view(ref) as v:
        assert len(v) == 0 and bytes(v) == b"" and memoryview(v).nbytes == 0


def test_large_object_viewed_whole(start_daemon):
    d = start_daemon("--max-frame-size", "65536")
    with d.connect() as c:
        n = 32 << 20
        assert c.max_frame == 65536 and n > c.max_frame
        data = os.urandom(n)
        ref = c.alloc(nbytes=n)
        step = c.max_frame // 2
        with c.pipeline() as p:
            for off in range(0, n, step):
                p.write(ref, off, memoryview(data)[off : off + step])
            p.execute()
        c.seal(ref)
        with c.view(ref) as v:
            assert len(v) == n
            with memoryview(v) as m:
                assert m == data
                assert m[n - 5 :].tobytes() == data[n - 5 :]


def as_uid(uid, fn):
    """fn() run in a child as uid (and gid): what it returned, or the repr
    of what it raised, as a str."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgid(uid)
            os.setuid(uid)
            out = str(fn())
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out = repr(e)
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    got = os.read(r, 4096).decode()
    os.waitpid(pid, 0)
    return got


def test_who_may_view(start_daemon):
    """A uid other than the daemon's and root is not granted zero-copy, and
    a read-only one never, not even listed in zero_copy_uids; nor may a
    read-only one seal."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to connect as other uids")
    d = start_daemon("--readonly-uids", "65534", "--zero-copy-uids", "65534")
    os.chmod(d.dir, 0o755)
    os.chmod(d.sock, 0o777)
    with d.connect() as owner:
        owner.root_set("open", sealed(owner, b"theirs"))
        owner.root_chmod("open", 0o666)

        def call(what):
            with d.connect() as c:
                try:
                    getattr(c, what)(c.root_get("open"))
                    return "done"
                except heapd.PermissionDenied as e:
                    return "refused: " + e.message

        assert "zero-copy is not granted to uid 65533" in as_uid(65533, lambda: call("view"))
        assert as_uid(65534, lambda: call("view")).startswith("refused: ")
        assert as_uid(65534, lambda: call("seal")).startswith("refused: ")
        assert as_uid(65533, lambda: call("seal")) == "done"  # a full ref's: sealed again, no error


def test_batch_view(conn):
    b = conn.batch()
    obj = b.alloc(data=b"batched")
    b.seal(obj)
    b.view(obj)
    ref, _, v = b.execute()
    assert isinstance(v, heapd.View) and v.ref == ref and bytes(v) == b"batched"
    before = views(conn)
    b2 = conn.batch()
    b2.view(ref)
    b2.view(ref)
    b2.view(conn.alloc(data=b"unsealed"))
    b2.view(ref)
    with pytest.raises(heapd.InvalidArgument) as e:
        b2.execute()
    x, y, failed, skipped = e.value.results
    assert failed is e.value and failed.index == 2
    assert bytes(x) == bytes(y) == b"batched" and isinstance(skipped, heapd.Skipped)
    assert views(conn) == before + 2
    del x, y, failed, skipped, e
    gc.collect()  # the exception and its .results, a cycle, held them too
    v.release()
    assert views(conn) == before - 1


def test_pipeline_view(conn):
    ref = sealed(conn, b"piped")
    unsealed = conn.alloc(data=b"unsealed")
    before = views(conn)
    p = conn.pipeline()
    for _ in range(3):
        p.view(ref)
    p.view(unsealed)
    out = p.execute(raise_on_error=False)
    assert [bytes(v) for v in out[:3]] == [b"piped"] * 3
    assert isinstance(out[3], heapd.InvalidArgument)
    assert views(conn) == before + 3
    del out
    assert views(conn) == before
    # Replies dropped unread: their views end too.
    with conn.pipeline() as p:
        p.view(ref)
        p.seal(ref)
    assert views(conn) == before


def test_release_while_a_pipeline_is_pending(conn):
    ref = sealed(conn, b"pending")
    before = views(conn)
    v = conn.view(ref)
    p = conn.pipeline()
    p.ping()
    with pytest.raises(heapd.InvalidArgument, match="pending"):
        v.release()
    assert not v.released
    p.execute()
    v.release()
    assert views(conn) == before
    # Dropped while replies are pending: released once they are taken.
    v = conn.view(ref)
    p.ping()
    del v
    p.execute()
    assert views(conn) == before


def test_cycles_collected_under_the_connections_lock(daemon):
    """A View in a cycle, collected while execute() makes values under the
    connection's lock, or released by a finalizer then, is released after
    instead of deadlocking."""

    class Holder:
        def __init__(self, view):
            self.view, self.me = view, self

        def __del__(self):
            self.view.release()

    conn = daemon.connect()  # not closed if it deadlocks: close() would wait for ever
    ref = sealed(conn, b"cyclic")
    before = views(conn)
    old = gc.get_threshold()
    gc.disable()
    try:
        for _ in range(10):
            cycle = [conn.view(ref)]
            cycle.append(cycle)
            Holder(conn.view(ref))
        del cycle
        assert views(conn) == before + 20
        p = conn.pipeline()
        for _ in range(500):
            p.object_info(ref)  # each value a dataclass: allocations that collect
        execute, done = p.execute, []

        def run():
            # The next collection 50 objects on: in execute's loop.
            gc.set_threshold(gc.get_count()[0] + 50)
            gc.enable()
            done.append(len(execute()))

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(10)
        assert done == [500], "execute() deadlocked"
    finally:
        gc.set_threshold(*old)
        gc.enable()
    assert views(conn) == before
    conn.close()


def test_threads(conn):
    ref = sealed(conn, os.urandom(4096))
    want = bytes(memoryview(conn.view(ref)))
    before = views(conn)
    errors = []

    def work():
        try:
            for _ in range(300):
                with conn.view(ref) as v, memoryview(v) as m:
                    assert m == want
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert views(conn) == before


def test_timeout_keeps_exported_bytes_mapped(start_daemon):
    d = start_daemon()
    c = d.connect()
    ref = sealed(c, b"still mapped")
    v = c.view(ref)
    m = memoryview(v)
    a = address(m)
    c.timeout = 0.2
    d.proc.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(heapd.TimeoutError):
            c.ping()
    finally:
        d.proc.send_signal(signal.SIGCONT)
    assert c.closed and v.released
    c.close()  # closed already: nothing, though m is exported
    assert m.tobytes() == b"still mapped" and mapping_of(a)
    with pytest.raises(ValueError):
        memoryview(v)
    m.release()  # the last export: the timed-out handle is closed, unmapped
    assert mapping_of(a) is None
    v.release()
