"""Every blocking call of heapd.Connection against a real heapd."""

import array
import dataclasses
import threading

import pytest

import heapd


def test_connect_says_hello(daemon):
    with heapd.connect(daemon.sock) as c:
        assert not c.closed
        assert c.session_id > 0
        assert c.server_version
        assert c.max_frame > 64 and c.max_object > 0 and c.max_batch_ops > 0
        assert "session" in repr(c)
    assert c.closed
    assert repr(c) == "<heapd.Connection closed>"


def test_connect_from_env(daemon, monkeypatch):
    monkeypatch.setenv("HEAPD_SOCKET", daemon.sock)
    with heapd.connect() as c:
        assert c.ping() > 0


def test_alloc_write_read(conn):
    ref = conn.alloc(nrefs=2, data=b"hello world")
    assert isinstance(ref, int) and ref > 0
    assert conn.read(ref) == b"hello world"
    assert conn.read(ref, 6) == b"world"
    assert conn.read(ref, 0, 5) == b"hello"
    assert conn.read(ref, 11) == b""
    conn.write(ref, 0, b"HELLO")
    assert conn.read(ref) == b"HELLO world"


def test_alloc_sizes(conn):
    assert conn.read(conn.alloc(nbytes=16)) == bytes(16)
    assert conn.read(conn.alloc(nbytes=8, data=b"ab")) == b"ab" + bytes(6)
    assert conn.read(conn.alloc()) == b""
    assert conn.read(conn.alloc(nrefs=3)) == b""


def test_write_takes_any_buffer(conn):
    ref = conn.alloc(nbytes=16)
    conn.write(ref, 0, bytearray(b"ab"))
    conn.write(ref, 2, memoryview(b"xxcdxx")[2:4])
    conn.write(ref, 4, array.array("B", [101, 102]))
    assert conn.read(ref, 0, 6) == b"abcdef"
    with pytest.raises(TypeError):
        conn.write(ref, 0, "text")
    with pytest.raises(TypeError):
        conn.write(ref, 0, 42)


def test_read_longer_than_a_frame(conn):
    n = conn.max_frame * 2 + 100
    ref = conn.alloc(nbytes=n)
    data = bytes(range(256)) * (n // 256) + bytes(n % 256)
    for off in range(0, n, conn.max_frame // 2):
        conn.write(ref, off, data[off : off + conn.max_frame // 2])
    assert conn.read(ref) == data
    assert conn.read(ref, 7, n - 7) == data[7:]


def test_slots(conn):
    parent = conn.alloc(nrefs=2)
    child = conn.alloc(data=b"child")
    assert conn.get_ref(parent, 0) is None
    conn.set_ref(parent, 1, child)
    got = conn.get_ref(parent, 1)
    assert got == child and conn.read(got) == b"child"
    conn.release(got)
    conn.set_ref(parent, 1, None)
    assert conn.get_ref(parent, 1) is None


def test_alloc_into_is_not_held(conn):
    parent = conn.alloc(nrefs=1)
    child = conn.alloc(data=b"kid", into=parent, slot=0)
    assert conn.get_ref(parent, 0) == child
    conn.release(child)  # the hold get_ref took
    with pytest.raises(heapd.NotFound):
        conn.release(child)


def test_release_and_gc(conn):
    ref = conn.alloc(data=b"x")
    conn.release(ref)
    conn.gc()
    with pytest.raises(heapd.BadRef) as e:
        conn.read(ref)
    assert e.value.code == heapd.HEAPD_EBADREF


def test_hold_releases(conn):
    with conn.hold(conn.alloc(data=b"held")) as ref:
        assert conn.read(ref) == b"held"
    with pytest.raises(heapd.NotFound):
        conn.release(ref)


def test_roots(conn):
    ref = conn.alloc(data=b"r")
    conn.root_set("py-root", ref)
    assert "py-root" in conn.roots()
    info = [r for r in conn.roots(info=True) if r.name == "py-root"]
    assert info and info[0].mode == 0o644
    assert conn.roots().truncated is False
    got = conn.root_get("py-root")
    assert got == ref
    conn.root_chmod("py-root", 0o600)
    assert [r.mode for r in conn.roots(True) if r.name == "py-root"] == [0o600]
    conn.root_chown("py-root", gid=0)
    conn.root_chown(b"py-root")
    conn.root_set("py-root", None)
    assert conn.root_get("py-root") is None
    assert "py-root" not in conn.roots()


def test_stats_has_every_figure(conn):
    s = conn.stats()
    names = [f.name for f in dataclasses.fields(s)]
    assert names == [name for name, _, _ in heapd.STATS]
    assert s.sessions >= 1
    assert isinstance(s.gc_cpu_fraction, float)
    assert len(s.pause_ns) == 256
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.sessions = 0


def test_uid_stats(conn):
    rows = conn.uid_stats()
    assert rows and all(isinstance(r, heapd.UidStat) for r in rows)
    assert sum(r.connections for r in rows) >= 1
    assert rows.truncated is False


def test_gc_free_os_memory_save(conn):
    before = conn.stats().num_gc
    conn.gc()
    assert conn.stats().num_gc > before
    conn.free_os_memory()
    conn.save()
    conn.save(wait=False)
    assert conn.stats().saves_total >= 1


def test_spin(conn):
    conn.spin = 0
    assert conn.spin == 0
    conn.spin = 20
    assert conn.spin == 20
    with pytest.raises(heapd.InvalidArgument):
        conn.spin = 10**6


def test_threads_share_a_connection(conn):
    ref = conn.alloc(nbytes=8)
    errors = []

    def work(i):
        try:
            for _ in range(200):
                conn.write(ref, i, b"x")
                assert conn.read(ref, i, 1) == b"x"
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_close_is_idempotent(daemon):
    c = daemon.connect()
    c.close()
    c.close()
    with pytest.raises(heapd.ConnectionError) as e:
        c.ping()
    assert "closed" in e.value.message
