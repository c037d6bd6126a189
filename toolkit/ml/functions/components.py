"""ML.PRINCIPAL_COMPONENTS and ML.PRINCIPAL_COMPONENT_INFO (PCA models), without input rows.

- ML.PRINCIPAL_COMPONENTS: principal_component_id (from 1), feature, numerical_value (the component's loading on a
  numeric input), categorical_value (list<struct<category, value>>, its loadings on a categorical input's one-hot
  columns; empty for numeric inputs), in the standardized space the model was fitted in
  (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-principal-components).
- ML.PRINCIPAL_COMPONENT_INFO: principal_component_id, eigenvalue (the component's variance), explained_variance_ratio
  (over the total variance of the encoded training rows) and cumulative_explained_variance_ratio, by descending
  eigenvalue (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-principal-component-info).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from toolkit.ml.functions.support import struct_lists

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

_CATEGORY_VALUE = [("category", pa.string()), ("value", pa.float64())]


def pca_applies(trained: TrainedModel) -> str | None:
    if trained.options.model_type != "PCA":
        return "it applies to PCA models only"
    return None


def principal_components_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    components = np.asarray(trained.estimator.components_, dtype=np.float64)
    ids, names, numbers, categories = [], [], [], []
    for i, component in enumerate(components):
        offset = 0
        for feature in trained.preprocessor.features:
            ids.append(i + 1)
            names.append(feature.name)
            if feature.kind == "numeric":
                numbers.append(float(component[offset]))
                categories.append([])
            else:
                numbers.append(None)
                pairs = feature.output_columns()
                categories.append([(c, float(component[offset + j])) for j, (_, c) in enumerate(pairs)])
            offset += feature.width
    return pa.table({"principal_component_id": pa.array(ids, pa.int64()), "feature": pa.array(names, pa.string()),
                     "numerical_value": pa.array(numbers, pa.float64()),
                     "categorical_value": struct_lists(categories, _CATEGORY_VALUE)})


def principal_component_info_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    eigenvalues = np.asarray(trained.estimator.explained_variance_, dtype=np.float64)
    ratios = np.asarray(trained.estimator.explained_variance_ratio_, dtype=np.float64)
    order = np.argsort(-eigenvalues, kind="stable")  # scikit-learn's order already; BigQuery promises it
    return pa.table({"principal_component_id": pa.array(order + 1, pa.int64()),
                     "eigenvalue": pa.array(eigenvalues[order], pa.float64()),
                     "explained_variance_ratio": pa.array(ratios[order], pa.float64()),
                     "cumulative_explained_variance_ratio": pa.array(np.cumsum(ratios[order]), pa.float64())})
