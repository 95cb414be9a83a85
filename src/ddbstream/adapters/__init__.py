"""The effects at the edge: S3, SNS and CloudWatch metrics (EMF), each a thin boto3 wrapper.

They implement the sink protocols of :mod:`ddbstream.core.pipeline`; the logic stays in the core.
"""
