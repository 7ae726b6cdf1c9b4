"""await_answer: a lifecycle request whose answer DDS lost is asked again, or settled another way,
within the driver's deadline. ROS-free: the futures are fakes."""
import time

import pytest

from recap_lifecycle import transitions
from recap_lifecycle.transitions import TransitionError, await_answer


class Future:
    def __init__(self, answered_after: int | None, result="answer"):
        self.polls, self.answered_after, self._result = 0, answered_after, result

    def done(self) -> bool:
        self.polls += 1
        return self.answered_after is not None and self.polls > self.answered_after

    def result(self):
        return self._result


@pytest.fixture(autouse=True)
def quick_asking(monkeypatch):
    monkeypatch.setattr(transitions, "ASK_AGAIN_S", 0.0)  # every unanswered poll is overdue


def sender(*futures):
    sent = []

    def send():
        sent.append(futures[len(sent)])
        return sent[-1]
    return send, sent


def test_a_lost_answer_is_asked_for_again_and_the_new_answer_returned():
    send, sent = sender(Future(None), Future(None), Future(0, "second ask"))
    assert await_answer(send, lambda: None, time.monotonic() + 60, late=lambda: "late") == "second ask"
    assert len(sent) == 3


def test_a_request_that_must_not_be_repeated_is_sent_once_and_settled_by_what_overdue_knows():
    send, sent = sender(Future(None), Future(0))
    checks = iter([None, None, "reached"])  # the node's state: not yet, not yet, the target
    assert await_answer(send, lambda: None, time.monotonic() + 60, late=lambda: "late",
                        overdue=lambda: next(checks)) == "reached"
    assert len(sent) == 1


def test_while_overdue_knows_nothing_the_first_answer_is_still_awaited():
    send, sent = sender(Future(3, "late answer"))
    assert await_answer(send, lambda: None, time.monotonic() + 60, late=lambda: "late",
                        overdue=lambda: None) == "late answer"
    assert len(sent) == 1


def test_the_deadline_and_giving_up_end_the_wait_with_their_message():
    never = [Future(None) for _ in range(1000)]
    send, _ = sender(*never)
    with pytest.raises(TransitionError, match="no answer from /x/get_state"):
        await_answer(send, lambda: None, time.monotonic() - 1, late=lambda: "no answer from /x/get_state")
    send, _ = sender(*never)
    with pytest.raises(TransitionError, match="gave up"):
        await_answer(send, lambda: None, time.monotonic() + 60, late=lambda: "late", give_up=lambda: "gave up")


def test_an_answer_that_comes_in_time_is_asked_for_once(monkeypatch):
    monkeypatch.setattr(transitions, "ASK_AGAIN_S", 60.0)
    send, sent = sender(Future(5, "first"))
    assert await_answer(send, lambda: None, time.monotonic() + 60, late=lambda: "late") == "first"
    assert len(sent) == 1
