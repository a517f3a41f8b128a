"""Shared pytest set-up: quick offline mode everywhere, reports merged at the end of a run."""

import os
import time

# The suite is defined in quick offline mode (thresholds and budgets are calibrated for it),
# whatever the developer's shell exports.
os.environ["DLCOURSE_MODE"] = "quick"
os.environ["DLCOURSE_OFFLINE"] = "1"
os.environ.pop("NBGRADER_EXECUTION", None)
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config._dlcourse_started = time.time() - 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller merges
        return
    from dlcourse.tools import reports

    paths = sorted({str(a).split("/")[0].split("::")[0] for a in config.args}) or ["all"]
    reports.record("phases", "pytest " + " ".join(paths), {
        "seconds": round(time.time() - config._dlcourse_started, 1), "exit_status": int(exitstatus),
        "passed": len(terminalreporter.stats.get("passed", [])), "failed": len(terminalreporter.stats.get("failed", []))})
    for kind in ("phases", "grading-units"):
        reports.merge(kind, config._dlcourse_started)
    for kind, key in (("notebooks", "seconds"), ("grading", "seconds_per_submission_max")):
        report = reports.merge(kind, config._dlcourse_started)
        if report.get("items"):
            terminalreporter.write_sep("-", f"slowest {kind} (reports/{kind}.json)")
            terminalreporter.write_line(reports.slowest_table(report, key))
