"""The parts a model's training rows are split into, by the code stored for each row."""

from __future__ import annotations

TRAIN, EVAL, TEST = 0, 1, 2
