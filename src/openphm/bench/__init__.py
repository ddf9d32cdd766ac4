"""The benchmark: every stage of a programme run on a synthetic region of a given size, each
in a fresh process so its peak memory is its own, timed in one run so ratios between stages
(and against the I/O floor) compare like with like.

Writes a scratch region and workspace under the output folder; reads nothing else.
"""
