"""Studies: the case-study runner, the flagship demo (case study 01) and the SBC study (05).

Entry points that use every layer below them; the ``bayesinv`` command calls these.
"""
