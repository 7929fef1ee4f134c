// The MDM^T02 writer (write/mdm_writer.hpp).
#include "write/mdm_writer.hpp"

namespace ppmg::core {

namespace {

// A value escaped for ER7 with the encoding characters ^~\& and the field separator |.
void appendEscaped(std::string& out, std::string_view v) {
    for (const char c : v) {
        switch (c) {
            case '|': out += "\\F\\"; break;
            case '^': out += "\\S\\"; break;
            case '&': out += "\\T\\"; break;
            case '~': out += "\\R\\"; break;
            case '\\': out += "\\E\\"; break;
            case '\r':
            case '\n': out += "\\.br\\"; break;
            default: out += c;
        }
    }
}

// A patient identifier as CX: ID^^^assigning authority (HD: namespace&universal id&type).
void appendIdentifier(std::string& out, const Identifier& id) {
    appendEscaped(out, id.value);
    const std::string_view system = id.system;
    if (system.empty() && id.type.empty()) return;
    out += "^^^";
    // The HD's subcomponents are escaped with \T\ where they hold '&'.
    if (system.substr(0, 8) == "urn:oid:") {
        out += "&";
        appendEscaped(out, system.substr(8));
        out += "&ISO";
    } else if (system.substr(0, 9) == "urn:uuid:") {
        out += "&";
        appendEscaped(out, system.substr(9));
        out += "&UUID";
    } else if (system.find("://") != std::string_view::npos) {
        out += "&";
        appendEscaped(out, system);
        out += "&URI";
    } else {
        appendEscaped(out, system);
    }
    if (!id.type.empty()) {  // CX-5: the identifier type (table 0203)
        out += '^';
        appendEscaped(out, id.type);
    }
}

// "YYYYMMDDHHMMSS+ZZZZ" from the render context (already in that form), else "".
std::string_view timestampOf(const RenderContext& ctx) { return ctx.effectiveTime; }

}  // namespace

void appendBase64(std::string& out, std::string_view bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const size_t start = out.size();
    out.resize(start + (bytes.size() + 2) / 3 * 4);
    char* p = &out[start];
    const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | in[i + 2];
        *p++ = kAlphabet[v >> 18];
        *p++ = kAlphabet[(v >> 12) & 63];
        *p++ = kAlphabet[(v >> 6) & 63];
        *p++ = kAlphabet[v & 63];
    }
    if (i < bytes.size()) {
        const bool two = i + 1 < bytes.size();
        const uint32_t v = (uint32_t(in[i]) << 16) | (two ? uint32_t(in[i + 1]) << 8 : 0);
        *p++ = kAlphabet[v >> 18];
        *p++ = kAlphabet[(v >> 12) & 63];
        *p++ = two ? kAlphabet[(v >> 6) & 63] : '=';
        *p++ = '=';
    }
}

std::string writeMdm(const Assessment& a, std::string_view cda, const RenderContext& ctx) {
    const std::string_view ts = timestampOf(ctx);
    // MSH-10: the document id's first 20 hexadecimal digits (v2.5.1 allows 20 characters).
    std::string control;
    for (const char c : ctx.documentId)
        if (c != '-' && control.size() < 20) control += c;
    const Patient& p = a.patient;
    std::string m;
    m.reserve(cda.size() * 4 / 3 + 1024);
    m += "MSH|^~\\&|PPMG|";
    appendEscaped(m, ctx.custodianName);
    m += "|||";
    m += ts;
    m += "||MDM^T02^MDM_T02|";
    m += control;
    m += "|P|2.5.1||||||UNICODE UTF-8\r";
    m += "EVN|T02|";
    m += ts;
    m += "\rPID|1||";
    // PID-3: the record's identifiers, else the patient's id in the record.
    bool first = true;
    for (const Identifier& id : p.identifiers) {
        if (id.value.empty()) continue;
        if (!first) m += '~';
        appendIdentifier(m, id);
        first = false;
    }
    if (first && !p.source.id.empty()) appendEscaped(m, p.source.id);
    m += "||";
    appendEscaped(m, p.family);
    for (size_t i = 0; i < p.given.size() && i < 2; ++i) {
        m += '^';
        appendEscaped(m, p.given[i]);
    }
    m += "||";
    if (p.birthDate) m += formatCdaDate(*p.birthDate);
    m += '|';
    const std::string_view g = p.gender;
    m += g == "female" ? "F" : g == "male" ? "M" : g == "other" ? "O" : g == "unknown" ? "U" : "";
    m += "\rPV1|1|U\r";
    // TXA: the document's type (its LOINC code, as in the CDA), presentation AP (application
    // data), times, unique number (the CDA's id), completion DO (documented), availability AV.
    m += "TXA|1|34895-3|AP|";
    m += ts;
    m += "||";
    m += ts;
    m += "||||||";
    appendEscaped(m, ctx.documentId);
    m += "^PPMG|||||DO||AV\r";
    // OBX: the CDA, Base64, in an ED: source application ^ type ^ subtype ^ encoding ^ data.
    m += "OBX|1|ED|34895-3^Education note^LN||^TEXT^XML^Base64^";
    appendBase64(m, cda);
    m += "||||||F|||";
    m += ts;
    m += '\r';
    return m;
}

}  // namespace ppmg::core
