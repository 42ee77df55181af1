"""Bad input and failures: each is the exception it should be, with its
code and a message naming the numbers that matter."""

import os
import signal

import pytest

import heapd


def test_classes_follow_libheapd_codes():
    codes = {name: code for name, code, _ in heapd.ERRORS}
    assert heapd.BadRef.code == codes["HEAPD_EBADREF"]
    assert heapd.TimeoutError.code == codes["HEAPD_ETIMEDOUT"]
    assert issubclass(heapd.RangeError, IndexError)
    assert issubclass(heapd.InvalidArgument, ValueError)
    assert issubclass(heapd.NotFound, LookupError)
    assert issubclass(heapd.PermissionDenied, PermissionError)
    assert issubclass(heapd.ConnectionError, ConnectionError)
    assert issubclass(heapd.TimeoutError, TimeoutError)
    for cls in (heapd.LimitError, heapd.ProtocolError, heapd.Skipped, heapd.Failed, heapd.Conflict,
                heapd.NoMemory):
        assert issubclass(cls, heapd.Error)
    assert heapd.strerror(heapd.HEAPD_ERANGE)


def test_no_daemon(tmp_path):
    with pytest.raises(heapd.ConnectionError) as e:
        heapd.connect(str(tmp_path / "nothing.sock"))
    assert e.value.code == heapd.HEAPD_EIO and e.value.message


def test_no_daemon_with_a_timeout(tmp_path):
    with pytest.raises(heapd.ConnectionError) as e:
        heapd.connect(str(tmp_path / "nothing.sock"), timeout=1.0)
    assert e.value.code == heapd.HEAPD_EIO


def test_wrong_types(conn):
    ref = conn.alloc(nbytes=4)
    with pytest.raises(TypeError):
        conn.read("0x1")
    with pytest.raises(TypeError):
        conn.write(ref, 1.5, b"x")
    with pytest.raises(TypeError):
        conn.root_get(42)
    with pytest.raises(TypeError):
        conn.read(ref, bogus=1)
    with pytest.raises(TypeError):
        conn.write(ref, 0)
    with pytest.raises(TypeError):
        conn.alloc(1, 2, b"", None, 0, 9)


def test_out_of_range_ints(conn):
    ref = conn.alloc(nbytes=4)
    with pytest.raises(heapd.InvalidArgument, match="offset -1 is negative"):
        conn.read(ref, -1)
    with pytest.raises(heapd.InvalidArgument, match="slot 4294967296 is out of range"):
        conn.get_ref(ref, 2**32)
    with pytest.raises(heapd.InvalidArgument, match="ref"):
        conn.read(2**64)
    with pytest.raises(heapd.InvalidArgument):
        conn.root_chown("x", uid=2**32 - 1)


def test_names(conn):
    with pytest.raises(heapd.InvalidArgument, match="NUL"):
        conn.root_get("a\0b")
    with pytest.raises(heapd.InvalidArgument):
        conn.root_set("", conn.alloc())
    with pytest.raises(heapd.InvalidArgument):
        conn.root_set("x" * 300, conn.alloc())
    assert conn.root_get("no such root") is None
    with pytest.raises(heapd.NotFound):
        conn.root_chmod("no such root", 0o600)


def test_ranges(conn):
    ref = conn.alloc(nrefs=1, nbytes=8)
    with pytest.raises(heapd.RangeError) as e:
        conn.read(ref, 4, 8)
    assert e.value.code == heapd.HEAPD_ERANGE
    with pytest.raises(heapd.RangeError):
        conn.read(ref, 9)
    with pytest.raises(heapd.RangeError):
        conn.write(ref, 6, b"abc")
    with pytest.raises(heapd.RangeError):
        conn.set_ref(ref, 1, ref)
    with pytest.raises(heapd.RangeError, match="largest object"):
        conn.read(ref, 0, 2**32 - 1)
    with pytest.raises(heapd.RangeError, match="3 bytes of data for 2"):
        conn.alloc(nbytes=2, data=b"abc")


def test_stale_and_forged_refs(conn):
    ref = conn.alloc(data=b"gone")
    conn.release(ref)
    conn.gc()
    for call in (lambda: conn.read(ref), lambda: conn.write(ref, 0, b"x"), lambda: conn.get_ref(ref, 0),
                 lambda: conn.set_ref(ref, 0, None)):
        with pytest.raises(heapd.BadRef):
            call()
    with pytest.raises(heapd.BadRef):
        conn.read(0)
    with pytest.raises(heapd.BadRef):
        conn.read(0x123456789ABCDEF0)


def test_oversize(conn):
    ref = conn.alloc(nbytes=16)
    with pytest.raises(heapd.LimitError):
        conn.write(ref, 0, bytes(conn.max_frame + 1))
    with pytest.raises((heapd.LimitError, heapd.InvalidArgument)):
        conn.alloc(nbytes=conn.max_object + 1)


def test_daemon_dies(start_daemon):
    d = start_daemon()
    c = d.connect()
    ref = c.alloc(data=b"x")
    d.stop(signal.SIGKILL)
    with pytest.raises(heapd.ConnectionError) as e:
        c.read(ref)
    assert e.value.code == heapd.HEAPD_EIO
    with pytest.raises(heapd.ConnectionError):
        c.ping()
    c.close()


def test_permission_denied(start_daemon):
    if os.geteuid() != 0:
        pytest.skip("needs root, to connect as another uid")
    d = start_daemon()
    os.chmod(d.dir, 0o755)
    os.chmod(d.sock, 0o777)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgid(65534)
            os.setuid(65534)
            with d.connect() as c:
                try:
                    c.gc()
                    out = b"no error"
                except heapd.PermissionDenied as e:
                    out = b"%d %s" % (e.code, e.message.encode())
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out = repr(e).encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    got = os.read(r, 4096).decode()
    os.waitpid(pid, 0)
    assert got.startswith(str(heapd.HEAPD_EPERM)), got
    assert "gc" in got


def test_long_read_past_the_end(conn):
    ref = conn.alloc(nbytes=8)
    with pytest.raises(heapd.RangeError):
        conn.read(ref, 0, min(conn.max_object, 1 << 30))
