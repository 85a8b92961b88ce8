"""Answers chosen when this repository was generated; steps use them only as argument defaults."""

from shared_libraries import sample_data

PROBLEM_TYPES = ("binary_classification", "regression")
PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"
FRAMEWORK = "{{ cookiecutter.framework }}"

# The bundled sample data set names its label after the problem type.
TARGET_COLUMN = sample_data.TARGET_COLUMNS[PROBLEM_TYPE]
ID_COLUMN = sample_data.ID_COLUMN
CATEGORICAL_COLUMNS = sample_data.CATEGORICAL_COLUMNS
RANDOM_SEED = 42
