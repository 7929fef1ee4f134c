#include "support/fhir_ccda_convert.hpp"

#include <simdjson.h>

#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace ppmg::test {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr const char* kSnomed = "2.16.840.1.113883.6.96";
constexpr const char* kLoinc = "2.16.840.1.113883.6.1";
constexpr const char* kExampleRoot = "2.16.840.1.113883.19.5";  // HL7's example OID: the entries' ids

std::string_view str(object o, std::string_view key) {
    element e;
    std::string_view v;
    if (o[key].get(e) || e.get(v)) return {};
    return v;
}

std::optional<object> obj(object o, std::string_view key) {
    element e;
    object v;
    if (o[key].get(e) || e.get(v)) return std::nullopt;
    return v;
}

std::optional<array> arr(object o, std::string_view key) {
    element e;
    array v;
    if (o[key].get(e) || e.get(v)) return std::nullopt;
    return v;
}

void escape(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out.push_back(c);
        }
    }
}

// A FHIR date, dateTime or instant as an HL7 timestamp ("" when it is not one).
std::string timestamp(std::string_view d) {
    std::string out;
    auto digits = [&](size_t from, size_t n) {
        if (d.size() < from + n) return false;
        for (size_t i = from; i < from + n; ++i)
            if (d[i] < '0' || d[i] > '9') return false;
        out.append(d.substr(from, n));
        return true;
    };
    if (!digits(0, 4)) return "";
    if (d.size() == 4) return out;
    if (d[4] != '-' || !digits(5, 2)) return "";
    if (d.size() == 7) return out;
    if (d[7] != '-' || !digits(8, 2)) return "";
    if (d.size() == 10) return out;
    if (d[10] != 'T' || !digits(11, 2) || d.size() < 16 || d[13] != ':' || !digits(14, 2)) return "";
    size_t i = 16;
    if (i < d.size() && d[i] == ':') {
        if (!digits(i + 1, 2)) return "";
        i += 3;
        if (i < d.size() && d[i] == '.') {
            out.push_back('.');
            ++i;
            while (i < d.size() && d[i] >= '0' && d[i] <= '9') out.push_back(d[i++]);
        }
    } else {
        out.append("00");
    }
    if (i == d.size()) return out;
    if (d[i] == 'Z') return out + "+0000";
    if ((d[i] == '+' || d[i] == '-') && d.size() == i + 6 && d[i + 3] == ':') {
        out.push_back(d[i]);
        out.append(d.substr(i + 1, 2)).append(d.substr(i + 4, 2));
        return out;
    }
    return "";
}

std::string number(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return buf;
}

class Converter {
public:
    Converter(const std::function<std::string(std::string_view)>& oidOf, const CcdaStyle& style)
        : oidOf_(oidOf), style_(style) {}

    CcdaConversion run(const std::string& json) {
        element root;
        if (parser_.parse(json).get(root)) throw std::runtime_error("not JSON");
        object top;
        if (root.get(top)) throw std::runtime_error("not a JSON object");
        if (str(top, "resourceType") == "Bundle") {
            if (auto entries = arr(top, "entry"))
                for (element e : *entries) {
                    object eo;
                    if (e.get(eo)) continue;
                    if (auto r = obj(eo, "resource")) resources_.push_back({*r, str(eo, "fullUrl")});
                }
        } else {
            resources_.push_back({top, ""});
        }
        for (const auto& r : resources_)
            if (str(r.o, "resourceType") == "Patient") {
                if (patient_ && str(patient_->o, "id") != str(r.o, "id"))
                    throw NotExpressible("several patients: a C-CDA document is about one");
                if (!patient_) patient_ = r;
            }
        if (!patient_) throw NotExpressible("no Patient: a C-CDA document is about one");
        document();
        return std::move(out_);
    }

private:
    struct Resource {
        object o;
        std::string_view fullUrl;
    };

    const std::function<std::string(std::string_view)>& oidOf_;
    CcdaStyle style_;
    simdjson::dom::parser parser_;
    std::vector<Resource> resources_;
    std::optional<Resource> patient_;
    CcdaConversion out_;
    std::string x_;     // the document
    std::string rows_;  // the current section's narrative rows
    int narrativeId_ = 0;

    void loss(const std::string& what) {
        out_.exact = false;
        if (out_.losses.find(what) == std::string::npos) out_.losses += (out_.losses.empty() ? "" : "; ") + what;
    }

    void raw(std::string_view s) { x_.append(s); }
    void text(std::string_view s) { escape(x_, s); }
    void attr(std::string_view name, std::string_view value) {
        x_.append(" ").append(name).append("=\"");
        escape(x_, value);
        x_.append("\"");
    }

    void templateId(const char* root, const char* extension) {
        raw("<templateId");
        attr("root", root);
        raw("/>");
        if (style_.r11 || !extension) return;
        raw("<templateId");
        attr("root", root);
        attr("extension", extension);
        raw("/>");
    }

    void id(std::string_view extension) {
        raw("<id");
        attr("root", kExampleRoot);
        if (!extension.empty()) attr("extension", extension);
        raw("/>");
    }

    std::string oid(std::string_view system) {
        if (system.substr(0, 8) == "urn:oid:") return std::string(system.substr(8));
        std::string o = oidOf_(system);
        return o.empty() ? std::string(system) : o;
    }

    // A CodeableConcept as a CD: its first coding the code, the others translations.
    void concept(const char* tag, std::optional<object> cc, const char* xsiType = nullptr) {
        raw("<");
        raw(tag);
        if (xsiType) attr("xsi:type", xsiType);
        std::vector<object> codings;
        std::string_view conceptText;
        if (cc) {
            conceptText = str(*cc, "text");
            if (auto list = arr(*cc, "coding"))
                for (element c : *list) {
                    object co;
                    if (!c.get(co)) codings.push_back(co);
                }
        }
        if (!codings.empty()) {
            coding(codings[0]);
        } else {
            attr("nullFlavor", "UNK");
        }
        if (codings.size() <= 1 && conceptText.empty()) {
            raw("/>");
            return;
        }
        raw(">");
        if (!conceptText.empty()) {
            raw("<originalText>");
            text(conceptText);
            raw("</originalText>");
        }
        for (size_t i = 1; i < codings.size(); ++i) {
            raw("<translation");
            coding(codings[i]);
            raw("/>");
        }
        raw("</");
        raw(tag);
        raw(">");
    }

    void coding(object c) {
        const std::string_view code = str(c, "code"), system = str(c, "system"), display = str(c, "display");
        if (code.empty()) {
            attr("nullFlavor", "UNK");
            loss("a coding without a code");
            return;
        }
        attr("code", code);
        if (!system.empty()) attr("codeSystem", oid(system));
        if (!display.empty()) attr("displayName", display);
    }

    void simpleCode(const char* tag, std::string_view code, std::string_view system, std::string_view display,
                    const char* xsiType = nullptr) {
        raw("<");
        raw(tag);
        if (xsiType) attr("xsi:type", xsiType);
        attr("code", code);
        attr("codeSystem", system);
        if (!display.empty()) attr("displayName", display);
        raw("/>");
    }

    void time(const char* tag, std::string_view fhirDate) {
        raw("<");
        raw(tag);
        if (fhirDate.empty()) {
            attr("nullFlavor", "UNK");
        } else {
            const std::string ts = timestamp(fhirDate);
            if (ts.empty()) {
                attr("nullFlavor", "UNK");
                loss("a date that is not a FHIR date");
            } else {
                attr("value", ts);
            }
        }
        raw("/>");
    }

    // An interval: low (and high when given).
    void interval(std::string_view low, std::string_view high = {}, bool withHigh = false) {
        raw("<effectiveTime xsi:type=\"IVL_TS\">");
        time("low", low);
        if (withHigh || !high.empty()) {
            if (high.empty())
                raw("<high nullFlavor=\"UNK\"/>");
            else
                time("high", high);
        }
        raw("</effectiveTime>");
    }

    void author(std::string_view fhirDate) {
        if (fhirDate.empty()) return;
        raw("<author>");
        templateId("2.16.840.1.113883.10.20.22.4.119", nullptr);
        time("time", fhirDate);
        raw("<assignedAuthor><id nullFlavor=\"UNK\"/></assignedAuthor></author>");
    }

    void statusCode(std::string_view code) {
        if (code == "UNK") {
            raw("<statusCode nullFlavor=\"UNK\"/>");
            return;
        }
        raw("<statusCode");
        attr("code", code);
        raw("/>");
    }

    // The narrative row an entry refers to; returns its ID.
    std::string row(std::string_view what, std::string_view when, std::string_view status) {
        const std::string ref = "n" + std::to_string(++narrativeId_);
        if (!style_.narrative) return ref;
        rows_.append("<tr ID=\"").append(ref).append("\"><td>");
        escape(rows_, what);
        rows_.append("</td><td>");
        escape(rows_, when);
        rows_.append("</td><td>");
        escape(rows_, status);
        rows_.append("</td></tr>");
        return ref;
    }

    void textReference(const std::string& ref) {
        if (!style_.narrative) return;
        raw("<text><reference value=\"#");
        raw(ref);
        raw("\"/></text>");
    }

    static std::string_view firstDisplay(std::optional<object> cc) {
        if (!cc) return {};
        std::string_view t = str(*cc, "text");
        if (!t.empty()) return t;
        if (auto list = arr(*cc, "coding"))
            for (element c : *list) {
                object co;
                if (c.get(co)) continue;
                std::string_view d = str(co, "display");
                if (d.empty()) d = str(co, "code");
                if (!d.empty()) return d;
            }
        return {};
    }

    // The first coding's code of a status CodeableConcept (or a plain string); "" when absent.
    std::string_view statusCodeOf(object o, std::string_view key, std::string_view system) {
        element e;
        if (o[key].get(e)) return {};
        std::string_view plain;
        if (!e.get(plain)) {
            loss("a status written as a plain string");
            return {};
        }
        object cc;
        if (e.get(cc)) return {};
        std::string_view found;
        if (auto list = arr(cc, "coding"))
            for (element c : *list) {
                object co;
                if (c.get(co)) continue;
                if (str(co, "system") == system) {
                    if (!found.empty()) loss("two status codings");
                    found = str(co, "code");
                } else {
                    loss("a status coding outside the HL7 system");
                }
            }
        return found;
    }

    // ---- whose ---------------------------------------------------------------------------------

    void requireThePatient(object o, const char* key) {
        std::string_view ref;
        if (auto r = obj(o, key)) ref = str(*r, "reference");
        const std::string_view pid = str(patient_->o, "id");
        const std::string relative = "Patient/" + std::string(pid);
        auto endsWith = [&](std::string_view s, std::string_view suffix) {
            return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
        };
        if (!ref.empty() && !pid.empty()) {
            std::string_view unversioned = ref;
            if (size_t h = ref.find("/_history/"); h != std::string_view::npos) unversioned = ref.substr(0, h);
            if (unversioned == relative || endsWith(unversioned, "/" + relative)) return;
        }
        if (!ref.empty() && ref == patient_->fullUrl) return;
        throw NotExpressible("a fact whose subject is not the patient");
    }

    // ---- the document ------------------------------------------------------------------------

    void document() {
        raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        raw("<ClinicalDocument xmlns=\"urn:hl7-org:v3\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
            "xmlns:sdtc=\"urn:hl7-org:sdtc\">");
        raw("<realmCode code=\"US\"/><typeId root=\"2.16.840.1.113883.1.3\" extension=\"POCD_HD000040\"/>");
        templateId("2.16.840.1.113883.10.20.22.1.1", "2015-08-01");
        templateId("2.16.840.1.113883.10.20.22.1.2", "2015-08-01");
        raw("<id");
        attr("root", style_.documentId.empty() ? "0e3a8b34-8f9a-4c2e-9c1d-5b1f0c2a7d11" : style_.documentId);
        raw("/>");
        raw("<code code=\"34133-9\" codeSystem=\"2.16.840.1.113883.6.1\" codeSystemName=\"LOINC\" "
            "displayName=\"Summarization of Episode Note\"/>");
        raw("<title>Continuity of Care Document</title><effectiveTime value=\"20250601120000+0000\"/>");
        raw("<confidentialityCode code=\"N\" codeSystem=\"2.16.840.1.113883.5.25\"/><languageCode code=\"en-US\"/>");
        recordTarget();
        raw("<author><time value=\"20250601120000+0000\"/><assignedAuthor><id nullFlavor=\"UNK\"/>"
            "<assignedAuthoringDevice><softwareName>ppmg test converter</softwareName></assignedAuthoringDevice>"
            "</assignedAuthor></author>");
        raw("<custodian><assignedCustodian><representedCustodianOrganization><id nullFlavor=\"UNK\"/>"
            "<name>Example Hospital</name></representedCustodianOrganization></assignedCustodian></custodian>");
        raw("<component><structuredBody>");
        section("2.16.840.1.113883.10.20.22.2.6.1", "2015-08-01", "48765-2", "Allergies and Adverse Reactions",
                [&] { each("AllergyIntolerance", [&](object o) { allergy(o); }); });
        section("2.16.840.1.113883.10.20.22.2.1.1", "2014-06-09", "10160-0", "Medications", [&] {
            each("MedicationRequest", [&](object o) { medication(o, false); });
            each("MedicationStatement", [&](object o) { medication(o, true); });
        });
        section("2.16.840.1.113883.10.20.22.2.5.1", "2015-08-01", "11450-4", "Problems",
                [&] { each("Condition", [&](object o) { problem(o); }); });
        section("2.16.840.1.113883.10.20.22.2.7.1", "2014-06-09", "47519-4", "Procedures",
                [&] { each("Procedure", [&](object o) { procedure(o); }); });
        section("2.16.840.1.113883.10.20.22.2.3.1", "2015-08-01", "30954-2", "Results",
                [&] { each("Observation", [&](object o) { observation(o, false); }); });
        section("2.16.840.1.113883.10.20.22.2.4.1", "2015-08-01", "8716-3", "Vital Signs",
                [&] { each("Observation", [&](object o) { observation(o, true); }); });
        section("2.16.840.1.113883.10.20.22.2.22.1", "2015-08-01", "46240-8", "Encounters",
                [&] { each("Encounter", [&](object o) { encounter(o); }); });
        raw("</structuredBody></component></ClinicalDocument>\n");
        out_.xml = std::move(x_);
    }

    template <class F>
    void each(std::string_view type, F&& f) {
        for (const auto& r : resources_)
            if (str(r.o, "resourceType") == type) f(r.o);
    }

    template <class F>
    void section(const char* templateRoot, const char* extension, const char* loinc, const char* title, F&& entries) {
        std::string before;
        before.swap(x_);
        rows_.clear();
        entries();  // into x_ (the entries) and rows_ (their narrative)
        std::string body;
        body.swap(x_);
        x_.swap(before);
        raw("<component><section>");
        templateId(templateRoot, extension);
        simpleCode("code", loinc, kLoinc, title);
        raw("<title>");
        text(title);
        raw("</title><text>");
        if (rows_.empty()) {
            raw("No information.");
        } else {
            raw("<table><thead><tr><th>What</th><th>Date</th><th>Status</th></tr></thead><tbody>");
            raw(rows_);
            raw("</tbody></table>");
        }
        raw("</text>");
        raw(body);
        raw("</section></component>");
    }

    void recordTarget() {
        object p = patient_->o;
        raw("<recordTarget><patientRole>");
        bool anyId = false;
        if (auto ids = arr(p, "identifier"))
            for (element e : *ids) {
                object io;
                if (e.get(io)) continue;
                const std::string_view system = str(io, "system"), value = str(io, "value");
                if (value.empty()) continue;
                if (system.substr(0, 8) == "urn:oid:") {
                    raw("<id");
                    attr("root", system.substr(8));
                    attr("extension", value);
                    raw("/>");
                    anyId = true;
                } else if (system == "urn:ietf:rfc:3986" && value.substr(0, 8) == "urn:oid:") {
                    raw("<id");
                    attr("root", value.substr(8));
                    raw("/>");
                    anyId = true;
                } else {
                    loss("a patient identifier whose system is not an OID");
                }
            }
        if (!anyId) raw("<id nullFlavor=\"NI\"/>");
        raw("<addr nullFlavor=\"UNK\"/><telecom nullFlavor=\"UNK\"/><patient>");
        std::optional<object> name;
        if (auto names = arr(p, "name"))
            for (element e : *names) {
                object no;
                if (e.get(no)) continue;
                if (!name || (str(no, "use") == "official" && str(*name, "use") != "official")) name = no;
            }
        if (!name) {
            raw("<name nullFlavor=\"UNK\"/>");
        } else {
            raw("<name use=\"L\">");
            bool parts = false;
            if (auto given = arr(*name, "given"))
                for (element g : *given) {
                    std::string_view gv;
                    if (g.get(gv) || gv.empty()) continue;
                    raw("<given>");
                    text(gv);
                    raw("</given>");
                    parts = true;
                }
            if (std::string_view family = str(*name, "family"); !family.empty()) {
                raw("<family>");
                text(family);
                raw("</family>");
                parts = true;
            }
            if (!parts) text(str(*name, "text"));
            raw("</name>");
        }
        const std::string_view gender = str(p, "gender");
        if (gender == "female" || gender == "male" || gender == "unknown" || gender == "other") {
            if (gender == "other") loss("gender other (C-CDA has M, F and UN)");
            raw("<administrativeGenderCode");
            attr("code", gender == "female" ? "F" : gender == "male" ? "M" : "UN");
            attr("codeSystem", "2.16.840.1.113883.5.1");
            raw("/>");
        } else {
            if (!gender.empty()) loss("a gender FHIR does not define");
            raw("<administrativeGenderCode nullFlavor=\"UNK\"/>");
        }
        time("birthTime", str(p, "birthDate"));
        raw("</patient></patientRole></recordTarget>");
    }

    // ---- entries -------------------------------------------------------------------------------

    void problem(object o) {
        requireThePatient(o, "subject");
        const std::string_view clinical =
            statusCodeOf(o, "clinicalStatus", "http://terminology.hl7.org/CodeSystem/condition-clinical");
        const std::string_view verification =
            statusCodeOf(o, "verificationStatus", "http://terminology.hl7.org/CodeSystem/condition-ver-status");
        static const std::map<std::string_view, std::pair<const char*, const char*>> kStatus = {
            {"active", {"55561003", "Active"}},          {"inactive", {"73425007", "Inactive"}},
            {"resolved", {"413322009", "Resolved"}},     {"recurrence", {"246455001", "Recurrence"}},
            {"relapse", {"263855007", "Relapse phase"}}, {"remission", {"277022003", "Remission phase"}}};
        const auto status = kStatus.find(clinical);
        if (clinical.empty()) loss("a Condition without a clinical status (its concern's status is read)");
        if (!clinical.empty() && status == kStatus.end()) loss("a clinical status C-CDA has no code for");
        const bool refuted = verification == "refuted" || verification == "entered-in-error";
        if (verification == "entered-in-error") loss("entered-in-error (C-CDA negates the problem)");
        if (!verification.empty() && !refuted && verification != "confirmed" && verification != "unconfirmed" &&
            verification != "provisional" && verification != "differential")
            loss("a verification status FHIR does not define");
        const bool activeConcern = clinical.empty() || clinical == "active" || clinical == "recurrence" ||
                                   clinical == "relapse" || status == kStatus.end();
        const std::string_view onset = onsetOf(o), abatement = abatementOf(o);
        const std::string ref = row(firstDisplay(obj(o, "code")), onset, clinical);
        raw("<entry typeCode=\"DRIV\"><act classCode=\"ACT\" moodCode=\"EVN\">");
        templateId("2.16.840.1.113883.10.20.22.4.3", "2015-08-01");
        id(std::string(str(o, "id")) + "-concern");
        raw("<code code=\"CONC\" codeSystem=\"2.16.840.1.113883.5.6\"/>");
        statusCode(activeConcern ? "active" : "completed");
        interval(onset);
        raw("<entryRelationship typeCode=\"SUBJ\"><observation classCode=\"OBS\" moodCode=\"EVN\"");
        if (refuted) attr("negationInd", "true");
        raw(">");
        templateId("2.16.840.1.113883.10.20.22.4.4", "2015-08-01");
        id(str(o, "id"));
        raw("<code code=\"55607006\" codeSystem=\"2.16.840.1.113883.6.96\" displayName=\"Problem\">"
            "<translation code=\"75326-9\" codeSystem=\"2.16.840.1.113883.6.1\" displayName=\"Problem\"/></code>");
        textReference(ref);
        raw("<statusCode code=\"completed\"/>");
        interval(onset, abatement);
        concept("value", obj(o, "code"), "CD");
        author(str(o, "recordedDate"));
        if (status != kStatus.end()) {
            raw("<entryRelationship typeCode=\"REFR\"><observation classCode=\"OBS\" moodCode=\"EVN\">");
            templateId("2.16.840.1.113883.10.20.22.4.6", nullptr);
            raw("<code code=\"33999-4\" codeSystem=\"2.16.840.1.113883.6.1\" displayName=\"Status\"/>"
                "<statusCode code=\"completed\"/>");
            simpleCode("value", status->second.first, kSnomed, status->second.second, "CD");
            raw("</observation></entryRelationship>");
        }
        raw("</observation></entryRelationship></act></entry>");
    }

    static std::string_view onsetOf(object o) {
        std::string_view d = str(o, "onsetDateTime");
        if (d.empty())
            if (auto p = obj(o, "onsetPeriod")) d = str(*p, "start");
        return d;
    }

    static std::string_view abatementOf(object o) {
        std::string_view d = str(o, "abatementDateTime");
        if (d.empty())
            if (auto p = obj(o, "abatementPeriod")) {
                d = str(*p, "end");
                if (d.empty()) d = str(*p, "start");
            }
        return d;
    }

    void allergy(object o) {
        requireThePatient(o, "patient");
        const std::string_view clinical =
            statusCodeOf(o, "clinicalStatus", "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical");
        const std::string_view verification = statusCodeOf(
            o, "verificationStatus", "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification");
        static const std::map<std::string_view, std::pair<const char*, const char*>> kStatus = {
            {"active", {"55561003", "Active"}},
            {"inactive", {"73425007", "Inactive"}},
            {"resolved", {"413322009", "Resolved"}}};
        const auto status = kStatus.find(clinical);
        if (clinical.empty()) loss("an allergy without a clinical status (its concern's status is read)");
        if (!clinical.empty() && status == kStatus.end()) loss("an allergy status C-CDA has no code for");
        const bool refuted = verification == "refuted" || verification == "entered-in-error";
        if (verification == "entered-in-error") loss("entered-in-error (C-CDA negates the allergy)");
        std::string_view onset = str(o, "onsetDateTime");
        if (onset.empty())
            if (auto p = obj(o, "onsetPeriod")) onset = str(*p, "start");
        const auto code = obj(o, "code");
        bool coded = false;
        if (code)
            if (auto list = arr(*code, "coding")) coded = list->size() > 0;
        const std::string ref = row(firstDisplay(code), onset, clinical);
        raw("<entry typeCode=\"DRIV\"><act classCode=\"ACT\" moodCode=\"EVN\">");
        templateId("2.16.840.1.113883.10.20.22.4.30", "2015-08-01");
        id(std::string(str(o, "id")) + "-concern");
        raw("<code code=\"CONC\" codeSystem=\"2.16.840.1.113883.5.6\"/>");
        statusCode(status == kStatus.end() || clinical == "active" ? "active" : "completed");
        interval(onset);
        raw("<entryRelationship typeCode=\"SUBJ\"><observation classCode=\"OBS\" moodCode=\"EVN\"");
        if (refuted) attr("negationInd", "true");
        raw(">");
        templateId("2.16.840.1.113883.10.20.22.4.7", "2014-06-09");
        id(str(o, "id"));
        raw("<code code=\"ASSERTION\" codeSystem=\"2.16.840.1.113883.5.4\"/>");
        textReference(ref);
        raw("<statusCode code=\"completed\"/>");
        interval(onset);
        if (coded)
            simpleCode("value", "419199007", kSnomed, "Allergy to substance", "CD");
        else
            raw("<value xsi:type=\"CD\" nullFlavor=\"UNK\"/>");
        author(str(o, "recordedDate"));
        raw("<participant typeCode=\"CSM\"><participantRole classCode=\"MANU\"><playingEntity classCode=\"MMAT\">");
        concept("code", code);
        raw("</playingEntity></participantRole></participant>");
        if (status != kStatus.end()) {
            raw("<entryRelationship typeCode=\"SUBJ\" inversionInd=\"true\"><observation classCode=\"OBS\" "
                "moodCode=\"EVN\">");
            templateId("2.16.840.1.113883.10.20.22.4.28", "2014-06-09");
            raw("<code code=\"33999-4\" codeSystem=\"2.16.840.1.113883.6.1\"/><statusCode code=\"completed\"/>");
            simpleCode("value", status->second.first, kSnomed, status->second.second, "CE");
            raw("</observation></entryRelationship>");
        }
        raw("</observation></entryRelationship></act></entry>");
    }

    // The Medication a medicationReference names, if the record holds it.
    std::optional<object> referencedMedication(object o) {
        auto r = obj(o, "medicationReference");
        if (!r) return std::nullopt;
        std::string_view ref = str(*r, "reference");
        if (ref.empty()) return std::nullopt;
        if (ref[0] == '#') {
            if (auto contained = arr(o, "contained"))
                for (element e : *contained) {
                    object co;
                    if (!e.get(co) && str(co, "resourceType") == "Medication" && str(co, "id") == ref.substr(1))
                        return co;
                }
            return std::nullopt;
        }
        if (size_t h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
        for (const auto& res : resources_) {
            if (str(res.o, "resourceType") != "Medication") continue;
            if (!res.fullUrl.empty() && ref == res.fullUrl) return res.o;
            const std::string tail = "Medication/" + std::string(str(res.o, "id"));
            if (ref == tail || (ref.size() > tail.size() && ref.substr(ref.size() - tail.size() - 1) == "/" + tail))
                return res.o;
        }
        return std::nullopt;
    }

    void medication(object o, bool statement) {
        requireThePatient(o, "subject");
        const std::string_view status = str(o, "status");
        static const std::map<std::string_view, const char*> kRequest = {
            {"active", "active"},       {"on-hold", "suspended"}, {"cancelled", "cancelled"},
            {"completed", "completed"}, {"stopped", "aborted"},   {"entered-in-error", "nullified"},
            {"draft", "new"},           {"unknown", "UNK"}};
        static const std::map<std::string_view, const char*> kStatement = {
            {"active", "active"},   {"on-hold", "suspended"},  {"completed", "completed"},
            {"stopped", "aborted"}, {"intended", "new"},       {"entered-in-error", "nullified"},
            {"unknown", "UNK"},     {"not-taken", "completed"}};
        const auto& table = statement ? kStatement : kRequest;
        const auto mapped = table.find(status);
        if (mapped == table.end()) loss("a medication status C-CDA has no code for");
        std::optional<object> code = obj(o, "medicationCodeableConcept");
        if (!code)
            if (auto med = referencedMedication(o)) code = obj(*med, "code");
        std::string_view when = str(o, statement ? "dateAsserted" : "authoredOn");
        std::string_view effective;
        if (statement) {
            effective = str(o, "effectiveDateTime");
            if (effective.empty())
                if (auto p = obj(o, "effectivePeriod")) effective = str(*p, "start");
        }
        const std::string ref = row(firstDisplay(code), statement ? effective : when, status);
        raw("<entry typeCode=\"DRIV\"><substanceAdministration classCode=\"SBADM\"");
        attr("moodCode", statement ? "EVN" : "INT");
        if (statement && status == "not-taken") attr("negationInd", "true");
        raw(">");
        templateId("2.16.840.1.113883.10.20.22.4.16", "2014-06-09");
        id(str(o, "id"));
        textReference(ref);
        statusCode(mapped == table.end() ? "active" : mapped->second);
        interval(effective);
        raw("<consumable><manufacturedProduct classCode=\"MANU\">");
        templateId("2.16.840.1.113883.10.20.22.4.23", "2014-06-09");
        raw("<manufacturedMaterial>");
        concept("code", code);
        raw("</manufacturedMaterial></manufacturedProduct></consumable>");
        author(when);
        raw("</substanceAdministration></entry>");
    }

    void procedure(object o) {
        requireThePatient(o, "subject");
        const std::string_view status = str(o, "status");
        static const std::map<std::string_view, const char*> kStatus = {
            {"completed", "completed"}, {"in-progress", "active"},        {"stopped", "aborted"},
            {"not-done", "cancelled"},  {"on-hold", "suspended"},         {"preparation", "new"},
            {"unknown", "UNK"},         {"entered-in-error", "nullified"}};
        const auto mapped = kStatus.find(status);
        if (!status.empty() && mapped == kStatus.end()) loss("a procedure status C-CDA has no code for");
        std::string_view performed = str(o, "performedDateTime"), end;
        if (performed.empty())
            if (auto p = obj(o, "performedPeriod")) {
                performed = str(*p, "start");
                end = str(*p, "end");
            }
        const std::string ref = row(firstDisplay(obj(o, "code")), performed, status);
        raw("<entry typeCode=\"DRIV\"><procedure classCode=\"PROC\" moodCode=\"EVN\"");
        if (status == "not-done") attr("negationInd", "true");
        raw(">");
        templateId("2.16.840.1.113883.10.20.22.4.14", "2014-06-09");
        id(str(o, "id"));
        concept("code", obj(o, "code"));
        textReference(ref);
        if (status.empty())
            raw("<statusCode nullFlavor=\"NI\"/>");
        else
            statusCode(mapped == kStatus.end() ? "completed" : mapped->second);
        if (!end.empty() || str(o, "performedDateTime").empty())
            interval(performed, end);
        else
            time("effectiveTime", performed);
        raw("</procedure></entry>");
    }

    static bool isVitalSign(object o) {
        static const std::set<std::string_view> kVitals = {"85354-9", "55284-4", "8480-6",  "8462-4", "8310-5",
                                                           "8867-4",  "9279-2",  "59408-5", "2708-6", "29463-7",
                                                           "8302-2",  "39156-5", "8287-5"};
        if (auto code = obj(o, "code"))
            if (auto list = arr(*code, "coding"))
                for (element c : *list) {
                    object co;
                    if (!c.get(co) && str(co, "system") == "http://loinc.org" && kVitals.count(str(co, "code")))
                        return true;
                }
        return false;
    }

    static const char* observationStatus(std::string_view s) {
        if (s == "final" || s == "amended" || s == "corrected") return "completed";
        if (s == "registered" || s == "preliminary") return "active";
        if (s == "cancelled") return "cancelled";
        if (s == "entered-in-error") return "nullified";
        if (s == "unknown") return "UNK";
        return nullptr;
    }

    void observation(object o, bool vitals) {
        if (isVitalSign(o) != vitals) return;
        requireThePatient(o, "subject");
        const std::string_view status = str(o, "status");
        if (status == "amended" || status == "corrected") loss("amended or corrected (C-CDA writes completed)");
        if (status == "registered" || status == "preliminary")
            loss("registered and preliminary are one C-CDA status (active)");
        if (!status.empty() && !observationStatus(status)) loss("an observation status C-CDA has no code for");
        std::string_view effective = str(o, "effectiveDateTime");
        if (effective.empty())
            if (auto p = obj(o, "effectivePeriod")) effective = str(*p, "start");
        if (effective.empty()) effective = str(o, "effectiveInstant");
        const std::string ref = row(firstDisplay(obj(o, "code")), effective, status);
        raw("<entry typeCode=\"DRIV\"><organizer classCode=\"");
        raw(vitals ? "CLUSTER" : "BATTERY");
        raw("\" moodCode=\"EVN\">");
        if (vitals)
            templateId("2.16.840.1.113883.10.20.22.4.26", "2015-08-01");
        else
            templateId("2.16.840.1.113883.10.20.22.4.1", "2015-08-01");
        id(std::string(str(o, "id")) + "-organizer");
        if (vitals)
            raw("<code code=\"46680005\" codeSystem=\"2.16.840.1.113883.6.96\" displayName=\"Vital signs\">"
                "<translation code=\"74728-7\" codeSystem=\"2.16.840.1.113883.6.1\"/></code>");
        else
        concept("code", obj(o, "code"));
        raw("<statusCode code=\"completed\"/>");
        if (!effective.empty()) interval(effective, effective);
        auto components = arr(o, "component");
        if (components && components->size() > 0) {
            loss("an observation with components (C-CDA writes one observation each)");
            for (element c : *components) {
                object co;
                if (c.get(co)) continue;
                raw("<component>");
                observationBody(co, vitals, status, effective, str(o, "id"), ref, str(o, "issued"));
                raw("</component>");
            }
        } else {
            raw("<component>");
            observationBody(o, vitals, status, effective, str(o, "id"), ref, str(o, "issued"));
            raw("</component>");
        }
        raw("</organizer></entry>");
    }

    void observationBody(object o, bool vitals, std::string_view status, std::string_view effective,
                         std::string_view id_, const std::string& ref, std::string_view issued) {
        raw("<observation classCode=\"OBS\" moodCode=\"EVN\">");
        if (vitals)
            templateId("2.16.840.1.113883.10.20.22.4.27", "2014-06-09");
        else
            templateId("2.16.840.1.113883.10.20.22.4.2", "2015-08-01");
        id(id_);
        concept("code", obj(o, "code"));
        textReference(ref);
        if (status.empty()) {
            raw("<statusCode nullFlavor=\"NI\"/>");
        } else {
            const char* s = observationStatus(status);
            statusCode(s ? s : "completed");
        }
        if (effective.empty())
            raw("<effectiveTime nullFlavor=\"UNK\"/>");
        else
            time("effectiveTime", effective);
        if (auto q = obj(o, "valueQuantity")) {
            element v;
            double d = 0;
            if (!(*q)["value"].get(v) && !v.get(d)) {
                raw("<value xsi:type=\"PQ\"");
                attr("value", number(d));
                std::string_view unit = str(*q, "code");
                if (unit.empty()) unit = str(*q, "unit");
                if (!unit.empty()) attr("unit", unit);
                raw("/>");
            }
        } else if (auto cc = obj(o, "valueCodeableConcept")) {
            concept("value", cc, "CD");
        } else if (std::string_view dt = str(o, "valueDateTime"); !dt.empty()) {
            raw("<value xsi:type=\"TS\"");
            const std::string ts = timestamp(dt);
            if (ts.empty()) {
                attr("nullFlavor", "UNK");
                loss("a value that is not a FHIR date");
            } else {
                attr("value", ts);
            }
            raw("/>");
        } else if (std::string_view s = str(o, "valueString"); !s.empty()) {
            raw("<value xsi:type=\"ST\">");
            text(s);
            raw("</value>");
        }
        author(issued);
        raw("</observation>");
    }

    void encounter(object o) {
        requireThePatient(o, "subject");
        std::string_view start;
        if (auto p = obj(o, "period")) start = str(*p, "start");
        // Every type's codings, in one CD: the first the code, the rest translations.
        std::vector<object> codings;
        if (auto types = arr(o, "type"))
            for (element t : *types) {
                object to;
                if (t.get(to)) continue;
                if (auto list = arr(to, "coding"))
                    for (element c : *list) {
                        object co;
                        if (!c.get(co)) codings.push_back(co);
                    }
            }
        const std::string ref =
            row(codings.empty() ? std::string_view("Encounter") : str(codings[0], "code"), start, str(o, "status"));
        raw("<entry typeCode=\"DRIV\"><encounter classCode=\"ENC\" moodCode=\"EVN\">");
        templateId("2.16.840.1.113883.10.20.22.4.49", "2015-08-01");
        id(str(o, "id"));
        raw("<code");
        if (codings.empty()) {
            attr("nullFlavor", "UNK");
            raw("/>");
        } else {
            coding(codings[0]);
            raw(">");
            for (size_t i = 1; i < codings.size(); ++i) {
                raw("<translation");
                coding(codings[i]);
                raw("/>");
            }
            raw("</code>");
        }
        textReference(ref);
        interval(start);
        raw("</encounter></entry>");
    }
};

}  // namespace

CcdaConversion fhirJsonToCcda(const std::string& json, const std::function<std::string(std::string_view)>& oidOf,
                              const CcdaStyle& style) {
    Converter c(oidOf, style);
    return c.run(json);
}

}  // namespace ppmg::test
