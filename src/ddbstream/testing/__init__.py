"""Test data for the processor, outside the Lambda package: stream records as Lambda delivers
them (:mod:`.records`) and in-memory sinks for the pipeline (:mod:`.memory`).

Used by the tests, the benchmark and ``ddbstream handler-demo``; ``ddbstream package`` leaves
this directory out of the function's zip.
"""
