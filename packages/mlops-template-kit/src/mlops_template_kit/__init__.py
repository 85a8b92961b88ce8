"""Platform machinery shared by every repository generated from the SageMaker project templates.

Generated repositories pin this package to the template release they came from; a platform fix
reaches them as a version bump of that pin. Modules: `naming` (every AWS resource name within
its limit) and `update` (apply a newer template version, `mlops-kit update`).
"""
