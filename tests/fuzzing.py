"""Shared pieces of the parser fuzz tests: hypothesis profiles, a hang
watchdog, and byte-level mutation of well-formed files."""
import faulthandler

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

WATCHDOG_S = 60


def examples(n):
    """A bounded, database-free hypothesis profile of n examples."""
    return settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def watchdog():
    # A parser stuck in a nogil loop would hang the run: dump the stacks and exit instead.
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@st.composite
def mutated(draw, well_formed, tokens):
    """A well-formed file (bytes) with 1-4 bytes flipped, tokens inserted, bytes cut, or a truncation."""
    data = bytearray(draw(well_formed))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, len(data)))
        if kind == "flip" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.sampled_from(tokens))
        elif kind == "delete" and pos < len(data):
            del data[pos]
        elif kind == "truncate":
            del data[pos:]
    return bytes(data)
