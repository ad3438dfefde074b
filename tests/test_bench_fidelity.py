"""scripts/bench_fidelity.py: the student-against-teacher scores it reports (the choice rule for students)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_fidelity.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_fidelity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fidelity_scores_the_student_against_the_teachers_labels_per_language():
    fid = load_script().fidelity
    teacher = ["society", "science", "sports", "society", "economy", "society"]
    langs = ["ru", "ru", "ru", "uk", "uk", "uk"]
    same = fid(teacher, list(teacher), langs)
    assert same["all"] == {"n": 6, "agreement": 1.0, "macro_f1": 1.0}
    assert same["uk"]["n"] == 3 and same["ru"]["n"] == 3
    # a student that says "society" to everything agrees on the majority label but loses macro-F1
    lazy = fid(teacher, ["society"] * 6, langs)
    assert lazy["all"]["agreement"] == 0.5
    assert lazy["uk"]["agreement"] == round(2 / 3, 4)
    assert lazy["all"]["macro_f1"] < 0.3 < lazy["uk"]["macro_f1"] < 1.0


def test_report_has_a_table_per_set_and_the_recipe_means():
    mod = load_script()
    f = mod.fidelity(["a", "b"], ["a", "a"], ["ru", "uk"])
    results = {"sets": {"validation rows": {"s-1": f}},
               "recipes": {"s-": {"students": 1, "validation rows": {g: v["macro_f1"] for g, v in f.items()}}}}
    md = mod.report(results, ["s-"])
    assert "### validation rows" in md and "| s-1 | 1 / 1 |" in md
    assert "| s- | 1 | 1.000 | 0.000 |" in md
