"""Recording of AWS calls in every Python process that has this folder on PYTHONPATH.

Python imports `sitecustomize` at start-up (https://docs.python.org/3/library/site.html). With
AUTHZ_CALL_LOG (a directory) and AUTHZ_ROLE (a key of authz.roles.ROLES) set, the recorder hooks
botocore once it is imported; without them this costs one environment look-up.
"""

import os

if os.environ.get("AUTHZ_CALL_LOG") and os.environ.get("AUTHZ_ROLE"):
    import authz_call_recorder

    authz_call_recorder.install_on_import()
