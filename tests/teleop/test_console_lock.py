"""Two (or more) consoles: which one is in control (ROS-free)."""
from __future__ import annotations

import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recap_teleop.console_lock import Claim, ConsoleLock

TIMEOUT = 2.0


def exchange(locks: list[ConsoleLock], now: float) -> None:
    """One heartbeat: every console hears every claim, then decides."""
    claims = [lock.claim(now) for lock in locks]
    for lock in locks:
        for claim in claims:
            lock.heard(claim, now)
    for lock in locks:
        lock.update(now)


def test_a_lone_console_takes_control_after_listening():
    lock = ConsoleLock("b", 0.0, TIMEOUT)
    assert not lock.update(1.0) and lock.listening(1.0)
    assert lock.update(2.0) and lock.owner_id(2.0) == "b"


def test_the_first_console_keeps_control_and_a_newcomer_stays_read_only():
    first = ConsoleLock("z-first", 0.0, TIMEOUT)  # a larger id: priority is not by id while one owns
    first.update(2.0)
    second = ConsoleLock("a-second", 10.0, TIMEOUT)
    for t in (10.0, 10.5, 11.0, 12.0, 13.0):
        exchange([first, second], t)
        assert first.owner and not second.owner
    assert second.owner_id(13.0) == "z-first"


def test_the_read_only_console_takes_over_when_the_owner_is_gone():
    first, second = ConsoleLock("a", 0.0, TIMEOUT), ConsoleLock("b", 0.0, TIMEOUT)
    for t in (0.5, 1.0, 2.0, 2.5):
        exchange([first, second], t)
    assert first.owner and not second.owner
    exchange([second], 4.0)  # the owner quit: its last claim ages
    assert not second.owner and second.owner_id(4.0) == "a"
    assert second.update(4.6) and second.owner_id(4.6) == "b"


def test_consoles_started_together_agree_on_one():
    locks = [ConsoleLock(i, 0.0, TIMEOUT) for i in ("c", "a", "b")]
    for t in (0.5, 1.0, 2.0, 2.5, 3.0):
        exchange(locks, t)
    assert [lock.owner for lock in locks] == [False, True, False]


def test_two_owners_after_a_network_split_the_smaller_id_keeps_control():
    a, b = ConsoleLock("a", 0.0, TIMEOUT), ConsoleLock("b", 0.0, TIMEOUT)
    assert a.update(2.0) and b.update(2.0)  # they never heard each other
    exchange([a, b], 3.0)
    assert a.owner and not b.owner


def test_an_owner_discovered_late_keeps_control_over_the_newcomer_that_claimed_it():
    """DDS discovery slower than the newcomer's listening time: the newcomer (a smaller id) takes
    control having heard nobody, then hears the owner. The console in control longer keeps it."""
    owner = ConsoleLock("z-owner", 0.0, TIMEOUT)
    for t in (2.0, 6.0, 10.0):
        exchange([owner], t)
    newcomer = ConsoleLock("a-newcomer", 10.0, TIMEOUT)
    assert newcomer.update(12.0)  # heard nobody for its listening time
    for t in (12.5, 13.0, 13.5):
        exchange([owner, newcomer], t)
        assert owner.owner and not newcomer.owner
    assert newcomer.owner_id(13.5) == "z-owner"


def test_two_owners_that_disagree_on_their_tenures_settle_by_id_within_the_timeout():
    """Tenures estimated across the network can put two owners on opposite sides of the margin;
    after `timeout_s` of two owners the smaller id keeps control whatever the tenures say."""
    a, b = ConsoleLock("a", 0.0, TIMEOUT, margin_s=0.5), ConsoleLock("b", 0.0, TIMEOUT, margin_s=0.5)
    b.update(2.0), a.update(2.5)  # b in control 0.5 s longer than a: at the margin
    # Each hears the other's tenure 10 ms late: b finds itself older by more than the margin and
    # keeps control; a finds the two within the margin, where the smaller id (a) keeps it.
    def heartbeat(t):
        a.heard(Claim("b", True, tenure_s=b.tenure(t) - 0.01), t)
        b.heard(Claim("a", True, tenure_s=a.tenure(t) - 0.01), t)
        a.update(t), b.update(t)

    for t in (3.0, 3.5, 4.0, 4.5, 5.0):
        heartbeat(t)
        assert a.owner and b.owner  # contested since 3.0, not yet past the timeout
    heartbeat(5.5)
    assert a.owner and not b.owner


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_consoles_always_settle_on_one_owner_and_an_established_owner_is_never_displaced(data):
    """Generated start times, heartbeat phases, discovery delays (DDS can take longer than the
    listening time) and latencies: once every pair has discovered each other and a few timeouts
    passed, exactly one console is in control and all agree which; a console alone in control
    before another starts keeps control throughout."""
    heartbeat, n = 0.5, data.draw(st.integers(2, 4), label="consoles")
    timeout = 4 * heartbeat
    starts = sorted(data.draw(st.lists(st.floats(0.0, 8.0), min_size=n, max_size=n), label="starts"))
    ids = data.draw(st.permutations([f"c{i}" for i in range(n)]), label="ids")
    phases = data.draw(st.lists(st.floats(0.0, heartbeat), min_size=n, max_size=n), label="phases")
    discovery = {(i, j): data.draw(st.floats(0.0, 4.0), label=f"discovery {i}->{j}")
                 for i in range(n) for j in range(n) if i != j}
    latency = data.draw(st.floats(0.0, 0.02), label="latency")
    locks = [ConsoleLock(ids[i], starts[i], timeout) for i in range(n)]
    # Events: (time, order, kind, console, claim). A pair discovers each other `discovery` after
    # the later one starts; a claim published before that arrives then (the topic is latched).
    events = [(starts[i] + phases[i], k, "beat", i, None) for k, i in enumerate(range(n))]
    heapq.heapify(events)
    order, end = n, max(starts) + max(discovery.values()) + 4 * timeout
    established = None  # (console, since): alone in control before every other console started
    while events:
        now, _, kind, i, claim = heapq.heappop(events)
        if now > end:
            break
        if kind == "hear":
            locks[i].heard(claim, now)
            continue
        locks[i].update(now)
        owners = [k for k, lock in enumerate(locks) if lock.owner]
        if established is None and owners == [i] and all(now < s for k, s in enumerate(starts) if k != i):
            established = i
        if established is not None:
            assert locks[established].owner, f"{ids[established]} lost control at {now:.2f}"
        for j in range(n):
            if j != i:
                order += 1
                heapq.heappush(events, (max(now, max(starts[i], starts[j]) + discovery[i, j]) + latency, order, "hear", j,
                                        locks[i].claim(now)))
        order += 1
        heapq.heappush(events, (now + heartbeat, order, "beat", i, None))
    owners = [lock.console_id for lock in locks if lock.owner]
    assert len(owners) == 1, owners
    assert {lock.owner_id(end) for lock in locks} == set(owners)


def test_an_observer_never_takes_control_and_others_do_not_wait_for_it():
    observer, other = ConsoleLock("a", 0.0, TIMEOUT, observer=True), ConsoleLock("b", 0.0, TIMEOUT)
    for t in (1.0, 2.0, 3.0):
        exchange([observer, other], t)
    assert not observer.owner and other.owner


def test_claim_round_trip_and_bad_text():
    claim = Claim("host:12:ab", True, tenure_s=12.5)
    assert Claim.decode(claim.encode()) == claim
    with pytest.raises(ValueError, match="tenure_s must be a finite number >= 0"):
        Claim.decode('{"id": "a", "owner": true, "tenure_s": -1}')
    with pytest.raises(ValueError, match="not a console claim: 'hello'"):
        Claim.decode("hello")
    with pytest.raises(ValueError, match="not a console claim"):
        Claim.decode('{"owner": true}')


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout must be positive, got 0"):
        ConsoleLock("a", 0.0, 0.0)
