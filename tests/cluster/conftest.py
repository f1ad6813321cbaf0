"""pytest fixtures for the multi-node suites.

`cluster` is a fresh 3-node `cleave local` for one test (these tests kill
and partition nodes, so nothing is shared between tests); `cluster_factory`
makes clusters with other arguments. Teardown stops everything the test
started and asserts clean exits; a failing test's report ends with the tails
of `cleave local`'s log and of every node's log.

Environment:
  CLEAVE_BIN           the binary under test (default <repo>/build/cleave)
  CLEAVE_CLUSTER_ARGS  extra `cleave local` arguments (e.g. an engine)
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cluster_harness as ch  # noqa: E402  (also puts tests/e2e on sys.path)
import cleave_e2e as e2e  # noqa: E402

e2e.install_localhost_resolver()


def pytest_report_header(config):
    return [f"cleave binary: {e2e.cleave_bin()}",
            f"extra cleave local args (CLEAVE_CLUSTER_ARGS): {extra_cluster_args()}"]


def extra_cluster_args() -> list[str]:
    return shlex.split(os.environ.get("CLEAVE_CLUSTER_ARGS", ""))


@pytest.fixture()
def cluster_factory(tmp_path_factory, request):
    made: list[ch.LocalCluster] = []
    request.node.cleave_clusters = made

    def make(nodes: int = 3, extra_args: list[str] | tuple = ()) -> ch.LocalCluster:
        base = tmp_path_factory.mktemp(request.node.name[:40])
        c = ch.LocalCluster(base / "data", nodes=nodes,
                            extra_args=[*extra_args, *extra_cluster_args()],
                            log_dir=base / "logs")
        made.append(c)
        try:
            c.start()
        except ch.ServerStartError as err:
            pytest.fail(str(err), pytrace=False)
        print(c.describe())
        return c

    yield make
    problems = []
    for c in made:
        if c.proc is None:
            continue
        try:
            code = c.stop()
        except AssertionError as e:
            problems.append(str(e))
            continue
        if code != 0:
            problems.append(f"cleave local exited {code} on SIGTERM (want 0)")
        if c.died_on_their_own:
            problems.append(f"nodes {c.died_on_their_own} died without being killed by the test")
        for k, kc in c.node_exit_codes.items():
            if kc != 0:
                problems.append(f"restarted node {k} exited {kc} on SIGTERM (want 0)")
        if problems:
            problems.append(c.log_tail(30))
    assert not problems, "\n".join(problems)


@pytest.fixture()
def cluster(cluster_factory) -> ch.LocalCluster:
    return cluster_factory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # On failure, attach the tails of the cluster's logs to the report.
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for c in getattr(item, "cleave_clusters", []):
            rep.sections.append((f"cleave logs ({c.describe()})", c.log_tail(40)))
