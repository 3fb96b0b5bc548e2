// Uint128: the unsigned 128-bit integers of Kinesis hash keys and sequence numbers, and their
// decimal text form. They live in the SDK's hash key library (sluice/hash_key.h), which functions
// share with the stream; these are the stream's names for them.
#pragma once

#include "sluice/hash_key.h"

namespace sluice::stream {

using ::sluice::kMaxUint128;
using ::sluice::ParseDecimal;
using ::sluice::ToDecimal;
using ::sluice::Uint128;

}  // namespace sluice::stream
