"""retained and root_retained: what an object or a root reaches, blocking
and pipelined, and their bad input."""

import pytest

import heapd


def test_retained(conn):
    head = conn.alloc(nrefs=2, data=b"head")
    one = conn.alloc(data=b"x" * 100, into=head, slot=0)
    conn.alloc(nrefs=1, into=head, slot=1)
    got = conn.retained(head)
    assert isinstance(got, heapd.Retained) and isinstance(got, tuple)
    objects, size = got
    assert objects == 3 and got.objects == 3
    parts = sum(conn.object_info(r).size for r in (head, one, conn.get_ref(head, 1)))
    assert size == got.bytes == parts
    assert conn.retained(one) == (1, conn.object_info(one).size)


def test_root_retained(conn):
    ref = conn.alloc(nrefs=1, data=b"r")
    conn.alloc(into=ref, slot=0, data=b"child")
    conn.root_set("py-retained", ref)
    assert conn.root_retained("py-retained") == conn.retained(ref)
    assert conn.root_retained(b"py-retained").objects == 2
    conn.root_set("py-retained", None)
    with pytest.raises(heapd.NotFound):
        conn.root_retained("py-retained")


def test_retained_bad_input(conn):
    gone = conn.alloc()
    conn.release(gone)
    conn.gc()
    for bad in (gone, 0, None):
        with pytest.raises(heapd.BadRef):
            conn.retained(bad)
    with pytest.raises(TypeError):
        conn.retained("1")
    with pytest.raises(TypeError):
        conn.root_retained(1)
    with pytest.raises(heapd.InvalidArgument):
        conn.root_retained("")
    with pytest.raises(heapd.InvalidArgument):
        conn.retained(2**64)


def test_retained_pipelined(conn):
    ref = conn.alloc(nrefs=1)
    conn.root_set("py-retained-p", ref)
    p = conn.pipeline()
    p.retained(ref)
    p.root_retained("py-retained-p")
    p.root_retained("py-no-such-root")
    p.retained(0)
    a, b, missing, bad = p.execute(raise_on_error=False)
    assert a == b == (1, conn.object_info(ref).size)
    assert isinstance(missing, heapd.NotFound) and isinstance(bad, heapd.BadRef)
    conn.root_set("py-retained-p", None)
