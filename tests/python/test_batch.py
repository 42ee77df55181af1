"""Connection.batch(): ops run as one request, placeholders for results."""

import pytest

import heapd


def test_linked_list_in_one_request(conn):
    b = conn.batch()
    head = b.alloc(nrefs=1, data=b"head")
    mid = b.alloc(nrefs=1, data=b"mid", into=head, slot=0)
    b.alloc(data=b"tail", into=mid, slot=0)
    b.root_set("py-batch", head)
    got = b.get_ref(head, 0)
    b.read(got, 0, 3)
    assert (head.index, mid.index, len(b)) == (0, 1, 6)
    res = b.execute()
    assert res[3] is None and res[5] == b"mid"
    h = conn.root_get("py-batch")
    assert h == res[0] and conn.read(conn.get_ref(conn.get_ref(h, 0), 0)) == b"tail"
    conn.root_set("py-batch", None)


def test_failure_skips_the_rest(conn):
    ref = conn.alloc(nbytes=4)
    b = conn.batch()
    b.write(ref, 0, b"ok")
    b.read(ref, 2, 10)
    b.write(ref, 0, b"no")
    with pytest.raises(heapd.RangeError) as e:
        b.execute()
    assert e.value.index == 1
    assert e.value.results[0] is None and isinstance(e.value.results[2], heapd.Skipped)
    assert conn.read(ref) == b"ok\0\0"
    out = b.execute(raise_on_error=False)
    assert isinstance(out[1], heapd.RangeError)


def test_placeholders_belong_to_their_batch(conn):
    b1, b2 = conn.batch(), conn.batch()
    p = b1.alloc(nbytes=1)
    with pytest.raises(heapd.InvalidArgument, match="another batch"):
        b2.write(p, 0, b"x")
    b1.reset()
    assert len(b1) == 0
    with pytest.raises(heapd.InvalidArgument, match="reset"):
        b1.write(p, 0, b"x")
    with pytest.raises(TypeError):
        conn.read(p)


def test_runs_again(conn):
    ref = conn.alloc(nbytes=8)
    b = conn.batch()
    b.write(ref, 0, b"again")
    b.stats()
    for _ in range(2):
        w, s = b.execute()
        assert w is None and isinstance(s, heapd.Stats)
    b.read(ref, 0, 5)
    assert b.execute()[2] == b"again"


def test_too_many_ops(conn):
    b = conn.batch()
    for _ in range(conn.max_batch_ops + 1):
        b.stats()
    with pytest.raises(heapd.LimitError) as e:
        b.execute()
    assert e.value.index == -1
    assert all(isinstance(r, heapd.Skipped) for r in e.value.results)
