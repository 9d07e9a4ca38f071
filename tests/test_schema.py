"""schema.py's dtypes are the native row layout (csrc/cgs_layout.h), field for field."""
import numpy as np

from cgsampler import schema
from cgsampler._native.sweep import Engine


def test_every_native_row_field_sits_where_the_dtype_says():
    layout = Engine().row_layout()
    assert layout["itemsize"] == schema.STATS_DTYPE.itemsize
    assert layout["disk_itemsize"] == schema.DISK_ENTRY_DTYPE.itemsize
    for name, offset in layout.items():
        if name.endswith("itemsize"):
            continue
        assert schema.STATS_DTYPE.fields[name][1] == offset, name


def test_rows_have_no_padding_and_every_field_is_eight_bytes():
    sizes = [schema.STATS_DTYPE.fields[n][0].itemsize for n in schema.STATS_DTYPE.names]
    assert sum(sizes) == schema.STATS_DTYPE.itemsize
    assert all(schema.STATS_DTYPE.fields[n][0].base.itemsize == 8 for n in schema.STATS_DTYPE.names)


def test_every_group_column_and_key_table_column_exists():
    for columns in schema.GROUP_COLUMNS.values():
        for c in columns:
            assert c in schema.STATS_DTYPE.names
    for table in schema.KEY_TABLES.values():
        for column, scale in table.values():
            assert column in schema.STATS_DTYPE.names and scale >= 1
    for tname, key in schema.PRESENCE_KEYS.items():
        assert key in schema.KEY_TABLES[tname]
    assert set(schema.GROUP_COLUMNS) == set(schema.GROUPS)


def test_group_bits_are_distinct_powers_of_two_that_fit_the_timestamps():
    bits = sorted(schema.GROUPS.values())
    assert bits == [1 << i for i in range(len(bits))]
    assert len(bits) <= schema.STATS_DTYPE.fields["group_timestamp_ns"][0].shape[0]
    assert schema.STATS_DTYPE.fields["group_timestamp_ns"][0].base == np.dtype("<i8")
