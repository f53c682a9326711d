"""Pure loss terms, each a small function citing the equation it implements.

Models compose these in a few lines; nothing here holds state or parameters.
Conventions: per-sample terms have shape ``(batch,)``; models average over the batch.
"""
