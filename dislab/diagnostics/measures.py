"""Pure array measures of *why* a VAE disentangles (or does not): numpy in, plain numbers out.

Rolinek, Zietlow & Martius (CVPR 2019, "Variational Autoencoders Pursue PCA Directions (by
Accident)") show that in the polarised regime the β-VAE objective pushes the decoder's Jacobian J
(at z = μ(x)) towards orthogonal columns, so its right singular vectors V line up with the latent
axes: the axes then follow the local principal directions of the data. Gresele et al. (NeurIPS
2021, "Independent mechanism analysis") measure the same column orthogonality with the IMA contrast.
The functions here take the Jacobians as arrays; :mod:`dislab.diagnostics.diagnose` computes them.

Conventions: a Jacobian is ``(D, d)`` (D pixels, d latents; columns = ∂x/∂z_j), batches
``(n, D, d)``. Active latents only: a passive latent's column is ~0, which would make JᵀJ singular
(log det = −∞), so callers restrict J to the active columns first.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def _batched(J: np.ndarray, name: str = "J") -> np.ndarray:
    J = np.asarray(J, dtype=np.float64)
    if J.ndim == 2:
        J = J[None]
    if J.ndim != 3 or J.shape[2] < 1:
        raise ValueError(f"{name} must be (D, d) or (n, D, d) with d >= 1, got shape {J.shape}")
    if not np.all(np.isfinite(J)):
        raise ValueError(f"{name} has non-finite entries")
    return J


def ima_contrast(J: np.ndarray) -> np.ndarray:
    """IMA contrast of each Jacobian (Gresele et al. 2021: the local contrast, with the square
    case's log |det J| written as ½ log det JᵀJ so that J may be (D, d) with D ≥ d),

        c(J) = ½ (log det diag(JᵀJ) − log det JᵀJ) = Σ_j log ||J_j|| − ½ log det JᵀJ,

    in nats, ``(n,)``. c ≥ 0 by Hadamard's inequality, with equality exactly when the columns of J
    are orthogonal; +inf when JᵀJ is singular (a zero or dependent column: restrict to active latents).
    Invariant to rescaling and permuting the columns.
    """
    J = _batched(J)
    gram = np.einsum("nDi,nDj->nij", J, J)  # (n, d, d)
    log_diag = np.log(np.clip(np.einsum("nii->ni", gram), 1e-300, None)).sum(axis=1)
    sign, logdet = np.linalg.slogdet(gram)
    out = 0.5 * (log_diag - logdet)
    out = np.where(sign > 0, np.maximum(out, 0.0), np.inf)  # clip rounding below 0
    return out


def signed_permutation_distance(V: np.ndarray) -> dict[str, np.ndarray]:
    """How far each orthogonal ``(d, d)`` matrix is from the nearest signed permutation.

    V's columns are the right singular vectors of a Jacobian, expressed in latent coordinates (rows =
    latent axes). Rolinek et al. argue V is (close to) a signed permutation: each singular direction
    is one latent axis. Defined exactly: the nearest signed permutation P* minimises ||V − P||_F over
    all signed permutations P. Since ||V − P||²_F = 2d − 2 Σ_i s_i V_{i,π(i)}, the optimum takes
    s_i = sign V_{i,π(i)} and π maximising Σ_i |V_{i,π(i)}|: a linear assignment (Hungarian
    algorithm) on |V|. Returned, per matrix ``(n,)``:

    * ``distance``: ||V − P*||_F / sqrt(2d) ∈ [0, sqrt(1 − 1/d)]; 0 iff V is a signed permutation.
    * ``angle_deg``: mean over the d matched pairs of arccos |V_{i,π(i)}|, degrees in [0, 90]; the
      angle between each singular direction and its latent axis.

    Singular vectors of equal singular values are defined only up to a rotation among themselves,
    so V (and this distance) is meaningful where the singular values are distinct.
    """
    V = np.asarray(V, dtype=np.float64)
    if V.ndim == 2:
        V = V[None]
    if V.ndim != 3 or V.shape[1] != V.shape[2]:
        raise ValueError(f"V must be (d, d) or (n, d, d), got shape {V.shape}")
    d = V.shape[1]
    dist, ang = np.empty(len(V)), np.empty(len(V))
    for k, v in enumerate(V):
        rows, cols = linear_sum_assignment(-np.abs(v))
        matched = np.abs(v[rows, cols])
        dist[k] = np.sqrt(max(2 * d - 2 * matched.sum(), 0.0) / (2 * d))
        ang[k] = np.degrees(np.arccos(np.clip(matched, 0.0, 1.0))).mean()
    return {"distance": dist, "angle_deg": ang}


def jacobian_orthogonality(J: np.ndarray) -> dict[str, np.ndarray]:
    """Both measures of each Jacobian ``(n, D, d)``: ``ima_contrast``, and the signed-permutation
    ``distance`` / ``angle_deg`` of its right singular vectors (J = U S Vᵀ), plus the singular
    values ``(n, d)``."""
    J = _batched(J)
    _, s, vt = np.linalg.svd(J, full_matrices=False)  # vt: (n, d, d), rows = singular vectors
    perm = signed_permutation_distance(np.swapaxes(vt, 1, 2))  # columns = singular vectors
    return {"ima_contrast": ima_contrast(J), "distance": perm["distance"], "angle_deg": perm["angle_deg"],
            "singular_values": s}


def polarisation(logvar: np.ndarray, *, threshold: float = 0.5, margin: float = 0.1) -> dict:
    """Polarisation of the latents by their mean posterior variance (Rolinek et al. 2019, Sec. 3).

    In the polarised regime each latent is either "active" in Rolinek et al.'s sense (posterior
    variance σ²_j(x) ≪ 1, it carries information) or passive (σ²_j ≈ 1 and μ_j ≈ 0: the
    posterior is the unit prior). With v_j = mean_x σ²_j(x):

    * ``low_variance``: v_j < ``threshold`` (default ½), a list of bools; ``n_polarised``, their
      number -- Rolinek et al.'s count, not dislab's active latents (mean KL to the prior above
      0.1 nats, :mod:`dislab.metrics.active`), which a latent with a wide but moving posterior
      can be too;
    * ``polarised_fraction``: share of latents with v_j < ``margin`` or v_j > 1 − ``margin``, in
      [0, 1]; 1 when every latent is clearly on one side.

    The thresholds assume a prior of unit scale (the standard normal; learned priors may differ).
    ``logvar``: posterior log-variances ``(n, d)``.
    """
    logvar = np.asarray(logvar, dtype=np.float64)
    if logvar.ndim != 2 or len(logvar) == 0:
        raise ValueError(f"logvar must be (n, d) with n >= 1, got shape {logvar.shape}")
    v = np.exp(logvar).mean(axis=0)  # (d,)
    low = v < threshold
    polarised = (v < margin) | (v > 1.0 - margin)
    return {"mean_variance": v.tolist(), "low_variance": low.tolist(), "n_polarised": int(low.sum()),
            "polarised_fraction": float(polarised.mean()), "threshold": float(threshold)}


def local_pca_alignment(J: np.ndarray, neighbourhoods: list[np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
    """Alignment of the latent axes with the principal directions of the data around each point.

    For point i, the local linearisation of the data is the PCA of its neighbourhood
    ``neighbourhoods[i]`` ``(k, D)`` (its k nearest data points, centred on their mean): the top-a
    right singular vectors U_i ``(D, a)``, a = number of columns of J_i. The decoder's columns,
    normalised, Ĵ_i = J_i / ||J_i,j|| ``(D, a)``, are the image-space directions of the latent axes;
    M = U_iᵀ Ĵ_i holds their cosines with the principal directions. Per point ``(n,)``:

    * ``subspace_overlap``: mean_j ||M_:,j||² ∈ [0, 1], the share of each axis's direction inside the
      local principal subspace (1: the latents move the image along the data's main directions).
    * ``axis_alignment``: mean |cos| over the best one-to-one matching of axes to principal
      directions (linear assignment on |M|) ∈ [0, 1]; 1 when each latent axis *is* one principal
      direction (Rolinek et al.'s "PCA directions"), ~1/sqrt(2) for axes rotated 45° inside the plane.
    """
    J = _batched(J)
    n, D, a = J.shape
    if len(neighbourhoods) != n:
        raise ValueError(f"need one neighbourhood per Jacobian: {n} Jacobians, {len(neighbourhoods)} neighbourhoods")
    overlap, align = np.empty(n), np.empty(n)
    for i in range(n):
        nb = np.asarray(neighbourhoods[i], dtype=np.float64)
        if nb.ndim != 2 or nb.shape[1] != D or nb.shape[0] <= a:
            raise ValueError(f"neighbourhood {i} must be (k, {D}) with k > {a} points, got shape {nb.shape}")
        _, _, vt = np.linalg.svd(nb - nb.mean(axis=0), full_matrices=False)
        U = vt[:a].T  # (D, a) principal directions
        norms = np.linalg.norm(J[i], axis=0)
        Jn = J[i] / np.where(norms > 0, norms, 1.0)
        M = U.T @ Jn  # (a, a)
        overlap[i] = (M ** 2).sum(axis=0).mean()
        rows, cols = linear_sum_assignment(-np.abs(M))
        align[i] = np.abs(M[rows, cols]).mean()
    return {"subspace_overlap": overlap, "axis_alignment": align}
