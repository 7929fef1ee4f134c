// Authentication of CDS Hooks clients (`ppmg serve`): JWK Sets per issuer, and the checks the CDS
// Hooks 2.0 specification asks of a service for the bearer JWT of every call: the signature
// (ES384 or RS384 only; never `none` or HMAC), the issuer's key, `aud`, `exp` and `iat` with a
// clock skew, and `jti` replay.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cds_replay.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace ppmg::cds {

// RFC 4648 base64url without padding (padding is tolerated on input). decode returns false on
// any character outside the alphabet or an impossible length.
std::string base64UrlEncode(std::string_view bytes);
bool base64UrlDecode(std::string_view text, std::string& out);

// One public verification key from a JWK Set.
struct VerificationKey {
    std::string kid;  // "" when the JWK has none
    std::string kty;  // "EC" or "RSA"
    std::string alg;  // the algorithm it verifies: "ES384" or "RS384"
    std::shared_ptr<EVP_PKEY> key;
};

// The trusted issuers and their keys. Immutable once the server runs, so shared by all threads.
class KeyStore {
public:
    // Parses a JWK Set ({"keys":[...]}) or a single JWK and adds its keys for the issuer.
    // Keys this service cannot use (another curve or algorithm, "use" other than "sig", RSA
    // under 2048 bits) are skipped with a note in `skipped`. Throws std::runtime_error naming
    // the problem when the JSON is bad or no key at all is usable.
    void addIssuer(const std::string& issuer, const std::string& jwksJson, std::vector<std::string>& skipped);
    const std::vector<VerificationKey>* keysFor(const std::string& issuer) const;
    size_t issuerCount() const { return keys_.size(); }
    size_t keyCount() const;

private:
    std::map<std::string, std::vector<VerificationKey>> keys_;
};

// Remembers the `jti` of accepted tokens until they expire, so a token is accepted once only.
class ReplayCache {
public:
    explicit ReplayCache(size_t maxEntries = 1000000) : max_(maxEntries) {}
    enum class Result { Fresh, Replayed, Full };
    // Records (issuer, jti) as used until `forgetAfter` (Unix seconds); Replayed if it already is.
    Result use(const std::string& issuer, const std::string& jti, int64_t forgetAfter, int64_t now);
    size_t size() const;

private:
    void purge(int64_t now);
    mutable std::mutex mutex_;
    std::unordered_map<std::string, int64_t> seen_;
    size_t max_;
    int64_t nextPurge_ = 0;
};

struct AuthOptions {
    int64_t clockSkewSeconds = 60;
    // Tokens whose exp lies further in the future than this (plus the skew) are refused, which
    // also bounds how long a jti must be remembered.
    int64_t maxLifetimeSeconds = 3600;
};

// Why a token was refused; `Ok` when it was accepted.
enum class AuthFailure {
    Ok,
    Missing,        // no Authorization header, or not "Bearer"
    Malformed,      // not three base64url parts of JSON objects
    Algorithm,      // alg none, HS*, or anything but ES384/RS384; or crit present
    UnknownIssuer,  // iss not configured
    UnknownKey,     // no key of the issuer matches kid/alg
    Signature,      // signature does not verify
    Claims,         // a required claim is missing or has the wrong type
    Audience,       // aud is not the URL invoked
    Expired,        // exp + skew <= now
    NotYetValid,    // iat - skew > now
    TooLong,        // exp too far in the future
    Replayed,       // jti seen before within its lifetime
    Busy            // the replay cache is full
};
const char* authFailureCode(AuthFailure f);  // e.g. "expired", for logs and WWW-Authenticate

struct AuthResult {
    AuthFailure failure = AuthFailure::Missing;
    std::string detail;  // one line for the access log; never patient data
    std::string issuer, kid, alg, jti, tenant;
    std::string subject;  // the JWT's sub (the client), for the audit
    bool ok() const { return failure == AuthFailure::Ok; }
};

class JwtVerifier {
public:
    JwtVerifier(std::shared_ptr<const KeyStore> keys, AuthOptions options)
        : keys_(std::move(keys)), options_(options) {}

    // Checks the Authorization header value for a call to `audience` (the exact URL invoked,
    // compared after normalising scheme/host case, default ports and a trailing slash), at
    // `now` (Unix seconds). Records the jti when everything else passes.
    AuthResult verify(std::string_view authorizationHeader, const std::string& audience, int64_t now) {
        return verify(authorizationHeader, std::vector<std::string>{audience}, now);
    }
    // The same, when the service is known under several URLs (aud must equal one of them).
    AuthResult verify(std::string_view authorizationHeader, const std::vector<std::string>& audiences, int64_t now);

    const ReplayCache& replayCache() const { return replay_; }
    // Uses this replay cache (shared by replicas) instead of the one in memory.
    void setReplayGuard(std::shared_ptr<ReplayGuard> guard) { guard_ = std::move(guard); }

private:
    std::shared_ptr<const KeyStore> keys_;
    AuthOptions options_;
    ReplayCache replay_;
    std::shared_ptr<ReplayGuard> guard_;
};

// Normalises an absolute URL for comparison: lower-case scheme and host, no default port, no
// trailing slash on the path.
std::string normalizeUrl(std::string_view url);

}  // namespace ppmg::cds
