// Timestamps as text.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

// ISO 8601 in UTC with milliseconds: "2026-11-22T05:30:00.123Z" (the form SNS's Timestamp and
// host logs use).
std::string IsoUtcMillis(int64_t unix_ms);

}  // namespace sluice
