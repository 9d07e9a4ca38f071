"""cgsampler.v1 behaviour beyond JSON: Time, and the Go methods Eq, StatsEq,
Equals, StatsAfter, StatsStartTime, StatsEndTime, DefaultContainerInfoRequest and
the sort by name.  Tests marked ``oracle`` compare with the Go code live."""

from __future__ import annotations

import dataclasses
import json
import time as _time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cgsampler import v1
from go_oracle import v1oracle  # noqa: F401  (fixture)
from v1_strategies import NS, i32, infos, models, offsets, times

T = v1.Time.parse
MS = 1_000_000


def stats_at(*stamps: str) -> v1.ContainerInfo:
    return v1.ContainerInfo(stats=[v1.ContainerStats(timestamp=T(s)) for s in stamps])


# ------------------------------------------------------------------ Time

def test_the_default_time_is_gos_zero_time() -> None:
    assert v1.Time() == v1.Time.ZERO
    assert v1.Time.ZERO.rfc3339() == "0001-01-01T00:00:00Z"
    assert v1.Time.ZERO.is_zero()
    assert v1.ContainerStats().timestamp is v1.Time.ZERO


def test_zero_is_an_instant_so_it_is_zero_in_any_zone() -> None:
    assert T("0001-01-01T01:00:00+01:00").is_zero()
    assert not T("0001-01-01T00:00:00+01:00").is_zero()


def test_times_compare_and_hash_by_instant_not_by_zone() -> None:
    utc, paris = T("2024-05-01T10:00:00Z"), T("2024-05-01T12:00:00+02:00")
    assert utc == paris and hash(utc) == hash(paris)
    assert paris.utc_offset == 7200 and paris.rfc3339() == "2024-05-01T12:00:00+02:00"
    later = T("2024-05-01T10:00:00.000000001Z")
    assert utc < later and later > paris and utc <= paris and not utc < paris


def test_unix_nanoseconds_keep_full_precision() -> None:
    t = v1.Time.from_unix_ns(1_714_557_600_123_456_789, utc_offset=0)
    assert (t.unix_ns, t.utc_offset) == (1_714_557_600_123_456_789, 0)
    assert t.rfc3339() == "2024-05-01T10:00:00.123456789Z"
    assert v1.Time.from_unix_ns(-1, 0).rfc3339() == "1969-12-31T23:59:59.999999999Z"


def test_without_an_offset_the_local_zone_at_that_instant_is_used() -> None:
    ns = 1_714_557_600 * NS
    assert v1.Time.from_unix_ns(ns).utc_offset == _time.localtime(1_714_557_600).tm_gmtoff
    now = v1.Time.now()
    assert abs(now.unix_ns - _time.time_ns()) < 5 * NS


def test_datetimes_convert_both_ways_at_microsecond_precision() -> None:
    dt = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    t = v1.Time.from_datetime(dt)
    assert t.rfc3339() == "2024-05-01T12:00:00.123456+02:00"
    assert t.to_datetime() == dt and t.to_datetime().utcoffset() == timedelta(hours=2)
    assert T("2024-05-01T10:00:00.999999999Z").to_datetime() == \
        datetime(2024, 5, 1, 10, 0, 0, 999999, tzinfo=timezone.utc)
    assert v1.Time.ZERO.to_datetime() == datetime(1, 1, 1, tzinfo=timezone.utc)


def test_a_naive_datetime_is_local_time() -> None:
    naive = datetime(2024, 5, 1, 12, 0, 0)
    assert v1.Time.from_datetime(naive) == v1.Time.from_datetime(naive.astimezone())


def test_times_datetime_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError):
        T("0000-12-31T23:00:00-01:00").to_datetime()
    with pytest.raises(ValueError):
        T("2024-05-01T10:00:00+30:00").to_datetime()


def test_time_fields_accept_datetimes_and_nanoseconds() -> None:
    dt = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    assert v1.ContainerStats(timestamp=dt).timestamp == T("2024-05-01T10:00:00Z")
    stamp = v1.Event(timestamp=1_714_557_600 * NS).timestamp
    assert isinstance(stamp, v1.Time) and stamp == T("2024-05-01T10:00:00Z")
    with pytest.raises(TypeError):
        v1.ContainerSpec(creation_time="2024-05-01T10:00:00Z")  # type: ignore[arg-type]


def test_times_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        v1.Time.ZERO.unix_ns = 0  # type: ignore[misc]


# ------------------------------------------------------------------ requests, references

def test_the_default_request_asks_for_60_stats_without_bounds() -> None:
    req = v1.default_container_info_request()
    assert (req.num_stats, req.start, req.end) == (60, v1.Time.ZERO, v1.Time.ZERO)
    assert req.to_json() == '{"num_stats":60,"start":"0001-01-01T00:00:00Z","end":"0001-01-01T00:00:00Z"}'


def test_requests_are_equal_when_count_and_instants_match() -> None:
    a = v1.ContainerInfoRequest(5, T("2024-05-01T10:00:00Z"), v1.Time.ZERO)
    assert a.equals(v1.ContainerInfoRequest(5, T("2024-05-01T12:00:00+02:00"), v1.Time.ZERO))
    assert not a.equals(v1.ContainerInfoRequest(6, a.start, a.end))
    assert not a.equals(v1.ContainerInfoRequest(5, a.start, T("2024-05-01T10:00:00Z")))


def test_references_sort_by_name_only() -> None:
    refs = [v1.ContainerReference(id="2", name="/b"), v1.ContainerReference(id="1", name="/a/z"),
            v1.ContainerReference(id="0", name="/a")]
    v1.sort_references(refs)
    assert [r.name for r in refs] == ["/a", "/a/z", "/b"]
    assert sorted([refs[2], refs[0]]) == [refs[0], refs[2]]
    assert v1.ContainerReference(id="z", name="/a") < v1.ContainerReference(id="a", name="/b")


# ------------------------------------------------------------------ Eq

def test_specs_are_equal_with_creation_times_up_to_one_second_apart() -> None:
    a = v1.ContainerSpec(creation_time=T("2024-05-01T10:00:00Z"), has_cpu=True, cpu=v1.CpuSpec(limit=2))
    assert a.eq(dataclasses.replace(a, creation_time=T("2024-05-01T10:00:01Z")))
    assert a.eq(dataclasses.replace(a, creation_time=T("2024-05-01T09:59:59Z")))
    assert not a.eq(dataclasses.replace(a, creation_time=T("2024-05-01T10:00:01.000000001Z")))


def test_spec_eq_compares_flags_cpu_and_memory_but_not_labels_envs_metrics_or_image() -> None:
    a = v1.ContainerSpec(has_cpu=True, cpu=v1.CpuSpec(limit=2), memory=v1.MemorySpec(limit=1))
    assert a.eq(dataclasses.replace(a, labels={"a": "b"}, envs={}, image="x",
                                    custom_metrics=[v1.MetricSpec(name="m")]))
    assert not a.eq(dataclasses.replace(a, has_cpu=False))
    assert not a.eq(dataclasses.replace(a, has_diskio=True))
    assert not a.eq(dataclasses.replace(a, cpu=v1.CpuSpec(limit=2, mask="0")))
    assert not a.eq(dataclasses.replace(a, memory=v1.MemorySpec(limit=2)))


def test_stats_are_equal_with_timestamps_up_to_10ms_apart() -> None:
    a = v1.ContainerStats(timestamp=T("2024-05-01T10:00:00Z"))
    assert a.eq(v1.ContainerStats(timestamp=T("2024-05-01T10:00:00.01Z")))
    assert a.eq(v1.ContainerStats(timestamp=T("2024-05-01T11:59:59.99+02:00")))
    assert not a.eq(v1.ContainerStats(timestamp=T("2024-05-01T10:00:00.010000001Z")))


def test_stats_eq_compares_cpu_memory_diskio_network_and_filesystem_only() -> None:
    a = v1.ContainerStats(filesystem=[v1.FsStats(usage=1)])
    ignored = dataclasses.replace(a, task_stats=v1.LoadStats(nr_running=1), processes=v1.ProcessStats(1),
                                  accelerators=[v1.AcceleratorStats()], custom_metrics={"m": []})
    assert a.stats_eq(ignored) and a.eq(ignored)
    assert not a.stats_eq(dataclasses.replace(a, cpu=v1.CpuStats(load_average=1)))
    assert not a.stats_eq(dataclasses.replace(a, memory=v1.MemoryStats(failcnt=1)))
    assert not a.stats_eq(dataclasses.replace(a, network=v1.NetworkStats(udp=v1.UdpStat(dropped=1))))
    assert not a.stats_eq(dataclasses.replace(a, filesystem=[v1.FsStats(usage=2)]))


def test_stats_eq_tells_nil_from_empty_like_reflect_deep_equal() -> None:
    assert not v1.ContainerStats(filesystem=None).stats_eq(v1.ContainerStats(filesystem=[]))
    assert not v1.ContainerStats(diskio=v1.DiskIoStats(io_time=[])).stats_eq(v1.ContainerStats())
    nil_map = v1.ContainerStats(diskio=v1.DiskIoStats(sectors=[v1.PerDiskStats(stats=None)]))
    empty_map = v1.ContainerStats(diskio=v1.DiskIoStats(sectors=[v1.PerDiskStats(stats={})]))
    assert not nil_map.stats_eq(empty_map)


def test_info_eq_compares_reference_subcontainers_spec_and_stats_pairwise() -> None:
    a = stats_at("2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z")
    a.name, a.aliases = "/a", ["x"]
    assert a.eq(dataclasses.replace(a, stats=[v1.ContainerStats(timestamp=T("2024-05-01T10:00:00.005Z")),
                                              v1.ContainerStats(timestamp=T("2024-05-01T10:00:01Z"))]))
    assert not a.eq(dataclasses.replace(a, name="/b"))
    assert not a.eq(dataclasses.replace(a, aliases=["x", "y"]))
    assert not a.eq(dataclasses.replace(a, subcontainers=[]))
    assert not a.eq(dataclasses.replace(a, spec=v1.ContainerSpec(has_cpu=True)))
    assert not a.eq(dataclasses.replace(a, stats=list(reversed(a.stats or []))))
    assert not a.eq(None)


def test_info_eq_only_looks_at_as_many_stats_as_the_other_has() -> None:
    two, one = stats_at("2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z"), stats_at("2024-05-01T10:00:00Z")
    assert two.eq(one)
    assert two.eq(v1.ContainerInfo(stats=None))
    # Go panics here (index out of range); we answer False.
    assert not one.eq(two)


def test_info_eq_is_false_where_go_would_dereference_a_nil_stats_entry() -> None:
    a = stats_at("2024-05-01T10:00:00Z")
    nil = v1.ContainerInfo(stats=[None])  # type: ignore[list-item]
    assert not a.eq(nil) and not nil.eq(a)


# ------------------------------------------------------------------ StatsAfter, start, end

def test_stats_after_returns_everything_from_the_first_later_sample() -> None:
    info = stats_at("2024-05-01T10:00:00Z", "2024-05-01T10:00:02Z", "2024-05-01T10:00:01Z")
    after = info.stats_after(T("2024-05-01T10:00:01Z"))
    assert [s.timestamp.rfc3339() for s in after] == ["2024-05-01T10:00:02Z", "2024-05-01T10:00:01Z"]


def test_stats_after_excludes_a_sample_at_exactly_the_reference_time() -> None:
    info = stats_at("2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z")
    assert info.stats_after(T("2024-05-01T12:00:00+02:00")) == [info.stats[1]]  # type: ignore[index]


def test_stats_after_is_empty_when_nothing_is_later_or_there_are_no_stats() -> None:
    assert stats_at("2024-05-01T10:00:00Z").stats_after(T("2024-05-01T10:00:00Z")) == []
    assert v1.ContainerInfo().stats_after(v1.Time.ZERO) == []
    assert v1.ContainerInfo(stats=[]).stats_after(v1.Time.ZERO) == []


def test_start_and_end_are_the_earliest_and_latest_timestamps() -> None:
    info = stats_at("2024-05-01T10:00:01Z", "2024-05-01T10:00:00Z", "2024-05-01T10:00:02Z")
    assert info.stats_start_time() == T("2024-05-01T10:00:00Z")
    assert info.stats_end_time() == T("2024-05-01T10:00:02Z")


def test_start_and_end_are_the_zero_time_without_stats() -> None:
    assert v1.ContainerInfo().stats_start_time() is v1.Time.ZERO
    assert v1.ContainerInfo().stats_end_time() is v1.Time.ZERO


def test_equal_instants_keep_the_first_for_start_and_the_last_for_end() -> None:
    info = stats_at("2024-05-01T10:00:00Z", "2024-05-01T12:00:00+02:00", "2024-05-01T05:00:00-05:00")
    assert info.stats_start_time().rfc3339() == "2024-05-01T10:00:00Z"
    assert info.stats_end_time().rfc3339() == "2024-05-01T05:00:00-05:00"


def test_a_zero_timestamp_is_skipped_by_start_only_until_a_later_sample() -> None:
    zero_first = stats_at("0001-01-01T00:00:00Z", "2024-05-01T10:00:00Z")
    assert zero_first.stats_start_time() == T("2024-05-01T10:00:00Z")
    zero_last = stats_at("2024-05-01T10:00:00Z", "0001-01-01T00:00:00Z")
    assert zero_last.stats_start_time() == v1.Time.ZERO
    assert stats_at("0001-01-01T00:00:00Z").stats_end_time() == v1.Time.ZERO


# ------------------------------------------------------------------ against Go, live

ORACLE_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
ms_jitter = st.sampled_from([0, 1, -1, 10 * MS, -10 * MS, 10 * MS + 1, -10 * MS - 1]) | st.integers(-20 * MS, 20 * MS)
s_jitter = st.sampled_from([0, NS, -NS, NS + 1, -NS - 1]) | st.integers(-2 * NS, 2 * NS)
light_stats = models(v1.ContainerStats, timestamp=times(realistic=True), custom_metrics=st.none(),
                     accelerators=st.none())


def go_says(answer: str) -> bool:
    """The oracle's answer as a bool: Go panicking counts as False."""
    assert answer in ("true", "false") or answer.startswith("panic: "), answer
    event(f"Go says {answer.split(':')[0]}")
    return answer == "true"


def shifted(t: v1.Time, draw: st.DrawFn, jitter: st.SearchStrategy[int]) -> v1.Time:
    return v1.Time(t.unix_ns + draw(jitter), draw(offsets))


def _bump(draw: st.DrawFn, s: v1.ContainerStats) -> None:
    part = draw(st.sampled_from(["cpu", "memory", "network", "filesystem", "diskio", "task_stats",
                                 "processes", "custom_metrics"]))
    if part == "cpu":
        s.cpu.load_average = (s.cpu.load_average + 1) % 2**31
    elif part == "memory":
        s.memory.container_data.pgfault = (s.memory.container_data.pgfault + 1) % 2**64
    elif part == "network":
        s.network.tcp6.listen = (s.network.tcp6.listen + 1) % 2**64
    elif part == "filesystem":
        s.filesystem = None if s.filesystem else [v1.FsStats()]
    elif part == "diskio":
        disks = [d for d in s.diskio.io_time or []]
        if disks:
            disks[0].stats = None if disks[0].stats is not None else {}
        else:
            s.diskio.io_time = [v1.PerDiskStats(stats={})]
    elif part == "task_stats":
        s.task_stats.nr_running = (s.task_stats.nr_running + 1) % 2**64
    elif part == "processes":
        s.processes.fd_count = (s.processes.fd_count + 1) % 2**64
    else:
        s.custom_metrics = {"m": None}


@st.composite
def stats_pairs(draw: st.DrawFn) -> tuple[v1.ContainerStats, v1.ContainerStats]:
    a = draw(light_stats)
    b = v1.ContainerStats.from_json(a.to_json())
    b.timestamp = shifted(b.timestamp, draw, ms_jitter)
    if draw(st.booleans()):
        _bump(draw, b)
    return a, b


@st.composite
def spec_pairs(draw: st.DrawFn) -> tuple[v1.ContainerSpec, v1.ContainerSpec]:
    a = draw(models(v1.ContainerSpec, creation_time=times(realistic=True)))
    b = v1.ContainerSpec.from_json(a.to_json())
    b.creation_time = shifted(b.creation_time, draw, s_jitter)
    change = draw(st.sampled_from(["none", "has_cpu", "has_network", "cpu", "memory", "labels", "image"]))
    if change.startswith("has_"):
        setattr(b, change, not getattr(b, change))
    elif change == "cpu":
        b.cpu.mask += "x"
    elif change == "memory":
        b.memory.reservation = (b.memory.reservation + 1) % 2**64
    elif change == "labels":
        b.labels = {"changed": "yes"}
    elif change == "image":
        b.image += "x"
    return a, b


@st.composite
def info_pairs(draw: st.DrawFn) -> tuple[v1.ContainerInfo, v1.ContainerInfo]:
    a = draw(infos(stats=light_stats))
    a.spec.creation_time = draw(times(realistic=True))
    b = v1.ContainerInfo.from_json(a.to_json())
    b.spec.creation_time = shifted(b.spec.creation_time, draw, s_jitter)
    for s in b.stats or []:
        s.timestamp = shifted(s.timestamp, draw, ms_jitter)
        if draw(st.integers(0, 4)) == 0:
            _bump(draw, s)
    change = draw(st.sampled_from(["none", "none", "drop", "add", "no_stats", "aliases", "subcontainers",
                                   "name", "spec"]))
    if change == "drop" and b.stats:
        b.stats.pop()
    elif change == "add":
        b.stats = (b.stats or []) + [draw(light_stats)]
    elif change == "no_stats":
        b.stats = None
    elif change == "aliases":
        b.aliases = ["other"] if b.aliases is None else None
    elif change == "subcontainers":
        b.subcontainers = [v1.ContainerReference(name="/x")] if not b.subcontainers else None
    elif change == "name":
        b.name += "x"
    elif change == "spec":
        b.spec.has_memory = not b.spec.has_memory
    return a, b


@pytest.mark.oracle
@settings(ORACLE_SETTINGS, max_examples=60)
@given(pair=info_pairs())
def test_info_eq_matches_go(v1oracle, pair: tuple[v1.ContainerInfo, v1.ContainerInfo]) -> None:
    a, b = pair
    ja, jb = a.to_json(), b.to_json()
    assert a.eq(b) == go_says(v1oracle.eq("info", ja, jb))
    assert b.eq(a) == go_says(v1oracle.eq("info", jb, ja))


@pytest.mark.oracle
@ORACLE_SETTINGS
@given(pair=stats_pairs())
def test_stats_eq_matches_go(v1oracle, pair: tuple[v1.ContainerStats, v1.ContainerStats]) -> None:
    a, b = pair
    assert a.eq(b) == go_says(v1oracle.eq("stats", a.to_json(), b.to_json()))


@pytest.mark.oracle
@ORACLE_SETTINGS
@given(pair=spec_pairs())
def test_spec_eq_matches_go(v1oracle, pair: tuple[v1.ContainerSpec, v1.ContainerSpec]) -> None:
    a, b = pair
    assert a.eq(b) == go_says(v1oracle.eq("spec", a.to_json(), b.to_json()))


@st.composite
def instant_pools(draw: st.DrawFn) -> Callable[[], st.SearchStrategy[v1.Time]]:
    """Times drawn from a few instants, in varying zones, so that ties happen."""
    base = draw(times(realistic=True)).unix_ns
    pool = [v1.Time.ZERO.unix_ns, base, base + 1, base - 1, base + 10 * MS, base + NS]
    return lambda: st.builds(v1.Time, st.sampled_from(pool), offsets)


@pytest.mark.oracle
@ORACLE_SETTINGS
@given(data=st.data())
def test_request_equals_matches_go(v1oracle, data: st.DataObject) -> None:
    pool = data.draw(instant_pools())
    requests = st.builds(v1.ContainerInfoRequest, st.sampled_from([0, -1, 60]), pool(), pool())
    a, b = data.draw(requests), data.draw(requests)
    assert a.equals(b) == go_says(v1oracle.eq("request", a.to_json(), b.to_json()))


@st.composite
def infos_with_tied_times(draw: st.DrawFn) -> tuple[v1.ContainerInfo, v1.Time]:
    pool = draw(instant_pools())
    stats = st.builds(v1.ContainerStats, timestamp=pool(), cpu=st.builds(v1.CpuStats, load_average=i32))
    info = v1.ContainerInfo(stats=draw(st.lists(stats, max_size=6)) or None)
    return info, draw(pool())


@pytest.mark.oracle
@ORACLE_SETTINGS
@given(case=infos_with_tied_times())
def test_stats_after_matches_go(v1oracle, case: tuple[v1.ContainerInfo, v1.Time]) -> None:
    info, ref = case
    after = info.stats_after(ref)
    event(f"{len(after)} of {len(info.stats or [])} stats after")
    ours = "[" + ",".join(s.to_json() for s in after) + "]"
    assert ours == v1oracle.stats_after(info.to_json(), ref.rfc3339())


@pytest.mark.oracle
@ORACLE_SETTINGS
@given(case=infos_with_tied_times())
def test_start_and_end_times_match_go(v1oracle, case: tuple[v1.ContainerInfo, Any]) -> None:
    info, _ = case
    start, end = v1oracle.start_end(info.to_json())
    assert (info.stats_start_time().rfc3339(), info.stats_end_time().rfc3339()) == (start, end)


@pytest.mark.oracle
def test_default_request_matches_go(v1oracle) -> None:
    assert v1.default_container_info_request().to_json() == v1oracle.default_request()
    assert json.loads(v1oracle.default_request())["num_stats"] == 60
