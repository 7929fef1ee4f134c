// What `ppmg serve` keeps beyond one process, put together for the HTTP handler: fetching what a
// hook call lacks from its FHIR server, recording each call (AuditEvent, cards, view link) in the
// store, checking and storing feedback, serving view links, and the shared replay cache.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cds_cards.hpp"
#include "cds_fetch.hpp"
#include "cds_replay.hpp"
#include "cds_service_content.hpp"
#include "cds_store.hpp"

namespace ppmg::cds {

struct ScaleOptions {
    std::string store;                   // "" = sqlite:ppmg-serve.db (in the working directory)
    std::string replayCache = "memory";  // or redis://HOST:PORT
    FetchConfig fetch;
    int viewTtlSeconds = 900;
    std::string contentDir;  // the content the engine loaded (for override reasons, fetch plan)
    size_t storeConnections = 16;
};

// Who called and what came in, for the audit.
struct CallFacts {
    std::string hook, hookInstance;
    std::string issuer, subject, clientAddress;
    std::string patientId;
    std::string dataSource;  // "prefetch", "fhir", "prefetch+fhir"
    std::string asOf;        // the date the decision was made as of
};

class ScaleServices {
public:
    // Opens the store (migrating it), reads the content (its SHA-256 must be the engine's), makes
    // the fetcher and the replay cache. Throws std::runtime_error (StoreError for the store).
    ScaleServices(const ScaleOptions& options, const ContentFacts& facts, std::string observer);

    const ScaleOptions& options() const { return options_; }
    Store& store() { return *store_; }
    std::shared_ptr<ReplayGuard> replayGuard() const { return replay_; }
    const ServiceContent& content() const { return content_; }
    const FhirFetcher& fetcher() const { return *fetcher_; }

    // A hook call's body with what was missing fetched from its fhirServer (or as it came).
    struct Prepared {
        int status = 0;  // 0 = go on with body; otherwise answer 412 with problem
        std::string problem;
        std::string body;
        std::string dataSource = "prefetch";
        std::string patientId;  // context.patientId
        int fetchRequests = 0;
        bool fetched = false;  // body holds fetched data
    };
    Prepared prepare(std::string_view body, const std::string& asOf) const;

    // The cards, each with the override reasons and a link to the view of this decision; the
    // call recorded (AuditEvent, cards, view link with the record) in one transaction before it
    // is answered. Throws StoreError (the caller answers 503: nothing unrecorded goes out).
    std::string issue(const std::string& cardsJson, const std::string& assessmentJson, const std::string& record,
                      const CallFacts& call, const std::string& publicBase);

    // An AuditEvent for a call that was refused (4xx/5xx after authentication). Throws StoreError.
    void auditRefusal(const CallFacts& call, int status, const std::string& why);

    // Checks feedback against the store and stores it. Returns 200 with "", or 400 with the
    // problem. Throws StoreError.
    std::pair<int, std::string> feedback(std::string_view body, const std::string& issuer, const std::string& subject);

    // The record and facts behind a view token, when it is known and has not expired.
    std::optional<ViewRow> view(std::string_view token);

private:
    // The cards again, each with the override reasons and the links to this decision's pages;
    // collects the cards' uuids.
    std::string cardsWithLinks(const std::string& cardsJson, const std::string& viewUrl,
                               std::vector<std::string>& uuids) const;
    std::string auditJson(const CallFacts& call, int status, const std::string& why, const std::string& assessment,
                          const std::vector<std::string>& cards, std::string& id, int64_t& ms) const;

    ScaleOptions options_;
    ContentFacts facts_;
    std::string observer_;
    std::unique_ptr<Store> store_;
    std::shared_ptr<ReplayGuard> replay_;
    ServiceContent content_;
    std::unique_ptr<FhirFetcher> fetcher_;
    std::string reasonCodes_;  // the codes offered, space-separated
};

// Today (UTC) as YYYY-MM-DD.
std::string todayUtc();

}  // namespace ppmg::cds
