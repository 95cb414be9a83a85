"""Operations verbs' logic, against the local stack or a deployment on AWS alike.

:mod:`ddbstream.ops.target` says which deployment a verb works on (:class:`Deployment`: its
Terraform outputs and boto3 clients). Not part of the Lambda package.
"""
