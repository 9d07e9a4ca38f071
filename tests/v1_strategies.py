"""Hypothesis strategies for the cgsampler.v1 types, derived from their annotations."""

from __future__ import annotations

import dataclasses
import functools
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

from hypothesis import strategies as st

from cgsampler import v1

NS = 1_000_000_000
U64_MAX = 2**64 - 1
YEAR_0 = -62_167_219_200 * NS      # 0000-01-01T00:00:00Z
YEAR_10000 = 253_402_300_800 * NS  # 10000-01-01T00:00:00Z
Y2000, Y2100 = 946_684_800 * NS, 4_102_444_800 * NS

u64 = st.sampled_from([0, 1, 2**32, 2**53 + 1, 2**63, U64_MAX - 1, U64_MAX]) | st.integers(0, U64_MAX)
i32 = st.sampled_from([0, -1, -(2**31), 2**31 - 1]) | st.integers(-(2**31), 2**31 - 1)
i64 = st.sampled_from([0, -1, -(2**63), 2**63 - 1]) | st.integers(-(2**63), 2**63 - 1)
floats = (st.sampled_from([0.0, -0.0, 1e21, 1e-7, 1e-6, 1e20, 0.1, 5e-324, 1.7976931348623157e308])
          | st.floats(allow_nan=False, allow_infinity=False))
# \b and \f are left out: Go >= 1.22 writes them differently (test_v1_json checks them).
text = (st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x08\x0c"), max_size=6)
        | st.sampled_from(["", "eth0", "<a&b>", "\u2028\u2029", "é中😀", "\x00\x1f\x7f", '"\\/', "\ufffd"]))

# Zones Go can read back from RFC 3339: whole minutes, at most 99:59.
offsets = (st.sampled_from([0, 0, 3600, -7 * 3600, 5 * 3600 + 1800, -(9 * 3600 + 1800), 14 * 3600])
           | st.integers(-5999, 5999).map(lambda m: m * 60))
_fractions = st.sampled_from([0, 1, 500_000_000, 123_456_789, 999_999_999, 1000]) | st.integers(0, NS - 1)


@st.composite
def times(draw: st.DrawFn, realistic: bool = False) -> v1.Time:
    """Times whose wall clock is in years 0-9999 (realistic: 2000-2100), or Go's zero time."""
    off = draw(offsets)
    if draw(st.integers(0, 9)) == 0:
        return v1.Time(v1.Time.ZERO.unix_ns, 0 if realistic else off)
    lo, hi = (Y2000, Y2100) if realistic else (YEAR_0, YEAR_10000 - 1)
    wall = draw(st.integers(lo // NS, hi // NS)) * NS + draw(_fractions)
    return v1.Time(wall - off * NS, off)


_special: dict[tuple[type, str], st.SearchStrategy[Any]] = {
    (v1.PerDiskStats, "stats"): st.none() | st.dictionaries(text, u64, max_size=2),
    (v1.ContainerStats, "custom_metrics"): st.none() | st.dictionaries(
        text, st.none() | st.lists(st.deferred(lambda: models(v1.MetricVal)), max_size=2), min_size=1, max_size=2),
    (v1.Event, "event_type"): st.sampled_from(list(v1.EventType)) | text,
    (v1.MetricSpec, "type"): st.sampled_from(list(v1.MetricType)) | text,
    (v1.MetricSpec, "format"): st.sampled_from(list(v1.DataType)) | text,
}


def for_hint(hint: Any, max_items: int = 2) -> st.SearchStrategy[Any]:
    scalars = {v1.U64: u64, v1.I32: i32, int: i64, float: floats, bool: st.booleans(),
               str: text, v1.Time: times()}
    if hint in scalars:
        return scalars[hint]
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return st.none() | for_hint(inner, max_items)
    # Empty lists and maps only where Go writes them (no omitempty, see _special):
    # elsewhere [] encodes like None and decodes as None.
    if origin is list:
        return st.lists(for_hint(args[0], max_items), min_size=1, max_size=max_items)
    if origin is dict:
        return st.dictionaries(text, for_hint(args[1], max_items), min_size=1, max_size=max_items)
    return models(hint)


@functools.cache
def models(cls: type, **overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Any value of the v1 dataclass cls; overrides replace field strategies."""
    hints = get_type_hints(cls, include_extras=True)
    fields = {}
    for f in dataclasses.fields(cls):
        strategy = overrides.get(f.name, _special.get((cls, f.name)))
        fields[f.name] = for_hint(hints[f.name]) if strategy is None else strategy
    return st.builds(cls, **fields)


def infos(max_stats: int = 3, stats: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[v1.ContainerInfo]:
    one = stats if stats is not None else models(v1.ContainerStats)
    return models(v1.ContainerInfo, stats=st.none() | st.lists(one, min_size=1, max_size=max_stats))
