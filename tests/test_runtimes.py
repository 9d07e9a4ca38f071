"""Container runtimes: cgroup naming per runtime, the runtimes' metadata answers,
the HTTP client over real unix sockets, the background registry, and the Sampler
and CLI on a fixture cgroup tree whose containers a runtime owns.

Fixtures (tests/fixtures/runtimes/): cgroup_names.txt, the docker / cri-o answers
and the containerd task bundle are written by hand from the runtimes' documented
formats; podman_compat_inspect.json was recorded from podman 4.3.1's Docker-
compatible API (`podman system service`) on Debian 12, trimmed.
"""
import http.server
import json
import os
import socket
import socketserver
import threading
import time

import pytest

from cgsampler import cli, errors, runtimes, v1
from cgsampler.runtimes import Match, classify

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "runtimes")
D = "3f4e6c2a9b1d8e7f0a5c4b3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"   # docker
P = "fce3b31298a293eecfa038327c9581f46e281f57fb74bbdda2525bb58eedcfa1"   # podman (recorded)
C = "5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b"   # containerd
R = "0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c"   # cri-o
POD_UID = "1f3e5d7c-9b8a-4c6d-8e2f-0a1b2c3d4e5f"


def fixture_json(name):
    with open(os.path.join(FIX, name)) as f:
        return json.load(f)


# --- naming ----------------------------------------------------------------------------

def _name_cases():
    with open(os.path.join(FIX, "cgroup_names.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                runtime, ident, name = line.split()
                yield pytest.param(runtime, ident, name, id=name[-60:])


@pytest.mark.parametrize("runtime,ident,name", list(_name_cases()))
def test_classify_reads_each_runtimes_documented_cgroup_naming(runtime, ident, name):
    m = classify(name)
    if runtime == "systemd":
        assert m == Match("systemd", unit=ident)
    else:
        assert m == Match("" if runtime == "any" else runtime, "" if ident == "-" else ident)


def test_a_bare_id_may_belong_to_any_runtime_and_a_named_form_to_one():
    assert classify(f"/kubepods/besteffort/pod{POD_UID}/{C}").candidates == (
        "docker", "podman", "containerd", "crio")
    assert classify(f"/docker/{D}").candidates == ("docker",)
    assert classify("/system.slice/sshd.service").candidates == ()
    assert classify("/").candidates == ()


# --- parsing the runtimes' answers -------------------------------------------------------

def test_docker_inspect_gives_cadvisors_reference_labels_envs_image_and_created():
    m = runtimes.parse_docker(fixture_json("docker_inspect_running.json"), "docker",
                              env_allow=("APP_", "NGINX", ""))
    assert (m.id, m.name, m.aliases, m.namespace) == (D, "web-1", ["web-1", D], "docker")
    assert m.labels == {"com.docker.compose.project": "shop",
                        "maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>",
                        "restartcount": "3"}
    # prefix rule, keys lower-cased; "APP_SECRET" has no "=" and is skipped
    assert m.envs == {"app_mode": "prod", "nginx_version": "1.25.4"}
    assert m.image == "nginx:1.25"
    assert m.created.rfc3339() == "2024-05-02T09:14:07.123456789Z"
    assert m.pid == 41207


def test_a_docker_container_that_is_not_running_is_not_claimed():
    assert runtimes.parse_docker(fixture_json("docker_inspect_exited.json")) is None


def test_podmans_docker_compatible_answer_as_recorded():
    m = runtimes.parse_docker(fixture_json("podman_compat_inspect.json"), "podman", env_allow=("FOO",))
    assert (m.id, m.aliases, m.namespace) == (P, ["cgs-probe", P], "podman")
    assert m.labels == {"a.b": "c"}                 # RestartCount 0: no restartcount label
    assert m.envs == {"foo": "bar"}
    assert m.image == "localhost/cgs-busybox:test"
    assert m.created.rfc3339() == "2026-12-03T18:59:05.074378522Z"


def test_envs_need_an_allow_list_and_match_by_prefix():
    env = ["A=1", "AB=2", "B=3", "NOEQUALS", "C=x=y"]
    assert runtimes.filter_envs(env, ()) == {}
    assert runtimes.filter_envs(env, ("",)) == {}            # an empty entry is ignored
    assert runtimes.filter_envs(env, ("A", "C")) == {"A": "1", "AB": "2", "C": "x=y"}
    assert runtimes.filter_envs(env, ("AB",), lower=True) == {"ab": "2"}


def test_crio_info_answer():
    m = runtimes.parse_crio(fixture_json("crio_container.json"), R)
    name = f"k8s_coredns_coredns-5d78c9869d-x7k2p_kube-system_{POD_UID}_2"
    assert (m.id, m.name, m.aliases, m.namespace) == (R, name, [name, R], "crio")
    assert m.labels == {"io.kubernetes.container.name": "coredns",
                        "io.kubernetes.pod.name": "coredns-5d78c9869d-x7k2p",
                        "io.kubernetes.pod.namespace": "kube-system",
                        "io.kubernetes.pod.uid": POD_UID,
                        "restartcount": "2"}
    assert m.envs == {}
    assert m.image == "registry.k8s.io/coredns/coredns:v1.10.1"
    assert m.created.unix_ns == 1714641247123456789
    assert m.pid == 31337


def test_containerd_task_bundle_on_disk():
    state = runtimes.ContainerdState(os.path.join(FIX, "containerd_state"), env_allow=("KUBERNETES_",))
    cg = f"/kubepods/burstable/pod{POD_UID}/{C}"
    m = state.inspect(C, cg)
    assert (m.id, m.name, m.aliases, m.namespace) == (C, "metrics-server", [C, cg], "containerd")
    assert m.labels == {"io.kubernetes.container.name": "metrics-server",
                        "io.kubernetes.pod.name": "metrics-server-7db4fb59f9-2ht8m",
                        "io.kubernetes.pod.namespace": "kube-system",
                        "io.kubernetes.pod.uid": POD_UID,
                        "io.cri-containerd.kind": "container"}
    assert m.envs == {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert m.image == "registry.k8s.io/metrics-server/metrics-server:v0.7.1"
    assert (m.created, m.pid) == (None, 48213)
    assert state.inspect(D, "/x") is None
    with pytest.raises(runtimes.RuntimeDown):
        runtimes.ContainerdState("/nonexistent/containerd").inspect(C)


def test_containerd_reference_needs_no_api():
    cg = f"/kubepods.slice/cri-containerd-{C}.scope"
    m = runtimes.path_only(classify(cg), cg)
    assert (m.id, m.aliases, m.namespace, m.labels) == (C, [C, cg], "containerd", {})


# --- the HTTP client over real unix sockets ----------------------------------------------

class FakeRuntime:
    """A Docker-API-shaped server on a unix socket: /containers/<id>/json answers
    from `containers` (404 otherwise); mode "hang" accepts and never answers,
    "garbage" answers non-JSON."""

    def __init__(self, path, containers=None, mode="ok"):
        self.path, self.containers, self.mode, self.requests = str(path), dict(containers or {}), mode, []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append(self.path)
                if fake.mode == "hang":
                    time.sleep(3)
                    return
                parts = self.path.strip("/").split("/")
                doc = fake.containers.get(parts[1]) if len(parts) >= 2 else None
                body = b"<html>oops" if fake.mode == "garbage" else json.dumps(
                    doc if doc is not None else {"message": "No such container"}).encode()
                self.send_response(200 if doc is not None or fake.mode == "garbage" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

            def get_request(self):
                conn, _ = self.socket.accept()
                return conn, ("local", 0)

        self.server = Server(self.path, Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        os.unlink(self.path)


@pytest.fixture
def docker_sock(tmp_path):
    servers = []

    def start(containers=None, mode="ok", name="docker.sock"):
        s = FakeRuntime(tmp_path / name, containers, mode)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.close()


def test_docker_api_client_inspects_by_id_and_answers_none_for_unknown(docker_sock):
    srv = docker_sock({D: fixture_json("docker_inspect_running.json")})
    api = runtimes.DockerAPI(srv.path)
    assert api.inspect(D).aliases == ["web-1", D]
    assert api.inspect("0" * 64) is None
    assert srv.requests == [f"/containers/{D}/json", f"/containers/{'0' * 64}/json"]


def test_docker_api_client_reports_a_missing_socket_a_hang_and_garbage_as_runtime_down(docker_sock, tmp_path):
    with pytest.raises(runtimes.RuntimeDown, match="No such file"):
        runtimes.DockerAPI(str(tmp_path / "none.sock")).inspect(D)
    hung = docker_sock(mode="hang", name="hung.sock")
    t0 = time.monotonic()
    with pytest.raises(runtimes.RuntimeDown):
        runtimes.DockerAPI(hung.path, timeout=0.3).inspect(D)
    assert time.monotonic() - t0 < 2
    bad = docker_sock(mode="garbage", name="bad.sock")
    with pytest.raises(runtimes.RuntimeDown, match="not JSON"):
        runtimes.DockerAPI(bad.path).inspect(D)


def test_crio_client_uses_the_info_api_path(docker_sock):
    srv = docker_sock({R: fixture_json("crio_container.json")}, name="crio.sock")
    # the fake serves /containers/<id>/json and /containers/<id> alike
    assert runtimes.CrioAPI(srv.path).inspect(R).namespace == "crio"
    assert srv.requests == [f"/containers/{R}"]


# --- the registry ------------------------------------------------------------------------

def test_runtimes_argument_forms():
    assert runtimes._parse_runtimes(()) == {}
    assert runtimes._parse_runtimes({"podman": "unix:///x/p.sock"}) == {"podman": "/x/p.sock"}
    assert runtimes._parse_runtimes(["docker=/d.sock", ("crio", "/c.sock"), "systemd"]) == {
        "docker": "/d.sock", "crio": "/c.sock", "systemd": None}
    with pytest.raises(errors.InvalidOption, match="unknown runtime 'rkt'"):
        runtimes._parse_runtimes(["rkt"])
    assert "systemd" in runtimes.default_runtimes()


def test_registry_looks_up_in_the_background_and_finds_by_alias(docker_sock):
    srv = docker_sock({D: fixture_json("docker_inspect_running.json")})
    reg = runtimes.Registry({"docker": srv.path, "containerd": os.path.join(FIX, "containerd_state"),
                             "systemd": None})
    names = [f"/docker/{D}", f"/kubepods/burstable/pod{POD_UID}/{C}", "/system.slice/sshd.service", "/"]
    try:
        for n in names:
            reg.submit(n)
        assert reg.wait(timeout=5)
        assert reg.metadata(names[0]).aliases == ["web-1", D]
        assert reg.metadata(names[1]).aliases == [C, names[1]]     # docker said 404, containerd knew it
        assert reg.metadata(names[2]) is None and reg.metadata("/") is None
        assert reg.find("web-1", names) == names[0]
        assert reg.find(D, names) == names[0]
        assert reg.find("3f4e6c", names) == names[0]                  # a unique id prefix
        assert reg.find("metrics-server", names) == names[1]         # a containerd container name
        assert reg.find("sshd.service", names) == names[2]           # a systemd unit
        with pytest.raises(errors.UnknownContainer, match="ambiguous"):
            reg.find("", names)
        with pytest.raises(errors.UnknownContainer, match="no container named 'zzz'"):
            reg.find("zzz", names)
        assert reg.errors == {}
    finally:
        reg.close()


def test_a_runtime_that_is_down_leaves_raw_names_says_so_and_is_asked_again(docker_sock, tmp_path, monkeypatch):
    monkeypatch.setattr(runtimes, "DOWN_RETRY_S", 0.2)
    path = str(tmp_path / "docker.sock")
    reg = runtimes.Registry({"docker": path})
    name = f"/system.slice/docker-{D}.scope"
    try:
        reg.submit(name)
        assert reg.wait(timeout=5)
        assert reg.metadata(name) is None
        assert "No such file" in reg.errors["docker"]
        docker_sock({D: fixture_json("docker_inspect_running.json")})   # docker comes up
        reg.retry()                           # too early: still backing off
        time.sleep(0.3)
        reg.retry()
        assert reg.wait(timeout=5)
        assert reg.metadata(name).name == "web-1" and reg.errors == {}
    finally:
        reg.close()


# --- Sampler and CLI on a fixture tree ----------------------------------------------------

MiB = 1 << 20
DOCKER_CG = f"/system.slice/docker-{D}.scope"
PODMAN_CG = f"/machine.slice/libpod-{P}.scope"
CONTAINERD_CG = f"/kubepods/burstable/pod{POD_UID}/{C}"


def _cgroup(directory, usage_usec):
    os.makedirs(directory, exist_ok=True)
    for fname, text in {
        "cgroup.procs": "",
        "cpu.stat": f"usage_usec {usage_usec}\nuser_usec 1\nsystem_usec 1\n",
        "memory.current": f"{MiB}\n", "memory.max": "max\n",
        "memory.stat": f"anon {MiB}\nfile 0\ninactive_file 0\n",
    }.items():
        with open(os.path.join(directory, fname), "w") as f:
            f.write(text)


@pytest.fixture
def tree(tmp_path):
    """A v2 cgroup tree with a docker, a podman, a containerd container and a systemd unit."""
    cg = tmp_path / "cgroup"
    _cgroup(cg, 1000)
    with open(cg / "cgroup.controllers", "w") as f:
        f.write("cpu memory\n")
    for name in (DOCKER_CG, PODMAN_CG, CONTAINERD_CG, "/system.slice/sshd.service"):
        _cgroup(str(cg) + name, 500)
    proc = tmp_path / "proc"
    os.makedirs(proc)
    with open(proc / "meminfo", "w") as f:
        f.write("MemTotal:       16384000 kB\n")
    with open(proc / "uptime", "w") as f:
        f.write("100.0 100.0\n")
    return {"cgroup": str(cg), "proc": str(proc)}


def _sampler(tree, **kw):
    from cgsampler.sampler import Sampler
    return Sampler(cgroup_root=tree["cgroup"], proc_root=tree["proc"], history=4, **kw)


def test_sampler_container_info_carries_the_runtimes_reference_and_spec(tree, docker_sock):
    docker = docker_sock({D: fixture_json("docker_inspect_running.json")})
    podman = docker_sock({P: fixture_json("podman_compat_inspect.json")}, name="podman.sock")
    with _sampler(tree, runtimes={"docker": docker.path, "podman": podman.path,
                                  "containerd": os.path.join(FIX, "containerd_state")},
                  env_allow=("APP_",)) as s:
        s.sample()
        info = s.container_info(DOCKER_CG, v1.ContainerInfoRequest(num_stats=1))
        assert (info.id, info.name, info.aliases, info.namespace) == (D, DOCKER_CG, ["web-1", D], "docker")
        assert info.spec.labels["restartcount"] == "3" and info.spec.envs == {"app_mode": "prod"}
        assert info.spec.image == "nginx:1.25"
        assert info.spec.creation_time.rfc3339() == "2024-05-02T09:14:07.123456789Z"
        assert len(info.stats) == 1
        doc = json.loads(info.to_json())
        assert (doc["id"], doc["aliases"], doc["namespace"], doc["spec"]["image"]) == (
            D, ["web-1", D], "docker", "nginx:1.25")
        # by alias, id, id prefix
        assert s.container_info("cgs-probe").name == PODMAN_CG
        assert s.container_info(P[:10]).namespace == "podman"
        assert s.lookup("metrics-server") == CONTAINERD_CG
        assert s.metadata(CONTAINERD_CG).image.endswith("metrics-server:v0.7.1")
        # raw and systemd containers stay raw in the JSON, as in cAdvisor
        raw = json.loads(s.container_info("sshd.service").to_json())
        assert raw["name"] == "/system.slice/sshd.service"
        assert not {"id", "aliases", "namespace"} & set(raw) and "labels" not in raw["spec"]
        assert s.reference("/").aliases is None
        assert s.runtime_errors == {}


def test_sampler_with_no_runtimes_names_everything_raw(tree):
    with _sampler(tree, runtimes=()) as s:
        s.sample()
        info = s.container_info(DOCKER_CG)
        assert (info.id, info.aliases, info.namespace, info.spec.image) == ("", None, "", "")
        with pytest.raises(errors.UnknownContainer):
            s.container_info("web-1")


def test_a_hung_runtime_never_stalls_a_sweep_nor_hides_the_container(tree, docker_sock):
    hung = docker_sock(mode="hang")
    t0 = time.monotonic()
    with _sampler(tree, runtimes={"docker": hung.path}, runtime_timeout=0.5) as s:
        for _ in range(20):
            s.sample()
        assert time.monotonic() - t0 < 0.45     # the lookup is still hanging; sweeps went on
        assert DOCKER_CG in s.names
        info = s.container_info(DOCKER_CG, v1.ContainerInfoRequest(num_stats=20))
        assert (info.id, info.aliases, len(info.stats)) == ("", None, 4)
        deadline = time.monotonic() + 5
        while "docker" not in s.runtime_errors and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "timed out" in s.runtime_errors["docker"]


def test_an_id_or_id_prefix_finds_the_container_by_its_cgroup_name_while_the_runtime_is_down(tree, tmp_path):
    with _sampler(tree, runtimes={"docker": str(tmp_path / "no-docker.sock")}, runtime_timeout=0.5) as s:
        assert s.lookup(D[:12]) == DOCKER_CG and s.lookup(D) == DOCKER_CG
        info = s.container_info(D[:12])
        assert (info.name, info.id, info.aliases) == (DOCKER_CG, "", None)    # raw: the runtime did not answer
        assert "docker" in s.runtime_errors
        with pytest.raises(errors.UnknownContainer):
            s.lookup("web-1")                       # a runtime's own name needs its answer


def test_cli_top_shows_runtime_names_and_images_and_info_takes_an_alias(tree, docker_sock, capsys):
    docker = docker_sock({D: fixture_json("docker_inspect_running.json")})
    roots = ["--cgroup-root", tree["cgroup"], "--proc-root", tree["proc"], "--runtime", f"docker={docker.path}"]
    assert cli.main([*roots, "top", "--once", "--interval", "0.01"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["NAME", "CPU", "%"] and lines[1].endswith("IMAGE")
    [web] = [ln for ln in lines if ln.startswith("web-1 ")]
    assert web.endswith("nginx:1.25")
    assert any(ln.startswith(f"/machine.slice/libpod-{P}.scope ") for ln in lines)   # podman not asked: raw
    assert cli.main([*roots, "info", "web-1", "--num-stats", "1", "--interval", "0.01"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["name"], doc["aliases"], doc["spec"]["image"]) == (DOCKER_CG, ["web-1", D], "nginx:1.25")
    assert cli.main([*roots, "info", "3f4e6", "--num-stats", "1", "--interval", "0.01"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == D
    assert cli.main([*roots, "info", "nobody"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no container named 'nobody'" in err
    assert cli.main([*roots[:4], "--runtime", "none", "info", "web-1"]) == 1


def test_cli_top_says_which_runtime_is_not_answering(tree, tmp_path, capsys):
    roots = ["--cgroup-root", tree["cgroup"], "--proc-root", tree["proc"],
             "--runtime", f"docker={tmp_path / 'no-docker.sock'}"]
    assert cli.main([*roots, "top", "--once", "--interval", "0.2"]) == 0
    title = capsys.readouterr().out.splitlines()[0]
    assert title.endswith("not answering: docker (raw names)")
