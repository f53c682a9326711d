"""The sampling machinery every metric's sampler uses: draw points from a FactorDataset, encode
them (:class:`ModelEncoder`, cached by image index), split them into train / test sets, at the
field's published sample sizes (disentanglement_lib ``config/unsupervised_study_v1/metric_configs``:
:data:`N_TRAIN` = 10,000 and :data:`N_TEST` = 5,000). Each metric's own sampler lives in its module
beside its array function (``dislab.metrics.mig.compute_mig``), declared in its ``SPEC``.

Every sampler has the registry signature ``fn(dataset, encode, *, seed, **options) -> dict``:

* ``encode`` maps float32 images ``(n, C, H, W)`` in [0, 1] to codes ``(n, n_codes)`` (a numpy
  array or a tensor). :class:`ModelEncoder` builds one from a model: posterior means by default
  (the reference's ``"mean"`` representation), sampled codes ``mu + σ·ε`` with ``mode="sample"``.
* Points are drawn as the reference draws them: factors uniformly and independently per factor,
  first the training set then the test set, from one generator seeded with ``seed`` (a
  ``numpy.random.default_rng``; the reference's ``RandomState`` stream is not reproduced, so
  individual points differ, not their distribution). Two metrics with the same seed therefore
  see the same points, and a :class:`ModelEncoder` encodes each image of a dataset only once.
* ``n_train`` / ``n_test`` override the sizes; remaining keyword options go to the array metric,
  and ``seed`` also becomes the array metric's ``seed`` (its predictors' random state) if it has one
  (:func:`with_seed`).

:func:`compute_udr` is the multi-model sampler: it encodes several models on the same inputs and
collects each latent's mean KL for :func:`dislab.metrics.udr.udr`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from dislab import progress as bars

if TYPE_CHECKING:  # torch and the datasets load on first use: `import dislab.metrics` stays light
    import torch

    from dislab.data.base import FactorDataset

Encode = Callable[["torch.Tensor"], Any]  # images (n, C, H, W) -> codes (n, n_codes), numpy or torch


def as_generator(rng):
    from dislab.data.base import as_generator as _as_generator

    return _as_generator(rng)

N_TRAIN = 10_000  # disentanglement_lib: mig/dci/sap/modularity/irs/unsupervised num_train
N_TEST = 5_000  # disentanglement_lib: dci/sap/modularity num_test
ENCODE_BATCH = 256  # images per forward pass; codes do not depend on it (eval mode)
_DENSE_CACHE_MAX = 5_000_000  # images: a dense cache of 10 float32 codes is then <= 200 MB


def _to_numpy(codes) -> np.ndarray:
    if hasattr(codes, "detach"):  # a torch tensor
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"encode must return codes of shape (n, n_codes), got shape {codes.shape}")
    return codes


class ModelEncoder:
    """``encode`` function of a model: images ``(n, C, H, W)`` -> codes ``(n, n_codes)`` float32.

    Args:
        model: a :class:`dislab.models.base.LatentVariableModel` (``encode(x) -> (mu, logvar)``).
        mode: ``"mean"`` (posterior means, the reference's representation for every metric) or
            ``"sample"`` (one draw ``mu + exp(½ logvar)·ε`` per image and call).
        batch_size: images per forward pass.
        device: where the model runs (it is moved there).
        seed: seeds the ``torch.Generator`` of ``mode="sample"``.
        columns: keep only these code columns (a slice or index list), e.g. one hierarchy level.
        progress: show a tqdm bar while encoding a dataset.

    With ``mode="mean"``, codes of a dataset's images are cached by flat index (a dense array for
    datasets up to 5 million images), so metrics that share points share the encoding. Sampled codes
    are never cached: each call draws afresh.
    """

    def __init__(self, model, *, mode: str = "mean", batch_size: int = ENCODE_BATCH,
                 device: "str | torch.device" = "cpu", seed: int = 0, columns=None,
                 progress: bool = True):
        import torch

        if mode not in ("mean", "sample"):
            raise ValueError(f"mode must be 'mean' or 'sample', got {mode!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.to(device).eval()
        self.mode, self.batch_size, self.device = mode, int(batch_size), torch.device(device)
        self.columns = columns
        self.progress = progress
        self._generator = torch.Generator(device=self.device).manual_seed(int(seed))
        # id(dataset) -> (dataset, means (N, d) float32, log-variances (N, d) float32, filled (N,))
        self._cache: dict = {}

    def select(self, columns) -> "ModelEncoder":
        """The same encoder restricted to ``columns`` (shares the model and the cache)."""
        other = object.__new__(ModelEncoder)
        other.__dict__.update(self.__dict__)
        other.columns = columns
        return other

    def full_codes(self, images: "torch.Tensor") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(codes, mu, logvar)`` of all latents (no column selection), float32 numpy."""
        import torch

        with torch.no_grad():
            x = images.to(self.device, dtype=torch.float32)
            mu, logvar = self.model.encode(x)
            if self.mode == "sample":
                eps = torch.randn(mu.shape, generator=self._generator, device=mu.device, dtype=mu.dtype)
                z = mu + torch.exp(0.5 * logvar) * eps
            else:
                z = mu
        return (z.float().cpu().numpy(), mu.float().cpu().numpy(), logvar.float().cpu().numpy())

    def _select(self, codes: np.ndarray) -> np.ndarray:
        return codes if self.columns is None else codes[:, self.columns]

    def __call__(self, images: "torch.Tensor") -> np.ndarray:
        out = []
        for start in range(0, images.shape[0], self.batch_size):
            out.append(self.full_codes(images[start:start + self.batch_size])[0])
        if not out:
            return self._select(np.zeros((0, self.n_codes), np.float32))
        return self._select(np.concatenate(out))

    @property
    def n_codes(self) -> int:
        return int(self.model.config.n_latents)

    def encode_indices(self, dataset: FactorDataset, index: np.ndarray, *, desc: str = "encoding",
                       progress: bool | None = None) -> np.ndarray:
        """Codes ``(len(index), n_codes)`` of the dataset's images at flat ``index``."""
        index = np.asarray(index, dtype=np.int64)
        progress = self.progress if progress is None else progress
        if self.mode != "mean" or len(dataset) > _DENSE_CACHE_MAX:
            return self._select(_encode_batches(dataset, index, self.select(None), self.batch_size,
                                                desc, progress))
        return self._select(self._cached(dataset, index, desc, progress)[0])

    def posterior(self, dataset: FactorDataset, index: np.ndarray, *, desc: str = "encoding",
                  progress: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and log-variances ``(len(index), n_codes)`` (selected columns) of the
        images at flat ``index`` (cached with the means in ``mode="mean"``)."""
        index = np.asarray(index, dtype=np.int64)
        progress = self.progress if progress is None else progress
        if self.mode == "mean" and len(dataset) <= _DENSE_CACHE_MAX:
            mu, logvar = self._cached(dataset, index, desc, progress)
        else:
            parts = [self.full_codes(dataset.images(index[s:s + self.batch_size]))[1:]
                     for s in range(0, len(index), self.batch_size)]
            mu, logvar = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        return self._select(mu), self._select(logvar)

    def _cached(self, dataset, index, desc, progress):
        n_images = len(dataset)
        entry = self._cache.get(id(dataset))
        if entry is None or entry[0] is not dataset:
            entry = (dataset, np.zeros((n_images, self.n_codes), np.float32),
                     np.zeros((n_images, self.n_codes), np.float32), np.zeros(n_images, bool))
            self._cache[id(dataset)] = entry
        _, means, logvars, filled = entry
        todo = np.unique(index[~filled[index]])
        if todo.size:
            from tqdm.auto import tqdm

            with tqdm(total=len(todo), desc=desc, unit="img", disable=None if progress else True,
                      leave=False) as bar:
                for start in range(0, len(todo), self.batch_size):
                    idx = todo[start:start + self.batch_size]
                    _, mu, logvar = self.full_codes(dataset.images(idx))
                    means[idx], logvars[idx] = mu, logvar
                    bar.update(len(idx))
            filled[todo] = True
        return means[index], logvars[index]


def _encode_batches(dataset: FactorDataset, index: np.ndarray, encode: Encode, batch_size: int,
                    desc: str, progress: bool) -> np.ndarray:
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(index), desc=desc, unit="img", disable=bars.disable(progress), leave=False) as bar:
        for start in range(0, len(index), batch_size):
            idx = index[start:start + batch_size]
            out.append(_to_numpy(encode(dataset.images(idx))))
            bar.update(len(idx))
    if not out:
        raise ValueError("nothing to encode: the index is empty")
    return np.concatenate(out)


def encode_indices(dataset: FactorDataset, encode: Encode, index, *, batch_size: int = 64,
                   desc: str = "encoding", progress: bool = True) -> np.ndarray:
    """Codes ``(len(index), n_codes)`` of the images at flat ``index``, encoded in batches with a
    progress bar (delegates to ``encode.encode_indices`` when ``encode`` is a :class:`ModelEncoder`,
    which caches)."""
    index = np.asarray(index, dtype=np.int64)
    if hasattr(encode, "encode_indices"):
        return encode.encode_indices(dataset, index, desc=desc)
    return _encode_batches(dataset, index, encode, batch_size, desc, progress)


def encode_factors(dataset: FactorDataset, encode: Encode, factors: np.ndarray, *,
                   batch_size: int = 64, desc: str = "encoding") -> np.ndarray:
    """Codes ``(n, n_codes)`` of the images with factor rows ``factors`` ``(n, n_factors)``."""
    return encode_indices(dataset, encode, dataset.index_of(factors), batch_size=batch_size, desc=desc)


def sample_codes(dataset: FactorDataset, encode: Encode, n: int, rng: np.random.Generator | int,
                 *, batch_size: int = 64, desc: str = "encoding") -> tuple[np.ndarray, np.ndarray | None]:
    """``(codes (n, n_codes), factors (n, n_factors) int64 or None)`` of ``n`` random images.

    Datasets with factors: factors drawn uniformly per factor (``dataset.sample_factors``); without
    factors: flat indices drawn uniformly with replacement and ``factors`` is None.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"number of points must be a positive integer, got {n}")
    rng = as_generator(rng)
    if dataset.has_factors:
        factors = dataset.sample_factors(int(n), rng)
        index = dataset.index_of(factors)
    else:
        factors, index = None, dataset.sample_indices(int(n), rng)
    return encode_indices(dataset, encode, index, batch_size=batch_size, desc=desc), factors


def with_seed(fn, seed: int, options: dict) -> dict:
    """``options`` plus ``seed=seed`` when the array function takes a seed (its predictors'
    random_state), so one seed fixes both the points and the fits."""
    import inspect

    if "seed" in inspect.signature(fn).parameters and "seed" not in options:
        return {**options, "seed": seed}
    return options


def score_one_set(array_fn, name: str, dataset: FactorDataset, encode: Encode, seed: int, n_train: int,
                  batch_size: int, options: dict) -> dict:
    """``array_fn(codes, factors, **options)`` on ``n_train`` random points of a dataset with
    factors (the samplers of MIG, IRS, InfoMEC); ``seed`` draws the points and seeds the array
    function where it takes one."""
    dataset.require_factors(f"the {name} metric")
    codes, factors = sample_codes(dataset, encode, n_train, seed, batch_size=batch_size, desc=name)
    return array_fn(codes, factors, **with_seed(array_fn, seed, options))


def score_train_test(array_fn, name: str, dataset: FactorDataset, encode: Encode, seed: int, n_train: int,
                     n_test: int, batch_size: int, options: dict) -> dict:
    """``array_fn(codes_train, factors_train, codes_test, factors_test, **options)`` on a training
    set then a test set drawn from one generator (the samplers of DCI, SAP, modularity, DCI-ES)."""
    return array_fn(*train_test_codes(dataset, encode, seed, n_train, n_test, batch_size, name),
                    **with_seed(array_fn, seed, options))


def train_test_codes(dataset, encode, seed, n_train, n_test, batch_size, name):
    dataset.require_factors(f"the {name} metric")
    rng = as_generator(seed)
    c_tr, f_tr = sample_codes(dataset, encode, n_train, rng, batch_size=batch_size, desc=f"{name} train")
    c_te, f_te = sample_codes(dataset, encode, n_test, rng, batch_size=batch_size, desc=f"{name} test")
    return c_tr, f_tr, c_te, f_te


def kl_is_the_priors(model) -> bool:
    """Whether :func:`codes_and_kl` measures the KL against the model's own prior (closed form or
    Monte Carlo against its marginals) rather than N(0, I), the reference's for every model."""
    from dislab.metrics.active import kl_estimator

    return kl_estimator(getattr(model, "prior", None)) != "standard normal"


def codes_and_kl(model, dataset: FactorDataset, index: np.ndarray, *, batch_size: int = ENCODE_BATCH,
                 device: "str | torch.device" = "cpu", on_batch: Callable[[int], None] | None = None,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """UDR's inputs for one model: posterior means ``(len(index), n_latents)`` float64 of the
    images at flat ``index`` and each latent's mean KL to the prior over them, ``(n_latents,)``
    nats (:func:`dislab.metrics.active.mean_kl_per_latent`, the quantity dislab's active latents
    are counted on). ``on_batch(n)`` is called after each batch."""
    from dislab.metrics.active import mean_kl_per_latent

    enc = ModelEncoder(model, batch_size=batch_size, device=device, progress=False)
    mus, logvars = [], []
    for start in range(0, len(index), batch_size):
        idx = index[start:start + batch_size]
        _, mu, logvar = enc.full_codes(dataset.images(idx))
        mus.append(mu)
        logvars.append(logvar)
        if on_batch is not None:
            on_batch(len(idx))
    mu, logvar = np.concatenate(mus), np.concatenate(logvars)
    return mu.astype(np.float64), mean_kl_per_latent(getattr(model, "prior", None), mu, logvar, seed=seed)


def compute_udr(dataset: FactorDataset, models: Sequence, *, seed: int = 0, n_points: int = N_TRAIN,
                method: str = "spearman", kl_threshold: float | None = None, batch_size: int = ENCODE_BATCH,
                device: "str | torch.device" = "cpu", progress: bool = True) -> dict:
    """UDR (:func:`dislab.metrics.udr.udr`) of several models encoded on the same ``n_points``
    random images (posterior means), with each latent's KL averaged over those images.

    ``n_points`` defaults to 10,000 (the scale of the field's other metrics; the reference's UDR
    config leaves it to the study). ``kl_threshold`` defaults to dislab's active-latent threshold
    (0.1 nats, :mod:`dislab.metrics.active`; the reference's 0.01 on request). Works on datasets
    without factors.
    """
    import torch
    from tqdm.auto import tqdm

    from dislab.metrics.udr import udr

    if len(models) < 2:
        raise ValueError(f"UDR compares models with each other: expected at least 2 models, got {len(models)}")
    rng = as_generator(seed)
    index = (dataset.index_of(dataset.sample_factors(int(n_points), rng)) if dataset.has_factors
             else dataset.sample_indices(int(n_points), rng))
    codes, kls = [], []
    with tqdm(total=len(models) * len(index), desc="udr", unit="img", disable=bars.disable(progress),
              leave=False) as bar:
        for model in models:
            c, kl = codes_and_kl(model, dataset, index, batch_size=batch_size, device=device,
                                 on_batch=bar.update, seed=seed)
            codes.append(c)
            kls.append(kl)
    if kl_threshold is None:
        from dislab.metrics.active import ACTIVE_KL_THRESHOLD

        kl_threshold = ACTIVE_KL_THRESHOLD
    out = udr(codes, kls, method=method, kl_threshold=kl_threshold, seed=seed)
    out["kl"] = [k.tolist() for k in kls]
    return out


_MOVED = {"compute_mig": "mig", "compute_dci": "dci", "compute_sap": "sap",
          "compute_modularity_explicitness": "modularity_explicitness", "compute_irs": "irs",
          "compute_infomec": "infomec", "compute_dci_es": "dci_es", "compute_unsupervised": "unsupervised"}


def __getattr__(name: str):
    # the samplers' former home: each now lives in its metric's module
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f"dislab.metrics.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
