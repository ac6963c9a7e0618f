"""Names for the regions of the map: the most distinctive words of each.

The map is split into regions by k-means on its 2-D coordinates (what the
eye sees as a region is what gets a name); each region's sentences are
pooled into one document and its words weighted by class-based TF-IDF
(a word's frequency in the region against how many regions use it, as in
BERTopic's c-TF-IDF, Grootendorst 2022) with scikit-learn. No LLM, nothing
downloaded: a cloud reads as "perovskite · films · solar" at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Words: letters first, then letters, digits or chemistry's - and / (TiO2, Li-ion, Si/Al).
TOKEN_PATTERN = r"(?u)\b[^\W\d_][\w\-/]*[\w]\b"


@dataclass(frozen=True)
class RegionLabel:
    """One region: its centre on the map, its most distinctive words, its size."""

    x: float
    y: float
    words: tuple[str, ...]
    size: int

    @property
    def text(self) -> str:
        return " · ".join(self.words)


def default_regions(n: int) -> int:
    """About one region per 60 sentences, between 2 and 12."""
    return int(min(12, max(2, round(math.sqrt(n / 8)))))


def region_labels(
    xy: np.ndarray,
    texts: Sequence[str],
    *,
    n_regions: int | None = None,
    words: int = 3,
    seed: int = 0,
    min_size: int = 5,
) -> list[RegionLabel]:
    """Region names for a map.

    Args:
        xy: ``(n, 2)`` map coordinates; texts: the ``n`` sentences.
        n_regions: how many regions (default :func:`default_regions`).
        words: words per name.
        seed: k-means' ``random_state``.
        min_size: regions with fewer sentences get no name.

    Returns labels sorted by size, largest first; fewer than two sentences,
    or no usable word, gives none.
    """
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(texts) != len(xy):
        raise ValueError(f"{len(xy)} points but {len(texts)} texts")
    n = len(xy)
    if n < 2:
        return []
    k = min(n_regions or default_regions(n), n)
    assign = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(xy)
    try:
        vec = CountVectorizer(stop_words="english", token_pattern=TOKEN_PATTERN, lowercase=True, min_df=2)
        counts = vec.fit_transform(texts)
    except ValueError:  # no word occurs twice
        return []
    vocab = np.asarray(vec.get_feature_names_out())
    # One document per region: summed word counts, then TF-IDF across regions.
    member = np.zeros((k, n))
    member[assign, np.arange(n)] = 1.0
    per_region = member @ counts
    weights = TfidfTransformer(sublinear_tf=True).fit_transform(per_region).toarray()
    out = []
    for c in range(k):
        size = int((assign == c).sum())
        if size < min_size:
            continue
        row = weights[c]
        top = [vocab[j] for j in np.argsort(-row, kind="stable")[:words] if row[j] > 0]
        if top:
            centre = np.median(xy[assign == c], axis=0)
            out.append(RegionLabel(float(centre[0]), float(centre[1]), tuple(top), size))
    return sorted(out, key=lambda r: -r.size)
