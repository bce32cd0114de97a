"""The sandbox's R2: moto's S3 server seeded with the simulated objects, read with boto3."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from botocore.exceptions import ClientError
from moto.s3.models import s3_backends

from lc_analytics.errors import R2Error, SandboxError
from lc_analytics.sandbox import BUCKETS
from lc_analytics.sandbox.r2 import DEFAULT_ABORT_RULE_ID, _r2_call, start_r2

COLUMNS = ["bucket", "key", "size", "etag", "last_modified", "storage_class"]
ABORT_RULE = {"ID": DEFAULT_ABORT_RULE_ID, "Filter": {"Prefix": ""}, "Status": "Enabled",
              "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}


@pytest.fixture(scope="module")
def r2(shared_account):
    """One sandbox over the shared account; tests here only read from it."""
    with start_r2(shared_account) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def s3(r2):
    return r2.client()


def list_all(s3, bucket: str, **params) -> tuple[list[dict], list[int]]:
    """Every object of a bucket, following continuation tokens; also the page sizes."""
    objects, pages, token = [], [], None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, **params, **extra)
        contents = page.get("Contents", [])
        objects += [dict(o, bucket=bucket) for o in contents]
        pages.append(len(contents))
        assert page["KeyCount"] == len(contents)
        if not page["IsTruncated"]:
            return objects, pages
        token = page["NextContinuationToken"]


def listing_frame(objects: list[dict]) -> pd.DataFrame:
    """ListObjectsV2 entries in the shape of `visible_objects()`."""
    frame = pd.DataFrame({
        "bucket": [o["bucket"] for o in objects],
        "key": [o["Key"] for o in objects],
        "size": pd.array([o["Size"] for o in objects], dtype="int64"),
        "etag": [o["ETag"].strip('"') for o in objects],
        "last_modified": pd.to_datetime([o["LastModified"] for o in objects], utc=True),
        "storage_class": [o["StorageClass"] for o in objects],
    })
    return normalised(frame)


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Sorted, second-precision UTC times (moto lists LastModified to the second)."""
    out = frame[COLUMNS].sort_values(["bucket", "key"]).reset_index(drop=True)
    out["last_modified"] = out["last_modified"].dt.floor("s").astype("datetime64[ns, UTC]")
    return out


def expected_objects(account) -> pd.DataFrame:
    return normalised(account.visible_objects())


def test_sandbox_serves_every_simulator_bucket(r2, s3):
    names = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    assert names == sorted(BUCKETS.values()) == list(r2.buckets)
    assert r2.endpoint_url.startswith("http://127.0.0.1:")
    assert s3.meta.region_name == "auto"


def test_listing_with_default_page_size_equals_visible_objects(shared_account, r2, s3):
    objects, pages = [], []
    for bucket in r2.buckets:
        found, sizes = list_all(s3, bucket)
        objects += found
        pages += sizes
    assert max(pages) <= 1000
    got = listing_frame(objects)
    pd.testing.assert_frame_equal(got, expected_objects(shared_account))
    assert got["size"].sum() > 10**12  # realistic sizes, > 1 TB, and no bytes were allocated


def test_listing_with_small_pages_follows_continuation_tokens(shared_account, r2, s3):
    objects, pages = [], []
    for bucket in r2.buckets:
        found, sizes = list_all(s3, bucket, MaxKeys=97)
        objects += found
        pages += sizes
    assert max(pages) == 97 and len(pages) > len(r2.buckets)
    pd.testing.assert_frame_equal(listing_frame(objects), expected_objects(shared_account))


def test_objects_and_bytes_per_class_equal_ground_truth(shared_account, r2, s3):
    objects = [o for bucket in r2.buckets for o in list_all(s3, bucket)[0]]
    got = listing_frame(objects).groupby(["bucket", "storage_class"], as_index=False).agg(
        objects=("key", "size"), bytes=("size", "sum"))
    truth = shared_account.ground_truth().r2_objects_summary
    pd.testing.assert_frame_equal(got, truth, check_dtype=False)
    assert set(got["storage_class"]) == {"STANDARD", "STANDARD_IA"}


def test_head_object_reports_the_virtual_object(shared_account, s3):
    objs = shared_account.visible_objects()
    big = objs[objs["storage_class"] == "STANDARD_IA"].sort_values("size").iloc[-1]
    head = s3.head_object(Bucket=big["bucket"], Key=big["key"])
    assert head["ContentLength"] == big["size"] > 10**9
    assert head["ETag"] == f'"{big["etag"]}"'
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["ContentType"] == "video/mp4"
    assert pd.Timestamp(head["LastModified"]) == big["last_modified"].floor("s")


def test_range_get_returns_exact_deterministic_bytes(shared_account, s3):
    objs = shared_account.visible_objects()
    big = objs.sort_values("size").iloc[-1]
    last = int(big["size"]) - 1
    tail = s3.get_object(Bucket=big["bucket"], Key=big["key"], Range=f"bytes={last - 99}-")
    assert tail["ContentRange"] == f"bytes {last - 99}-{last}/{big['size']}"
    assert len(tail["Body"].read()) == tail["ContentLength"] == 100
    first = [s3.get_object(Bucket=big["bucket"], Key=big["key"], Range="bytes=0-4095")
             ["Body"].read() for _ in range(2)]
    assert len(first[0]) == 4096 and first[0] == first[1]


def test_small_object_get_streams_its_full_size(shared_account, s3):
    row = shared_account.visible_objects().iloc[0]
    body = s3.get_object(Bucket=row["bucket"], Key=row["key"])["Body"].read()
    assert len(body) == row["size"]


def test_lifecycle_rules_are_served_with_r2_default_rule(r2, s3):
    rules = {b: s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"] for b in r2.buckets}
    assert rules[BUCKETS["exports"]] == [
        {"ID": "exports-to-ia", "Filter": {"Prefix": "exports/"}, "Status": "Enabled",
         "Transitions": [{"Days": 90, "StorageClass": "STANDARD_IA"}]},
        {"ID": "archive-to-ia", "Filter": {"Prefix": "archive/"}, "Status": "Enabled",
         "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]},
        ABORT_RULE,
    ]
    assert rules[BUCKETS["reports"]] == [
        {"ID": "expire-reports", "Filter": {"Prefix": "reports/"}, "Status": "Enabled",
         "Expiration": {"Days": 60}},
        ABORT_RULE,
    ]
    assert rules[BUCKETS["thumbnails"]] == rules[BUCKETS["products"]] == [ABORT_RULE]


def sorted_rules(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["bucket", "rule_id"]).reset_index(drop=True)[
        ["bucket", "rule_id", "prefix", "transition_days", "transition_class", "expire_days"]]


def test_read_lifecycle_into_account_round_trips_then_applies_a_change(account):
    before = sorted_rules(account.lifecycle)
    thumbs = BUCKETS["thumbnails"]
    with start_r2(account) as sandbox:
        sandbox.read_lifecycle_into_account()
        pd.testing.assert_frame_equal(sorted_rules(account.lifecycle), before)
        assert (account.visible_objects().query("bucket == @thumbs")["storage_class"]
                == "STANDARD").all()

        s3 = sandbox.client()
        s3.put_bucket_lifecycle_configuration(Bucket=thumbs, LifecycleConfiguration={"Rules": [
            {"ID": "cold-show-thumbs", "Status": "Enabled", "Filter": {"Prefix": "shows/"},
             "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
             "Expiration": {"Days": 365}},
            ABORT_RULE,
        ]})
        s3.delete_bucket_lifecycle(Bucket=BUCKETS["reports"])
        sandbox.read_lifecycle_into_account()

    expected = pd.DataFrame([
        {"bucket": BUCKETS["exports"], "rule_id": "archive-to-ia", "prefix": "archive/",
         "transition_days": 30.0, "transition_class": "STANDARD_IA", "expire_days": None},
        {"bucket": BUCKETS["exports"], "rule_id": "exports-to-ia", "prefix": "exports/",
         "transition_days": 90.0, "transition_class": "STANDARD_IA", "expire_days": None},
        {"bucket": thumbs, "rule_id": "cold-show-thumbs", "prefix": "shows/",
         "transition_days": 30.0, "transition_class": "STANDARD_IA", "expire_days": 365.0},
    ]).astype(before.dtypes.to_dict())
    pd.testing.assert_frame_equal(sorted_rules(account.lifecycle), expected)
    moved = account.visible_objects().query("bucket == @thumbs")
    assert set(moved.loc[moved["key"].str.startswith("shows/"), "storage_class"]) == {
        "STANDARD", "STANDARD_IA"}
    assert (moved.loc[moved["key"].str.startswith("channels/"), "storage_class"]
            == "STANDARD").all()


def test_rules_the_simulation_cannot_follow_are_refused(account):
    with start_r2(account) as sandbox:
        sandbox.client().put_bucket_lifecycle_configuration(
            Bucket=BUCKETS["products"], LifecycleConfiguration={"Rules": [
                {"ID": "on-a-date", "Status": "Enabled", "Filter": {"Prefix": ""},
                 "Expiration": {"Date": "2027-01-01T00:00:00Z"}}]})
        with pytest.raises(SandboxError, match="on-a-date"):
            sandbox.read_lifecycle_into_account()


def test_two_sandboxes_do_not_see_each_others_changes(shared_account):
    reports = BUCKETS["reports"]
    victim = shared_account.visible_objects().query("bucket == @reports")["key"].iloc[0]
    with start_r2(shared_account) as one, start_r2(shared_account) as two:
        assert one.moto_account_id != two.moto_account_id
        assert (one.access_key_id, one.secret_access_key) == (
            two.access_key_id, two.secret_access_key)  # deterministic from the seed
        a, b = one.client(), two.client()
        a.put_object(Bucket=reports, Key="reports/extra.csv", Body=b"x,y\n1,2\n")
        a.delete_object(Bucket=reports, Key=victim)
        a.delete_bucket_lifecycle(Bucket=reports)
        a.create_bucket(Bucket="lc-scratch")

        extra = a.head_object(Bucket=reports, Key="reports/extra.csv")
        assert extra["ContentLength"] == 8
        assert pd.Timestamp(extra["LastModified"]) == shared_account.now  # the simulated clock
        with pytest.raises(ClientError):
            b.head_object(Bucket=reports, Key="reports/extra.csv")
        assert b.head_object(Bucket=reports, Key=victim)["ContentLength"] > 0
        assert len(b.get_bucket_lifecycle_configuration(Bucket=reports)["Rules"]) == 2
        with pytest.raises(ClientError, match="Not Found"):
            b.head_bucket(Bucket="lc-scratch")
        assert "lc-scratch" not in {x["Name"] for x in b.list_buckets()["Buckets"]}
        b.create_bucket(Bucket="lc-scratch")  # bucket names are per account, as in R2
        a.delete_bucket(Bucket="lc-scratch")
        b.head_bucket(Bucket="lc-scratch")

        a.create_bucket(Bucket=reports)  # us-east-1 (= auto) semantics: idempotent, keeps data
        assert a.head_object(Bucket=reports, Key="reports/extra.csv")["ContentLength"] == 8
    assert "lc-scratch" not in s3_backends.bucket_accounts


def test_copy_in_place_to_infrequent_access_keeps_the_object_virtual(shared_account):
    objs = shared_account.visible_objects()
    row = objs[objs["storage_class"] == "STANDARD"].sort_values("size").iloc[-1]
    with start_r2(shared_account) as sandbox:
        s3 = sandbox.client()
        s3.copy_object(Bucket=row["bucket"], Key=row["key"], StorageClass="STANDARD_IA",
                       CopySource={"Bucket": row["bucket"], "Key": row["key"]})
        head = s3.head_object(Bucket=row["bucket"], Key=row["key"])
        versions = s3.list_object_versions(Bucket=row["bucket"], Prefix=row["key"])["Versions"]
    assert [(v["Size"], v["StorageClass"]) for v in versions] == [(row["size"], "STANDARD_IA")]
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["ContentLength"] == row["size"] > 10**8
    assert head["ETag"] == f'"{row["etag"]}"'
    assert pd.Timestamp(head["LastModified"]) == shared_account.now


def test_close_stops_threads_and_forgets_the_moto_account(shared_account):
    before = set(threading.enumerate())
    sandbox = start_r2(shared_account)
    s3 = sandbox.client()
    s3.list_objects_v2(Bucket=BUCKETS["products"], MaxKeys=5)
    assert sandbox.moto_account_id in s3_backends
    sandbox.close()
    assert sandbox.moto_account_id not in s3_backends
    assert set(threading.enumerate()) - before == set()
    sandbox.close()  # idempotent


def test_credentials_are_masked_in_repr(r2):
    assert r2.secret_access_key not in repr(r2)
    assert len(r2.access_key_id) == 32 and len(r2.secret_access_key) == 64


def test_botocore_errors_become_r2_errors(s3):
    with pytest.raises(R2Error) as info:
        _r2_call(s3, "head_bucket", Bucket="lc-no-such-bucket")
    assert info.value.context["bucket"] == "lc-no-such-bucket"
    assert info.value.context["status"] == 404
    assert isinstance(info.value.__cause__, ClientError)


def test_a_busy_port_is_an_error_not_a_hang(r2, shared_account):
    port = int(r2.endpoint_url.rsplit(":", 1)[1])
    before = set(threading.enumerate())
    with pytest.raises(SandboxError, match="cannot serve R2"):
        start_r2(shared_account, port=port)
    assert set(threading.enumerate()) - before == set()


def test_moto_account_override_is_refused(shared_account, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "123456789012")
    with pytest.raises(SandboxError, match="MOTO_ACCOUNT_ID"):
        start_r2(shared_account)


# --- credentials: checked like R2 checks them ---------------------------------------------------
def client_with(r2, key_id: str, secret: str):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", endpoint_url=r2.endpoint_url, region_name="auto", aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def refusal(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


def test_wrong_credentials_are_refused_with_r2_error_codes(r2):
    wrong_secret = client_with(r2, r2.access_key_id, "0" * 64)
    unknown_key = client_with(r2, "0" * 32, r2.secret_access_key)
    aws_shaped = client_with(r2, "AKIAIOSFODNN7EXAMPLE", r2.secret_access_key)
    bucket = BUCKETS["thumbnails"]
    for call in (wrong_secret.list_buckets,
                 lambda: wrong_secret.list_objects_v2(Bucket=bucket, MaxKeys=1)):
        status, code, _ = refusal(call)
        assert (status, code) == (403, "SignatureDoesNotMatch")
    for call in (unknown_key.list_buckets,
                 lambda: unknown_key.get_bucket_lifecycle_configuration(Bucket=bucket)):
        status, code, _ = refusal(call)
        assert (status, code) == (403, "InvalidAccessKeyId")
    assert refusal(aws_shaped.list_buckets) == (
        400, "InvalidArgument", "Credential access key has length 20, should be 32")
    assert refusal(lambda: wrong_secret.put_object(Bucket=bucket, Key="x", Body=b"x"))[1] == \
        "SignatureDoesNotMatch"
    with pytest.raises(ClientError):
        r2.client().head_object(Bucket=bucket, Key="x")  # the refused write wrote nothing


def test_unsigned_requests_are_unauthorized(r2):
    import httpx

    r = httpx.get(f"{r2.endpoint_url}/{BUCKETS['thumbnails']}")
    assert r.status_code == 401
    assert "<Code>Unauthorized</Code>" in r.text
    head = httpx.head(f"{r2.endpoint_url}/{BUCKETS['thumbnails']}")
    assert head.status_code == 401 and head.content == b""
    r = httpx.get(f"{r2.endpoint_url}/{BUCKETS['thumbnails']}", headers={
        "Authorization": "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="})
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text  # SigV2: no


def test_presigned_urls_are_checked_too(shared_account, r2, s3):
    import httpx

    row = shared_account.visible_objects().sort_values("size").iloc[0]
    url = s3.generate_presigned_url("get_object", Params={"Bucket": row["bucket"],
                                                          "Key": row["key"]})
    ok = httpx.get(url)
    assert ok.status_code == 200 and len(ok.content) == row["size"]
    forged = client_with(r2, r2.access_key_id, "1" * 64).generate_presigned_url(
        "get_object", Params={"Bucket": row["bucket"], "Key": row["key"]})
    r = httpx.get(forged)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    other_key = url.replace(row["key"].rsplit("/", 1)[-1], "other.jpg")
    assert httpx.get(other_key).status_code == 403


def test_keys_with_spaces_and_unicode_are_signed_and_checked(r2):
    s3 = r2.client()
    bucket, key = BUCKETS["reports"], "reports/a b/ü+€ (1).csv"
    s3.put_object(Bucket=bucket, Key=key, Body=b"a,b\n", ContentType="text/csv")
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="reports/a b/")["Contents"]
        assert [o["Key"] for o in listed] == [key]
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"a,b\n"
    finally:
        s3.delete_object(Bucket=bucket, Key=key)


@pytest.mark.parametrize(("key_id", "secret", "code", "names"), [
    (None, "0" * 64, "SignatureDoesNotMatch", ["R2_SECRET_ACCESS_KEY", "R2_ACCESS_KEY_ID"]),
    ("0" * 32, None, "InvalidAccessKeyId", ["R2_ACCESS_KEY_ID"]),
    ("AKIAIOSFODNN7EXAMPLE", None, "InvalidArgument",
     ["R2_ACCESS_KEY_ID", "Credential access key has length 20, should be 32"]),
])
def test_the_r2_source_says_which_credential_to_fix(r2, key_id, secret, code, names):
    from lc_analytics.settings import Secret, Settings
    from lc_analytics.sources.r2 import R2Inventory

    secret = secret or r2.secret_access_key
    settings = Settings(account_id="0" * 32, r2_endpoint_url=r2.endpoint_url,
                        r2_access_key_id=key_id or r2.access_key_id,
                        r2_secret_access_key=Secret(secret))
    with pytest.raises(R2Error) as info:
        R2Inventory(settings).buckets()
    message = str(info.value)
    assert message.startswith(f"R2 refused the credentials for ListBuckets ({code}): ")
    for name in names:
        assert name in message
    assert info.value.context["code"] == code
    assert secret not in message and r2.secret_access_key not in message


def test_the_signature_check_reproduces_aws_published_example():
    """AWS's SigV4 example for S3 (GET Object with a Range header), signed by hand."""
    from lc_analytics.sandbox.sigv4 import _query_pairs, _read_signature, canonical_request, sign

    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": "/test.txt", "QUERY_STRING": "",
        "HTTP_HOST": "examplebucket.s3.amazonaws.com", "HTTP_RANGE": "bytes=0-9",
        "HTTP_X_AMZ_CONTENT_SHA256":
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "HTTP_X_AMZ_DATE": "20130524T000000Z",
        "HTTP_AUTHORIZATION": (
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    }
    signed = _read_signature(environ, _query_pairs(""))
    assert signed is not None and signed.key_id == "AKIAIOSFODNN7EXAMPLE"
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert sign(secret, signed.scope, signed.amz_date, canonical_request(environ, signed)) \
        == signed.signature
    assert sign(secret[:-1], signed.scope, signed.amz_date,
                canonical_request(environ, signed)) != signed.signature
