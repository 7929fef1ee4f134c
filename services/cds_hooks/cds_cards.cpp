#include "cds_cards.hpp"

#include <simdjson.h>

#include <memory>
#include <set>
#include <stdexcept>

#include "cds_json_parser.hpp"
#include "cds_random.hpp"
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

// ---- the content's words --------------------------------------------------------------------

int ContentTexts::rank(std::string_view outcome) const {
    for (size_t i = 0; i < outcomeOrder.size(); ++i)
        if (outcomeOrder[i] == outcome) return int(i);
    return int(outcomeOrder.size());
}

std::string ContentTexts::text(const std::string& id) const {
    auto it = texts.find(id);
    return it == texts.end() ? std::string() : it->second;
}

std::string ContentTexts::label(std::string_view outcome) const {
    auto it = outcomes.find(std::string(outcome));
    return it == outcomes.end() ? std::string(outcome) : it->second.first;
}

std::string ContentTexts::sentence(std::string_view outcome) const {
    auto it = outcomes.find(std::string(outcome));
    return it == outcomes.end() ? std::string() : it->second.second;
}

std::string ContentTexts::systemName(std::string_view uri) const {
    auto it = systems.find(std::string(uri));
    return it == systems.end() ? std::string(uri) : it->second;
}

std::string ContentTexts::fill(const std::string& id, std::initializer_list<std::pair<const char*, std::string>> values,
                               const std::string& whenAbsent) const {
    std::string t = text(id);
    if (t.empty()) return whenAbsent;
    for (const auto& [name, value] : values) {
        const std::string key = std::string("{") + name + "}";
        for (size_t pos = 0; (pos = t.find(key, pos)) != std::string::npos; pos += value.size())
            t.replace(pos, key.size(), value);
    }
    return t;
}

namespace {

// Reads the "content" object of an assessment; the problem when it lacks what cards need.
std::string readTexts(object root, ContentTexts& t) {
    object content, systems, texts;
    array outcomes;
    if (!obj(root, "content", content) || !arr(content, "outcomes", outcomes) || !obj(content, "texts", texts))
        return "the plugin's assessment carries no content texts (a plugin older than this service)";
    t = ContentTexts{};
    t.draft = str(content, "signOff") != "signed";  // anything but a sign-off is a draft
    const std::string asOf(str(root, "asOf"));
    for (element e : outcomes) {
        object o;
        if (e.get_object().get(o) != simdjson::SUCCESS || str(o, "code").empty()) continue;
        const std::string code(str(o, "code"));
        t.outcomeOrder.push_back(code);
        std::string sentence(str(o, "text"));  // {asOf} stands for the assessment's date
        for (size_t pos; (pos = sentence.find("{asOf}")) != std::string::npos;) sentence.replace(pos, 6, asOf);
        t.outcomes[code] = {std::string(str(o, "label")), sentence};
    }
    if (obj(content, "codeSystems", systems))
        for (auto kv : systems) {
            std::string_view name;
            if (kv.value.get_string().get(name) == simdjson::SUCCESS)
                t.systems[std::string(kv.key)] = std::string(name);
        }
    for (auto kv : texts) {
        std::string_view text;
        if (kv.value.get_string().get(text) == simdjson::SUCCESS) t.texts[std::string(kv.key)] = std::string(text);
    }
    for (const char* need : {"escalate", "no-flag", "not-applicable"})
        if (t.outcomes.count(need) == 0) return std::string("the content has no outcome ") + need;
    if (t.draft && t.text("draft-notice").empty())
        return "the content is not signed off and has no draft-notice text to say so";
    return {};
}

}  // namespace

ContentTexts readContentTexts(std::string_view assessmentJson) {
    simdjson::dom::parser parser;
    element doc;
    object root;
    if (parser.parse(assessmentJson.data(), assessmentJson.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS)
        throw std::runtime_error("the plugin's assessment is not JSON");
    ContentTexts t;
    const std::string problem = readTexts(root, t);
    if (!problem.empty()) throw std::runtime_error(problem);
    return t;
}

std::string discoveryJson(const ContentFacts& facts, const ContentTexts& texts) {
    JsonWriter j;
    j.open('{').key("services").open('[');
    for (const char* hook : {"patient-view", "encounter-discharge"}) {
        j.open('{');
        j.field("hook", hook);
        j.field("title", texts.text("document-title"));
        // What it says (the content's words), when, and how the service answers.
        std::string description = texts.text("service-description");
        const std::string when = texts.text(std::string("service-when-") + hook);
        if (!when.empty()) description += (description.empty() ? "" : " ") + when;
        description += (description.empty() ? "" : " ") + std::string("An escalation gives one critical card.");
        j.field("description", description);
        j.field("id", kServiceId);
        j.key("prefetch").open('{');
        for (const auto& p : kPrefetch) j.field(p[0], p[1]);
        j.close('}');
        j.field("usageRequirements",
                "Prefetch \"patient\" is required and must be the Patient of context.patientId (HTTP 412 otherwise); "
                "the other prefetch keys are used when given. Each call needs a JWT (ES384 or RS384) from a "
                "configured issuer.");
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

// The prefetch as one collection Bundle: every resource passed through as it came, in order
// (the patient key first), with its entry's fullUrl, and nothing dropped or merged: a resource
// that comes twice is there twice, as it would be in one Bundle given to the command line, and
// the plugin's one reading of a record decides what the repeat means (clinical-rules.md, 1.1,
// rule 21).
struct Merger {
    std::string bundle;
    size_t count = 0;

    Merger() { bundle = R"({"resourceType":"Bundle","type":"collection","entry":[)"; }
    void add(object resource, std::string_view fullUrl = {}) {
        if (count++) bundle.push_back(',');
        bundle.push_back('{');
        if (!fullUrl.empty()) {
            bundle += R"("fullUrl":)";
            appendJsonString(bundle, fullUrl);
            bundle.push_back(',');
        }
        bundle += R"("resource":)";
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
            if (e.get_object().get(entry) == simdjson::SUCCESS && obj(entry, "resource", resource))
                add(resource, str(entry, "fullUrl"));
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
    ParserLease parser(body.size());
    element doc;
    object root;
    if (parser->parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS)
        return refuse(r, 400, "The request body is not a JSON object.");
    r.hook = std::string(str(root, "hook"));
    r.hookInstance = std::string(str(root, "hookInstance")).substr(0, 128);
    if (r.hook.empty()) return refuse(r, 400, "The request has no \"hook\".");
    if (r.hook != "patient-view" && r.hook != "encounter-discharge")
        return refuse(r, 400,
                      "This service answers the hooks patient-view and encounter-discharge, not \"" +
                          r.hook.substr(0, 64) + "\".");
    // The patient assessed is the one the context names, and no other (both hooks require it).
    object context;
    std::string contextPatient;
    if (obj(root, "context", context)) contextPatient = std::string(str(context, "patientId"));
    if (contextPatient.empty()) return refuse(r, 400, "The request has no context.patientId.");

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
    const std::string_view patientType = str(patient, "resourceType");
    if (patientType == "OperationOutcome")
        return refuse(r, 412, "Prefetch \"patient\" is an OperationOutcome: the client could not fetch the Patient.");
    if (patientType == "Patient") {
        if (str(patient, "id").empty())
            return refuse(r, 412, "Prefetch \"patient\" has no id, so it cannot be matched to context.patientId.");
        if (str(patient, "id") != contextPatient)
            return refuse(r, 412, "Prefetch \"patient\" is not the patient of context.patientId.");
    } else if (patientType == "Bundle") {
        // A search instead of a read: the Patient is among its entries.
        bool anyPatient = false, found = false;
        array entries;
        if (arr(patient, "entry", entries))
            for (element e : entries) {
                object entry, res;
                if (e.get_object().get(entry) != simdjson::SUCCESS || !obj(entry, "resource", res) ||
                    str(res, "resourceType") != "Patient")
                    continue;
                anyPatient = true;
                if (str(res, "id") == contextPatient) found = true;
            }
        if (!anyPatient) return refuse(r, 412, "Prefetch \"patient\" holds no Patient.");
        if (!found) return refuse(r, 412, "Prefetch \"patient\" holds no Patient with the id of context.patientId.");
    } else {
        return refuse(r, 412, "Prefetch \"patient\" is not a Patient.");
    }
    r.patientId = contextPatient;

    Merger m;
    m.addValue(patientValue);
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
//
// Every sentence on a card is the content's (through the assessment: findings, outcome labels and
// texts, data gaps, the texts under content.texts); the outcome order is the content's
// (content.outcomes). What is written here is the cards' structure: emphasis, tables, the rule
// ids, the provenance line.

namespace {

std::string massageDisplay(std::string_view code, object m) {
    std::string_view d = str(m, "display");
    return d.empty() ? std::string(code) : std::string(d);
}

struct Assessment {
    object root;
    ContentTexts texts;
    std::string asOf, deliveryDate, deliveryMode;
    long long postpartumDay = -1;
    bool applicable = true;
};

// "| Condition/c1: Deep venous thrombosis (SNOMED CT 128053003) | active | 2026-01-01 |"
void evidenceTable(std::string& md, array evidence, const ContentTexts& t) {
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
            what += t.systemName(str(code, "system")) + " " + std::string(str(code, "code"));
            if (!display.empty()) what += ")";
        } else if (!str(ev, "element").empty()) {
            what += ": " + std::string(str(ev, "element"));
        }
        std::string_view date = str(ev, "date");
        md += "| " + markdownEscape(what) + " | " + markdownEscape(str(ev, "value")) + " | " +
              (date.empty() ? std::string("-") : markdownEscape(date)) + " |\n";
    }
}

void finding(std::string& md, object f, const ContentTexts& t, std::string_view skipAction = {}) {
    md += "\n**" + markdownEscape(str(f, "title")) + "** (rule " + markdownEscape(str(f, "rule")) + ", " +
          markdownEscape(str(f, "outcome")) + "): " + markdownEscape(str(f, "reason")) + "\n";
    const std::string action(str(f, "action"));
    if (!action.empty() && action != skipAction)
        md += "\n" + markdownEscape(t.fill("card-action", {{"action", action}}, action)) + "\n";
    const std::string earliest(str(f, "earliestDate"));
    if (!earliest.empty())
        md += "\n" + markdownEscape(t.fill("card-earliest-date", {{"date", earliest}}, earliest)) + "\n";
    array evidence;
    if (arr(f, "evidence", evidence)) evidenceTable(md, evidence, t);
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

// A data gap by its name only: the content's own name for it, else its text up to the colon that
// ends the name (the content writes gaps as "what is missing: what to do"), else its id.
std::string gapName(object gap) {
    const std::string_view name = str(gap, "name");
    if (!name.empty()) return std::string(name);
    const std::string_view text = str(gap, "text");
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && colon > 0) return std::string(text.substr(0, colon));
    return std::string(str(gap, "id"));
}

// The data gaps and the facts of the assessment, at the end of every card's detail. In an
// escalation the gaps are named only: their texts may give massage advice, and an escalation
// gives none (clinical-rules.md, 1.1, rule 11).
void footer(std::string& md, const Assessment& a, const ContentFacts& facts, bool gapsByName) {
    const ContentTexts& t = a.texts;
    array gaps;
    if (arr(a.root, "dataGaps", gaps) && gaps.size() > 0) {
        const std::string heading = t.text("data-gaps-heading");
        md += "\n";
        if (!heading.empty()) md += "**" + markdownEscape(heading) + "**\n\n";
        for (element g : gaps) {
            object gap;
            if (g.get_object().get(gap) != simdjson::SUCCESS) continue;
            md += "- " + markdownEscape(gapsByName ? gapName(gap) : std::string(str(gap, "text"))) + "\n";
        }
    }
    md += "\n---\n\n";
    if (!a.deliveryDate.empty() && !a.deliveryMode.empty() && a.postpartumDay >= 0)
        md += markdownEscape(
            t.fill("card-delivery",
                   {{"date", a.deliveryDate}, {"mode", a.deliveryMode}, {"day", std::to_string(a.postpartumDay)}}));
    else if (!a.deliveryDate.empty())
        md += markdownEscape(t.fill("card-delivery-date", {{"date", a.deliveryDate}}));
    else
        md += markdownEscape(t.text("card-no-delivery"));
    md += " Assessed as of " + markdownEscape(a.asOf) + " by ppmg " + markdownEscape(facts.pluginVersion) +
          ", content " + markdownEscape(facts.contentVersion) + " (sha256 " +
          markdownEscape(facts.contentSha256.substr(0, 12)) + ").\n";
}

// While the content is not signed off, every card says so first (rule 16).
std::string draftNotice(const ContentTexts& t) {
    return t.draft ? "> **" + markdownEscape(t.text("draft-notice")) + "**\n\n" : std::string();
}

struct Card {
    std::string summary, detail, indicator, ruleId, ruleTitle;
};

void writeCard(JsonWriter& j, const Card& c, const CardOptions& o, const ContentTexts& t) {
    j.open('{');
    j.field("uuid", randomUuid());
    j.field("summary", truncateUtf8(c.summary, 140));
    j.field("indicator", c.indicator);
    j.field("detail", c.detail);
    j.key("source").open('{');
    const std::string label = o.sourceLabel.empty() ? t.text("document-title") : o.sourceLabel;
    j.field("label", label + " (ppmg, content " + o.facts.contentVersion + ")");
    j.field("url", o.sourceUrl);
    j.key("topic").open('{');
    j.field("system", kLocalSystem);
    j.field("code", c.ruleId);
    j.field("display", c.ruleTitle);
    j.close('}');
    j.close('}');
    if (!o.guidanceUrl.empty()) {
        j.key("links").open('[').open('{');
        j.field("label", t.text("card-guidance-link"));
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

std::string withoutFinalStop(std::string s) {
    while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

Cards cardsFromAssessment(std::string_view json, const CardOptions& options) {
    ParserLease parser(json.size());
    element doc;
    Assessment a;
    object massages;
    if (parser->parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(a.root) != simdjson::SUCCESS || !obj(a.root, "massages", massages))
        throw std::runtime_error("the plugin's assessment is not the expected JSON");
    const std::string problem = readTexts(a.root, a.texts);
    if (!problem.empty()) throw std::runtime_error(problem);
    const ContentTexts& t = a.texts;
    object patient;
    if (!options.patientId.empty() && (!obj(a.root, "patient", patient) || str(patient, "id") != options.patientId))
        throw std::runtime_error("the plugin assessed another patient than the one asked for");
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
        // One critical card: the urgent message, the escalating findings with their data, and the
        // data gaps by name. No massage advice, positions or products (rule 11).
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
                finding(body, f, t, action);
            });
        const std::string urgent = t.sentence("escalate");
        if (c.ruleId.empty()) {
            c.ruleId = "escalate";
            c.ruleTitle = t.label("escalate");
        }
        c.summary = withoutFinalStop(urgent) + (titles.empty() ? "" : ": " + joinTitles(titles));
        c.detail = draftNotice(t) + "**" + markdownEscape(action.empty() ? urgent : action) + "**\n" + body;
        footer(c.detail, a, options.facts, true);
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
            const std::string earliest(str(mo, "earliestDate"));
            if (outcome == "defer" && !earliest.empty())
                head += " (" + t.fill("card-earliest", {{"date", earliest}}, earliest) + ")";
            std::vector<std::string> titles;
            std::string body;
            array findings;
            if (arr(mo, "findings", findings)) {
                // The findings that decided the outcome first, then the rest, in the content's order.
                std::vector<object> sorted;
                for (element fe : findings) {
                    object f;
                    if (fe.get_object().get(f) == simdjson::SUCCESS) sorted.push_back(f);
                }
                std::stable_sort(sorted.begin(), sorted.end(), [&t](object x, object y) {
                    return t.rank(str(x, "outcome")) < t.rank(str(y, "outcome"));
                });
                for (object f : sorted) {
                    if (c.ruleId.empty()) {
                        c.ruleId = std::string(str(f, "rule"));
                        c.ruleTitle = std::string(str(f, "title"));
                    }
                    titles.emplace_back(str(f, "title"));
                    finding(body, f, t);
                }
            }
            if (c.ruleId.empty()) {
                c.ruleId = std::string(outcome);
                c.ruleTitle = std::string(str(mo, "label"));
            }
            c.summary = head + (titles.empty() ? "" : ": " + joinTitles(titles));
            c.detail =
                draftNotice(t) + "**" + markdownEscape(head) + "** (outcome " + std::string(outcome) + ")\n" + body;
            footer(c.detail, a, options.facts, false);
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
                    finding(body, f, t);
                });
            const char* outcome = a.applicable ? "no-flag" : "not-applicable";
            if (!a.applicable)
                c.summary = t.label(outcome) + (titles.empty() ? std::string() : ": " + joinTitles(titles));
            else
                c.summary = withoutFinalStop(t.sentence(outcome));
            if (c.ruleId.empty()) {
                c.ruleId = outcome;
                c.ruleTitle = t.label(outcome);
            }
            c.detail = draftNotice(t) + "**" + markdownEscape(c.summary) + "**\n\n";
            for (auto m : massages) {
                object mo;
                if (m.value.get_object().get(mo) != simdjson::SUCCESS) continue;
                c.detail +=
                    "- " + markdownEscape(massageDisplay(m.key, mo)) + ": " + markdownEscape(str(mo, "label")) + "\n";
            }
            c.detail += body;
            footer(c.detail, a, options.facts, false);
            cards.push_back(std::move(c));
        }
    }

    Cards out;
    JsonWriter j;
    j.open('{').key("cards").open('[');
    int worst = 3;
    for (const Card& c : cards) {
        writeCard(j, c, options, t);
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
