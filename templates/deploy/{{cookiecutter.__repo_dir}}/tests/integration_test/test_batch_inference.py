"""The stage's batch inference: every record gets a prediction under its own id."""

from __future__ import annotations


def test_every_record_gets_one_prediction(target, batch_predictions):
    assert len(batch_predictions) == len(target.records)
    assert "prediction" in batch_predictions.columns


def test_ids_are_joined_back_in_order(target, batch_predictions):
    assert batch_predictions[target.id_column].tolist() == target.records[target.id_column].tolist()


def test_prediction_values_fit_the_problem_type(target, batch_predictions):
    if target.problem_type == "binary_classification":
        assert set(batch_predictions["prediction"].unique()) <= {0, 1}
        assert batch_predictions["probability"].between(0, 1).all()
    else:
        assert batch_predictions["prediction"].notna().all()
