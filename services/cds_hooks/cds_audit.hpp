// The audit trail of `ppmg serve`: one FHIR R4 AuditEvent per hook call (who called, for which
// patient, what was decided with which content, when; nothing else of the record), the feedback
// a client posts (CDS Hooks 2.0), and both as NDJSON for `ppmg audit`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cds_store.hpp"

namespace ppmg::cds {

struct AuditFacts {
    std::string id;  // the AuditEvent id (a UUID)
    int64_t recordedMs = 0;
    std::string hook, hookInstance;
    std::string issuer, subject;  // the JWT's iss and sub ("" without authentication)
    std::string clientAddress;
    std::string patientId;
    int status = 0;          // the HTTP status answered
    std::string statusText;  // why, when it is not 200 (never record data)
    std::string dataSource;  // "prefetch", "fhir" or "prefetch+fhir"
    std::string contentVersion, contentSha256, pluginVersion;
    std::vector<std::pair<std::string, std::string>> outcomes;  // massage type code -> outcome code
    bool escalate = false;
    std::vector<std::string> cardUuids;
    std::string serviceId;  // the observer: this service (and host)
};

std::string auditEventJson(const AuditFacts& facts);

// The outcome of each massage type, and the escalate flag, from the plugin's assessment JSON.
// Empty when the JSON is not an assessment.
std::vector<std::pair<std::string, std::string>> assessmentOutcomes(std::string_view assessmentJson, bool& escalate);

// ---- feedback ----------------------------------------------------------------------------

struct FeedbackItem {
    std::string card, outcome, outcomeTimestamp;
    bool hasReason = false;
    std::string reasonSystem, reasonCode, reasonDisplay, userComment;
    std::string acceptedSuggestions;  // the JSON array as sent, "" when absent or empty
};

struct FeedbackParse {
    std::vector<FeedbackItem> items;
    std::string problem;  // "" when the body is valid
    bool ok() const { return problem.empty(); }
};

// Checks the shape of a feedback body ({"feedback":[...]}): each item has a card (a UUID), an
// outcome (accepted or overridden), an outcomeTimestamp (an instant), an overrideReason only when
// overridden, and no acceptedSuggestions (this service's cards carry no suggestions). Whether the
// card was issued here and the reason is one it offered is checked against the store.
FeedbackParse parseFeedback(std::string_view body);

// An instant as FHIR and CDS Hooks write it: YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm).
bool isInstant(std::string_view text);

// A feedback item's stored id: the same card, outcome and time give the same id.
std::string feedbackId(const FeedbackItem& item);

// One line of `ppmg audit`: {"type":"AuditEvent","resource":{...}} or {"type":"feedback",...}.
std::string auditLine(const AuditRow& row);
std::string feedbackLine(const FeedbackRow& row);

// Milliseconds since the epoch to an ISO instant (UTC, milliseconds).
std::string isoInstant(int64_t ms);
// "YYYY-MM-DD" or an instant to milliseconds since the epoch; false when it is neither.
bool parseSince(std::string_view text, int64_t& ms);

}  // namespace ppmg::cds
