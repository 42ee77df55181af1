"""Timeouts: connect(timeout=), Connection.timeout, $HEAPD_TIMEOUT_MS, and
a daemon that stops answering (SIGSTOP): heapd.TimeoutError, the
connection closed."""

import math
import signal
import threading
import time

import pytest

import heapd


def test_timeout_property(daemon, monkeypatch):
    monkeypatch.delenv("HEAPD_TIMEOUT_MS", raising=False)
    with heapd.connect(daemon.sock) as c:
        assert c.timeout is None
        c.timeout = 1.5
        assert c.timeout == 1.5
        c.timeout = 0.0001  # rounded up to 1 ms
        assert c.timeout == 0.001
        c.timeout = 2
        assert c.timeout == 2.0
        c.timeout = None
        assert c.timeout is None
        for bad in (0, -1, math.nan, math.inf, 5e6):
            with pytest.raises(heapd.InvalidArgument):
                c.timeout = bad
        with pytest.raises(TypeError):
            c.timeout = "1"
        with pytest.raises(AttributeError):
            del c.timeout
        assert c.ping() > 0
    with heapd.connect(daemon.sock, timeout=0.25) as c:
        assert c.timeout == 0.25
    with pytest.raises(TypeError):
        heapd.connect(daemon.sock, timeout="1")
    with pytest.raises(heapd.InvalidArgument):
        heapd.connect(daemon.sock, timeout=0)


def test_timeout_from_env(daemon, monkeypatch):
    monkeypatch.setenv("HEAPD_TIMEOUT_MS", "1500")
    with heapd.connect(daemon.sock) as c:
        assert c.timeout == 1.5
    with heapd.connect(daemon.sock, timeout=0.5) as c:  # the argument wins
        assert c.timeout == 0.5
    with heapd.connect(daemon.sock) as c:  # and the variable is as it was
        assert c.timeout == 1.5
    monkeypatch.setenv("HEAPD_TIMEOUT_MS", "soon")
    with pytest.raises(heapd.InvalidArgument):
        heapd.connect(daemon.sock)
    with heapd.connect(daemon.sock, timeout=1) as c:  # not read when given
        assert c.timeout == 1.0
    monkeypatch.delenv("HEAPD_TIMEOUT_MS")
    with heapd.connect(daemon.sock) as c:
        assert c.timeout is None


@pytest.fixture
def stopped(start_daemon):
    """A daemon of its own, and a function that SIGSTOPs it; SIGCONT after."""
    d = start_daemon()
    yield d, lambda: d.proc.send_signal(signal.SIGSTOP)
    d.proc.send_signal(signal.SIGCONT)


def test_call_times_out(stopped):
    d, stop = stopped
    c = heapd.connect(d.sock, timeout=0.2)
    ref = c.alloc(data=b"x")
    stop()
    t0 = time.monotonic()
    with pytest.raises(heapd.TimeoutError) as e:
        c.read(ref)
    assert 0.15 < time.monotonic() - t0 < 5
    assert e.value.code == heapd.HEAPD_ETIMEDOUT and "200 ms" in e.value.message
    assert isinstance(e.value, TimeoutError)
    assert c.closed
    with pytest.raises(heapd.ConnectionError):
        c.ping()
    c.close()


def test_pipeline_and_batch_time_out(stopped):
    d, stop = stopped
    c1, c2 = heapd.connect(d.sock, timeout=0.2), heapd.connect(d.sock, timeout=0.2)
    stop()
    p = c1.pipeline()
    p.ping()
    p.ping()
    got = p.execute(raise_on_error=False)
    assert all(isinstance(g, heapd.TimeoutError) for g in got)
    assert c1.closed
    b = c2.batch()
    b.alloc()
    with pytest.raises(heapd.TimeoutError):
        b.execute()
    assert c2.closed


def test_connect_times_out(stopped):
    d, stop = stopped
    stop()
    t0 = time.monotonic()
    with pytest.raises(heapd.TimeoutError) as e:
        heapd.connect(d.sock, timeout=0.2)
    assert time.monotonic() - t0 < 5
    assert "Hello" in e.value.message


def test_connects_in_threads(daemon, monkeypatch):
    """Connects with and without timeouts at once: each gets its own."""
    monkeypatch.delenv("HEAPD_TIMEOUT_MS", raising=False)
    got, errors = [], []

    def work(timeout):
        try:
            for _ in range(30):
                with heapd.connect(daemon.sock, timeout=timeout) as c:
                    got.append((timeout, c.timeout))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(t,)) for t in (None, 0.5, None, 2.0)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert len(got) == 120 and all(want == have for want, have in got)
