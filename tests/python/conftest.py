"""Fixtures of the heapd package's tests: a heapd of the test module's own,
started as tests/daemon/daemonutil.h starts one (the build's daemon from
$HEAPD_BIN, a fresh temporary directory for its socket and state_dir, no
saves), and a connection to it per test."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import heapd


class Daemon:
    """A heapd on a socket in a temporary directory of its own."""

    def __init__(self, *flags):
        self.dir = tempfile.mkdtemp(prefix="heapd-pytest.")
        self.sock = os.path.join(self.dir, "heapd.sock")
        self.log = os.path.join(self.dir, "heapd.log")
        self.flags = flags
        self.proc = None

    def start(self):
        argv = [os.environ.get("HEAPD_BIN", "daemon/heapd"), "--config", "/dev/null", "--socket", self.sock,
                "--log-level", "debug", "--state-dir", os.path.join(self.dir, "state"),
                "--save-on-stop", "no", "--save-interval", "0", *self.flags]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(500):
            if self.proc.poll() is not None:
                break
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                return self
            except OSError:
                time.sleep(0.01)
        with open(self.log) as f:
            pytest.fail("heapd did not start: " + f.read()[-2000:])

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self):
        return heapd.connect(self.sock)


@pytest.fixture(scope="module")
def daemon():
    d = Daemon().start()
    yield d
    d.cleanup()


@pytest.fixture
def start_daemon():
    """start_daemon(*flags): a daemon with those flags, stopped after the test."""
    started = []

    def start(*flags):
        d = Daemon(*flags).start()
        started.append(d)
        return d

    yield start
    for d in started:
        d.cleanup()


@pytest.fixture
def conn(daemon):
    with daemon.connect() as c:
        yield c
