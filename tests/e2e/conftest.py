"""pytest fixtures for the end-to-end suite.

`server` (one per test module) is a fresh `cleave dev` on a free port and an
empty data directory, with credentials from CLEAVE_ACCESS_KEY/SECRET_KEY; its
teardown stops it with SIGTERM and asserts a clean exit (code 0). Extra
server arguments come from $CLEAVE_DEV_ARGS, the binary from $CLEAVE_BIN.
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
            f"extra server args (CLEAVE_DEV_ARGS): {e2e.extra_server_args()}"]


def _start_server(tmp_path_factory, name: str) -> e2e.CleaveServer:
    base = tmp_path_factory.mktemp(name)
    srv = e2e.CleaveServer(base / "data", base / "logs")
    try:
        srv.start()
    except e2e.ServerStartError as err:
        pytest.fail(str(err), pytrace=False)
    print(f"cleave serving at {srv.endpoint}, data {srv.data_dir}, log {srv.log_path}")
    return srv


def _stop_server(srv: e2e.CleaveServer) -> None:
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
            if isinstance(srv, e2e.CleaveServer):
                rep.sections.append((f"cleave log tail ({srv.log_path})", srv.log_tail(40)))
