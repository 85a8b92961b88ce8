"""Local AWS services that outlive a run: one moto server (S3 and the SageMaker model registry) on
127.0.0.1, started and stopped by `mlops-kit local-aws`, its state kept under `.local-aws/` of the
build-train repository so a model registered by `make local-run` is still there for `make approve`,
the deploy repository's `make serve-local` / `make test-local`, and after a stop and start."""
