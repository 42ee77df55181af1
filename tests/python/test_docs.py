"""docs/python.md's examples and the README's lines run, in order, against a real heapd."""

import os
import re
import subprocess

import pytest

import heapd

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "python.md")


def test_walkthrough_runs(daemon, monkeypatch):
    with open(DOC) as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    assert len(blocks) >= 2
    monkeypatch.setenv("HEAPD_SOCKET", daemon.sock)
    scope = {}
    for code in blocks:
        exec(compile(code, DOC, "exec"), scope)  # noqa: S102 - the doc's own examples
    with daemon.connect() as c:
        assert c.root_get("list") is None


README = os.path.join(os.path.dirname(DOC), "..", "README.md")


def test_readme_lines_run(daemon):
    """The README's heapctl lines and Python lines, after the quick start, with
    run/heapd.sock and the build tree's paths pointing at this test's own."""
    with open(README) as f:
        text = f.read()
    shell = re.search(r"```sh\nexport HEAPD_SOCKET=run/heapd.sock.*?\n(.*?)```", text, re.S)
    python = re.findall(r"```python\n(.*?)```", text, re.S)
    assert shell and len(python) == 1
    heapctl = os.environ.get("HEAPCTL_BIN", "client/heapctl/heapctl")
    env = dict(os.environ, HEAPD_SOCKET=daemon.sock,
               PATH=os.path.dirname(os.path.abspath(heapctl)) + ":" + os.environ["PATH"])
    out = subprocess.run(["sh", "-ec", shell.group(1)], env=env, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert re.fullmatch(r"0x[0-9a-f]+", lines[0]) and re.fullmatch(r"0x[0-9a-f]+", lines[1])
    assert lines[2] == 'list %s refs 1 bytes 5 "first"' % lines[0]
    assert lines[3] == '  .0 %s refs 0 bytes 6 "second"' % lines[1]
    code = python[0].replace('"run/heapd.sock"', repr(daemon.sock))
    scope = {}
    exec(compile(code, README, "exec"), scope)  # noqa: S102 - the README's own lines
    head = scope["head"]
    with daemon.connect() as c:
        assert c.root_get("list") is None   # heapctl root del dropped it
        c.gc()
        with pytest.raises(heapd.BadRef):   # released and collected
            c.read(head)
