"""Why does a VAE disentangle? Decoder orthogonality (Rolinek et al. 2019; the IMA contrast of
Gresele et al. 2021), the polarised regime, and alignment with local PCA directions of the data.

Pure array measures live in :mod:`dislab.diagnostics.measures`; :func:`diagnose` runs them on a
model and dataset, :func:`diagnose_run` on a run folder (writes ``diagnostics.json``);
``dislab diagnose RUN`` is :mod:`dislab.diagnostics.cli`. See docs/mechanisms/diagnostics.md.
"""
from dislab.diagnostics.diagnose import DIAGNOSTICS, decoder_jacobian, diagnose, diagnose_run
from dislab.diagnostics.measures import (ima_contrast, jacobian_orthogonality, local_pca_alignment,
                                         polarisation, signed_permutation_distance)

__all__ = ["DIAGNOSTICS", "decoder_jacobian", "diagnose", "diagnose_run", "ima_contrast",
           "jacobian_orthogonality", "local_pca_alignment", "polarisation", "signed_permutation_distance"]
