"""Sightings in the change log: the column form reads back exactly; the older form still reads."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.canonical.models import ImageKind, ImageRef
from streams.correlate.sightings import (
    IMAGES,
    RecentSightings,
    Seen,
    from_log,
    image_tuples,
    to_log,
    unpack,
)

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

_times = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
_images = st.lists(
    st.tuples(
        st.sampled_from([kind.value for kind in ImageKind]),
        st.none() | st.text(max_size=20),
        st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
        st.none() | st.integers(0, 10_000),
        st.none() | st.integers(0, 10_000),
    ),
    max_size=3,
).map(tuple)
_seen = st.tuples(
    _times,
    st.text(min_size=1, max_size=40),
    st.sampled_from(["plate", "face"]),
    st.text(min_size=1, max_size=20),
    st.none() | st.text(max_size=8),
    st.none() | st.text(max_size=8),
    st.none() | st.floats(-90, 90),
    st.none() | st.floats(-180, 180),
    _images,
)


def _pickled(value: object) -> object:
    """What the change log reads back of a value it wrote (its own bytes: trusted)."""
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301


def _through_log(kept: tuple[Seen, ...]) -> tuple[Seen, ...]:
    return from_log(_pickled(to_log(kept)))


@settings(max_examples=200)
@given(st.lists(_seen, max_size=30).map(tuple))
def test_the_column_form_reads_back_exactly(kept: tuple[Seen, ...]) -> None:
    back = _through_log(kept)
    assert back == kept
    assert all(seen[0].tzinfo is UTC for seen in back)


def test_capture_times_come_back_to_the_microsecond_in_utc() -> None:
    times = [
        T0 + timedelta(microseconds=1),
        T0 + timedelta(milliseconds=999, microseconds=999),
        datetime(2026, 11, 22, 16, 0, 0, 123_000, tzinfo=timezone(timedelta(hours=8))),
    ]
    kept = tuple(
        (at, f"e{i}", "plate", "d", "京A12345", None, None, None, ()) for i, at in enumerate(times)
    )
    back = _through_log(kept)
    assert [seen[0] for seen in back] == times
    assert [seen[0].utcoffset() for seen in back] == [timedelta(0)] * 3


def test_sightings_written_before_the_column_form_still_read_and_report() -> None:
    image = ImageRef(kind=ImageKind.PLATE, url="http://cam/1.jpg", width=640, height=480)
    older: Seen = (T0, "e1", "plate", "d1", "京A12345", None, 39.9, 116.4, (image,))
    newer: Seen = (*older[:IMAGES], image_tuples([image]))
    logged = _pickled((older,))
    assert from_log(logged) == (older,)
    assert unpack(from_log(logged)[0]) == unpack(newer)
    assert unpack(newer).images == [image]


def test_a_restored_table_equals_the_written_one_and_still_expires() -> None:
    keep = timedelta(seconds=30)
    written = RecentSightings("t", keep)
    for i in range(5):
        written.add(
            "dev", (T0 + timedelta(seconds=i), f"e{i}", "plate", "dev", "P", None, None, None, ())
        )
    restored = RecentSightings("t", keep)
    for key, value, present in written.table.take_changes():
        assert present
        restored.table.restore(key, restored.table.from_log(_pickled(written.table.to_log(value))))
    assert dict(restored.table) == dict(written.table)
    restored.expire(T0 + keep + timedelta(seconds=2, milliseconds=500))  # e0..e2 are older
    assert [seen[1] for seen in restored.table["dev"]] == ["e3", "e4"]
