"""Two (or more) consoles: which one is in control (ROS-free)."""
from __future__ import annotations

import pytest

from recap_teleop.console_lock import Claim, ConsoleLock

TIMEOUT = 2.0


def exchange(locks: list[ConsoleLock], now: float) -> None:
    """One heartbeat: every console hears every claim, then decides."""
    claims = [lock.claim() for lock in locks]
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


def test_an_observer_never_takes_control_and_others_do_not_wait_for_it():
    observer, other = ConsoleLock("a", 0.0, TIMEOUT, observer=True), ConsoleLock("b", 0.0, TIMEOUT)
    for t in (1.0, 2.0, 3.0):
        exchange([observer, other], t)
    assert not observer.owner and other.owner


def test_claim_round_trip_and_bad_text():
    claim = Claim("host:12:ab", True)
    assert Claim.decode(claim.encode()) == claim
    with pytest.raises(ValueError, match="not a console claim: 'hello'"):
        Claim.decode("hello")
    with pytest.raises(ValueError, match="not a console claim"):
        Claim.decode('{"owner": true}')


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout must be positive, got 0"):
        ConsoleLock("a", 0.0, 0.0)
