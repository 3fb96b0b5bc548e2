// The benchmark's function: accepts every record and reports no failures (a pass-through).
#include "sluice/function.h"

int main() {
  return sluice::Run(
      [](const sluice::StreamBatch&, sluice::Context&) { return sluice::StreamResponse(); });
}
