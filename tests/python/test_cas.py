"""cas_ref and root_cas: a swap returns None, a conflict raises
heapd.Conflict with .was, in blocking calls, pipelines and batches; and
threads pushing onto one shared list with root_cas lose nothing."""

import threading

import pytest

import heapd


def test_cas_ref(conn):
    obj = conn.alloc(nrefs=2)
    a, b = conn.alloc(data=b"a"), conn.alloc(data=b"b")
    assert conn.cas_ref(obj, 0, None, a) is None
    assert conn.get_ref(obj, 0) == a
    with pytest.raises(heapd.Conflict) as e:
        conn.cas_ref(obj, 0, b, b)
    assert e.value.was == a and e.value.code == heapd.HEAPD_ECONFLICT
    assert conn.get_ref(obj, 0) == a
    with pytest.raises(heapd.Conflict) as e:
        conn.cas_ref(obj, 1, a, b)
    assert e.value.was is None
    conn.cas_ref(obj, 0, a, None)
    assert conn.get_ref(obj, 0) is None


def test_cas_ref_bad_input(conn):
    obj = conn.alloc(nrefs=1)
    gone = conn.alloc()
    conn.release(gone)
    conn.gc()
    with pytest.raises(heapd.BadRef):
        conn.cas_ref(gone, 0, None, obj)
    with pytest.raises(heapd.BadRef):
        conn.cas_ref(obj, 0, None, gone)
    with pytest.raises(heapd.RangeError):
        conn.cas_ref(obj, 1, None, None)
    with pytest.raises(heapd.Conflict) as e:  # a stale expected is only a conflict
        conn.cas_ref(obj, 0, gone, None)
    assert e.value.was is None
    with pytest.raises(TypeError):
        conn.cas_ref(obj, "0", None, None)
    with pytest.raises(TypeError):
        conn.cas_ref(obj, 0, 1.5, None)
    with pytest.raises(TypeError):
        conn.cas_ref(obj, 0, None)
    with pytest.raises(heapd.InvalidArgument):
        conn.cas_ref(obj, -1, None, None)


def test_root_cas(conn):
    a, b = conn.alloc(), conn.alloc()
    conn.root_cas("py-cas", None, a)  # made: it was absent
    assert conn.root_get("py-cas") == a
    with pytest.raises(heapd.Conflict) as e:
        conn.root_cas("py-cas", None, b)
    assert e.value.was == a
    conn.root_cas(b"py-cas", a, b)
    assert conn.root_get("py-cas") == b
    conn.root_cas("py-cas", b, None)  # deleted
    assert conn.root_get("py-cas") is None
    with pytest.raises(heapd.Conflict) as e:
        conn.root_cas("py-cas", a, b)
    assert e.value.was is None
    with pytest.raises(TypeError):
        conn.root_cas(1, None, a)
    with pytest.raises(heapd.InvalidArgument):
        conn.root_cas("", None, a)


def test_cas_in_a_pipeline(conn):
    obj, a = conn.alloc(nrefs=1), conn.alloc()
    p = conn.pipeline()
    p.cas_ref(obj, 0, None, a)
    p.cas_ref(obj, 0, None, a)
    p.root_cas("py-cas-pipe", None, a)
    p.root_cas("py-cas-pipe", None, obj)
    p.root_cas("py-cas-pipe", a, None)
    swapped, conflict, made, conflict2, deleted = p.execute(raise_on_error=False)
    assert swapped is None and made is None and deleted is None
    assert isinstance(conflict, heapd.Conflict) and conflict.was == a
    assert isinstance(conflict2, heapd.Conflict) and conflict2.was == a
    p.cas_ref(obj, 0, None, None)
    with pytest.raises(heapd.Conflict) as e:
        p.execute()
    assert e.value.was == a and len(e.value.results) == 1


def test_cas_in_a_batch(conn):
    obj, a, b = conn.alloc(nrefs=1), conn.alloc(), conn.alloc(data=b"b")
    conn.set_ref(obj, 0, a)
    batch = conn.batch()
    batch.cas_ref(obj, 0, b, None)     # fails: the rest is skipped
    batch.write(b, 0, b"X")
    with pytest.raises(heapd.Conflict) as e:
        batch.execute()
    assert e.value.index == 0 and e.value.was == a
    assert isinstance(e.value.results[1], heapd.Skipped)
    assert conn.read(b) == b"b"
    batch.reset()
    was = batch.cas_ref(obj, 0, a, b)
    batch.set_ref(obj, 0, was)          # the placeholder is what was there: a
    batch.root_cas("py-cas-batch", None, obj)
    assert batch.execute() == [None, None, None]
    assert conn.get_ref(obj, 0) == a
    conn.root_set("py-cas-batch", None)


def push(conn, name, data):
    """Pushes a node onto the list at root name: node.slot0 = head, then a
    root_cas from head to node, again from what was there on a conflict."""
    node = conn.alloc(nrefs=1, data=data)
    head = conn.root_get(name)
    if head is not None:
        conn.release(head)
    conflicts = 0
    while True:
        conn.set_ref(node, 0, head)
        try:
            conn.root_cas(name, head, node)
            break
        except heapd.Conflict as e:
            head = e.was
            conflicts += 1
    conn.release(node)
    return conflicts


def test_threads_push_with_root_cas(daemon):
    threads, per = 4, 150
    conflicts, errors = [], []

    def worker(t):
        try:
            with daemon.connect() as c:
                conflicts.append(sum(push(c, "py-cas-list", b"%d:%d" % (t, i)) for i in range(per)))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    with daemon.connect() as c:
        c.gc()
        seen, node = [], c.root_get("py-cas-list")
        while node is not None:
            seen.append(c.read(node))
            nxt = c.get_ref(node, 0)
            c.release(node)
            node = nxt
        c.root_set("py-cas-list", None)
    assert sorted(seen) == sorted(b"%d:%d" % (t, i) for t in range(threads) for i in range(per))
    for t in range(threads):  # each thread's own pushes stay in its order
        mine = [s for s in seen if s.startswith(b"%d:" % t)]
        assert mine == [b"%d:%d" % (t, i) for i in reversed(range(per))]
