// Calendar dates and FHIR date-times. A FHIR date-time keeps its own calendar date
// (the date in its own offset, as the clinical rules require) and a UTC instant for ordering.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/text.hpp"

namespace ppmg::core {

// A calendar date as days since 1970-01-01.
struct Date {
    int32_t days = 0;
    friend bool operator==(Date a, Date b) { return a.days == b.days; }
    friend bool operator!=(Date a, Date b) { return a.days != b.days; }
    friend bool operator<(Date a, Date b) { return a.days < b.days; }
    friend bool operator<=(Date a, Date b) { return a.days <= b.days; }
    friend bool operator>(Date a, Date b) { return a.days > b.days; }
    friend bool operator>=(Date a, Date b) { return a.days >= b.days; }
    Date plusDays(int32_t n) const { return Date{days + n}; }
};

struct DateTime {
    Date date;            // calendar date in the timestamp's own offset
    int64_t instant = 0;  // seconds since the epoch, UTC; date-only values count as 00:00Z
    Text text;            // as written: a view of the text parsed (the reader keeps it alive)
};

// Days from civil date (proleptic Gregorian).
int32_t daysFromCivil(int y, unsigned m, unsigned d);
void civilFromDays(int32_t z, int& y, unsigned& m, unsigned& d);

// "YYYY", "YYYY-MM", "YYYY-MM-DD" (partial dates take the first day) or a full FHIR dateTime.
// Returns nullopt when the text is not a valid FHIR date or dateTime. The result's text views the
// argument, which must outlive it.
std::optional<DateTime> parseFhirDateTime(std::string_view text);
std::optional<DateTime> parseFhirDateTime(std::string&& text) = delete;  // its text would dangle
inline std::optional<DateTime> parseFhirDateTime(const char* text) { return parseFhirDateTime(std::string_view(text)); }
// Strict "YYYY-MM-DD".
std::optional<Date> parseIsoDate(std::string_view text);
std::string formatIsoDate(Date d);  // "2025-11-15"
std::string formatCdaDate(Date d);  // "20251115"
// Completed years between birth and the date.
int ageInYears(Date birth, Date at);

}  // namespace ppmg::core
