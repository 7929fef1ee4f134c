// HL7 timestamps (v2 TS/DTM/DT, and CDA's TS, which has the same syntax):
// YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]. Read into the FHIR date-time form
// (base/clinical_date.hpp): the calendar date as written (in the timestamp's own offset), the last
// day a partial value allows, a UTC instant for ordering, the precision and the text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clinical_date.hpp"

namespace ppmg::core {

// Returns nullopt when the text is not an HL7 timestamp. A value without an offset is local time of
// the sender, which is unknown: its instant is taken as UTC (as a FHIR date-time without a zone
// is), its calendar date is the one written. "YYYY" and "YYYYMM" are partial dates (date: the
// first day, last: the last day they allow); hours without minutes are a time. The result's text
// views the argument, which must outlive it.
std::optional<DateTime> parseHl7DateTime(std::string_view text);
std::optional<DateTime> parseHl7DateTime(std::string&& text) = delete;  // its text would dangle
inline std::optional<DateTime> parseHl7DateTime(const char* text) { return parseHl7DateTime(std::string_view(text)); }

}  // namespace ppmg::core
