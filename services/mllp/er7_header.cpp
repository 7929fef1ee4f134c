#include "er7_header.hpp"

#include <cstdlib>
#include <vector>

namespace ppmg::mllp {
namespace {

std::string_view part(std::string_view s, char sep, size_t n) {  // 1-based
    size_t start = 0;
    for (size_t i = 1; i < n; ++i) {
        const size_t end = s.find(sep, start);
        if (end == std::string_view::npos) return {};
        start = end + 1;
    }
    const size_t end = s.find(sep, start);
    return s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

// Header field n (MSH-n numbering: n >= 3) of a header segment whose separator is at [3].
std::string_view headerField(std::string_view seg, size_t n) {
    if (seg.size() < 4 || n < 3) return {};
    return part(seg.substr(4), seg[3], n - 1);
}

}  // namespace

Header readHeader(std::string_view frame) {
    Header h;
    size_t pos = 0;
    while (pos < frame.size()) {
        size_t end = frame.find_first_of("\r\n", pos);
        if (end == std::string_view::npos) end = frame.size();
        const std::string_view seg = frame.substr(pos, end - pos);
        pos = end + 1;
        if (seg.size() < 4) continue;
        const std::string_view id = seg.substr(0, 3);
        if (id == "FHS" || id == "BHS") {
            h.batch = true;
            if (id == "BHS") h.batchControlId = std::string(headerField(seg, 11));
            if (!h.found) {
                h.field = seg[3];
                h.encoding = std::string(part(seg.substr(4), seg[3], 1));
            }
            continue;
        }
        if (id != "MSH") continue;
        ++h.messages;
        if (h.messages > 1) continue;
        h.found = true;
        h.field = seg[3];
        h.encoding = std::string(part(seg.substr(4), seg[3], 1));
        const char comp = h.encoding.empty() ? '^' : h.encoding[0];
        h.sendingApplication = std::string(headerField(seg, 3));
        h.sendingFacility = std::string(headerField(seg, 4));
        h.receivingApplication = std::string(headerField(seg, 5));
        h.receivingFacility = std::string(headerField(seg, 6));
        const std::string_view type = headerField(seg, 9);
        h.messageCode = std::string(part(type, comp, 1));
        h.triggerEvent = std::string(part(type, comp, 2));
        h.controlId = std::string(part(headerField(seg, 10), comp, 1));
        h.processingId = std::string(part(headerField(seg, 11), comp, 1));
        h.version = std::string(part(headerField(seg, 12), comp, 1));
    }
    return h;
}

ErrorPlace parsePlace(std::string_view p) {
    ErrorPlace e;
    const size_t open = p.find('[');
    if (open != 3) return e;
    e.segment = std::string(p.substr(0, 3));
    e.sequence = std::atoi(std::string(p.substr(open + 1)).c_str());
    const size_t dash = p.find("]-");
    if (dash != std::string_view::npos) {
        const std::string rest(p.substr(dash + 2));
        e.field = std::atoi(rest.c_str());
        const size_t dot = rest.find('.');
        if (dot != std::string::npos) e.component = std::atoi(rest.c_str() + dot + 1);
    }
    return e;
}

std::string escapeFor(const Header& h, std::string_view v) {
    const std::string& enc = h.encoding;
    const char comp = enc.size() > 0 ? enc[0] : '^', rep = enc.size() > 1 ? enc[1] : '~',
               esc = enc.size() > 2 ? enc[2] : '\\', sub = enc.size() > 3 ? enc[3] : '&';
    std::string out;
    for (const char c : v) {
        const char* code = c == h.field ? "F"
                           : c == comp  ? "S"
                           : c == rep   ? "R"
                           : c == esc   ? "E"
                           : c == sub   ? "T"
                                        : nullptr;
        if (c == '\r' || c == '\n') {
            out += ' ';
        } else if (code && enc.size() > 2) {
            out += esc;
            out += code;
            out += esc;
        } else if (!code) {
            out += c;
        }
    }
    return out;
}

std::string buildAck(const Header& h, const Ack& ack, std::string_view application, std::string_view facility,
                     std::string_view controlId, std::string_view timestamp) {
    const char f = h.field;
    const std::string& enc = h.encoding;
    const char comp = enc.empty() ? '^' : enc[0];
    const std::string version = h.version.empty() ? "2.5.1" : h.version;
    std::string m = "MSH";
    m += f;
    m += enc;
    auto add = [&](std::string_view v) {
        m += f;
        m.append(v);
    };
    add(escapeFor(h, application));
    add(escapeFor(h, facility));
    add(h.sendingApplication);
    add(h.sendingFacility);
    add(timestamp);
    add("");
    std::string type = "ACK";
    if (!h.triggerEvent.empty()) (type += comp) += h.triggerEvent;
    (type += comp) += "ACK";
    add(type);
    add(controlId);
    add(h.processingId.empty() ? "P" : h.processingId);
    add(version);
    m += '\r';
    m += "MSA";
    m += f;
    m += ack.code;
    m += f;
    m += escapeFor(h, h.acknowledgedId());
    if (!ack.text.empty()) {
        m += f;
        m += escapeFor(h, ack.text.substr(0, 80));
    }
    m += '\r';
    if (ack.errorCode) {
        const char sub = enc.size() > 3 ? enc[3] : '&';
        const ErrorPlace& p = ack.place;
        const std::string code = std::to_string(ack.errorCode);
        const bool modern = !(version.rfind("2.3", 0) == 0 || version.rfind("2.4", 0) == 0);
        m += "ERR";
        m += f;
        if (modern) m += f;  // ERR-1 (the v2.3/2.4 location) empty; ERR-2 follows
        std::string place;
        if (!p.segment.empty()) {
            place = p.segment;
            (place += comp) += std::to_string(p.sequence);
            if (p.field) (place += comp) += std::to_string(p.field);
        }
        if (modern) {
            // ERR-2 ERL: segment^sequence^field^repetition^component
            if (!p.segment.empty() && p.field) {
                (place += comp) += "1";
                if (p.component) (place += comp) += std::to_string(p.component);
            }
            m += place;
            m += f;
            m += code;
            m += comp;
            m += escapeFor(h, ack.text.substr(0, 200));
            m += comp;
            m += "HL70357";
            m += f;
            m += "E";
            m += std::string(4, f);
            m += escapeFor(h, ack.text);
        } else {
            // ERR-1 ELD: segment^sequence^field^code&text&HL70357
            if (p.segment.empty()) place = std::string(1, comp) + comp;
            if (!p.field) place += comp;
            m += place;
            m += comp;
            m += code;
            m += sub;
            m += escapeFor(h, ack.text.substr(0, 200));
            m += sub;
            m += "HL70357";
        }
        m += '\r';
    }
    return m;
}

}  // namespace ppmg::mllp
