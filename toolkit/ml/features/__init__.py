"""From rows to a design matrix: automatic preprocessing, TRANSFORM(…), feature statistics."""
