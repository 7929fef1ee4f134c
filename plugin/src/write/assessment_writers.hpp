// The assessment as JSON (the machine contract of `ppmg assess`) and as plain text for people.
#pragma once

#include <string>
#include <string_view>

#include "assess/assessment.hpp"
#include "content/content.hpp"

namespace ppmg::core {

std::string writeAssessmentJson(const Assessment& a, const Content& c, const std::string& pluginVersion);
std::string writeAssessmentText(const Assessment& a, const Content& c, const std::string& pluginVersion);

// JSON string escaping (RFC 8259): quotes, backslash and control characters; UTF-8 kept as is.
void appendJsonString(std::string& out, std::string_view s);

// Where a C-CDA entry stands, for people: "C-CDA entry id 1.2.3 extension 45; section Problems
// (2.16.840.1.113883.10.20.22.2.5.1); template 2.16.840.1.113883.10.20.22.4.4:2015-08-01".
std::string documentEntryText(const DocumentEntry& d);
// "Draft content: not yet clinically signed off" (the content's draft-notice text; rule 16).
std::string draftNotice(const Content& c);

// The outcome's sentence for a type, with {asOf} filled in.
std::string outcomeSentence(const Content& c, Outcome o, Date asOf);

}  // namespace ppmg::core
