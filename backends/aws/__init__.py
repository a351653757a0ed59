"""The `aws` kind: EC2 instances of one or more AWS profiles and regions, as AWS users
configure their own tools (profiles, the default credential chain, SSO, retry modes, endpoint
overrides), with CloudWatch metrics. `source.py` is the light config half; boto3 is imported
only by `backend.py`, when a context opens an AWS source."""
