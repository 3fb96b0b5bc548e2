// Where a new mapping starts reading: TRIM_HORIZON (everything kept), LATEST (only what is put
// after Create returns) and AT_TIMESTAMP (what arrived at or after the timestamp).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/poller/poller_fixture.h"

namespace sluice::poller::testing {
namespace {

using Strings = std::vector<std::string>;

TEST_CASE("StartingPosition decides which records a new mapping gets") {
  PollerFixture f;

  SECTION("TRIM_HORIZON: every record kept, old and new") {
    f.Put({{"k", "old0"}, {"k", "old1"}});
    const std::string uuid = f.Attach({{"StartingPosition", "TRIM_HORIZON"}});
    const std::string last = f.Put("k", "new0");
    f.WaitForPosition(uuid, last);
    CHECK(DataOf(f.Batches()) == Strings{"old0", "old1", "new0"});
  }

  SECTION("LATEST: records put after Create, not earlier ones") {
    f.Put({{"k", "old0"}, {"k", "old1"}});
    const std::string uuid = f.Attach({{"StartingPosition", "LATEST"}});
    const Strings fresh = f.Put({{"k", "new0"}, {"k", "new1"}});
    f.WaitForPosition(uuid, fresh.back());
    CHECK(DataOf(f.Batches()) == Strings{"new0", "new1"});
    CHECK(f.Count("k") == 2);
  }

  SECTION("AT_TIMESTAMP: records that arrived at or after the timestamp") {
    f.Put({{"k", "before0"}, {"k", "before1"}});
    const int64_t cut_ms = f.clock().UnixMillis() + 5000;
    f.clock().Advance(std::chrono::seconds(10));
    const Strings after = f.Put({{"k", "after0"}, {"k", "after1"}});
    const std::string uuid = f.Attach(
        {{"StartingPosition", "AT_TIMESTAMP"}, {"StartingPositionTimestamp", cut_ms / 1000.0}});
    f.WaitForPosition(uuid, after.back());
    CHECK(DataOf(f.Batches()) == Strings{"after0", "after1"});
  }
}

}  // namespace
}  // namespace sluice::poller::testing
