#include "cds_replay.hpp"

#include <Poco/DigestEngine.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Type.h>
#include <Poco/SHA2Engine.h>
#include <Poco/Timespan.h>

#include <mutex>
#include <stdexcept>
#include <vector>

#include "cds_jwt.hpp"

namespace ppmg::cds {

namespace {

class MemoryGuard : public ReplayGuard {
public:
    explicit MemoryGuard(size_t max) : cache_(max) {}
    Result use(const std::string& issuer, const std::string& jti, int64_t forgetAfter, int64_t now) override {
        switch (cache_.use(issuer, jti, forgetAfter, now)) {
            case ReplayCache::Result::Fresh: return Result::Fresh;
            case ReplayCache::Result::Replayed: return Result::Replayed;
            case ReplayCache::Result::Full: break;
        }
        return Result::Unavailable;
    }
    std::string describe() const override { return "memory"; }

private:
    ReplayCache cache_;
};

class RedisGuard : public ReplayGuard {
public:
    RedisGuard(std::string hostPort, std::string password, int db, std::string shown)
        : hostPort_(std::move(hostPort)), password_(std::move(password)), db_(db), shown_(std::move(shown)) {}

    Result use(const std::string& issuer, const std::string& jti, int64_t forgetAfter, int64_t now) override {
        // The key is a digest: an issuer or jti of any length or content makes one short key.
        Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
        sha.update(issuer);
        sha.update(std::string(1, '\0'));
        sha.update(jti);
        const std::string key = "ppmg:jti:" + Poco::DigestEngine::digestToHex(sha.digest());
        const int64_t ttl = forgetAfter - now > 0 ? forgetAfter - now : 1;
        Poco::Redis::Array set;
        set << "SET" << key << "1"
            << "NX"
            << "EX" << std::to_string(ttl);
        // A pooled connection may have gone stale (Redis restarted): one more try on a new one.
        for (int attempt = 0; attempt < 2; ++attempt) {
            std::unique_ptr<Poco::Redis::Client> c;
            try {
                c = acquire(attempt > 0);
                Poco::Redis::RedisType::Ptr reply = c->sendCommand(set);
                Result r = Result::Unavailable;
                using Poco::Redis::RedisType;
                if (reply && reply->type() == RedisType::REDIS_SIMPLE_STRING)
                    r = Result::Fresh;  // +OK: set now
                else if (reply && reply->type() == RedisType::REDIS_BULK_STRING &&
                         static_cast<Poco::Redis::Type<Poco::Redis::BulkString>*>(reply.get())->value().isNull())
                    r = Result::Replayed;  // nil: the key was there
                // Anything else (an error reply) is not an answer: Unavailable.
                release(std::move(c));
                return r;
            } catch (const std::exception&) {
                // Dropped, with every idle one: they went to the same Redis, and when it restarted
                // they all went stale (a second pooled one would fail the same way). The next
                // attempt connects anew.
                std::lock_guard<std::mutex> lock(mutex_);
                idle_.clear();
            }
        }
        return Result::Unavailable;
    }
    std::string describe() const override { return shown_; }

private:
    std::unique_ptr<Poco::Redis::Client> acquire(bool fresh) {
        if (!fresh) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!idle_.empty()) {
                auto c = std::move(idle_.back());
                idle_.pop_back();
                return c;
            }
        }
        auto c = std::make_unique<Poco::Redis::Client>();
        c->connect(hostPort_, Poco::Timespan(1, 0));
        c->setReceiveTimeout(Poco::Timespan(1, 0));
        if (!password_.empty()) {
            Poco::Redis::Array auth;
            auth << "AUTH" << password_;
            c->execute<std::string>(auth);
        }
        if (db_ != 0) {
            Poco::Redis::Array select;
            select << "SELECT" << std::to_string(db_);
            c->execute<std::string>(select);
        }
        return c;
    }
    void release(std::unique_ptr<Poco::Redis::Client> c) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (idle_.size() < 64) idle_.push_back(std::move(c));
    }

    std::string hostPort_, password_;
    int db_;
    std::string shown_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Poco::Redis::Client>> idle_;
};

}  // namespace

std::unique_ptr<ReplayGuard> makeReplayGuard(const std::string& spec, size_t memoryMaxEntries) {
    if (spec.empty() || spec == "memory") return std::make_unique<MemoryGuard>(memoryMaxEntries);
    const std::string scheme = "redis://";
    if (spec.rfind(scheme, 0) != 0)
        throw std::invalid_argument("--replay-cache must be memory or redis://HOST:PORT, got \"" + spec + "\"");
    std::string rest = spec.substr(scheme.size());
    std::string password;
    const size_t at = rest.rfind('@');
    if (at != std::string::npos) {
        std::string user = rest.substr(0, at);
        rest = rest.substr(at + 1);
        password = user.find(':') != std::string::npos ? user.substr(user.find(':') + 1) : user;
    }
    int db = 0;
    const size_t slash = rest.find('/');
    if (slash != std::string::npos) {
        const std::string d = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
        if (!d.empty()) {
            size_t used = 0;
            try {
                db = std::stoi(d, &used);
            } catch (...) {
                used = 0;
            }
            if (used != d.size() || db < 0)
                throw std::invalid_argument("--replay-cache: bad database number \"" + d + "\"");
        }
    }
    const size_t colon = rest.rfind(':');
    if (rest.empty() || colon == std::string::npos || colon + 1 == rest.size())
        throw std::invalid_argument("--replay-cache must be redis://HOST:PORT, got \"" + spec + "\"");
    std::string shown = scheme + (password.empty() ? "" : ":***@") + rest + (db ? "/" + std::to_string(db) : "");
    return std::make_unique<RedisGuard>(rest, password, db, shown);
}

}  // namespace ppmg::cds
