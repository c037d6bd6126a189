from __future__ import annotations

import math

from toolkit.ml.model import jsonable_params


class _Estimator:
    def __init__(self, **params):
        self.params = params

    def get_params(self, deep: bool = False) -> dict:
        return dict(self.params)


def test_infinite_parameters_keep_their_sign():
    params = jsonable_params(_Estimator(low=-math.inf, high=math.inf, missing=math.nan, alpha=0.5))
    assert params == {"estimator": "_Estimator", "low": "-inf", "high": "inf", "missing": None, "alpha": 0.5}
