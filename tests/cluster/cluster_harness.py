"""A real multi-node Cleave cluster on loopback, for tests.

LocalCluster runs `cleave local --nodes N --data DIR --s3-port P`, which
starts N `cleave server` processes (node k serves S3 on 127.0.0.k:P and talks
to its peers on 127.0.0.k:P+1) and prints one `ready:` line once every node
answers /_cleave/health. The harness then lets a test do to single nodes what
a bad day does to a real cluster:

- kill(k): SIGKILL node k (`cleave local` does not restart it);
- restart(k): run node k again exactly as `cleave local` did, from
  DIR/nodek/cmdline and DIR/nodek/env.json, and wait until it serves;
- partition(k, on): node k drops every node-to-node frame (admin failpoint);
- compact(k): node k snapshots its shards and truncates its log now;
- status(k): node k's view of the cluster (`cleave admin status --json`).

Nothing here synchronises by sleeping: every wait polls a condition until a
deadline and fails with what it was waiting for and what it last saw.

stop() ends everything this harness started: SIGTERM to `cleave local` (which
stops its own nodes) and to the nodes restart() started; anything still
alive after the deadline is SIGKILLed by process id. The same object also
fits tests/e2e's server fixtures (endpoint, port, proc, running(), stop(),
kill(), start(), log_tail()), so the one-node suites can run against node 1
of a cluster.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

_E2E_DIR = Path(__file__).resolve().parents[1] / "e2e"
if str(_E2E_DIR) not in sys.path:
    sys.path.insert(0, str(_E2E_DIR))

import cleave_e2e as e2e  # noqa: E402  (shared credentials, binary lookup, clients)

READY_TIMEOUT_S = float(os.environ.get("CLEAVE_CLUSTER_READY_TIMEOUT", "90"))
STOP_TIMEOUT_S = float(os.environ.get("CLEAVE_CLUSTER_STOP_TIMEOUT", "30"))
ADMIN_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.05


class ClusterError(RuntimeError):
    pass


class ServerStartError(ClusterError, e2e.ServerStartError):
    pass


def seed_from_env(env_name: str = "CLEAVE_CLUSTER_SEED") -> int:
    """A test's seed: $env_name if set, else random; printed for replay."""
    seed = int(os.environ[env_name]) if os.environ.get(env_name) else random.randrange(1 << 32)
    print(f"seed {seed} (replay with {env_name}={seed})")
    return seed


def node_host(k: int) -> str:
    """Node k's loopback address, as `cleave local` assigns it."""
    assert 1 <= k <= 254, k
    return f"127.0.0.{k}"


def _port_pair_free(port: int, nodes: int) -> bool:
    # `cleave local` needs P (S3) and P+1 (cluster) on every node's address.
    for k in range(1, nodes + 1):
        for p in (port, port + 1):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((node_host(k), p))
                except OSError:
                    return False
    return True


def free_port_pair(nodes: int) -> int:
    """A port P such that P and P+1 were free a moment ago on every node address."""
    for _ in range(100):
        p = e2e.free_port()
        if p < 65535 and _port_pair_free(p, nodes):
            return p
    raise ClusterError("found no free pair of adjacent ports")


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str,
             interval_s: float = POLL_INTERVAL_S) -> Any:
    """Polls predicate() until it returns something truthy, which is returned.

    Exceptions from the predicate (a node mid-election, a refused connection)
    count as "not yet"; the last one is quoted if the deadline passes.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        try:
            v = predicate()
            if v:
                return v
            last = v
        except (ClusterError, OSError, KeyError, ValueError, IndexError, TypeError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; "
                                 f"last seen: {last!r}")
        time.sleep(interval_s)  # polling with a deadline, not synchronising


def _proc_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie (killed but not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # Field 3, after the parenthesised command name (which may hold spaces).
    state = stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


def _lock_free(path: Path) -> bool:
    """True if nobody holds the flock on `path` (as `cleave` takes it)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def health(host: str, port: int, timeout_s: float = 2.0) -> int | None:
    """HTTP status of GET /_cleave/health (no credentials), None if unreachable."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/_cleave/health")
        r = conn.getresponse()
        r.read()
        return r.status
    except OSError:
        return None
    finally:
        conn.close()


def shard_of(status: dict, shard_id: int = 1) -> dict:
    for s in status.get("shards", []):
        if s.get("id") == shard_id:
            return s
    raise KeyError(f"no shard {shard_id} in status {status!r}")


def replica_of(status: dict, node: int, shard_id: int = 1) -> dict:
    for r in shard_of(status, shard_id).get("replicas", []):
        if r.get("node") == node:
            return r
    raise KeyError(f"no replica of node {node} in shard {shard_id}: {status!r}")


class LocalCluster:
    """`cleave local` and the nodes it runs; see the module comment."""

    def __init__(self, data_dir: Path | str, nodes: int = 3, s3_port: int | None = None,
                 extra_args: Iterable[str] = (), log_dir: Path | str | None = None,
                 access_key: str = e2e.ACCESS_KEY, secret_key: str = e2e.SECRET_KEY,
                 entry_node: int = 1):
        assert nodes >= 1
        assert 1 <= entry_node <= nodes, entry_node
        self.entry_node = entry_node  # whose endpoint the e2e fixtures use
        self.data_dir = Path(data_dir)
        self.nodes = nodes
        self.port = s3_port
        self.extra_args = list(extra_args)
        self.log_dir = Path(log_dir) if log_dir is not None else self.data_dir.parent / (
            self.data_dir.name + "-logs")
        self.access_key = access_key
        self.secret_key = secret_key
        self.proc: subprocess.Popen | None = None      # `cleave local`
        self.ready_line: str | None = None
        self.stdout_lines: list[str] = []
        self.log_path: Path | None = None
        self._reader: threading.Thread | None = None
        self._starts = 0
        self._restarted: dict[int, subprocess.Popen] = {}   # node -> process restart() ran
        self._killed: set[int] = set()
        self._partitioned: set[int] = set()
        self.node_exit_codes: dict[int, int] = {}           # of nodes restart() ran, at stop()
        self.died_on_their_own: list[int] = []              # nodes found dead at stop()

    # ---------------------------------------------------------------- addresses

    def host(self, k: int) -> str:
        self._check_node(k)
        return node_host(k)

    def node_endpoint(self, k: int) -> str:
        return f"http://{self.host(k)}:{self.port}"

    def endpoints(self) -> list[str]:
        return [self.node_endpoint(k) for k in self.node_ids()]

    def node_ids(self) -> list[int]:
        return list(range(1, self.nodes + 1))

    def node_dir(self, k: int) -> Path:
        self._check_node(k)
        return self.data_dir / f"node{k}"

    def node_log(self, k: int) -> Path:
        return self.node_dir(k) / "log"

    # e2e fixture compatibility: the cluster as seen through one node (node 1
    # unless entry_node says otherwise, e.g. a gateway that holds no replica).
    @property
    def endpoint(self) -> str:
        return self.node_endpoint(self.entry_node)

    @property
    def localhost_endpoint(self) -> str:
        return f"http://localhost:{self.port}"

    def _check_node(self, k: int) -> None:
        if not 1 <= k <= self.nodes:
            raise ValueError(f"no node {k} in a {self.nodes}-node cluster")

    # ---------------------------------------------------------------- start/stop

    def command(self) -> list[str]:
        return [e2e.cleave_bin(), "local", "--nodes", str(self.nodes), "--data",
                str(self.data_dir), "--s3-port", str(self.port), *self.extra_args]

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["CLEAVE_ACCESS_KEY"] = self.access_key
        env["CLEAVE_SECRET_KEY"] = self.secret_key
        if extra:
            env.update({str(k): str(v) for k, v in extra.items()})
        return env

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Runs `cleave local` and waits for its ready line (every node serving).

        With no port given, picks a free one, and retries twice with another
        if the first attempt fails (a port taken in between); a second
        start() (after stop() or kill()) reuses the port and data directory.
        """
        binary = e2e.cleave_bin()
        if not os.access(binary, os.X_OK):
            raise ServerStartError(f"cleave binary not found or not executable: {binary} "
                                   f"(set CLEAVE_BIN)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        fixed = self.port is not None
        last: ServerStartError | None = None
        for _ in range(1 if fixed else 3):
            if not fixed:
                self.port = free_port_pair(self.nodes)
            try:
                self._start_once(timeout_s)
                return
            except ServerStartError as e:
                last = e
                if fixed:
                    break
                self.port = None
        assert last is not None
        raise last

    def _start_once(self, timeout_s: float) -> None:
        self._starts += 1
        self._restarted.clear()
        self._killed.clear()
        self._partitioned.clear()
        self.ready_line = None
        self.stdout_lines = []
        self.log_path = self.log_dir / f"cleave-local-{self._starts}.log"
        log = open(self.log_path, "w", buffering=1)
        log.write("$ " + shlex.join(self.command()) + "\n")
        ready = threading.Event()
        proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.DEVNULL, env=self._env(), text=True, bufsize=1)
        self.proc = proc

        self._reader = e2e.start_stdout_reader(self, proc, log, ready, close_log=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready.wait(POLL_INTERVAL_S):
                break
            if proc.poll() is not None:
                self._reader.join(5)
                self._kill_leftover_nodes()
                raise ServerStartError(
                    f"cleave local exited with code {proc.returncode} before it was ready:\n"
                    f"{self.log_tail(30)}")
        else:
            self._hard_stop()
            raise ServerStartError(f"cleave local printed no 'ready:' line within {timeout_s}s:\n"
                                   f"{self.log_tail(30)}")
        want = self.endpoints()
        got = [w for w in self.ready_line.split() if w.startswith("http://")]
        if got != want:
            self._hard_stop()
            raise ServerStartError(f"ready line {self.ready_line!r} does not list the endpoints "
                                   f"{want}")

    def running(self) -> bool:
        """True while `cleave local` runs (whatever happened to single nodes)."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM to `cleave local` and to every node restart() started; waits.

        Returns `cleave local`'s exit code; the restarted nodes' codes are in
        node_exit_codes, and nodes that had died without kill() (crashed) are
        listed in died_on_their_own. Anything still running after the deadline is
        SIGKILLed and reported with an AssertionError.
        """
        assert self.proc is not None, "stop() before start()"
        # A node that died without the harness killing it crashed: say so.
        self.died_on_their_own = [k for k in self.node_ids()
                                  if k not in self._killed and not self.node_running(k)]
        hung = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        for p in self._restarted.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        # Reap our own children first: until then they are zombies, which
        # `cleave local` (waiting for the pids in the pid files) sees as alive.
        for k, p in self._restarted.items():
            try:
                self.node_exit_codes[k] = p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                hung.append(f"node {k} (restarted, pid {p.pid})")
        try:
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            hung.append("cleave local")
        leftovers = self._kill_leftover_nodes()
        if hung:
            self._hard_stop()
        if self._reader:
            self._reader.join(5)
        if hung or leftovers:
            raise AssertionError(
                f"not stopped within {timeout_s}s of SIGTERM: {hung}; node processes left "
                f"running (SIGKILLed): {leftovers}\n{self.log_tail(20)}")
        return self.proc.returncode

    def kill(self, k: int | None = None) -> None:
        """SIGKILL node k; without k, every node and `cleave local` itself.

        Returns once the process is gone. kill() then start() is a whole-cluster
        power loss: the same data directories, the same port.
        """
        if k is None:
            self._hard_stop()
            return
        pid = self.pid(k)
        if not self.node_running(k):
            raise ClusterError(f"node {k} (pid {pid}) is not running")
        os.kill(pid, signal.SIGKILL)
        if k in self._restarted:
            self._restarted[k].wait()
        else:
            wait_for(lambda: not _proc_alive(pid), 10, f"node {k} (pid {pid}) to die")
        # The main thread turns zombie before the others have exited; the
        # data directory's lock goes with the last of them.
        wait_for(lambda: _lock_free(self.node_dir(k) / "LOCK"), 10,
                 f"node {k}'s data directory lock to be released")
        self._killed.add(k)
        self._partitioned.discard(k)   # a failpoint lives in memory only

    def join(self, timeout_s: float = READY_TIMEOUT_S) -> int:
        """Adds a new node to the running cluster: `cleave server` as node 1 runs,
        on the next loopback address with the next id (`--node-id` above the
        initial members). Returns its id once it serves; stop() stops it."""
        k = self.nodes + 1
        argv = json.loads((self.node_dir(1) / "cmdline").read_text())
        env = (self.node_dir(1) / "env.json").read_text()
        replace = {"--data": str(self.data_dir / f"node{k}"),
                   "--listen": f"{node_host(k)}:{self.port}",
                   "--cluster-listen": f"{node_host(k)}:{self.port + 1}",
                   "--node-id": str(k)}
        for i, a in enumerate(argv[:-1]):
            if a in replace:
                argv[i + 1] = replace[a]
        self.nodes = k
        d = self.node_dir(k)
        d.mkdir(parents=True, exist_ok=True)
        (d / "cmdline").write_text(json.dumps(argv) + "\n")
        (d / "env.json").write_text(env)
        self.restart(k, timeout_s, why="join")
        return k

    def restart(self, k: int, timeout_s: float = READY_TIMEOUT_S, why: str = "restart") -> None:
        """Runs node k again exactly as `cleave local` ran it; waits until it serves."""
        if self.node_running(k):
            raise ClusterError(f"node {k} is still running (pid {self.pid(k)})")
        d = self.node_dir(k)
        argv = json.loads((d / "cmdline").read_text())
        env_path = d / "env.json"
        extra = json.loads(env_path.read_text()) if env_path.exists() else {}
        assert isinstance(argv, list) and argv, f"bad {d / 'cmdline'}: {argv!r}"
        assert isinstance(extra, dict), f"bad {env_path}: {extra!r}"
        log = open(self.node_log(k), "ab")
        log.write(f"\n=== test harness: {why} node {k}: {shlex.join(argv)}\n".encode())
        log.flush()
        p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             env=self._env(extra))
        log.close()
        self._restarted[k] = p
        self._killed.discard(k)
        deadline = time.monotonic() + timeout_s
        while True:
            if p.poll() is not None:
                raise ClusterError(f"restarted node {k} exited with {p.returncode}:\n"
                                   f"{self.node_log_tail(k, 30)}")
            if health(self.host(k), self.port) == 200:
                return
            if time.monotonic() >= deadline:
                raise ClusterError(f"restarted node {k} not healthy within {timeout_s}s:\n"
                                   f"{self.node_log_tail(k, 30)}")
            time.sleep(POLL_INTERVAL_S)  # polling with a deadline

    def _node_pids(self) -> dict[int, int]:
        out = {}
        for k in self.node_ids():
            try:
                out[k] = self.pid(k)
            except (OSError, ValueError):
                pass
        return out

    def _ours(self, pid: int, k: int) -> bool:
        # Guards against a recycled pid: the process must be a cleave on
        # this node's data directory.
        argv = _proc_cmdline(pid)
        return bool(argv) and any(str(self.node_dir(k)) in a for a in argv)

    def _kill_leftover_nodes(self) -> list[int]:
        """SIGKILLs node processes of this cluster still alive; returns their ids."""
        left = []
        for k, pid in self._node_pids().items():
            if _proc_alive(pid) and self._ours(pid, k):
                left.append(k)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self._restarted.values():
            if p.poll() is None:
                p.kill()
            p.wait()
        return left

    def _hard_stop(self) -> None:
        """SIGKILL everything: nodes first (so `cleave local` cannot restart any)."""
        self._kill_leftover_nodes()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        for k, pid in self._node_pids().items():
            if self._ours(pid, k):
                wait_for(lambda: not _proc_alive(pid), 10, f"node {k} (pid {pid}) to die")
        if self._reader:
            self._reader.join(5)
        self._killed.update(self.node_ids())
        self._partitioned.clear()

    # ---------------------------------------------------------------- processes

    def pid(self, k: int) -> int:
        """Process id of node k: the one restart() ran, else DIR/nodek/pid."""
        if k in self._restarted:
            return self._restarted[k].pid
        return int((self.node_dir(k) / "pid").read_text().strip())

    def node_running(self, k: int) -> bool:
        if k in self._restarted:
            return self._restarted[k].poll() is None
        try:
            pid = self.pid(k)
        except (OSError, ValueError):
            return False
        return _proc_alive(pid) and self._ours(pid, k)

    def live_nodes(self) -> list[int]:
        return [k for k in self.node_ids() if self.node_running(k)]

    def connected_nodes(self) -> list[int]:
        """Nodes that run and are not partitioned by this harness."""
        return [k for k in self.live_nodes() if k not in self._partitioned]

    # ---------------------------------------------------------------- admin

    def admin(self, k: int, *args: str, timeout_s: float = ADMIN_TIMEOUT_S) -> str:
        """Runs `cleave admin --endpoint <node k> ARGS`; returns stdout."""
        cmd = [e2e.cleave_bin(), "admin", "--endpoint", self.node_endpoint(k), *args]
        try:
            p = subprocess.run(cmd, env=self._env(), capture_output=True, text=True,
                               timeout=timeout_s)
        except subprocess.TimeoutExpired as e:
            raise ClusterError(f"{shlex.join(cmd)} did not answer within {timeout_s}s") from e
        if p.returncode != 0:
            raise ClusterError(f"{shlex.join(cmd)} exited {p.returncode}: "
                               f"{p.stderr.strip()} {p.stdout.strip()}")
        return p.stdout

    def status(self, k: int) -> dict:
        """Node k's `cleave admin status --json`, parsed."""
        out = self.admin(k, "status", "--json")
        try:
            st = json.loads(out)
        except json.JSONDecodeError as e:
            raise ClusterError(f"status of node {k} is not JSON: {out[:500]!r}") from e
        if st.get("node_id") != k:
            raise ClusterError(f"node {k}'s status says node_id {st.get('node_id')}")
        return st

    def replica(self, k: int, shard_id: int = 1) -> dict:
        """Node k's own replica of the shard (applied, commit, last_index, ...)."""
        return replica_of(self.status(k), k, shard_id)

    def leader(self, among: Iterable[int] | None = None, shard_id: int = 1) -> int | None:
        """The shard's leader, as the asked nodes see it; None if not known.

        Asks every node in `among` (default: running, unpartitioned nodes);
        the claim with the highest term wins, and counts only if the named
        leader is one of the asked nodes and itself reports that it leads, in
        that term.
        """
        asked = list(among) if among is not None else self.connected_nodes()
        views = {}
        for k in asked:
            try:
                views[k] = shard_of(self.status(k), shard_id)
            except (ClusterError, KeyError):
                continue
        claims = [(v.get("term", 0), v.get("leader")) for v in views.values() if v.get("leader")]
        if not claims:
            return None
        term, lead = max(claims)
        own = views.get(lead)
        if own is None or own.get("leader") != lead or own.get("term") != term:
            return None
        roles = [r.get("role") for r in own.get("replicas", []) if r.get("node") == lead]
        return lead if roles == ["leader"] else None

    def wait_for_leader(self, timeout_s: float, among: Iterable[int] | None = None,
                        not_in: Iterable[int] = (), shard_id: int = 1) -> int:
        excluded = set(not_in)
        asked = list(among) if among is not None else None

        def found():
            lead = self.leader(asked, shard_id)
            return lead if lead and lead not in excluded else None

        return wait_for(found, timeout_s,
                        f"a leader of shard {shard_id} (not {sorted(excluded)}) among "
                        f"{asked if asked is not None else 'the connected nodes'}")

    def wait_for(self, predicate: Callable[[], Any], timeout_s: float, what: str = "a condition"):
        return wait_for(predicate, timeout_s, what)

    def wait_caught_up(self, k: int, timeout_s: float, shard_id: int = 1,
                       among: Iterable[int] | None = None) -> tuple[dict, dict]:
        """Waits until node k has caught up with the leaders. Call it with no
        S3 writes in flight.

        Every shard: node k must have applied at least what the shard's
        leader had committed when the wait began (the meta shard never stands
        still: every node's registry heartbeat is a write). Shard `shard_id`
        (the data shard, quiet now) must moreover match exactly: node k's
        applied index and log end equal the leader's, in one status report.
        Returns (node k's replica, the leader's replica) of that shard.
        """
        asked = list(among) if among is not None else None
        target: dict[int, int] = {}
        seen: list[str] = []

        def targets():
            for sid in [s["id"] for s in self.status(k).get("shards", [])]:
                lead = self.leader(asked, sid)
                if lead is None:
                    seen[:] = [f"shard {sid}: no leader"]
                    return None
                target[sid] = self.replica(lead, sid)["commit"]
            return True

        def check():
            st = self.status(k)
            out = None
            for sid, commit in target.items():
                mine = replica_of(st, k, sid)
                if mine.get("applied", -1) < commit:
                    seen[:] = [f"shard {sid}: node {k} applied {mine.get('applied')} < the "
                               f"leader's commit {commit} when the wait began"]
                    return None
                if sid != shard_id:
                    continue
                lead = shard_of(st, sid).get("leader")
                theirs = replica_of(st, lead, sid) if lead else {}
                if not (theirs.get("up") and mine["applied"] == theirs.get("applied")
                        == theirs.get("commit") and mine["last_index"] == theirs.get("last_index")):
                    seen[:] = [f"shard {sid}: node {k} {mine}; leader {lead} {theirs}"]
                    return None
                out = (mine, theirs)
            return out

        try:
            wait_for(targets, timeout_s, "the leaders' commit indexes")
            return wait_for(check, timeout_s, f"node {k} to catch up with the leaders")
        except AssertionError as e:
            raise AssertionError(f"{e}; last state: {seen}") from None

    def partition(self, k: int, on: bool) -> None:
        """Node k drops (on) or again passes (off) every node-to-node frame."""
        self.admin(k, "failpoint", "partition", "on" if on else "off")
        if on:
            self._partitioned.add(k)
        else:
            self._partitioned.discard(k)

    def partitioned(self) -> set[int]:
        return set(self._partitioned)

    def compact(self, k: int) -> None:
        self.admin(k, "compact")

    # ---------------------------------------------------------------- logs

    def node_log_tail(self, k: int, lines: int = 40) -> str:
        p = self.node_log(k)
        if not p.exists():
            return f"(no log at {p})"
        return "\n".join(p.read_text(errors="replace").splitlines()[-lines:])

    def log_tail(self, lines: int = 40) -> str:
        """Tails of `cleave local`'s log and of every node's log."""
        parts = []
        if self.log_path and self.log_path.exists():
            text = self.log_path.read_text(errors="replace").splitlines()
            parts.append(f"--- {self.log_path}\n" + "\n".join(text[-lines:]))
        for k in self.node_ids():
            parts.append(f"--- node {k} ({self.node_log(k)})\n" + self.node_log_tail(k, lines))
        return "\n".join(parts)

    def describe(self) -> str:
        return (f"{self.nodes}-node cluster on port {self.port}, data {self.data_dir}, "
                f"endpoints {' '.join(self.endpoints())}")
