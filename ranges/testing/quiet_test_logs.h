// QuietTestLogs: a base for in-process test fixtures that start stores and gateways.
// They log every lease and election at info; in a failing test's output that buries
// the assertion CI shows. Constructed before the fixture's members, it sets spdlog to
// warn, or to the level RANGEDB_TEST_LOG names ("info", "debug", ...).
#pragma once

#include <cstdlib>

#include "spdlog/spdlog.h"

namespace rangedb::ranges {

struct QuietTestLogs {
  QuietTestLogs() {
    const char* level = std::getenv("RANGEDB_TEST_LOG");
    spdlog::set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::warn);
  }
};

}  // namespace rangedb::ranges
