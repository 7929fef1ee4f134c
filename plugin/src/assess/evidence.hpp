// Building the Evidence a finding cites from a fact's source.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assess/assessment.hpp"

namespace ppmg::core {

// The coding shown is the first one in the value set (vs may be null: the first coding).
Evidence evidenceOf(const Source& s, const Codings& codes, const ValueSet* vs, std::string_view value,
                    const std::optional<DateTime>& when);

}  // namespace ppmg::core
