// The replay cache of `ppmg serve` (`--replay-cache memory|redis://HOST:PORT`): a JWT's jti is
// accepted once per issuer within the token's lifetime. In memory for one process; in Redis
// (Poco::Redis, SET NX with an expiry) for replicas that share it. When Redis cannot be asked, the
// answer is Unavailable and the caller refuses the call (503): a token is never accepted unchecked.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace ppmg::cds {

class ReplayGuard {
public:
    enum class Result { Fresh, Replayed, Unavailable };
    virtual ~ReplayGuard() = default;
    // Records (issuer, jti) as used until forgetAfter (Unix seconds), unless it already is.
    virtual Result use(const std::string& issuer, const std::string& jti, int64_t forgetAfter, int64_t now) = 0;
    virtual std::string describe() const = 0;  // for the start-up line and /healthz
};

// "memory" (at most memoryMaxEntries live tokens) or "redis://[:PASSWORD@]HOST:PORT[/DB]".
// Throws std::invalid_argument for another spec. Does not connect yet (Redis may come later).
std::unique_ptr<ReplayGuard> makeReplayGuard(const std::string& spec, size_t memoryMaxEntries = 1000000);

}  // namespace ppmg::cds
