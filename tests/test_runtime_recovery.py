"""Runtime lookups that recover: a container whose inspect hangs while the
runtime answers everything else, a container seen before it runs, a runtime
whose socket appears after the Sampler was made, and a container re-created
under the name of one that vanished. The runtime is a Docker-API server on a
unix socket whose answers each test chooses (test_break_runtimes_gpus.Runtime)."""
import os
import time
import uuid

import pytest

from cgsampler import errors, runtimes
from conftest import make_cgroups, v1_available
from test_break_runtimes_gpus import Runtime, ids, running

VERSION = (200, {"Version": "4.3.1", "ApiVersion": "1.41"})


def inspected(cid, is_running, name=None):
    """An inspect answer for a container running or only created (not started)."""
    doc = running(cid, name)
    doc["State"] = {"Running": is_running, "Status": "running" if is_running else "created",
                    "Pid": 7 if is_running else 0}
    return 200, doc


def answering(answer):
    """answer(cid) for container requests; /version answered as a live runtime does."""
    return lambda cid: VERSION if cid == "" else answer(cid)


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(runtimes, "DOWN_RETRY_S", 0.05)


def test_a_stuck_container_does_not_keep_the_runtimes_other_containers_unnamed(tmp_path):
    stuck, *others = ids(4)

    def answer(cid):
        if cid == stuck:
            time.sleep(2.0)            # docker's inspect of a container being removed
        return 200, running(cid, f"name-{cid[-4:]}")
    srv = Runtime(tmp_path / "docker.sock", answering(answer))
    reg = runtimes.Registry({"docker": srv.path}, timeout=0.3)
    names = [f"/docker/{c}" for c in (stuck, *others)]
    try:
        for n in names:
            reg.submit(n)
        t0 = time.monotonic()
        assert reg.find(f"name-{others[-1][-4:]}", names) == names[-1]
        assert time.monotonic() - t0 < 1.5
        assert [reg.metadata(n).name for n in names[1:]] == [f"name-{c[-4:]}" for c in others]
        assert reg.metadata(names[0]) is None and reg.errors == {}   # the runtime is not "down"
        reg.retry()                   # the stuck one has its own back-off: not asked again yet
        assert reg.wait([names[0]], 0.1)
    finally:
        reg.close()
        srv.close()


def test_a_container_created_before_it_runs_is_named_once_it_runs(tmp_path, fast_backoff):
    (cid,) = ids(1)
    state = {"running": False}

    srv = Runtime(tmp_path / "docker.sock", answering(lambda c: inspected(c, state["running"], "late-starter")))
    reg = runtimes.Registry({"docker": srv.path}, timeout=1.0)
    name = f"/docker/{cid}"
    try:
        reg.submit(name)
        assert reg.wait([name]) and reg.metadata(name) is None    # created: raw, as cAdvisor names it
        state["running"] = True
        time.sleep(0.1)               # its back-off
        reg.retry()
        assert reg.wait([name])
        meta = reg.metadata(name)
        assert (meta.name, meta.aliases, meta.pid) == ("late-starter", ["late-starter", cid], 7)
    finally:
        reg.close()
        srv.close()


def test_default_runtimes_pick_up_a_socket_that_appears_after_the_start(tmp_path, monkeypatch, fast_backoff):
    sock = tmp_path / "docker.sock"
    monkeypatch.setattr(runtimes, "DEFAULT_ENDPOINTS", {
        "docker": (str(sock),), "podman": (str(tmp_path / "no-podman.sock"),),
        "crio": (str(tmp_path / "no-crio.sock"),), "containerd": (str(tmp_path / "no-containerd"),)})
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    (cid,) = ids(1)
    name = f"/docker/{cid}"
    reg = runtimes.Registry(None, timeout=1.0)
    srv = None
    try:
        assert "docker" not in reg.endpoints
        reg.submit(name)
        assert reg.wait([name]) and reg.metadata(name) is None
        srv = Runtime(sock, answering(lambda c: (200, running(c, "booted-late"))))
        time.sleep(0.1)
        reg.retry()                   # Sampler.refresh() calls this
        assert reg.endpoints["docker"] == str(sock)
        assert reg.wait([name]) and reg.metadata(name).name == "booted-late"
    finally:
        reg.close()
        if srv is not None:
            srv.close()


def test_a_name_reused_by_a_new_container_finds_the_running_one(tmp_path):
    why = v1_available()
    if why:
        pytest.skip(why)
    from cgsampler.sampler import Sampler
    old, new = ids(2)
    srv = Runtime(tmp_path / "docker.sock", answering(lambda c: (200, running(c, "web"))))
    parent = f"/cgs-test-{uuid.uuid4().hex[:8]}"
    made = make_cgroups([parent, f"{parent}/docker", f"{parent}/docker/{old}"])
    try:
        with Sampler(None, history=8,
                     runtimes={"docker": srv.path}, accelerators=False) as s:
            s.sample()
            assert s.lookup("web") == f"{parent}/docker/{old}"
            made[-1].remove()          # docker rm -f web; docker run --name web
            made += make_cgroups([f"{parent}/docker/{new}"])
            s.sample()
            s.refresh()
            s.sample()
            assert f"{parent}/docker/{old}" in s.retired
            assert s.lookup("web") == f"{parent}/docker/{new}"
            assert s.container_info("web").id == new
            assert s.lookup(old) == f"{parent}/docker/{old}"   # still found while its history lasts
    finally:
        srv.close()
        for cg in reversed(made):
            cg.remove()


def test_a_podman_pod_cgroup_is_not_a_container():
    pod = "b" * 64
    assert runtimes.classify(f"/libpod_parent/{pod}") == runtimes.Match("raw")
    assert runtimes.classify(f"/libpod_parent/{pod}/libpod-{'c' * 64}") == runtimes.Match("podman", "c" * 64)


def test_a_crio_creation_time_past_year_9999_is_unknown_not_a_crash():
    far = runtimes.parse_crio({"name": "x", "created_time": 300000000000 * 10**9}, "c" * 64)
    near = runtimes.parse_crio({"name": "x", "created_time": 1700000000 * 10**9}, "c" * 64)
    assert far.created is None and near.created.unix_ns == 1700000000 * 10**9


def test_an_exact_name_of_a_vanished_container_beats_a_prefix_of_a_running_one(tmp_path):
    why = v1_available()
    if why:
        pytest.skip(why)
    from cgsampler.sampler import Sampler
    web, web2 = ids(2)
    names = {web: "web", web2: "web-2"}
    srv = Runtime(tmp_path / "docker.sock", answering(lambda c: (200, running(c, names[c]))))
    parent = f"/cgs-test-{uuid.uuid4().hex[:8]}"
    made = make_cgroups([parent, f"{parent}/docker", f"{parent}/docker/{web}", f"{parent}/docker/{web2}"])
    try:
        with Sampler(None, history=8, runtimes={"docker": srv.path}, accelerators=False) as s:
            s.sample()
            assert s.lookup("web") == f"{parent}/docker/{web}"
            made[2].remove()                       # docker rm -f web
            s.sample()
            s.refresh()
            assert f"{parent}/docker/{web}" in s.retired
            assert s.lookup("web") == f"{parent}/docker/{web}"     # not web-2, a prefix match
            assert s.lookup("web-") == f"{parent}/docker/{web2}"
    finally:
        srv.close()
        for cg in reversed(made):
            cg.remove()


def test_a_runtime_whose_every_inspect_hangs_is_down_after_two_and_others_are_named(tmp_path):
    hung = ids(20)
    (healthy,) = [f"{i:064x}" for i in (999,)]

    def docker(cid):
        time.sleep(3.0)                            # /version answers, every inspect hangs
        return 200, running(cid)
    d = Runtime(tmp_path / "docker.sock", answering(docker))
    p = Runtime(tmp_path / "podman.sock", answering(lambda c: (200, running(c, "healthy"))))
    reg = runtimes.Registry({"docker": d.path, "podman": p.path}, timeout=0.3)
    names = [f"/docker/{c}" for c in hung] + [f"/libpod_parent/libpod-{healthy}"]
    try:
        t0 = time.monotonic()
        for n in names:
            reg.submit(n)
        assert reg.find("healthy", names) == names[-1]
        assert time.monotonic() - t0 < 2.0         # two timeouts and a probe, not twenty timeouts
        assert "2 container requests in a row timed out" in reg.errors["docker"]
    finally:
        reg.close()
        d.close()
        p.close()


def test_a_container_that_stays_created_is_asked_again_without_a_growing_back_off(tmp_path, fast_backoff):
    (cid,) = ids(1)
    asked = []

    def answer(c):
        asked.append(time.monotonic())
        return inspected(c, False)
    srv = Runtime(tmp_path / "docker.sock", answering(answer))
    reg = runtimes.Registry({"docker": srv.path}, timeout=1.0)
    name = f"/docker/{cid}"
    try:
        reg.submit(name)
        for _ in range(6):                         # refresh() every 0.1 s: asked each time
            assert reg.wait([name])
            time.sleep(0.1)
            reg.retry()
        assert reg.wait([name]) and len(asked) >= 6
    finally:
        reg.close()
        srv.close()


def test_a_runtime_timeout_past_an_hour_is_refused():
    with pytest.raises(errors.InvalidOption, match="at most 3600"):
        runtimes.Registry({}, timeout=1e300)
    from cgsampler import cli
    with pytest.raises(cli.CliError, match="at most 3600"):
        cli.build_parser().parse_args(["--runtime-timeout", "1e300", "top", "--once"])
