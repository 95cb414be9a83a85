"""ddbstream: real-time processing of DynamoDB change streams."""

__version__ = "0.1.0"
