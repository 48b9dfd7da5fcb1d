"""Pure numba kernels (private): physics and their adjoints on plain arrays.

Kernels know nothing of PyTensor or PyMC; they hold no state and are thread-safe.
"""
