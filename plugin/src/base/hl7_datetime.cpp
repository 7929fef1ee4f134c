#include "base/hl7_datetime.hpp"

namespace ppmg::core {

std::optional<DateTime> parseHl7DateTime(std::string_view s) {
    // The digits before the offset: 4 (year), 6, 8, 10 (hour), 12, 14, or 14 + "." + 1..4.
    size_t end = s.find_first_of("+-");
    const std::string_view zone = end == std::string_view::npos ? std::string_view() : s.substr(end);
    const std::string_view body = s.substr(0, end);
    int y = 0, mo = 1, d = 1, hh = 0, mi = 0, ss = 0;
    if (!readDigits(body, 0, 4, y)) return std::nullopt;
    Precision precision = Precision::Year;
    size_t pos = 4;
    if (pos < body.size()) {
        if (!readDigits(body, pos, 2, mo)) return std::nullopt;
        pos += 2;
        precision = Precision::Month;
    }
    if (pos < body.size()) {
        if (!readDigits(body, pos, 2, d)) return std::nullopt;
        pos += 2;
        precision = Precision::Day;
    }
    if (pos < body.size()) {
        if (!readDigits(body, pos, 2, hh)) return std::nullopt;
        pos += 2;
        precision = Precision::Time;
        if (pos < body.size()) {
            if (!readDigits(body, pos, 2, mi)) return std::nullopt;
            pos += 2;
        }
        if (pos < body.size()) {
            if (!readDigits(body, pos, 2, ss)) return std::nullopt;
            pos += 2;
            if (pos < body.size()) {
                if (body[pos] != '.') return std::nullopt;
                const size_t start = ++pos;
                while (pos < body.size() && body[pos] >= '0' && body[pos] <= '9') ++pos;
                if (pos == start || pos - start > 4) return std::nullopt;
            }
        }
        if (pos != body.size()) return std::nullopt;
    }
    if (mo < 1 || mo > 12 || d < 1 || static_cast<unsigned>(d) > daysInMonth(y, mo)) return std::nullopt;
    if (hh > 23 || mi > 59 || ss > 59) return std::nullopt;
    int offset = 0;
    if (!zone.empty()) {
        int oh, om;
        if (zone.size() != 5 || !readDigits(zone, 1, 2, oh) || !readDigits(zone, 3, 2, om) || oh > 14 || om > 59)
            return std::nullopt;
        offset = (oh * 3600 + om * 60) * (zone[0] == '-' ? -1 : 1);
    }
    // A date without a time counts as 00:00Z, as a FHIR date does (its offset says nothing then).
    return civilDateTime(y, mo, d, precision, hh * 3600 + mi * 60 + ss, offset, s);
}

}  // namespace ppmg::core
