"""The TF-IDF + logistic regression pipeline shared by the weak labeller and the classifier trainer."""

from __future__ import annotations

from typing import Literal, Optional, Union

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline


def make_tfidf_pipeline(
    word_ngram_range: tuple[int, int] = (1, 2),
    char_ngram_range: tuple[int, int] = (2, 5),
    max_features: Optional[int] = 200_000,
    C: float = 4.0,
    class_weight: Union[Literal["balanced"], dict[str, float], None] = "balanced",
    min_df: int = 1,
    sublinear_tf: bool = True,
    max_iter: int = 2000,
    random_state: int = 0,
) -> Pipeline:
    """Word n-gram + character n-gram (``char_wb``) TF-IDF features -> logistic regression.

    ``max_features`` caps each vocabulary (None: unlimited); ``class_weight`` is ``"balanced"``,
    a ``{label: weight}`` mapping or None. Only scikit-learn types are used, so
    the fitted pipeline saves and loads with skops without trusting custom code. Input texts are
    lowercased by the vectorisers; ``clf.classes_`` are the label names the pipeline was fitted on.

    Example::

        pipe = make_tfidf_pipeline(C=2.0)
        pipe.fit(["Сборная выиграла матч", "Курс рубля упал"], ["sports", "economy"])
        pipe.predict_proba(["Матч сборной"])
    """
    word = TfidfVectorizer(
        analyzer="word",
        ngram_range=tuple(word_ngram_range),
        token_pattern=r"(?u)\b\w+\b",
        max_features=max_features,
        min_df=min_df,
        sublinear_tf=sublinear_tf,
        lowercase=True,
    )
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=tuple(char_ngram_range),
        max_features=max_features,
        min_df=min_df,
        sublinear_tf=sublinear_tf,
        lowercase=True,
    )
    features = FeatureUnion([("word", word), ("char", char)])
    clf = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, random_state=random_state)
    return Pipeline([("features", features), ("clf", clf)])
