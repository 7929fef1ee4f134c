// Dates: FHIR date and dateTime parsing, calendar arithmetic, ages.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>

#include "base/clinical_date.hpp"

using namespace ppmg::core;

// A DateTime keeps a view of the text it parsed: parsing a temporary string must not compile.
template <class T, class = void>
struct Parses : std::false_type {};
template <class T>
struct Parses<T, std::void_t<decltype(parseFhirDateTime(std::declval<T>()))>> : std::true_type {};
static_assert(!Parses<std::string>::value, "parseFhirDateTime(std::string&&) would keep a dangling view");
static_assert(Parses<std::string_view>::value && Parses<const char*>::value, "views and literals parse");

TEST_CASE("FHIR dateTimes keep their own calendar date and a UTC instant", "[dates]") {
    auto a = parseFhirDateTime("2025-11-01T23:30:00-05:00");
    REQUIRE(a);
    CHECK(formatIsoDate(a->date) == "2025-11-01");
    auto b = parseFhirDateTime("2025-11-02T04:30:00Z");
    REQUIRE(b);
    CHECK(a->instant == b->instant);
    auto frac = parseFhirDateTime("2019-02-12T12:45:00.123+10:00");
    REQUIRE(frac);
    CHECK(formatIsoDate(frac->date) == "2019-02-12");
}

TEST_CASE("Partial FHIR dates take the first day", "[dates]") {
    CHECK(formatIsoDate(parseFhirDateTime("2025")->date) == "2025-01-01");
    CHECK(formatIsoDate(parseFhirDateTime("2025-07")->date) == "2025-07-01");
}

TEST_CASE("Invalid dates are refused", "[dates]") {
    for (const char* bad : {"", "2025-13-01", "2025-02-30", "2024-02-30", "25-01-01", "2025-01-01T25:00:00Z",
                            "2025-01-01T10:00:00+5", "2025-01-01 10:00", "2025-01-01T10:00:00Zjunk", "abcd"})
        CHECK_FALSE(parseFhirDateTime(bad).has_value());
    CHECK(parseFhirDateTime("2024-02-29").has_value());
    CHECK_FALSE(parseIsoDate("2025-11").has_value());
}

TEST_CASE("Calendar arithmetic and formats", "[dates]") {
    Date d = *parseIsoDate("2025-11-09");
    CHECK(formatIsoDate(d.plusDays(14)) == "2025-11-23");
    CHECK(formatIsoDate(d.plusDays(-365)) == "2024-11-09");
    CHECK(formatCdaDate(d) == "20251109");
    CHECK(daysFromCivil(1970, 1, 1) == 0);
    CHECK(parseIsoDate("2025-03-01")->days - parseIsoDate("2024-02-28")->days == 367);
}

TEST_CASE("Ages are completed years", "[dates]") {
    Date birth = *parseIsoDate("1965-11-15");
    CHECK(ageInYears(birth, *parseIsoDate("2025-11-14")) == 59);
    CHECK(ageInYears(birth, *parseIsoDate("2025-11-15")) == 60);
    CHECK(ageInYears(*parseIsoDate("2000-02-29"), *parseIsoDate("2001-02-28")) == 0);
}

TEST_CASE("dates: ISO and CDA formatting over the whole calendar, and outside it", "[dates]") {
    for (int y : {1, 999, 1970, 2000, 2024, 9999})
        for (unsigned m : {1u, 2u, 12u})
            for (unsigned d : {1u, 9u, 28u}) {
                char iso[16], cda[16];
                std::snprintf(iso, sizeof iso, "%04d-%02u-%02u", y, m, d);
                std::snprintf(cda, sizeof cda, "%04d%02u%02u", y, m, d);
                const ppmg::core::Date date{ppmg::core::daysFromCivil(y, m, d)};
                CHECK(ppmg::core::formatIsoDate(date) == iso);
                CHECK(ppmg::core::formatCdaDate(date) == cda);
            }
    // Years past 9999 (a date far after the as-of date) still print, with their digits.
    const ppmg::core::Date far{ppmg::core::daysFromCivil(12345, 6, 7)};
    CHECK(ppmg::core::formatIsoDate(far) == "12345-06-07");
    CHECK(ppmg::core::formatCdaDate(far) == "123450607");
}
