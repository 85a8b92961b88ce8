"""The demo's DAG summary shows steps, wiring and conditions of a definition as written."""

from mlops_template_kit.definition import summarise

DEFINITION = {
    "Version": "2020-12-01",
    "Parameters": [{"Name": "MinF1", "Type": "Float", "DefaultValue": 0.6}],
    "Steps": [
        {
            "Name": "Prepare",
            "Type": "Processing",
            "Arguments": {
                "ProcessingInputs": [{"InputName": "data", "S3Input": {"S3Uri": "s3://b/p/input/"}}],
                "ProcessingOutputConfig": {"Outputs": [{"OutputName": "train", "S3Output": {"S3Uri": "s3://b/o/"}}]},
            },
        },
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {
                        "Type": "Or",
                        "Conditions": [
                            {
                                "Type": "GreaterThanOrEqualTo",
                                "LeftValue": {
                                    "Std:JsonGet": {
                                        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"},
                                        "Path": "binary_classification_metrics.f1.value",
                                    }
                                },
                                "RightValue": {"Get": "Parameters.MinF1"},
                            },
                            {"Type": "Not", "Expression": {"Type": "In", "QueryValue": 1, "Values": [2, 3]}},
                        ],
                    }
                ],
                "IfSteps": [{"Name": "Register", "Type": "RegisterModel", "Arguments": {}}],
                "ElseSteps": [{"Name": "Fail", "Type": "Fail", "Arguments": {"ErrorMessage": "f1 too low"}}],
            },
        },
    ],
}


def test_summary_lists_steps_wiring_and_branches():
    text = summarise(DEFINITION)
    assert "parameters: MinF1=0.6" in text
    assert "- Prepare [Processing]" in text and "in  data: s3://b/p/input/" in text and "out train: s3://b/o/" in text
    assert "json(Steps.Evaluate.PropertyFiles.Evaluation @ binary_classification_metrics.f1.value)" in text
    assert "GreaterThanOrEqualTo Parameters.MinF1" in text and "not (1 in ['2', '3'])" in text
    assert "then: Register" in text and "else: Fail" in text
    assert "- Register [RegisterModel]" in text and "fails with: f1 too low" in text
