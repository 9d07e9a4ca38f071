"""The `cgsampler` command: a live container table, cAdvisor JSON, recordings.

    cgsampler top [--once] [--interval S] [--limit N]
    cgsampler info NAME|ALIAS [--num-stats N] [--interval S]
    cgsampler info --from FILE NAME [--num-stats N]
    cgsampler record --output FILE [--hz H] [--duration S] [--containers A,B] [--refresh S]

Global options (before or after the command): --cgroup-root DIR, --proc-root DIR,
--runtime NAME[=SOCKET] (repeatable; "none": raw names only), --runtime-timeout S,
--env-allow PREFIX (repeatable), --version. An expected failure prints one line, ``cgsampler: error: ...``, on
stderr and exits 1 (2 for a usage error); Ctrl-C ends `top` with status 0.

A recording (``record``) is an .npz readable with ``np.load(allow_pickle=False)``:
``format`` ("cgsampler-recording"), ``format_version`` (3); ``stats`` [samples,
containers] of schema.STATS_DTYPE, ``percpu`` [samples, containers, cpus],
``disk`` [samples, containers, entries] of DISK_ENTRY_DTYPE and ``interfaces``
[samples, containers, interfaces] of IFACE_DTYPE (each trimmed to the widest
filled row); ``filesystems`` [samples, partitions] of filesystems.FS_DTYPE (the
filesystems of "/") with ``partitions`` (JSON list of [device, mountpoint,
fstype, major, minor]); ``names``, ``specs`` (v1.ContainerSpec JSON), ``references``
(v1.ContainerReference JSON: id, aliases, namespace of runtime containers) and
``subcontainers`` (JSON lists) per container; ``devices`` [k, 2] (major, minor) with ``device_names``;
``hz``, ``missed`` (deadlines skipped) and ``cgroup_version``. A container seen
only part of the time has ``valid`` == 0 in the other rows.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import sys
import time
import zipfile
import zlib

import numpy as np

from cgsampler import __version__, errors, hierarchy, schema
from cgsampler.runtimes import MAX_TIMEOUT_S

PROG = "cgsampler"

RECORDING_FORMAT = "cgsampler-recording"
RECORDING_VERSION = 3          # 2 added interfaces, filesystems and partitions, 3 references; 1 and 2 still read
MAX_RING_BYTES = 2 << 30        # refuse a larger history ring (saving copies it once more)
MAX_DISK_ENTRIES = 32           # Sampler's per-sample disk capacity (its default)
DEFAULT_NUM_STATS = 2           # live `info`: two samples, so rates can be derived
TOP_REFRESH_S = 5.0             # live `top` looks for new cgroups this often
PROGRESS_EVERY_S = 0.25         # record's progress line, at most 4 times a second
IMAGE_WIDTH = 28                # top's IMAGE column on a terminal (cut on the left)
RUNTIME_TIMEOUT_S = 5.0         # a one-shot command can wait longer than a monitor's 2 s

_G = schema.GROUPS


class CliError(Exception):
    """An expected failure: one line for stderr, and the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


# --- arguments -------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CliError(f"{message} (see '{self.prog} --help')", 2)


def _positive(kind, most=None):
    what = "a whole number" if kind is int else "a number"
    bound = f" and at most {most:g}" if most is not None else ""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (value > 0 and math.isfinite(value)) or (most is not None and value > most):
            raise argparse.ArgumentTypeError(f"expected {what} greater than 0{bound}, got {text!r}")
        return value
    return parse


def _container_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("--containers needs at least one name (A,B,...)")
    return names


def _add_roots(parser, default):
    # Accepted before and after the command; after it, only if given (SUPPRESS),
    # so the command's parser does not overwrite what came before it.
    parser.add_argument("--cgroup-root", metavar="DIR",
                        default=None if default else argparse.SUPPRESS,
                        help="cgroup filesystem to read (default: found in /proc/self/mountinfo)")
    parser.add_argument("--proc-root", metavar="DIR",
                        default="/proc" if default else argparse.SUPPRESS,
                        help="procfs to read (default: /proc)")
    parser.add_argument("--runtime", action="append", metavar="NAME[=SOCKET]",
                        default=None if default else argparse.SUPPRESS,
                        help="container runtime to ask for names and images: docker, podman, "
                        "containerd, crio or systemd, optionally with its socket (repeatable; "
                        "default: the runtimes whose socket exists; 'none': cgroup names only)")
    parser.add_argument("--runtime-timeout", type=_positive(float, MAX_TIMEOUT_S), metavar="S",
                        default=RUNTIME_TIMEOUT_S if default else argparse.SUPPRESS,
                        help="seconds to wait for one runtime answer (default: "
                        f"{RUNTIME_TIMEOUT_S:g}; a runtime's first answer can be slow)")
    parser.add_argument("--env-allow", action="append", metavar="PREFIX",
                        default=None if default else argparse.SUPPRESS,
                        help="show a runtime container's env vars whose name starts with PREFIX "
                        "(repeatable; default: none)")
    return parser


def build_parser() -> argparse.ArgumentParser:
    roots = _add_roots(_Parser(add_help=False), default=False)
    p = _add_roots(_Parser(prog=PROG, description="Sample Linux container (cgroup) "
                           "statistics at high frequency."), default=True)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    top = sub.add_parser("top", parents=[roots], help="live table of every container, by CPU",
                         description="A table of every container: CPU % (100% = one core), "
                         "memory usage and working set, I/O bytes/s, processes, and the share "
                         "of CFS periods throttled; '-' where a group was not collected.")
    top.add_argument("--once", action="store_true",
                     help="sample twice, INTERVAL apart, print one table and exit")
    top.add_argument("--interval", type=_positive(float), default=1.0, metavar="S",
                     help="seconds between samples (default: 1)")
    top.add_argument("--limit", type=_positive(int), metavar="N",
                     help="show at most N rows (default: all with --once, the terminal's height live)")
    top.set_defaults(func=cmd_top)

    info = sub.add_parser("info", parents=[roots], help="one container as cAdvisor JSON",
                          description="Print the container's info/v1 ContainerInfo as cAdvisor's "
                          "JSON, on one line. Live, it takes NUM_STATS samples INTERVAL apart; "
                          "with --from it reads them from a recording.")
    info.add_argument("name", metavar="NAME", help='container name, e.g. "/" or "/docker/<id>", or '
                      "a runtime alias: a container's name, its full id, a systemd unit, or a unique "
                      "prefix of one")
    info.add_argument("--num-stats", type=_positive(int), metavar="N",
                      help=f"number of stats (default: {DEFAULT_NUM_STATS} live, so CPU rates can "
                      "be derived; every recorded sample with --from)")
    info.add_argument("--interval", type=_positive(float), metavar="S",
                      help="seconds between live samples (default: 1)")
    info.add_argument("--from", dest="recording", metavar="FILE",
                      help="read the stats from a recording made by `cgsampler record`")
    info.set_defaults(func=cmd_info)

    rec = sub.add_parser("record", parents=[roots], help="record every container into a .npz",
                         description="Sample containers H times a second for S seconds into a "
                         "compressed .npz: the raw record arrays (stats, percpu, disk), names, "
                         "specs and the device map. Ctrl-C stops early and keeps what was taken.")
    rec.add_argument("--output", "-o", required=True, metavar="FILE", help="the .npz to write")
    rec.add_argument("--hz", type=_positive(float), default=10.0, metavar="H",
                     help="samples per second (default: 10)")
    rec.add_argument("--duration", type=_positive(float), default=10.0, metavar="S",
                     help="seconds to record (default: 10)")
    rec.add_argument("--containers", type=_container_list, metavar="A,B",
                     help="record only these containers (default: every container)")
    rec.add_argument("--refresh", type=_positive(float), metavar="S",
                     help="look for new cgroups every S seconds (default: only the containers "
                     "present at the start; a look costs a walk of the hierarchy)")
    rec.set_defaults(func=cmd_record)
    return p


# --- entry point ---------------------------------------------------------------------

def main(argv=None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except CliError as e:
        return _fail(str(e), e.status)
    except SystemExit as e:          # --help, --version
        return e.code if isinstance(e.code, int) else 0
    try:
        return args.func(args)
    except CliError as e:
        return _fail(str(e), e.status)
    except errors.CgsamplerError as e:
        invalid = getattr(errors, "InvalidOption", ())
        return _fail(_message(e), 2 if invalid and isinstance(e, invalid) else 1)
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            _silence_stdout()
            return 0
        return _fail(_os_message(e), 1)
    except KeyboardInterrupt:
        return 130


def _fail(message, status):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def _warn(message):
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _message(e):
    # KeyError subclasses (UnknownContainer) would print their message quoted.
    return str(e.args[0]) if len(e.args) == 1 else str(e)


def _os_message(e):
    text = e.strerror or str(e)
    if e.filename is not None:
        text = f"{e.filename}: {text}"
    if isinstance(e, PermissionError):
        text += " (run as root, or as a user who may read it)"
    return text


def _silence_stdout():
    # Output piped into `head`: the reader is gone; don't fail again at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _runtimes(args):
    """The Sampler's `runtimes` argument from --runtime (None: the default)."""
    given = getattr(args, "runtime", None)
    if not given:
        return None
    return [] if given == ["none"] else [r for r in given if r != "none"]


def _sampler(args, **kw):
    from cgsampler.sampler import Sampler   # the native extension, imported on use
    return Sampler(cgroup_root=args.cgroup_root, proc_root=args.proc_root,
                   max_disk_entries=MAX_DISK_ENTRIES, runtimes=_runtimes(args),
                   env_allow=getattr(args, "env_allow", None) or (),
                   runtime_timeout=getattr(args, "runtime_timeout", RUNTIME_TIMEOUT_S), **kw)


def _sleep_until(deadline):
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# --- top -------------------------------------------------------------------------------

_COLUMNS = (  # header, width
    ("CPU %", 6), ("MEMORY", 9), ("WORK SET", 9), ("I/O /s", 9), ("NET /s", 9), ("PROCS", 5),
    ("THROT %", 7),
)


def human_bytes(n) -> str:
    """Bytes in binary units: "512 B", "1.5 KiB", "236 MiB", "1.2 GiB"."""
    if n < 1024:
        return f"{int(n)} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        value /= 1024
        if value < 1024 or unit == "EiB":
            break
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def io_bytes(entries) -> int:
    """Bytes read and written, from one sample's disk entries: per device the
    io_service_bytes "Total", or Read + Write where there is no Total (v2)."""
    per_dev = {}
    want = schema.DISK_LISTS.index("io_service_bytes")
    for e in entries:
        if int(e["list"]) == want:
            ops = per_dev.setdefault((int(e["major"]), int(e["minor"])), {})
            ops[schema.DISK_OPS[int(e["op"])]] = int(e["value"])
    return sum(ops["Total"] if "Total" in ops else ops.get("Read", 0) + ops.get("Write", 0)
               for ops in per_dev.values())


def top_rows(names, stats, disk, net=None):
    """Table rows from the last two samples: dicts with name, cpu (%), memory,
    working_set (bytes), io (bytes/s), net (bytes/s received + sent on the
    container's namespace's interfaces), procs and throttled (%), None where not
    collected; sorted by CPU, highest first. Containers gone now are left out."""
    rows = []
    for j, name in enumerate(names):
        cur = stats[-1, j]
        vc = int(cur["valid"])
        if not vc:
            continue
        row = dict(name=name, cpu=None, memory=None, working_set=None, io=None, net=None, procs=None,
                   throttled=None)
        if vc & _G["memory"]:
            row["memory"] = int(cur["memory_usage"])
            row["working_set"] = int(cur["memory_working_set"])
        if vc & _G["processes"]:
            row["procs"] = int(cur["process_count"])
        if len(stats) > 1:
            prev = stats[-2, j]
            both = vc & int(prev["valid"])
            dt = (int(cur["timestamp_ns"]) - int(prev["timestamp_ns"])) / 1e9
            if dt > 0:
                _rates(row, cur, prev, both, dt, disk[-1, j], disk[-2, j])
                if net is not None and both & _G["network"]:
                    d = (net_bytes(net[-1, j][:int(cur["network_iface_count"])])
                         - net_bytes(net[-2, j][:int(prev["network_iface_count"])]))
                    row["net"] = d / dt if d >= 0 else None
        rows.append(row)
    rows.sort(key=lambda r: (r["cpu"] is None, -(r["cpu"] or 0.0), r["name"]))
    return rows


def _rates(row, cur, prev, both, dt, disk_cur, disk_prev):
    def delta(field):
        d = int(cur[field]) - int(prev[field])
        return d if d >= 0 else None      # a counter that went back: a new cgroup, same name

    if both & _G["cpu"]:
        d = delta("cpu_usage_total")
        if d is not None:
            row["cpu"] = d / 1e9 / dt * 100
    if both & _G["cfs"]:
        periods, throttled = delta("cpu_cfs_periods"), delta("cpu_cfs_throttled_periods")
        if periods is not None and throttled is not None:
            row["throttled"] = 100.0 * throttled / periods if periods else 0.0
    if both & _G["diskio"]:
        d = (io_bytes(disk_cur[:int(cur["diskio_count"])])
             - io_bytes(disk_prev[:int(prev["diskio_count"])]))
        if d >= 0:
            row["io"] = d / dt


def net_bytes(ifaces) -> int:
    """Bytes received and sent over one sample's interfaces."""
    return sum(int(e["rx_bytes"]) + int(e["tx_bytes"]) for e in ifaces)


def _cell(value, fmt):
    return "-" if value is None else fmt(value)


def truncate_left(name, width) -> str:
    """`name` fitted to `width` characters, cut on the left so the leaf stays visible."""
    if len(name) <= width:
        return name
    return "…" + name[len(name) - width + 1:] if width > 1 else "…"


def render_top(rows, title, columns=None, limit=None) -> str:
    """The table as text: a title line, a header and one line per row.
    `columns`: the terminal width (None: no limit, names never cut). An IMAGE
    column comes last when some row has an "image" (runtime containers)."""
    fixed = sum(w + 2 for _, w in _COLUMNS)
    shown = rows if limit is None else rows[:limit]     # the widths fit the rows shown
    image_w = max([len(r.get("image") or "") for r in shown] + [0])
    if image_w:
        if columns is not None:     # what is left after 12 name characters, at most IMAGE_WIDTH
            image_w = min(image_w, IMAGE_WIDTH, columns - fixed - 14)
        image_w = max(len("IMAGE"), image_w) if image_w >= len("IMAGE") else 0   # no room: no column
        fixed += image_w + 2 if image_w else 0
    longest = max([len(r["name"]) for r in shown] + [len("NAME")])
    width = longest if columns is None else max(12, min(longest, columns - fixed))
    image_head = "  IMAGE" if image_w else ""
    lines = [title, "NAME".ljust(width) + "".join("  " + h.rjust(w) for h, w in _COLUMNS) + image_head]
    for r in shown:
        cells = (
            _cell(r["cpu"], lambda v: f"{v:.1f}"),
            _cell(r["memory"], human_bytes),
            _cell(r["working_set"], human_bytes),
            _cell(r["io"], human_bytes),
            _cell(r.get("net"), human_bytes),
            _cell(r["procs"], str),
            _cell(r["throttled"], lambda v: f"{v:.1f}%"),
        )
        image = "  " + truncate_left(r.get("image") or "-", image_w) if image_w else ""
        lines.append(truncate_left(r["name"], width).ljust(width)
                     + "".join("  " + c.rjust(w) for c, (_, w) in zip(cells, _COLUMNS)) + image)
    if len(shown) < len(rows):
        lines.append(f"... {len(rows) - len(shown)} more (--limit)")
    return "\n".join(lines) + "\n"


def _terminal_columns():
    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def runtime_names(s, rows, wait):
    """Shows runtime containers by their runtime's name (docker/podman/cri-o name,
    else the short id), with their image; raw cgroups keep their cgroup name."""
    for r in rows:
        meta = s.metadata(r["name"], wait=wait)
        if meta is not None:
            r["cgroup"], r["name"], r["image"] = r["name"], meta.display_name, meta.image
    return rows


def _top_frame(s, args, live):
    rows = runtime_names(s, top_rows(s.names, s.stats, s.disk, s.interfaces), wait=not live)
    title = (f"{PROG} top: {len(rows)} containers, cgroup v{s.hierarchy.version}, "
             f"interval {args.interval:g} s, {time.strftime('%H:%M:%S')}")
    down = s.runtime_errors
    if down:
        title += f", not answering: {', '.join(sorted(down))} (raw names)"
    limit = args.limit
    if live:
        title += "  (Ctrl-C quits)"
        if limit is None:
            limit = max(1, shutil.get_terminal_size().lines - 3)
    return render_top(rows, title, _terminal_columns(), limit)


def cmd_top(args) -> int:
    """`top`: one table (--once) or a table redrawn every interval until Ctrl-C."""
    if args.once:
        with _sampler(args, history=2) as s:
            s.sample()
            time.sleep(args.interval)
            s.sample()
            sys.stdout.write(_top_frame(s, args, live=False))
            sys.stdout.flush()
        return 0
    try:
        with _sampler(args, history=2) as s:
            _top_live(s, args)
    except KeyboardInterrupt:
        pass
    return 0


def _top_live(s, args):
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
    s.sample()
    deadline = last_refresh = time.monotonic()
    while True:
        deadline += args.interval
        now = time.monotonic()
        if now > deadline:
            deadline = now            # fell behind: don't rush to catch up
        _sleep_until(deadline)
        s.sample()
        sys.stdout.write(clear + _top_frame(s, args, live=True))
        sys.stdout.flush()
        if time.monotonic() - last_refresh >= TOP_REFRESH_S:
            s.refresh()
            last_refresh = time.monotonic()


# --- info ------------------------------------------------------------------------------

def normalize_name(name) -> str:
    """cAdvisor's form of a container name: absolute, single slashes."""
    return "/" + "/".join(p for p in name.split("/") if p)


def cmd_info(args) -> int:
    """`info`: the ContainerInfo JSON, live or from a recording."""
    if args.recording is not None:
        if args.interval is not None:
            raise CliError("--interval has no effect with --from: the recording sets the times", 2)
        info = info_from_recording(load_recording(args.recording), args.name, args.num_stats)
    else:
        info = _info_live(args)
    sys.stdout.write(info.to_json() + "\n")
    sys.stdout.flush()
    return 0


def _info_live(args):
    from cgsampler import v1
    n = args.num_stats or DEFAULT_NUM_STATS
    interval = args.interval if args.interval is not None else 1.0
    _check_ring(n, 1, "ask for fewer --num-stats")
    name = resolve_name(args)
    with _sampler(args, containers=[name], history=n) as s:
        start = time.monotonic()
        for k in range(n):
            _sleep_until(start + k * interval)
            s.sample()
        return s.container_info(name, v1.ContainerInfoRequest(num_stats=n))


def resolve_name(args) -> str:
    """NAME as a cgroup name (see resolve_names)."""
    return resolve_names(args, [args.name])[0]


def resolve_names(args, wanted) -> list:
    """Each name as a cgroup name: as is if it starts with "/" or names a cgroup,
    else a runtime alias (a container's name, full id, a systemd unit, or a
    unique prefix of one), resolved against the runtimes of --runtime."""
    from cgsampler import runtimes
    if all(n.startswith("/") for n in wanted):
        return list(wanted)
    h = hierarchy.detect(args.cgroup_root, args.proc_root)
    names = hierarchy.walk(h)
    known = set(names)
    out = [n if n.startswith("/") or normalize_name(n) not in known else normalize_name(n)
           for n in wanted]
    aliases = [i for i, n in enumerate(out) if not n.startswith("/")]
    if not aliases:
        return out
    reg = runtimes.Registry(_runtimes(args), getattr(args, "env_allow", None) or (),
                            timeout=getattr(args, "runtime_timeout", RUNTIME_TIMEOUT_S))
    try:
        for n in names:
            reg.submit(n)
        for i in aliases:
            try:
                out[i] = reg.find(out[i], names)
            except errors.UnknownContainer as e:
                down = "; ".join(f"{rt}: {why}" for rt, why in sorted(reg.errors.items()))
                raise CliError(_message(e) + (f" (runtimes that did not answer: {down})" if down else "")) from None
    finally:
        reg.close()
    return out


def _recorded_column(rec, name) -> int:
    """The column of `name` in a recording: a cgroup name, else a runtime
    container's recorded alias, id or a unique prefix of one."""
    key = normalize_name(name)
    if key in rec["names"]:
        return rec["names"].index(key)
    if not name.startswith("/"):
        keys = [[k for k in [r.id, *(r.aliases or [])] if k] for r in rec["references"]]
        found = [j for j, ks in enumerate(keys) if name in ks]
        if not found:
            found = [j for j, ks in enumerate(keys) if any(k.startswith(name) for k in ks)]
        if len(found) == 1:
            return found[0]
        if found:
            raise CliError(f"{name!r} is ambiguous in the recording {rec['path']}: it matches "
                           + ", ".join(rec["names"][j] for j in found[:3])
                           + (", ..." if len(found) > 3 else ""))
    raise CliError(f"no container {name if not name.startswith('/') else key!r} in the recording "
                   f"{rec['path']} ({len(rec['names'])} containers, named by cgroup or by a "
                   f"runtime alias; `{PROG} record --containers` chooses which are recorded)")


def info_from_recording(rec, name, num_stats=None):
    """ContainerInfo of `name` from a loaded recording: its stored spec and
    subcontainers, and its newest `num_stats` samples (all by default)."""
    from cgsampler import v1
    from cgsampler.sampler import stats_from_row
    j = _recorded_column(rec, name)
    key, ref = rec["names"][j], rec["references"][j]
    col = rec["stats"][:, j]
    keep = np.nonzero(col["valid"] != 0)[0]
    if num_stats is not None:
        keep = keep[max(len(keep) - num_stats, 0):]
    nets = rec["interfaces"]
    stats = [stats_from_row(col[i], rec["percpu"][i, j], rec["disk"][i, j], rec["devices"],
                            nets[i, j] if nets is not None else None)
             for i in keep]
    if key == "/" and rec["partitions"]:
        from cgsampler import filesystems
        for i, st in zip(keep, stats):
            st.filesystem = filesystems.fs_stats(rec["filesystems"][i], rec["partitions"]) or None
    try:
        spec = v1.ContainerSpec.from_json(rec["specs"][j])
    except ValueError as e:             # errors.InvalidJSON
        raise CliError(f"cannot read the recording {rec['path']}: the spec of {key!r} "
                       f"is not valid: {_message(e)}") from None
    return v1.ContainerInfo(
        id=ref.id,
        name=key,
        aliases=ref.aliases,
        namespace=ref.namespace,
        subcontainers=[v1.ContainerReference(name=n) for n in rec["subcontainers"][j]],
        spec=spec,
        stats=stats,
    )


# --- record ------------------------------------------------------------------------------

def _bytes_per_column(ncpus):
    return (schema.STATS_DTYPE.itemsize + 8 * ncpus
            + MAX_DISK_ENTRIES * schema.DISK_ENTRY_DTYPE.itemsize)


def _check_ring(samples, containers, advice):
    """Refuse a history ring that would not fit in memory, before allocating it."""
    from cgsampler.sampler import possible_cpus
    need = samples * max(16, containers) * _bytes_per_column(possible_cpus())
    if need > MAX_RING_BYTES:
        raise CliError(f"{samples} samples of {containers} containers need about "
                       f"{human_bytes(need)} of memory, over the {human_bytes(MAX_RING_BYTES)} "
                       f"limit; {advice}", 2)


def cmd_record(args) -> int:
    """`record`: sample on a fixed monotonic schedule, then write the .npz."""
    samples = round(args.hz * args.duration)
    if samples < 1:
        raise CliError("--hz x --duration is less than one sample", 2)
    if samples > 1 << 31:
        raise CliError(f"{samples} samples is too many; lower --hz or --duration", 2)
    if os.path.isdir(args.output):
        raise CliError(f"--output {args.output} is a directory; name a file, e.g. "
                       f"{os.path.join(args.output, 'recording.npz')}", 2)
    if args.containers:
        args.containers = resolve_names(args, args.containers)
        count = len(args.containers)
    else:
        count = len(hierarchy.walk(hierarchy.detect(args.cgroup_root, args.proc_root)))
    _check_ring(samples, count, "lower --hz or --duration, or record fewer --containers")

    part = args.output + ".part"
    try:
        out = open(part, "wb")             # fail on an unwritable path now, not after recording
    except OSError as e:
        raise CliError(f"cannot write --output {args.output}: {e.strerror}") from None
    with out, _sigterm_as_interrupt():
        try:
            with _sampler(args, containers=args.containers, history=samples) as s:
                result = _record(s, args, samples)
                _save(out, s, args, result)
        except BaseException:
            out.close()
            os.unlink(part)
            raise
    os.replace(part, args.output)
    taken, missed, rate, interrupted = (result[k] for k in ("taken", "missed", "rate", "interrupted"))
    n = result["containers"]
    print(f"recorded {taken} samples of {n} container{'s' if n != 1 else ''} at {rate:.1f} Hz "
          f"(asked {args.hz:g}, {missed} missed deadlines"
          + (", stopped early" if interrupted else "")
          + f") to {args.output} ({human_bytes(os.path.getsize(args.output))})")
    return 0


class _sigterm_as_interrupt:
    """While recording, SIGTERM (kill, timeout, systemd) stops early like Ctrl-C:
    what was taken is saved."""

    def __enter__(self):
        def stop(signum, frame):
            raise KeyboardInterrupt
        try:
            self.previous = signal.signal(signal.SIGTERM, stop)
        except ValueError:           # not the main thread: leave SIGTERM alone
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _record(s, args, samples):
    from cgsampler.sampler import possible_cpus
    period = 1.0 / args.hz
    progress = sys.stderr.isatty()
    taken = missed = k = 0
    interrupted = refresh_stopped = False
    per_column = _bytes_per_column(possible_cpus())
    first = last = last_progress = last_refresh = None
    t0 = time.monotonic()
    try:
        while k < samples:
            deadline = t0 + k * period
            now = time.monotonic()
            if now < deadline:
                time.sleep(deadline - now)
            elif now - deadline >= period:
                skip = min(int((now - deadline) / period), samples - k)
                missed += skip                # these deadlines have passed: skip, don't rush
                k += skip
                continue
            s.sample()
            last = time.monotonic()
            first = first if first is not None else last
            taken += 1
            k += 1
            if args.refresh and last - (last_refresh or t0) >= args.refresh:
                last_refresh = last
                if samples * 2 * max(16, len(s.names)) * per_column <= MAX_RING_BYTES:
                    s.refresh()               # may double the ring's columns
                elif not refresh_stopped:
                    refresh_stopped = True
                    _warn("the history ring is too large to grow; not looking for new "
                          "cgroups any more (lower --hz or --duration)")
            if progress and (last_progress is None or last - last_progress >= PROGRESS_EVERY_S):
                last_progress = last
                sys.stderr.write(f"\rrecording: {taken}/{samples} samples, "
                                 f"{max(t0 + samples * period - last, 0):.1f} s left, "
                                 f"{missed} missed deadlines\x1b[K")
                sys.stderr.flush()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if progress:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
    rate = (taken - 1) / (last - first) if taken > 1 and last > first else 0.0
    return dict(taken=taken, missed=missed, rate=rate, interrupted=interrupted,
                containers=len(s.names))


def _save(out, s, args, result):
    from cgsampler.sampler import block_devices
    names = s.names
    stats, percpu, disk = s.stats, s.percpu, s.disk
    # Keep only the per-CPU and disk entries some sample filled.
    ncpu = int(stats["cpu_percpu_count"].max(initial=0))
    ndisk = int(stats["diskio_count"].max(initial=0))
    nifaces = int(stats["network_iface_count"].max(initial=0))
    partitions, fs = s.filesystems
    devices = sorted(block_devices().items())
    gone = set(s.retired)
    np.savez_compressed(
        out,
        format=np.array(RECORDING_FORMAT),
        format_version=np.array(RECORDING_VERSION),
        stats=stats,
        percpu=np.ascontiguousarray(percpu[:, :, :ncpu]),
        disk=np.ascontiguousarray(disk[:, :, :ndisk]),
        interfaces=np.ascontiguousarray(s.interfaces[:, :, :nifaces]),
        filesystems=fs,
        partitions=np.array(json.dumps([[p.device, p.mountpoint, p.fstype, p.major, p.minor]
                                        for p in partitions])),
        names=np.array(names, dtype=str),
        specs=np.array([s.spec(n).to_json() for n in names], dtype=str),
        references=np.array([s.reference(n, wait=True).to_json() for n in names], dtype=str),
        subcontainers=np.array([json.dumps([] if n in gone else hierarchy.subcontainers(s.hierarchy, n))
                                for n in names], dtype=str),
        devices=np.array([k for k, _ in devices], dtype=np.uint32).reshape(-1, 2),
        device_names=np.array([v for _, v in devices], dtype=str),
        hz=np.array(float(args.hz)),
        missed=np.array(result["missed"]),
        cgroup_version=np.array(s.hierarchy.version),
    )
    out.flush()


def load_recording(path) -> dict:
    """A recording's arrays, checked; CliError for a missing, foreign or corrupt file."""
    def bad(why):
        return CliError(f"cannot read the recording {path}: {why}")

    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise bad(f"not a {PROG} recording (make one with `{PROG} record`)")
        with z:
            if "format" not in z.files or str(z["format"]) != RECORDING_FORMAT:
                raise bad(f"not a {PROG} recording (make one with `{PROG} record`)")
            version = int(z["format_version"])
            if not 1 <= version <= RECORDING_VERSION:
                raise bad(f"format version {version}; this {PROG} reads versions 1 to "
                          f"{RECORDING_VERSION} (use the {PROG} that recorded it)")
            rec = {k: z[k] for k in ("stats", "percpu", "disk", "names", "specs",
                                     "subcontainers", "devices", "device_names")}
            for k in ("interfaces", "filesystems", "partitions"):
                rec[k] = z[k] if version >= 2 else None
            rec["references"] = z["references"] if version >= 3 else None
    except CliError:
        raise
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        if isinstance(e, OSError) and e.strerror:
            raise bad(e.strerror) from None
        if isinstance(e, ValueError) and "pickle" in str(e):
            # numpy's advice about allow_pickle is wrong here: it is not an .npz at all
            raise bad(f"not a {PROG} recording (make one with `{PROG} record`)") from None
        raise bad(f"corrupt or not an .npz file ({_message(e) or type(e).__name__})") from None

    stats, percpu, disk = rec["stats"], rec["percpu"], rec["disk"]
    if stats.dtype != schema.STATS_DTYPE or stats.ndim != 2:
        raise bad("the stats array does not have this version's layout")
    t, n = stats.shape
    if (percpu.ndim != 3 or percpu.shape[:2] != (t, n) or disk.dtype != schema.DISK_ENTRY_DTYPE
            or disk.ndim != 3 or disk.shape[:2] != (t, n)
            or any(rec[k].shape != (n,) for k in ("names", "specs", "subcontainers"))
            or rec["devices"].shape != (len(rec["device_names"]), 2)):
        raise bad("its arrays do not agree in shape")
    nets, fs, partitions = rec["interfaces"], rec["filesystems"], []
    if nets is not None:
        from cgsampler import filesystems
        try:
            partitions = [filesystems.Partition(str(d), str(m), str(f), int(a), int(b))
                          for d, m, f, a, b in json.loads(str(rec["partitions"]))]
        except (ValueError, TypeError):
            raise bad("its partition list is not JSON [device, mountpoint, fstype, major, minor] lists") from None
        if (nets.dtype != schema.IFACE_DTYPE or nets.ndim != 3 or nets.shape[:2] != (t, n)
                or fs.dtype != filesystems.FS_DTYPE or fs.shape != (t, len(partitions))):
            raise bad("its interface or filesystem arrays do not agree in shape")
        if stats["network_iface_count"].max(initial=0) > nets.shape[2]:
            raise bad("entry counts or codes out of range")
    if (stats["cpu_percpu_count"].max(initial=0) > percpu.shape[2]
            or stats["diskio_count"].max(initial=0) > disk.shape[2]
            or disk["list"].max(initial=0) >= len(schema.DISK_LISTS)
            or disk["op"].max(initial=0) >= len(schema.DISK_OPS)):
        raise bad("entry counts or codes out of range")
    try:
        subs = [json.loads(str(x)) for x in rec["subcontainers"]]
    except ValueError:
        subs = None
    if subs is None or not all(isinstance(x, list) and all(isinstance(n, str) for n in x)
                               for x in subs):
        raise bad("its subcontainer lists are not JSON lists of names")
    from cgsampler import v1
    refs = [v1.ContainerReference(name=str(x)) for x in rec["names"]]
    if rec["references"] is not None:
        try:
            if rec["references"].shape != (n,):
                raise ValueError("shape")
            refs = [v1.ContainerReference.from_json(str(x)) for x in rec["references"]]
        except (ValueError, TypeError):         # errors.InvalidJSON is a ValueError
            raise bad("its references are not ContainerReference JSON, one per container") from None
    return dict(
        path=path, stats=stats, percpu=percpu, disk=disk, interfaces=nets, filesystems=fs,
        partitions=partitions,
        names=[str(x) for x in rec["names"]],
        specs=[str(x) for x in rec["specs"]],
        references=refs,
        subcontainers=subs,
        devices={(int(a), int(b)): str(d) for (a, b), d in zip(rec["devices"], rec["device_names"])},
    )
