"""A local endpoint behind the SageMaker container and runtime contracts: serve, test, bench."""
