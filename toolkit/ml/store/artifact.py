"""The fitted estimator as bytes that can be loaded without running arbitrary code.

skops' format stores objects as a tree of declared types; loading refuses any type that is not trusted. Beyond
skops' own audited defaults (builtins, numpy, scikit-learn estimators), the toolkit trusts exactly the types its
estimators are made of (TRUSTED_TYPES). Every artifact is stored with its sha256 and the library versions that
wrote it; a changed artifact, a foreign type, incompatible versions, or an estimator that is not the fitted one its
model type builds are refused with a clear message.

The bytes are deterministic: skops names archive members after Python object ids (`__id__` in schema.json, and
`<id>.npy` for arrays) and zip entries carry the time of writing, so `dump` rewrites the archive with ids and member
names numbered in order of first appearance in schema.json, a fixed date and fixed compression. Identical models
give identical bytes, hence identical checksums."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Any

import skops.io as sio
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from toolkit.errors import ModelError
from toolkit.ml.model import ARTIFACT_FORMAT, library_versions
from toolkit.ml.types.registry import MODEL_TYPES

FORMAT = "skops"
TRUSTED_TYPES = frozenset({
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
})


_SCHEMA = "schema.json"
_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
_COMPRESS_LEVEL = 6


def dump(estimator: Any) -> tuple[bytes, str]:
    """The estimator's bytes, the same for identical estimators, and their sha256; no estimator (TRANSFORM_ONLY) is
    stored as no bytes."""
    data = b"" if estimator is None else canonical(sio.dumps(estimator))
    return data, hashlib.sha256(data).hexdigest()


def canonical(data: bytes) -> bytes:
    """A skops archive rewritten without what differs between two dumps of equal objects: object ids renumbered
    from 1 (skops memoizes only truthy ids) and member names numbered, both in order of first appearance in
    schema.json; entries in that order, schema.json last, with a fixed date, permissions and compression."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read(_SCHEMA))
        members = {name: archive.read(name) for name in archive.namelist() if name != _SCHEMA}
    ids: dict[Any, int] = {}
    names: dict[str, str] = {}

    def renumber(node: Any) -> None:  # depth first, in document order
        if isinstance(node, list):
            for item in node:
                renumber(item)
        elif isinstance(node, dict):
            if "__loader__" in node:  # a node's state: its id, and the member holding its data
                if "__id__" in node:
                    node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
                if isinstance(node.get("file"), str) and node["file"] in members:
                    old = node["file"]
                    node["file"] = names.setdefault(old, f"{len(names) + 1}{PurePosixPath(old).suffix}")
            for value in node.values():
                renumber(value)

    renumber(schema)
    # A member schema.json does not name is never read; any such keeps its name (none in skops 0.16).
    order = [(new, members[old]) for old, new in names.items()]
    order += sorted((name, content) for name, content in members.items() if name not in names)
    order.append((_SCHEMA, json.dumps(schema, indent=2).encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in order:
            entry = zipfile.ZipInfo(name, date_time=_DATE)
            entry.create_system = 3  # Unix, wherever it is written
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL)
    return buffer.getvalue()


def check_versions(model: str, version: int, stored: dict[str, str]) -> None:
    """Refuse a model written by library versions whose artifacts this environment cannot read faithfully."""
    current = library_versions()
    where = f"model {model} version {version}"
    if stored.get("artifact_format") != current["artifact_format"]:
        raise ModelError(f"{where} is stored in artifact format {stored.get('artifact_format')}; this toolkit reads "
                         f"format {ARTIFACT_FORMAT}", hint=f"retrain it: toolkit build --select {model}")
    for library, parts in (("scikit-learn", 2), ("numpy", 1)):
        was, now = stored.get(library, "?"), current[library]
        if was.split(".")[:parts] != now.split(".")[:parts]:
            raise ModelError(
                f"{where} was trained with {library} {was}; this environment has {library} {now}, whose fitted "
                "models are not compatible with it",
                hint=f"retrain it (toolkit build --select {model}), or install {library}=={was}")


def load(model: str, version: int, data: bytes, sha256: str, model_type: str,
         recorded_class: str | None = None) -> Any:
    """The estimator of a stored artifact, after checking its digest, its types, and that it is a fitted estimator
    of the class(es) `model_type` builds (and of `recorded_class`, the class name recorded at training, if any)."""
    estimator = _read(model, version, data, sha256)
    check_estimator(model, version, model_type, estimator, recorded_class)
    return estimator


def _read(model: str, version: int, data: bytes, sha256: str) -> Any:
    where = f"model {model} version {version}"
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ModelError(f"{where}: the stored artifact does not match its checksum; it was changed after training",
                         hint=f"retrain it: toolkit build --select {model}")
    if not data:  # a model without an estimator (TRANSFORM_ONLY)
        return None
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as error:  # a corrupt archive: skops raises zipfile/json/key errors
        raise ModelError(f"{where}: the stored artifact cannot be read ({type(error).__name__}: {error})",
                         hint=f"retrain it: toolkit build --select {model}") from None
    foreign = sorted(untrusted - TRUSTED_TYPES)
    if foreign:
        raise ModelError(f"{where}: the stored artifact contains types the toolkit does not trust: "
                         f"{', '.join(foreign)}; it was not written by the toolkit, or was tampered with",
                         hint=f"do not load it; retrain the model: toolkit build --select {model}")
    return sio.loads(data, trusted=sorted(untrusted))


def check_estimator(model: str, version: int, model_type: str, estimator: Any, recorded_class: str | None) -> None:
    """Refuse an estimator that is not what a `model_type` model predicts with: another class (the artifact of
    another model type), one not fitted, or one where none belongs (TRANSFORM_ONLY) or missing where one does."""
    where = f"model {model} version {version}"
    hint = f"retrain it: toolkit build --select {model}"
    spec = MODEL_TYPES.get(model_type)
    if spec is None:
        raise ModelError(f"{where} has model type '{model_type}', which this toolkit does not know", hint=hint)
    expected = spec.estimator_classes
    names = " or ".join(cls.__name__ for cls in expected)
    if estimator is None:
        if expected:
            raise ModelError(f"{where}: the stored artifact is empty, but a {model_type} model needs its fitted "
                             f"{names}; it was changed after training", hint=hint)
        return
    found = type(estimator).__name__
    if not expected:
        raise ModelError(f"{where}: a {model_type} model has no estimator, but its stored artifact holds a {found}; "
                         "it was changed after training", hint=hint)
    if type(estimator) not in expected:  # exactly the classes, as skops builds them
        raise ModelError(f"{where}: the stored artifact holds a {found}, not the {names} of a {model_type} model; "
                         "it is another model's artifact, or was changed after training", hint=hint)
    if recorded_class is not None and recorded_class != found:
        raise ModelError(f"{where}: the stored artifact holds a {found}, but the version was trained as a "
                         f"{recorded_class}; it was changed after training", hint=hint)
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise ModelError(f"{where}: the stored artifact holds a {found} that was never fitted; it was changed "
                         "after training", hint=hint) from None
