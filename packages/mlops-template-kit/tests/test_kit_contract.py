"""The build-train <-> deploy contract: one URI builder that the data-layout check accepts, the
model metadata keys read back as written, the parameters a retraining run sends by data source,
and prepare_data's transform command."""

from __future__ import annotations

import argparse

import pytest

from mlops_template_kit import contract, data_layout

BUCKET, PROJECT, BUILD = "artifacts", "churn", "20261202T063000Z-1a2b3c4"


def layout() -> data_layout.Layout:
    return data_layout.Layout(BUCKET, PROJECT, BUILD, [contract.PREPARE_STEP, "TrainModel"])


def test_the_uris_deploy_reads_are_inside_the_layout_build_train_is_held_to():
    read_by_deploy = [
        contract.algorithms_uri(BUCKET, PROJECT, BUILD),
        contract.preprocessor_uri(BUCKET, PROJECT, BUILD),
        contract.code_uri(BUCKET, PROJECT, BUILD, contract.SOURCE_DIR_ARCHIVE),
        contract.code_uri(BUCKET, PROJECT, BUILD, contract.BUILD_CONFIG),
    ]
    assert layout().problems(read_by_deploy, "deploy") == []
    assert contract.preprocessor_uri(BUCKET, PROJECT, BUILD) == (
        f"s3://{BUCKET}/{PROJECT}/ml-pipeline-outputs/{BUILD}/PrepareData/preprocessor/"
    )
    assert contract.algorithms_uri(BUCKET, PROJECT, BUILD) == f"s3://{BUCKET}/{PROJECT}/code/{BUILD}/algorithms/"


def test_another_builds_outputs_are_outside_the_layout():
    elsewhere = contract.preprocessor_uri(BUCKET, PROJECT, "another-build")
    assert layout().problems([elsewhere], "deploy") == [f"deploy: {elsewhere} is outside the data layout"]


def test_an_unknown_area_is_refused():
    with pytest.raises(ValueError, match="unknown S3 area 'models'"):
        contract.area_uri(BUCKET, PROJECT, "models", BUILD)


def test_parts_are_joined_with_one_slash():
    assert contract.code_uri(BUCKET, f"{PROJECT}/", f"/{BUILD}/", "algorithms/") == (
        f"s3://{BUCKET}/{PROJECT}/code/{BUILD}/algorithms"
    )


def test_the_build_id_is_read_back_from_the_metadata_a_build_registers():
    assert contract.build_id_of(contract.model_metadata(BUILD)) == BUILD
    assert contract.model_metadata(BUILD, branch="feature/x") == {"build_id": BUILD, "branch": "feature/x"}


@pytest.mark.parametrize("metadata", [None, {}, {"build_id": ""}, {"BuildId": BUILD}])
def test_a_model_without_a_build_id_has_none(metadata):
    assert contract.build_id_of(metadata) is None


@pytest.mark.parametrize("source", ["s3", "athena"])
def test_the_data_source_is_read_back_from_the_metadata_a_build_registers(source):
    metadata = contract.model_metadata(BUILD, data_source=source)
    assert metadata == {"build_id": BUILD, "data_source": source}
    assert contract.data_source_of(metadata) == source
    assert contract.data_source_of({"build_id": BUILD}) is None


def test_an_unknown_data_source_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match=r"^data_source 'delta' is not one of s3, athena$"):
        contract.data_source_of({"data_source": "delta"})


def test_a_retraining_run_sends_input_data_only_to_a_pipeline_that_reads_s3():
    newest = f"s3://{BUCKET}/{PROJECT}/input/"
    assert contract.retraining_parameters("s3", newest) == {
        "InputDataUrl": newest,
        "ModelApprovalStatus": "PendingManualApproval",
    }
    for source in ("athena", None):
        assert contract.retraining_parameters(source, newest) == {"ModelApprovalStatus": "PendingManualApproval"}


def test_the_transform_command_names_every_folder_it_needs():
    parser = argparse.ArgumentParser()
    for option in ("--mode", "--input-dir", "--output-dir", "--preprocessor-dir"):
        parser.add_argument(option, required=True)
    parsed = parser.parse_args(contract.prepare_transform_arguments("in", "out", "fitted"))
    assert vars(parsed) == {"mode": "transform", "input_dir": "in", "output_dir": "out", "preprocessor_dir": "fitted"}
    assert contract.TRANSFORM_OUTPUTS == (contract.FEATURES_OUTPUT, contract.IDS_OUTPUT, contract.RAW_FEATURES_OUTPUT)
