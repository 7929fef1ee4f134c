// The service's store (`ppmg serve --store`, `ppmg audit`): one FHIR AuditEvent per hook call, the
// cards issued (so feedback can be checked on any replica), feedback, and the view links. Through
// Poco::Data: SQLite (`sqlite:PATH`, embedded, the default) or PostgreSQL (`postgresql://...`,
// shared by several replicas). The schema is created and migrated in numbered, recorded steps.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ppmg::cds {

// The store cannot be reached or refused the operation: the caller answers 503.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct AuditRow {
    std::string id;  // the AuditEvent's id (a UUID)
    int64_t recordedMs = 0;
    std::string patientId, issuer, subject, hook;
    int status = 0;    // the HTTP status answered
    std::string json;  // the FHIR AuditEvent
};

struct CardRow {
    std::string uuid;
    std::string auditId;
    std::string patientId;
    int64_t issuedMs = 0;
    std::string overrideReasons;  // the codes offered, space-separated
};

struct ViewRow {
    std::string tokenHash;  // SHA-256 (hex) of the token; the token itself is never stored
    std::string auditId;
    int64_t createdMs = 0, expiresMs = 0;
    std::string patientId;
    std::string asOf;        // the date the decision was made as of
    std::string contentSha;  // the content it was made with
    std::string record;      // the record assessed (deflated, base64)
};

struct FeedbackRow {
    std::string id;  // derived from card, outcome and outcomeTimestamp: a retried post is stored once
    std::string cardUuid, outcome, reasonSystem, reasonCode, reasonDisplay, userComment, outcomeTimestamp;
    std::string acceptedSuggestions;  // JSON array, "" when none
    std::string issuer, subject, patientId;
    int64_t receivedMs = 0;
};

class Store {
public:
    // "sqlite:PATH" or "postgresql://..." (a libpq URI). Connects, applies the migrations this
    // program knows, and refuses a store whose schema is newer. Throws StoreError.
    // With migrate = false (readers such as `ppmg audit`) nothing is changed: a store whose
    // schema is not the latest is refused.
    static std::unique_ptr<Store> open(const std::string& spec, size_t maxConnections = 16, bool migrate = true);
    virtual ~Store() = default;

    virtual std::string kind() const = 0;  // "sqlite" or "postgresql"
    virtual int schemaVersion() = 0;
    static int latestSchemaVersion();

    // One hook call, in one transaction: its AuditEvent, its cards, its view link (may be null).
    virtual void recordCall(const AuditRow& audit, const std::vector<CardRow>& cards, const ViewRow* view) = 0;
    virtual std::optional<CardRow> findCard(const std::string& uuid) = 0;
    // Stores every row or none; a row whose id is already stored is skipped (retries). Returns
    // how many were new.
    virtual size_t addFeedback(const std::vector<FeedbackRow>& rows) = 0;
    // The view link of a token hash when it has not expired at nowMs.
    virtual std::optional<ViewRow> findView(const std::string& tokenHash, int64_t nowMs) = 0;
    virtual size_t purgeExpiredViews(int64_t nowMs) = 0;

    // For `ppmg audit`: oldest first, from sinceMs, for one patient when patientId is not "".
    virtual std::vector<AuditRow> audits(int64_t sinceMs, const std::string& patientId) = 0;
    virtual std::vector<FeedbackRow> feedback(int64_t sinceMs, const std::string& patientId) = 0;
};

// Describes a store spec without its password, for logs.
std::string redactStoreSpec(const std::string& spec);

}  // namespace ppmg::cds
