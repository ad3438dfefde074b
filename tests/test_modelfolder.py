"""mlnews.modelfolder: the out-dir guard after a run was killed (issue #15)."""

from __future__ import annotations

import pytest

from mlnews.errors import InputError
from mlnews.modelfolder import CHECKPOINTS, CONFIG, ModelFolder


def test_run_killed_before_its_first_checkpoint_restarts_without_resume(tmp_path, capsys):
    """Only labels.json in checkpoints/: --resume has nothing to continue, so a plain run must be allowed."""
    out = tmp_path / "m"
    (out / CHECKPOINTS).mkdir(parents=True)
    (out / CHECKPOINTS / "labels.json").write_text('["economy", "sports"]', encoding="utf-8")
    (out / CONFIG).write_text("task: classification\n", encoding="utf-8")
    ModelFolder.prepare(out, resume=False, checkpoints=True)
    assert list(out.iterdir()) == [] and "overwriting it" in capsys.readouterr().err


def test_run_with_a_checkpoint_still_needs_resume(tmp_path):
    out = tmp_path / "m"
    (out / CHECKPOINTS / "checkpoint-6").mkdir(parents=True)
    with pytest.raises(InputError, match="holds checkpoints of an unfinished run; pass --resume"):
        ModelFolder.prepare(out, resume=False, checkpoints=True)
    assert ModelFolder.prepare(out, resume=True, checkpoints=True).path == out


def test_tfidf_run_killed_after_its_weights_is_overwritten_with_a_message(tmp_path, capsys):
    """Issue #15 case 5: model.skops written, no manifest (it comes last): a rerun (or --resume) overwrites it."""
    from mlnews.modelfolder import SKOPS

    out = tmp_path / "tfidf"
    out.mkdir()
    (out / SKOPS).write_bytes(b"partial")
    (out / ".model.skops.p1h0000.x.tmp").write_bytes(b"")
    for resume in (False, True):
        (out / SKOPS).write_bytes(b"partial")
        ModelFolder.prepare(out, resume=resume, checkpoints=False)
        assert not (out / SKOPS).exists()
        assert "an unfinished run (no mlnews.json) is left there; overwriting it" in capsys.readouterr().err


def test_a_finished_model_and_foreign_files_are_never_overwritten(tmp_path):
    from mlnews.modelfolder import MANIFEST

    done = tmp_path / "done"
    done.mkdir()
    (done / MANIFEST).write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="folder is not empty: it holds a finished model"):
        ModelFolder.prepare(done, checkpoints=False)
    mine = tmp_path / "home"
    mine.mkdir()
    (mine / "thesis.docx").write_text("x")
    with pytest.raises(InputError, match=r"folder is not empty \(thesis\.docx"):
        ModelFolder.prepare(mine, checkpoints=False)
    assert (mine / "thesis.docx").exists()


def test_pickled_weights_are_refused_never_unpickled(tmp_path):
    """Issue #15 case 6: a seq2seq folder with only pytorch_model.bin is a one-line error, not torch.load."""
    import json

    from mlnews.infer.summariser import Summariser

    folder = tmp_path / "s2s"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not-loaded")  # a pickle header: must never be read
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "mlnews.json").write_text(json.dumps({"format": 1, "task": "summarisation", "kind": "seq2seq",
                                                    "input": {}, "target": "title"}), encoding="utf-8")
    with pytest.raises(InputError, match=r"has only pytorch_model\.bin \(a pickle\); mlnews never unpickles") as exc:
        Summariser.load(str(folder))
    assert "\n" not in str(exc.value)
