"""The grading system: instructors' and maintainers' side of the course (nbgrader glue, trusted
judging, the kernel sandbox, intake, parallel grading). Students never import it.

Imports go one way: this package may use the notebook helpers (``dlcourse.checks``, ``dlcourse.data``,
...), the helpers never import this package.
"""
