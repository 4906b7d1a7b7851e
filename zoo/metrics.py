"""Sample-quality metrics over feature vectors, in numpy, streaming over batches.

* `FeatureStats`: running mean and covariance (float64) of features seen batch by batch,
  so 50k samples never sit in memory at once; `.mean`, `.cov`, `.save`, `.load`.
* `frechet_distance(a, b)`: FID (Heusel et al. 2017) between two Gaussians
  N(mu_a, C_a), N(mu_b, C_b): |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)).
* `kernel_distance(x, y)`: KID (Binkowski et al. 2018): the unbiased MMD^2 with the
  cubic polynomial kernel k(a, b) = (a.b / d + 1)^3, averaged over random subsets,
  with its standard deviation over them.
* `precision_recall(real, fake, k)`: improved precision and recall (Kynkaanniemi et
  al. 2019): a sample is "covered" by the other set when it falls inside the k-NN ball
  of one of its points.
* `inception_score(probs)`: exp(E_x KL(p(y|x) || p(y))) from a classifier's softmax.

These numbers depend on the feature network. Numbers computed with zoo's own feature
networks are comparable with each other, not with papers' Inception-v3 FIDs.
"""

import numpy as np


class FeatureStats:
    """Running mean and covariance of feature vectors (rows), added batch by batch."""

    def __init__(self, dim=None):
        self.n, self.dim = 0, dim
        self._sum = self._outer = None

    def update(self, features):
        x = np.asarray(features, np.float64)
        if x.ndim != 2 or (self.dim is not None and x.shape[1] != self.dim):
            raise ValueError(f"features of shape (N, {self.dim or 'D'}) expected; got {x.shape}")
        if self._sum is None:
            self.dim = x.shape[1]
            self._sum, self._outer = np.zeros(self.dim), np.zeros((self.dim, self.dim))
        self.n += len(x)
        self._sum += x.sum(0)
        self._outer += x.T @ x
        return self

    @property
    def mean(self):
        return self._sum / self.n

    @property
    def cov(self):
        """The unbiased sample covariance."""
        if self.n < 2:
            raise ValueError("a covariance needs at least two samples")
        mean = self.mean
        return (self._outer - self.n * np.outer(mean, mean)) / (self.n - 1)

    def save(self, path):
        np.savez(path, n=self.n, mean=self.mean, cov=self.cov)

    @staticmethod
    def load(path):
        """(n, mean, cov) of saved statistics."""
        with np.load(path, allow_pickle=False) as f:
            return int(f["n"]), f["mean"], f["cov"]


def _stats(x):
    if isinstance(x, FeatureStats):
        return x.mean, x.cov
    if isinstance(x, tuple) and len(x) == 2:
        return np.asarray(x[0], np.float64), np.asarray(x[1], np.float64)
    stats = FeatureStats().update(x)
    return stats.mean, stats.cov


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a, b):
    """FID between two feature sets, each given as features (N, D), a FeatureStats, or
    a (mean, cov) pair. tr((C_a C_b)^(1/2)) is computed as the trace of the square root
    of the symmetric PSD matrix C_a^(1/2) C_b C_a^(1/2), which has the same eigenvalues."""
    mu_a, cov_a = _stats(a)
    mu_b, cov_b = _stats(b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"feature sizes differ: {mu_a.shape[0]} and {mu_b.shape[0]}")
    root = _psd_sqrt(cov_a)
    middle = np.linalg.eigvalsh(root @ cov_b @ root)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    value = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(value, 0.0))


def kernel_distance(x, y, subsets=100, subset_size=1000, seed=0):
    """KID: (mean, std) over `subsets` random subsets of min(subset_size, len) rows of
    each set of the unbiased MMD^2 with the kernel (a.b / d + 1)^3."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"two feature sets (N, D) of the same D expected; got {x.shape} and {y.shape}")
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("KID needs at least two samples in each set")
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    values = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        kxx, kyy, kxy = ((a @ a.T) / d + 1) ** 3, ((b @ b.T) / d + 1) ** 3, ((a @ b.T) / d + 1) ** 3
        off = m * (m - 1)
        values.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off
                      - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def _kth_neighbour_radii(x, k, batch):
    radii = np.empty(len(x))
    sq = (x ** 2).sum(1)
    for i in range(0, len(x), batch):
        d = sq[i:i + batch, None] + sq[None, :] - 2 * x[i:i + batch] @ x.T
        # the k-th smallest distance to another point (position 0 is the point itself)
        radii[i:i + batch] = np.sqrt(np.clip(np.partition(d, k, axis=1)[:, k], 0, None))
    return radii


def _covered(points, centres, radii, batch):
    sq_c = (centres ** 2).sum(1)
    inside = np.zeros(len(points), bool)
    for i in range(0, len(points), batch):
        p = points[i:i + batch]
        d = (p ** 2).sum(1)[:, None] + sq_c[None, :] - 2 * p @ centres.T
        inside[i:i + batch] = (np.sqrt(np.clip(d, 0, None)) <= radii[None, :]).any(1)
    return inside


def precision_recall(real, fake, k=3, batch=1024):
    """Improved precision (share of fake samples inside the real manifold) and recall
    (share of real samples inside the fake manifold); a manifold is the union of balls
    reaching each point's k-th nearest neighbour in its own set."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples in each set")
    real_radii = _kth_neighbour_radii(real, k, batch)
    fake_radii = _kth_neighbour_radii(fake, k, batch)
    precision = _covered(fake, real, real_radii, batch).mean()
    recall = _covered(real, fake, fake_radii, batch).mean()
    return float(precision), float(recall)


def inception_score(probs, splits=10):
    """(mean, std) over `splits` splits of exp(E KL(p(y|x) || p(y))) from class
    probabilities (N, classes)."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2:
        raise ValueError(f"class probabilities (N, classes) expected; got {probs.shape}")
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
