#include "base/hl7_datetime.hpp"

namespace ppmg::core {

namespace {

bool digitsAt(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        const char c = s[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

}  // namespace

std::optional<DateTime> parseHl7DateTime(std::string_view s) {
    // The digits before the offset: 4 (year), 6, 8, 10 (hour), 12, 14, or 14 + "." + 1..4.
    size_t end = s.find_first_of("+-");
    const std::string_view zone = end == std::string_view::npos ? std::string_view() : s.substr(end);
    const std::string_view body = s.substr(0, end);
    int y = 0, mo = 1, d = 1, hh = 0, mi = 0, ss = 0;
    if (!digitsAt(body, 0, 4, y)) return std::nullopt;
    Precision precision = Precision::Year;
    size_t pos = 4;
    if (pos < body.size()) {
        if (!digitsAt(body, pos, 2, mo)) return std::nullopt;
        pos += 2;
        precision = Precision::Month;
    }
    if (pos < body.size()) {
        if (!digitsAt(body, pos, 2, d)) return std::nullopt;
        pos += 2;
        precision = Precision::Day;
    }
    if (pos < body.size()) {
        if (!digitsAt(body, pos, 2, hh)) return std::nullopt;
        pos += 2;
        precision = Precision::Time;
        if (pos < body.size()) {
            if (!digitsAt(body, pos, 2, mi)) return std::nullopt;
            pos += 2;
        }
        if (pos < body.size()) {
            if (!digitsAt(body, pos, 2, ss)) return std::nullopt;
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
        if (zone.size() != 5 || !digitsAt(zone, 1, 2, oh) || !digitsAt(zone, 3, 2, om) || oh > 14 || om > 59)
            return std::nullopt;
        offset = (oh * 3600 + om * 60) * (zone[0] == '-' ? -1 : 1);
    }
    DateTime out;
    out.date.days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    out.precision = precision;
    out.last = precision == Precision::Year    ? Date{daysFromCivil(y, 12, 31)}
               : precision == Precision::Month ? Date{daysFromCivil(y, static_cast<unsigned>(mo), daysInMonth(y, mo))}
                                               : out.date;
    out.text = s;
    // A date without a time counts as 00:00Z, as a FHIR date does (its offset says nothing then).
    const int64_t seconds = precision == Precision::Time ? hh * 3600 + mi * 60 + ss : 0;
    out.instant = static_cast<int64_t>(out.date.days) * 86400 + seconds - (precision == Precision::Time ? offset : 0);
    return out;
}

}  // namespace ppmg::core
