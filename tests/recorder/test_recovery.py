"""recap-recover never deletes a partial bag it could not replace with a salvaged one."""

from pathlib import Path

import pytest

from recap_recorder.lifecycle import INCOMPLETE
from recap_recorder.recovery import NoMessagesError, main, recover_episode

MCAP_MAGIC = b"\x89MCAP0\r\n"


def partial_bag(directory: Path, payload: bytes) -> Path:
    directory.mkdir(parents=True)
    (directory / f"{directory.name}_0.mcap").write_bytes(payload)
    return directory


@pytest.mark.parametrize("payload", [b"", MCAP_MAGIC, MCAP_MAGIC + b"\x01\x00\x00"])
def test_a_partial_bag_without_a_complete_message_is_kept(tmp_path, payload):
    out = tmp_path / "out"
    partial = partial_bag(out / INCOMPLETE / "crashed", payload)
    with pytest.raises(NoMessagesError, match=f"crashed_0.mcap: no complete message to salvage.*{partial} is left"):
        recover_episode(partial, out)
    assert (partial / "crashed_0.mcap").read_bytes() == payload
    assert sorted(p.name for p in (out / INCOMPLETE).iterdir()) == ["crashed"]  # no staging left behind
    assert not (out / "crashed").exists()


def test_recap_recover_reports_it_and_keeps_both_kinds_of_partial_bag(tmp_path, capsys):
    out = tmp_path / "out"
    crashed = partial_bag(out / INCOMPLETE / "crashed", MCAP_MAGIC)
    unclosed = partial_bag(out / "unclosed", MCAP_MAGIC)  # a finished episode whose bag was never closed
    assert main([str(out)]) == 1
    err = capsys.readouterr().err
    assert "crashed: cannot salvage" in err and "unclosed: cannot salvage" in err
    assert (crashed / "crashed_0.mcap").read_bytes() == MCAP_MAGIC
    assert (unclosed / "unclosed_0.mcap").read_bytes() == MCAP_MAGIC
    assert sorted(p.name for p in (out / INCOMPLETE).iterdir()) == ["crashed"]
