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

// How much of a date-time was written: "2025" is a year, "2025-10" a month, "2025-10-03" a day.
enum class Precision : uint8_t { Year, Month, Day, Time };

struct DateTime {
    Date date;            // calendar date in the timestamp's own offset; a partial date's first day
    Date last;            // the last calendar day the written value allows (== date unless partial)
    int64_t instant = 0;  // seconds since the epoch, UTC; date-only values count as 00:00Z
    Precision precision = Precision::Day;
    Text text;  // as written: a view of the text parsed (the reader keeps it alive)
    bool partial() const { return precision < Precision::Day; }
};

// Days from civil date (proleptic Gregorian).
int32_t daysFromCivil(int y, unsigned m, unsigned d);
void civilFromDays(int32_t z, int& y, unsigned& m, unsigned& d);

// For the date parsers (FHIR here, HL7 in base/hl7_datetime): n ASCII digits at pos, as a number.
bool readDigits(std::string_view s, size_t pos, size_t n, int& out);
// The DateTime of a checked calendar date y-mo-d written to `precision`: its first and last day,
// and its instant (a time's seconds of the day less its UTC offset; a date alone counts as 00:00Z).
DateTime civilDateTime(int y, int mo, int d, Precision precision, int64_t secondsOfDay, int offsetSeconds,
                       std::string_view text);

// "YYYY", "YYYY-MM", "YYYY-MM-DD" (partial dates: date is the first day, last the last day they
// allow) or a full FHIR dateTime.
// Returns nullopt when the text is not a valid FHIR date or dateTime. The result's text views the
// argument, which must outlive it.
std::optional<DateTime> parseFhirDateTime(std::string_view text);
std::optional<DateTime> parseFhirDateTime(std::string&& text) = delete;  // its text would dangle
inline std::optional<DateTime> parseFhirDateTime(const char* text) { return parseFhirDateTime(std::string_view(text)); }
// Strict "YYYY-MM-DD".
std::optional<Date> parseIsoDate(std::string_view text);
std::string formatIsoDate(Date d);  // "2025-11-15"
std::string formatCdaDate(Date d);  // "20251115"
// The number of days in a month of a (proleptic Gregorian) year.
unsigned daysInMonth(int year, int month);  // 0 for a month outside 1..12
// Completed years between birth and the date.
int ageInYears(Date birth, Date at);

}  // namespace ppmg::core
