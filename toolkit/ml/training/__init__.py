"""CREATE MODEL: split, fit and evaluate a model on the rows of its query."""
