"""Fuzzing the native parsers through their Python entry points.

Two kinds of property, for every parser:

* any bytes at all (random, built from the format's own tokens, or a well-formed
  file with bytes flipped, inserted or cut) -> a result or ValueError, never a
  crash, never a hang (a watchdog ends the run after WATCHDOG_S);
* a well-formed file generated from values the test knows -> exactly those values.

Where the rule is short enough to state independently (a single number, a line
count) the arbitrary-bytes property checks the exact answer too.
Budget: a few seconds in all (max_examples per property below)."""
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgsampler._native import cgroup_v1, cgroup_v2, formats
from cgsampler.schema import DISK_LISTS, DISK_OPS
from fuzzing import examples, mutated, watchdog  # noqa: F401  (watchdog: autouse fixture)

U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1
OP = {name: i for i, name in enumerate(DISK_OPS)}
LIST = {name: i for i, name in enumerate(DISK_LISTS)}

FUZZ, MUTATE, GEN = examples(300), examples(120), examples(100)


# --- strategies -------------------------------------------------------------------------

WS = b" \t\n\r\x0b\x0c"                        # what the kernel's isspace() and bytes.strip() agree on
u64 = st.one_of(st.integers(0, U64_MAX), st.sampled_from([0, 1, 2**32, 2**63, U64_MAX - 1, U64_MAX]))
u32 = st.one_of(st.integers(0, U32_MAX), st.sampled_from([0, 1, 7, 8, 253, 259, U32_MAX]))
sep = st.sampled_from([b" ", b"  ", b"\t", b" \t "])

TOKENS = [b"0", b"1", b"42", b"18446744073709551615", b"18446744073709551616", b"-1", b"-", b"max", b"maximum",
          b"8:0", b"8:", b":0", b"253:1", b"4294967296:0", b"-8:0", b"8:-0", b"(unknown)", b"Total", b"Read",
          b"Write", b"Sync", b"Async", b"Discard", b"rbytes=", b"rbytes=5", b"wbytes=x", b"rios=max",
          b"wios=-3", b"dbytes=1", b"=", b"==", b"cost.vrate=1.5", b"user", b"system", b"total_rss",
          b" ", b"  ", b"\t", b"\n", b"\r", b"\r\n", b"\x00", b"\xff", b"\x0b", b"\x0c", b"0x10", b"+5", b"1.5"]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join)
any_bytes = st.one_of(st.binary(max_size=300), token_soup,
                      st.text(alphabet="0123456789 \t\n:=-max", max_size=200).map(str.encode))


MUTATION_TOKENS = TOKENS + [b"\x00", b"9" * 25]


# --- independent statements of the simple rules -----------------------------------------

def runc_number(token: bytes):
    """runc's ParseUint as the kernel's numbers need it: "max" is 2^64-1, a negative
    decimal is 0, digits up to 2^64-1 are themselves, anything else is an error (None)."""
    if token == b"max":
        return U64_MAX
    if re.fullmatch(rb"-[0-9]+", token):
        return 0
    if re.fullmatch(rb"[0-9]+", token):
        v = int(token)
        return v if v <= U64_MAX else None
    return None


def expected_single_value(data: bytes):
    return runc_number(data.strip(WS))


def expected_pid_count(data: bytes):
    """cgroup.procs: lines of ASCII digits (spaces, tabs and CR around them), or None if malformed."""
    count = 0
    for line in data.split(b"\n"):
        t = line.strip(b" \t\r")
        if not t:
            continue
        if not (t.isdigit() and int(t) < U64_MAX):
            return None
        count += 1
    return count


# --- arbitrary bytes: a result or ValueError ------------------------------------------------

@FUZZ
@given(data=any_bytes)
def test_single_value_on_any_bytes_is_exactly_the_runc_rule(data):
    want = expected_single_value(data)
    if want is None:
        with pytest.raises(ValueError):
            formats.parse_single_value(data)
    else:
        assert formats.parse_single_value(data) == want


@FUZZ
@given(data=any_bytes)
def test_pid_count_on_any_bytes_counts_pid_lines_or_refuses(data):
    want = expected_pid_count(data)
    if want is None:
        with pytest.raises(ValueError):
            formats.parse_pid_count(data)
    else:
        assert formats.parse_pid_count(data) == want


KEYS = ["user", "system", "total_rss", "nr_periods", "max", "8:0", "rbytes"]


@FUZZ
@given(data=any_bytes)
def test_keyed_on_any_bytes_returns_only_known_keys_with_numbers_or_raises(data):
    try:
        got = formats.parse_keyed(data, KEYS)
    except ValueError:
        return
    assert set(got) <= set(KEYS)
    for key, value in got.items():
        assert 0 <= value <= U64_MAX
        assert key.encode() in data


@FUZZ
@given(data=any_bytes)
def test_usage_percpu_on_any_bytes_returns_numbers_or_raises(data):
    try:
        got = cgroup_v1.parse_usage_percpu(data)
    except ValueError:
        return
    assert len(got) <= 4096 and all(0 <= v <= U64_MAX for v in got)
    assert len(got) <= len(data.split())


@FUZZ
@given(data=any_bytes)
def test_blkio_on_any_bytes_returns_entries_or_raises(data):
    try:
        got = cgroup_v1.parse_blkio(data)
    except ValueError:
        return
    for major, minor, op, value in got:
        assert 0 <= major <= U32_MAX and 0 <= minor <= U32_MAX
        assert 0 <= op < len(DISK_OPS) and 0 <= value <= U64_MAX
    assert len(got) <= data.count(b":")


@FUZZ
@given(data=any_bytes)
def test_io_stat_on_any_bytes_returns_entries_or_raises(data):
    try:
        got = cgroup_v2.parse_io_stat(data)
    except ValueError:
        return
    for major, minor, lst, op, value in got:
        assert 0 <= major <= U32_MAX and 0 <= minor <= U32_MAX
        assert (lst, op) in {(LIST["io_service_bytes"], OP["Read"]), (LIST["io_service_bytes"], OP["Write"]),
                             (LIST["io_serviced"], OP["Read"]), (LIST["io_serviced"], OP["Write"])}
    assert len(got) <= data.count(b"=")


def test_long_inputs_are_linear_not_stuck():
    # A megabyte of each format's worst case returns (the watchdog catches a hang).
    digits = b"9" * (1 << 20)
    with pytest.raises(ValueError):
        formats.parse_single_value(digits)
    assert formats.parse_pid_count(b"1\n" * (1 << 19)) == 1 << 19
    assert formats.parse_keyed(b"k 1\n" * (1 << 18), ["k"]) == {"k": 1}
    with pytest.raises(ValueError):
        formats.parse_keyed(b" " * (1 << 20), ["k"])        # no line at all
    assert len(cgroup_v1.parse_usage_percpu(b"1 " * (1 << 19))) == 1 << 19
    assert cgroup_v1.parse_blkio(b"Total 0\n" * (1 << 17)) == []
    assert cgroup_v2.parse_io_stat(b"8:0 " * (1 << 18)) == []
    assert cgroup_v2.parse_io_stat(b"x=1 " * (1 << 18)) == []


# --- well-formed files generated from known values ---------------------------------------------

@GEN
@given(value=u64, lead=st.sampled_from([b"", b" ", b"\t", b"\n"]),
       trail=st.sampled_from([b"", b"\n", b" \n", b"\r\n", b"\n\n"]))
def test_generated_single_value_reads_back(value, lead, trail):
    assert formats.parse_single_value(lead + b"%d" % value + trail) == value


@GEN
@given(negative=st.integers(1, 10**30), trail=st.sampled_from([b"", b"\n"]))
def test_generated_negative_single_value_reads_as_zero(negative, trail):
    assert formats.parse_single_value(b"-%d" % negative + trail) == 0


@GEN
@given(past=st.integers(U64_MAX + 1, 10**40))
def test_generated_number_past_2_64_is_malformed(past):
    with pytest.raises(ValueError):
        formats.parse_single_value(b"%d\n" % past)


@GEN
@given(pids=st.lists(st.integers(1, 2**22), max_size=200), final_newline=st.booleans())
def test_generated_cgroup_procs_counts_its_pids(pids, final_newline):
    data = b"\n".join(b"%d" % p for p in pids) + (b"\n" if final_newline and pids else b"")
    assert formats.parse_pid_count(data) == len(pids)


known_key = st.sampled_from(["user", "system", "total_rss", "nr_periods", "throttled_usec", "anon"])
unknown_key = st.from_regex(r"\A[a-z_][a-z0-9_.]{0,20}\Z", fullmatch=True).filter(
    lambda k: k not in {"user", "system", "total_rss", "nr_periods", "throttled_usec", "anon"})
unknown_value = st.one_of(u64.map(lambda v: b"%d" % v), st.sampled_from([b"-1", b"max", b"-9223372036854775808"]))


@st.composite
def keyed_file(draw, max_value=U64_MAX):
    """(file bytes, {known key: value}) for a flat "key value" file."""
    known = draw(st.dictionaries(known_key, st.integers(0, max_value), max_size=6))
    lines = [(k.encode(), b"%d" % v) for k, v in known.items()]
    lines += [(k.encode(), draw(unknown_value)) for k in draw(st.lists(unknown_key, max_size=8))]
    lines = draw(st.permutations(lines))
    out = b""
    for key, value in lines:
        out += draw(st.sampled_from([b"", b" ", b"\n"])) if draw(st.booleans()) and out else b""
        out += key + draw(sep) + value + draw(st.sampled_from([b"", b" ", b"\r"])) + b"\n"
    if out and draw(st.booleans()):
        out = out[:-1]                                           # no final newline
    return out, known


KNOWN_KEYS = ["user", "system", "total_rss", "nr_periods", "throttled_usec", "anon"]


@GEN
@given(case=keyed_file(max_value=U64_MAX - 1))
def test_generated_key_value_file_reads_back_the_known_keys(case):
    data, known = case
    if not data.strip():
        with pytest.raises(ValueError):                          # the kernel never prints it empty
            formats.parse_keyed(data, KNOWN_KEYS)
    else:
        assert formats.parse_keyed(data, KNOWN_KEYS) == known


def test_key_value_file_with_a_2_64_minus_1_value_reads_back():
    assert formats.parse_keyed(b"user 18446744073709551615\nsystem max\n", ["user", "system"]) == {
        "user": U64_MAX, "system": U64_MAX}


@GEN
@given(case=keyed_file(), key=st.one_of(known_key, unknown_key),
       bad=st.sampled_from([b"lots", b"1.5", b"18446744073709551616", b"0x10", b"+1", b"-"]))
def test_generated_key_value_file_with_a_value_that_is_not_a_number_is_malformed(case, key, bad):
    # runc's rule: every value must be a number, whether the key is one we read or not
    data, _ = case
    with pytest.raises(ValueError):
        formats.parse_keyed(data + b"\n" + key.encode() + b" " + bad + b"\n", KNOWN_KEYS)


@GEN
@given(values=st.lists(u64, min_size=1, max_size=64),
       seps=st.lists(st.sampled_from([b" ", b"  ", b"\t", b" \n", b"\n"]), min_size=64, max_size=64),
       trail=st.sampled_from([b"", b" ", b" \n", b"\n"]))
def test_generated_usage_percpu_reads_back(values, seps, trail):
    data = b"".join(b"%d" % v + s for v, s in zip(values[:-1], seps)) + b"%d" % values[-1] + trail
    assert cgroup_v1.parse_usage_percpu(data) == values


blkio_op = st.sampled_from(["Read", "Write", "Sync", "Async", "Discard", "Total"])


@st.composite
def blkio_file(draw):
    """(file bytes, expected entries) of a blkio rwstat or sectors/time file."""
    rows, want = [], []
    for _ in range(draw(st.integers(0, 15))):
        kind = draw(st.sampled_from(["op", "op", "count", "total", "unknown-op", "unknown-device"]))
        major, minor, value = draw(u32), draw(u32), draw(u64)
        dev = b"%d:%d" % (major, minor)
        s1, s2 = draw(sep), draw(sep)
        if kind == "op":
            op = draw(blkio_op)
            rows.append(dev + s1 + op.encode() + s2 + b"%d" % value)
            want.append((major, minor, OP[op], value))
        elif kind == "count":
            rows.append(dev + s1 + b"%d" % value)
            want.append((major, minor, OP["Count"], value))
        elif kind == "total":
            rows.append(b"Total" + s1 + b"%d" % value)
        elif kind == "unknown-op":
            rows.append(dev + s1 + draw(st.sampled_from([b"Frobnicate", b"read", b"Flush"])) + s2 + b"%d" % value)
        else:
            rows.append(b"(unknown)" + s1 + draw(blkio_op).encode() + s2 + b"%d" % value)
    data = b"\n".join(rows) + draw(st.sampled_from([b"", b"\n"]))
    return data, want


@GEN
@given(case=blkio_file())
def test_generated_blkio_file_reads_back_every_device_row_in_order(case):
    data, want = case
    assert cgroup_v1.parse_blkio(data) == want


@GEN
@given(major=st.integers(U32_MAX + 1, U64_MAX), minor=u32, op=blkio_op)
def test_blkio_device_number_past_32_bits_is_malformed(major, minor, op):
    with pytest.raises(ValueError):
        cgroup_v1.parse_blkio(b"%d:%d %s 5\n" % (major, minor, op.encode()))


IOSTAT_KEYS = {"rbytes": (LIST["io_service_bytes"], OP["Read"]), "wbytes": (LIST["io_service_bytes"], OP["Write"]),
               "rios": (LIST["io_serviced"], OP["Read"]), "wios": (LIST["io_serviced"], OP["Write"])}
iostat_other_key = st.sampled_from(["dbytes", "dios", "cost.usage", "cost.wait", "cost.indebt", "cost.vrate",
                                    "rbytes_new", "wiosx", "future"])


@st.composite
def io_stat_file(draw):
    """(file bytes, expected entries): devices with key=value counters, bare device ids
    glued in front of the next device (no newline), and a bare id at the end."""
    out, want = b"", []
    for i in range(draw(st.integers(0, 8))):
        major, minor = draw(u32), draw(u32)
        bare = draw(st.integers(0, 3)) == 0
        if bare:
            # a device without counters: "MAJ:MIN " and the next id right after it, no newline
            out += b"%d:%d " % (major, minor)
            continue
        out += b"%d:%d" % (major, minor)
        items = draw(st.lists(st.one_of(st.sampled_from(sorted(IOSTAT_KEYS)), iostat_other_key), max_size=6))
        for key in items:
            if key in IOSTAT_KEYS:
                value = draw(u64)
                out += b" %s=%d" % (key.encode(), value)
                want.append((major, minor) + IOSTAT_KEYS[key] + (value,))
            else:
                out += b" %s=%s" % (key.encode(), draw(st.sampled_from([b"0", b"12", b"1.5", b"x"])))
        out += b"\n"
    if draw(st.booleans()):
        out += b"%d:%d " % (draw(u32), draw(u32))                 # a torn read: just "MAJ:MIN "
    return out, want


@GEN
@given(case=io_stat_file())
def test_generated_io_stat_reads_back_with_counters_on_the_last_device_id(case):
    data, want = case
    assert cgroup_v2.parse_io_stat(data) == want


@GEN
@given(value=st.sampled_from([b"max", b"-1", b"-99999999999999999999999", b"18446744073709551615", b"007"]))
def test_io_stat_and_blkio_values_follow_the_runc_number_rule(value):
    want = {b"max": U64_MAX, b"-1": 0, b"-99999999999999999999999": 0, b"18446744073709551615": U64_MAX,
            b"007": 7}[value]
    assert cgroup_v2.parse_io_stat(b"8:0 rbytes=" + value + b"\n") == [(8, 0, LIST["io_service_bytes"], OP["Read"], want)]
    assert cgroup_v1.parse_blkio(b"8:0 Read " + value + b"\n") == [(8, 0, OP["Read"], want)]


# --- mutated well-formed files: a result or ValueError ------------------------------------------

@MUTATE
@given(data=mutated(keyed_file().map(lambda c: c[0]), MUTATION_TOKENS))
def test_mutated_key_value_file_returns_or_raises(data):
    try:
        formats.parse_keyed(data, KNOWN_KEYS)
    except ValueError:
        pass
    want = expected_single_value(data)
    try:
        assert formats.parse_single_value(data) == want
    except ValueError:
        assert want is None


@MUTATE
@given(data=mutated(blkio_file().map(lambda c: c[0]), MUTATION_TOKENS))
def test_mutated_blkio_file_returns_or_raises(data):
    try:
        cgroup_v1.parse_blkio(data)
    except ValueError:
        pass
    try:
        cgroup_v1.parse_usage_percpu(data)
    except ValueError:
        pass


@MUTATE
@given(data=mutated(io_stat_file().map(lambda c: c[0]), MUTATION_TOKENS))
def test_mutated_io_stat_returns_or_raises(data):
    try:
        cgroup_v2.parse_io_stat(data)
    except ValueError:
        pass
    want = expected_pid_count(data)
    if want is not None:
        assert formats.parse_pid_count(data) == want
