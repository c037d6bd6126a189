"""ML.DETECT_ANOMALIES (KMEANS, PCA), ML.PRINCIPAL_COMPONENTS and ML.PRINCIPAL_COMPONENT_INFO, against numpy and
scikit-learn row by row."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sqlglot
from ml_data import connect
from sklearn.decomposition import PCA

from toolkit.errors import ToolkitError
from toolkit.ml import load_model, save_model, train_model
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.inference.predict import design_matrix
from toolkit.sql.dialect import DIALECT

IRIS = "SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM iris"
NUMBERS = "SELECT sepal_length, sepal_width, petal_length, petal_width FROM iris"


@pytest.fixture(scope="module")
def con():
    con = connect()
    for name, model_type, extra in (("iris_km", "KMEANS", {"num_clusters": 3}),
                                    ("iris_pca", "PCA", {"num_principal_components": 3}),
                                    ("iris_pca_numbers", "PCA", {"num_principal_components": 2})):
        query = NUMBERS if name == "iris_pca_numbers" else IRIS
        save_model(con, train_model(con, name=name, options={"model_type": model_type, **extra}, query=query))
    return con


def sql(con, text: str):
    with applied_ml_calls(con, sqlglot.parse_one(text, dialect=DIALECT)) as applied:
        return con.sql(applied.sql).to_arrow_table()


def training_matrix(con, model: str) -> np.ndarray:
    trained = load_model(con, model)
    return design_matrix(trained, con.sql(IRIS).to_arrow_table())


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-detect-anomalies: KMEANS gives
# is_anomaly, normalized_distance, centroid_id; PCA is_anomaly, mean_squared_error; then the input columns;
# contamination is the share of training rows taken as anomalies.
@pytest.mark.parametrize("contamination", [0.0, 0.05, 0.1, 0.5])
def test_kmeans_anomalies_match_numpy(con, contamination):
    out = sql(con, f"SELECT * FROM ML.DETECT_ANOMALIES(MODEL iris_km, STRUCT({contamination} AS contamination), "
                   f"({IRIS}))")
    assert out.column_names[:3] == ["is_anomaly", "normalized_distance", "centroid_id"]
    assert out.column_names[3:] == con.sql(IRIS).columns
    trained = load_model(con, "iris_km")
    X = training_matrix(con, "iris_km")
    centers = trained.estimator.cluster_centers_
    distances = np.linalg.norm(X[:, None, :] - centers[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    own = distances[np.arange(len(X)), nearest]
    # cluster_radius: "the average distance from centroid to each point assigned to the cluster" (ClusterInfo,
    # https://cloud.google.com/bigquery/docs/reference/rest/v2/models)
    radii = np.array([np.mean(own[nearest == k]) for k in range(len(centers))])
    expected = own / radii[nearest]
    threshold = np.quantile(expected, 1 - contamination)
    got = np.asarray(out.column("normalized_distance").to_numpy())
    assert np.allclose(got, expected, rtol=1e-12)
    assert out.column("centroid_id").to_pylist() == list(nearest + 1)
    assert out.column("is_anomaly").to_pylist() == list(expected > threshold)
    assert abs(np.mean(expected > threshold) - contamination) <= 1 / len(X) + 1e-12
    info = sql(con, "SELECT * FROM ML.TRAINING_INFO(MODEL iris_km)").to_pylist()[-1]["cluster_info"]
    assert [c["cluster_radius"] for c in info] == pytest.approx(list(radii), rel=1e-12)
    assert [c["cluster_size"] for c in info] == list(np.bincount(nearest, minlength=len(centers)))


def test_pca_anomalies_match_sklearn(con):
    out = sql(con, f"SELECT * FROM ML.DETECT_ANOMALIES(MODEL iris_pca, STRUCT(0.1 AS contamination), ({IRIS}))")
    assert out.column_names[:2] == ["is_anomaly", "mean_squared_error"]
    X = training_matrix(con, "iris_pca")
    oracle = PCA(n_components=3, svd_solver="full").fit(X)
    expected = np.mean((X - oracle.inverse_transform(oracle.transform(X))) ** 2, axis=1)
    assert np.allclose(np.asarray(out.column("mean_squared_error").to_numpy()), expected, rtol=1e-8, atol=1e-14)
    assert out.column("is_anomaly").to_pylist() == list(expected > np.quantile(expected, 0.9))


def test_detect_anomalies_refuses_other_models_and_a_missing_contamination(con):
    with pytest.raises(ToolkitError, match="contamination"):
        sql(con, f"SELECT * FROM ML.DETECT_ANOMALIES(MODEL iris_km, ({IRIS}))")
    with pytest.raises(ToolkitError, match=r"contamination = 0.7 is outside \[0.0, 0.5\]"):
        sql(con, f"SELECT * FROM ML.DETECT_ANOMALIES(MODEL iris_km, STRUCT(0.7 AS contamination), ({IRIS}))")


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-principal-components and
# …-principal-component-info: loadings per feature (categorical_value per category), eigenvalues by descending size.
def test_principal_components_and_info_match_sklearn(con):
    X = training_matrix(con, "iris_pca_numbers")
    oracle = PCA(n_components=2, svd_solver="full").fit(X)
    rows = sql(con, "SELECT * FROM ML.PRINCIPAL_COMPONENTS(MODEL iris_pca_numbers)").to_pylist()
    assert [r["feature"] for r in rows[:4]] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    for row in rows:
        i, j = row["principal_component_id"] - 1, rows.index(row) % 4
        assert abs(row["numerical_value"]) == pytest.approx(abs(oracle.components_[i, j]), rel=1e-9)  # sign free
        assert row["categorical_value"] == []
    info = sql(con, "SELECT * FROM ML.PRINCIPAL_COMPONENT_INFO(MODEL iris_pca_numbers)").to_pylist()
    assert [r["principal_component_id"] for r in info] == [1, 2]
    assert [r["eigenvalue"] for r in info] == pytest.approx(list(oracle.explained_variance_), rel=1e-9)
    assert [r["explained_variance_ratio"] for r in info] == pytest.approx(list(oracle.explained_variance_ratio_),
                                                                          rel=1e-9)
    assert [r["cumulative_explained_variance_ratio"] for r in info] == pytest.approx(
        list(np.cumsum(oracle.explained_variance_ratio_)), rel=1e-9)
    categorical = sql(con, "SELECT * FROM ML.PRINCIPAL_COMPONENTS(MODEL iris_pca) WHERE feature = 'species'")
    assert {c["category"] for c in categorical.to_pylist()[0]["categorical_value"]} == {"setosa", "versicolor",
                                                                                       "virginica"}
    with pytest.raises(ToolkitError, match="applies to PCA models only"):
        sql(con, "SELECT * FROM ML.PRINCIPAL_COMPONENT_INFO(MODEL iris_km)")


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-train: one row per iteration, the
# loss after it; KMEANS rows have no eval_loss and fill cluster_info.
def test_kmeans_training_info_has_one_row_per_lloyd_iteration(con):
    from sklearn.cluster import KMeans

    query = "SELECT sepal_length, sepal_width, petal_length, petal_width, rowid IN (0, 60, 120) AS is_init FROM iris"
    save_model(con, train_model(con, name="iris_km_custom", query=query, options={
        "model_type": "KMEANS", "kmeans_init_method": "CUSTOM", "kmeans_init_col": "is_init"}))
    trained = load_model(con, "iris_km_custom")
    rows = con.sql(query).to_arrow_table()
    X = design_matrix(trained, rows)
    init = X[np.asarray(rows.column("is_init").to_pylist())]
    info = sql(con, "SELECT * FROM ML.TRAINING_INFO(MODEL iris_km_custom)")
    assert "eval_loss" not in info.column_names and "cluster_info" in info.column_names
    n = trained.estimator.n_iter_
    assert info.num_rows == n > 1
    # replayed independently: Lloyd steps from the initial centroids, the loss after each
    centers, expected, clusters = init, [], []
    for _ in range(n):
        centers = KMeans(3, init=centers, n_init=1, max_iter=1).fit(X).cluster_centers_
        distances = np.linalg.norm(X[:, None, :] - centers[None, :, :], axis=2)
        expected.append((distances.min(axis=1) ** 2).mean())
        nearest = distances.argmin(axis=1)
        clusters.append([(k + 1, distances[nearest == k, k].mean(), int((nearest == k).sum())) for k in range(3)])
    assert info.column("loss").to_pylist() == pytest.approx(expected, rel=1e-9)
    # each iteration's own clusters (the sizes change while the centroids move), not the final ones on every row
    got = info.column("cluster_info").to_pylist()
    for row, want in zip(got, clusters):  # the init rows' order may differ from the model's centroid order
        assert [c["centroid_id"] for c in row] == [1, 2, 3]
        mine = sorted((c["cluster_size"], c["cluster_radius"]) for c in row)
        theirs = sorted((size, radius) for _, radius, size in want)
        assert [m[0] for m in mine] == [t[0] for t in theirs]
        assert [m[1] for m in mine] == pytest.approx([t[1] for t in theirs], rel=1e-9)
    assert len({tuple(c["cluster_size"] for c in row) for row in got}) > 1
    assert info.column("iteration").to_pylist() == list(range(n))
    assert np.allclose(np.sort(centers, axis=0), np.sort(trained.estimator.cluster_centers_, axis=0))


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-centroids: centroid_id, feature,
# numerical_value, categorical_value, geography_value.
def test_centroids_print_exact_category_shares(con):
    out = sql(con, "SELECT * FROM ML.CENTROIDS(MODEL iris_km)")
    assert out.column_names == ["centroid_id", "feature", "numerical_value", "categorical_value", "geography_value"]
    trained = load_model(con, "iris_km")
    offset = [f.name for f in trained.preprocessor.features].index("species")  # numeric features are 1 wide
    for row in out.to_pylist():
        if row["feature"] != "species":
            continue
        values = [entry["value"] for entry in row["categorical_value"]]
        raw = trained.estimator.cluster_centers_[row["centroid_id"] - 1, offset:offset + 3]
        assert values == pytest.approx(list(raw), abs=1e-12)  # scikit-learn's means …
        shares = [Fraction(v).limit_denominator(150) for v in values]
        assert [float(f) for f in shares] == values and sum(shares) == 1  # … as the exact fractions k / size
        assert all(f.denominator == max(s.denominator for s in shares) or f.numerator == 0 or
                   max(s.denominator for s in shares) % f.denominator == 0 for f in shares)
    assert out.column("geography_value").null_count == out.num_rows


@pytest.mark.parametrize("init", ["random", "k-means++"])
@pytest.mark.parametrize("sparse", [False, True])
def test_kmeans_one_pass_lloyd_steps_match_scikit_learn(monkeypatch, sparse, init):
    """The iterations run on scikit-learn's compiled Lloyd step give the centroids of one KMeans.fit run to
    convergence from the same init, and the same rows as the public-API step (a one-iteration refit)."""
    import scipy.sparse as sp
    from sklearn.cluster import KMeans

    from toolkit.ml.training import lloyd

    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(centre, 1.5, size=(150, 5)) for centre in (0.0, 3.0, 6.0)])
    X = np.hstack([X, np.eye(4)[rng.integers(0, 4, len(X))]])  # numbers and a one-hot column block
    X = sp.csr_matrix(X) if sparse else X

    def run() -> tuple[KMeans, list]:
        estimator = KMeans(4, init=init, n_init=1, max_iter=50, tol=0.0, random_state=7)
        return estimator, lloyd.fit_kmeans(estimator, X, 50, lambda losses: False)[0]

    fast, fast_rows = run()
    oracle = KMeans(4, init=init, n_init=1, max_iter=50, tol=0.0, random_state=7).fit(X)
    assert np.allclose(fast.cluster_centers_, oracle.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert (fast.labels_ == oracle.labels_).all() and fast.inertia_ == pytest.approx(oracle.inertia_, rel=1e-12)
    assert (fast.predict(X) == fast.labels_).all()
    if sparse:  # the same compiled steps from the same seeds: bit for bit, whether fit or the loop takes the first
        assert np.array_equal(fast.cluster_centers_, oracle.cluster_centers_)
        with monkeypatch.context() as patched:
            patched.setattr(lloyd, "_seeds", lambda estimator, X, norms: None)
            fitted, fitted_rows = run()
        assert np.array_equal(fast.cluster_centers_, fitted.cluster_centers_)
        assert [(r.loss, r.cluster_info) for r in fast_rows] == [(r.loss, r.cluster_info) for r in fitted_rows]
    monkeypatch.setattr(lloyd, "_kernel_step", lambda X: None)
    slow, slow_rows = run()
    assert len(fast_rows) == len(slow_rows) > 3 and fast_rows[-1].loss == fast_rows[-2].loss  # ran to convergence
    for mine, public in zip(fast_rows, slow_rows):
        assert mine.loss == pytest.approx(public.loss, rel=1e-12)
        assert [size for _, _, size in mine.cluster_info] == [size for _, _, size in public.cluster_info]
        assert [r for _, r, _ in mine.cluster_info] == pytest.approx([r for _, r, _ in public.cluster_info], rel=1e-12)
    assert np.allclose(fast.cluster_centers_, slow.cluster_centers_, rtol=1e-12, atol=1e-12)


# PCA is solved in closed form (PCA_SOLVER 'FULL': an eigendecomposition, 'RANDOMIZED': randomized SVD,
# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-pca#pca_solver), so its
# training is one iteration: one ML.TRAINING_INFO row, the loss being the mean squared reconstruction error.
def test_pca_training_info_is_one_closed_form_iteration(con):
    info = sql(con, "SELECT * FROM ML.TRAINING_INFO(MODEL iris_pca_numbers)")
    assert info.num_rows == 1 and info.column("iteration").to_pylist() == [0]
    X = design_matrix(load_model(con, "iris_pca_numbers"), con.sql(NUMBERS).to_arrow_table())
    oracle = PCA(n_components=2, svd_solver="full").fit(X)
    expected = np.mean((X - oracle.inverse_transform(oracle.transform(X))) ** 2)
    assert info.column("loss").to_pylist() == pytest.approx([expected], rel=1e-9)


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-kmeans: MIN_REL_PROGRESS is
# "the minimum relative loss improvement that is necessary to continue training when EARLY_STOP is set to TRUE".
def test_kmeans_stops_after_the_first_iteration_below_min_rel_progress(con):
    def losses(**options):
        save_model(con, train_model(con, name="km_stop", query=NUMBERS, options={
            "model_type": "KMEANS", "num_clusters": 6, "kmeans_init_method": "RANDOM", **options}))
        return sql(con, "SELECT loss FROM ML.TRAINING_INFO(MODEL km_stop) ORDER BY iteration").column(
            "loss").to_pylist()

    full = losses(early_stop=False, max_iterations=100)
    gains = [(a - b) / a for a, b in zip(full, full[1:])]
    assert len(full) > 3 and gains[-1] == 0  # run to convergence: the last iteration moves nothing
    bar = sorted(gains)[len(gains) // 2]  # a bar some iteration falls below before convergence
    assert bar > 0
    stopped = losses(early_stop=True, min_rel_progress=bar, max_iterations=100)
    first_below = next(i for i, g in enumerate(gains) if g < bar) + 1
    assert stopped == pytest.approx(full[:first_below + 1], rel=1e-12)
    assert losses(early_stop=False, max_iterations=2) == pytest.approx(full[:2], rel=1e-12)
    trained = load_model(con, "km_stop")
    assert trained.estimator.n_iter_ == 2 and trained.estimator_params["max_iter"] == 2


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-kmeans (WARM_START): retrain
# from the current model; here the Lloyd iterations start from the previous version's centroids.
def test_kmeans_warm_start_continues_from_the_previous_centroids(con):
    from sklearn.cluster import KMeans

    options = {"model_type": "KMEANS", "num_clusters": 3, "kmeans_init_method": "RANDOM", "max_iterations": 2,
               "early_stop": False}
    first = train_model(con, name="km_warm", query=NUMBERS, options=options).model
    warmed = train_model(con, name="km_warm", query=NUMBERS, options={**options, "warm_start": True},
                         previous=first).model
    X = design_matrix(warmed, con.sql(NUMBERS).to_arrow_table())
    # two more Lloyd steps from the first version's centroids (the same rows: the same standardization)
    oracle = KMeans(3, init=first.estimator.cluster_centers_, n_init=1, max_iter=2, tol=0.0).fit(X)
    assert np.allclose(warmed.estimator.cluster_centers_, oracle.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert warmed.iterations[0].loss <= first.iterations[-1].loss + 1e-12  # it goes on from where it stopped
    with pytest.raises(ToolkitError, match="WARM_START starts from the 3 centroids of version"):
        train_model(con, name="km_warm", query=NUMBERS, previous=first,
                    options={**options, "num_clusters": 4, "warm_start": True})
    with pytest.raises(ToolkitError, match="needs a trained version"):
        train_model(con, name="km_warm", query=NUMBERS, options={**options, "warm_start": True})


@pytest.mark.parametrize("n", [2, 3, 1000, 250_001])
def test_sorted_quantiles_are_numpys_linear_quantiles_bit_for_bit(n):
    from toolkit.ml.inference.anomalies import EXACT_ROWS, GRID, sorted_quantiles, upper_quantiles

    rng = np.random.default_rng(n)
    values = np.round(rng.exponential(size=n), 2)  # ties among the order statistics
    ordered = np.sort(values)
    for quantiles in (np.linspace(0.5, 1.0, GRID), rng.random(500), np.array([0.0, 0.5, 1.0])):
        assert np.array_equal(sorted_quantiles(ordered, quantiles), np.quantile(values, quantiles))
    start = (n - 1) // 2
    upper = np.linspace(0.5, 1.0, 1001)
    assert np.array_equal(sorted_quantiles(ordered[start:], upper, start), np.quantile(values, upper))
    quantiles, got = upper_quantiles(values)  # the upper half only: every order statistic, or the grid
    if n <= EXACT_ROWS:
        assert np.array_equal(quantiles, np.arange(start, n) / (n - 1)) and np.array_equal(got, ordered[start:])
    else:
        assert np.array_equal(got, np.quantile(values, np.linspace(0.5, 1.0, GRID)))


@pytest.mark.parametrize("sparse", [False, True])
def test_kmeans_training_metrics_and_anomaly_record_match_numpy(monkeypatch, sparse):
    """Training's own evaluation and the anomaly record read the rows as the last Lloyd iteration assigned them:
    the same figures as the rows' distances to the final centroids, recomputed densely."""
    from sklearn.metrics import davies_bouldin_score

    from toolkit.ml.inference.anomalies import upper_quantiles
    from toolkit.ml.training import train

    monkeypatch.setattr(train, "prefers_sparse", lambda preprocessor, rows: sparse)
    con = connect()
    trained = train_model(con, name="iris_km_rows", query=IRIS, options={"model_type": "KMEANS", "num_clusters": 4,
                                                                          "kmeans_init_method": "KMEANS++"}).model
    X = design_matrix(trained, con.sql(IRIS).to_arrow_table())
    X = X.toarray() if hasattr(X, "toarray") else X
    centers = trained.estimator.cluster_centers_
    distances = np.linalg.norm(X[:, None, :] - centers[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    own = distances[np.arange(len(X)), nearest]
    radii = np.array([np.mean(own[nearest == k]) for k in range(len(centers))])
    assert trained.metrics["mean_squared_distance"] == pytest.approx(np.mean(own ** 2), rel=1e-12)
    assert trained.metrics["mean_squared_distance"] == trained.iterations[-1].loss
    assert trained.metrics["davies_bouldin_index"] == pytest.approx(davies_bouldin_score(X, nearest), rel=1e-12)
    assert trained.anomaly["radii"] == pytest.approx(list(radii), rel=1e-12)
    quantiles, values = upper_quantiles(own / radii[nearest])
    assert np.array_equal(trained.anomaly["quantiles"], quantiles)
    assert trained.anomaly["values"] == pytest.approx(list(values), rel=1e-12)
