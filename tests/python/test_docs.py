"""docs/python.md's examples run, in order, against a real heapd."""

import os
import re

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
