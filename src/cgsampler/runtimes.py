"""Container runtimes: which runtime made a cgroup, and its metadata.

Two halves:

- Pure naming (:func:`classify`): a cgroup name -> the runtime whose naming it
  follows and the container id, for docker, podman, containerd, cri-o and
  systemd units, with the cgroupfs and systemd cgroup drivers, on v1 and v2
  (cAdvisor's rules, cadvisor-v1-spec.md section 2).
- Metadata (:class:`Registry`): names, labels, env vars, image and creation
  time from each runtime, fetched when a container appears, by one background
  thread, cached, with a timeout. The sweep never waits for it; a runtime that is
  down leaves its containers raw-named and is reported in ``Registry.errors``.

Sources per runtime: the Docker Engine API (``GET /containers/<id>/json``) on its
unix socket, for docker and for podman (``podman system service`` serves the
same API); cri-o's info API (``GET /containers/<id>``) on its socket; containerd
has only gRPC, so its containers are read from the runtime v2 task bundles it
keeps on disk (``<state>/io.containerd.runtime.v2.task/<ns>/<id>/config.json``,
the OCI spec, and ``init.pid``). Plain ``http.client`` over AF_UNIX, no new
dependency.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from cgsampler import errors, v1

__all__ = [
    "Match", "Metadata", "classify", "parse_docker", "parse_crio", "parse_containerd_bundle",
    "filter_envs", "apply_spec", "path_only", "http_get_json", "DockerAPI", "CrioAPI", "ContainerdState", "Registry", "RuntimeDown",
    "RuntimeTimeout", "NotRunning",
    "RUNTIMES", "DEFAULT_ENDPOINTS", "default_runtimes",
]

RUNTIMES = ("docker", "podman", "containerd", "crio", "systemd")
NAMESPACES = {"docker": "docker", "podman": "podman", "containerd": "containerd", "crio": "crio"}
DEFAULT_ENDPOINTS = {
    "docker": ("/var/run/docker.sock", "/run/docker.sock"),
    "podman": ("/run/podman/podman.sock",),
    "crio": ("/var/run/crio/crio.sock", "/run/crio/crio.sock"),
    "containerd": ("/run/containerd",),            # the state directory, read on disk
}
TIMEOUT_S = 2.0          # per request to a runtime
DOWN_RETRY_S = 5.0       # a runtime that failed is not asked again for this long
MAX_ENTRY_RETRY_S = 300.0   # cap of one stuck container's back-off
MAX_TIMEOUT_S = 3600.0      # runtime_timeout above this is a mistake (and past what threading waits on)
STUCK_IN_A_ROW = 2          # container requests timing out in a row before the runtime counts as down
MAX_BODY = 16 << 20      # a larger answer is refused
_YEAR_10000_NS = 253402300800 * 10**9      # RFC 3339 (and Go's JSON) stop at year 9999

_HEX64 = "[0-9a-f]{64}"
_ID_RUN = re.compile("[a-z0-9]{64}")       # cAdvisor's id rule: the first such run in the basename
# basename pattern -> runtime; the ids of the specific forms are exact hex.
_PATTERNS = (
    (re.compile(rf"docker-({_HEX64})\.scope"), "docker"),            # systemd driver
    (re.compile(rf"libpod-({_HEX64})(?:\.scope)?"), "podman"),       # both drivers; libpod-conmon-* is not
    (re.compile(rf"cri-containerd-({_HEX64})\.scope"), "containerd"),
    (re.compile(rf"crio-({_HEX64})(?:\.scope)?"), "crio"),           # crio-conmon-* is not
)
_UNIT_SUFFIXES = (".service", ".scope", ".socket")
_NOT_CONTAINERS = (".mount", ".slice")     # slices group containers; mounts are never containers


@dataclass(frozen=True)
class Match:
    """What a cgroup name says about its container.

    ``runtime``: "docker", "podman", "containerd", "crio" (the name follows that
    runtime's naming), "" (a 64-character id but no runtime-specific form: any
    runtime may own it, e.g. ``/kubepods/besteffort/pod<uid>/<id>``),
    "systemd" (a unit: ``/system.slice/sshd.service``) or "raw".
    ``id``: the container id ("" for systemd and raw); ``unit``: the systemd unit.
    """
    runtime: str
    id: str = ""
    unit: str = ""

    @property
    def candidates(self) -> tuple:
        """Runtimes that may own the container, in the order they are asked."""
        if self.runtime in NAMESPACES:
            return (self.runtime,)
        if self.runtime == "":
            return ("docker", "podman", "containerd", "crio")
        return ()


def classify(name: str) -> Match:
    """Which runtime's naming the cgroup `name` follows (pure)."""
    parts = [p for p in name.split("/") if p]
    if not parts:
        return Match("raw")
    base = parts[-1]
    if base.endswith(_NOT_CONTAINERS):
        return Match("raw")
    for pattern, runtime in _PATTERNS:
        m = pattern.fullmatch(base)
        if m:
            return Match(runtime, m.group(1))
    if len(parts) >= 2 and parts[-2] == "docker" and re.fullmatch(_HEX64, base):
        return Match("docker", base)               # cgroupfs driver: /docker/<id>
    if "conmon" in base:
        return Match("raw")                        # podman and cri-o monitor processes
    if len(parts) >= 2 and parts[-2] == "libpod_parent" and re.fullmatch(_HEX64, base):
        return Match("raw")                        # a podman pod (cgroupfs driver): its containers are below
    run = _ID_RUN.search(base)
    if run:
        return Match("", run.group(0))
    if base.endswith(_UNIT_SUFFIXES):
        return Match("systemd", unit=base)
    return Match("raw")


@dataclass
class Metadata:
    """One container as its runtime describes it.

    ``aliases`` and ``namespace`` go into the ContainerReference as cAdvisor
    sets them; ``labels``, ``envs`` (already filtered by the allow-list),
    ``image`` and ``created`` (None: unknown, keep the cgroup's time) into the
    ContainerSpec. ``name`` is the runtime's own name for it ("" if none),
    ``pid`` its main process (0 if unknown).
    """
    runtime: str
    id: str
    name: str = ""
    aliases: list = field(default_factory=list)
    namespace: str = ""
    labels: dict = field(default_factory=dict)
    envs: dict = field(default_factory=dict)
    image: str = ""
    created: object = None      # v1.Time, or None: unknown (the cgroup's time is kept)
    pid: int = 0

    @property
    def display_name(self) -> str:
        return self.name or self.id[:12]


def filter_envs(env, allow, lower=False) -> dict:
    """``KEY=VALUE`` entries whose key starts with one of `allow` (cAdvisor's
    prefix rule; empty entries ignored), keys lower-cased if `lower` (docker)."""
    prefixes = tuple(a for a in allow if a)
    out = {}
    if not prefixes:
        return out
    for entry in env or ():
        key, sep, value = str(entry).partition("=")
        if sep and key.startswith(prefixes):
            out[key.lower() if lower else key] = value
    return out


def _rfc3339(text):
    """Docker's ``Created`` (RFC 3339 with nanoseconds) -> v1.Time, None if absent or bad."""
    if not isinstance(text, str) or not text:
        return None
    try:
        t = v1.Time.parse(text)
    except (ValueError, TypeError):
        return None
    return None if t.is_zero() or t.unix_ns <= 0 else t


def apply_spec(spec, meta: Metadata):
    """Puts the runtime's labels, envs, image and creation time into a v1.ContainerSpec."""
    spec.labels = dict(meta.labels) or None
    spec.envs = dict(meta.envs) or None
    spec.image = meta.image
    if meta.created is not None:
        spec.creation_time = meta.created
    return spec


def parse_docker(doc: dict, namespace: str = "docker", env_allow=(), cid=None) -> Metadata | None:
    """A Docker Engine API ``ContainerInspectResponse`` (docker's, or podman's
    compatible one) -> Metadata; None unless the container is running (cAdvisor
    names a stopped container's cgroup raw). `cid`: the id the cgroup name gives,
    which cAdvisor uses as the reference's id (default: the answer's ``Id``)."""
    state = doc.get("State") or {}
    if not state.get("Running"):
        return None
    cfg = doc.get("Config") or {}
    cid = str(doc.get("Id") or "") if cid is None else cid
    name = str(doc.get("Name") or "").lstrip("/")
    labels = {str(k): str(v) for k, v in (cfg.get("Labels") or {}).items()}
    restarts = doc.get("RestartCount") or 0
    if isinstance(restarts, int) and restarts > 0:
        labels["restartcount"] = str(restarts)
    return Metadata(
        runtime=namespace, id=cid, name=name,
        aliases=[name, cid] if name else [cid], namespace=namespace,
        labels=labels, envs=filter_envs(cfg.get("Env"), env_allow, lower=True),
        image=str(cfg.get("Image") or ""), created=_rfc3339(doc.get("Created")),
        pid=int(state.get("Pid") or 0))


def parse_crio(doc: dict, cid: str) -> Metadata:
    """cri-o's ``GET /containers/<id>`` answer -> Metadata (cri-o sets no envs)."""
    labels = {str(k): str(v) for k, v in (doc.get("labels") or {}).items()}
    restarts = (doc.get("annotations") or {}).get("io.kubernetes.container.restartCount", "")
    if restarts.isdigit() and int(restarts) > 0:
        labels["restartcount"] = restarts
    name = str(doc.get("name") or "")
    created = doc.get("created_time") or 0
    return Metadata(
        runtime="crio", id=cid, name=name, aliases=[name, cid] if name else [cid], namespace="crio",
        labels=labels, image=str(doc.get("image") or ""),
        created=(v1.Time.from_unix_ns(created)
                 if isinstance(created, int) and 0 < created < _YEAR_10000_NS else None),
        pid=int(doc.get("pid") or 0))


# CRI's annotations on the OCI spec -> the labels the CRI plugin sets on the
# containerd container (kept in its database, which only gRPC serves).
_CRI_ANNOTATION_LABELS = {
    "io.kubernetes.cri.container-name": "io.kubernetes.container.name",
    "io.kubernetes.cri.sandbox-name": "io.kubernetes.pod.name",
    "io.kubernetes.cri.sandbox-namespace": "io.kubernetes.pod.namespace",
    "io.kubernetes.cri.sandbox-uid": "io.kubernetes.pod.uid",
    "io.kubernetes.cri.container-type": "io.cri-containerd.kind",
}


def parse_containerd_bundle(config: dict, cid: str, cgroup_name: str, pid: int = 0,
                            env_allow=()) -> Metadata:
    """A containerd task bundle's OCI ``config.json`` -> Metadata. The reference
    is cAdvisor's for containerd (aliases: id and cgroup name); labels from the
    CRI annotations, the image from ``io.kubernetes.cri.image-name``, envs from
    ``process.env`` (prefix rule, keys as written). Creation time unknown (None)."""
    ann = {str(k): str(v) for k, v in (config.get("annotations") or {}).items()}
    labels = {label: ann[a] for a, label in _CRI_ANNOTATION_LABELS.items() if a in ann}
    env = (config.get("process") or {}).get("env")
    return Metadata(
        runtime="containerd", id=cid, name=ann.get("io.kubernetes.cri.container-name", ""),
        aliases=[cid, cgroup_name], namespace="containerd", labels=labels,
        envs=filter_envs(env, env_allow), image=ann.get("io.kubernetes.cri.image-name", ""),
        pid=pid)


def path_only(match: Match, cgroup_name: str) -> Metadata | None:
    """The reference a cgroup name alone gives: containerd's (cAdvisor's
    containerd aliases need no API), None for the others."""
    if match.runtime == "containerd":
        return Metadata(runtime="containerd", id=match.id, aliases=[match.id, cgroup_name],
                        namespace="containerd")
    return None


# --- clients ------------------------------------------------------------------------

class RuntimeDown(OSError):
    """A runtime that cannot be reached or answers nonsense."""


class RuntimeTimeout(RuntimeDown):
    """A request that got no whole answer in time: the runtime is down, or
    only this container is stuck (docker's inspect of a container being removed)."""


class NotRunning(Exception):
    """The runtime knows the container, but it is not running (yet): created,
    not started. Named raw, as cAdvisor does, and asked again later."""


class _DeadlineSocket(socket.socket):
    """A socket whose every call gives up at one deadline, so the timeout bounds
    the whole request: a runtime that trickles its answer a byte at a time
    would otherwise hold the lookup thread for as long as it likes."""

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.settimeout(left)

    def recv_into(self, *args):
        self._left()
        return super().recv_into(*args)

    def recv(self, *args):
        self._left()
        return super().recv(*args)

    def sendall(self, *args):
        self._left()
        return super().sendall(*args)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = _DeadlineSocket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.deadline = time.monotonic() + self.timeout
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except BaseException:
            s.close()
            raise
        self.sock = s


def http_get_json(sock_path: str, path: str, timeout: float = TIMEOUT_S):
    """GET `path` over the unix socket: (status, decoded JSON or None).
    RuntimeDown for an unreachable socket, a timeout or a body that is not JSON."""
    conn = _UnixHTTPConnection(sock_path, timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        body = resp.read(MAX_BODY + 1)
        status = resp.status
    except TimeoutError:                      # socket.timeout
        raise RuntimeTimeout(f"{sock_path}: timed out (GET {path})") from None
    except (OSError, http.client.HTTPException) as e:
        raise RuntimeDown(f"{sock_path}: {e.strerror or e}" if isinstance(e, OSError) and e.strerror
                          else f"{sock_path}: {type(e).__name__}: {e}") from None
    finally:
        conn.close()
    if status == 404:
        return status, None
    if len(body) > MAX_BODY:
        raise RuntimeDown(f"{sock_path}: answer to {path} over {MAX_BODY} bytes")
    try:
        return status, json.loads(body)
    except (ValueError, RecursionError):     # RecursionError: nested too deep to decode
        raise RuntimeDown(f"{sock_path}: HTTP {status} to {path} is not JSON") from None


def _answers(sock_path: str, path: str, timeout: float) -> bool:
    """GET `path` answers 200 in time (a runtime's liveness probe)."""
    try:
        return http_get_json(sock_path, path, timeout)[0] == 200
    except RuntimeDown:
        return False


def _socket_path(endpoint: str) -> str:
    return endpoint[len("unix://"):] if endpoint.startswith("unix://") else endpoint


class DockerAPI:
    """The Docker Engine API on a unix socket (docker, or podman's service)."""

    def __init__(self, endpoint, namespace="docker", timeout=TIMEOUT_S, env_allow=()):
        self.endpoint, self.namespace = _socket_path(endpoint), namespace
        self.timeout, self.env_allow = timeout, tuple(env_allow)

    def inspect(self, cid: str, cgroup_name: str = "") -> Metadata | None:
        status, doc = http_get_json(self.endpoint, f"/containers/{cid}/json", self.timeout)
        if doc is None:
            return None
        if status != 200 or not isinstance(doc, dict):
            raise RuntimeDown(f"{self.endpoint}: HTTP {status} to /containers/{cid[:12]}/json")
        meta = parse_docker(doc, self.namespace, self.env_allow, cid)
        if meta is None:
            raise NotRunning(cid)
        return meta

    def ping(self) -> bool:
        """The runtime answers a request that touches no container."""
        return _answers(self.endpoint, "/version", self.timeout)


class CrioAPI:
    """cri-o's info API on its unix socket."""

    def __init__(self, endpoint, timeout=TIMEOUT_S, env_allow=()):
        self.endpoint, self.timeout = _socket_path(endpoint), timeout

    def inspect(self, cid: str, cgroup_name: str = "") -> Metadata | None:
        status, doc = http_get_json(self.endpoint, f"/containers/{cid}", self.timeout)
        if doc is None:
            return None
        if status != 200 or not isinstance(doc, dict):
            raise RuntimeDown(f"{self.endpoint}: HTTP {status} to /containers/{cid[:12]}")
        return parse_crio(doc, cid)

    def ping(self) -> bool:
        return _answers(self.endpoint, "/info", self.timeout)


class ContainerdState:
    """containerd's running tasks, read from its state directory on disk."""

    TASKS = "io.containerd.runtime.v2.task"

    def __init__(self, endpoint="/run/containerd", timeout=TIMEOUT_S, env_allow=()):
        self.endpoint, self.env_allow = endpoint, tuple(env_allow)

    def ping(self) -> bool:
        return os.path.isdir(self.endpoint)

    def inspect(self, cid: str, cgroup_name: str = "") -> Metadata | None:
        tasks = os.path.join(self.endpoint, self.TASKS)
        try:
            namespaces = sorted(os.listdir(tasks))
        except FileNotFoundError:
            if os.path.isdir(self.endpoint):
                return None                # containerd runs no task yet
            raise RuntimeDown(f"{self.endpoint}: no such directory") from None
        except OSError as e:
            raise RuntimeDown(f"{tasks}: {e.strerror}") from None
        for ns in namespaces:
            bundle = os.path.join(tasks, ns, cid)
            try:
                with open(os.path.join(bundle, "config.json"), "rb") as f:
                    config = json.loads(f.read(MAX_BODY))
            except (OSError, ValueError):
                continue
            try:
                with open(os.path.join(bundle, "init.pid")) as f:
                    pid = int(f.read().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if isinstance(config, dict):
                return parse_containerd_bundle(config, cid, cgroup_name, pid, self.env_allow)
        return None


_CLIENTS = {"docker": DockerAPI, "podman": DockerAPI, "crio": CrioAPI, "containerd": ContainerdState}


def _podman_endpoints():
    out = list(DEFAULT_ENDPOINTS["podman"])
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.geteuid() != 0:
        out.insert(0, os.path.join(xdg, "podman", "podman.sock"))
    return out


def default_runtimes() -> dict:
    """{runtime: endpoint} for the runtimes found on this host (their socket or
    state directory exists), plus "systemd" (pure naming)."""
    out = {}
    for rt in ("docker", "podman", "containerd", "crio"):
        cands = _podman_endpoints() if rt == "podman" else DEFAULT_ENDPOINTS[rt]
        if rt == "docker" and os.environ.get("DOCKER_HOST", "").startswith("unix://"):
            cands = (os.environ["DOCKER_HOST"],) + tuple(cands)
        for c in cands:
            if os.path.exists(_socket_path(c)):
                out[rt] = _socket_path(c)
                break
    out["systemd"] = None
    return out


def _parse_runtimes(arg) -> dict:
    """Sampler's `runtimes` argument -> {runtime: endpoint or None (default)}."""
    if arg is None:
        return default_runtimes()
    if isinstance(arg, str):
        arg = [arg]
    items = arg.items() if isinstance(arg, dict) else (
        (a, None) if isinstance(a, str) else tuple(a) for a in arg)
    out = {}
    for rt, endpoint in items:
        rt, sep, ep = str(rt).partition("=")
        endpoint = endpoint or (ep if sep else None)
        if rt not in RUNTIMES:
            raise errors.InvalidOption(f"unknown runtime {rt!r}; runtimes are {', '.join(RUNTIMES)}")
        if endpoint is None and rt != "systemd":
            cands = _podman_endpoints() if rt == "podman" else DEFAULT_ENDPOINTS[rt]
            endpoint = next((c for c in cands if os.path.exists(c)), cands[0])
        out[rt] = _socket_path(endpoint) if endpoint else None
    return out


# --- the registry --------------------------------------------------------------------

class _Entry:
    __slots__ = ("match", "meta", "pending", "failed", "retry_at", "tries")

    def __init__(self, match):
        self.match = match
        self.meta = None        # Metadata once found
        self.pending = True     # queued or being looked up
        self.failed = False     # no answer yet (runtime down, container stuck or not running): retry()
        self.retry_at = 0.0     # monotonic time before which retry() leaves it alone
        self.tries = 0          # its requests that timed out in a row: the "stuck" back-off doubles


class Registry:
    """Runtime metadata of cgroups, looked up by one background thread.

    `runtimes`: None (the runtimes found on this host), names, ``"name=endpoint"``
    strings, (name, endpoint) pairs or a {name: endpoint} dict; an empty
    sequence: every container raw-named. `env_allow`: env var prefixes to keep.
    """

    def __init__(self, runtimes=None, env_allow=(), timeout=TIMEOUT_S):
        if isinstance(env_allow, str):
            env_allow = [env_allow]
        self.endpoints = _parse_runtimes(runtimes)
        self.timeout = float(timeout)
        if not 0 < self.timeout <= MAX_TIMEOUT_S:
            raise errors.InvalidOption(f"runtime_timeout must be > 0 and at most {MAX_TIMEOUT_S:g} "
                                       f"seconds, got {timeout!r}")
        self._env_allow = tuple(env_allow)
        self._auto = runtimes is None       # look again for runtimes whose socket appears later
        self._next_discovery = time.monotonic() + DOWN_RETRY_S
        self._clients = {}
        for rt, ep in self.endpoints.items():
            self._add_client(rt, ep)
        self._entries: dict[str, _Entry] = {}
        self._queue = deque()
        self._cond = threading.Condition()
        self._down_until: dict[str, float] = {}
        self._stuck: dict[str, int] = {}       # container requests timed out in a row, per runtime
        self._errors: dict[str, str] = {}
        self._thread = None
        self._closed = False

    def _add_client(self, rt, ep):
        if rt in _CLIENTS:
            kw = {"namespace": rt} if rt in ("docker", "podman") else {}
            self._clients[rt] = _CLIENTS[rt](ep, timeout=self.timeout, env_allow=self._env_allow, **kw)

    # queue side (called by the sampler; never blocks on a runtime)

    def submit(self, name: str) -> Match:
        """Classifies a new cgroup and queues its metadata lookup if a
        configured runtime may own it."""
        m = classify(name)
        e = _Entry(m)
        with self._cond:
            self._entries[name] = e
            if any(rt in self._clients for rt in m.candidates):
                self._queue.append(name)
                self._start()
                self._cond.notify_all()
            else:
                e.pending = False
        return m

    def forget(self, name: str):
        with self._cond:
            self._entries.pop(name, None)

    def retry(self):
        """Queues again the lookups that got no answer (a runtime down, a
        container stuck or not running yet) once their back-off has passed; with
        the default runtimes, also those of a runtime whose socket appeared."""
        now = time.monotonic()
        found = self._discover(now)
        with self._cond:
            again = [n for n, e in self._entries.items() if not e.pending and (
                (e.failed and now >= e.retry_at
                 and any(self._down_until.get(rt, 0) <= now for rt in e.match.candidates))
                or (e.meta is None and found.intersection(e.match.candidates)))]
            for n in again:
                self._entries[n].pending = True
                self._queue.append(n)
            if again:
                self._start()
                self._cond.notify_all()

    def _discover(self, now) -> set:
        """Runtimes (default set only) whose socket exists now and did not before."""
        if not self._auto or now < self._next_discovery:
            return set()
        self._next_discovery = now + DOWN_RETRY_S
        new = {rt: ep for rt, ep in default_runtimes().items()
               if rt in _CLIENTS and rt not in self._clients}
        with self._cond:
            for rt, ep in new.items():
                self.endpoints[rt] = ep
                self._add_client(rt, ep)
        return set(new)

    def close(self):
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()

    def _start(self):
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._work, name="cgsampler-runtimes", daemon=True)
            self._thread.start()

    def _work(self):
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    self._thread = None
                    return
                name = self._queue.popleft()
                e = self._entries.get(name)
            if e is None:
                continue
            meta, failed, own = self._lookup(name, e.match)
            with self._cond:
                if self._entries.get(name) is e:
                    e.meta = meta or path_only(e.match, name)
                    e.failed, e.pending = failed, False
                    if own == "stuck":      # its own request hangs: a back-off of its own, doubling
                        e.retry_at = time.monotonic() + min(DOWN_RETRY_S * 2 ** e.tries, MAX_ENTRY_RETRY_S)
                        e.tries += 1
                    elif own == "not running":   # asked again soon: it may start at any moment
                        e.retry_at = time.monotonic() + DOWN_RETRY_S
                    elif not failed:
                        e.tries = 0
                self._cond.notify_all()

    def _lookup(self, name, match):
        """(Metadata or None, whether it is worth asking again, and the
        container's own reason when the runtime is fine: "stuck", "not running" or None)."""
        failed, own = False, None
        for rt in match.candidates:
            with self._cond:
                client = self._clients.get(rt)
            if client is None:
                continue
            if self._down_until.get(rt, 0) > time.monotonic():
                failed = True
                continue
            try:
                meta = client.inspect(match.id, name)
            except NotRunning:
                failed, own = True, "not running"     # created, not started: asked again later
                self._stuck[rt] = 0
                continue
            except RuntimeTimeout as ex:
                failed = True
                self._stuck[rt] = self._stuck.get(rt, 0) + 1
                if self._stuck[rt] < STUCK_IN_A_ROW and client.ping():
                    own = "stuck"           # the runtime answers: only this container hangs
                    continue
                # Down, or every container request hangs though /version answers:
                # either way not worth a timeout per container.
                self._down_until[rt] = time.monotonic() + DOWN_RETRY_S
                self._errors[rt] = (str(ex) if self._stuck[rt] < STUCK_IN_A_ROW else
                                    f"{ex}; {self._stuck[rt]} container requests in a row timed out")
                continue
            except RuntimeDown as ex:
                self._down_until[rt] = time.monotonic() + DOWN_RETRY_S
                self._errors[rt] = str(ex)
                failed = True
                continue
            except Exception as ex:          # a malformed answer must not end the thread
                # ... nor be asked again at every retry(): back off as for a runtime that is down
                self._down_until[rt] = time.monotonic() + DOWN_RETRY_S
                self._errors[rt] = f"{type(ex).__name__}: {ex}"
                failed = True
                continue
            self._errors.pop(rt, None)
            self._down_until.pop(rt, None)
            self._stuck[rt] = 0
            if meta is not None:
                return meta, False, None
        return None, failed, own

    # query side (never called from a sweep)

    def wait(self, names=None, timeout=None) -> bool:
        """Waits until the lookups of `names` (default: all) are done, at most
        `timeout` seconds (default: the request timeout). True if all are done."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cond:
            while True:
                todo = [n for n in (self._entries if names is None else names)
                        if n in self._entries and self._entries[n].pending]
                left = deadline - time.monotonic()
                if not todo or left <= 0 or self._closed:
                    return not todo
                self._cond.wait(left)

    def metadata(self, name: str, wait=True) -> Metadata | None:
        if wait:
            self.wait([name])
        with self._cond:
            e = self._entries.get(name)
            return e.meta if e is not None else None

    def match(self, name: str) -> Match:
        with self._cond:
            e = self._entries.get(name)
        return e.match if e is not None else classify(name)

    @property
    def errors(self) -> dict:
        """{runtime: the last error} for runtimes that failed and have not answered since."""
        with self._cond:
            return dict(self._errors)

    def find(self, alias: str, names, prefixes=True) -> str:
        """The cgroup name of the container that `alias` names: an alias, the
        runtime's name for it, its full id, a systemd unit, else a unique prefix of one (cAdvisor's docker
        endpoint rule; `prefixes`=False: exact keys only). Ids come from the runtime's
        answer, or from the cgroup name where the runtime has not answered.
        UnknownContainer if none matches, AmbiguousName if several do."""
        names = list(names)
        # Wait while the lookups make progress: the timeout bounds one request,
        # and hundreds of containers queued at once take longer than one.
        left = None
        while not self.wait(names, 2 * self.timeout):   # one lookup: a request, and a probe if it timed out
            with self._cond:
                pending = sum(1 for n in names if n in self._entries and self._entries[n].pending)
            if self._closed or (left is not None and pending >= left):
                break
            left = pending
        with self._cond:
            known = [(n, self._entries[n]) for n in names if n in self._entries]
        def keys(n, e):
            out = list(e.meta.aliases) + [e.meta.id, e.meta.name] if e.meta is not None else []
            if e.match.id:
                out.append(e.match.id)      # the id in the cgroup name: found even with the runtime down
            return out + [e.match.unit] if e.match.unit else out
        exact = sorted({n for n, e in known if alias in keys(n, e)})
        if not exact and prefixes:
            exact = sorted({n for n, e in known if any(k.startswith(alias) for k in keys(n, e) if k)})
        if len(exact) == 1:
            return exact[0]
        if not exact:
            raise errors.UnknownContainer(
                f"no container named {alias!r}: not a runtime container name, id, id prefix or "
                "systemd unit seen here (cgroup names start with '/'; list them with `cgsampler top --once`)")
        raise errors.AmbiguousName(f"{alias!r} is ambiguous: it matches {len(exact)} containers "
                                      f"({', '.join(exact[:3])}{', ...' if len(exact) > 3 else ''})")
