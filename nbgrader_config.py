"""nbgrader configuration of the course (source: solutions/, release: assignments/).

Each setting below closes a known trap; see docs/ or the README's grading section.
"""

import os

c = get_config()  # noqa: F821 - injected by nbgrader

c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"

# nbgrader's stub replaces solutions in the release; given as a dict (the string form is deprecated).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Every cell gets an explicit time limit; a cell that runs past it (an infinite loop) fails alone.
c.Execute.timeout = int(os.environ.get("DLCOURSE_CELL_TIMEOUT", "120"))
c.Execute.interrupt_on_timeout = True
# A cell's outputs may arrive after its reply; nbclient waits 4 s for them by default, and a busy
# grading machine (TensorFlow's start-up messages under load) has missed that, failing the cell.
c.Execute.iopub_timeout = 30
# nbclient skips cells tagged 'skip-execution' by default: a student tagging a locked test cell
# with it would get its points without running it. Point the option at a tag nobody uses, and
# strip execution-skipping tags from submissions before grading as a second line of defence.
c.Execute.skip_cells_with_tag = "dlcourse-internal-never-used"
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "dlcourse.grader.nbgrading.StripSkipTags",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Hidden verdicts are decided here, in the grader's process, never in the student's kernel:
# JudgedExecute writes each test cell's hidden inputs, runs the notebook (a cell that kills the
# kernel costs only the cells after it), then judges what the test cells recorded against
# expected values from solutions/<aid>/judge.py and writes the verdict into each test cell's
# outputs (dlcourse/grader/judge.py). Outputs are cut to 20,000 characters afterwards so a
# print bomb cannot bloat the gradebook or the feedback.
c.Autograde.autograde_preprocessors = [
    "dlcourse.grader.judge.JudgedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "dlcourse.grader.nbgrading.LimitOutputSize",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# nbgrader gives 0 to a test cell with any stderr output. TensorFlow's C++ and absl logs go to
# stderr (GPU probing, oneDNN notes), and so do Python warnings (a deprecation in NumPy, say);
# neither is a failed test. Drop only such outputs; a failed check is an error output and stays.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]|WARNING: All log messages before absl|"
    r"WARNING:absl:|\S*cuda\S*|oneDNN custom operations|To enable the following instructions|"
    r"\S+:\d+: \w*Warning: )"
)

# Kernels inherit this process's environment: keep TensorFlow's start-up chatter off stderr.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# A submission whose test cell was deleted (or lost its metadata in Colab) gets the cell back
# from the gradebook instead of a silent 0; `dlcourse grade` reports it (intake checks).
c.OverwriteCells.add_missing_cells = True

# The judge module of each assignment is instructor-only: never copied into the release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "judge.py", ".grader"]

# Feedback returned to students shows each check's verdict and message, not the hidden test code.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "dlcourse.grader.nbgrading.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
