"""The fitted estimator as bytes that can be loaded without running arbitrary code.

skops' format stores objects as a tree of declared types; loading refuses any type that is not trusted. Beyond
skops' own audited defaults (builtins, numpy, scikit-learn estimators), the toolkit trusts exactly the types its
estimators are made of (TRUSTED_TYPES). Every artifact is stored with its sha256 and the library versions that
wrote it; a changed artifact, a foreign type or incompatible versions are refused with a clear message."""

from __future__ import annotations

import hashlib
import zipfile
from typing import Any

import skops.io as sio

from toolkit.errors import ModelError
from toolkit.ml.model import ARTIFACT_FORMAT, library_versions

FORMAT = "skops"
TRUSTED_TYPES = frozenset({
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
})


def dump(estimator: Any) -> tuple[bytes, str]:
    """The estimator's bytes and their sha256; no estimator (TRANSFORM_ONLY) is stored as no bytes."""
    data = b"" if estimator is None else sio.dumps(estimator, compression=zipfile.ZIP_DEFLATED)
    return data, hashlib.sha256(data).hexdigest()


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


def load(model: str, version: int, data: bytes, sha256: str) -> Any:
    """The estimator of a stored artifact, after checking its digest and its types."""
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
