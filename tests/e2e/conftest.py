"""pytest fixtures for the end-to-end suite.

`server` (one per test module) is a fresh `cleave dev` on a free port and an
empty data directory, with credentials from CLEAVE_ACCESS_KEY/SECRET_KEY; its
teardown stops it with SIGTERM and asserts a clean exit (code 0). Extra
server arguments come from $CLEAVE_DEV_ARGS, the binary from $CLEAVE_BIN.

With CLEAVE_E2E_NODES=3 the same fixtures start a 3-node `cleave local`
cluster instead and the suites talk to node 1 (which forwards writes to the
shard leader); see cleave_e2e.new_server().
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cleave_e2e as e2e  # noqa: E402

e2e.install_localhost_resolver()


def pytest_report_header(config):
    return [f"cleave binary: {e2e.cleave_bin()}",
            f"extra server args (CLEAVE_DEV_ARGS): {e2e.extra_server_args()}",
            f"nodes (CLEAVE_E2E_NODES): {e2e.e2e_nodes()}"]


# Suites that test the single-process `cleave dev` command itself rather than
# the S3 service behind an endpoint: in cluster mode there is nothing
# different for them to test.
_DEV_ONLY_MODULES = {"test_dev": "tests the `cleave dev` command itself (ready line, "
                                 "credentials file, data-dir lock); run by e2e_dev",
                     "test_splits": "splits of a one-node store's shards (`cleave dev "
                                    "--split-bytes`); run by e2e_splits"}


def pytest_collection_modifyitems(config, items):
    if e2e.e2e_nodes() == 1:
        return
    for item in items:
        reason = _DEV_ONLY_MODULES.get(item.module.__name__.rsplit(".", 1)[-1])
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"cluster mode: {reason}"))


def _start_server(tmp_path_factory, name: str):
    base = tmp_path_factory.mktemp(name)
    srv = e2e.new_server(base / "data", base / "logs")
    try:
        srv.start()
    except e2e.ServerStartError as err:
        pytest.fail(str(err), pytrace=False)
    print(f"cleave serving at {srv.endpoint}, data {srv.data_dir}, log {srv.log_path}")
    return srv


def _stop_server(srv) -> None:
    if srv.proc is None or not srv.running():
        # A test that killed it on purpose restarts it itself; a server that
        # died on its own is a failure.
        if srv.proc is not None and srv.proc.returncode not in (0, -9):
            raise AssertionError(
                f"cleave died during the tests with code {srv.proc.returncode}; "
                f"log {srv.log_path}:\n{srv.log_tail()}")
        return
    code = srv.stop()
    assert code == 0, (f"cleave exited with {code} on SIGTERM (want 0); "
                       f"log {srv.log_path}:\n{srv.log_tail()}")
    # Cluster mode: every node must have lived through the suite and stopped cleanly.
    died = getattr(srv, "died_on_their_own", [])
    assert not died, f"cluster nodes {died} died during the tests:\n{srv.log_tail()}"
    bad_nodes = {k: c for k, c in getattr(srv, "node_exit_codes", {}).items() if c != 0}
    assert not bad_nodes, f"cluster nodes exited with {bad_nodes} on SIGTERM (want 0)"


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    srv = _start_server(tmp_path_factory, request.module.__name__.rsplit(".", 1)[-1])
    yield srv
    _stop_server(srv)


@pytest.fixture()
def fresh_server(tmp_path_factory, request):
    """A server of one's own (for tests that kill or restart it)."""
    srv = _start_server(tmp_path_factory, request.node.name[:40])
    yield srv
    _stop_server(srv)


@pytest.fixture(scope="module")
def aws(server, tmp_path_factory):
    return e2e.AwsCli(server.endpoint, tmp_path_factory.mktemp("awshome"))


@pytest.fixture(scope="module")
def s3(server):
    """boto3 client, path style."""
    return e2e.boto3_client(server.endpoint, "path")


@pytest.fixture(scope="module", params=["path", "virtual"])
def s3any(server, request):
    """boto3 client, once path style and once virtual-host style."""
    endpoint = server.endpoint if request.param == "path" else server.localhost_endpoint
    return e2e.boto3_client(endpoint, request.param)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # On failure, attach the tail of the server's log to the report.
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for name in ("server", "fresh_server"):
            srv = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if srv is not None and hasattr(srv, "log_tail"):
                rep.sections.append((f"cleave log tail ({srv.log_path})", srv.log_tail(40)))
