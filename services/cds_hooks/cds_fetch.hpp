// FHIR Resource Access (CDS Hooks 2.0): when a hook call's prefetch lacks data, `ppmg serve` reads
// it from the call's `fhirServer` with its `fhirAuthorization` bearer token, using Poco's HTTP(S)
// client. Only servers under a configured prefix are ever contacted (no request at all to any
// other URL), TLS is verified, and the whole fetch is bounded in time, pages and bytes: a fetch
// that cannot complete gives 412 naming what is missing, never a decision on part of the record.
//
// Connections to each FHIR server are kept open across hook calls (a bounded pool per origin,
// shared by the worker threads), and the independent requests of one call (the Patient, each
// search) run in parallel, a few at a time, each on its own pooled connection.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cds_service_content.hpp"

namespace ppmg::cds {

struct FetchConfig {
    std::vector<std::string> allow;  // URL prefixes (--fhir-allow); empty = fetching is off
    int budgetMs = 2000;             // for all requests of one hook call together
    int maxPages = 20;               // per search (the first page and its next links)
    size_t maxBytes = 8u << 20;      // all responses of one hook call together
    int pageSize = 100;              // _count asked for
    std::string caFile;              // PEM CA certificates to trust instead of the system's ("" = system)
    int parallel = 4;                // requests of one hook call in flight at once (--fhir-parallel)
    int maxConnections = 16;         // connections per origin in use at once, all calls together
    int poolIdle = 16;               // idle kept-alive connections kept per origin (beyond: closed)
    int poolIdleMs = 15000;          // an idle connection older than this is closed, not reused
};

// The prefetch keys this service asks for (its discovery document), and what each holds.
struct PrefetchKey {
    const char* key;
    const char* resourceType;
};
const std::vector<PrefetchKey>& prefetchKeys();

// What a hook request brings, and which of the service's prefetch keys it lacks: absent, or an
// OperationOutcome (the client tried and failed). A null value means "nothing there" and is not
// fetched again.
struct PrefetchNeeds {
    bool json = false;  // the body is a JSON object
    std::string fhirServer, accessToken, patientId;
    std::vector<std::string> missing;
};
PrefetchNeeds prefetchNeeds(std::string_view body);

struct FetchResult {
    int status = 0;                                           // 0: everything fetched; otherwise 412
    std::string problem;                                      // what is missing and why (for the OperationOutcome)
    std::vector<std::pair<std::string, std::string>> values;  // prefetch key -> JSON
    int requests = 0;
    size_t bytes = 0;
    int connections = 0;  // new connections (and TLS handshakes) this call needed; the rest reused
};

// Counters of the connection pool, since the fetcher was made.
struct PoolStats {
    long opened = 0;     // connections made
    long reused = 0;     // requests sent on a kept-alive connection from the pool
    long stale = 0;      // pooled connections found closed or expired, and dropped
    long retried = 0;    // requests sent again on a new connection after a kept-alive one failed
    long waitedOut = 0;  // requests whose call's deadline passed while all connections were in use
};

class FhirFetcher {
public:
    FhirFetcher(FetchConfig config, FetchPlan plan);
    ~FhirFetcher();
    bool enabled() const { return !config_.allow.empty(); }
    // True when url (absolute http or https, no user info) lies under an allowed prefix.
    bool allowed(std::string_view url) const;
    // Fetches the missing keys for the patient, as of asOf (YYYY-MM-DD, for the Observation window).
    FetchResult fetch(const PrefetchNeeds& needs, const std::string& asOf) const;
    const FetchConfig& config() const { return config_; }
    PoolStats poolStats() const;

private:
    struct Impl;
    FetchConfig config_;
    FetchPlan plan_;
    std::unique_ptr<Impl> impl_;
};

// The hook request with `values` put into its prefetch (replacing those keys), so that fetched
// data goes through exactly the reading prefetch goes through (clinical rule 21).
std::string withPrefetch(std::string_view body, const std::vector<std::pair<std::string, std::string>>& values);

// Checks --fhir-allow: an absolute http(s) URL without user info, query or fragment.
bool validAllowPrefix(const std::string& prefix, std::string& why);

}  // namespace ppmg::cds
