// Input checks common to both formats, format sniffing, and the choice of the patient.
#include <algorithm>
#include <set>

#include "content/content.hpp"
#include "errors.hpp"
#include "read/fhir_reader.hpp"

namespace ppmg {
namespace {

// Returns the offset of the first invalid UTF-8 sequence, or npos.
size_t invalidUtf8At(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) { ++i; continue; }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return i;
        if (i + len > n) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return std::string_view::npos;
}

long lineOf(std::string_view s, size_t offset) {
    return 1 + static_cast<long>(std::count(s.begin(), s.begin() + static_cast<long>(offset), '\n'));
}

}  // namespace

RawRecord readRecord(std::string_view data, ppmg_input_format format, const ReadLimits& limits,
                     const std::string& sourceName) {
    if (data.size() > limits.maxInputBytes)
        throw Error(PPMG_E_LIMIT, "the input is " + std::to_string(data.size()) + " bytes, over the limit of " +
                                      std::to_string(limits.maxInputBytes), Location{sourceName, "", "", 0});
    if (size_t nul = data.find('\0'); nul != std::string_view::npos)
        throw Error(PPMG_E_ENCODING, "the input holds a NUL byte at offset " + std::to_string(nul),
                    Location{sourceName, "", "", lineOf(data, nul)});
    if (size_t bad = invalidUtf8At(data); bad != std::string_view::npos)
        throw Error(PPMG_E_ENCODING, "the input is not valid UTF-8 (at byte offset " + std::to_string(bad) + ")",
                    Location{sourceName, "", "", lineOf(data, bad)});
    std::string_view body = data;
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // a UTF-8 byte order mark
    if (format == PPMG_INPUT_AUTO) {
        size_t first = body.find_first_not_of(" \t\r\n");
        if (first == std::string_view::npos)
            throw Error(PPMG_E_PARSE, "the input is empty", Location{sourceName, "", "", 0});
        if (body[first] == '{' || body[first] == '[') format = PPMG_INPUT_FHIR_JSON;
        else if (body[first] == '<') format = PPMG_INPUT_FHIR_XML;
        else
            throw Error(PPMG_E_PARSE, "the input is neither JSON nor XML (it starts with neither '{' nor '<')",
                        Location{sourceName, "", "", lineOf(body, first)});
    }
    switch (format) {
        case PPMG_INPUT_FHIR_JSON: return readFhirJson(body, limits, sourceName);
        case PPMG_INPUT_FHIR_XML: return readFhirXml(body, limits, sourceName);
        default: throw Error(PPMG_E_UNSUPPORTED, "unknown input format", Location{sourceName, "", "", 0});
    }
}

bool referencesPatient(const std::string& ref, const Patient& p) {
    if (ref.empty()) return false;
    if (!p.fullUrl.empty() && ref == p.fullUrl) return true;
    const std::string& id = p.source.id;
    if (id.empty()) return false;
    if (ref == "Patient/" + id || ref == "urn:uuid:" + id || ref == id) return true;
    const std::string tail = "/Patient/" + id;
    if (ref.size() > tail.size() && ref.compare(ref.size() - tail.size(), tail.size(), tail) == 0) return true;
    // A versioned reference: Patient/id/_history/n
    const std::string hist = "Patient/" + id + "/_history/";
    return ref.find(hist) != std::string::npos;
}

namespace {

template <class Fact>
void keepFor(std::vector<Fact>& out, std::vector<Fact>&& in, const Patient& p) {
    out.reserve(in.size());
    for (auto& f : in)
        if (f.subject.empty() || referencesPatient(f.subject, p)) out.push_back(std::move(f));
}

std::string describe(const Patient& p) {
    std::string s = p.source.id.empty() ? "(no id)" : p.source.id;
    std::string name = p.family;
    for (const auto& g : p.given) name = g + " " + name;
    if (!name.empty()) s += " (" + name + (p.birthDate ? ", born " + formatIsoDate(*p.birthDate) : "") + ")";
    return s;
}

}  // namespace

PatientRecord selectPatient(RawRecord&& raw, const std::string& requestedId, const Content& content,
                            const std::string& sourceName) {
    const Patient* chosen = nullptr;
    auto candidates = [&] {
        std::string s;
        for (const auto& p : raw.patients) s += (s.empty() ? "" : ", ") + describe(p);
        return s;
    };
    if (!requestedId.empty()) {
        for (const auto& p : raw.patients)
            if (p.source.id == requestedId) chosen = &p;
        if (!chosen)
            throw Error(PPMG_E_AMBIGUOUS_PATIENT,
                        "no Patient with id \"" + requestedId + "\" in the record; it holds " + candidates(),
                        Location{sourceName, "", "", 0});
    } else if (raw.patients.size() == 1) {
        chosen = &raw.patients.front();
    } else {
        // The subject of the delivery: the patient the delivery records name.
        const auto& vsets = content.valueSets;
        const DeliveryConfig& dc = content.delivery;
        std::set<const Patient*> subjects;
        auto note = [&](const std::string& subject) {
            for (const auto& p : raw.patients)
                if (referencesPatient(subject, p)) subjects.insert(&p);
        };
        auto isDelivery = [&](const Procedure& pr) {
            return inValueSet(vsets.at(dc.caesareanValueSet), pr.codes) ||
                   inValueSet(vsets.at(dc.vaginalValueSet), pr.codes) ||
                   (!dc.unspecifiedValueSet.empty() && inValueSet(vsets.at(dc.unspecifiedValueSet), pr.codes));
        };
        for (const auto& pr : raw.procedures)
            if (isDelivery(pr)) note(pr.subject);
        for (const auto& o : raw.observations)
            if (inValueSet(vsets.at(dc.dateObservationValueSet), o.codes)) note(o.subject);
        if (subjects.size() == 1) chosen = *subjects.begin();
        else
            throw Error(PPMG_E_AMBIGUOUS_PATIENT,
                        "the record holds " + std::to_string(raw.patients.size()) +
                            " patients and no single delivery subject; choose one with --patient ID: " + candidates(),
                        Location{sourceName, "", "", 0});
    }
    PatientRecord rec;
    rec.patient = *chosen;
    keepFor(rec.observations, std::move(raw.observations), rec.patient);
    keepFor(rec.conditions, std::move(raw.conditions), rec.patient);
    keepFor(rec.procedures, std::move(raw.procedures), rec.patient);
    keepFor(rec.medications, std::move(raw.medications), rec.patient);
    keepFor(rec.allergies, std::move(raw.allergies), rec.patient);
    keepFor(rec.encounters, std::move(raw.encounters), rec.patient);
    return rec;
}

}  // namespace ppmg
