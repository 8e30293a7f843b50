"""etl-workbench: the stages of a serverless AWS ETL pipeline, runnable on a laptop.

Layers, each importing only the ones before it::

    core -> storage -> stages -> jobs | lambdas -> local -> notebooks -> cli (| deploy)

``core`` holds dataset definitions, errors and the quality score; ``storage`` the lake, the
catalog and atomic publishing; ``stages`` one module per pipeline stage; ``jobs`` the Glue
job and ``lambdas`` the Lambda handlers (what AWS runs); ``local`` the workflow runner and
the AWS stand-ins a laptop needs; ``notebooks`` and ``cli`` the tools on top.
"""

__version__ = "0.1.0"
