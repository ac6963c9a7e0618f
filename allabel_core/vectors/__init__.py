"""Sentence vectors: the embedder, the vector index, and the 2-D map layout."""
