"""R2 operation billing classes (Cloudflare R2 pricing page; reference section 3.2)."""

from __future__ import annotations

CLASS_A = frozenset({
    "ListBuckets", "PutBucket", "ListObjects", "ListObjectsV2", "PutObject", "CopyObject",
    "CompleteMultipartUpload", "CreateMultipartUpload", "LifecycleStorageTierTransition",
    "ListMultipartUploads", "UploadPart", "UploadPartCopy", "ListParts",
    "PutBucketEncryption", "PutBucketCors", "PutBucketLifecycleConfiguration",
})
CLASS_B = frozenset({
    "HeadBucket", "HeadObject", "GetObject", "UsageSummary", "GetBucketEncryption",
    "GetBucketLocation", "GetBucketCors", "GetBucketLifecycleConfiguration",
})
FREE = frozenset({"DeleteObject", "DeleteBucket", "AbortMultipartUpload"})
READS = frozenset({"GetObject", "HeadObject"})  # object reads (IA retrieval on GetObject)
#: Requests refused for authentication or authorization are not billed; other failures are.
NOT_BILLED_STATUS_CODES = frozenset({401, 403})


def op_class(action_type: str) -> str:
    """'A', 'B' or 'free' for an R2 action.

    Actions not on the list are billed as Class A, the dearer class, so an unknown action
    can only overstate the bill. Requests refused with 401/403 are not billed at all
    (`NOT_BILLED_STATUS_CODES`); the cost model leaves them out before classing.

    >>> op_class("ListObjectsV2"), op_class("GetObject"), op_class("DeleteObject")
    ('A', 'B', 'free')
    """
    if action_type in FREE:
        return "free"
    if action_type in CLASS_B:
        return "B"
    return "A"
