"""Where a model's reparameterisation noise comes from.

Every model holds one :class:`Noise` (``model.noise``) and draws ε ~ N(0, I) of
``z = μ + σ·ε`` (Kingma & Welling 2014, Eq. 10) from it, in
:meth:`dislab.models.base.LatentVariableModel.reparameterize`. By default the draws come from torch's
default generator of the tensor's device, as ``torch.randn_like`` draws, so a seeded run is the
same, bit for bit, as before this class existed. A caller that needs other noise says so through
this object instead of replacing a method:

* ``Noise(generator)``: draw from an explicit ``torch.Generator``;
* ``with model.noise.given(eps): model(x)``: the forward's first draw of ``eps``'s shape *is*
  ``eps``. The stacked-seeds trainer (:mod:`dislab.studies.stacked`) uses it under ``vmap``: it
  draws each member's ε from that member's own generator before the step (vmap cannot draw from
  K generators) and hands the slice to the member's forward.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch


class Noise:
    """A source of standard normal noise for a model's reparameterisation.

    Args:
        generator: the ``torch.Generator`` to draw from; None (default): torch's default generator
            of the device of the tensor a draw is shaped like (``torch.randn_like``).
    """

    def __init__(self, generator: torch.Generator | None = None):
        self.generator = generator
        self._given: list[torch.Tensor] = []  # draws handed in by given(), not yet taken

    def normal_like(self, t: torch.Tensor) -> torch.Tensor:
        """ε ~ N(0, I) of ``t``'s shape, dtype and device.

        Inside :meth:`given`, the first draw whose shape equals the given tensor's returns that
        tensor (as it is: same dtype, possibly a vmap-batched tensor); every other draw comes from
        the generator."""
        if self._given and self._given[-1].shape == t.shape:
            return self._given.pop()
        if self.generator is None:
            return torch.randn_like(t)
        return torch.randn(t.shape, generator=self.generator, dtype=t.dtype,
                           device=self.generator.device).to(t.device)

    @contextlib.contextmanager
    def given(self, eps: torch.Tensor | None) -> Iterator[None]:
        """Within the block, the first draw of ``eps``'s shape is ``eps`` (None: no change).
        Draws of other shapes, and any after it, come from the generator; whatever was not taken
        is forgotten when the block ends, also on an error."""
        if eps is None:
            yield
            return
        before = list(self._given)
        self._given = [eps]
        try:
            yield
        finally:
            self._given = before
