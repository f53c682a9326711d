"""The KL decomposition of β-TCVAE and its minibatch estimators (Chen et al., NeurIPS 2018,
"Isolating Sources of Disentanglement in Variational Autoencoders").

With n uniform over the N training points, q(z) = (1/N) Σ_n q(z|n) the aggregate posterior and
q(z_j) its marginals, the average KL splits into three non-negative parts (Chen et al., Eq. 2):

    E_n KL(q(z|n) || p(z))
      = E_q(z,n)[log q(z|n) − log q(z)]                  index-code mutual information I_q(z; n)
      + E_q(z)[log q(z) − Σ_j log q(z_j)]                total correlation KL(q(z) || Π_j q(z_j))
      + E_q(z)[Σ_j log q(z_j) − log p(z_j)]              dimension-wise KL Σ_j KL(q(z_j) || p(z_j))

(the last needs a factorised prior). The three are telescoping differences of the same four log
densities, so for *any* estimate of log q(z) and log q(z_j) they sum, sample by sample, to the
one-sample KL log q(z|n) − log p(z).

q(z_i) at a code z_i sampled from q(z|x_i) is estimated from the minibatch x_1..x_M as a weighted
mixture of the batch posteriors, log q̂(z_i) = logsumexp_j [log w_ij + log q(z_i|x_j)] (and the
same per dimension for q(z_ij)). Two weightings:

``"mws"`` minibatch weighted sampling (Chen et al., Sec. 4.1, derived in Appendix C): w_ij = 1/M.
    The paper writes the normaliser as 1/(NM); those weights sum to 1/N, which shifts every
    log q̂(z) and log q̂(z_j) by −log N (a constant with no gradient, but it adds (D − 1) log N to
    the logged total correlation, ≈ 122 nats on dSprites with D = 10). We use weights that sum to
    one, so the logged terms estimate the quantities of Eq. 2 and the estimate is exact when the
    batch is the whole dataset. disentanglement_lib's ``total_correlation`` drops all constants:
    its value is ours − (D − 1) log M. Needs no dataset size.
``"mss"`` minibatch stratified sampling (the later arXiv revision of Chen et al.; ``--mss`` in
    the authors' code): the sample's own posterior is one stratum, known exactly with weight 1/N; the other
    N − 1 points are the other stratum, estimated by the M − 1 other batch members, each with
    weight (N − 1) / (N (M − 1)). That is an unbiased estimate of q(z_i) whenever the other batch
    members are uniform draws from the rest of the data. The authors' code splits the same mass
    (N − 1)/N unevenly (one member gets (N − M + 1)/(N (M − 1)), the rest 1/(M − 1)); we give all
    M − 1 members the same weight: the average of theirs over which member gets the odd weight,
    so never more variance for exchangeable batch members, and exact at M = N. Needs N.

Both are biased for log q(z) (Jensen); the bias shrinks as the batch grows and vanishes at M = N
(tests/test_objectives.py measures it against q(z) computed over every point of a tiny dataset).
"""
from __future__ import annotations

import math

import torch

from dislab.errors import ConfigError
from dislab.objectives.gaussian_kl import gaussian_log_density

ESTIMATORS = ("mws", "mss")


def log_mixture_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                        log_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log of a weighted mixture of diagonal Gaussians at each code, jointly and per dimension.

    Args:
        z: codes ``(S, D)``.
        mu, logvar: the K mixture components ``(K, D)`` each (posterior means, log-variances).
        log_weights: ``(S, K)`` (or broadcastable), log w_sk of component k for code s.

    Returns:
        ``log Σ_k w_sk N(z_s; mu_k, σ²_k)`` of shape ``(S,)`` and the per-dimension
        ``log Σ_k w_sk N(z_sj; mu_kj, σ²_kj)`` of shape ``(S, D)``, nats.
    """
    log_q = gaussian_log_density(z[:, None, :], mu[None, :, :], logvar[None, :, :])  # (S, K, D)
    log_w = log_weights.expand(z.shape[0], mu.shape[0])
    joint = torch.logsumexp(log_w + log_q.sum(dim=2), dim=1)  # (S,)
    marginals = torch.logsumexp(log_w[:, :, None] + log_q, dim=1)  # (S, D)
    return joint, marginals


def minibatch_log_weights(batch_size: int, *, estimator: str = "mws", dataset_size: int | None = None,
                          device=None, dtype=torch.float32) -> torch.Tensor:
    """The ``(M, M)`` matrix log w_ij of the minibatch estimators (see the module docstring).

    Row i weights the batch posteriors q(·|x_j) in the estimate of q(z_i); each row sums to one.
    """
    m = int(batch_size)
    if estimator == "mws":
        return torch.full((m, m), -math.log(m), device=device, dtype=dtype)
    if estimator == "mss":
        if dataset_size is None:
            raise ConfigError("the 'mss' total-correlation estimator needs the dataset size "
                              "(config.dataset_size, filled in by the trainer); got None")
        n = int(dataset_size)
        if n < 2 or m < 2:
            raise ConfigError(f"'mss' needs dataset_size >= 2 and batch size >= 2, got {n} and {m}")
        off = math.log(n - 1) - math.log(n) - math.log(m - 1)  # (N − 1) / (N (M − 1))
        w = torch.full((m, m), off, device=device, dtype=dtype)
        w.fill_diagonal_(-math.log(n))  # the sample's own posterior, weight 1/N
        return w
    raise ConfigError(f"unknown total-correlation estimator {estimator!r}; expected one of {ESTIMATORS}")


def kl_decomposition(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                     log_pz_marginals: torch.Tensor, *, estimator: str = "mws",
                     dataset_size: int | None = None) -> dict[str, torch.Tensor]:
    """Per-sample minibatch estimates of Chen et al.'s Eq. 2 terms on one batch.

    Args:
        z: codes sampled from q(z|x_i), ``(M, D)``; mu, logvar: the batch posteriors ``(M, D)``.
        log_pz_marginals: log p(z_ij) of a factorised prior at ``z``, ``(M, D)``.
        estimator: ``"mws"`` or ``"mss"``; dataset_size: N (``"mss"`` only).

    Returns:
        ``mutual_info``, ``total_correlation``, ``dimension_wise_kl``: each ``(M,)`` in nats; their
        batch means are the estimates (each term is ≥ 0 in truth, not necessarily estimated so).
        Sample by sample they sum to log q(z_i|x_i) − log p(z_i).
    """
    log_w = minibatch_log_weights(z.shape[0], estimator=estimator, dataset_size=dataset_size,
                                  device=z.device, dtype=z.dtype)
    log_qz, log_qz_marginals = log_mixture_density(z, mu, logvar, log_w)  # (M,), (M, D)
    log_qz_given_x = gaussian_log_density(z, mu, logvar).sum(dim=1)  # (M,)
    log_prod_marginals = log_qz_marginals.sum(dim=1)  # (M,)
    return {
        "mutual_info": log_qz_given_x - log_qz,
        "total_correlation": log_qz - log_prod_marginals,
        "dimension_wise_kl": log_prod_marginals - log_pz_marginals.sum(dim=1),
    }


def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, *,
                      estimator: str = "mws", dataset_size: int | None = None) -> torch.Tensor:
    """Per-sample minibatch estimate of KL(q(z) || Π_j q(z_j)), ``(M,)`` nats (mean it)."""
    log_w = minibatch_log_weights(z.shape[0], estimator=estimator, dataset_size=dataset_size,
                                  device=z.device, dtype=z.dtype)
    log_qz, log_qz_marginals = log_mixture_density(z, mu, logvar, log_w)
    return log_qz - log_qz_marginals.sum(dim=1)
