"""The sample data set: scikit-learn's bundled diabetes data, shaped like a raw business extract.

442 patients, ten baseline measurements and a quantitative measure of disease progression one
year later (Efron et al., "Least Angle Regression", 2004). It ships inside scikit-learn, so
nothing is downloaded. To look like real raw data it gets an `id` column, readable column names
and a categorical `sex` column; the binary use case labels patients whose progression is above
a fixed cut.
"""

from pathlib import Path

import pandas as pd

ID_COLUMN = "id"
CATEGORICAL_COLUMNS = ("sex",)
TARGET_COLUMNS = {"binary_classification": "high_progression", "regression": "progression"}
# Close to the median progression (140.5), so the two classes are balanced.
HIGH_PROGRESSION_CUT = 140
SAMPLE_FILENAME = "diabetes.csv"

# scikit-learn's short names -> the measurements they stand for (see load_diabetes' description).
COLUMN_NAMES = {
    "age": "age",
    "sex": "sex",
    "bmi": "bmi",
    "bp": "bp",
    "s1": "total_cholesterol",
    "s2": "ldl",
    "s3": "hdl",
    "s4": "cholesterol_hdl_ratio",
    "s5": "log_triglycerides",
    "s6": "glucose",
}
# The source codes sex as 1 and 2 without saying which is which; the letters only make it categorical.
SEX_LABELS = {1: "F", 2: "M"}


def load_raw_frame() -> pd.DataFrame:
    """The whole data set with the regression label `progression` (the raw measurement)."""
    from sklearn.datasets import load_diabetes  # only needed here: training containers never call it

    bunch = load_diabetes(as_frame=True, scaled=False)
    features = bunch.data.rename(columns=COLUMN_NAMES)
    features["age"] = features["age"].astype(int)
    features["sex"] = features["sex"].astype(int).map(SEX_LABELS)
    frame = pd.concat([features, bunch.target.astype(int).rename("progression")], axis=1)
    frame.insert(0, ID_COLUMN, range(1, len(frame) + 1))
    return frame


def label(frame: pd.DataFrame, problem_type: str) -> pd.DataFrame:
    """`frame` (with `progression`) carrying exactly the label of `problem_type`.

    The other label is dropped: leaving `progression` next to `high_progression` would leak the answer.
    """
    if problem_type not in TARGET_COLUMNS:
        raise ValueError(f"problem_type must be one of {sorted(TARGET_COLUMNS)}, not {problem_type!r}")
    if problem_type == "regression":
        return frame.copy()
    labelled = frame.drop(columns="progression")
    labelled[TARGET_COLUMNS[problem_type]] = (frame["progression"] > HIGH_PROGRESSION_CUT).astype(int)
    return labelled


def load_sample_frame(problem_type: str) -> pd.DataFrame:
    """The sample data set labelled for `problem_type`."""
    return label(load_raw_frame(), problem_type)


def write_sample_data(path: Path | str, problem_type: str) -> Path:
    """Write the sample data set for `problem_type` as CSV; return the file written.

    `path` is the CSV file, or an existing directory to write `diabetes.csv` into.
    """
    target = Path(path)
    if target.is_dir():
        target = target / SAMPLE_FILENAME
    target.parent.mkdir(parents=True, exist_ok=True)
    load_sample_frame(problem_type).to_csv(target, index=False)
    return target
