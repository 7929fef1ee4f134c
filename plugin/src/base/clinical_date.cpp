#include "base/clinical_date.hpp"

#include <cstdio>

namespace ppmg::core {

// Howard Hinnant's days_from_civil / civil_from_days.
int32_t daysFromCivil(int y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int>(doe) - 719468;
}

void civilFromDays(int32_t z, int& y, unsigned& m, unsigned& d) {
    z += 719468;
    const int era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yoe) + era * 400 + (m <= 2);
}

bool readDigits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        char c = s[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

namespace {

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

unsigned daysInMonth(int y, int m) {
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12) return 0;
    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

DateTime civilDateTime(int y, int mo, int d, Precision precision, int64_t secondsOfDay, int offsetSeconds,
                       std::string_view text) {
    DateTime out;
    out.date.days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    out.precision = precision;
    out.last = precision == Precision::Year    ? Date{daysFromCivil(y, 12, 31)}
               : precision == Precision::Month ? Date{daysFromCivil(y, static_cast<unsigned>(mo), daysInMonth(y, mo))}
                                               : out.date;
    out.text = text;
    out.instant = precision == Precision::Time
                      ? static_cast<int64_t>(out.date.days) * 86400 + secondsOfDay - offsetSeconds
                      : static_cast<int64_t>(out.date.days) * 86400;
    return out;
}

std::optional<DateTime> parseFhirDateTime(std::string_view s) {
    int y = 0, mo = 1, d = 1;
    Precision precision = Precision::Year;
    if (!readDigits(s, 0, 4, y)) return std::nullopt;
    size_t pos = 4;
    if (pos < s.size()) {
        if (s[pos] != '-' || !readDigits(s, pos + 1, 2, mo)) return std::nullopt;
        pos += 3;
        precision = Precision::Month;
        if (pos < s.size()) {
            if (s[pos] != '-' || !readDigits(s, pos + 1, 2, d)) return std::nullopt;
            pos += 3;
            precision = Precision::Day;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || static_cast<unsigned>(d) > daysInMonth(y, mo)) return std::nullopt;
    int64_t seconds = 0;
    int offset = 0;
    if (pos < s.size()) {
        int hh, mm, ss = 0;
        if (s[pos] != 'T' || !readDigits(s, pos + 1, 2, hh) || s.size() < pos + 6 || s[pos + 3] != ':' ||
            !readDigits(s, pos + 4, 2, mm))
            return std::nullopt;
        pos += 6;
        if (pos < s.size() && s[pos] == ':') {
            if (!readDigits(s, pos + 1, 2, ss)) return std::nullopt;
            pos += 3;
            if (pos < s.size() && s[pos] == '.') {
                ++pos;
                size_t start = pos;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
                if (pos == start) return std::nullopt;
            }
        }
        if (hh > 24 || mm > 59 || ss > 60) return std::nullopt;
        seconds = hh * 3600 + mm * 60 + ss;
        precision = Precision::Time;
        if (pos == s.size()) {
            // FHIR requires a zone with a time; accept it as UTC rather than lose the datum.
        } else if (s[pos] == 'Z') {
            ++pos;
        } else if (s[pos] == '+' || s[pos] == '-') {
            int oh, om;
            if (!readDigits(s, pos + 1, 2, oh) || s.size() < pos + 6 || s[pos + 3] != ':' ||
                !readDigits(s, pos + 4, 2, om))
                return std::nullopt;
            offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
            pos += 6;
        } else {
            return std::nullopt;
        }
        if (pos != s.size()) return std::nullopt;
    }
    return civilDateTime(y, mo, d, precision, seconds, offset, s);
}

std::optional<Date> parseIsoDate(std::string_view s) {
    if (s.size() != 10) return std::nullopt;
    auto dt = parseFhirDateTime(s);
    if (!dt) return std::nullopt;
    return dt->date;
}

namespace {

// "YYYY" + sep + "MM" + sep + "DD" (sep may be empty); printf only for years outside 0000-9999.
std::string formatDate(Date d, const char* sep) {
    int y;
    unsigned m, day;
    civilFromDays(d.days, y, m, day);
    char buf[32];
    if (y < 0 || y > 9999) {
        std::snprintf(buf, sizeof buf, "%04d%s%02u%s%02u", y, sep, m, sep, day);
        return buf;
    }
    char* p = buf;
    *p++ = static_cast<char>('0' + y / 1000);
    *p++ = static_cast<char>('0' + y / 100 % 10);
    *p++ = static_cast<char>('0' + y / 10 % 10);
    *p++ = static_cast<char>('0' + y % 10);
    if (*sep) *p++ = *sep;
    *p++ = static_cast<char>('0' + m / 10);
    *p++ = static_cast<char>('0' + m % 10);
    if (*sep) *p++ = *sep;
    *p++ = static_cast<char>('0' + day / 10);
    *p++ = static_cast<char>('0' + day % 10);
    return std::string(buf, static_cast<size_t>(p - buf));
}

}  // namespace

std::string formatIsoDate(Date d) { return formatDate(d, "-"); }

std::string formatCdaDate(Date d) { return formatDate(d, ""); }

int ageInYears(Date birth, Date at) {
    int by, ay;
    unsigned bm, bd, am, ad;
    civilFromDays(birth.days, by, bm, bd);
    civilFromDays(at.days, ay, am, ad);
    int age = ay - by;
    if (am < bm || (am == bm && ad < bd)) --age;
    return age;
}

}  // namespace ppmg::core
