"""The dedup stage's stream time over several input topics read at different paces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.agents.input_time import InputClock

T = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
TOPICS = ["plates", "faces", "alarms"]


def test_time_stands_until_every_input_has_spoken() -> None:
    clock = InputClock()
    clock.seen("plates", 0, T)
    assert clock.stream_time(0, TOPICS) is None
    clock.at_end("faces", 0)
    clock.at_end("alarms", 0)
    assert clock.stream_time(0, TOPICS) == T


def test_the_slowest_input_with_records_left_holds_time_back() -> None:
    clock = InputClock()
    clock.seen("plates", 0, T + timedelta(hours=2))  # drained ahead while catching up
    clock.seen("faces", 0, T)
    clock.at_end("alarms", 0)
    assert clock.stream_time(0, TOPICS) == T
    clock.seen("faces", 0, T + timedelta(minutes=5))
    assert clock.stream_time(0, TOPICS) == T + timedelta(minutes=5)
    clock.at_end("faces", 0)  # the faces are all read: the plates' time counts
    assert clock.stream_time(0, TOPICS) == T + timedelta(hours=2)


def test_new_records_after_the_end_count_again() -> None:
    clock = InputClock()
    for topic in TOPICS:
        clock.seen(topic, 1, T)
        clock.at_end(topic, 1)
    clock.seen("plates", 1, T + timedelta(seconds=30))
    assert clock.stream_time(1, TOPICS) == T + timedelta(seconds=30)
    clock.seen("faces", 1, T + timedelta(seconds=10))  # faces have more again
    assert clock.stream_time(1, TOPICS) == T + timedelta(seconds=10)


def test_partitions_are_independent_and_forgotten_on_revoke() -> None:
    clock = InputClock()
    for topic in TOPICS:
        clock.seen(topic, 0, T)
        clock.seen(topic, 1, T + timedelta(minutes=1))
    assert clock.stream_time(0, TOPICS) == T
    assert clock.stream_time(1, TOPICS) == T + timedelta(minutes=1)
    clock.forget([1])
    assert clock.stream_time(1, TOPICS) is None
    assert clock.stream_time(0, TOPICS) == T


def test_idle_time_moves_on_from_the_newest_record_by_the_wall_time_since() -> None:
    from streams.agents.input_time import IdleClock

    wall = T + timedelta(days=3)  # a replay: received times far in the past
    clock = IdleClock()
    assert clock.at(0, wall) is None  # nothing read yet: no idle time (not the wall clock)
    clock.seen(0, T, wall)
    clock.seen(0, T - timedelta(seconds=5), wall)  # older: does not move it back
    assert clock.at(0, wall + timedelta(seconds=2)) == T + timedelta(seconds=2)
    assert clock.at(1, wall) is None  # other partitions are their own
    clock.forget([0])
    assert clock.at(0, wall) is None


def test_idle_time_keeps_the_pace_of_a_replay_but_live_time_never_passes_the_clock() -> None:
    from streams.agents.input_time import IdleClock

    wall = T + timedelta(days=3)
    replay = IdleClock()
    for second in range(0, 21):  # recorded traffic replayed 60 times faster than it happened
        replay.seen(0, T + timedelta(seconds=60 * second), wall + timedelta(seconds=second))
    assert replay.pace[0] == 60.0
    last_read = wall + timedelta(seconds=20)
    # A moment of idleness (the stage upstream may still be reading a backlog): wall pace.
    assert replay.at(0, last_read + timedelta(seconds=2)) == T + timedelta(seconds=1200 + 2)
    # Idle for longer: the replay's pace.
    assert replay.at(0, last_read + timedelta(seconds=6)) == T + timedelta(seconds=1200 + 360)

    live = IdleClock()
    for second in range(0, 21):  # a backlog read 10 times faster, up to the present
        live.seen(0, T - timedelta(seconds=200 - 10 * second), T + timedelta(seconds=second))
    assert live.pace[0] == 10.0
    now = T + timedelta(seconds=26)
    assert live.at(0, now) == now  # caught up: the wall clock bounds idle time


def _read(clock: InputClock, topic: str, partition: int, seconds: float) -> None:
    clock.seen(topic, partition, T + timedelta(seconds=seconds))


def test_an_input_read_far_ahead_of_the_slowest_is_held_until_it_catches_up() -> None:
    clock = InputClock()
    _read(clock, "plates", 0, 60)  # a chunk of plates far ahead
    _read(clock, "faces", 0, 5)
    _read(clock, "alarms", 0, 20)
    held = clock.ahead([0], TOPICS, set(), limit=timedelta(seconds=10))
    assert held == {("plates", 0), ("alarms", 0)}  # 55 s and 15 s ahead of the faces
    _read(clock, "faces", 0, 12)  # alarms now 8 s ahead: below the limit, but paused
    assert clock.ahead([0], TOPICS, held, limit=timedelta(seconds=10)) == held
    _read(clock, "faces", 0, 16)  # 4 s ahead: under half the limit, read on
    assert clock.ahead([0], TOPICS, held, limit=timedelta(seconds=10)) == {("plates", 0)}


def test_the_slowest_input_is_never_held_and_an_input_at_its_end_holds_nothing_back() -> None:
    clock = InputClock()
    _read(clock, "plates", 0, 100)
    _read(clock, "faces", 0, 0)
    _read(clock, "alarms", 0, 50)
    for _ in range(3):
        held = clock.ahead([0], TOPICS, set())
        assert ("faces", 0) not in held
    clock.at_end("faces", 0)  # the faces are all read: the alarms are the slowest now
    assert clock.ahead([0], TOPICS, {("plates", 0), ("alarms", 0)}) == {("plates", 0)}
    clock.at_end("alarms", 0)
    assert clock.ahead([0], TOPICS, {("plates", 0)}) == set()


def test_inputs_wait_for_one_not_heard_from_yet() -> None:
    clock = InputClock()
    _read(clock, "plates", 0, 1)
    clock.at_end("alarms", 0)
    assert clock.ahead([0], TOPICS, set()) == {("plates", 0)}  # the faces may be older
    _read(clock, "faces", 0, 0)
    assert clock.ahead([0], TOPICS, {("plates", 0)}) == set()


def test_partitions_are_paced_apart() -> None:
    clock = InputClock()
    for partition, plates in ((0, 60), (1, 3)):
        _read(clock, "plates", partition, plates)
        _read(clock, "faces", partition, 0)
        clock.at_end("alarms", partition)
    assert clock.ahead([0, 1], TOPICS, set()) == {("plates", 0)}
    assert clock.ahead([1], TOPICS, set()) == set()  # only the partitions asked about


def test_live_inputs_at_their_ends_are_never_held() -> None:
    clock = InputClock()
    for second in range(0, 120, 2):
        for topic in TOPICS:
            _read(clock, topic, 0, second + 0.5 * TOPICS.index(topic))
        assert clock.ahead([0], TOPICS, set()) == set()
        for topic in TOPICS:
            clock.at_end(topic, 0)
        assert clock.ahead([0], TOPICS, set()) == set()


@given(
    st.lists(
        st.tuples(st.sampled_from(TOPICS), st.integers(0, 1), st.integers(-1, 600)),
        max_size=60,
    )
)
def test_every_partition_with_records_left_reads_on(steps: list[tuple[str, int, int]]) -> None:
    """However the inputs were read, some input of each partition with records left to
    deliver is not held: pacing never stalls a partition."""
    clock = InputClock()
    held: set[tuple[str, int]] = set()
    for topic, partition, second in steps:
        if second < 0:
            clock.at_end(topic, partition)
        else:
            _read(clock, topic, partition, second)
        held = clock.ahead([0, 1], TOPICS, held)
        for p in (0, 1):
            pending = {(t, p) for t in TOPICS} - clock.ended
            assert not pending or pending - held
            assert held <= {(t, q) for t in TOPICS for q in (0, 1)} - clock.ended
