"""S3 object storage through boto3."""

from adapters.storage.s3 import S3Storage, content_type_of

__all__ = ["S3Storage", "content_type_of"]
