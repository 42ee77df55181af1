"""object_info, root_info, root_scan and scan_roots, clients, client_kill:
blocking, pipelined and batched, and their bad input."""

import dataclasses

import pytest

import heapd


def test_object_info(conn):
    ref = conn.alloc(nrefs=3, data=b"hello")
    info = conn.object_info(ref)
    assert isinstance(info, heapd.ObjectInfo)
    assert (info.nrefs, info.nbytes, info.sealed, info.age) == (3, 5, False, 0)
    assert info.size >= 3 * 8 + 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.nbytes = 1
    big = conn.alloc(nbytes=1 << 20)
    assert conn.object_info(big).size >= 1 << 20
    conn.gc()
    conn.gc()
    assert conn.object_info(ref).age >= 2 and conn.object_info(big).age >= 2   # survived both
    assert conn.object_info(conn.alloc()).age == 0


def test_read_to_the_end_uses_the_size(conn):
    ref = conn.alloc(data=b"0123456789")
    assert conn.read(ref) == b"0123456789"
    assert conn.read(ref, 4) == b"456789"
    assert conn.read(ref, 10) == b""
    with pytest.raises(heapd.RangeError) as e:
        conn.read(ref, 11)
    assert "11" in e.value.message and "10" in e.value.message


def test_object_info_bad_refs(conn):
    ref = conn.alloc(data=b"x")
    conn.release(ref)
    conn.gc()
    for bad in (ref, 0, None, 0x123456789ABCDEF0):
        with pytest.raises(heapd.BadRef):
            conn.object_info(bad)
    with pytest.raises(TypeError):
        conn.object_info("0x10")
    with pytest.raises(heapd.InvalidArgument):
        conn.object_info(-1)


def test_root_info(conn):
    ref = conn.alloc(nrefs=1, data=b"rooted")
    conn.root_set("py-info", ref)
    conn.root_chmod("py-info", 0o640)
    for name in ("py-info", b"py-info"):
        r = conn.root_info(name)
        assert isinstance(r, heapd.RootInfo)
        assert r.name == "py-info" and r.mode == 0o640
        assert r.object == conn.object_info(ref)
    conn.root_set("py-info", None)
    with pytest.raises(heapd.NotFound):
        conn.root_info("py-info")
    with pytest.raises(TypeError):
        conn.root_info(5)
    with pytest.raises(heapd.InvalidArgument):
        conn.root_info("a\0b")


def test_scan_roots(conn):
    ref = conn.alloc()
    names = {f"py-scan-{i}" for i in range(250)}
    for n in names:
        conn.root_set(n, ref)
    conn.root_set("py-other", ref)
    seen = [r.name for r in conn.scan_roots("py-scan-*", count=7)]
    assert set(seen) == names
    assert all(isinstance(r, heapd.RootInfo) and r.object is None for r in conn.scan_roots("py-scan-1*"))
    assert {r.name for r in conn.scan_roots()} >= names | {"py-other"}
    assert list(conn.scan_roots("no-such-*")) == []
    cursor, first = conn.root_scan(b"py-scan-*", 0, 10)
    assert isinstance(cursor, int) and isinstance(first, list)
    for n in names | {"py-other"}:
        conn.root_set(n, None)


def test_root_scan_bad_input(conn):
    with pytest.raises(TypeError):
        conn.root_scan(5)
    with pytest.raises(TypeError):
        conn.root_scan(None, "0")
    with pytest.raises(heapd.InvalidArgument):
        conn.root_scan(None, -1)
    with pytest.raises(heapd.InvalidArgument):
        conn.root_scan(None, 0, 2**32)
    with pytest.raises(heapd.InvalidArgument):
        conn.root_scan("x" * 2000)
    cursor, rows = conn.root_scan(None, 2**64 - 1, 1_000_000)  # any cursor; count at most 10,000
    assert isinstance(cursor, int) and isinstance(rows, list)


def test_clients(daemon, conn):
    with daemon.connect() as other:
        rows = conn.clients()
        assert rows.truncated is False
        assert all(isinstance(r, heapd.ClientInfo) for r in rows)
        me = [r for r in rows if r.is_self]
        assert len(me) == 1 and me[0].id == conn.session_id
        assert other.session_id in [r.id for r in rows]
        assert me[0].requests >= 1 and me[0].comm


def test_client_kill(daemon, conn):
    other = daemon.connect()
    ref = other.alloc(data=b"x")
    conn.client_kill(other.session_id)
    with pytest.raises(heapd.ConnectionError):
        other.read(ref)
    other.close()
    with pytest.raises(heapd.NotFound):
        conn.client_kill(2**63)
    with pytest.raises(TypeError):
        conn.client_kill("1")
    with pytest.raises(heapd.InvalidArgument):
        conn.client_kill(-1)


def test_pipeline_forms(conn):
    ref = conn.alloc(nrefs=2, data=b"abc")
    conn.root_set("py-pipe-info", ref)
    with conn.pipeline() as p:
        p.object_info(ref)
        p.root_info("py-pipe-info")
        p.root_scan("py-pipe-*", 0, 0)
        p.clients()
        p.object_info(0)
        p.root_info(b"py-missing")
        p.client_kill(2**63)
        got = p.execute(raise_on_error=False)
    assert got[0] == conn.object_info(ref)
    assert got[1] == conn.root_info("py-pipe-info")
    cursor, rows = got[2]
    assert ["py-pipe-info"] == [r.name for r in rows] or cursor != 0
    assert any(r.is_self for r in got[3])
    assert isinstance(got[4], heapd.BadRef)
    assert isinstance(got[5], heapd.NotFound)
    assert isinstance(got[6], heapd.NotFound)
    with pytest.raises(TypeError):
        conn.pipeline().root_info(None)
    conn.root_set("py-pipe-info", None)


def test_batch_forms(conn):
    b = conn.batch()
    obj = b.alloc(nrefs=1, data=b"batched")
    b.root_set("py-batch-info", obj)
    b.object_info(obj)
    b.root_info("py-batch-info")
    ref, _, info, root = b.execute()
    assert info == heapd.ObjectInfo(1, 7, info.size, False, 0)
    assert root.name == "py-batch-info" and root.object == info
    b.reset()
    b.root_info("py-no-such-root")
    b.object_info(ref)
    with pytest.raises(heapd.NotFound) as e:
        b.execute()
    assert e.value.index == 0 and isinstance(e.value.results[1], heapd.Skipped)
    conn.root_set("py-batch-info", None)
