"""Real podman containers, named and described the way cAdvisor shows them.

Podman (Debian's podman, runc and busybox-static; CI installs them) runs two
containers from an image made here without a registry (busybox-static in an
empty folder, tarred, `podman import`ed): one in a busy loop, one holding 32 MiB
in /dev/shm. `podman system service` serves the Docker-compatible API on a unix
socket in the test's folder. The tests check the names, aliases, namespace,
labels, envs, image and creation time the Sampler gives them against podman's
own inspect output, their live CPU, memory and network values, and the CLI's
`top --once` and `info <name>`. runc, not crun: crun refuses this host's hybrid
cgroup layout. Skips with the reason where podman cannot run.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

import cgsampler

from cgsampler import runtimes, v1

pytestmark = pytest.mark.real

SRC = os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__)))   # the package under test (installed, or src/)
TAG = f"cgs{os.getpid()}"
IMAGE = f"localhost/cgsampler-busybox-{TAG}:test"
BUSY, MEM = f"{TAG}-busy", f"{TAG}-mem"
PODMAN_RUN = ["podman", "--runtime", "runc", "run", "-d", "--ulimit", "nofile=1024:1024",
              "--ulimit", "nproc=1024:1024"]
BUSYBOX = "/bin/busybox"
MiB = 1 << 20


def _podman(*args, check=True, timeout=60):
    p = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])}: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
    return p.stdout


def _why_not():
    if os.geteuid() != 0:
        return "rootful podman needs root"
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman runc busybox-static)"
    busybox = shutil.which("busybox") or BUSYBOX
    if not os.path.exists(busybox):
        return "busybox-static is not installed (apt-get install busybox-static)"
    return None


@pytest.fixture(scope="module")
def pod(tmp_path_factory):
    why = _why_not()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("podman")
    root = tmp / "image"
    os.makedirs(root / "bin")
    os.makedirs(root / "tmp")
    shutil.copy(shutil.which("busybox") or BUSYBOX, root / "bin" / "busybox")
    for tool in ("sh", "sleep", "dd", "cat", "true"):
        os.symlink("busybox", root / "bin" / tool)
    subprocess.run(["tar", "-C", str(root), "-cf", str(tmp / "image.tar"), "."], check=True)
    sock = str(tmp / "podman.sock")
    service = None
    try:
        _podman("import", str(tmp / "image.tar"), IMAGE)
        _podman(*PODMAN_RUN[1:], "--name", BUSY, "--label", "cgs.test=busy", "--label", "org.example.team=obs",
                "-e", "CGS_MODE=busy", "-e", "OTHER=hidden", IMAGE, "/bin/sh", "-c", "while :; do :; done")
        _podman(*PODMAN_RUN[1:], "--name", MEM, "--label", "cgs.test=mem", IMAGE, "/bin/sh", "-c",
                "dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=32 2>/dev/null; exec sleep 600")
        service = subprocess.Popen(["podman", "system", "service", "--time", "0", f"unix://{sock}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if runtimes.http_get_json(sock, "/version", 1.0)[0] == 200:
                    break
            except runtimes.RuntimeDown:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("podman system service did not answer on its socket within 20 s")
        inspect = {n: json.loads(_podman("inspect", n))[0] for n in (BUSY, MEM)}
        time.sleep(0.5)                      # the dd finishes
        yield {"sock": sock, "inspect": inspect, "tmp": tmp}
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"podman cannot run containers here: {e}")
    finally:
        if service is not None:
            service.terminate()
            try:
                service.wait(10)
            except subprocess.TimeoutExpired:
                service.kill()
        _podman("rm", "-f", "-t", "0", BUSY, MEM, check=False)
        _podman("rmi", "-f", IMAGE, check=False)


def _cgroups(pod):
    """The two containers' cgroup names (the Samplers here track only these, so
    cgroups other tests make and remove meanwhile do not matter)."""
    from cgsampler import hierarchy
    ids = {ins["Id"] for ins in pod["inspect"].values()}
    return [n for n in hierarchy.walk(hierarchy.detect()) if runtimes.classify(n).id in ids]


@pytest.fixture(scope="module")
def sampler(pod):
    from cgsampler.sampler import Sampler
    with Sampler(_cgroups(pod), history=8, runtimes={"podman": pod["sock"]}, env_allow=("CGS_",)) as s:
        yield s


def _pid(pod, name):
    return pod["inspect"][name]["State"]["Pid"]


def test_podman_containers_have_cadvisors_reference(pod, sampler):
    for name in (BUSY, MEM):
        ins = pod["inspect"][name]
        cg = sampler.lookup(name)
        assert runtimes.classify(cg) == runtimes.Match("podman", ins["Id"])
        assert sampler.lookup(ins["Id"][:12]) == cg
        info = sampler.container_info(name, v1.ContainerInfoRequest(num_stats=0))
        assert (info.id, info.name, info.aliases, info.namespace) == (ins["Id"], cg, [name, ins["Id"]], "podman")


def test_podman_containers_spec_has_labels_envs_image_and_creation_time(pod, sampler):
    busy = sampler.container_info(BUSY, v1.ContainerInfoRequest(num_stats=0)).spec
    assert busy.labels == {"cgs.test": "busy", "org.example.team": "obs"}
    assert busy.envs == {"cgs_mode": "busy"}                 # allow-list "CGS_", key lower-cased
    assert busy.image == IMAGE
    assert busy.creation_time == v1.Time.parse(pod["inspect"][BUSY]["Created"])
    mem = sampler.spec(sampler.lookup(MEM))
    assert (mem.labels, mem.envs, mem.image) == ({"cgs.test": "mem"}, None, IMAGE)
    assert sampler.runtime_errors == {}


def _container_ip(pid):
    out = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "-4", "-o", "addr", "show", "eth0"],
                         capture_output=True, text=True)
    parts = out.stdout.split()
    return parts[parts.index("inet") + 1].split("/")[0] if "inet" in parts else None


def test_live_cpu_memory_and_network_come_from_the_containers_own_cgroup_and_namespace(pod, sampler):
    ip = _container_ip(_pid(pod, MEM)) if shutil.which("nsenter") and shutil.which("ip") else None
    sampler.refresh()
    sampler.sample()
    sent = 0
    if ip:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for _ in range(200):
                sent += u.sendto(b"x" * 1000, (ip, 9))
    time.sleep(0.6)
    sampler.sample()
    busy = sampler.container_info(BUSY, v1.ContainerInfoRequest(num_stats=2)).stats
    mem = sampler.container_info(MEM, v1.ContainerInfoRequest(num_stats=2))
    dt = (busy[1].timestamp.unix_ns - busy[0].timestamp.unix_ns) / 1e9
    assert (busy[1].cpu.usage.total - busy[0].cpu.usage.total) / 1e9 / dt > 0.1     # the busy loop
    # (> 0.1 of a core, not ~1: a loaded 2-CPU machine shares it)
    assert mem.stats[1].memory.usage >= 32 * MiB                # /dev/shm pages are charged to it
    assert mem.spec.has_network
    names = [i.name for i in mem.stats[1].network.interfaces]
    assert "eth0" in names                                        # its namespace, not the host's
    with open(f"/proc/{_pid(pod, MEM)}/net/dev") as f:
        assert {ln.split(":")[0].strip() for ln in f.readlines()[2:]} >= set(names)
    if ip:
        rx = [next(i.rx_bytes for i in st.network.interfaces if i.name == "eth0") for st in mem.stats]
        assert rx[1] - rx[0] >= sent                              # every datagram arrived
    else:
        pytest.skip("no nsenter/ip to find the container's address; traffic not checked")


def _cli(pod, *argv):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "cgsampler", "--runtime", f"podman={pod['sock']}", *argv],
                          capture_output=True, text=True, env=env, timeout=60)


def test_cli_top_once_shows_podman_containers_by_name_and_image(pod):
    p = _cli(pod, "top", "--once", "--interval", "0.5")
    assert (p.returncode, p.stderr) == (0, "")
    rows = {ln.split()[0]: ln.split() for ln in p.stdout.splitlines()[2:]}
    assert rows[BUSY][-1] == IMAGE and rows[MEM][-1] == IMAGE
    assert float(rows[BUSY][1]) > 10                              # CPU %, one core = 100 (shared when loaded)
    assert rows[MEM][3] == "MiB" and float(rows[MEM][2]) >= 32   # MEMORY: the 32 MiB in /dev/shm


def test_cli_info_by_container_name_prints_cadvisor_json(pod):
    p = _cli(pod, "--env-allow", "CGS_", "info", BUSY, "--num-stats", "2", "--interval", "0.2")
    assert (p.returncode, p.stderr) == (0, "")
    doc = json.loads(p.stdout)
    ins = pod["inspect"][BUSY]
    assert (doc["id"], doc["aliases"], doc["namespace"]) == (ins["Id"], [BUSY, ins["Id"]], "podman")
    assert doc["spec"]["labels"] == {"cgs.test": "busy", "org.example.team": "obs"}
    assert doc["spec"]["envs"] == {"cgs_mode": "busy"}
    assert doc["spec"]["image"] == IMAGE and len(doc["stats"]) == 2


def test_record_takes_container_names_and_info_from_finds_them_by_name_or_id_prefix(pod, tmp_path):
    out = str(tmp_path / "r.npz")
    p = _cli(pod, "record", "-o", out, "--hz", "5", "--duration", "1", "--containers", f"{BUSY},{MEM}")
    assert p.returncode == 0, p.stderr
    assert "of 2 containers" in p.stdout
    ins = pod["inspect"][BUSY]
    for alias in (BUSY, ins["Id"][:12]):
        p = _cli(pod, "info", "--from", out, alias, "--num-stats", "2")
        assert (p.returncode, p.stderr) == (0, "")
        doc = json.loads(p.stdout)
        assert (doc["id"], doc["aliases"], doc["namespace"]) == (ins["Id"], [BUSY, ins["Id"]], "podman")
        assert doc["spec"]["image"] == IMAGE and len(doc["stats"]) == 2
        assert doc["stats"][1]["cpu"]["usage"]["total"] > doc["stats"][0]["cpu"]["usage"]["total"]
    p = _cli(pod, "info", "--from", out, "no-such-container")
    assert p.returncode == 1 and "no container 'no-such-container' in the recording" in p.stderr


def test_with_podmans_service_down_the_containers_are_still_sampled_raw(pod):
    from cgsampler.sampler import Sampler
    with Sampler(_cgroups(pod), history=2, runtimes={"podman": str(pod["tmp"] / "down.sock")}) as s:
        s.sample()
        cg = next(n for n in s.names if runtimes.classify(n).id == pod["inspect"][BUSY]["Id"])
        info = s.container_info(cg, v1.ContainerInfoRequest(num_stats=1))
        assert (info.id, info.aliases, info.namespace, info.spec.image) == ("", None, "", "")
        assert info.stats[0].cpu.usage.total > 0
        assert "down.sock" in s.runtime_errors["podman"]
