#include "delivery/sigv4.h"

#include <catch2/catch.hpp>

#include "delivery/s3_store.h"

namespace sluice::delivery {
namespace {

TEST_CASE("SigV4 reproduces the wire-formats.md 4.2 test vector", "[sigv4]") {
  const std::string body = R"({"StreamName":"my-stream","Data":"aGVsbG8=","PartitionKey":"pk1"})";
  const SigV4Request request{
      .method = "POST",
      .host = "kinesis.us-east-1.amazonaws.com",
      .canonical_uri = "/",
      .canonical_query = "",
      .headers = {{"x-amz-target", "Kinesis_20131202.PutRecord"},
                  {"x-amz-date", "20240101T000000Z"},
                  {"content-type", "application/x-amz-json-1.1"}},
      .payload_sha256_hex = Sha256Hex(body),
  };

  CHECK(SigV4Authorization(request, "20240101T000000Z", "us-east-1", "kinesis", "AKIDEXAMPLE",
                           "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY") ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
        "Signature=4eec0d0fedf2b476e6050124f06f1854f1d40f340f3028937e9efc9403c64279");
}

// Computed with botocore 1.43.11's S3SigV4Auth for PUT http://127.0.0.1:4568/lake/a%20b/%C3%BC.gz
// with body "hello" and session token "TOKEN" at 20260101T000000Z.
TEST_CASE("SigV4 signs an S3 PutObject of an encoded key as botocore does", "[sigv4]") {
  const std::string payload_hash = Sha256Hex("hello");
  const SigV4Request request{
      .method = "PUT",
      .host = "127.0.0.1:4568",
      .canonical_uri = UriEncodePath("/lake/a b/\xc3\xbc.gz"),
      .canonical_query = "",
      .headers = {{"x-amz-content-sha256", payload_hash},
                  {"x-amz-date", "20260101T000000Z"},
                  {"x-amz-security-token", "TOKEN"}},
      .payload_sha256_hex = payload_hash,
  };
  CHECK(SigV4Authorization(request, "20260101T000000Z", "us-east-1", "s3", "S3RVER", "S3RVER") ==
        "AWS4-HMAC-SHA256 Credential=S3RVER/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
        "Signature=d33ed42984379fc67e6fa082e565b9abe95941d26a662ada2545be23f4c7d4f6");
}

TEST_CASE("SigV4 signs header names lower-cased and values with spaces trimmed", "[sigv4]") {
  const SigV4Request tidy{
      .method = "PUT",
      .host = "127.0.0.1:4568",
      .canonical_uri = "/bucket/key",
      .canonical_query = "",
      .headers = {{"x-amz-date", "20260101T000000Z"}, {"x-amz-meta-note", "a b"}},
      .payload_sha256_hex = Sha256Hex(""),
  };
  SigV4Request untidy = tidy;
  untidy.headers = {{"X-Amz-Date", " 20260101T000000Z "}, {"X-Amz-Meta-Note", "a   b  "}};

  const auto sign = [](const SigV4Request& request) {
    return SigV4Authorization(request, "20260101T000000Z", "us-east-1", "s3", "AKID", "SECRET");
  };
  CHECK(sign(untidy) == sign(tidy));
  SigV4Request other_key = tidy;
  other_key.canonical_uri = "/bucket/other";
  CHECK(sign(other_key) != sign(tidy));
}

TEST_CASE("Sha256Hex is lower-case hex of the bytes", "[sigv4]") {
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex(std::string("\0\xff", 2)) ==
        "06eb7d6a69ee19e5fbdf749018d3d2abfa04bcbd1365db312eb86dc7169389b8");
}

TEST_CASE("UriEncodePath keeps unreserved characters and slashes, encodes the rest", "[sigv4]") {
  CHECK(UriEncodePath("/bucket/a-b_c.d~e/F9") == "/bucket/a-b_c.d~e/F9");
  CHECK(UriEncodePath("/b/a b+c=d&e") == "/b/a%20b%2Bc%3Dd%26e");
  CHECK(UriEncodePath("/b/\xc3\xbc") == "/b/%C3%BC");  // "ü" as UTF-8
  CHECK(UriEncodePath("%") == "%25");
}

}  // namespace
TEST_CASE("S3 requests are signed for the region an AWS endpoint names") {
  CHECK(S3RegionOfEndpoint("https://s3.eu-west-1.amazonaws.com", "us-east-1") == "eu-west-1");
  CHECK(S3RegionOfEndpoint("https://s3-ap-south-1.amazonaws.com", "us-east-1") == "ap-south-1");
  CHECK(S3RegionOfEndpoint("https://s3.dualstack.us-west-2.amazonaws.com:443", "x") == "us-west-2");
  CHECK(S3RegionOfEndpoint("https://s3.amazonaws.com", "us-east-1") == "us-east-1");
  CHECK(S3RegionOfEndpoint("http://127.0.0.1:4568", "us-east-1") == "us-east-1");
  CHECK(S3RegionOfEndpoint("http://minio.local:9000", "eu-central-1") == "eu-central-1");
}

}  // namespace sluice::delivery
