"""Serve a model bundle on 127.0.0.1 the way the SageMaker framework container and runtime do."""
