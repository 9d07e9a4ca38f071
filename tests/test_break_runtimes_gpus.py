"""Break tests for the runtime metadata (cgsampler.runtimes, its use by the
Sampler and CLI) and the GPUs (cgsampler.accelerators, _native/nvml.pyx, the
fake libnvidia-ml.so.1 of tests/fake_nvml): hostile runtime answers, many
containers at once, odd cgroup names, absurd or broken NVML, and lifetimes
(close while work is in flight, idle shutdown and reload cycles)."""
import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import cgsampler
from cgsampler import accelerators, cli, errors, runtimes
from cgsampler._native.nvml import Nvml
from cgsampler.accelerators import Accelerators
from cgsampler.runtimes import Match, classify
from test_nvml import fake_libs, make_fake  # noqa: F401  (fake_libs: fixture)

SRC = os.path.dirname(os.path.dirname(os.path.abspath(cgsampler.__file__)))   # the package under test
D = "3f4e6c2a9b1d8e7f0a5c4b3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
MiB = 1 << 20


# --- a Docker-API server whose answers the test chooses -----------------------------------

class Runtime:
    """/containers/<id>/json answered by answer(cid) -> (status, doc or raw bytes),
    after `delay` seconds; every request path is kept in .requests."""

    def __init__(self, path, answer, delay=0.0):
        self.path, self.answer, self.delay, self.requests = str(path), answer, delay, []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append(self.path)
                if fake.delay:
                    time.sleep(fake.delay)
                parts = self.path.strip("/").split("/")
                status, body = fake.answer(parts[1] if len(parts) > 1 else "")
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(status)
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

            def handle_error(self, request, client_address):
                pass                     # a client that gave up (timed out): nothing to report

        self.server = Server(self.path, Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def running(cid, name=None, **kw):
    doc = {"Id": cid, "Name": "/" + (name or f"c-{cid[-6:]}"), "State": {"Running": True, "Pid": 7},
           "Config": {"Image": "img:1", "Labels": {"a": "b"}, "Env": ["APP_X=1"]},
           "Created": "2024-05-02T09:14:07.123456789Z"}
    doc.update(kw)
    return doc


@pytest.fixture
def runtime(tmp_path):
    servers = []

    def start(answer, delay=0.0, name="docker.sock"):
        s = Runtime(tmp_path / name, answer, delay)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.close()


def raw_server(path, handle):
    """A unix socket server running handle(conn) per connection (raw bytes)."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(16)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return srv


def ids(n):
    return [f"{i:064x}" for i in range(1, n + 1)]


# --- the HTTP client ------------------------------------------------------------------------

def test_a_runtime_trickling_its_answer_is_cut_off_at_the_timeout(tmp_path):
    # Headers at once, then the body a byte every 0.1 s: each recv is quick, the
    # whole answer takes 6 s. The timeout bounds the request, not each recv.
    def trickle(conn):
        try:
            conn.recv(65536)
            body = json.dumps(running(D)).encode()[:60]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            for b in body:
                conn.sendall(bytes([b]))
                time.sleep(0.1)
        except OSError:
            pass
        finally:
            conn.close()
    srv = raw_server(tmp_path / "slow.sock", trickle)
    try:
        t0 = time.monotonic()
        with pytest.raises(runtimes.RuntimeDown, match="timed out"):
            runtimes.DockerAPI(str(tmp_path / "slow.sock"), timeout=0.5).inspect(D)
        assert time.monotonic() - t0 < 1.5
    finally:
        srv.close()


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Id\": ",        # truncated: the peer closes
    b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"[" * 200000,   # nested too deep for json
    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\xff\xfe\x00\x01",   # not UTF-8
    b"NOT HTTP AT ALL\r\n\r\n",
    b"",
], ids=["truncated", "nested", "not-utf8", "not-http", "empty"])
def test_broken_answers_are_runtime_down_never_another_exception(tmp_path, reply):
    def answer(conn):
        try:
            conn.recv(65536)
            conn.sendall(reply)
        except OSError:
            pass
        finally:
            conn.close()
    srv = raw_server(tmp_path / "bad.sock", answer)
    try:
        with pytest.raises(runtimes.RuntimeDown):
            runtimes.DockerAPI(str(tmp_path / "bad.sock"), timeout=2).inspect(D)
    finally:
        srv.close()


def test_an_answer_over_the_size_limit_is_refused(runtime, monkeypatch):
    monkeypatch.setattr(runtimes, "MAX_BODY", 1000)
    srv = runtime(lambda cid: (200, running(cid, Config={"Labels": {"x": "y" * 5000}})))
    with pytest.raises(runtimes.RuntimeDown, match="over 1000 bytes"):
        runtimes.DockerAPI(srv.path).inspect(D)


def test_odd_field_types_keep_the_reference_and_drop_only_the_odd_field(runtime):
    docs = {
        "1" * 64: running("1" * 64, Config={"Labels": None, "Env": None, "Image": None}),
        "2" * 64: running("2" * 64, Config={"Env": "APP_X=1"}),          # a string, not a list
        "3" * 64: running("3" * 64, Created="2024-13-45T99:99:99Z"),
        "4" * 64: running("4" * 64, Created=1714641247),
        "5" * 64: running("5" * 64, Created="0001-01-01T00:00:00Z"),     # Go's zero time
        "6" * 64: running("6" * 64, Config=[]),
    }
    srv = runtime(lambda cid: (200, docs[cid]))
    api = runtimes.DockerAPI(srv.path, env_allow=("APP_",))
    for cid in docs:
        m = api.inspect(cid)
        assert (m.id, m.aliases, m.namespace) == (cid, [f"c-{cid[-6:]}", cid], "docker"), cid
    assert api.inspect("1" * 64).labels == {} and api.inspect("1" * 64).image == ""
    assert api.inspect("2" * 64).envs == {}
    assert [api.inspect(c * 64).created for c in "345"] == [None, None, None]


def test_the_reference_id_is_the_cgroups_even_when_the_answer_says_otherwise(runtime):
    # cAdvisor's reference id is the 64-character run of the cgroup name; an
    # answer without "Id" (or with another) must not give an id "" / a stranger's.
    other = "f" * 64
    srv = runtime(lambda cid: (200, running(cid, Id=None) if cid == D else running(cid, Id=other)))
    api = runtimes.DockerAPI(srv.path)
    m = api.inspect(D)
    assert (m.id, m.aliases) == (D, [f"c-{D[-6:]}", D])
    m = api.inspect("1" * 64)
    assert (m.id, m.aliases) == ("1" * 64, [f"c-{'1' * 6}", "1" * 64])


# --- the registry ---------------------------------------------------------------------------

def test_a_malformed_answer_is_not_asked_again_at_every_retry(runtime):
    srv = runtime(lambda cid: (200, running(cid, Config={"Labels": ["not", "a", "dict"]})))
    reg = runtimes.Registry({"docker": srv.path})
    name = f"/docker/{D}"
    try:
        reg.submit(name)
        assert reg.wait(timeout=5)
        for _ in range(20):               # a refresh() each
            reg.retry()
            assert reg.wait(timeout=5)
        assert len(srv.requests) == 1     # backed off like a runtime that is down
        assert reg.metadata(name) is None
        assert reg.errors["docker"].startswith("AttributeError")
    finally:
        reg.close()


def test_find_waits_for_lookups_that_are_still_making_progress(runtime):
    # 120 containers at once, 10 ms a lookup, a 0.25 s request timeout: all
    # answers take ~1.2 s. The last one is found, not "no container named".
    cids = ids(120)
    srv = runtime(lambda cid: (200, running(cid, "last-one" if cid == cids[-1] else None)), delay=0.01)
    reg = runtimes.Registry({"docker": srv.path}, timeout=0.25)
    names = [f"/docker/{c}" for c in cids]
    try:
        for n in names:
            reg.submit(n)
        assert reg.find("last-one", names) == names[-1]
        assert len(srv.requests) == 120
    finally:
        reg.close()


def test_find_gives_up_once_a_hung_runtime_stops_progress(runtime, tmp_path):
    # A socket that accepts and never answers: the first lookup times out, the
    # rest fail fast (back-off); find answers within a few timeouts.
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(tmp_path / "hung.sock"))
    srv.listen(64)
    reg = runtimes.Registry({"docker": str(tmp_path / "hung.sock")}, timeout=0.3)
    names = [f"/docker/{c}" for c in ids(50)]
    try:
        for n in names:
            reg.submit(n)
        t0 = time.monotonic()
        with pytest.raises(errors.UnknownContainer, match="no container named 'x'"):
            reg.find("x", names)
        assert time.monotonic() - t0 < 2
        assert "timed out" in reg.errors["docker"]
    finally:
        reg.close()
        srv.close()


def test_two_thousand_containers_at_once_never_block_submit_and_all_get_names(runtime):
    cids = ids(2000)
    srv = runtime(lambda cid: (200, running(cid)))
    reg = runtimes.Registry({"docker": srv.path}, timeout=2)
    names = [f"/system.slice/docker-{c}.scope" for c in cids]
    try:
        t0 = time.monotonic()
        for n in names:
            assert reg.submit(n).runtime == "docker"
        assert time.monotonic() - t0 < 0.5        # the sweep side never waits on the runtime
        assert reg.wait(timeout=60)
        assert all(reg.metadata(n, wait=False).name == f"c-{n[-12:-6]}" for n in names)
        assert len(reg._queue) == 0 and len(reg._entries) == 2000
        for n in names:
            reg.forget(n)
        assert len(reg._entries) == 0             # bounded by the containers tracked
    finally:
        reg.close()


def test_a_runtime_socket_that_goes_away_and_comes_back(runtime, monkeypatch):
    monkeypatch.setattr(runtimes, "DOWN_RETRY_S", 0.2)
    srv = runtime(lambda cid: (200, running(cid)))
    path = srv.path
    reg = runtimes.Registry({"docker": path})
    a, b = f"/docker/{'a' * 64}", f"/docker/{'b' * 64}"
    try:
        reg.submit(a)
        assert reg.wait(timeout=5) and reg.metadata(a).name == "c-aaaaaa"
        srv.close()
        reg.submit(b)
        assert reg.wait(timeout=5) and reg.metadata(b) is None
        assert "No such file" in reg.errors["docker"]
        assert reg.metadata(a).name == "c-aaaaaa"          # cached for its life
        runtime(lambda cid: (200, running(cid)))           # back, same path
        time.sleep(0.3)
        reg.retry()
        assert reg.wait(timeout=5) and reg.metadata(b).name == "c-bbbbbb"
        assert reg.errors == {}
    finally:
        reg.close()


def test_close_with_a_lookup_in_flight_ends_the_thread_and_the_process(tmp_path):
    code = f"""
import socket, threading, time, sys
from cgsampler import runtimes
srv = socket.socket(socket.AF_UNIX); srv.bind({str(tmp_path / 'hung.sock')!r}); srv.listen(8)
reg = runtimes.Registry({{"docker": {str(tmp_path / 'hung.sock')!r}}}, timeout=1.0)
for i in range(1, 200):
    reg.submit("/docker/%064x" % i)
time.sleep(0.2)                       # the first lookup hangs in recv
t0 = time.monotonic()
reg.close()
assert time.monotonic() - t0 < 0.1
deadline = time.monotonic() + 3
while any(t.name == "cgsampler-runtimes" for t in threading.enumerate()) and time.monotonic() < deadline:
    time.sleep(0.02)
print("thread ended", not any(t.name == "cgsampler-runtimes" for t in threading.enumerate()))
reg2 = runtimes.Registry({{"docker": {str(tmp_path / 'hung.sock')!r}}}, timeout=30)
reg2.submit("/docker/%064x" % 1)
time.sleep(0.2)
reg2.close()                          # in flight for 30 s: the interpreter must still exit now
"""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=SRC),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["thread", "ended", "True"]
    assert time.monotonic() - t0 < 10


# --- naming ---------------------------------------------------------------------------------

def test_odd_cgroup_names_classify_by_the_basename_only():
    assert classify(f"/système.slice/docker-{D}.scope") == Match("docker", D)
    assert classify(f"/x/\udcff{D}") == Match("", D)                    # undecodable byte first
    assert classify(f"/docker/{D}/nested") == Match("raw")              # an id higher up names nothing
    assert classify(f"/docker/{D.upper()}") == Match("raw")             # ids are lower-case
    assert classify(f"/var-lib-docker-{D}.mount") == Match("raw")
    assert classify(f"/machine-libpod_pod_{D}.slice") == Match("raw")
    assert classify(f"/libpod-conmon-{D}.scope") == Match("raw")
    assert classify(f"/x/{D}ff") == Match("", D)                        # the first 64-run, as cAdvisor
    assert classify("//docker//" + D + "//") == Match("docker", D)
    assert classify("") == Match("raw") and classify("///") == Match("raw")


def _cgroup(directory, usage_usec=500):
    directory = os.fsencode(directory)
    os.makedirs(directory, exist_ok=True)
    for fname, text in {
        b"cgroup.procs": "", b"cpu.stat": f"usage_usec {usage_usec}\nuser_usec 1\nsystem_usec 1\n",
        b"memory.current": f"{MiB}\n", b"memory.max": "max\n",
        b"memory.stat": f"anon {MiB}\nfile 0\ninactive_file 0\n",
    }.items():
        with open(os.path.join(directory, fname), "w") as f:
            f.write(text)


@pytest.fixture
def tree(tmp_path):
    """A v2 tree: containers "a"*64 (web), "a"*63+"b" (api) and one named
    after a cgroup (system.slice), an undecodable-named docker cgroup, a unit."""
    cg = os.fsencode(str(tmp_path / "cgroup"))
    _cgroup(cg, 1000)
    with open(os.path.join(cg, b"cgroup.controllers"), "w") as f:
        f.write("cpu memory\n")
    names = [f"/system.slice/docker-{'a' * 64}.scope", f"/system.slice/docker-{'a' * 63}b.scope",
             f"/system.slice/docker-{D}.scope", "/system.slice/sshd.service"]
    for n in ["/system.slice"] + names:
        _cgroup(cg + os.fsencode(n))
    _cgroup(cg + b"/weird\xff/" + D[::-1].encode())
    proc = tmp_path / "proc"
    os.makedirs(proc)
    (proc / "meminfo").write_text("MemTotal:       16384000 kB\n")
    (proc / "uptime").write_text("100.0 100.0\n")
    return {"cgroup": os.fsdecode(cg), "proc": str(proc), "names": names}


def test_sampler_and_cli_with_ambiguous_prefixes_aliases_equal_to_cgroup_names_and_odd_bytes(
        tree, runtime, capsys):
    from cgsampler.sampler import Sampler
    named = {"a" * 64: "web", "a" * 63 + "b": "api", D: "system.slice", D[::-1]: "wéird"}
    srv = runtime(lambda cid: (200, running(cid, named[cid])) if cid in named else (404, {}))
    odd = "/weird\udcff/" + D[::-1]
    with Sampler(cgroup_root=tree["cgroup"], proc_root=tree["proc"], history=2,
                 runtimes={"docker": srv.path}, accelerators=False) as s:
        s.sample()
        assert s.lookup("web") == tree["names"][0]
        with pytest.raises(errors.UnknownContainer, match="ambiguous: it matches 2 containers"):
            s.lookup("aaaa")
        assert s.lookup("a" * 63 + "b") == tree["names"][1]
        # an alias spelled like a cgroup name: the cgroup, as documented
        assert s.lookup("system.slice") == "/system.slice"
        assert s.lookup(D[:12]) == tree["names"][2]
        assert s.lookup("wéird") == odd
        doc = json.loads(s.container_info(odd).to_json())
        assert (doc["id"], doc["aliases"], doc["namespace"]) == (D[::-1], ["wéird", D[::-1]], "docker")
    roots = ["--cgroup-root", tree["cgroup"], "--proc-root", tree["proc"], "--runtime", f"docker={srv.path}"]
    assert cli.main([*roots, "info", "aaaa", "--num-stats", "1", "--interval", "0.01"]) == 1
    err = capsys.readouterr().err
    assert "ambiguous" in err and err.count("\n") == 1
    assert cli.main([*roots, "info", "wéird", "--num-stats", "1", "--interval", "0.01"]) == 0
    assert json.loads(capsys.readouterr().out)["aliases"] == ["wéird", D[::-1]]


def test_refresh_and_sample_never_wait_on_a_hung_runtime_with_many_new_containers(tmp_path):
    from cgsampler.sampler import Sampler
    cg = str(tmp_path / "cgroup")
    _cgroup(cg, 1000)
    with open(os.path.join(cg, "cgroup.controllers"), "w") as f:
        f.write("cpu memory\n")
    proc = tmp_path / "proc"
    os.makedirs(proc)
    (proc / "meminfo").write_text("MemTotal:       16384000 kB\n")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(tmp_path / "hung.sock"))
    srv.listen(8)
    try:
        with Sampler(cgroup_root=cg, proc_root=str(proc), history=2, accelerators=False,
                     runtimes={"docker": str(tmp_path / "hung.sock")}, runtime_timeout=5) as s:
            for c in ids(300):
                _cgroup(os.path.join(cg, f"docker-{c}.scope"))
            t0 = time.monotonic()
            added, _ = s.refresh()
            s.sample()
            assert len(added) == 300
            assert time.monotonic() - t0 < 3
            t0 = time.monotonic()
            assert s.reference(f"docker-{'0' * 63}1.scope").id == ""   # pending: raw, no wait
            assert time.monotonic() - t0 < 0.5
    finally:
        srv.close()


# --- GPUs -----------------------------------------------------------------------------------

@pytest.fixture
def fake(fake_libs, tmp_path, monkeypatch):
    monkeypatch.delenv(accelerators.PROCESS_INTERVAL_ENV, raising=False)
    return make_fake(fake_libs, tmp_path, monkeypatch)


ONE_GPU = """\
count 1
0.name Absurd GPU
0.uuid GPU-absurd
0.minor 0
0.memory_total 1000
0.memory_used 5000
0.util_gpu 250
0.util_memory 400
"""


def test_absurd_nvml_values_are_reported_as_read(fake):
    fake.configure(ONE_GPU)
    acc = Accelerators(2, True, fake.path, version=2)
    try:
        acc.attach("/")
        acc._procs = {"/": {0: [(1, 1)]}}        # attribute the GPU without the process path
        acc.sample(0)
        [st] = acc.stats(0, "/")
        assert (st.memory_total, st.memory_used, st.duty_cycle) == (1000, 5000, 250)
    finally:
        acc.close()


def test_gpu_processes_with_odd_pids_and_cgroup_files(fake, tmp_path):
    # 4242: a cgroup named with a byte that is not UTF-8; 4343: malformed;
    # 4444: its cgroup file is a directory; 99999999: no such pid.
    proc = tmp_path / "fakeproc"
    for pid, text in ((4242, b"0::/bad\xff/x\n"), (4343, b"garbage\n::\n0:\n1:cpu:rel\n")):
        os.makedirs(proc / str(pid))
        (proc / str(pid) / "cgroup").write_bytes(text)
    os.makedirs(proc / "4444" / "cgroup")
    fake.configure(ONE_GPU + "0.proc 4242 10\n0.proc 4343 20\n0.proc 4444 30\n0.proc 99999999 40\n")
    acc = Accelerators(2, True, fake.path, process_interval=0, proc_root=str(proc), version=2)
    try:
        for n in ("/", "/bad\udcff", "/bad\udcff/x", "/other"):
            acc.attach(n)
        acc.sample(0)                            # must not raise out of the sweep
        acc.sample(1)
        assert [(u["pids"], u["memory_used"]) for u in acc.usage("/")] == [([4242], 10)]
        assert acc.usage("/bad\udcff")[0]["pids"] == [4242]
        assert acc.usage("/bad\udcff/x")[0]["sources"] == ["processes"]
        assert acc.usage("/other") == []
        assert acc.stats(1, "/other") is None
    finally:
        acc.close()


@pytest.mark.parametrize("library,status", [
    ("DIR", "not found"),                 # a directory
    ("/etc/hostname", "not found"),       # not an ELF file
    ("/nonexistent/libnvidia-ml.so.1", "not found"),
    ("libc.so.6", "missing symbol nvmlInit_v2"),
])
def test_a_library_path_that_is_no_nvml_is_a_status_not_an_exception(tmp_path, monkeypatch, library, status):
    from cgsampler.sampler import Sampler
    library = str(tmp_path) if library == "DIR" else library
    monkeypatch.setenv("CGSAMPLER_NVML_LIBRARY", library)
    with Sampler(containers=["/"], history=2, accelerators=True) as s:   # the library from the env
        s.sample()
        s.refresh()
        s.sample()
        assert s.accelerator_status == status
        assert s.stats["valid"][-1, 0] != 0                                # the cgroup stats go on
        assert s.container_info("/").stats[-1].accelerators is None


def test_zero_devices_then_devices_loads_at_a_later_refresh(fake, monkeypatch):
    monkeypatch.setattr(accelerators, "RETRY_INTERVAL", 0)
    fake.configure("count 0\n")
    acc = Accelerators(4, True, fake.path, version=2)
    try:
        acc.attach("/")
        acc.sample(0)
        assert acc.status == "no devices" and acc.stats(0, "/") is None
        fake.configure(ONE_GPU.replace("0.memory_used 5000", "0.memory_used 10"))
        acc.refresh()
        assert acc.status == "ok" and len(acc.devices) == 1
        acc._procs = {"/": {0: [(1, 1)]}}
        acc.sample(1)
        assert acc.stats(1, "/")[0].memory_used == 10
    finally:
        acc.close()


def test_more_devices_than_the_loader_holds_are_cut_at_256(fake):
    fake.configure("count 300\n" + "".join(f"{i}.minor {i}\n{i}.memory_total {i + 1}\n" for i in range(300)))
    nv = Nvml()
    try:
        assert nv.load(fake.path) and nv.device_count == 256
        out = np.zeros(256, accelerators.ACCELERATOR_DTYPE)
        assert nv.sample(out) == 256
        assert out["memory_total"][255] == 256
    finally:
        nv.close()


def test_a_device_name_without_a_nul_is_cut_to_the_buffer(fake):
    fake.configure(ONE_GPU + "0.name_unterminated 1\n")
    nv = Nvml()
    try:
        assert nv.load(fake.path)
        assert nv.devices[0]["name"] == "N" * 95 and nv.devices[0]["uuid"] == "GPU-absurd"
    finally:
        nv.close()


def test_idle_shutdown_and_reload_cycles_leak_no_fds_or_threads(fake):
    fake.configure(ONE_GPU + f"0.proc {os.getpid()} 10\n")

    def counts():
        return len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task")), threading.active_count()
    acc = Accelerators(4, True, fake.path, process_interval=0, idle_timeout=0, version=2)
    try:
        acc.attach("/other")                     # the process is not in it: never attributed
        acc.sample(0)
        assert acc.status == "idle"
        before, inits = counts(), fake.inits_total()
        for i in range(100):
            acc.refresh()                        # loads, finds no process of a container, shuts down
            acc.sample(i % 4)
        assert acc.status == "idle" and fake.init_count() == 0
        assert fake.inits_total() - inits == 100
        # Native threads of earlier tests (an abandoned hung init finishing) may
        # come and go meanwhile: give the process's task list a moment to settle.
        deadline = time.monotonic() + 2
        while counts() != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert counts() == before
    finally:
        acc.close()


def test_refresh_and_close_racing_sample_with_nvml_loaded(fake, tmp_path):
    fake.configure(ONE_GPU + f"0.proc {os.getpid()} 10\n")
    code = f"""
import threading, time
from cgsampler import errors
from cgsampler.sampler import Sampler
s = Sampler(containers=["/"], history=4, nvml_library={fake.path!r},
            accelerators={{"mode": True, "process_interval": 0, "idle_timeout": 0, "interval": 0}})
assert s.accelerator_status == "ok", s.accelerators.detail
bad, stop = [], threading.Event()
def loop(f):
    while not stop.is_set():
        try:
            f()
        except errors.SamplerClosed:
            return
        except Exception as e:
            bad.append(repr(e)); return
ts = [threading.Thread(target=loop, args=(f,)) for f in (
    s.sample, s.refresh, lambda: s.accelerator_usage("/"), lambda: s.container_info("/"),
    lambda: s.accelerators.devices, lambda: s.gpu_history)]
for t in ts: t.start()
time.sleep(1.5)
s.close()
time.sleep(0.2)
stop.set()
for t in ts: t.join(10)
print("alive", sum(t.is_alive() for t in ts), "bad", bad, "status", s.accelerator_status)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=SRC, FAKE_NVML_CONFIG=fake.config_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "alive 0 bad [] status closed"
