"""A process's /proc/<pid>/stat and /proc/<pid>/schedstat (native parsers
procpid.pyx), on real samples (fixtures/realworld/pid_stat and schedstat, sources
in ../shared/fixtures/realworld/SOURCES.md), the bug-report case
(fixtures/bugcases/pidstat-comm-parens-spaces) and hypothesis-generated files.
Expected values are read off the files by hand."""
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgsampler._native import procpid
from fuzzing import examples, mutated, watchdog  # noqa: F401  (watchdog: autouse fixture)

HERE = os.path.dirname(__file__)
REAL = os.path.join(HERE, "fixtures", "realworld")
BUG = os.path.join(HERE, "fixtures", "bugcases", "pidstat-comm-parens-spaces")
U64_MAX = 2**64 - 1
READ = ("pid", "comm", "state", "ppid", "utime", "stime", "num_threads", "starttime")


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def stat(pid, comm, state, ppid, utime, stime, num_threads, starttime):
    return {"pid": pid, "comm": comm, "state": state, "ppid": ppid, "utime": utime, "stime": stime,
                "num_threads": num_threads, "starttime": starttime}


# --- /proc/<pid>/stat ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["stat-double-paren", "stat-crafted-comm", "stat-space-and-newline"])
def test_bug_case_expected_json(name):
    # expected.json also lists pgrp, session, tty_nr, vsize, rss, rsslim: not read by this parser.
    want = json.loads(read(BUG, "expected.json"))["files"][name]
    want = {k: (want[k].encode() if k == "comm" else want[k]) for k in READ}
    assert procpid.parse_pid_stat(read(BUG, name)) == want


PID_STAT_SAMPLES = [
    ("below-comm-unbalanced-paren-state-D", stat(74718, b"((bash process)", "D", 44786, 14474, 10887, 1, 102803)),
    ("elastic-agent-nice12-stray-quote", stat(4067478, b"elastic-agent", "S", 1, 8229, 3989, 26, 200791940)),
    ("gopsutil-comm-with-parens", stat(68927, b"test(cmd).sh", "S", 68044, 0, 0, 1, 114413973)),
    ("gopsutil-smartos-lx-zone-44-fields", stat(1, b"systemd", "S", 0, 8, 15, 0, 25)),
    ("gosigar-81-sd-pam-double-parens", stat(1467, b"(sd-pam)", "S", 1465, 0, 0, 1, 3448)),
    ("jc-comm-crafted-to-look-like-fields", stat(2001, b"bad) S 1 2 3 4 5", "S", 1888, 0, 0, 1, 75513)),
    ("jc-comm-with-newline", stat(2001, b"my file with\nsp", "S", 1888, 0, 0, 1, 75513)),
    ("jc-systemd-pid1", stat(1, b"systemd", "S", 0, 107, 461, 1, 128)),
    ("node-exporter-kthread-idle-state-I", stat(11, b"rcu_preempt", "I", 2, 0, 346, 1, 32)),
    ("node-exporter-kthread-no-newline", stat(17, b"khungtaskd", "S", 2, 14, 0, 1, 24)),
    ("node-exporter-systemd-pid1", stat(1, b"systemd", "S", 0, 36, 98, 1, 29)),
    ("procfs-comm-with-parens-and-spaces", stat(1020, b"(a b ) ( c d) ", "R", 28378, 0, 0, 1, 10839175)),
    ("procfs-multithread-leader", stat(27079, b"pthread_load", "S", 1, 58125, 15, 5, 4289574)),
    ("procfs-vim", stat(26231, b"vim", "R", 5392, 1677, 44, 1, 82375)),
    ("procfs-vim-child", stat(33, b"ata_sff", "S", 2, 0, 0, 1, 5)),      # cutime/cstime are +-2^63
    ("rust-psutil-8-comm-with-space", stat(25097, b"sle ep", "S", 6632, 0, 0, 1, 9600533)),
    ("sysstat-firefox-67-threads", stat(8741, b"firefox", "S", 7900, 6962, 2001, 67, 9648)),
    ("sysstat-thread-space-in-comm-exit-signal-minus1", stat(8785, b"JS Helper", "S", 7900, 7, 3, 67, 9931)),
    ("uutils-214-comm-space-paren-dot", stat(83875, b"sleep (2) .sh", "S", 75750, 0, 0, 1, 18366278)),
]


@pytest.mark.parametrize("name, want", PID_STAT_SAMPLES)
def test_real_pid_stat(name, want):
    assert procpid.parse_pid_stat(read(REAL, "pid_stat", name)) == want


def test_every_real_pid_stat_sample_is_in_the_table_above():
    assert {name for name, _ in PID_STAT_SAMPLES} == set(os.listdir(os.path.join(REAL, "pid_stat")))


def test_this_process():
    with open("/proc/self/stat", "rb") as f:
        got = procpid.parse_pid_stat(f.read())
    assert got["pid"] == os.getpid() and got["ppid"] == os.getppid() and got["state"] == "R"


TAIL = b" 1 2 3 0 -1 4194560 31 0 0 0 120 44 0 0 20 0 3 0 777 12345678 300 18446744073709551615 1 1 0 0 0"


def test_read_fields_are_exact_to_2_64_minus_1():
    line = b"7 (x) S 18446744073709551615 2 3 0 -1 4194560 31 0 0 0 18446744073709551615 " \
           b"18446744073709551615 -9223372036854775808 9223372036854775807 20 0 18446744073709551615 0 " \
           b"18446744073709551615 1\n"
    assert procpid.parse_pid_stat(line) == stat(7, b"x", "S", U64_MAX, U64_MAX, U64_MAX, U64_MAX, U64_MAX)


def test_empty_comm_and_a_line_ending_at_starttime():
    line = b"5 () Z" + TAIL.split(b" 12345678")[0]
    assert procpid.parse_pid_stat(line) == stat(5, b"", "Z", 1, 120, 44, 3, 777)


@pytest.mark.parametrize("data", [
    b"", b"\n", b"7", b"7 (x", b"7 x) S" + TAIL, b"(x) S" + TAIL, b"-7 (x) S" + TAIL, b"7x (x) S" + TAIL,
    b" 7 (x) S" + TAIL, b"7  (x) S" + TAIL, b"7 (x)S" + TAIL, b"7 (x) 1" + TAIL, b"7 (x) S" + TAIL + b" (y)",
    b"7 (x) SS" + TAIL, b"7 (x) S",
    b"7 (x) S" + TAIL.split(b" 777")[0],                     # cut before starttime
    b"7 (x) S -1" + TAIL[2:],                                # ppid negative
    b"7 (x) S" + TAIL.replace(b" 120 ", b" -120 "),          # utime negative
    b"7 (x) S" + TAIL.replace(b" 44 ", b" 4x4 "),
    b"7 (x) S" + TAIL.replace(b" 4194560 ", b" - "),
    b"7 (x) S" + TAIL.replace(b" 777 ", b" 18446744073709551616 "),
    b"7 (x) S" + TAIL.replace(b" 20 ", b"\n20 "),            # a newline inside the fields
])
def test_malformed_pid_stat(data):
    with pytest.raises(ValueError):
        procpid.parse_pid_stat(data)


# --- /proc/<pid>/schedstat -----------------------------------------------------------------

@pytest.mark.parametrize("name, want", [
    ("procfs-pid-normal", (411605849, 93680043, 79)),
    ("sysstat-firefox-large", (34569991055, 1039068587, 165909)),
])
def test_real_schedstat(name, want):
    got = procpid.parse_pid_schedstat(read(REAL, "schedstat", name))
    assert (got["run_time"], got["runqueue_time"], got["run_periods"]) == want


def test_malformed_real_schedstat():
    # procfs' deliberately malformed sample (ASCII art).
    with pytest.raises(ValueError):
        procpid.parse_pid_schedstat(read(REAL, "schedstat", "procfs-pid-malformed-cowsay"))


def test_this_process_schedstat():
    with open("/proc/self/schedstat", "rb") as f:
        got = procpid.parse_pid_schedstat(f.read())
    assert got["run_time"] > 0 and got["run_periods"] > 0


@pytest.mark.parametrize("data, want", [
    (b"0 0 0\n", (0, 0, 0)),                                 # schedstats disabled
    (b"1 2 3", (1, 2, 3)),                                   # no final newline
    (b"18446744073709551615 18446744073709551615 18446744073709551615\n", (U64_MAX,) * 3),
])
def test_schedstat_values(data, want):
    got = procpid.parse_pid_schedstat(data)
    assert (got["run_time"], got["runqueue_time"], got["run_periods"]) == want


@pytest.mark.parametrize("data", [
    b"", b"\n", b"1 2\n", b"1 2 3 4\n", b"1 -2 3\n", b"1 2 3x\n", b"1 2 18446744073709551616\n",
    b"1 2\n3\n", b"1 2 3\n4\n", b"max 2 3\n",
])
def test_malformed_schedstat(data):
    with pytest.raises(ValueError):
        procpid.parse_pid_schedstat(data)


# --- fuzzing -------------------------------------------------------------------------------

FUZZ, GEN = examples(200), examples(80)


u64 = st.one_of(st.integers(0, U64_MAX), st.sampled_from([0, 1, 2**63, U64_MAX]))
i64 = st.integers(-2**63, 2**63 - 1)
READ_FIELDS = {4: "ppid", 14: "utime", 15: "stime", 20: "num_threads", 22: "starttime"}


@st.composite
def stat_files(draw):
    """(bytes, expected): "PID (COMM) STATE" and fields 4-52, COMM any bytes (parens, spaces,
    newlines: the kernel does not escape them on older releases)."""
    pid = draw(st.integers(1, 2**22))
    comm = draw(st.binary(max_size=64))
    state = draw(st.sampled_from("RSDZTtXxKWPI"))
    nfields = draw(st.sampled_from([22, 44, 52]))
    want = stat(pid, comm, state, 0, 0, 0, 0, 0)
    fields = []
    for k in range(4, nfields + 1):
        if k in READ_FIELDS:
            v = draw(u64)
            want[READ_FIELDS[k]] = v
        else:
            v = draw(i64)
        fields.append(b"%d" % v)
    data = b"%d (%s) %s %s" % (pid, comm, state.encode(), b" ".join(fields))
    return data + draw(st.sampled_from([b"", b"\n", b" \n"])), want


@GEN
@given(stat_files())
def test_generated_pid_stat_reads_back_exactly(case):
    data, want = case
    assert procpid.parse_pid_stat(data) == want


@GEN
@given(u64, u64, u64, st.sampled_from([b"", b"\n", b" \n"]))
def test_generated_schedstat_reads_back_exactly(a, b, c, end):
    assert procpid.parse_pid_schedstat(b"%d %d %d%s" % (a, b, c, end)) == {
        "run_time": a, "runqueue_time": b, "run_periods": c}


TOKENS = [b"1", b"0", b"-1", b"18446744073709551615", b"18446744073709551616", b"(", b")", b"((", b"))",
          b" ", b"  ", b"\t", b"\n", b"\r", b"\x00", b"\xff", b"\x0b", b"S", b"R", b"x", b"max", b"-"]




soup = st.lists(st.sampled_from(TOKENS), max_size=80).map(b"".join)


@FUZZ
@given(st.one_of(st.binary(max_size=400), soup, mutated(stat_files().map(lambda c: c[0]), TOKENS)))
def test_any_bytes_pid_stat(data):
    try:
        got = procpid.parse_pid_stat(data)
    except ValueError:
        return
    # Whatever parsed has the shape of the rule: "PID (" ... the last ")" ... " STATE ".
    # (the pid's digits may carry leading zeros: "00 (" is pid 0)
    head, sep, _ = data.partition(b" (")
    assert sep and head.isdigit() and int(head) == got["pid"]
    assert data.index(b"(") + 1 + len(got["comm"]) == data.rindex(b")")
    assert got["state"].isalpha()


def schedstat_rule(data):
    """The schedstat rule stated independently: three decimal numbers below 2^64 on the first
    line, nothing but whitespace after it."""
    line, _, rest = data.partition(b"\n")
    tokens = line.split()
    if rest.strip() or len(tokens) != 3 or not all(t.isdigit() and int(t) <= U64_MAX for t in tokens):
        return None
    return dict(zip(("run_time", "runqueue_time", "run_periods"), map(int, tokens)))


@FUZZ
@given(st.one_of(st.binary(max_size=60), soup,
                 st.text(alphabet="0123456789 \t\n\x0b-", max_size=80).map(str.encode)))
def test_any_bytes_schedstat_follows_the_rule(data):
    want = schedstat_rule(data)
    if want is None:
        with pytest.raises(ValueError):
            procpid.parse_pid_schedstat(data)
    else:
        assert procpid.parse_pid_schedstat(data) == want
