"""``mlnews review``: a page to see what the model got wrong, correct it, and retrain with the corrections.

Layer: like ``serve`` (it reads datasets through :mod:`mlnews.data`, scores with :mod:`mlnews.infer`).
:mod:`mlnews.review.rows` loads and scores the rows, :mod:`mlnews.review.app` serves the page and
its API; the review file format is :mod:`mlnews.data.reviews` (``mlnews data build`` reads it).
"""

from mlnews.review.app import ReviewSession, create_review_app

__all__ = ["ReviewSession", "create_review_app"]
