"""`make test` runs pytest with ``-n 2 --dist loadgroup``: the ``xdist_group`` marks must hold.

xdist schedules a group by the ``@group`` suffix it adds to the node ids of its tests. When
that suffix is lost, a group (a module's browser, the 3-node cluster) runs on both workers,
each setting it up (a fifth more CPU, two browsers at once), and nothing says so: pytest 9.2
with pytest-xdist 3.8 did that (pytest-xdist issue 1386), hence pytest < 9.2 in
pyproject.toml. This test fails instead.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("harness")


def test_a_grouped_test_carries_its_group_under_loadgroup(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only under pytest -n N --dist loadgroup")
    assert request.node.nodeid.endswith("@harness"), (
        f"--dist loadgroup ignores xdist_group: pytest {pytest.__version__} with this "
        "pytest-xdist (pytest-xdist issue 1386)"
    )
