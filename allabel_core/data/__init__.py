"""The data model: sentences and their spans, tokens, corpora, and the entity-type schema."""
