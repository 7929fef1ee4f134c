#include "cds_audit.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <simdjson.h>

#include <cstdio>
#include <ctime>

#include "cds_json_parser.hpp"
#include "json_writer.hpp"

namespace ppmg::cds {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;
using tools::JsonWriter;

namespace {

std::string_view str(object o, const char* name) {
    std::string_view v;
    if (o[name].get_string().get(v) != simdjson::SUCCESS) return {};
    return v;
}

void coding(JsonWriter& j, std::string_view system, std::string_view code, std::string_view display) {
    j.open('{');
    j.field("system", system);
    j.field("code", code);
    if (!display.empty()) j.field("display", display);
    j.close('}');
}

void detail(JsonWriter& j, std::string_view type, std::string_view value) {
    j.open('{');
    j.field("type", type);
    j.field("valueString", value);
    j.close('}');
}

bool digits(std::string_view s, size_t from, size_t n) {
    if (from + n > s.size()) return false;
    for (size_t i = from; i < from + n; ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

int num(std::string_view s, size_t from, size_t n) {
    int v = 0;
    for (size_t i = from; i < from + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
}

bool isUuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (size_t i = 0; i < 36; ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string isoInstant(int64_t ms) {
    std::time_t t = std::time_t(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms % 1000));
    return buf;
}

bool isInstant(std::string_view s) {
    // YYYY-MM-DDThh:mm:ss
    if (s.size() < 20 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2) ||
        s[10] != 'T' || !digits(s, 11, 2) || s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2))
        return false;
    const int month = num(s, 5, 2), day = num(s, 8, 2), hour = num(s, 11, 2), minute = num(s, 14, 2),
              second = num(s, 17, 2);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
    size_t i = 19;
    if (i < s.size() && s[i] == '.') {
        size_t j = i + 1;
        while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
        if (j == i + 1 || j - i - 1 > 9) return false;
        i = j;
    }
    if (i < s.size() && s[i] == 'Z') return i + 1 == s.size();
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
        return i + 6 == s.size() && digits(s, i + 1, 2) && s[i + 3] == ':' && digits(s, i + 4, 2) &&
               num(s, i + 1, 2) <= 14 && num(s, i + 4, 2) <= 59;
    return false;
}

bool parseSince(std::string_view text, int64_t& ms) {
    if (text.size() < 10 || !digits(text, 0, 4) || text[4] != '-' || !digits(text, 5, 2) || text[7] != '-' ||
        !digits(text, 8, 2))
        return false;
    std::tm tm{};
    tm.tm_year = num(text, 0, 4) - 1900;
    tm.tm_mon = num(text, 5, 2) - 1;
    tm.tm_mday = num(text, 8, 2);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31) return false;
    int64_t offsetSeconds = 0;
    int64_t fraction = 0;
    if (text.size() > 10) {
        if (!isInstant(text)) return false;
        tm.tm_hour = num(text, 11, 2);
        tm.tm_min = num(text, 14, 2);
        tm.tm_sec = num(text, 17, 2);
        size_t i = 19;
        if (text[i] == '.') {
            int64_t scale = 100;
            for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10)
                fraction += (text[i] - '0') * scale;
        }
        if (text[i] == '+' || text[i] == '-')
            offsetSeconds = (text[i] == '+' ? 1 : -1) * (num(text, i + 1, 2) * 3600 + num(text, i + 4, 2) * 60);
    }
    ms = (int64_t(timegm(&tm)) - offsetSeconds) * 1000 + fraction;
    return true;
}

std::vector<std::pair<std::string, std::string>> assessmentOutcomes(std::string_view json, bool& escalate) {
    std::vector<std::pair<std::string, std::string>> out;
    escalate = false;
    ParserLease parser(json.size());
    element doc;
    object root, massages;
    if (parser->parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS)
        return out;
    bool b = false;
    if (root["escalate"].get_bool().get(b) == simdjson::SUCCESS) escalate = b;
    if (root["massages"].get_object().get(massages) != simdjson::SUCCESS) return out;
    for (auto m : massages) {
        object mo;
        if (m.value.get_object().get(mo) != simdjson::SUCCESS) continue;
        out.emplace_back(std::string(m.key), std::string(str(mo, "outcome")));
    }
    return out;
}

std::string auditEventJson(const AuditFacts& f) {
    JsonWriter j;
    j.open('{');
    j.field("resourceType", "AuditEvent");
    j.field("id", f.id);
    // A RESTful operation (the hook call), subtyped by the hook.
    j.key("type");
    coding(j, "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation");
    j.key("subtype").open('[');
    coding(j, "https://cds-hooks.hl7.org/hooks", f.hook.empty() ? "unknown" : f.hook, "");
    j.close(']');
    j.field("action", "E");
    j.field("recorded", isoInstant(f.recordedMs));
    j.field("outcome", f.status < 400 ? "0" : f.status < 500 ? "4" : "8");
    j.field("outcomeDesc", "HTTP " + std::to_string(f.status) + (f.statusText.empty() ? "" : ": " + f.statusText));
    // Who: the CDS client as its JWT names it (iss: the EHR; sub: the client id within it).
    j.key("agent").open('[').open('{');
    j.key("type").open('{').key("coding").open('[');
    coding(j, "http://dicom.nema.org/resources/ontology/DCM", "110153", "Source Role ID");
    j.close(']').close('}');
    j.key("who").open('{').key("identifier").open('{');
    j.field("system", f.issuer.empty() ? "urn:ppmg:unauthenticated" : f.issuer);
    j.field("value", f.subject.empty() ? "unknown" : f.subject);
    j.close('}').close('}');
    j.key("requestor").boolean(true);
    if (!f.clientAddress.empty()) {
        j.key("network").open('{');
        j.field("address", f.clientAddress);
        j.field("type", "2");  // IP address
        j.close('}');
    }
    j.close('}').close(']');
    j.key("source").open('{');
    j.key("observer").open('{').field("display", f.serviceId).close('}');
    j.key("type").open('[');
    coding(j, "http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server");
    j.close(']');
    j.close('}');
    j.key("entity").open('[');
    if (!f.patientId.empty()) {
        j.open('{');
        j.key("what").open('{').field("reference", "Patient/" + f.patientId).close('}');
        j.key("type");
        coding(j, "http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person");
        j.key("role");
        coding(j, "http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient");
        j.close('}');
    }
    // The decision: which hook call, what came of it, with which content.
    j.open('{');
    j.key("what").open('{').key("identifier").open('{');
    j.field("system", "urn:ietf:rfc:3986");
    j.field("value", "urn:uuid:" + f.hookInstance);
    j.close('}').close('}');
    j.key("type");
    coding(j, "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object");
    j.field("name", "postpartum-massage-guidance");
    j.key("detail").open('[');
    if (!f.dataSource.empty()) detail(j, "dataSource", f.dataSource);
    detail(j, "contentVersion", f.contentVersion);
    detail(j, "contentSha256", f.contentSha256);
    detail(j, "pluginVersion", f.pluginVersion);
    if (!f.outcomes.empty()) {
        detail(j, "escalate", f.escalate ? "true" : "false");
        for (const auto& [type, outcome] : f.outcomes) detail(j, "outcome." + type, outcome);
    }
    for (const std::string& uuid : f.cardUuids) detail(j, "card", uuid);
    j.close(']');
    j.close('}');
    j.close(']');
    j.close('}');
    return j.out;
}

FeedbackParse parseFeedback(std::string_view body) {
    FeedbackParse r;
    ParserLease parser(body.size());
    element doc;
    object root;
    array items;
    if (parser->parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS) {
        r.problem = "The feedback body is not a JSON object.";
        return r;
    }
    if (root["feedback"].get_array().get(items) != simdjson::SUCCESS || items.size() == 0) {
        r.problem = "The feedback body needs a non-empty \"feedback\" array.";
        return r;
    }
    if (items.size() > 100) {
        r.problem = "At most 100 feedback items per call.";
        return r;
    }
    size_t n = 0;
    for (element e : items) {
        const std::string at = "feedback[" + std::to_string(n++) + "]";
        object o;
        if (e.get_object().get(o) != simdjson::SUCCESS) {
            r.problem = at + " is not an object.";
            return r;
        }
        FeedbackItem item;
        item.card = std::string(str(o, "card"));
        item.outcome = std::string(str(o, "outcome"));
        item.outcomeTimestamp = std::string(str(o, "outcomeTimestamp"));
        if (!isUuid(item.card)) {
            r.problem = at + ".card must be the uuid of a card this service returned.";
            return r;
        }
        if (item.outcome != "accepted" && item.outcome != "overridden") {
            r.problem = at + ".outcome must be \"accepted\" or \"overridden\".";
            return r;
        }
        if (!isInstant(item.outcomeTimestamp)) {
            r.problem = at + ".outcomeTimestamp must be an instant (YYYY-MM-DDThh:mm:ssZ or with an offset).";
            return r;
        }
        array suggestions;
        if (o["acceptedSuggestions"].get_array().get(suggestions) == simdjson::SUCCESS && suggestions.size() > 0) {
            r.problem = at + ".acceptedSuggestions: this service's cards carry no suggestions.";
            return r;
        }
        element reasonValue;
        if (o["overrideReason"].get(reasonValue) == simdjson::SUCCESS && !reasonValue.is_null()) {
            if (item.outcome != "overridden") {
                r.problem = at + ".overrideReason is only for an overridden card.";
                return r;
            }
            object reason, coding;
            if (reasonValue.get_object().get(reason) != simdjson::SUCCESS) {
                r.problem = at + ".overrideReason is not an object.";
                return r;
            }
            element codingValue;
            const bool hasCoding = reason["reason"].get(codingValue) == simdjson::SUCCESS && !codingValue.is_null();
            if (hasCoding) {
                if (codingValue.get_object().get(coding) != simdjson::SUCCESS || str(coding, "code").empty() ||
                    str(coding, "system").empty()) {
                    r.problem = at + ".overrideReason.reason must be a Coding with system and code.";
                    return r;
                }
                item.hasReason = true;
                item.reasonSystem = std::string(str(coding, "system"));
                item.reasonCode = std::string(str(coding, "code"));
                item.reasonDisplay = std::string(str(coding, "display")).substr(0, 500);
            }
            std::string_view comment;
            if (reason["userComment"].get_string().get(comment) == simdjson::SUCCESS) {
                if (comment.size() > 2000) {
                    r.problem = at + ".overrideReason.userComment is longer than 2000 bytes.";
                    return r;
                }
                item.userComment = std::string(comment);
            }
            if (!hasCoding) {
                r.problem = at + ".overrideReason needs a reason (a Coding from the card's overrideReasons).";
                return r;
            }
        }
        r.items.push_back(std::move(item));
    }
    return r;
}

std::string feedbackId(const FeedbackItem& item) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    for (const std::string* part : {&item.card, &item.outcome, &item.outcomeTimestamp}) {
        sha.update(*part);
        sha.update(std::string(1, '\0'));
    }
    return Poco::DigestEngine::digestToHex(sha.digest()).substr(0, 32);
}

std::string auditLine(const AuditRow& row) {
    JsonWriter j;
    j.open('{');
    j.field("type", "AuditEvent");
    j.key("resource").raw(row.json);
    j.close('}');
    return j.out;
}

std::string feedbackLine(const FeedbackRow& f) {
    JsonWriter j;
    j.open('{');
    j.field("type", "feedback");
    j.field("id", f.id);
    j.field("received", isoInstant(f.receivedMs));
    j.field("card", f.cardUuid);
    j.field("patient", f.patientId);
    j.field("outcome", f.outcome);
    j.field("outcomeTimestamp", f.outcomeTimestamp);
    if (!f.reasonCode.empty() || !f.userComment.empty()) {
        j.key("overrideReason").open('{');
        if (!f.reasonCode.empty()) {
            j.key("reason").open('{');
            j.field("system", f.reasonSystem);
            j.field("code", f.reasonCode);
            if (!f.reasonDisplay.empty()) j.field("display", f.reasonDisplay);
            j.close('}');
        }
        if (!f.userComment.empty()) j.field("userComment", f.userComment);
        j.close('}');
    }
    j.key("who").open('{').field("issuer", f.issuer).field("subject", f.subject).close('}');
    j.close('}');
    return j.out;
}

}  // namespace ppmg::cds
