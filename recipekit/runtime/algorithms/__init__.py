"""SparseML 1.8's training algorithms as pure torch functions (no runner state).

One module per algorithm: ``mask_creators`` (SparseML's mask rules, ties
included), ``obs``, ``movement``, ``structured``, ``distill``. Each function
reproduces SparseML's order of floating-point operations, so the results are
bitwise equal on CPU (tests/test_algorithms_*.py compare against fixtures
SparseML itself wrote). Imports torch only.
"""
