"""BigQuery ML's automatic preprocessing as a plain, JSON-serialisable description applied with numpy/pyarrow.

- numeric (integer, floating, decimal): NULL (and NaN) → the training mean; standardized with the training mean
  and sample standard deviation when the model standardizes (not trees; KMEANS/PCA per their options);
- BOOL, STRING, BYTES, DATE, TIME: categorical — one-hot (DUMMY_ENCODING drops the first category; trees:
  label encoding, an ordinal code); NULL is a category of its own; a category unseen in training encodes as
  all zeros (one-hot) or NaN (label encoding: the trees' missing-value branch);
- TIMESTAMP (DuckDB TIMESTAMP and TIMESTAMPTZ, read in UTC: DuckDB has no separate DATETIME): epoch seconds as a
  numeric, plus the categorical parts _TS_DOM_, _TS_DOW_, _TS_MOY_, _TS_HOD_, _TS_MOH_, _TS_WOY_, _TS_YEAR_;
- ARRAY<STRING>: multi-hot over the training vocabulary (NULL elements ignored);
- ARRAY<STRUCT<index INT, value numeric>> (a sparse vector, e.g. TRANSFORM's ML.ONE_HOT_ENCODER): one column per
  index seen in training, holding the entry's value (0 elsewhere; NULL values count as 0); indices unseen in
  training contribute nothing; never standardized, whatever the model's categorical encoding.
Categories are kept as canonical text (bool 'true'/'false', dates ISO, bytes hex), NULL first, then sorted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.errors import ModelError

NUMERIC, CATEGORICAL, MULTI_HOT, TIMESTAMP, SPARSE = "numeric", "categorical", "multi_hot", "timestamp", "sparse"
ONE_HOT, DUMMY, LABEL = "one_hot", "dummy", "label"
TS_PARTS = {"DOM": pc.day, "DOW": pc.day_of_week, "MOY": pc.month, "HOD": pc.hour, "MOH": pc.minute,
            "WOY": pc.iso_week, "YEAR": pc.year}
_UNIT_SECONDS = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}
_BLOCK_ROWS = 8192  # rows filled at a time: a block of the matrix stays in cache


def column_kind(arrow_type: pa.DataType) -> str | None:
    """How a column of this Arrow type is encoded, or None when no model can use it."""
    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return NUMERIC
    if pa.types.is_timestamp(t):
        return TIMESTAMP
    if (pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
            or pa.types.is_string_view(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
            or pa.types.is_binary_view(t) or pa.types.is_date(t) or pa.types.is_time(t)):
        return CATEGORICAL
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and column_kind(t.value_type) == CATEGORICAL \
            and not pa.types.is_boolean(t.value_type):
        return MULTI_HOT
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and _is_sparse_entry(t.value_type):
        return SPARSE
    return None


def _is_sparse_entry(t: pa.DataType) -> bool:
    """STRUCT<index INT, value numeric>: one entry of a sparse vector."""
    if not pa.types.is_struct(t) or t.num_fields != 2:
        return False
    fields = {t.field(i).name.lower(): t.field(i).type for i in range(2)}
    return (set(fields) == {"index", "value"} and pa.types.is_integer(fields["index"])
            and column_kind(fields["value"]) == NUMERIC)


@dataclass(frozen=True)
class Feature:
    """One encoded feature: a numeric column, a categorical column, or a part of a TIMESTAMP column."""

    name: str  # processed input name: the column, or _TS_<PART>_<column>
    column: str  # the input column it is computed from
    kind: str  # NUMERIC | CATEGORICAL | MULTI_HOT | SPARSE
    part: str | None = None  # None: the value itself; 'EPOCH' or a TS_PARTS key for TIMESTAMP columns
    mean: float | None = None  # numeric: fills NULLs
    center: float = 0.0  # numeric: subtracted (the mean when standardizing)
    scale: float = 1.0  # numeric: divides (the standard deviation when standardizing)
    categories: tuple[str | None, ...] = ()  # categorical vocabulary (None: the NULL category); sparse: indices
    encoding: str = ONE_HOT

    @property
    def width(self) -> int:
        if self.kind == NUMERIC or self.encoding == LABEL:
            return 1
        return len(self.categories) - (1 if self.encoding == DUMMY else 0)

    def output_columns(self) -> list[tuple[str, str | None]]:
        """(processed input, category) of each design-matrix column this feature fills."""
        if self.width == 1 and (self.kind == NUMERIC or self.encoding == LABEL):
            return [(self.name, None)]
        start = 1 if self.encoding == DUMMY else 0
        return [(self.name, c) for c in self.categories[start:]]


@dataclass(frozen=True)
class Preprocessor:
    """The fitted automatic preprocessing of one model: its features in design-matrix order."""

    features: tuple[Feature, ...]
    dtype: str = "float64"

    @property
    def width(self) -> int:
        return sum(f.width for f in self.features)

    @property
    def input_columns(self) -> list[str]:
        return list(dict.fromkeys(f.column for f in self.features))

    def output_columns(self) -> list[tuple[str, str | None]]:
        return [column for f in self.features for column in f.output_columns()]

    @classmethod
    def fit(cls, table: pa.Table, columns: Sequence[str], *, model: str, standardize: bool,
            encoding: str, dtype: str = "float64") -> Preprocessor:
        """Learn means, deviations and vocabularies of `columns` from the training rows in `table`."""
        features: list[Feature] = []
        for column in columns:
            values = _decoded(table.column(column))
            kind = column_kind(values.type)
            if values.null_count == len(values) or pa.types.is_null(values.type):
                raise ModelError(f"column '{column}' is NULL in every training row",
                                 hint=f"leave '{column}' out of the query, or fill it (COALESCE)", model=model)
            if kind in (NUMERIC, TIMESTAMP):
                part = "EPOCH" if kind == TIMESTAMP else None
                features.append(_fit_numeric(column, part, _numbers(values, part), standardize))
            if kind == TIMESTAMP:
                for part in TS_PARTS:
                    name = f"_TS_{part}_{column}"
                    features.append(_fit_categorical(name, column, part, _part(values, part), encoding))
            elif kind in (CATEGORICAL, MULTI_HOT, SPARSE):
                features.append(_fit_categorical(column, column, None, values, encoding, kind))
        return cls(tuple(features), dtype)

    def transform(self, table: pa.Table) -> np.ndarray:
        """The design matrix (rows × width, C order) of `table`, which must have every input column."""
        n = table.num_rows
        out = np.zeros((n, self.width), dtype=self.dtype)
        # Each feature becomes one vector (values or codes) first; the matrix is then filled in row blocks
        # that stay in cache, instead of one strided pass over the whole matrix per feature.
        vectors, offset = [], 0
        for feature in self.features:
            vectors.append((feature, offset, self._vector(feature, table)))
            offset += feature.width
        for start in range(0, n, _BLOCK_ROWS):
            block = out[start:start + _BLOCK_ROWS]
            flat = block.reshape(-1)
            row_starts = np.arange(len(block), dtype=np.int64) * self.width
            for feature, offset, vector in vectors:
                if feature.kind in (MULTI_HOT, SPARSE):
                    continue
                part = vector[start:start + len(block)]
                if feature.kind == NUMERIC or feature.encoding == LABEL:
                    block[:, offset] = part
                else:
                    hit = part >= 0
                    flat[row_starts[hit] + offset + part[hit]] = 1.0
        for feature, offset, (rows, codes) in ((f, o, v) for f, o, v in vectors if f.kind == MULTI_HOT):
            out[rows, offset + codes] = 1.0
        for feature, offset, (rows, codes, values) in ((f, o, v) for f, o, v in vectors if f.kind == SPARSE):
            out[rows, offset + codes] = values
        return out

    @staticmethod
    def _vector(feature: Feature, table: pa.Table) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Numeric: the scaled values; label encoding: codes with NaN for unseen; one-hot: the column index within
        the feature (-1: no column); multi-hot: (rows, codes); sparse: (rows, codes, values)."""
        values = _decoded(table.column(feature.column))
        if feature.kind == NUMERIC:
            x = _numbers(values, feature.part)
            x[np.isnan(x)] = feature.mean
            x -= feature.center
            x /= feature.scale
            return x
        if feature.kind == MULTI_HOT:
            return _multi_hot_codes(values, feature.categories)
        if feature.kind == SPARSE:
            return _sparse_entries(values, feature.categories)
        codes = _codes(_part(values, feature.part) if feature.part else values, feature.categories)
        if feature.encoding == LABEL:
            return np.where(codes >= 0, codes, np.nan)
        return codes - 1 if feature.encoding == DUMMY else codes  # DUMMY: the first category is the reference

    def to_dict(self) -> dict:
        return {"dtype": self.dtype, "features": [asdict(f) for f in self.features]}

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessor:
        features = tuple(Feature(**{**f, "categories": tuple(f["categories"])}) for f in data["features"])
        return cls(features, data["dtype"])


def check_finite(table: pa.Table, columns: Sequence[str], *, model: str) -> None:
    """Refuse +inf and -inf in numeric feature columns (and sparse vectors' values), in every row: no estimator
    learns from them, and NULL (imputed with the training mean) is what a missing number means here."""
    for column in columns:
        values = _decoded(table.column(column))
        if column_kind(values.type) == SPARSE:
            values = _entry_field(pc.list_flatten(values), "value")
        if not pa.types.is_floating(values.type):
            continue
        infinite = int(pc.sum(pc.is_inf(values)).as_py() or 0)
        if infinite:
            raise ModelError(f"column '{column}' has {infinite} infinite value(s) (+inf or -inf) in {table.num_rows} "
                             "rows", model=model,
                             hint=f"filter them out (WHERE isfinite({column})), or make them NULL, which the training "
                                  f"mean fills: TRY_CAST({column} AS DECIMAL(38, 9)) or CASE WHEN isinf({column}) "
                                  f"THEN NULL ELSE {column} END")


def _decoded(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return values.cast(values.type.value_type) if pa.types.is_dictionary(values.type) else values


def to_float64(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """float64 values of a numeric column, NULL as NaN. An INT64 beyond ±2^53 (FARM_FINGERPRINT, a hash) becomes its
    nearest float64, as BigQuery ML reads INT64 features as FLOAT64, instead of Arrow's "not in range" error."""
    return np.array(pc.cast(values, pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64)


def _numbers(values: pa.ChunkedArray, part: str | None) -> np.ndarray:
    """float64 values, NULL and NaN as NaN; TIMESTAMP as epoch seconds."""
    if part == "EPOCH":
        seconds = _UNIT_SECONDS[values.type.unit]
        return values.cast(pa.int64()).to_numpy().astype(np.float64) / seconds
    return to_float64(values)


def _fit_numeric(column: str, part: str | None, x: np.ndarray, standardize: bool) -> Feature:
    finite = x[~np.isnan(x)]
    mean = float(finite.mean())
    sd = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
    scale = sd if standardize and sd > 0 else 1.0
    return Feature(column, column, NUMERIC, part, mean, mean if standardize else 0.0, scale)


def _part(values: pa.ChunkedArray, part: str) -> pa.ChunkedArray:
    if values.type.tz is not None:
        values = values.cast(pa.timestamp(values.type.unit, "UTC"))
    return TS_PARTS[part](values)


def _text(uniques: pa.Array) -> list[str]:
    """Canonical text of non-null values: strings as they are, bool true/false, bytes hex, others as cast."""
    t = uniques.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return [v.hex() for v in uniques.to_pylist()]
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        uniques = uniques.cast(pa.string())
    return uniques.to_pylist()


def _vocabulary(values: pa.ChunkedArray | pa.Array) -> tuple[str | None, ...]:
    uniques = pc.unique(values)
    texts = sorted(set(_text(uniques.drop_null())))
    return ((None,) if uniques.null_count else ()) + tuple(texts)


def _fit_categorical(name: str, column: str, part: str | None, values: pa.ChunkedArray, encoding: str,
                     kind: str = CATEGORICAL) -> Feature:
    if kind == MULTI_HOT:
        vocabulary = tuple(v for v in _vocabulary(pc.list_flatten(values)) if v is not None)
    elif kind == SPARSE:
        indices = pc.unique(sparse_indices(values)).drop_null().to_pylist()
        vocabulary = tuple(str(i) for i in sorted(indices))
    else:
        vocabulary = _vocabulary(values)
    # Multi-hot and sparse columns keep one column per category whatever the model's categorical encoding.
    return Feature(name, column, kind, part, categories=vocabulary,
                   encoding=ONE_HOT if kind in (MULTI_HOT, SPARSE) else encoding)


def _codes(values: pa.ChunkedArray | pa.Array, categories: Sequence[str | None]) -> np.ndarray:
    """Vocabulary index of every row: NULL → the NULL category (or -1 if none), unseen → -1. One hashing pass:
    Arrow's dictionary encoding gives each row its distinct value's position, which a lookup of the distinct values
    turns into vocabulary indices (2-4x faster than finding the distinct values, then each row among them)."""
    index = {c: i for i, c in enumerate(categories)}
    encoded = (values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])).dictionary_encode()
    out = np.empty(len(values), np.int64)
    start, dictionary, lookup = 0, None, np.zeros(0, np.int64)
    for chunk in encoded.chunks:  # the chunks share one dictionary; a new one is looked up again
        if dictionary is None or not chunk.dictionary.equals(dictionary):
            dictionary = chunk.dictionary
            lookup = np.array([index.get(t, -1) for t in _text(dictionary)] + [index.get(None, -1)], dtype=np.int64)
        positions = pc.fill_null(chunk.indices, len(dictionary)).to_numpy()
        out[start:start + len(chunk)] = lookup[positions]
        start += len(chunk)
    return out


def _multi_hot_codes(values: pa.ChunkedArray, categories: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    rows, codes, start = [], [], 0
    for chunk in values.chunks:
        flat = pc.list_flatten(chunk)
        parents = pc.list_parent_indices(chunk).to_numpy() + start
        element_codes = _codes(flat, categories)  # NULL elements: -1, the vocabulary has no NULL category
        keep = element_codes >= 0
        rows.append(parents[keep])
        codes.append(element_codes[keep])
        start += len(chunk)
    return np.concatenate(rows or [np.zeros(0, np.int64)]), np.concatenate(codes or [np.zeros(0, np.int64)])


def _entry_field(entries: pa.Array | pa.ChunkedArray, name: str) -> pa.Array | pa.ChunkedArray:
    """A field of sparse entries by name, ignoring its case."""
    struct_type = entries.type
    for i in range(struct_type.num_fields):
        if struct_type.field(i).name.lower() == name:
            return entries.flatten()[i]  # a NULL entry's fields are NULL
    raise KeyError(name)


def sparse_indices(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Every entry's index, as int64, of a column of sparse vectors."""
    return _entry_field(pc.list_flatten(values), "index").cast(pa.int64())


def _sparse_entries(values: pa.ChunkedArray, categories: Sequence[str | None]) -> tuple[np.ndarray, ...]:
    """(rows, codes, values) of the entries whose index is in the training vocabulary."""
    rows, codes, numbers, start = [], [], [], 0
    for chunk in values.chunks:
        entries = pc.list_flatten(chunk)
        parents = pc.list_parent_indices(chunk).to_numpy() + start
        entry_codes = _codes(_entry_field(entries, "index").cast(pa.int64()), categories)
        x = np.asarray(_entry_field(entries, "value").cast(pa.float64()).fill_null(0.0).to_numpy(), np.float64)
        keep = entry_codes >= 0
        rows.append(parents[keep])
        codes.append(entry_codes[keep])
        numbers.append(x[keep])
        start += len(chunk)
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
    return (np.concatenate(rows or [empty_i]), np.concatenate(codes or [empty_i]),
            np.concatenate(numbers or [empty_f]))
