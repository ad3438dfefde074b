"""Weak labellers: lemma keyword rules (ru + uk) and the TF-IDF pipeline."""

from __future__ import annotations

import pytest

from mlnews.data.tfidf import make_tfidf_pipeline
from mlnews.data.weak import KeywordLabeller, TfidfLabeller
from mlnews.errors import ConfigError

LABELS = ["society", "economy", "technology", "sports", "entertainment", "science", "other"]


@pytest.fixture(scope="module")
def rules():
    kw = {
        "sports": {"ru": ["футболист", "матч"], "uk": ["футболіст", "матч"]},
        "economy": {"ru": ["рубль"], "uk": ["гривня"]},
    }
    return KeywordLabeller(kw, prior=0.5)


def test_rules_match_inflected_forms_ru_and_uk(rules):
    # keyword lemmas match other word forms through pymorphy3
    assert rules.label("Футболистов сборной вызвали на матчи", "ru") == ("sports", pytest.approx(2 / 2.5))
    assert rules.label("Футболісти збірної зіграють матчі", "uk") == ("sports", pytest.approx(2 / 2.5))
    assert rules.label("Курс гривні впав", "uk") == ("economy", pytest.approx(1 / 1.5))
    # the Ukrainian list is not used for Russian text and vice versa
    assert rules.label("Курс гривні впав", "ru")[0] is None
    assert rules.label("Погода на выходные", "ru") == (None, 0.0)


def test_conflicting_rules_give_low_confidence(rules):
    label, conf = rules.label("Футболист заработал миллион рублей", "ru")
    assert conf == pytest.approx(1 / 2.5) and conf < 0.6  # one hit each: below the default threshold
    assert label == "sports"  # ties go to the first label of the keyword file


def test_shipped_keywords_file(repo):
    kl = KeywordLabeller.from_file(repo / "configs/data/keywords.yaml", LABELS)
    cases = [("Футболисты сборной выиграли матч чемпионата", "ru", "sports"),
             ("Нацбанк підвищив облікову ставку, гривня подешевшала", "uk", "economy"),
             ("Учёные обнаружили новую планету с помощью телескопа", "ru", "science"),
             ("Співачка представила новий альбом і кліп", "uk", "entertainment")]
    for text, lang, want in cases:
        label, conf = kl.label(text, lang)
        assert label == want and conf >= 0.6, (text, label, conf)


def test_keywords_file_label_outside_taxonomy(tmp_path):
    f = tmp_path / "kw.yaml"
    f.write_text("sport:\n  ru: [матч]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sport: not a label of the taxonomy; expected one of: society"):
        KeywordLabeller.from_file(f, LABELS)


def test_tfidf_pipeline_and_labeller():
    texts = ["Сборная выиграла матч", "Клуб проиграл матч", "Футболист забил гол", "Хоккеисты выиграли турнир",
             "Курс рубля упал", "Биржа выросла", "Банк повысил ставку", "Инфляция ускорилась"]
    labels = ["sports"] * 4 + ["economy"] * 4
    pipe = make_tfidf_pipeline(max_features=1000, C=10.0)
    assert [name for name, _ in pipe.named_steps["features"].transformer_list] == ["word", "char"]
    pipe.fit(texts, labels)
    assert list(pipe.classes_) == ["economy", "sports"]
    model = TfidfLabeller(C=10.0, max_features=1000).fit(texts, labels)
    (l1, p1), (l2, p2) = model.label_batch(["Сборная выиграла турнир", "Банк и биржа"])
    assert (l1, l2) == ("sports", "economy") and p1 > 0.5 and p2 > 0.5
    with pytest.raises(ValueError, match="at least two labels"):
        TfidfLabeller().fit(["a", "b"], ["sports", "sports"])
