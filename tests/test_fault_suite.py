"""scripts/fault_suite.py (issue #15): a quick variant in the default suite, the CI-short run marked slow."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _suite():
    spec = importlib.util.spec_from_file_location("fault_suite", REPO / "scripts" / "fault_suite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_suite"] = module
    spec.loader.exec_module(module)
    return module


def test_fuzzed_pages_never_crash_and_keep_every_sidebar_line():
    result = _suite().run_fuzz(1000, seed=3)
    assert result["pages"] == 1000 and result["with_surrogates"] > 500 and result["with_non_ascii_digits"] > 500
    assert result["crashes"] == 0 and result["invariant_violations"] == 0, result["examples"]


def test_the_fuzz_check_catches_a_broken_parser(monkeypatch):
    """The invariant check is not vacuous: a parser that drops the last headline is caught."""
    import mlnews.ingest.page as page

    suite = _suite()
    real = page.parse_page_text

    def lossy(text, source="<text>", config=None):
        art = real(text, source, config)
        art.headlines = art.headlines[:-1]
        return art

    monkeypatch.setattr(page, "parse_page_text", lossy)
    rng = random.Random(0)
    assert any(suite.check_page(suite.fuzz_page(rng)) for _ in range(50))


def test_kill_9_during_classify_then_rerun(tmp_path):
    suite = _suite()
    (case,) = suite.build_cases(tmp_path, ["classify"], classify_rows=3000)
    res = suite.run_kills(case, 2, random.Random(1), tmp_path)
    assert res.failures == [] and res.kills == 2 and res.reruns_ok == 2
    assert res.mismatches == 0 and res.stale_files == 0


@pytest.mark.slow
def test_ci_short_run_of_every_part(tmp_path):
    """The CI size of the whole suite: 2 kills per command, 1,000 pages, 200 requests."""
    assert _suite().main(["--short", "--no-report", "--json", str(tmp_path / "faults.json")]) == 0
