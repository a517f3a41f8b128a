"""Course maintenance: running notebooks, Colab cells, the datasets manifest, timing reports.

Like ``dlcourse.grader``, this package may import the notebook helpers; they never import it.
"""
