"""cAdvisor's ``info/v1`` data model, with JSON that is byte-identical to Go's.

Every type of cAdvisor's ``info/v1`` container types (plus the custom-metric
types) is a dataclass here, named as in Go; attributes are the JSON names.
Two Go embeddings are flattened into plain attributes: `ContainerInfo` holds
``id, name, aliases, namespace`` (see `ContainerInfo.reference`) and
`NetworkStats` holds the `InterfaceStats` fields.

Zero values follow Go: numbers 0, strings "", slices, maps and pointers
``None`` (Go's nil; an empty list is a different, non-nil value, as in Go),
times `Time.ZERO`.  ``to_json()`` gives what Go's ``json.Marshal`` gives for
the same value; ``from_json()`` decodes what Go's ``json.Unmarshal`` decodes.
docs/json.md lists the rules.  This module does no I/O.
"""

from __future__ import annotations

import abc
import codecs
import dataclasses
import enum
import json
import operator
import re
import time as _time
import types
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

from .errors import InvalidJSON

__all__ = [
    "U64", "I32", "Time", "EventType", "MetricType", "DataType",
    "CpuSpec", "MemorySpec", "MetricSpec", "ContainerSpec", "ContainerReference",
    "ContainerInfoRequest", "LoadStats", "CpuUsage", "CpuCFS", "CpuSchedstat",
    "CpuStats", "PerDiskStats", "DiskIoStats", "MemoryStatsMemoryData", "MemoryStats",
    "InterfaceStats", "TcpStat", "UdpStat", "NetworkStats", "FsStats",
    "AcceleratorStats", "ProcessStats", "MetricVal", "ContainerStats", "ContainerInfo",
    "OomKillEventData", "EventData", "Event",
    "default_container_info_request", "sort_references",
]

U64 = Annotated[int, "uint64"]
"""Go ``uint64``: an int in [0, 2**64-1] (plain ``int`` to type checkers)."""
I32 = Annotated[int, "int32"]
"""Go ``int32``.  (Plain ``int`` annotations are Go's 64-bit ``int``/``int64``.)"""

_NS = 1_000_000_000
_DAY = 86_400


# --------------------------------------------------------------------------- time

def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era, yoe = divmod(y, 400)
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    era, doe = divmod(z + 719468, 146097)
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, doy - (153 * mp + 2) // 5 + 1


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _local_offset(unix_s: int) -> int:
    try:
        return _time.localtime(unix_s).tm_gmtoff
    except (OverflowError, OSError, ValueError):
        return 0


# What Go's time.Parse(time.RFC3339, s) accepts (Go 1.19): a one-digit hour,
# "," as decimal separator, any number of fraction digits (cut to 9), offsets
# up to +99:99.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]+))?(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_ZERO_NS = _days_from_civil(1, 1, 1) * _DAY * _NS
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True, eq=False)
class Time:
    """Go's ``time.Time``: an instant with nanosecond precision and a zone offset.

    ``unix_ns`` counts nanoseconds since 1970-01-01T00:00:00Z (negative before);
    ``utc_offset`` is the zone's offset east of UTC in seconds and only affects
    formatting.  ``==``, ``<`` and ``hash`` use the instant alone, like Go's
    ``Equal``/``Before``/``After``.  The default is Go's zero time,
    0001-01-01T00:00:00Z (`Time.ZERO`).
    """

    unix_ns: int = _ZERO_NS
    utc_offset: int = 0

    ZERO: ClassVar[Time]

    @classmethod
    def from_unix_ns(cls, unix_ns: int, utc_offset: int | None = None) -> Time:
        """The instant ``unix_ns``; ``utc_offset=None`` takes the local zone's
        offset at that instant (as Go's ``time.Unix``/``time.Now`` do)."""
        unix_ns = operator.index(unix_ns)
        if utc_offset is None:
            utc_offset = _local_offset(unix_ns // _NS)
        return cls(unix_ns, operator.index(utc_offset))

    @classmethod
    def now(cls) -> Time:
        """The current time in the local zone."""
        return cls.from_unix_ns(_time.time_ns())

    @classmethod
    def from_datetime(cls, dt: datetime) -> Time:
        """The same instant and offset; a naive datetime is local time."""
        if dt.utcoffset() is None:
            dt = dt.astimezone()
        d = dt - _EPOCH
        off = dt.utcoffset()
        assert off is not None
        return cls((d.days * _DAY + d.seconds) * _NS + d.microseconds * 1000,
                   off.days * _DAY + off.seconds)

    @classmethod
    def parse(cls, s: str) -> Time:
        """Parse an RFC 3339 time the way Go's JSON decoder does; ValueError if Go would refuse it."""
        m = _RFC3339.fullmatch(s)
        if m is None:
            raise ValueError(f"not an RFC 3339 time: {s!r}")
        y, mo, d, h, mi, sec = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
        if not 1 <= mo <= 12:
            raise ValueError(f"month out of range: {s!r}")
        if not 1 <= d <= _days_in_month(y, mo):
            raise ValueError(f"day out of range: {s!r}")
        if h > 23 or mi > 59 or sec > 59:
            raise ValueError(f"time of day out of range: {s!r}")
        frac = m.group(7)
        ns = int(frac[:9].ljust(9, "0")) if frac else 0
        off = 0
        if m.group(8):
            off = (int(m.group(9)) * 60 + int(m.group(10))) * 60
            if m.group(8) == "-":
                off = -off
        secs = _days_from_civil(y, mo, d) * _DAY + h * 3600 + mi * 60 + sec - off
        return cls(secs * _NS + ns, off)

    def to_datetime(self) -> datetime:
        """An aware datetime (microseconds: the nanoseconds are truncated).

        ValueError where datetime cannot hold it (year 0, offsets of 24 h or more)."""
        try:
            tz = timezone(timedelta(seconds=self.utc_offset))
            return (_EPOCH + timedelta(microseconds=self.unix_ns // 1000)).astimezone(tz)
        except (OverflowError, ValueError) as e:
            raise ValueError(f"{self!r} cannot be a datetime: {e}") from None

    def is_zero(self) -> bool:
        """Whether this is the instant of Go's zero time (whatever the offset)."""
        return self.unix_ns == _ZERO_NS

    def rfc3339(self) -> str:
        """Go's ``Format(time.RFC3339Nano)``: local wall time, trailing zeros of the
        fraction trimmed, offset as ``Z`` or ``±hh:mm``.  ValueError outside years 0-9999."""
        off = self.utc_offset
        secs, nsec = divmod(self.unix_ns + off * _NS, _NS)
        days, sod = divmod(secs, _DAY)
        y, mo, d = _civil_from_days(days)
        if not 0 <= y <= 9999:
            raise ValueError(f"year {y} is outside of range [0,9999]")
        s = f"{y:04d}-{mo:02d}-{d:02d}T{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}"
        if nsec:
            s += "." + f"{nsec:09d}".rstrip("0")
        if off == 0:
            return s + "Z"
        # Go prints whole minutes of the offset, truncated toward zero.
        minutes = abs(off) // 60
        sign = "-" if off < 0 and minutes else "+"
        return f"{s}{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def __str__(self) -> str:
        return self.rfc3339()

    def __repr__(self) -> str:
        try:
            return f"Time.parse({self.rfc3339()!r})"
        except ValueError:
            return f"Time(unix_ns={self.unix_ns}, utc_offset={self.utc_offset})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython, hypothesis
        p.text(repr(self))

    def __eq__(self, other: object) -> bool:
        return self.unix_ns == other.unix_ns if isinstance(other, Time) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.unix_ns)

    def __lt__(self, other: Time) -> bool:
        return self.unix_ns < other.unix_ns if isinstance(other, Time) else NotImplemented

    def __le__(self, other: Time) -> bool:
        return self.unix_ns <= other.unix_ns if isinstance(other, Time) else NotImplemented

    def __gt__(self, other: Time) -> bool:
        return self.unix_ns > other.unix_ns if isinstance(other, Time) else NotImplemented

    def __ge__(self, other: Time) -> bool:
        return self.unix_ns >= other.unix_ns if isinstance(other, Time) else NotImplemented


Time.ZERO = Time()


def _as_time(v: Any) -> Time:
    if isinstance(v, Time):
        return v
    if isinstance(v, datetime):
        return Time.from_datetime(v)
    if hasattr(v, "__index__") and not isinstance(v, bool):
        return Time.from_unix_ns(v)
    raise TypeError(f"expected a Time, datetime or int nanoseconds, got {v!r}")


# ------------------------------------------------------------------ JSON kinds
#
# One kind object per Go type; a struct's kind holds its table of
# (attribute, quoted JSON key, kind, omitempty) rows, built from the dataclass
# annotations.  enc(v, out) appends JSON text to the list out; dec(cur, v)
# returns the value for the parsed JSON v, decoding into cur where Go would.

class _Mismatch(Exception):
    def __init__(self, msg: str):
        super().__init__(msg)
        self.path: list[str] = []


class _Obj(list):
    """A parsed JSON object: its (key, value) pairs in order, duplicates kept."""


class _NegZero(int):
    """The JSON number -0, which Go refuses for unsigned fields."""


_NEG_ZERO = _NegZero(0)


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if type(v) is _Obj:
        return "object"
    return {bool: "bool", str: "string", list: "array"}.get(type(v), "number")


class _Kind(abc.ABC):
    nullable = False   # JSON null sets None (Go: slice, map, pointer); else a no-op
    omittable = True   # omitempty applies (Go never omits a struct)
    what = ""

    def zero(self) -> Any:
        return None

    def empty(self, v: Any) -> bool:
        return not v

    def mismatch(self, v: Any) -> _Mismatch:
        return _Mismatch(f"cannot decode JSON {_jtype(v)} {_short(v)}into {self.what}")

    def decode(self, cur: Any, v: Any) -> Any:
        if v is None:
            if self.nullable:
                return None
            return self.zero() if cur is None else cur
        return self.dec(cur, v)

    @abc.abstractmethod
    def dec(self, cur: Any, v: Any) -> Any: ...

    @abc.abstractmethod
    def enc(self, v: Any, out: list[str]) -> None: ...


def _short(v: Any) -> str:
    if type(v) in (_Obj, list):
        return ""
    r = json.dumps(v) if not isinstance(v, int) or v is True or v is False else str(v)
    return (r if len(r) <= 40 else r[:37] + "...") + " "


class _IntKind(_Kind):
    def __init__(self, lo: int, hi: int, what: str):
        self.lo, self.hi, self.what = lo, hi, what

    def zero(self) -> int:
        return 0

    def empty(self, v: Any) -> bool:
        return v == 0

    def dec(self, cur: Any, v: Any) -> int:
        if type(v) is not int:
            if v is _NEG_ZERO and self.lo < 0:
                return 0
            raise self.mismatch(v)
        if not self.lo <= v <= self.hi:
            raise self.mismatch(v)
        return v

    def enc(self, v: Any, out: list[str]) -> None:
        if type(v) is not int:
            v = operator.index(v)
        if not self.lo <= v <= self.hi:
            raise ValueError(f"{v} does not fit in a Go {self.what}")
        out.append(int.__repr__(v))


def _go_float(f: float) -> str:
    """Go's encoding/json float64 format: shortest digits, exponent only below 1e-6 or from 1e21."""
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"Go's json.Marshal refuses {f}")
    if f == 0:
        return "-0" if str(f)[0] == "-" else "0"
    r = repr(f)
    sign = "-" if r[0] == "-" else ""
    mant, _, exp = r.lstrip("-").partition("e")
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exp or 0) - (len(whole + frac) - len(digits))
    digits = digits.rstrip("0")
    if 1e-6 <= abs(f) < 1e21:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits))
        return f"{sign}{digits[:point]}.{digits[point:]}"
    e = point - 1  # here e <= -7 or e >= 21: Go's "e-07" cleanup leaves "e-7"
    m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{m}e{'-' if e < 0 else '+'}{abs(e)}"


class _FloatKind(_Kind):
    what = "float64"

    def zero(self) -> float:
        return 0.0

    def empty(self, v: Any) -> bool:
        return v == 0

    def dec(self, cur: Any, v: Any) -> float:
        t = type(v)
        if t is float:
            if v - v == 0:  # finite
                return v
        elif t is int:
            try:
                return float(v)
            except OverflowError:
                pass
        elif v is _NEG_ZERO:
            return -0.0
        raise self.mismatch(v)

    def enc(self, v: Any, out: list[str]) -> None:
        out.append(_go_float(float(v)))


class _BoolKind(_Kind):
    what = "bool"

    def zero(self) -> bool:
        return False

    def dec(self, cur: Any, v: Any) -> bool:
        if type(v) is not bool:
            raise self.mismatch(v)
        return v

    def enc(self, v: Any, out: list[str]) -> None:
        out.append("true" if v else "false")


# Go's HTML-safe string escaping (Go 1.19: \b and \f as \u0008 and \u000c);
# a lone surrogate is the stand-in for a byte of invalid UTF-8, written \ufffd.
_ESCAPES: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x5C: "\\\\",
                 0x3C: "\\u003c", 0x3E: "\\u003e", 0x26: "\\u0026",
                 0x2028: "\\u2028", 0x2029: "\\u2029"})
_ESCAPES.update(dict.fromkeys(range(0xD800, 0xE000), "\\ufffd"))
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_SURROGATE = re.compile("[\ud800-\udfff]")


def _quote(s: str) -> str:
    if _NEEDS_ESCAPE.search(s) is None:
        return '"' + s + '"'
    return '"' + s.translate(_ESCAPES) + '"'


def _unsurrogate(s: str) -> str:
    """Go decodes a lone UTF-16 surrogate (escaped or not) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", s) if _SURROGATE.search(s) else s


class _StrKind(_Kind):
    what = "string"

    def zero(self) -> str:
        return ""

    def dec(self, cur: Any, v: Any) -> str:
        if type(v) is not str:
            raise self.mismatch(v)
        return _unsurrogate(v)

    def enc(self, v: Any, out: list[str]) -> None:
        if not isinstance(v, str):
            raise TypeError(f"expected a str, got {v!r}")
        out.append(_quote(v))


class _TimeKind(_Kind):
    what = "time.Time"
    omittable = False

    def zero(self) -> Time:
        return Time.ZERO

    def dec(self, cur: Any, v: Any) -> Time:
        if type(v) is not str:
            raise self.mismatch(v)
        try:
            return Time.parse(v)
        except ValueError as e:
            raise _Mismatch(str(e)) from None

    def enc(self, v: Any, out: list[str]) -> None:
        out.append('"' + _as_time(v).rfc3339() + '"')


class _ListKind(_Kind):
    nullable = True

    def __init__(self, elem: _Kind):
        self.elem = elem
        self.what = "[]" + elem.what

    def dec(self, cur: Any, v: Any) -> list:
        if type(v) is not list:
            raise self.mismatch(v)
        elem, n = self.elem, len(cur) if cur else 0
        out = []
        for i, x in enumerate(v):
            try:  # Go decodes into the elements already there
                out.append(elem.decode(cur[i] if i < n else None, x))
            except _Mismatch as e:
                e.path.append(f"[{i}]")
                raise
        return out

    def enc(self, v: Any, out: list[str]) -> None:
        if v is None:
            out.append("null")
            return
        sep, enc = "[", self.elem.enc
        for x in v:
            out.append(sep)
            enc(x, out)
            sep = ","
        out.append("[]" if sep == "[" else "]")


class _MapKind(_Kind):
    nullable = True

    def __init__(self, elem: _Kind):
        self.elem = elem
        self.what = "map[string]" + elem.what

    def dec(self, cur: Any, v: Any) -> dict:
        if type(v) is not _Obj:
            raise self.mismatch(v)
        m = {} if cur is None else cur  # Go adds to a map already there
        for k, x in v:
            try:
                m[_unsurrogate(k)] = self.elem.decode(None, x)
            except _Mismatch as e:
                e.path.append(f"[{json.dumps(k)}]")
                raise
        return m

    def enc(self, v: Any, out: list[str]) -> None:
        if v is None:
            out.append("null")
            return
        sep, enc = "{", self.elem.enc
        for k in sorted(v):
            out.append(sep)
            out.append(_quote(k))
            out.append(":")
            enc(v[k], out)
            sep = ","
        out.append("{}" if sep == "{" else "}")


def _fold(key: str) -> str | None:
    """Go 1.19's case-insensitive key match: ASCII case, plus U+017F for s and U+212A for k."""
    if key.isascii():
        return key.lower()
    out = []
    for c in key:
        if c < "\x80":
            out.append(c.lower())
        elif c == "\u017f":
            out.append("s")
        elif c == "\u212a":
            out.append("k")
        else:
            return None
    return "".join(out)


class _StructKind(_Kind):
    omittable = False

    def __init__(self, cls: type, rows: list[tuple[str, str, _Kind, bool]]):
        self.cls, self.what = cls, cls.__name__
        self.rows = tuple((a, _quote(k) + ":", kind, omit and kind.omittable)
                          for a, k, kind, omit in rows)
        self.by_key = {k: (a, kind) for a, k, kind, _ in rows}
        self.by_fold: dict[str, tuple[str, _Kind]] = {}
        for a, k, kind, _ in rows:
            self.by_fold.setdefault(k.lower(), (a, kind))

    def zero(self) -> Any:
        return self.cls()

    def dec(self, cur: Any, v: Any) -> Any:
        if type(v) is not _Obj:
            raise self.mismatch(v)
        obj = self.cls() if cur is None else cur
        by_key = self.by_key
        for k, x in v:
            row = by_key.get(k)
            if row is None:
                row = self.by_fold.get(_fold(k))  # type: ignore[arg-type]
                if row is None:
                    continue  # unknown fields are ignored
            attr, kind = row
            try:
                if x is not None:
                    setattr(obj, attr, kind.dec(getattr(obj, attr), x))
                elif kind.nullable:
                    setattr(obj, attr, None)
            except _Mismatch as e:
                e.path.append("." + k)
                raise
        return obj

    def enc(self, v: Any, out: list[str]) -> None:
        if not isinstance(v, self.cls):
            raise TypeError(f"expected a {self.what}, got {v!r}")
        sep = "{"
        for attr, key, kind, omit in self.rows:
            x = getattr(v, attr)
            if omit and kind.empty(x):
                continue
            out.append(sep)
            out.append(key)
            kind.enc(x, out)
            sep = ","
        out.append("{}" if sep == "{" else "}")


class _PointerKind(_Kind):
    nullable = True

    def __init__(self, target: _StructKind):
        self.target, self.what = target, "*" + target.what

    def empty(self, v: Any) -> bool:
        return v is None

    def dec(self, cur: Any, v: Any) -> Any:
        return self.target.dec(cur, v)

    def enc(self, v: Any, out: list[str]) -> None:
        if v is None:
            out.append("null")
        else:
            self.target.enc(v, out)


_SCALARS: dict[Any, _Kind] = {
    U64: _IntKind(0, 2**64 - 1, "uint64"),
    I32: _IntKind(-(2**31), 2**31 - 1, "int32"),
    int: _IntKind(-(2**63), 2**63 - 1, "int64"),
    float: _FloatKind(),
    bool: _BoolKind(),
    str: _StrKind(),
    Time: _TimeKind(),
}


def _kind_of(hint: Any, pointer_elems: bool = False) -> _Kind:
    if hint in _SCALARS:
        return _SCALARS[hint]
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        kind = _kind_of(inner, pointer_elems)
        return _PointerKind(kind) if isinstance(kind, _StructKind) else kind
    if origin is list:
        elem = _kind_of(args[0])
        return _ListKind(_PointerKind(elem) if pointer_elems else elem)  # type: ignore[arg-type]
    if origin is dict and args[0] is str:
        return _MapKind(_kind_of(args[1]))
    if isinstance(getattr(hint, "_go", None), _StructKind):
        return hint._go
    raise TypeError(f"no Go type for {hint!r}")


def _go_name(attr: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in attr.split("_"))


_M = TypeVar("_M", bound="_Model")


class _Model:
    """Base of the v1 types: JSON in and out, time fields normalised."""

    __slots__ = ()
    _go: ClassVar[_StructKind]
    _time_attrs: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for a in self._time_attrs:
            v = getattr(self, a)
            if type(v) is not Time:
                setattr(self, a, _as_time(v))

    def to_json(self) -> str:
        """The JSON text Go's ``json.Marshal`` writes for this value (UTF-8 when encoded)."""
        out: list[str] = []
        self._go.enc(self, out)
        return "".join(out)

    @classmethod
    def from_json(cls: type[_M], data: str | bytes | bytearray | memoryview) -> _M:
        """Decode like Go's ``json.Unmarshal``: unknown keys ignored, keys matched
        case-insensitively, missing fields zero.  Raises `InvalidJSON`."""
        return _loads(cls._go, data)


def _go_struct(omitempty: str = "", go_names: bool = False, pointers: str = ""):
    """Give a v1 dataclass its JSON table.

    ``omitempty``: attributes tagged omitempty; ``go_names``: the JSON keys are
    the Go field names (untagged Go fields); ``pointers``: list attributes whose
    Go elements are pointers (a JSON null element stays None)."""
    def wrap(cls: type[_M]) -> type[_M]:
        hints = get_type_hints(cls, include_extras=True)
        omit, ptrs = set(omitempty.split()), set(pointers.split())
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        if not omit | ptrs <= set(names):
            raise TypeError(f"{cls.__name__} has no field {sorted(omit | ptrs - set(names))}")
        rows = [(f, _go_name(f) if go_names else f, _kind_of(hints[f], f in ptrs), f in omit)
                for f in names]
        cls._go = _StructKind(cls, rows)
        cls._time_attrs = tuple(f for f in names if hints[f] is Time)
        return cls
    return wrap


def _go_utf8(e: UnicodeError) -> tuple[str, int]:
    # Go replaces each invalid byte on its own; Python's "replace" groups them.
    assert isinstance(e, UnicodeDecodeError)
    return "\ufffd", e.start + 1


codecs.register_error("cgsampler-go-utf8", _go_utf8)


_MINUS_ZERO = re.compile(r"-0(?![0-9.eE])")  # may also hit inside strings: only slower then


def _parse_int(s: str) -> int:
    return _NEG_ZERO if s == "-0" else int(s)


def _refuse_constant(s: str) -> Any:
    raise ValueError(f"{s} is not JSON")


def _loads(kind: _StructKind, data: str | bytes | bytearray | memoryview) -> Any:
    if not isinstance(data, str):
        data = bytes(data).decode("utf-8", "cgsampler-go-utf8")
    try:
        v = json.loads(data, object_pairs_hook=_Obj, parse_constant=_refuse_constant,
                       parse_int=_parse_int if _MINUS_ZERO.search(data) else None)
    except (ValueError, RecursionError) as e:
        raise InvalidJSON(f"malformed JSON for {kind.what}: {e}") from None
    try:
        return kind.decode(None, v)
    except _Mismatch as e:
        where = "".join(reversed(e.path)).lstrip(".")
        raise InvalidJSON(f"{kind.what}{': ' + where if where else ''}: {e}") from None


def _time_field() -> Any:
    return field(default=Time.ZERO)


# ------------------------------------------------------------------ the types

class EventType(str, enum.Enum):
    """Kinds of `Event` (Go's ``EventType`` string constants); any string decodes."""
    OOM = "oom"
    OOM_KILL = "oomKill"
    CONTAINER_CREATION = "containerCreation"
    CONTAINER_DELETION = "containerDeletion"


class MetricType(str, enum.Enum):
    """`MetricSpec.type` values."""
    GAUGE = "gauge"
    CUMULATIVE = "cumulative"


class DataType(str, enum.Enum):
    """`MetricSpec.format` values."""
    INT = "int"
    FLOAT = "float"


@_go_struct(omitempty="mask quota period")
@dataclass(slots=True)
class CpuSpec(_Model):
    limit: U64 = 0
    max_limit: U64 = 0
    mask: str = ""
    quota: U64 = 0
    period: U64 = 0


@_go_struct(omitempty="limit reservation swap_limit")
@dataclass(slots=True)
class MemorySpec(_Model):
    limit: U64 = 0
    reservation: U64 = 0
    swap_limit: U64 = 0


@_go_struct()
@dataclass(slots=True)
class MetricSpec(_Model):
    """A custom metric's description; ``type`` is a `MetricType`, ``format`` a `DataType`."""
    name: str = ""
    type: str = ""
    format: str = ""
    units: str = ""


@_go_struct(omitempty="creation_time labels envs cpu memory custom_metrics image")
@dataclass(slots=True)
class ContainerSpec(_Model):
    creation_time: Time = _time_field()
    labels: dict[str, str] | None = None
    envs: dict[str, str] | None = None
    has_cpu: bool = False
    cpu: CpuSpec = field(default_factory=CpuSpec)
    has_memory: bool = False
    memory: MemorySpec = field(default_factory=MemorySpec)
    has_network: bool = False
    has_filesystem: bool = False
    has_diskio: bool = False
    has_custom_metrics: bool = False
    custom_metrics: list[MetricSpec] | None = None
    image: str = ""

    def eq(self, other: ContainerSpec) -> bool:
        """Go's ``ContainerSpec.Eq``: creation times within 1 s, the ``has_*`` flags,
        ``cpu`` and ``memory`` equal; labels, envs, custom metrics and image are not compared."""
        if abs(self.creation_time.unix_ns - other.creation_time.unix_ns) > _NS:
            return False
        return (self.has_cpu == other.has_cpu and self.cpu == other.cpu
                and self.has_memory == other.has_memory and self.memory == other.memory
                and self.has_network == other.has_network
                and self.has_filesystem == other.has_filesystem
                and self.has_diskio == other.has_diskio
                and self.has_custom_metrics == other.has_custom_metrics)


@_go_struct(omitempty="id aliases namespace")
@dataclass(slots=True)
class ContainerReference(_Model):
    """Identifies a container; sorts by ``name``."""
    id: str = ""
    name: str = ""
    aliases: list[str] | None = None
    namespace: str = ""

    def __lt__(self, other: ContainerReference) -> bool:
        if not isinstance(other, ContainerReference):
            return NotImplemented
        return self.name < other.name


def sort_references(refs: list[ContainerReference]) -> None:
    """Sort in place by name (Go's ``sort.Sort(ContainerReferenceSlice(refs))``; ours is stable)."""
    refs.sort(key=operator.attrgetter("name"))


@_go_struct(omitempty="num_stats start end")
@dataclass(slots=True)
class ContainerInfoRequest(_Model):
    """``num_stats``: at most this many stats (-1: all); ``start``/``end``: bounds, zero = unbounded."""
    num_stats: int = 0
    start: Time = _time_field()
    end: Time = _time_field()

    def equals(self, other: ContainerInfoRequest) -> bool:
        """Go's ``Equals``: same num_stats, start and end the same instants."""
        return (self.num_stats == other.num_stats and self.start == other.start
                and self.end == other.end)


def default_container_info_request() -> ContainerInfoRequest:
    """Go's ``DefaultContainerInfoRequest``: 60 stats, no time bounds."""
    return ContainerInfoRequest(num_stats=60)


@_go_struct()
@dataclass(slots=True)
class LoadStats(_Model):
    nr_sleeping: U64 = 0
    nr_running: U64 = 0
    nr_stopped: U64 = 0
    nr_uninterruptible: U64 = 0
    nr_io_wait: U64 = 0


@_go_struct(omitempty="per_cpu_usage")
@dataclass(slots=True)
class CpuUsage(_Model):
    """Cumulative CPU time in nanoseconds."""
    total: U64 = 0
    per_cpu_usage: list[U64] | None = None
    user: U64 = 0
    system: U64 = 0


@_go_struct()
@dataclass(slots=True)
class CpuCFS(_Model):
    periods: U64 = 0
    throttled_periods: U64 = 0
    throttled_time: U64 = 0


@_go_struct()
@dataclass(slots=True)
class CpuSchedstat(_Model):
    run_time: U64 = 0
    runqueue_time: U64 = 0
    run_periods: U64 = 0


@_go_struct()
@dataclass(slots=True)
class CpuStats(_Model):
    usage: CpuUsage = field(default_factory=CpuUsage)
    cfs: CpuCFS = field(default_factory=CpuCFS)
    schedstat: CpuSchedstat = field(default_factory=CpuSchedstat)
    load_average: I32 = 0


@_go_struct()
@dataclass(slots=True)
class PerDiskStats(_Model):
    """``stats`` has no omitempty: None encodes as ``null``, ``{}`` as ``{}``."""
    device: str = ""
    major: U64 = 0
    minor: U64 = 0
    stats: dict[str, U64] | None = None


_DISK_LISTS = "io_service_bytes io_serviced io_queued sectors io_service_time io_wait_time io_merged io_time"


@_go_struct(omitempty=_DISK_LISTS)
@dataclass(slots=True)
class DiskIoStats(_Model):
    io_service_bytes: list[PerDiskStats] | None = None
    io_serviced: list[PerDiskStats] | None = None
    io_queued: list[PerDiskStats] | None = None
    sectors: list[PerDiskStats] | None = None
    io_service_time: list[PerDiskStats] | None = None
    io_wait_time: list[PerDiskStats] | None = None
    io_merged: list[PerDiskStats] | None = None
    io_time: list[PerDiskStats] | None = None


@_go_struct()
@dataclass(slots=True)
class MemoryStatsMemoryData(_Model):
    pgfault: U64 = 0
    pgmajfault: U64 = 0


@_go_struct(omitempty="container_data hierarchical_data")
@dataclass(slots=True)
class MemoryStats(_Model):
    usage: U64 = 0
    max_usage: U64 = 0
    cache: U64 = 0
    rss: U64 = 0
    swap: U64 = 0
    mapped_file: U64 = 0
    working_set: U64 = 0
    failcnt: U64 = 0
    container_data: MemoryStatsMemoryData = field(default_factory=MemoryStatsMemoryData)
    hierarchical_data: MemoryStatsMemoryData = field(default_factory=MemoryStatsMemoryData)


@_go_struct()
@dataclass(slots=True)
class InterfaceStats(_Model):
    name: str = ""
    rx_bytes: U64 = 0
    rx_packets: U64 = 0
    rx_errors: U64 = 0
    rx_dropped: U64 = 0
    tx_bytes: U64 = 0
    tx_packets: U64 = 0
    tx_errors: U64 = 0
    tx_dropped: U64 = 0


@_go_struct(go_names=True)
@dataclass(slots=True)
class TcpStat(_Model):
    """Connections per TCP state; JSON keys are the Go names (``Established``, ...)."""
    established: U64 = 0
    syn_sent: U64 = 0
    syn_recv: U64 = 0
    fin_wait1: U64 = 0
    fin_wait2: U64 = 0
    time_wait: U64 = 0
    close: U64 = 0
    close_wait: U64 = 0
    last_ack: U64 = 0
    listen: U64 = 0
    closing: U64 = 0


@_go_struct(go_names=True)
@dataclass(slots=True)
class UdpStat(_Model):
    """JSON keys are the Go names (``Listen``, ``Dropped``, ``RxQueued``, ``TxQueued``)."""
    listen: U64 = 0
    dropped: U64 = 0
    rx_queued: U64 = 0
    tx_queued: U64 = 0


@_go_struct(omitempty="interfaces")
@dataclass(slots=True)
class NetworkStats(_Model):
    """The default interface's `InterfaceStats` fields (flattened, as in Go's JSON),
    then every interface and the TCP/UDP socket counts."""
    name: str = ""
    rx_bytes: U64 = 0
    rx_packets: U64 = 0
    rx_errors: U64 = 0
    rx_dropped: U64 = 0
    tx_bytes: U64 = 0
    tx_packets: U64 = 0
    tx_errors: U64 = 0
    tx_dropped: U64 = 0
    interfaces: list[InterfaceStats] | None = None
    tcp: TcpStat = field(default_factory=TcpStat)
    tcp6: TcpStat = field(default_factory=TcpStat)
    udp: UdpStat = field(default_factory=UdpStat)
    udp6: UdpStat = field(default_factory=UdpStat)


@_go_struct(omitempty="device")
@dataclass(slots=True)
class FsStats(_Model):
    """One filesystem; ``capacity`` is Go's ``Limit`` field."""
    device: str = ""
    type: str = ""
    capacity: U64 = 0
    usage: U64 = 0
    base_usage: U64 = 0
    available: U64 = 0
    has_inodes: bool = False
    inodes: U64 = 0
    inodes_free: U64 = 0
    reads_completed: U64 = 0
    reads_merged: U64 = 0
    sectors_read: U64 = 0
    read_time: U64 = 0
    writes_completed: U64 = 0
    writes_merged: U64 = 0
    sectors_written: U64 = 0
    write_time: U64 = 0
    io_in_progress: U64 = 0
    io_time: U64 = 0
    weighted_io_time: U64 = 0


@_go_struct()
@dataclass(slots=True)
class AcceleratorStats(_Model):
    make: str = ""
    model: str = ""
    id: str = ""
    memory_total: U64 = 0
    memory_used: U64 = 0
    duty_cycle: U64 = 0


@_go_struct()
@dataclass(slots=True)
class ProcessStats(_Model):
    process_count: U64 = 0
    fd_count: U64 = 0


@_go_struct(omitempty="label labels int_value float_value")
@dataclass(slots=True)
class MetricVal(_Model):
    label: str = ""
    labels: dict[str, str] | None = None
    timestamp: Time = _time_field()
    int_value: int = 0
    float_value: float = 0.0


_TIME_PRECISION_NS = 10_000_000


@_go_struct(omitempty="cpu diskio memory network filesystem task_stats accelerators "
                      "processes custom_metrics")
@dataclass(slots=True)
class ContainerStats(_Model):
    timestamp: Time = _time_field()
    cpu: CpuStats = field(default_factory=CpuStats)
    diskio: DiskIoStats = field(default_factory=DiskIoStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    network: NetworkStats = field(default_factory=NetworkStats)
    filesystem: list[FsStats] | None = None
    task_stats: LoadStats = field(default_factory=LoadStats)
    accelerators: list[AcceleratorStats] | None = None
    processes: ProcessStats = field(default_factory=ProcessStats)
    custom_metrics: dict[str, list[MetricVal] | None] | None = None

    def eq(self, other: ContainerStats) -> bool:
        """Go's ``ContainerStats.Eq``: timestamps at most 10 ms apart, and `stats_eq`."""
        if abs(self.timestamp.unix_ns - other.timestamp.unix_ns) > _TIME_PRECISION_NS:
            return False
        return self.stats_eq(other)

    def stats_eq(self, other: ContainerStats) -> bool:
        """Go's ``StatsEq``: only cpu, memory, diskio, network and filesystem are
        compared (exactly; None and [] differ, as nil and empty do in Go)."""
        return (self.cpu == other.cpu and self.memory == other.memory
                and self.diskio == other.diskio and self.network == other.network
                and self.filesystem == other.filesystem)


@_go_struct(omitempty="id aliases namespace subcontainers spec stats", pointers="stats")
@dataclass(slots=True)
class ContainerInfo(_Model):
    """A container: its `ContainerReference` fields (flattened), direct
    subcontainers, spec, and stats oldest first.  A JSON null in ``stats``
    decodes to None (Go's nil pointer)."""
    id: str = ""
    name: str = ""
    aliases: list[str] | None = None
    namespace: str = ""
    subcontainers: list[ContainerReference] | None = None
    spec: ContainerSpec = field(default_factory=ContainerSpec)
    stats: list[ContainerStats] | None = None

    @property
    def reference(self) -> ContainerReference:
        """The embedded `ContainerReference` (a new object)."""
        return ContainerReference(self.id, self.name, self.aliases, self.namespace)

    def eq(self, other: ContainerInfo | None) -> bool:
        """Go's ``ContainerInfo.Eq``: reference and subcontainers exactly equal,
        ``spec.eq``, and each of *other*'s stats ``eq`` to self's stats at the
        same index; self's extra stats are not looked at.  Where Go panics
        (self has fewer stats than other, or a stats entry is None) this
        returns False."""
        if other is None:
            return False
        if (self.id, self.name, self.aliases, self.namespace) != (
                other.id, other.name, other.aliases, other.namespace):
            return False
        if self.subcontainers != other.subcontainers or not self.spec.eq(other.spec):
            return False
        mine = self.stats or []
        for i, expected in enumerate(other.stats or []):
            if i >= len(mine) or expected is None or mine[i] is None:
                return False
            if not expected.eq(mine[i]):
                return False
        return True

    def stats_after(self, ref: Time) -> list[ContainerStats]:
        """Go's ``StatsAfter``: the stats from the first one later than *ref* to the
        end (in list order, later entries are not checked); [] where Go returns nil."""
        stats = self.stats or []
        for i, s in enumerate(stats):
            if s.timestamp > ref:
                return stats[i:]
        return []

    def stats_start_time(self) -> Time:
        """Go's ``StatsStartTime``: the earliest timestamp (the first of equal
        ones); a zero timestamp is replaced by the next one; `Time.ZERO` if none."""
        ret = Time.ZERO
        for s in self.stats or []:
            if s.timestamp < ret or ret.is_zero():
                ret = s.timestamp
        return ret

    def stats_end_time(self) -> Time:
        """Go's ``StatsEndTime``: the latest timestamp (the last of equal ones) if
        it is after the zero time, else `Time.ZERO`."""
        ret = Time.ZERO
        for s in reversed(self.stats or []):
            if s.timestamp > ret:
                ret = s.timestamp
        return ret


@_go_struct()
@dataclass(slots=True)
class OomKillEventData(_Model):
    pid: int = 0
    process_name: str = ""


@_go_struct(omitempty="oom")
@dataclass(slots=True)
class EventData(_Model):
    """Extra event data; ``oom`` is set for OOM-kill events, else None."""
    oom: OomKillEventData | None = None


@_go_struct(omitempty="event_data")
@dataclass(slots=True)
class Event(_Model):
    """``event_type`` is an `EventType` value (any string decodes)."""
    container_name: str = ""
    timestamp: Time = _time_field()
    event_type: str = ""
    event_data: EventData = field(default_factory=EventData)
