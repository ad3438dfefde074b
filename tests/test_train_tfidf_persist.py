"""TF-IDF persistence: skops files stay small and fast to write, predictions survive the round trip."""

from __future__ import annotations

import numpy as np
import skops.io as sio

from mlnews.data.tfidf import make_tfidf_pipeline
from mlnews.train.tfidf import save_pipeline

TEXTS = [
    "Курс рубля упал на бирже", "Нефть подорожала после решения ОПЕК", "Гривня зміцнилася на міжбанку",
    "Спартак обыграл Зенит", "Динамо Київ перемогло Шахтар", "Хоккеисты вышли в полуфинал",
    "Президент подписал указ", "Верховна Рада ухвалила закон", "Госдума приняла закон",
] * 3
LABELS = (["economy"] * 3 + ["sports"] * 3 + ["society"] * 3) * 3


def test_saved_pipeline_has_no_stop_words_and_plain_int_vocabulary(tmp_path):
    pipe = make_tfidf_pipeline(max_features=50)  # small cap: many n-grams end up in stop_words_
    pipe.fit(TEXTS, LABELS)
    before = pipe.predict_proba(TEXTS)
    path = tmp_path / "model.skops"
    save_pipeline(pipe, path)
    assert sio.get_untrusted_types(file=path) == []  # only scikit-learn/numpy types inside
    loaded = sio.load(path, trusted=[])
    for _, vec in loaded.named_steps["features"].transformer_list:
        assert getattr(vec, "stop_words_", None) is None  # (removed altogether in newer scikit-learn)
        assert all(type(i) is int for i in vec.vocabulary_.values())
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), before)
    assert list(loaded.classes_) == sorted(set(LABELS))
