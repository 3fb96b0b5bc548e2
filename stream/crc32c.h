// CRC-32C (Castagnoli), the checksum of every record frame on disk. Uses the SSE4.2 instruction
// when the CPU has it and a table otherwise; both give the same values.
// Stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::stream {

// CRC-32C of `size` bytes at `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace sluice::stream
