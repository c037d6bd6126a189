"""Predicting with a fitted model in Python: task objects, design matrices, trees, batches."""
