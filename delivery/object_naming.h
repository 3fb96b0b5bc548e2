// Object keys as Firehose names them (wire-formats.md §5.5).
//
// A key is <evaluated prefix><stream>-<version>-<YYYY>-<MM>-<DD>-<HH>-<MM>-<SS>-<uuid><extension>,
// its time that of the oldest record in the object (UTC). Prefix expressions:
//   !{timestamp:FORMAT}            FORMAT in Java DateTimeFormatter letters: yyyy, MM, dd, HH, mm,
//                                  ss, and other text copied as it is (quoted 'text' too, ''
//                                  for a quote); other letters, '[', ']' and '#' are refused
//   !{firehose:random-string}      11 characters [a-z0-9], from the caller's randomness
//   !{firehose:error-output-type}  only in an ErrorOutputPrefix
// A prefix with no !{timestamp:...} gets "yyyy/MM/dd/HH/" appended as it is (plain
// concatenation, Firehose's rule: "myPrefix" gives "myPrefix2018/08/27/10/").
// Failed data goes under the ErrorOutputPrefix when there is one, else under
// <Prefix><error-output-type>/yyyy/MM/dd/HH/.
//
// Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::delivery {

// The error-output-type values Sluice writes.
inline constexpr char kProcessingFailed[] = "processing-failed";
inline constexpr char kHttpEndpointFailed[] = "http-endpoint-failed";
inline constexpr char kS3Failed[] = "s3-failed";  // object store unreachable past its retries
inline constexpr char kPostgresFailed[] = "postgresql-failed";

// OK when `prefix` parses: balanced !{...}, known namespaces and keys, a timestamp format of the
// letters above; !{firehose:error-output-type} only when `is_error_prefix`; and the
// ErrorOutputPrefix rule (an error prefix with expressions must contain
// !{firehose:error-output-type}); at most 1024 characters, evaluating to at most 512.
// INVALID_ARGUMENT naming the bad expression otherwise.
Status ValidatePrefix(std::string_view prefix, bool is_error_prefix);

// Evaluates a valid prefix at `unix_ms`. `random11` fills !{firehose:random-string};
// `error_output_type` fills !{firehose:error-output-type}. An invalid prefix comes back as it is.
std::string EvaluatePrefix(std::string_view prefix, int64_t unix_ms, std::string_view random11,
                           std::string_view error_output_type);

// The evaluated prefix for failed data of `error_output_type` (see above).
std::string EvaluateErrorPrefix(std::string_view prefix, std::string_view error_output_prefix,
                                int64_t unix_ms, std::string_view random11,
                                std::string_view error_output_type);

// <evaluated_prefix><stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid><extension>.
std::string ObjectKey(std::string_view evaluated_prefix, std::string_view stream_name,
                      int64_t version, int64_t unix_ms, std::string_view uuid,
                      std::string_view extension);

}  // namespace sluice::delivery
