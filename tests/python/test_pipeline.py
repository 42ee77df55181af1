"""Connection.pipeline(): requests appended at once, replies in order."""

import pytest

import heapd


def test_results_in_order(conn):
    ref = conn.alloc(nrefs=1, data=b"abc")
    conn.root_set("py-pipe", ref)
    p = conn.pipeline()
    p.alloc(data=b"new")
    p.write(ref, 0, b"A")
    p.read(ref, 0, 3)
    p.get_ref(ref, 0)
    p.root_get("py-pipe")
    p.root_get("py-pipe-missing")
    p.stats()
    p.uid_stats()
    p.ping()
    assert len(p) == 9
    new, w, data, slot, root, missing, stats, uids, ping = p.execute()
    assert conn.read(new) == b"new"
    assert (w, data, slot, root, missing, ping) == (None, b"Abc", None, ref, None, None)
    assert isinstance(stats, heapd.Stats) and isinstance(uids[0], heapd.UidStat)
    assert len(p) == 0
    conn.root_set("py-pipe", None)


def test_thousand_deep(conn):
    ref = conn.alloc(nbytes=64)
    with conn.pipeline() as p:
        for i in range(1000):
            p.write(ref, 0, i.to_bytes(8, "little") * 8)
            p.read(ref, 0, 8)
        out = p.execute()
    assert [out[i] for i in range(1, 2000, 2)] == [i.to_bytes(8, "little") for i in range(1000)]


def test_errors_per_op(conn):
    ref = conn.alloc(nbytes=4)
    p = conn.pipeline()
    p.read(ref, 0, 4)
    p.read(ref, 2, 4)
    p.release(12345)
    p.ping()
    out = p.execute(raise_on_error=False)
    assert out[0] == bytes(4) and out[3] is None
    assert isinstance(out[1], heapd.RangeError) and isinstance(out[2], heapd.NotFound)
    p.read(ref, 2, 4)
    p.ping()
    with pytest.raises(heapd.RangeError) as e:
        p.execute()
    assert e.value.results[1] is None and e.value.results[0] is e.value
    assert conn.ping() > 0  # every reply was taken


def test_pending_replies_block_the_rest(conn):
    p = conn.pipeline()
    p.ping()
    with pytest.raises(heapd.InvalidArgument, match="pending"):
        conn.ping()
    q = conn.pipeline()
    with pytest.raises(heapd.InvalidArgument, match="another pipeline"):
        q.ping()
    assert p.execute() == [None]
    q.ping()
    assert q.execute() == [None]


def test_leaving_drains(conn):
    with conn.pipeline() as p:
        p.ping()
        p.ping()
    assert conn.ping() > 0
    p = conn.pipeline()
    p.alloc(nbytes=8)
    del p
    assert conn.ping() > 0
    p = conn.pipeline()
    p.ping()
    p.reset()
    assert len(p) == 0 and p.execute() == []


def test_append_checks_arguments(conn):
    p = conn.pipeline()
    with pytest.raises(heapd.InvalidArgument):
        p.read(1, -1, 4)
    with pytest.raises(TypeError):
        p.read(1, 0)
    with pytest.raises(heapd.InvalidArgument, match="NUL"):
        p.root_get("a\0")
    assert len(p) == 0


def test_closed_connection(daemon):
    c = daemon.connect()
    p = c.pipeline()
    p.ping()
    c.close()
    with pytest.raises(heapd.ConnectionError):
        p.ping()
    with pytest.raises(heapd.ConnectionError):
        p.execute()
