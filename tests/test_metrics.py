"""zoo.metrics on feature vectors with known answers (feature networks aside)."""

import numpy as np
import pytest

from zoo import metrics


def gaussian(n, dim=8, shift=0.0, scale=1.0, seed=0):
    return np.random.default_rng(seed).normal(shift, scale, (n, dim))


def test_streamed_statistics_equal_numpys():
    x = gaussian(1000, seed=1) @ np.random.default_rng(2).normal(size=(8, 8))
    stats = metrics.FeatureStats()
    for part in np.array_split(x, 7):
        stats.update(part)
    np.testing.assert_allclose(stats.mean, x.mean(0), atol=1e-10)
    np.testing.assert_allclose(stats.cov, np.cov(x, rowvar=False), atol=1e-8)
    with pytest.raises(ValueError, match="shape"):
        stats.update(np.zeros((3, 5)))


def test_frechet_distance_matches_the_closed_form():
    # diagonal covariances: |mu_a - mu_b|^2 + sum (sqrt(a_i) - sqrt(b_i))^2
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = 1 + 4 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    assert metrics.frechet_distance((mu_a, np.diag(a)), (mu_b, np.diag(b))) == pytest.approx(expected)


def test_frechet_distance_agrees_with_scipys_matrix_square_root():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    c1, c2 = m1 @ m1.T, m2 @ m2.T  # covariances that do not commute
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    covmean = np.real(linalg.sqrtm(c1 @ c2))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * covmean)
    assert metrics.frechet_distance((mu1, c1), (mu2, c2)) == pytest.approx(expected, rel=1e-6)


def test_distances_are_small_within_a_distribution_and_grow_with_the_difference():
    real, same = gaussian(2000, seed=0), gaussian(2000, seed=1)
    fids = [metrics.frechet_distance(real, gaussian(2000, shift=s, seed=2)) for s in (0.0, 0.2, 0.5, 1.0)]
    assert metrics.frechet_distance(real, same) < 0.1
    assert fids == sorted(fids) and fids[-1] > 7
    kid_same, std = metrics.kernel_distance(real, same, subsets=20, subset_size=500)
    assert abs(kid_same) < 3 * std + 1e-3
    kids = [metrics.kernel_distance(real, gaussian(2000, shift=s, seed=2), subsets=20, subset_size=500)[0]
            for s in (0.2, 0.5, 1.0)]
    assert kids == sorted(kids) and kids[0] > kid_same


def test_precision_and_recall_tell_quality_from_coverage():
    real = gaussian(1000, dim=4, seed=0)
    p, r = metrics.precision_recall(real, gaussian(1000, dim=4, seed=1))
    assert p > 0.8 and r > 0.8
    p, r = metrics.precision_recall(real, gaussian(1000, dim=4, shift=3.0, seed=1))  # off the manifold
    assert p < 0.2
    collapsed = np.repeat(gaussian(5, dim=4, seed=2), 200, axis=0) + 1e-3 * gaussian(1000, dim=4, seed=3)
    p, r = metrics.precision_recall(real, collapsed)  # plausible samples, little variety
    assert p > 0.8 and r < 0.2


def test_inception_score_counts_confident_varied_classes():
    assert metrics.inception_score(np.eye(10)[np.arange(1000) % 10])[0] == pytest.approx(10, rel=1e-6)
    assert metrics.inception_score(np.eye(10)[np.zeros(1000, int)])[0] == pytest.approx(1, rel=1e-6)
    assert metrics.inception_score(np.full((1000, 10), 0.1))[0] == pytest.approx(1, rel=1e-6)
