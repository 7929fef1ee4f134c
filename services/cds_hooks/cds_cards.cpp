#include "cds_cards.hpp"

#include <Poco/UUIDGenerator.h>
#include <simdjson.h>

#include <set>
#include <stdexcept>
#include <unordered_set>

#include "cds_text.hpp"
#include "json_writer.hpp"

namespace ppmg::cds {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;
using tools::appendJsonString;
using tools::JsonWriter;

namespace {

std::string_view str(object o, const char* name) {
    std::string_view v;
    if (o[name].get_string().get(v) != simdjson::SUCCESS) return {};
    return v;
}

bool arr(object o, const char* name, array& out) { return o[name].get_array().get(out) == simdjson::SUCCESS; }

bool obj(object o, const char* name, object& out) { return o[name].get_object().get(out) == simdjson::SUCCESS; }

const char* const kPrefetch[][2] = {
    {"patient", "Patient/{{context.patientId}}"},
    {"conditions", "Condition?patient={{context.patientId}}"},
    {"procedures", "Procedure?patient={{context.patientId}}"},
    {"observations", "Observation?patient={{context.patientId}}&_sort=-date&_count=500"},
    {"medicationRequests", "MedicationRequest?patient={{context.patientId}}"},
    {"medicationStatements", "MedicationStatement?patient={{context.patientId}}"},
    {"allergies", "AllergyIntolerance?patient={{context.patientId}}"},
    {"encounters", "Encounter?patient={{context.patientId}}"},
};

}  // namespace

std::string contentExtensionJson(const ContentFacts& f) {
    JsonWriter j;
    j.open('{');
    j.field("version", f.contentVersion);
    j.field("sha256", f.contentSha256);
    j.field("pluginVersion", f.pluginVersion);
    j.close('}');
    return j.out;
}

std::string discoveryJson(const ContentFacts& facts) {
    JsonWriter j;
    j.open('{').key("services").open('[');
    const char* hooks[][2] = {
        {"patient-view", "when a postpartum patient's chart is opened"},
        {"encounter-discharge", "at discharge after a birth, for the discharge instructions"},
    };
    for (const auto& hook : hooks) {
        j.open('{');
        j.field("hook", hook[0]);
        j.field("title", "Postpartum massage guidance");
        j.field(
            "description",
            std::string("Whether abdominal, low-back, breast, and shoulder and neck massage may be done now, later, "
                        "with changes, not at all, or only after a clinician's review, and why, from the patient's "
                        "record; ") +
                hook[1] + ". Urgent findings (such as a venous thromboembolism) give one critical card.");
        j.field("id", kServiceId);
        j.key("prefetch").open('{');
        for (const auto& p : kPrefetch) j.field(p[0], p[1]);
        j.close('}');
        j.field("usageRequirements",
                "Prefetch \"patient\" is required (HTTP 412 otherwise); the other prefetch keys are used when given. "
                "Each call needs a JWT (ES384 or RS384) from a configured issuer.");
        j.key("extension").open('{').key(kContentExtension).raw(contentExtensionJson(facts)).close('}');
        j.close('}');
    }
    j.close(']').close('}');
    return j.out;
}

std::string operationOutcome(std::string_view severity, std::string_view code, std::string_view text) {
    JsonWriter j;
    j.open('{');
    j.field("resourceType", "OperationOutcome");
    j.key("issue").open('[').open('{');
    j.field("severity", severity);
    j.field("code", code);
    j.key("diagnostics").str(text);
    j.close('}').close(']');
    j.close('}');
    return j.out;
}

// ---- the hook request ---------------------------------------------------------------------

namespace {

struct Merger {
    std::string bundle;
    std::unordered_set<std::string> seen;
    size_t count = 0;

    Merger() { bundle = R"({"resourceType":"Bundle","type":"collection","entry":[)"; }
    void add(object resource) {
        std::string_view type = str(resource, "resourceType"), id = str(resource, "id");
        if (type.empty() || type == "OperationOutcome") return;
        if (!id.empty() && !seen.insert(std::string(type) + "/" + std::string(id)).second) return;
        if (count++) bundle.push_back(',');
        bundle += R"({"resource":)";
        bundle += simdjson::minify(resource);
        bundle.push_back('}');
    }
    // A Bundle's entries, or a single resource. False when the value is no FHIR resource.
    bool addValue(element value) {
        object o;
        if (value.get_object().get(o) != simdjson::SUCCESS) return false;
        std::string_view type = str(o, "resourceType");
        if (type.empty()) return false;
        if (type != "Bundle") {
            add(o);
            return true;
        }
        array entries;
        if (!arr(o, "entry", entries)) return true;  // an empty search result
        for (element e : entries) {
            object entry, resource;
            if (e.get_object().get(entry) == simdjson::SUCCESS && obj(entry, "resource", resource)) add(resource);
        }
        return true;
    }
    std::string finish() { return std::move(bundle) + "]}"; }
};

HookRequest refuse(HookRequest r, int status, std::string problem) {
    r.status = status;
    r.problem = std::move(problem);
    r.bundle.clear();
    return r;
}

}  // namespace

HookRequest readHookRequest(std::string_view body) {
    HookRequest r;
    thread_local simdjson::dom::parser parser;
    element doc;
    object root;
    if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS)
        return refuse(r, 400, "The request body is not a JSON object.");
    r.hook = std::string(str(root, "hook"));
    r.hookInstance = std::string(str(root, "hookInstance")).substr(0, 128);
    if (r.hook.empty()) return refuse(r, 400, "The request has no \"hook\".");
    if (r.hook != "patient-view" && r.hook != "encounter-discharge")
        return refuse(r, 400,
                      "This service answers the hooks patient-view and encounter-discharge, not \"" +
                          r.hook.substr(0, 64) + "\".");
    object context;
    std::string contextPatient;
    if (obj(root, "context", context)) contextPatient = std::string(str(context, "patientId"));

    object prefetch;
    if (!obj(root, "prefetch", prefetch))
        return refuse(r, 412,
                      "Prefetch is missing: this service needs prefetch \"patient\" (a Patient) and uses the other "
                      "keys of its discovery document; it does not query fhirServer.");
    element patientValue;
    object patient;
    if (prefetch["patient"].get(patientValue) != simdjson::SUCCESS || patientValue.is_null())
        return refuse(r, 412, "Prefetch \"patient\" is missing or null: the Patient is required.");
    if (patientValue.get_object().get(patient) != simdjson::SUCCESS)
        return refuse(r, 412, "Prefetch \"patient\" is not a FHIR resource.");
    if (str(patient, "resourceType") == "OperationOutcome")
        return refuse(r, 412, "Prefetch \"patient\" is an OperationOutcome: the client could not fetch the Patient.");

    Merger m;
    if (str(patient, "resourceType") == "Patient") {
        r.patientId = std::string(str(patient, "id"));
        m.add(patient);
    } else if (str(patient, "resourceType") == "Bundle") {
        // A search instead of a read: the Patient is in its entries.
        m.addValue(patientValue);
        array entries;
        if (arr(patient, "entry", entries))
            for (element e : entries) {
                object entry, res;
                if (e.get_object().get(entry) == simdjson::SUCCESS && obj(entry, "resource", res) &&
                    str(res, "resourceType") == "Patient" && r.patientId.empty())
                    r.patientId = std::string(str(res, "id"));
            }
        if (m.count == 0) return refuse(r, 412, "Prefetch \"patient\" holds no Patient.");
    } else {
        return refuse(r, 412, "Prefetch \"patient\" is not a Patient.");
    }
    if (!contextPatient.empty() && !r.patientId.empty() && contextPatient != r.patientId)
        return refuse(r, 412, "Prefetch \"patient\" is not the patient of context.patientId.");

    for (auto field : prefetch) {
        if (field.key == "patient") continue;
        element v = field.value;
        object o;
        if (v.is_null() ||
            (v.get_object().get(o) == simdjson::SUCCESS && str(o, "resourceType") == "OperationOutcome")) {
            r.skippedKeys.emplace_back(field.key.substr(0, 64));
            continue;
        }
        if (!m.addValue(v))
            return refuse(
                r, 400,
                "Prefetch \"" + std::string(field.key.substr(0, 64)) + "\" is neither a FHIR Bundle nor a resource.");
    }
    r.resources = m.count;
    r.bundle = m.finish();
    return r;
}

// ---- cards --------------------------------------------------------------------------------

namespace {

std::string massageDisplay(std::string_view code, object m) {
    std::string_view d = str(m, "display");
    // The display comes from the content, through the assessment JSON; the code is the fallback.
    return d.empty() ? std::string(code) : std::string(d);
}

std::string systemName(std::string_view uri) {
    if (uri == "http://snomed.info/sct") return "SNOMED CT";
    if (uri == "http://loinc.org") return "LOINC";
    if (uri == "http://hl7.org/fhir/sid/icd-10-cm") return "ICD-10-CM";
    if (uri == "http://hl7.org/fhir/sid/icd-10") return "ICD-10";
    if (uri == "http://www.nlm.nih.gov/research/umls/rxnorm") return "RxNorm";
    if (uri == "http://www.whocc.no/atc") return "ATC";
    if (uri == kLocalSystem) return "ppmg";
    return std::string(uri);
}

// Severity order of the outcomes, most severe first.
int severity(std::string_view outcome) {
    static const char* order[] = {"escalate", "block", "defer", "review", "modify", "no-flag", "not-applicable"};
    for (int i = 0; i < 7; ++i)
        if (outcome == order[i]) return i;
    return 7;
}

struct Assessment {
    object root;
    std::string asOf, deliveryDate, deliveryMode;
    long long postpartumDay = -1;
    bool applicable = true;
};

// "| Condition/c1: Deep venous thrombosis (SNOMED CT 128053003) | active | 2026-01-01 |"
void evidenceTable(std::string& md, array evidence) {
    bool any = false;
    for (element e : evidence) {
        object ev;
        if (e.get_object().get(ev) != simdjson::SUCCESS) continue;
        if (!any) {
            md += "\n| Data | Value | Date |\n|---|---|---|\n";
            any = true;
        }
        std::string what = std::string(str(ev, "resourceType")) + "/" + std::string(str(ev, "id"));
        object code;
        if (obj(ev, "code", code)) {
            std::string_view display = str(code, "display");
            what += ": ";
            if (!display.empty()) what += std::string(display) + " (";
            what += systemName(str(code, "system")) + " " + std::string(str(code, "code"));
            if (!display.empty()) what += ")";
        } else if (!str(ev, "element").empty()) {
            what += ": " + std::string(str(ev, "element"));
        }
        std::string_view date = str(ev, "date");
        md += "| " + markdownEscape(what) + " | " + markdownEscape(str(ev, "value")) + " | " +
              (date.empty() ? std::string("not recorded") : markdownEscape(date)) + " |\n";
    }
}

void finding(std::string& md, object f, std::string_view skipAction = {}) {
    md += "\n**" + markdownEscape(str(f, "title")) + "** (rule " + markdownEscape(str(f, "rule")) + ", " +
          markdownEscape(str(f, "outcome")) + "): " + markdownEscape(str(f, "reason")) + "\n";
    if (!str(f, "action").empty() && str(f, "action") != skipAction)
        md += "\nWhat to do: " + markdownEscape(str(f, "action")) + "\n";
    if (!str(f, "earliestDate").empty()) md += "\nEarliest date: " + markdownEscape(str(f, "earliestDate")) + "\n";
    array evidence;
    if (arr(f, "evidence", evidence)) evidenceTable(md, evidence);
    array refs;
    if (arr(f, "references", refs)) {
        std::string list;
        for (element r : refs) {
            std::string_view s;
            if (r.get_string().get(s) == simdjson::SUCCESS) list += (list.empty() ? "" : ", ") + markdownEscape(s);
        }
        if (!list.empty()) md += "\nReferences: " + list + "\n";
    }
}

// The data gaps and the facts of the assessment, at the end of every card's detail.
void footer(std::string& md, const Assessment& a, const ContentFacts& facts) {
    array gaps;
    if (arr(a.root, "dataGaps", gaps) && gaps.size() > 0) {
        md += "\n**Missing data**\n\n";
        for (element g : gaps) {
            object gap;
            if (g.get_object().get(gap) == simdjson::SUCCESS) md += "- " + markdownEscape(str(gap, "text")) + "\n";
        }
    }
    md += "\n---\n\n";
    if (!a.deliveryDate.empty()) {
        md += "Delivery " + markdownEscape(a.deliveryDate);
        if (!a.deliveryMode.empty()) md += " (" + markdownEscape(a.deliveryMode) + ")";
        if (a.postpartumDay >= 0) md += ", postpartum day " + std::to_string(a.postpartumDay);
        md += ". ";
    } else {
        md += "No delivery on record. ";
    }
    md += "Assessed as of " + markdownEscape(a.asOf) + " by ppmg " + markdownEscape(facts.pluginVersion) +
          ", content " + markdownEscape(facts.contentVersion) + " (sha256 " +
          markdownEscape(facts.contentSha256.substr(0, 12)) + ").\n";
}

struct Card {
    std::string summary, detail, indicator, ruleId, ruleTitle;
};

void writeCard(JsonWriter& j, const Card& c, const CardOptions& o) {
    j.open('{');
    j.field("uuid", Poco::UUIDGenerator::defaultGenerator().createRandom().toString());
    j.field("summary", truncateUtf8(c.summary, 140));
    j.field("indicator", c.indicator);
    j.field("detail", c.detail);
    j.key("source").open('{');
    j.field("label", o.sourceLabel + " (content " + o.facts.contentVersion + ")");
    j.field("url", o.sourceUrl);
    j.key("topic").open('{');
    j.field("system", kLocalSystem);
    j.field("code", c.ruleId);
    j.field("display", c.ruleTitle);
    j.close('}');
    j.close('}');
    if (!o.guidanceUrl.empty()) {
        j.key("links").open('[').open('{');
        j.field("label", "Full postpartum massage guidance");
        j.field("url", o.guidanceUrl);
        j.field("type", "absolute");
        j.close('}').close(']');
    }
    j.close('}');
}

// Calls fn(rule, finding) once per rule id over every massage type's findings that keep(finding)
// accepts, in the order the assessment lists them (a finding under several types comes once).
template <class Keep, class Fn>
void forEachFindingOnce(object massages, Keep keep, Fn fn) {
    std::set<std::string> rules;
    for (auto m : massages) {
        object mo;
        array findings;
        if (m.value.get_object().get(mo) != simdjson::SUCCESS || !arr(mo, "findings", findings)) continue;
        for (element fe : findings) {
            object f;
            if (fe.get_object().get(f) != simdjson::SUCCESS || !keep(f)) continue;
            std::string rule(str(f, "rule"));
            if (rules.insert(rule).second) fn(rule, f);
        }
    }
}

std::string joinTitles(const std::vector<std::string>& titles) {
    std::string s;
    for (const auto& t : titles) s += (s.empty() ? "" : "; ") + t;
    return s;
}

}  // namespace

Cards cardsFromAssessment(std::string_view json, const CardOptions& options) {
    thread_local simdjson::dom::parser parser;
    element doc;
    Assessment a;
    object massages;
    if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(a.root) != simdjson::SUCCESS || !obj(a.root, "massages", massages))
        throw std::runtime_error("the plugin's assessment is not the expected JSON");
    a.asOf = std::string(str(a.root, "asOf"));
    a.deliveryDate = std::string(str(a.root, "deliveryDate"));
    a.deliveryMode = std::string(str(a.root, "deliveryMode"));
    int64_t day;
    if (a.root["postpartumDay"].get_int64().get(day) == simdjson::SUCCESS) a.postpartumDay = day;
    bool b;
    if (a.root["applicable"].get_bool().get(b) == simdjson::SUCCESS) a.applicable = b;
    bool escalate = false;
    if (a.root["escalate"].get_bool().get(b) == simdjson::SUCCESS) escalate = b;

    std::vector<Card> cards;
    if (escalate) {
        // One critical card with every escalating finding and its data.
        Card c;
        c.indicator = "critical";
        std::vector<std::string> titles;
        std::string body, action;
        forEachFindingOnce(
            massages, [](object f) { return str(f, "outcome") == "escalate"; },
            [&](const std::string& rule, object f) {
                if (c.ruleId.empty()) {
                    c.ruleId = rule;
                    c.ruleTitle = std::string(str(f, "title"));
                }
                if (action.empty()) action = std::string(str(f, "action"));
                titles.emplace_back(str(f, "title"));
                finding(body, f, action);
            });
        if (c.ruleId.empty()) {
            c.ruleId = "escalate";
            c.ruleTitle = "Urgent clinical assessment";
        }
        // The phrase "urgent clinical assessment" is what a reader (and a client test) looks for.
        c.summary = "Seek urgent clinical assessment before any postpartum massage: " + joinTitles(titles);
        c.detail = "**" +
                   markdownEscape(action.empty() ? "Seek urgent clinical assessment before any massage." : action) +
                   "**\n" + body;
        footer(c.detail, a, options.facts);
        cards.push_back(std::move(c));
    } else {
        for (auto m : massages) {
            object mo;
            if (m.value.get_object().get(mo) != simdjson::SUCCESS) continue;
            std::string_view outcome = str(mo, "outcome");
            if (outcome != "block" && outcome != "defer" && outcome != "review" && outcome != "modify") continue;
            Card c;
            c.indicator = (outcome == "block" || outcome == "review") ? "warning" : "info";
            const std::string display = massageDisplay(m.key, mo);
            std::string head = display + ": " + std::string(str(mo, "label"));
            std::string_view earliest = str(mo, "earliestDate");
            if (outcome == "defer" && !earliest.empty()) head += " (earliest " + std::string(earliest) + ")";
            std::vector<std::string> titles;
            std::string body;
            array findings;
            if (arr(mo, "findings", findings)) {
                // The findings that decided the outcome first, then the rest, most severe first.
                std::vector<object> sorted;
                for (element fe : findings) {
                    object f;
                    if (fe.get_object().get(f) == simdjson::SUCCESS) sorted.push_back(f);
                }
                std::stable_sort(sorted.begin(), sorted.end(), [](object x, object y) {
                    return severity(str(x, "outcome")) < severity(str(y, "outcome"));
                });
                for (object f : sorted) {
                    if (c.ruleId.empty()) {
                        c.ruleId = std::string(str(f, "rule"));
                        c.ruleTitle = std::string(str(f, "title"));
                    }
                    titles.emplace_back(str(f, "title"));
                    finding(body, f);
                }
            }
            if (c.ruleId.empty()) {
                c.ruleId = std::string(outcome);
                c.ruleTitle = std::string(str(mo, "label"));
            }
            c.summary = head + (titles.empty() ? "" : ": " + joinTitles(titles));
            c.detail = "**" + markdownEscape(head) + "** (outcome " + std::string(outcome) + ")\n" + body;
            footer(c.detail, a, options.facts);
            cards.push_back(std::move(c));
        }
        if (cards.empty()) {
            // Nothing flagged: one info card, saying why (no contraindication, or out of scope).
            Card c;
            c.indicator = "info";
            std::string body;
            std::vector<std::string> titles;
            forEachFindingOnce(
                massages, [](object) { return true; },
                [&](const std::string& rule, object f) {
                    if (c.ruleId.empty()) {
                        c.ruleId = rule;
                        c.ruleTitle = std::string(str(f, "title"));
                    }
                    titles.emplace_back(str(f, "title"));
                    finding(body, f);
                });
            if (!a.applicable) {
                c.summary = "Postpartum massage guidance does not apply" +
                            (titles.empty() ? std::string() : ": " + joinTitles(titles));
                if (c.ruleId.empty()) {
                    c.ruleId = "not-applicable";
                    c.ruleTitle = "Not applicable";
                }
            } else {
                c.summary = "No contraindication to postpartum massage found in the available record";
                if (c.ruleId.empty()) {
                    c.ruleId = "no-flag";
                    c.ruleTitle = "No contraindication found";
                }
            }
            c.detail = "**" + markdownEscape(c.summary) + "**\n\n";
            for (auto m : massages) {
                object mo;
                if (m.value.get_object().get(mo) != simdjson::SUCCESS) continue;
                c.detail +=
                    "- " + markdownEscape(massageDisplay(m.key, mo)) + ": " + markdownEscape(str(mo, "label")) + "\n";
            }
            c.detail += body;
            footer(c.detail, a, options.facts);
            cards.push_back(std::move(c));
        }
    }

    Cards out;
    JsonWriter j;
    j.open('{').key("cards").open('[');
    int worst = 3;
    for (const Card& c : cards) {
        writeCard(j, c, options);
        int rank = c.indicator == "critical" ? 0 : c.indicator == "warning" ? 1 : 2;
        if (rank < worst) {
            worst = rank;
            out.indicator = c.indicator;
        }
    }
    j.close(']');
    j.key("extension").open('{').key(kContentExtension).raw(contentExtensionJson(options.facts)).close('}');
    j.close('}');
    out.json = std::move(j.out);
    out.count = cards.size();
    return out;
}

}  // namespace ppmg::cds
