"""The sandbox's own table of R2 operation classes, written from Cloudflare's R2 pricing page
(reference §3.2), independently of the library's `costs.r2_classes`.

The simulated account's ground truth classes its requests with this table and the library's
cost model with its own, so a wrong class in either makes the costs tests fail (a test also
compares the two tables entry by entry).
"""

from __future__ import annotations

from ..errors import SandboxError

#: action -> billing class, as the pricing page lists them ("free": not billed)
OPERATION_CLASSES: dict[str, str] = {
    # Class A
    "ListBuckets": "A",
    "PutBucket": "A",
    "ListObjects": "A",
    "ListObjectsV2": "A",  # "ListObjects/ListObjectsV2 are Class A"
    "PutObject": "A",
    "CopyObject": "A",
    "CompleteMultipartUpload": "A",
    "CreateMultipartUpload": "A",
    "LifecycleStorageTierTransition": "A",
    "ListMultipartUploads": "A",
    "UploadPart": "A",
    "UploadPartCopy": "A",
    "ListParts": "A",
    "PutBucketEncryption": "A",
    "PutBucketCors": "A",
    "PutBucketLifecycleConfiguration": "A",
    # Class B
    "HeadBucket": "B",
    "HeadObject": "B",
    "GetObject": "B",
    "UsageSummary": "B",
    "GetBucketEncryption": "B",
    "GetBucketLocation": "B",
    "GetBucketCors": "B",
    "GetBucketLifecycleConfiguration": "B",
    # free
    "DeleteObject": "free",
    "DeleteBucket": "free",
    "AbortMultipartUpload": "free",
}


def operation_class(action_type: str) -> str:
    """'A', 'B' or 'free' for an action the sandbox emits; an unlisted one is a sandbox bug.

    >>> operation_class("ListObjectsV2"), operation_class("GetObject")
    ('A', 'B')
    """
    try:
        return OPERATION_CLASSES[action_type]
    except KeyError:
        raise SandboxError(f"the sandbox emitted R2 action {action_type!r}, which its "
                           "operation-class table does not list") from None
