"""Deployment code of the project: configuration, build and deploy steps, local endpoint."""
