"""Leaving a graph session stops its nodes, whatever closing the episode driver raises."""
import pytest

from recap_bringup.graph_session import GraphSession


class Driver:
    def __init__(self, raises: BaseException | None) -> None:
        self.raises = raises

    def close(self) -> None:
        if self.raises is not None:
            raise self.raises


class Group:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("raises", [None, KeyboardInterrupt("signal SIGTERM"), RuntimeError("context not valid")],
                         ids=["clean", "signal-while-closing", "error-while-closing"])
def test_the_nodes_are_stopped_whatever_closing_the_driver_raises(tmp_path, raises):
    session = GraphSession([], tmp_path)
    session.driver, session.group = Driver(raises), Group()
    if raises is None:
        session.__exit__(None, None, None)
    else:
        with pytest.raises(type(raises)):
            session.__exit__(None, None, None)
    assert session.group.stopped
