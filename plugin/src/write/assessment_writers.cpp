#include "write/assessment_writers.hpp"

#include "write/xml_stream.hpp"

#include <cstdio>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ppmg::core {

namespace {

// The index of the first byte at or after i that JSON must escape (quote, backslash, control
// character), or n; sixteen bytes at a time where SSE2 is there.
size_t skipJsonPlain(const unsigned char* p, size_t i, size_t n) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1F);
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
        special = _mm_or_si128(special, _mm_cmpeq_epi8(_mm_max_epu8(v, control), control));  // v <= 0x1F
        if (const int mask = _mm_movemask_epi8(special)) return i + static_cast<size_t>(__builtin_ctz(mask));
    }
#endif
    while (i < n && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\') ++i;
    return i;
}

// JSON string escaping into any output with push_back and append(string_view).
template <class Out>
void appendJsonStringTo(Out& out, std::string_view s) {
    out.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t from = 0;  // the run of characters that need no escape is appended at once
    for (size_t i = skipJsonPlain(p, 0, s.size()); i < s.size(); i = skipJsonPlain(p, i + 1, s.size())) {
        out.append(s.substr(from, i - from));
        from = i + 1;
        switch (p[i]) {
            case '"': out.append("\\\""); break;
            case '\\': out.append("\\\\"); break;
            case '\n': out.append("\\n"); break;
            case '\r': out.append("\\r"); break;
            case '\t': out.append("\\t"); break;
            case '\b': out.append("\\b"); break;
            case '\f': out.append("\\f"); break;
            default: {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", p[i]);
                out.append(buf);
            }
        }
    }
    out.append(s.substr(from));
    out.push_back('"');
}

}  // namespace

void appendJsonString(std::string& out, std::string_view s) { appendJsonStringTo(out, s); }

std::string documentEntryText(const DocumentEntry& d) {
    std::string s = "C-CDA entry id ";
    s.append(d.idRoot.empty() ? std::string_view("(none)") : std::string_view(d.idRoot));
    if (!d.idExtension.empty()) s.append(" extension ").append(d.idExtension);
    s.append("; section ");
    if (!d.sectionTitle.empty()) s.append(d.sectionTitle).append(" ");
    s.append("(").append(d.sectionTemplateId.empty() ? std::string_view("no template")
                                                     : std::string_view(d.sectionTemplateId));
    s.append("); template ").append(d.templateId.empty() ? std::string_view("none") : std::string_view(d.templateId));
    return s;
}

std::string draftNotice(const Content& c) {
    const std::string& t = c.text("draft-notice");
    return t.empty() ? std::string("Draft content: not yet clinically signed off") : t;
}

std::string outcomeSentence(const Content& c, Outcome o, Date asOf) {
    std::string text = c.outcomeTexts[static_cast<size_t>(o)].text;
    const std::string key = "{asOf}";
    for (size_t pos; (pos = text.find(key)) != std::string::npos;) text.replace(pos, key.size(), formatIsoDate(asOf));
    return text;
}

namespace {

// The JSON writer: appends into the per-thread scratch buffer the CDA writer uses (an inline
// bounds check and memcpy per append, where std::string::append is a call), copied out at the end.
class Json {
public:
    XmlStream::Buffer out{16384};  // an assessment of a 50-resource record is about 10 KB
    void key(const char* k) {
        comma();
        appendJsonStringTo(out, k);
        out.push_back(':');
        fresh_ = true;
    }
    void str(std::string_view s) {
        comma();
        appendJsonStringTo(out, s);
    }
    void raw(std::string_view s) {
        comma();
        out.append(s);
    }
    // Where the next value starts (its comma, if one is due, already written).
    size_t mark() {
        comma();
        fresh_ = true;
        return out.size();
    }
    // A copy of the value written at [from, from + n).
    void again(size_t from, size_t n) {
        comma();
        out.appendWritten(from, n);
    }
    void open(char c) {
        comma();
        out.push_back(c);
        fresh_ = true;
    }
    void close(char c) {
        out.push_back(c);
        fresh_ = false;
    }
    template <class V>
    void field(const char* k, const V& v) {
        key(k);
        value(v);
    }

private:
    void value(const std::string& s) { str(s); }
    void value(const Text& s) { str(s); }
    void value(const char* s) { str(s); }
    void value(bool b) { raw(b ? "true" : "false"); }
    void value(int v) { raw(std::to_string(v)); }
    void comma() {
        if (!fresh_ && out.size() != 0) out.push_back(',');
        fresh_ = false;
    }
    bool fresh_ = true;
};

void writeEvidence(Json& j, const Evidence& e) {
    j.open('{');
    j.field("resourceType", e.resourceType);
    j.field("id", e.id);
    j.field("path", e.path);
    if (!e.code.empty()) {
        j.key("code");
        j.open('{');
        j.field("system", e.codeSystem);
        j.field("code", e.code);
        if (!e.display.empty()) j.field("display", e.display);
        j.close('}');
    } else if (!e.display.empty()) {
        j.field("element", e.display);
    }
    j.field("value", e.value);
    if (e.date.empty()) {
        j.key("date");
        j.raw("null");
    } else {
        j.field("date", e.date);
    }
    if (e.document) {  // a C-CDA entry: where to find it in the document
        const DocumentEntry& d = *e.document;
        j.key("entry");
        j.open('{');
        j.field("idRoot", d.idRoot);
        if (!d.idExtension.empty()) j.field("idExtension", d.idExtension);
        j.field("section", d.sectionTemplateId);
        if (!d.sectionTitle.empty()) j.field("sectionTitle", d.sectionTitle);
        j.field("templateId", d.templateId);
        j.close('}');
    }
    j.close('}');
}

// In an escalate result only the escalate findings keep their action: no massage advice,
// positions or products anywhere (clinical rules 1.1, rule 11).
bool showsAction(const Assessment& a, const Finding& f) { return !a.escalated() || f.outcome == Outcome::Escalate; }

void writeFinding(Json& j, const Finding& f, const Content& c, bool withAction) {
    j.open('{');
    j.field("rule", f.rule->id);
    if (!f.rule->derivedFrom.empty()) j.field("derivedFrom", f.rule->derivedFrom);
    j.field("outcome", outcomeCode(f.outcome));
    j.field("title", f.rule->title);
    j.key("types");
    j.open('[');
    for (size_t t : f.types) j.str(c.massageTypes[t].code);
    j.close(']');
    j.field("reason", f.rule->reason);
    if (withAction && !f.rule->action.empty()) j.field("action", f.rule->action);
    if (f.earliestDate) j.field("earliestDate", formatIsoDate(*f.earliestDate));
    j.key("evidence");
    j.open('[');
    for (const auto& e : f.evidence) writeEvidence(j, e);
    j.close(']');
    j.key("references");
    j.open('[');
    for (const auto& r : f.rule->references) j.str(r);
    j.close(']');
    j.close('}');
}

}  // namespace

std::string writeAssessmentJson(const Assessment& a, const Content& c, const std::string& pluginVersion) {
    Json j;
    // A finding is listed under every massage type it affects, the same JSON each time: written
    // once, then copied from where it was written (offset, length).
    std::vector<std::pair<size_t, size_t>> findingJson(a.findings.size(), {0, 0});
    j.open('{');
    j.field("applicable", a.applicable);
    j.field("asOf", formatIsoDate(a.asOf));
    j.key("postpartumDay");
    if (a.postpartumDay && a.applicable)
        j.raw(std::to_string(*a.postpartumDay));
    else
        j.raw("null");
    j.key("deliveryMode");
    if (a.episode && a.applicable)
        j.str(deliveryModeCode(a.episode->mode));
    else
        j.raw("null");
    j.key("deliveryDate");
    if (a.episode)
        j.str(formatIsoDate(a.episode->date));
    else
        j.raw("null");
    j.field("escalate", a.escalated());
    j.key("patient");
    j.open('{');
    j.field("id", a.patient.source.id);
    j.close('}');
    j.key("massages");
    j.open('{');
    for (size_t t = 0; t < a.massages.size(); ++t) {
        const MassageAssessment& m = a.massages[t];
        j.key(c.massageTypes[t].code.c_str());
        j.open('{');
        j.field("outcome", outcomeCode(m.outcome));
        j.field("label", c.outcomeTexts[static_cast<size_t>(m.outcome)].label);
        j.field("display", c.massageTypes[t].display);
        if (m.earliestDate) j.field("earliestDate", formatIsoDate(*m.earliestDate));
        // What to do for this type, as written for it (rule 12); none in an escalate result (rule 11).
        j.key("actions");
        j.open('[');
        if (!a.escalated()) {
            std::vector<const std::string*> written;
            for (size_t i : m.findings) {
                const Finding& f = a.findings[i];
                const std::string& action = f.rule->actionFor(t);
                if (f.outcome != m.outcome || action.empty()) continue;
                bool seen = false;
                for (const std::string* w : written) seen |= *w == action;
                if (seen) continue;
                written.push_back(&action);
                j.str(action);
            }
        }
        j.close(']');
        j.key("findings");
        j.open('[');
        for (size_t i : m.findings) {
            auto& written = findingJson[i];
            if (written.second != 0) {
                j.again(written.first, written.second);
                continue;
            }
            written.first = j.mark();
            writeFinding(j, a.findings[i], c, showsAction(a, a.findings[i]));
            written.second = j.out.size() - written.first;
        }
        j.close(']');
        j.close('}');
    }
    j.close('}');
    j.key("dataGaps");
    j.open('[');
    for (const auto& g : a.dataGaps) {
        j.open('{');
        j.field("id", g.id);
        const std::string name = c.gapName(g.id, g.text);
        j.field("name", name);
        j.field("text", a.escalated() ? name : g.text);  // by name only when escalated (rule 11)
        j.close('}');
    }
    j.close(']');
    if (a.episode) {
        j.key("deliveryRecords");
        j.open('[');
        for (const auto& e : a.episode->records) writeEvidence(j, e);
        j.close(']');
        if (!a.episode->heuristics.empty()) {
            j.key("deliveryHeuristics");
            j.open('[');
            for (const auto& h : a.episode->heuristics) j.str(h);
            j.close(']');
        }
    }
    j.key("content");
    j.open('{');
    j.field("version", c.version);
    j.field("sha256", c.sha256);
    j.close('}');
    // Rule 16: the content's sign-off status, and while draft the notice every reader must see.
    j.field("draft", c.draft);
    if (c.draft) j.field("draftNotice", draftNotice(c));
    j.field("pluginVersion", pluginVersion);
    j.close('}');
    j.out.push_back('\n');
    return j.out.take();
}

namespace {

// Appends one line of the text form for a terminal: record data in it may hold control
// characters (a valid UTF-8 record can carry ESC, BEL, backspace or a C1 CSI), which a terminal
// would obey. Tab, CR and LF become spaces (a line stays one line); every other C0 control, DEL
// and C1 control (U+0080..U+009F) becomes U+FFFD.
void appendTextLine(std::string& out, std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char ch = p[i];
        if (ch == '\t' || ch == '\r' || ch == '\n') {
            out.push_back(' ');
        } else if (ch < 0x20 || ch == 0x7F) {
            out += "\xEF\xBF\xBD";
        } else if (ch == 0xC2 && i + 1 < s.size() && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.push_back(static_cast<char>(ch));
        }
    }
    out.push_back('\n');
}

}  // namespace

std::string writeAssessmentText(const Assessment& a, const Content& c, const std::string& pluginVersion) {
    std::string out;
    auto line = [&](const std::string& s) { appendTextLine(out, s); };
    std::string who(a.patient.source.id);
    line("Postpartum massage guidance for patient " + who + ", as of " + formatIsoDate(a.asOf));
    if (c.draft) line("DRAFT: " + draftNotice(c) + ".");  // rule 16: visible, not only in the provenance
    if (!a.applicable) {
        line(outcomeSentence(c, Outcome::NotApplicable, a.asOf));
    } else if (a.episode) {
        line("Delivery: " + formatIsoDate(a.episode->date) + " (" + deliveryModeCode(a.episode->mode) +
             "), postpartum day " + std::to_string(*a.postpartumDay) + ".");
    } else {
        line("Delivery: none found in the record.");
    }
    if (a.escalated()) line("URGENT: " + c.urgentText + ".");
    line("");
    for (size_t t = 0; t < a.massages.size(); ++t) {
        const MassageAssessment& m = a.massages[t];
        std::string head = c.massageTypes[t].display + ": " + c.outcomeTexts[static_cast<size_t>(m.outcome)].label;
        if (m.earliestDate) head += " (earliest " + formatIsoDate(*m.earliestDate) + ")";
        line(head);
        if (m.findings.empty()) line("  " + outcomeSentence(c, m.outcome, a.asOf));
        for (size_t i : m.findings) {
            const Finding& f = a.findings[i];
            line("  - " + f.rule->reason + " [" + f.rule->id + "]");
            const std::string& action = f.rule->actionFor(t);
            if (!action.empty() && f.outcome != Outcome::Escalate && !a.escalated()) line("    What to do: " + action);
            for (const auto& e : f.evidence) {
                std::string d = "    Data: ";
                d.append(e.resourceType).append("/").append(e.id);
                if (!e.display.empty() || !e.code.empty()) d.append(" ").append(e.display.empty() ? e.code : e.display);
                if (!e.value.empty()) d += " = " + c.readableValue(e.value);
                if (!e.date.empty()) d.append(" on ").append(e.date);
                if (e.document) d.append(" (").append(documentEntryText(*e.document)).append(")");
                line(d);
            }
        }
    }
    line("");
    if (a.dataGaps.empty()) {
        line("Missing data: none noted.");
    } else {
        line("Missing data:");
        for (const auto& g : a.dataGaps) line("  - " + (a.escalated() ? c.gapName(g.id, g.text) : g.text));
    }
    line("");
    line("Content " + c.version + " (sha256 " + c.sha256.substr(0, 12) + "...), ppmg " + pluginVersion + ".");
    return out;
}

}  // namespace ppmg::core
