"""BigQuery ML's manual preprocessing functions in DuckDB SQL.

- Scalar ones (ML.BUCKETIZE, ML.FEATURE_CROSS, ML.HASH_BUCKETIZE, ML.POLYNOMIAL_EXPAND, ML.NGRAMS, ML.NORMALIZER,
  ML.DISTANCE, ML.LP_NORM) work
  in any query: `rewrite_scalar_preprocessing` replaces them by DuckDB expressions.
- Analytic ones (ML.QUANTILE_BUCKETIZE, ML.STANDARD_SCALER, ML.MIN_MAX_SCALER, ML.MAX_ABS_SCALER, ML.ROBUST_SCALER,
  ML.ONE_HOT_ENCODER, ML.LABEL_ENCODER, ML.IMPUTER, ML.MULTI_HOT_ENCODER, ML.BAG_OF_WORDS, ML.TF_IDF, each with an empty OVER ()) work only in TRANSFORM(…) of a
  CREATE MODEL: `fit_transform_sql` computes their statistics on the training rows and inlines them, so TRANSFORM
  becomes a projection that applies unchanged to evaluation, test and prediction rows.

Where BigQuery's documentation leaves a choice open, the rule is stated (and tested) in the module of the function
family: `buckets`, `scalers`, `encoders`, `crosses`, `text`, `vectors`; `stars` expands TRANSFORM(*).
"""

from toolkit.sql.preprocessing.rewrite import PreprocessingError, has_preprocessing, rewrite_scalar_preprocessing
from toolkit.sql.preprocessing.stars import expand_stars
from toolkit.sql.preprocessing.transform import fit_transform_sql, transform_inputs

__all__ = [
    "PreprocessingError",
    "expand_stars",
    "fit_transform_sql",
    "has_preprocessing",
    "rewrite_scalar_preprocessing",
    "transform_inputs",
]
